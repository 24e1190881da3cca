// The corpus: every errors/NAME.yaml must fail with exactly the one line in errors/NAME.expected
// (parsed with the file name NAME.yaml), and every valid/*.yaml must parse.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "workflows/parser.h"

namespace wfrun::workflows {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> stems(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(fs::path(WFRUN_TEST_DATA_DIR) / dir)) {
    if (e.path().extension() == ".yaml") out.push_back(e.path().stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string test_name(const testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

class ErrorCorpus : public testing::TestWithParam<std::string> {};

TEST_P(ErrorCorpus, FailsWithExpectedMessage) {
  fs::path dir = fs::path(WFRUN_TEST_DATA_DIR) / "errors";
  std::string name = GetParam();
  ASSERT_TRUE(fs::exists(dir / (name + ".expected"))) << name << ".expected is missing";
  std::string expected = read(dir / (name + ".expected"));
  while (!expected.empty() && (expected.back() == '\n' || expected.back() == '\r')) {
    expected.pop_back();
  }
  auto r = parse_workflow(read(dir / (name + ".yaml")), name + ".yaml");
  ASSERT_FALSE(r.ok()) << name << ".yaml parsed, expected: " << expected;
  EXPECT_EQ(r.error().str(), expected);
}

// ci-expects: Corpus/ErrorCorpus.FailsWithExpectedMessage/* one per tests/workflows/errors/*.yaml
INSTANTIATE_TEST_SUITE_P(Corpus, ErrorCorpus, testing::ValuesIn(stems("errors")), test_name);

class ValidCorpus : public testing::TestWithParam<std::string> {};

TEST_P(ValidCorpus, Parses) {
  fs::path file = fs::path(WFRUN_TEST_DATA_DIR) / "valid" / (GetParam() + ".yaml");
  auto r = load_workflow(file.string());
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_FALSE(r->jobs.empty());
}

// ci-expects: Corpus/ValidCorpus.Parses/* one per tests/workflows/valid/*.yaml
INSTANTIATE_TEST_SUITE_P(Corpus, ValidCorpus, testing::ValuesIn(stems("valid")), test_name);

TEST(Corpus, IsLargeAndComplete) {
  EXPECT_GE(stems("errors").size(), 30u);
  fs::path dir = fs::path(WFRUN_TEST_DATA_DIR) / "errors";
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".expected") {
      EXPECT_TRUE(fs::exists(fs::path(e.path()).replace_extension(".yaml"))) << e.path();
    }
  }
}

}  // namespace
}  // namespace wfrun::workflows
