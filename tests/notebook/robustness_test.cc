// Hostile notebooks: JSON nested 100,000 deep, and every malformed notebook in
// tests/notebook/malformed/ refused with its exact message (errors.txt) instead of a crash.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "engine/notebook/json_reader.h"
#include "engine/notebook/notebook.h"
#include "tests/support/files.h"

namespace wfrun::notebook {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const fs::path kMalformed = fs::path(WFRUN_NOTEBOOK_TESTS) / "malformed";

using wfrun::testing::slurp;

// What wfrun says about a notebook before converting or running it ("ok" when nothing).
std::string complaint(std::string_view text, const std::string& name) {
  auto nb = parse_notebook(text, name);
  if (!nb) return nb.error().str();
  if (auto st = check_python_kernel(*nb); !st) return st.error().str();
  return "ok";
}

// nlohmann copies, compares and dumps by recursing once per level: a deep document is refused
// where it is read, with its place.
TEST(RobustnessTest, HundredThousandLevelsRefused) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  std::string v4 = R"({"nbformat": 4, "nbformat_minor": 5, "metadata": {"x": )" + deep +
                   R"(}, "cells": []})";
  EXPECT_EQ(complaint(v4, "deep.ipynb"),
            "deep.ipynb:1:1054: lists and objects nested more than 1000 deep; wfrun reads at "
            "most 1000 levels");
  // nbformat 3: the upgrade copied the metadata (and segfaulted).
  std::string v3 = "{\"nbformat\": 3, \"nbformat_minor\": 0, \"worksheets\": [],\n \"metadata\": " +
                   deep + "}";
  EXPECT_EQ(complaint(v3, "deep3.ipynb"),
            "deep3.ipynb:2:1013: lists and objects nested more than 1000 deep; wfrun reads at "
            "most 1000 levels");
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  objects += "1" + std::string(100000, '}');
  EXPECT_EQ(complaint(objects, "objects.ipynb"),
            "objects.ipynb:1:5001: lists and objects nested more than 1000 deep; wfrun reads at "
            "most 1000 levels");
}

// At the limit, everything wfrun does with a notebook (upgrade, copy, dump) still works.
TEST(RobustnessTest, DeepestAllowedNotebookWorks) {
  // The notebook's own levels: {metadata: {x: [...]}} puts the list at depth 3.
  const size_t lists = kMaxJsonDepth - 2;
  const std::string deep = std::string(lists, '[') + std::string(lists, ']');
  std::string v3 = R"({"nbformat": 3, "nbformat_minor": 0, "metadata": {"x": )" + deep +
                   R"(}, "worksheets": [{"cells": [{"cell_type": "code", "input": "1"}]}]})";
  auto nb = parse_notebook(v3, "limit.ipynb");
  ASSERT_TRUE(nb) << nb.error().str();
  json copy = nb->doc;
  EXPECT_EQ(copy, nb->doc);
  EXPECT_EQ(copy["metadata"]["x"].dump().size(), 2 * lists);
  EXPECT_EQ(complaint("{\"x\": " + std::string(lists + 2, '[') + std::string(lists + 2, ']') + "}",
                      "over.ipynb"),
            "over.ipynb:1:1006: lists and objects nested more than 1000 deep; wfrun reads at "
            "most 1000 levels");
}

TEST(RobustnessTest, JsonErrorsNameThePath) {
  auto err = [](std::string_view text) {
    auto r = parse_json(text, "f.json");
    return r ? std::string("ok") : r.error().str();
  };
  EXPECT_EQ(err(R"({"a": [1, {"b c": 1e999}]})"),
            "f.json:1:19: a[1][\"b c\"]: the number 1e999 is too large (JSON numbers must fit in a "
            "64-bit float)");
  // A megabyte token is quoted in part, and a byte that is not UTF-8 as \xFF.
  std::string bad = err("{\"a\": \"" + std::string(1 << 20, 'x') + "\xff\"}");
  EXPECT_EQ(bad.substr(0, 126),
            "f.json:1:1048584: a: not valid JSON: syntax error while parsing value - invalid "
            "string: ill-formed UTF-8 byte; last read: '\"xx");
  EXPECT_EQ(bad.substr(bad.size() - 11), "xxxxxx\\xFF'");
  EXPECT_LT(bad.size(), 300u);
  EXPECT_EQ(err("[1, 2"), "f.json:1:6: [1]: not valid JSON: syntax error while parsing array - "
                          "unexpected end of input; expected ']'");
}

// The corpus: each file's exact message is in errors.txt, and every file has one.
TEST(RobustnessTest, MalformedCorpus) {
  std::map<std::string, std::string> want;
  std::istringstream lines(slurp(kMalformed / "errors.txt"));
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    want[line.substr(0, line.find(".ipynb") + 6)] = line;
  }
  size_t seen = 0;
  for (const auto& e : fs::directory_iterator(kMalformed)) {
    if (e.path().extension() != ".ipynb") continue;
    std::string name = e.path().filename().string();
    ++seen;
    std::string got = complaint(slurp(e.path()), name);
    if (!want.count(name))
      ADD_FAILURE() << name << " has no line in errors.txt; it says:\n" << got;
    else
      EXPECT_EQ(got, want[name]);
  }
  EXPECT_EQ(seen, want.size()) << "errors.txt names notebooks that are not there";
  EXPECT_GE(seen, 40u);
}

}  // namespace
}  // namespace wfrun::notebook
