// http/serve/payload_fields.h against its oracle (nlohmann's SAX parser, payload_oracle.h): every
// real GitHub payload in @octokit/webhooks-examples, the corners of RFC 8259 and UTF-8, and a
// few thousand mutations of a real push payload. The webhook fuzzer runs the same comparison.

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/serve/payload_fields.h"
#include "tests/serve/payload_oracle.h"

namespace {

using nlohmann::json;
using wfrun::serve::PayloadFields;
using wfrun::serve::testing::payload_disagreement;

json examples() {
  std::ifstream in(std::string(WFRUN_SOURCE_DIR) +
                   "/node_modules/@octokit/webhooks-examples/api.github.com/index.json");
  if (!in) return json();
  return json::parse(in, nullptr, false);
}

TEST(PayloadFields, EveryRealPayloadGivesWhatNlohmannGives) {
  json all = examples();
  if (!all.is_array()) {
    if (std::getenv("WFRUN_REQUIRE_NPM")) FAIL() << "node_modules is missing";
    GTEST_SKIP() << "node_modules/@octokit/webhooks-examples is missing (npm ci)";
  }
  size_t n = 0;
  for (const auto& event : all)
    for (const auto& example : event["examples"]) {
      // As GitHub sends it (compact) and pretty-printed, with non-ASCII escaped and not.
      for (const std::string& text : {example.dump(), example.dump(2), example.dump(-1, ' ', true)}) {
        EXPECT_EQ(payload_disagreement(text), "") << event["name"] << ": " << text.substr(0, 200);
        ++n;
      }
    }
  EXPECT_GT(n, 300u);
  // The push that creates a branch: what the decision reads.
  for (const auto& event : all) {
    if (event["name"] != "push") continue;
    auto f = PayloadFields::parse(event["examples"][4].dump());
    ASSERT_TRUE(f);
    EXPECT_EQ(f->str("/repository/full_name"), "Codertocat/Hello-World");
    EXPECT_EQ(f->str("/ref"), event["examples"][4]["ref"]);
    EXPECT_EQ(f->str("/after"), event["examples"][4]["after"]);
    ASSERT_NE(f->get("/deleted"), nullptr);
    EXPECT_EQ(*f->get("/deleted"), false);
    EXPECT_EQ(f->get("/commits"), nullptr) << "not read";
  }
}

TEST(PayloadFields, StringsAreDecodedAndCheckedAsJsonSays) {
  auto f = PayloadFields::parse(R"({"ref":"refs\/heads\/m\u00e4in\ud83d\ude00\n\t\"\\","zen":"caf\u00e9 \u00e9t\u00e9 ✓"})");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->str("/ref"), "refs/heads/m\xC3\xA4in\xF0\x9F\x98\x80\n\t\"\\");
  EXPECT_EQ(f->str("/zen"), "caf\xC3\xA9 \xC3\xA9t\xC3\xA9 \xE2\x9C\x93");
  // A NUL written as \u0000 is a character like any other (the decision refuses it later).
  EXPECT_EQ(PayloadFields::parse(R"({"ref":"a\u0000b"})")->str("/ref"), std::string("a\0b", 3));
  for (const std::string& bad : std::initializer_list<std::string>{
           "{\"ref\":\"\\ud800\"}",          // a high surrogate alone
           "{\"ref\":\"\\udc00\"}",          // a low one alone
           "{\"ref\":\"\\ud800\\u0041\"}",   // a high one followed by another character
           "{\"ref\":\"\\u12G4\"}", "{\"ref\":\"\\x41\"}", "{\"ref\":\"\\\"}",
           "{\"ref\":\"a\tb\"}",             // a raw control character
           "{\"ref\":\"\xC3\"}", "{\"ref\":\"\xC0\xAF\"}", "{\"ref\":\"\xE0\x80\xAF\"}",
           "{\"ref\":\"\xED\xA0\x80\"}", "{\"ref\":\"\xF4\x90\x80\x80\"}", "{\"ref\":\"\xFF\"}",
           "{\"ref\":\"unterminated}",
       }) {
    EXPECT_FALSE(PayloadFields::parse(bad)) << bad;
    EXPECT_EQ(payload_disagreement(bad), "") << bad;
  }
}

TEST(PayloadFields, NumbersLiteralsAndStructureAsNlohmannTakesThem) {
  for (const std::string& text : std::initializer_list<std::string>{
           "{\"number\":7}", "{\"number\":-0}", "{\"number\":1.5e3}", "{\"number\":-12.0E-2}",
           "{\"number\":12345678901234567890}", "{\"number\":123456789012345678901234567890}",
           "{\"number\":-9223372036854775809}", "{\"number\":1e308}", "{\"number\":1e999}",
           "{\"number\":-1e999}", "{\"x\":" + std::string(400, '9') + "}", "{\"number\":01}",
           "{\"number\":-}", "{\"number\":1.}", "{\"number\":.5}", "{\"number\":1e}",
           "{\"number\":+1}", "{\"number\":0x10}", "{\"deleted\":true}", "{\"deleted\":tru}",
           "{\"deleted\":null}", "{\"deleted\":nul}", "{\"deleted\":false,}", "{,}", "{}", "[]",
           "\"x\"", "7", "", "   ", "\xEF\xBB\xBF{\"ref\":\"bom\"}", "{\"ref\":\"a\"} x",
           "{\"ref\":\"a\"}\n", "{\"ref\" \"a\"}", "{\"ref\":\"a\" \"b\":1}", "{'ref':'a'}",
           "{\"ref\":\"first\",\"ref\":\"second\"}", "{\"repository\":[{\"full_name\":\"in/array\"}]}",
           "{\"repository\":{\"full_name\":{\"an\":\"object\"}}}", "{\"a\":[1,[2,{\"b\":[]}]],\"ref\":\"x\"}",
           "{\"a\":[1,]}", "{\"a\":[,1]}", "{\"a\":{\"b\":1}}}", "{\"a\":[1}", "{\"a\"}",
           "{\"ref\":\"a\"/*c*/}",
           // nlohmann ends the text at a NUL byte (found by the webhook fuzzer).
           std::string("{\"ref\":\"a\"}\0\0, junk", 16), std::string("{\"ref\":\0\"a\"}", 13),
           std::string("\0{}", 3),
       })
    EXPECT_EQ(payload_disagreement(text), "") << text;
  EXPECT_EQ(PayloadFields::parse(R"({"ref":"first","ref":"second"})")->str("/ref"), "second");
  EXPECT_EQ(PayloadFields::parse(R"({"repository":[{"full_name":"in/array"}]})")->str("/repository/full_name"), "")
      << "nothing inside an array is read";
  EXPECT_EQ(*PayloadFields::parse(R"({"number":12345678901234567890})")->get("/number"),
            json(12345678901234567890ull));
}

TEST(PayloadFields, NestingIsBoundedWithoutRecursion) {
  auto nested = [](size_t depth) {
    std::string s;
    for (size_t i = 0; i < depth; ++i) s += i % 2 ? "[" : "{\"a\":";
    s += "1";
    for (size_t i = depth; i-- > 0;) s += i % 2 ? "]" : "}";
    return s;
  };
  EXPECT_TRUE(PayloadFields::parse(nested(999)));
  EXPECT_FALSE(PayloadFields::parse(nested(1001)));
  EXPECT_FALSE(PayloadFields::parse(std::string(1u << 20, '{')));  // a megabyte of openings
  EXPECT_EQ(payload_disagreement(nested(999)), "");
}

TEST(PayloadFields, MutationsOfARealPushAgreeWithNlohmann) {
  json all = examples();
  if (!all.is_array()) {
    if (std::getenv("WFRUN_REQUIRE_NPM")) FAIL() << "node_modules is missing";
    GTEST_SKIP() << "node_modules/@octokit/webhooks-examples is missing (npm ci)";
  }
  std::string push;
  for (const auto& event : all)
    if (event["name"] == "push") push = event["examples"][4].dump();
  ASSERT_FALSE(push.empty());
  std::mt19937 rng(20261203);
  const std::string bytes = "{}[],:\"\\/0123456789-+.eEtrufalsn \t\n\x01\x7f\x80\xC3\xA9\xED\xF4\xFF";
  int taken = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string t = push;
    for (int k = 0, edits = 1 + static_cast<int>(rng() % 3); k < edits; ++k) {
      const size_t at = rng() % t.size();
      switch (rng() % 3) {
        case 0: t[at] = bytes[rng() % bytes.size()]; break;
        case 1: t.insert(at, 1, bytes[rng() % bytes.size()]); break;
        default: t.erase(at, 1 + rng() % 4); break;
      }
    }
    const std::string why = payload_disagreement(t);
    ASSERT_EQ(why, "") << "mutation " << i << ": " << t;
    taken += PayloadFields::parse(t).has_value();
  }
  // Both kinds were seen: mutations that stay JSON and ones that do not.
  EXPECT_GT(taken, 100);
  EXPECT_LT(taken, 3900);
}

}  // namespace
