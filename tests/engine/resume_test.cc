// What `--resume` compares: two texts of a workflow by data, per job and per top-level key.
#include <gtest/gtest.h>

#include "engine/resume.h"

namespace wfrun::engine {
namespace {

using Names = std::vector<std::string>;

TEST(WorkflowChanges, SameDataWrittenDifferentlyIsNoChange) {
  auto c = workflow_changes(R"(defaults: {env: {A: "1"}}
jobs:
  a: {uses: script@v1, with: {script: "echo hi"}}
  b: {needs: [a], uses: script@v1, with: {script: x}}
)",
                            R"(# a comment
jobs:
  b:
    with:
      script: 'x'
    uses: script@v1
    needs:
      - a
  a:
    uses: script@v1
    with: {script: echo hi}
defaults:
  env:
    A: "1"
)");
  ASSERT_TRUE(c) << c.error().str();
  EXPECT_TRUE(c->empty());
}

TEST(WorkflowChanges, NamesChangedAddedAndRemovedJobsAndTopLevelKeys) {
  auto c = workflow_changes(R"(defaults: {env: {A: "1"}}
jobs:
  a: {uses: script@v1, with: {script: "echo hi"}}
  gone: {uses: script@v1, with: {script: x}}
  same: {uses: script@v1, with: {script: x}}
)",
                            R"(defaults: {env: {A: 1}}
inputs: {n: {type: string}}
jobs:
  a: {uses: script@v1, with: {script: "echo ho"}}
  same: {uses: script@v1, with: {script: x}}
  new: {uses: script@v1, with: {script: x}}
)");
  ASSERT_TRUE(c) << c.error().str();
  EXPECT_EQ(c->changed_jobs, Names{"a"});
  EXPECT_EQ(c->added_jobs, Names{"new"});
  EXPECT_EQ(c->removed_jobs, Names{"gone"});
  // A quoted "1" and a plain 1 differ: the workflow reads them as a string and a number.
  EXPECT_EQ(c->outside_jobs, (Names{"defaults", "inputs"}));
}

TEST(WorkflowChanges, TooDeepToCompareCountsAsChanged) {
  std::string deep(200, '[');
  deep += std::string(200, ']');
  auto c = workflow_changes("jobs:\n  a: {with: {x: " + deep + "}}\n",
                            "jobs:\n  a: {with: {x: " + deep + "}}\n");
  ASSERT_TRUE(c) << c.error().str();
  EXPECT_EQ(c->changed_jobs, Names{"a"});
}

TEST(WorkflowChanges, NotYamlIsAnError) {
  auto c = workflow_changes("jobs: [", "jobs: {}");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("the workflow as it was is not YAML"), std::string::npos);
}

}  // namespace
}  // namespace wfrun::engine
