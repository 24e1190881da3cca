// git-commit@v1: the job's command line (GitCommitAction) and the file selection its process
// makes (expand_paths).

#include <glob.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>

#include "base/self_exe.h"
#include "base/strings.h"
#include "git/action_util.h"
#include "git/actions.h"
#include "workflows/expr.h"

namespace wfrun::git {
namespace {

namespace fs = std::filesystem;

using detail::field;

// OWNER/NAME with GitHub's characters.
bool valid_repo(const std::string& r) {
  auto parts = split(r, '/');
  if (parts.size() != 2) return false;
  for (const auto& p : parts) {
    if (p.empty() || p == "." || p == "..") return false;
    for (char c : p)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
        return false;
  }
  return true;
}

std::vector<std::string> string_list(const workflows::Json& v) {
  std::vector<std::string> out;
  if (v.is_string()) out.push_back(v.get<std::string>());
  if (v.is_array())
    for (const auto& e : v)
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

bool has_glob(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

}  // namespace

std::string github_base_url() {
  const char* v = std::getenv("WFRUN_GITHUB_URL");
  std::string base = v && *v ? v : "https://github.com";
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

Result<std::string> github_repo_url(const std::string& repo) {
  if (!valid_repo(repo)) return Error("'" + repo + "' is not a GitHub repository (OWNER/NAME)");
  return github_base_url() + "/" + repo + ".git";
}

Status GitCommitAction::check(const workflows::Job& job) const {
  const auto& w = job.with;
  bool url = w.contains("url"), repo = w.contains("repo");
  if (url == repo)
    return Error(field(job, url ? "repo" : "url"),
                 "git-commit@v1 needs exactly one of `url:` (any git URL) and `repo:` "
                 "(OWNER/NAME on GitHub)");
  if (repo && w["repo"].is_string() && !workflows::has_expression(w["repo"].get<std::string>()) &&
      !valid_repo(w["repo"].get<std::string>()))
    return Error(field(job, "repo"),
                 "`repo` must be OWNER/NAME, not '" + w["repo"].get<std::string>() + "'");
  if (string_list(w.value("paths", workflows::Json())).empty())
    return Error(field(job, "paths"),
                 "git-commit@v1 needs `paths:` (files or globs in the job's /inputs)");
  for (const auto& p : string_list(w["paths"])) {
    auto parts = split(p, '/');
    if (p.empty() || std::find(parts.begin(), parts.end(), "..") != parts.end())
      return Error(field(job, "paths"), "`paths` entry '" + p + "' leaves the job's /inputs");
  }
  if (w.contains("large-files")) {
    std::string lf = w["large-files"].is_string() ? w["large-files"].get<std::string>() : "";
    if (lf != "refuse" && lf != "release")
      return Error(field(job, "large-files"),
                   "`large-files` is `refuse` (the default: files over 50 MB fail the job) or "
                   "`release` (upload them as release assets and commit a manifest of links)");
    if (lf == "release" && !repo)
      return Error(field(job, "large-files"),
                   "`large-files: release` needs `repo: OWNER/NAME` (the release is made through "
                   "the GitHub API), not `url:`");
  }
  if (w.contains("pull-request")) {
    const auto& pr = w["pull-request"];
    if (!pr.is_object())
      return Error(field(job, "pull-request"), "`pull-request` must be a map: {title, body, base}");
    for (const auto& [k, v] : pr.items()) {
      if (k != "title" && k != "body" && k != "base")
        return Error(field(job, "pull-request." + k),
                     "unknown key '" + k + "' in `pull-request` (it takes title, body, base)");
      if (!v.is_string())
        return Error(field(job, "pull-request." + k), "`pull-request." + k + "` must be a string");
    }
    if (!repo)
      return Error(field(job, "pull-request"),
                   "`pull-request` needs `repo: OWNER/NAME` (the GitHub API names repositories "
                   "that way), not `url:`");
  }
  return detail::check_plain_http(job);
}

Result<engine::ActionCommand> GitCommitAction::command(const engine::ActionContext& ctx) const {
  if (auto st = check(ctx.job); !st) return st.error();
  std::string url = ctx.arg("url");
  if (url.empty()) {
    auto u = github_repo_url(ctx.arg("repo"));
    if (!u) return Error(field(ctx.job, "repo"), u.error().message());
    url = *u;
  }
  std::string branch = ctx.arg("branch");
  if (branch.empty())
    return Error(field(ctx.job, "branch"), "git-commit@v1 needs `branch:` (where to commit)");
  engine::ActionCommand cmd;
  cmd.argv = {self_exe(), "git-commit"};
  if (auto s = detail::add_remote(ctx, url, cmd); !s) return s.error();
  cmd.argv.insert(cmd.argv.end(), {"--inputs", ctx.dirs.inputs});
  for (std::string p : string_list(ctx.with["paths"])) {
    // /inputs/x (or, in rewrite mode, the job's inputs folder) -> x: relative to --inputs.
    for (const std::string& prefix : {ctx.dirs.inputs + "/", std::string("/inputs/")}) {
      if (starts_with(p, prefix)) {
        p = p.substr(prefix.size());
        break;
      }
    }
    if (p == "/inputs" || p == ctx.dirs.inputs) p = "*";
    if (!p.empty() && p[0] == '/')
      return Error(field(ctx.job, "paths"),
                   "`paths` entry '" + p + "' is not in the job's /inputs");
    cmd.argv.insert(cmd.argv.end(), {"--path", p});
  }
  cmd.argv.insert(cmd.argv.end(), {"--branch", branch});
  // The bare clone the commit is made in lives in the job's folder: when every push fails, the
  // commit is still there, and the error says how to push it by hand.
  cmd.argv.insert(cmd.argv.end(), {"--work-dir", ctx.dirs.dir + "/git-commit.git"});
  for (const char* key : {"dest", "base", "message", "author"}) {
    if (std::string v = ctx.arg(key); !v.empty())
      cmd.argv.insert(cmd.argv.end(), {std::string("--") + key, v});
  }
  // A string output named `sha` gets the pushed commit (or the unchanged tip).
  for (const auto& out : ctx.job.outputs)
    if (out.name == "sha" && out.type == workflows::IoType::kString)
      cmd.argv.insert(cmd.argv.end(), {"--sha-file", ctx.dirs.outputs + "/sha"});
  const bool pull_request =
      ctx.with.contains("pull-request") && ctx.with["pull-request"].is_object();
  const bool release = ctx.arg("large-files") == "release";
  if (pull_request || release) {
    cmd.argv.insert(cmd.argv.end(), {"--repo", ctx.arg("repo")});
    for (const char* name : {"WFRUN_GITHUB_API_URL", "WFRUN_GITHUB_URL"}) {
      if (const char* v = std::getenv(name); v && *v) cmd.env[name] = v;
    }
  }
  if (release) cmd.argv.insert(cmd.argv.end(), {"--large-files", "release"});
  if (pull_request) {
    const auto& pr = ctx.with["pull-request"];
    cmd.argv.push_back("--pull-request");
    for (const char* key : {"title", "body", "base"}) {
      if (pr.contains(key) && pr[key].is_string())
        cmd.argv.insert(cmd.argv.end(), {std::string("--pr-") + key, pr[key].get<std::string>()});
    }
  }
  return cmd;
}

Result<std::vector<FileToCommit>> expand_paths(const std::string& inputs_dir,
                                               const std::vector<std::string>& paths,
                                               const std::string& dest) {
  std::vector<FileToCommit> out;
  std::string to = dest;
  while (!to.empty() && to.back() == '/') to.pop_back();
  for (const auto& p : paths) {
    std::vector<std::string> matches;
    std::string pattern = inputs_dir + "/" + p;
    if (has_glob(p)) {
      glob_t g{};
      int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
      if (rc == 0)
        for (size_t i = 0; i < g.gl_pathc; ++i) matches.push_back(g.gl_pathv[i]);
      ::globfree(&g);
    } else {
      std::error_code ec;
      if (fs::exists(pattern, ec)) matches.push_back(pattern);
    }
    if (matches.empty())
      return Error("`paths` entry '" + p + "' matched nothing in the job's /inputs");
    for (const auto& m : matches) {
      std::string name = fs::path(m).filename().string();
      // cp -r: a folder lands at DEST/NAME/..., a file at DEST/NAME.
      out.push_back({m, to.empty() ? name : to + "/" + name});
    }
  }
  return out;
}

}  // namespace wfrun::git
