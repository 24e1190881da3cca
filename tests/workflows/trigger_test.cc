// The `on:` matcher: which pushes and pull requests start a workflow (docs/workflow-spec.md,
// "Triggers"). Each case parses a real `on:` block, so the parser and the matcher are tested
// together.

#include "workflows/trigger.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "workflows/parser.h"

namespace wfrun::workflows {
namespace {

using Kind = TriggerEvent::Kind;

TriggerEvent push(const std::string& ref) { return {Kind::kPush, ref, ""}; }
TriggerEvent pr(const std::string& base) { return {Kind::kPullRequest, "", base}; }

std::optional<Trigger> on_of(const std::string& on_yaml) {
  std::string text = on_yaml + "\njobs:\n  a:\n    uses: script@v1\n    with: {script: echo}\n";
  auto wf = parse_workflow(text, "w.yaml");
  EXPECT_TRUE(wf.ok()) << (wf.ok() ? "" : wf.error().str());
  return wf.ok() ? wf->on : std::nullopt;
}

struct Case {
  const char* on;  // the `on:` block ("" = none)
  TriggerEvent event;
  bool runs;
  const char* reason;
};

class TriggerTable : public testing::TestWithParam<Case> {};

TEST_P(TriggerTable, Decides) {
  const Case& c = GetParam();
  TriggerDecision d = match_trigger(on_of(c.on), c.event);
  EXPECT_EQ(d.runs, c.runs) << c.on << " / " << c.event.ref << c.event.base_ref;
  EXPECT_EQ(d.reason, c.reason);
}

const char* kMain = "on: {github: {branches: {only: main}}}";

INSTANTIATE_TEST_SUITE_P(
    Gradient, TriggerTable,
    testing::Values(
        // Gradient's one documented form: a branch name.
        Case{kMain, push("refs/heads/main"), true, "branch 'main' matches on.github.branches"},
        Case{kMain, push("refs/heads/dev"), false,
             "branch 'dev' does not match on.github.branches.only (main)"},
        // A name matches the whole branch name, not a part of it.
        Case{kMain, push("refs/heads/maintenance"), false,
             "branch 'maintenance' does not match on.github.branches.only (main)"},
        Case{kMain, push("refs/heads/feature/main"), false,
             "branch 'feature/main' does not match on.github.branches.only (main)"},
        // Tags do not run a workflow that names only branches.
        Case{kMain, push("refs/tags/main"), false,
             "tag 'main' pushed, and 'on.github' has no 'tags:' filter"},
        Case{kMain, pr("refs/heads/main"), false,
             "pull request into 'main', and 'on.github' has no 'pull_request:' filter"},
        // No `on:` at all: webhooks never start it.
        Case{"", push("refs/heads/main"), false,
             "the workflow has no 'on:' block, so it runs only when started by hand"},
        Case{"", pr("refs/heads/main"), false,
             "the workflow has no 'on:' block, so it runs only when started by hand"},
        // `on:` with nothing under it is the same as no `on:` (commenting out the trigger).
        Case{"on:", push("refs/heads/main"), false,
             "the workflow has no 'on:' block, so it runs only when started by hand"},
        // Other refs never run anything.
        Case{kMain, push("refs/notes/commits"), false,
             "'refs/notes/commits' is neither a branch nor a tag"},
        Case{kMain, push("refs/heads/"), false, "'refs/heads/' is neither a branch nor a tag"}));

INSTANTIATE_TEST_SUITE_P(
    Patterns, TriggerTable,
    testing::Values(
        // POSIX extended regexes, anchored at both ends.
        Case{"on: {github: {branches: {only: 'release/.*'}}}", push("refs/heads/release/1.2"), true,
             "branch 'release/1.2' matches on.github.branches"},
        Case{"on: {github: {branches: {only: 'release/.*'}}}", push("refs/heads/old-release/1"),
             false, "branch 'old-release/1' does not match on.github.branches.only (release/.*)"},
        Case{"on: {github: {branches: {only: [main, 'dev-[0-9]+']}}}", push("refs/heads/dev-42"),
             true, "branch 'dev-42' matches on.github.branches"},
        Case{"on: {github: {branches: {only: [main, 'dev-[0-9]+']}}}", push("refs/heads/dev-x"),
             false, "branch 'dev-x' does not match on.github.branches.only (main, dev-[0-9]+)"},
        // Alternation stays inside the anchors.
        Case{"on: {github: {branches: {only: 'main|dev'}}}", push("refs/heads/dev"), true,
             "branch 'dev' matches on.github.branches"},
        Case{"on: {github: {branches: {only: 'main|dev'}}}", push("refs/heads/devel"), false,
             "branch 'devel' does not match on.github.branches.only (main|dev)"},
        // A name always matches itself, even when it has regex characters in it.
        Case{"on: {github: {branches: {only: 'c++'}}}", push("refs/heads/c++"), true,
             "branch 'c++' matches on.github.branches"},
        // '.' is a regex: v1.0 also matches v1x0 (write v1\.0 for the dot alone).
        Case{"on: {github: {tags: {only: 'v1.0'}}}", push("refs/tags/v1x0"), true,
             "tag 'v1x0' matches on.github.tags"},
        Case{"on: {github: {tags: {only: 'v1\\.0'}}}", push("refs/tags/v1x0"), false,
             "tag 'v1x0' does not match on.github.tags.only (v1\\.0)"}));

INSTANTIATE_TEST_SUITE_P(
    Extensions, TriggerTable,
    testing::Values(
        // ignore: every branch but these.
        Case{"on: {github: {branches: {ignore: 'wip/.*'}}}", push("refs/heads/main"), true,
             "branch 'main' matches on.github.branches"},
        Case{"on: {github: {branches: {ignore: 'wip/.*'}}}", push("refs/heads/wip/x"), false,
             "branch 'wip/x' matches on.github.branches.ignore (wip/.*)"},
        // only and ignore together: ignore wins.
        Case{"on: {github: {branches: {only: 'release/.*', ignore: 'release/old'}}}",
             push("refs/heads/release/old"), false,
             "branch 'release/old' matches on.github.branches.ignore (release/old)"},
        Case{"on: {github: {branches: {only: 'release/.*', ignore: 'release/old'}}}",
             push("refs/heads/release/new"), true, "branch 'release/new' matches on.github.branches"},
        // `branches:` with nothing under it: every branch.
        Case{"on: {github: {branches: }}", push("refs/heads/anything"), true,
             "branch 'anything' matches on.github.branches"},
        // `on: github:` with no filter: every branch, no tags, no pull requests.
        Case{"on: {github: }", push("refs/heads/anything"), true,
             "branch 'anything' pushed, and 'on.github' has no filter"},
        Case{"on: {github: }", push("refs/tags/v1"), false,
             "tag 'v1' pushed, and 'on.github' has no 'tags:' filter"},
        Case{"on: {github: }", pr("refs/heads/main"), false,
             "pull request into 'main', and 'on.github' has no 'pull_request:' filter"},
        // tags
        Case{"on: {github: {tags: {only: 'v[0-9]+(\\.[0-9]+)*'}}}", push("refs/tags/v1.2.3"), true,
             "tag 'v1.2.3' matches on.github.tags"},
        Case{"on: {github: {tags: {only: 'v[0-9]+(\\.[0-9]+)*'}}}", push("refs/tags/v1.2-rc"),
             false, "tag 'v1.2-rc' does not match on.github.tags.only (v[0-9]+(\\.[0-9]+)*)"},
        Case{"on: {github: {tags: }}", push("refs/tags/anything"), true,
             "tag 'anything' matches on.github.tags"},
        // Only tags given: branch pushes do not run it.
        Case{"on: {github: {tags: {only: 'v.*'}}}", push("refs/heads/main"), false,
             "branch 'main' pushed, and 'on.github' has no 'branches:' filter"},
        Case{"on: {github: {tags: {ignore: 'nightly-.*'}}}", push("refs/tags/nightly-3"), false,
             "tag 'nightly-3' matches on.github.tags.ignore (nightly-.*)"},
        // pull_request: base branches.
        Case{"on: {github: {pull_request: {branches: {only: main}}}}", pr("refs/heads/main"), true,
             "pull request into 'main' matches on.github.pull_request.branches"},
        Case{"on: {github: {pull_request: {branches: {only: main}}}}", pr("main"), true,
             "pull request into 'main' matches on.github.pull_request.branches"},
        Case{"on: {github: {pull_request: {branches: {only: main}}}}", pr("refs/heads/dev"), false,
             "pull request into 'dev' does not match on.github.pull_request.branches.only (main)"},
        Case{"on: {github: {pull_request: }}", pr("refs/heads/dev"), true,
             "pull request into 'dev' matches on.github.pull_request.branches"},
        Case{"on: {github: {pull_request: {branches: {ignore: 'gh-pages'}}}}",
             pr("refs/heads/gh-pages"), false,
             "pull request into 'gh-pages' matches on.github.pull_request.branches.ignore "
             "(gh-pages)"},
        Case{"on: {github: {pull_request: }}", pr(""), false,
             "the pull request names no base branch"},
        // Only pull requests given: pushes do not run it.
        Case{"on: {github: {pull_request: }}", push("refs/heads/main"), false,
             "branch 'main' pushed, and 'on.github' has no 'branches:' filter"},
        // Everything together.
        Case{"on: {github: {branches: {only: main}, tags: {only: 'v.*'}, pull_request: }}",
             push("refs/tags/v2"), true, "tag 'v2' matches on.github.tags"},
        Case{"on: {github: {branches: {only: main}, tags: {only: 'v.*'}, pull_request: }}",
             pr("refs/heads/feature"), true,
             "pull request into 'feature' matches on.github.pull_request.branches"}));

TEST(RefPattern, WholeNameMatch) {
  EXPECT_TRUE(ref_pattern_matches("main", "main"));
  EXPECT_FALSE(ref_pattern_matches("main", "xmain"));
  EXPECT_FALSE(ref_pattern_matches("main", "mainx"));
  // A NUL ends the name for regexec(): "main\0x" once matched `main`.
  EXPECT_FALSE(ref_pattern_matches("main", std::string("main\0x", 6)));
  EXPECT_FALSE(ref_pattern_matches("ma.*", std::string("main\0x", 6)));
  EXPECT_TRUE(ref_pattern_matches(".*", ""));
  EXPECT_TRUE(ref_pattern_matches("feat(ure)?/.+", "feat/x"));
  EXPECT_TRUE(ref_pattern_matches("feat(ure)?/.+", "feature/x"));
  EXPECT_FALSE(ref_pattern_matches("feat(ure)?/.+", "feature/"));
  // An invalid pattern matches nothing but itself.
  EXPECT_FALSE(ref_pattern_matches("a(", "a"));
}

TEST(RefPattern, Errors) {
  EXPECT_EQ(ref_pattern_error("release/.*"), std::nullopt);
  EXPECT_NE(ref_pattern_error("release/(v1"), std::nullopt);
  EXPECT_NE(ref_pattern_error("[a-"), std::nullopt);
  // The anchoring parentheses must not balance a stray one.
  EXPECT_NE(ref_pattern_error("a)(b"), std::nullopt);
}

TEST(RefPattern, InvalidPatternIsAParseError) {
  auto wf = parse_workflow(
      "on:\n  github:\n    tags:\n      ignore: 'x['\njobs:\n  a:\n    uses: script@v1\n"
      "    with: {script: echo}\n",
      "w.yaml");
  ASSERT_FALSE(wf.ok());
  EXPECT_EQ(wf.error().where().line, 4);
  EXPECT_EQ(wf.error().where().column, 15);
  EXPECT_NE(wf.error().message().find("'x[' in 'on.github.tags.ignore' is not a valid regular "
                                      "expression"),
            std::string::npos)
      << wf.error().str();
}

}  // namespace
}  // namespace wfrun::workflows
