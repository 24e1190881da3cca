#include "workflows/trigger.h"

#include <regex.h>

#include <vector>

namespace wfrun::workflows {
namespace {

/// A compiled POSIX regex (owns the regex_t).
class Regex {
 public:
  explicit Regex(const std::string& pattern, int flags) {
    rc_ = ::regcomp(&re_, pattern.c_str(), flags);
  }
  ~Regex() {
    if (rc_ == 0) ::regfree(&re_);
  }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  bool ok() const { return rc_ == 0; }
  std::string error() const {
    char buf[256];
    ::regerror(rc_, &re_, buf, sizeof buf);
    return buf;
  }
  bool matches(const std::string& text) const {
    return ok() && ::regexec(&re_, text.c_str(), 0, nullptr, 0) == 0;
  }

 private:
  regex_t re_{};
  int rc_ = -1;
};

std::string list(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

/// The first pattern in `patterns` that `name` matches, or nullptr.
const std::string* first_match(const std::vector<std::string>& patterns, const std::string& name) {
  for (const auto& p : patterns)
    if (ref_pattern_matches(p, name)) return &p;
  return nullptr;
}

/// `what` ('branch', 'tag', 'pull request into') `name` against `filter` at `field`.
TriggerDecision apply(const RefFilter& filter, const std::string& field, const std::string& what,
                      const std::string& name) {
  const std::string subject = what + " '" + name + "'";
  if (!filter.only.empty() && !first_match(filter.only, name))
    return {false, subject + " does not match " + field + ".only (" + list(filter.only) + ")"};
  if (const std::string* p = first_match(filter.ignore, name))
    return {false, subject + " matches " + field + ".ignore (" + *p + ")"};
  return {true, subject + " matches " + field};
}

bool strip_prefix(const std::string& s, const std::string& prefix, std::string* rest) {
  if (s.compare(0, prefix.size(), prefix) != 0 || s.size() == prefix.size()) return false;
  *rest = s.substr(prefix.size());
  return true;
}

}  // namespace

std::optional<std::string> ref_pattern_error(const std::string& pattern) {
  // Checked bare first: the anchoring parentheses could balance a stray one ("a)(b").
  Regex bare(pattern, REG_EXTENDED | REG_NOSUB);
  if (!bare.ok()) return bare.error();
  Regex anchored("^(" + pattern + ")$", REG_EXTENDED | REG_NOSUB);
  if (!anchored.ok()) return anchored.error();
  return std::nullopt;
}

bool ref_pattern_matches(const std::string& pattern, const std::string& name) {
  // No ref holds a NUL, and regexec() would stop at it: "main\0x" would match `main`.
  if (name.find('\0') != std::string::npos) return false;
  if (pattern == name) return true;  // the common case, and literal names with '.' in them
  if (ref_pattern_error(pattern)) return false;
  return Regex("^(" + pattern + ")$", REG_EXTENDED | REG_NOSUB).matches(name);
}

TriggerDecision match_trigger(const std::optional<Trigger>& on, const TriggerEvent& event) {
  if (!on) return {false, "the workflow has no 'on:' block, so it runs only when started by hand"};
  const Trigger& t = *on;
  const bool any = t.branches.present || t.tags.present || t.pull_request.present;
  std::string name;
  if (event.kind == TriggerEvent::Kind::kPullRequest) {
    if (!strip_prefix(event.base_ref, "refs/heads/", &name)) name = event.base_ref;
    if (name.empty()) return {false, "the pull request names no base branch"};
    if (!t.pull_request.present)
      return {false, "pull request into '" + name +
                         "', and 'on.github' has no 'pull_request:' filter"};
    return apply(t.pull_request, "on.github.pull_request.branches", "pull request into", name);
  }
  if (strip_prefix(event.ref, "refs/heads/", &name)) {
    // `on: github:` with no filter at all: every branch (as Gradient's branch trigger without
    // a name would read); once any filter is given, branches need their own.
    if (!any) return {true, "branch '" + name + "' pushed, and 'on.github' has no filter"};
    if (!t.branches.present)
      return {false, "branch '" + name + "' pushed, and 'on.github' has no 'branches:' filter"};
    return apply(t.branches, "on.github.branches", "branch", name);
  }
  if (strip_prefix(event.ref, "refs/tags/", &name)) {
    if (!t.tags.present)
      return {false, "tag '" + name + "' pushed, and 'on.github' has no 'tags:' filter"};
    return apply(t.tags, "on.github.tags", "tag", name);
  }
  return {false, "'" + event.ref + "' is neither a branch nor a tag"};
}

}  // namespace wfrun::workflows
