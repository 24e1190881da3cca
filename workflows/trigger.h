#pragma once
// Does a GitHub event start a workflow? The `on:` block (Trigger) against a push or a pull
// request. The rules are written down in docs/workflow-spec.md ("Triggers").

#include <optional>
#include <string>

#include "workflows/workflow.h"

namespace wfrun::workflows {

/// What happened on GitHub, as far as `on:` cares.
struct TriggerEvent {
  enum class Kind { kPush, kPullRequest };
  Kind kind = Kind::kPush;
  /// push: `refs/heads/NAME` or `refs/tags/NAME` (anything else starts nothing).
  std::string ref;
  /// pull_request: the branch it wants to merge into, `refs/heads/NAME` or `NAME`.
  std::string base_ref;
};

/// The answer, with a one-line reason fit for a log ("branch 'dev' does not match
/// on.github.branches.only (main)").
struct TriggerDecision {
  bool runs = false;
  std::string reason;
};

/// Decides whether a workflow whose `on:` is `on` runs for `event`. No `on:` at all: never
/// (such a workflow runs only when started by hand).
TriggerDecision match_trigger(const std::optional<Trigger>& on, const TriggerEvent& event);

/// Whether `name` (a branch or tag name, without refs/heads/ or refs/tags/) matches `pattern`:
/// a POSIX extended regular expression that must match the whole name, so a plain name
/// matches only itself. A pattern that does not compile matches nothing.
bool ref_pattern_matches(const std::string& pattern, const std::string& name);

/// Why `pattern` is not a valid POSIX extended regular expression, or nullopt when it is.
std::optional<std::string> ref_pattern_error(const std::string& pattern);

}  // namespace wfrun::workflows
