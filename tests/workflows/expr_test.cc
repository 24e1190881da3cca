#include "workflows/expr.h"

#include <gtest/gtest.h>

#include <map>

namespace wfrun::workflows {
namespace {

std::string find_error(std::string_view text, size_t* off = nullptr) {
  auto r = find_expressions(text, off);
  return r.ok() ? "ok" : r.error().message();
}

TEST(FindExpressions, FindsEveryReferenceWithOffsets) {
  auto r = find_expressions("a ${{ inputs.x }} b ${{jobs.prep.outputs.n}} ${{  run.id  }}");
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].path, "inputs.x");
  EXPECT_EQ((*r)[0].offset, 2u);
  EXPECT_EQ((*r)[0].length, 15u);
  EXPECT_EQ((*r)[1].path, "jobs.prep.outputs.n");
  EXPECT_EQ((*r)[1].offset, 20u);
  EXPECT_EQ((*r)[2].path, "run.id");
}

TEST(FindExpressions, AcceptsEveryRoot) {
  for (const char* ok : {"${{ inputs.a-b_c }}", "${{ jobs.a.outputs.b }}", "${{ run.id }}",
                         "${{ run.number }}", "${{ env.HOME }}", "${{ github.sha }}",
                         "${{ github.event.head_commit.message }}", "plain", ""}) {
    EXPECT_EQ(find_error(ok), "ok") << ok;
  }
}

TEST(FindExpressions, EscapeIsNotAnExpression) {
  auto r = find_expressions("$${{ not.one }} ${{ env.X }}");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].path, "env.X");
}

TEST(FindExpressions, Errors) {
  size_t off = 0;
  EXPECT_EQ(find_error("echo ${{ inputs.x", &off),
            "unterminated '${{' (no closing '}}'); write '$${{' for a literal '${{'");
  EXPECT_EQ(off, 5u);
  EXPECT_EQ(find_error("${{ }}"), "empty expression '${{ }}'; name a value, e.g. inputs.NAME");
  EXPECT_EQ(find_error("${{ input.x }}"),
            "unknown name 'input' in '${{ input.x }}' (did you mean 'inputs'?); use inputs.NAME, "
            "jobs.JOB.outputs.NAME, run.id, run.number, env.NAME or github.*");
  EXPECT_EQ(find_error("${{ inputs }}"),
            "malformed reference '${{ inputs }}'; expected inputs.NAME");
  EXPECT_EQ(find_error("${{ inputs.a.b }}"),
            "malformed reference '${{ inputs.a.b }}'; expected inputs.NAME");
  EXPECT_EQ(find_error("${{ jobs.a.output.b }}"),
            "malformed reference '${{ jobs.a.output.b }}'; expected jobs.JOB.outputs.NAME");
  EXPECT_EQ(find_error("${{ run.nmber }}"),
            "unknown value '${{ run.nmber }}' (did you mean 'number'?); run has only run.id and "
            "run.number");
  EXPECT_EQ(find_error("${{ github }}"),
            "malformed reference '${{ github }}'; name a field, e.g. github.sha");
  EXPECT_EQ(find_error("${{ inputs.a || 'x' }}"),
            "'${{ inputs.a || 'x' }}' is not a reference; expressions can only name a value: "
            "inputs.NAME, jobs.JOB.outputs.NAME, run.id, run.number, env.NAME or github.*");
  EXPECT_EQ(find_error("${{ inputs..a }}"),
            "malformed reference '${{ inputs..a }}'; use inputs.NAME, jobs.JOB.outputs.NAME, "
            "run.id, run.number, env.NAME or github.*");
  EXPECT_EQ(find_error("${{ success() }}"),
            "'${{ success() }}' is a condition; it is only allowed in 'if:'");
}

TEST(Interpolate, ReplacesAndUnescapes) {
  std::map<std::string, std::string> values = {{"inputs.x", "1"}, {"github.sha", "abc"}};
  auto lookup = [&](const std::string& p) -> std::optional<std::string> {
    auto it = values.find(p);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
  EXPECT_EQ(*interpolate("x=${{ inputs.x }}, sha=${{github.sha}}", lookup), "x=1, sha=abc");
  EXPECT_EQ(*interpolate("$${{ inputs.x }} ${{ inputs.x }}", lookup), "${{ inputs.x }} 1");
  EXPECT_EQ(*interpolate("no expressions $ {", lookup), "no expressions $ {");
  auto missing = interpolate("a ${{ env.NOPE }}", lookup);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), "unknown value '${{ env.NOPE }}'");
  EXPECT_FALSE(interpolate("${{ bad.root }}", lookup).ok());
}

}  // namespace
}  // namespace wfrun::workflows
