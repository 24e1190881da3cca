// The workflow-level `github:` block (our extension): which repository to report runs to, with
// which credentials, and how (a commit status and/or a report comment).

#include <cctype>

#include "workflows/parse_internal.h"

namespace wfrun::workflows {
namespace internal {
namespace {

const std::vector<std::string> kGithubKeys = {"repo", "token", "app", "status", "comment"};

bool owner_name(const std::string& r) {
  size_t slash = r.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == r.size() ||
      r.find('/', slash + 1) != std::string::npos)
    return false;
  for (char c : r)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '-' && c != '_' &&
        c != '.')
      return false;
  return true;
}

}  // namespace

void WorkflowParser::read_github(const Entry& e) {
  if (!expect_map(e, "'github'")) return;
  GithubBlock g;
  g.where = key_loc(e);
  const size_t errors_before = errors_.size();
  bool has_status = false;
  for (const Entry& f : entries(e.value, e.path)) {
    if (f.key == "repo") {
      if (auto s = get_string(f)) {
        if (!owner_name(*s))
          error(value_loc(f), "'github.repo' must be OWNER/NAME, got '" + *s + "'");
        g.repo = *s;
      }
    } else if (f.key == "token") {
      if (auto s = get_string(f)) {
        if (!secret_name(*s))
          error(value_loc(f),
                "'github.token' must be secret:NAME (a token never goes in the workflow file)");
        g.token = *s;
      }
    } else if (f.key == "app") {
      if (!expect_map(f, "'github.app'")) continue;
      for (const Entry& a : entries(f.value, f.path)) {
        if (a.key == "id") {
          if (auto s = get_string(a)) g.app_id = *s;
        } else if (a.key == "key") {
          if (auto s = get_string(a)) {
            if (!secret_name(*s))
              error(value_loc(a), "'github.app.key' must be secret:NAME (the App's private key)");
            g.app_key = *s;
          }
        } else if (a.key == "installation") {
          if (auto n = get_int(a)) g.app_installation = *n;
        } else {
          unknown_key(a, {"id", "key", "installation"}, "github.app");
        }
      }
      if (g.app_id.empty() || g.app_key.empty())
        error(key_loc(f), "'github.app' needs 'id' and 'key' (secret:NAME holding the PEM)");
    } else if (f.key == "status") {
      // A context name, or `true` for the default one.
      if (f.value.IsScalar() && (f.value.Scalar() == "true" || f.value.Scalar() == "false")) {
        if (auto b = get_bool(f); b && *b) g.status = "wfrun";
      } else if (auto s = get_string(f)) {
        g.status = *s;
      }
      has_status = true;
    } else if (f.key == "comment") {
      if (auto b = get_bool(f)) g.comment = *b;
    } else {
      unknown_key(f, kGithubKeys, "github");
    }
  }
  if (!g.token.empty() && !g.app_id.empty())
    error(g.where, "'github' takes 'token' or 'app', not both");
  // Only alone: a misspelt 'status' says more than "reports nothing".
  if (!has_status && !g.comment && errors_.size() == errors_before)
    error(g.where, "'github' reports nothing: give 'status: CONTEXT' and/or 'comment: true'");
  wf_.github = std::move(g);
}

}  // namespace internal
}  // namespace wfrun::workflows
