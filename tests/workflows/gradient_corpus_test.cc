// Real Gradient workflows: public `.gradient/workflows` files and the examples in Paperspace's
// docs (tests/workflows/gradient/, sources and licences in SOURCES.md). Each must load as
// Gradient would take it; a file Gradient would refuse has a NAME.expected beside it with the
// exact FILE:LINE:COL error wfrun must give instead.

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

const fs::path kDir = fs::path(WFRUN_TEST_DATA_DIR) / "gradient";

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> files() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(kDir))
    if (e.path().extension() == ".yaml") out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string test_name(const testing::TestParamInfo<std::string>& info) {
  std::string s = info.param.substr(0, info.param.size() - 5);
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

class GradientCorpus : public testing::TestWithParam<std::string> {};

TEST_P(GradientCorpus, JudgedAsGradientWould) {
  const std::string name = GetParam();
  fs::path expected = kDir / (name.substr(0, name.size() - 5) + ".expected");
  // Parsed with the file name alone, so that messages do not depend on where the tree is.
  auto r = parse_workflow(read(kDir / name), name);
  if (!fs::exists(expected)) {
    ASSERT_TRUE(r.ok()) << r.error().str();
    EXPECT_FALSE(r->jobs.empty());
    return;
  }
  std::string want = read(expected);
  while (!want.empty() && want.back() == '\n') want.pop_back();
  ASSERT_FALSE(r.ok()) << name << " loaded; Gradient refuses it: " << want;
  EXPECT_EQ(r.error().str(), want);
}

INSTANTIATE_TEST_SUITE_P(Real, GradientCorpus, testing::ValuesIn(files()), test_name);

TEST(GradientCorpusSources, EveryFileIsListedWithItsSource) {
  std::string sources = read(kDir / "SOURCES.md");
  for (const auto& f : files())
    EXPECT_NE(sources.find("`" + f + "`"), std::string::npos) << f << " is not in SOURCES.md";
  EXPECT_GE(files().size(), 15u);
}

}  // namespace
}  // namespace wfrun::workflows
