#include "cli/git_commands.h"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "git/actions.h"
#include "git/commit_push.h"
#include "http/github_client.h"
#include "http/large_files.h"

namespace wfrun::cli {
namespace {

struct RemoteArgs {
  std::string url, username, ca_file;
};

void add_remote_options(CLI::App* sc, RemoteArgs& a) {
  sc->add_option("--url", a.url, "the repository")->required();
  sc->add_option("--username", a.username, "basic-auth user (default x-access-token)");
  sc->add_option("--ca-file", a.ca_file, "an extra CA bundle (PEM)");
}

// The token from the environment, then dropped from it so that nothing this process starts
// (git hooks, submodule helpers) inherits it.
git::RemoteOptions remote_options(const RemoteArgs& a) {
  git::RemoteOptions o;
  if (const char* t = std::getenv(git::kTokenEnv); t && *t) {
    o.creds = git::Credentials::from_token(t);
    if (!a.username.empty()) o.creds.username = a.username;
  }
  ::unsetenv(git::kTokenEnv);
  o.ca_file = a.ca_file;
  if (o.ca_file.empty()) {
    if (const char* ca = std::getenv("WFRUN_CA_FILE"); ca && *ca) o.ca_file = ca;
  }
  return o;
}

// A server that hangs up mid-push (an idle timeout while libgit2 packs) must be an error that
// keeps the commit and prints how to push it, not a process killed by SIGPIPE.
void ignore_sigpipe() { ::signal(SIGPIPE, SIG_IGN); }

int fail(const Error& e) {
  std::fprintf(stderr, "wfrun: %s\n", e.str().c_str());
  return 1;
}

struct CommitArgs {
  std::string inputs, dest, repo, pr_title, pr_body, pr_base, sha_file, large_files;
  std::vector<std::string> paths;
  bool pull_request = false;
  git::CommitPushRequest push;
};

// The GitHub API client for OWNER/NAME's pull request and release calls: the same token and CA
// as the push; base $WFRUN_GITHUB_API_URL or https://api.github.com.
http::GithubClient api_client(const git::RemoteOptions& remote) {
  http::ClientOptions o;
  if (const char* api = std::getenv("WFRUN_GITHUB_API_URL"); api && *api) o.base_url = api;
  o.auth.token = remote.creds.token;
  o.ca_file = remote.ca_file;
  return http::GithubClient(std::move(o));
}

// The files of `files` (folders walked) over git's 50 MB limit, and the rest to commit. A folder
// without such a file stays one entry.
struct SplitFiles {
  std::vector<git::FileToCommit> keep;
  std::vector<http::LargeFile> large;
};

Result<SplitFiles> split_large_files(const std::vector<git::FileToCommit>& files) {
  namespace fs = std::filesystem;
  SplitFiles out;
  auto size_of = [](const fs::path& p) -> std::uint64_t {
    std::error_code ec;
    auto st = fs::symlink_status(p, ec);
    if (ec || !fs::is_regular_file(st)) return 0;
    auto n = fs::file_size(p, ec);
    return ec ? 0 : n;
  };
  for (const auto& f : files) {
    std::error_code ec;
    if (!fs::is_directory(fs::symlink_status(f.src, ec))) {
      std::uint64_t n = size_of(f.src);
      if (n > git::kMaxFileBytes)
        out.large.push_back({f.src, f.dest, n});
      else
        out.keep.push_back(f);
      continue;
    }
    std::vector<fs::path> entries;
    bool any_large = false;
    for (auto it = fs::recursive_directory_iterator(f.src, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) continue;
      entries.push_back(it->path());
      if (size_of(it->path()) > git::kMaxFileBytes) any_large = true;
    }
    if (ec) return Error("cannot read " + f.src + ": " + ec.message());
    if (!any_large) {
      out.keep.push_back(f);
      continue;
    }
    std::string dest = f.dest;
    while (!dest.empty() && dest.back() == '/') dest.pop_back();
    for (const auto& e : entries) {
      std::string to = dest + "/" + e.lexically_relative(f.src).generic_string();
      std::uint64_t n = size_of(e);
      if (n > git::kMaxFileBytes)
        out.large.push_back({e.string(), to, n});
      else
        out.keep.push_back({e.string(), to});
    }
  }
  return out;
}

// `large-files: release`: uploads the files over 50 MB as assets of the release wfrun-assets
// and puts a manifest of their links (DEST/large-files.md, written beside the work dir) in
// their place in `files`.
Status release_large_files(const CommitArgs& a, const git::RemoteOptions& remote,
                           std::vector<git::FileToCommit>& files) {
  auto split = split_large_files(files);
  if (!split) return split.error();
  if (split->large.empty()) return {};
  auto repo = http::Repo::parse(a.repo);
  if (!repo) return repo.error();
  auto client = api_client(remote);
  auto published = http::publish_large_files(client, *repo, http::kLargeFilesTag, split->large,
                                             [](const std::string& line) {
                                               std::printf("%s\n", line.c_str());
                                               std::fflush(stdout);
                                             });
  if (!published) return published.error();
  std::string manifest =
      (std::filesystem::path(a.push.work_dir).parent_path() / "large-files.md").string();
  {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(manifest).parent_path(), ec);
    std::ofstream out(manifest, std::ios::binary | std::ios::trunc);
    out << http::large_files_manifest(*repo, http::kLargeFilesTag, *published);
    if (!out.flush()) return Error("cannot write " + manifest);
  }
  std::string dest = a.dest;
  while (!dest.empty() && dest.back() == '/') dest.pop_back();
  files = std::move(split->keep);
  files.push_back({manifest, dest.empty() ? "large-files.md" : dest + "/large-files.md"});
  return {};
}

// The pull request for the pushed branch: the one already open (the push updated its commits;
// a given title or body is set on it), or a new one. Returns the line to print.
Result<std::string> open_pull_request(const CommitArgs& a, const git::RemoteOptions& remote) {
  auto repo = http::Repo::parse(a.repo);
  if (!repo) return repo.error();
  auto client = api_client(remote);
  auto found = client.find_pull_by_head(*repo, a.push.branch);
  if (!found) return found.error();
  if (*found) {
    const auto& open = **found;
    if (a.pr_title.empty() && a.pr_body.empty())
      return "pull request #" + std::to_string(open.number) + " is open: " + open.html_url;
    auto updated = client.update_pull(*repo, open.number, a.pr_title, a.pr_body);
    if (!updated) return updated.error();
    return "updated pull request #" + std::to_string(open.number) + ": " + open.html_url;
  }
  http::NewPullRequest pr;
  pr.head = a.push.branch;
  pr.title = a.pr_title;
  if (pr.title.empty()) {
    // The commit message without the [skip ci] that keeps the push from retriggering CI.
    pr.title = a.push.message;
    if (auto at = pr.title.find(" [skip ci]"); at != std::string::npos) pr.title.erase(at, 10);
  }
  pr.body = a.pr_body;
  pr.base = a.pr_base.empty() ? a.push.base : a.pr_base;
  if (pr.base.empty()) {
    auto info = client.get(repo->path());
    if (!info) return info.error();
    pr.base = info->value("default_branch", "main");
  }
  auto made = client.create_pull(*repo, pr);
  if (!made) return made.error();
  return "opened pull request #" + std::to_string(made->number) + ": " + made->html_url;
}

int cmd_commit(const CommitArgs& a, const git::RemoteOptions& opts) {
  auto files = git::expand_paths(a.inputs, a.paths, a.dest);
  if (!files) return fail(files.error());
  if (a.large_files == "release") {
    if (auto st = release_large_files(a, opts, *files); !st) return fail(st.error());
  }
  git::CommitPushRequest req = a.push;
  req.files = std::move(*files);
  std::printf("committing %zu path%s to %s of %s\n", req.files.size(),
              req.files.size() == 1 ? "" : "s", req.branch.c_str(),
              git::redact_url(req.url).c_str());
  std::fflush(stdout);
  auto r = git::commit_and_push(req, opts);
  if (!r) {
    // The error ends with the one command that pushes the kept commit by hand.
    std::string msg = r.error().message();
    const std::string by_hand = "; push it by hand with: ";
    if (auto at = msg.find(by_hand); at != std::string::npos) {
      std::fprintf(stderr, "wfrun: %s\n", msg.substr(0, at).c_str());
      std::fprintf(stderr, "wfrun: push it by hand with:\n  %s\n",
                   msg.substr(at + by_hand.size()).c_str());
      return 1;
    }
    return fail(r.error());
  }
  if (!a.sha_file.empty()) {
    std::FILE* f = std::fopen(a.sha_file.c_str(), "w");
    bool ok = f && std::fputs(r->sha.c_str(), f) >= 0;
    if (f && std::fclose(f) != 0) ok = false;
    if (!ok) return fail(Error("cannot write the `sha` output " + a.sha_file));
  }
  if (r->changed)
    std::printf("pushed %s to %s (%d attempt%s)\n", r->sha.c_str(), req.branch.c_str(), r->attempts,
                r->attempts == 1 ? "" : "s");
  else
    std::printf("nothing to commit: %s already has these files (%s)\n", req.branch.c_str(),
                r->sha.c_str());
  if (a.pull_request) {
    std::fflush(stdout);
    auto pr = open_pull_request(a, opts);
    if (!pr) return fail(pr.error());
    std::printf("%s\n", pr->c_str());
  }
  return 0;
}

}  // namespace

void add_git_commands(CLI::App& app, int& exit_code) {
  auto remote = std::make_shared<RemoteArgs>();
  auto req = std::make_shared<git::CheckoutRequest>();
  // Hidden (empty group): a job's process, not something people type.
  auto* co = app.add_subcommand("git-checkout", "clone a repository (the git-checkout@v1 job)");
  co->group("");
  add_remote_options(co, *remote);
  co->add_option("--ref", req->ref, "branch, tag, sha or refs/pull/N/head");
  co->add_option("--dest", req->dest, "the folder to clone into")->required();
  co->add_option("--cache", req->cache_dir, "the clone cache")->required();
  co->add_flag("--submodules", req->submodules, "also check out submodules");
  co->callback([remote, req, &exit_code] {
    ignore_sigpipe();
    req->url = remote->url;
    auto opts = remote_options(*remote);
    std::printf("cloning %s into %s\n", git::redact_url(req->url).c_str(), req->dest.c_str());
    std::fflush(stdout);
    auto sha = git::run_checkout(*req, opts);
    if (!sha) {
      exit_code = fail(sha.error());
      return;
    }
    std::printf("checked out %s at %s\n",
                req->ref.empty() ? "the default branch" : req->ref.c_str(), sha->c_str());
    exit_code = 0;
  });

  auto cremote = std::make_shared<RemoteArgs>();
  auto c = std::make_shared<CommitArgs>();
  auto* cm = app.add_subcommand("git-commit", "commit files and push (the git-commit@v1 job)");
  cm->group("");
  add_remote_options(cm, *cremote);
  cm->add_option("--inputs", c->inputs, "the folder `--path` globs are relative to")->required();
  cm->add_option("--path", c->paths, "a file, folder or glob (repeatable)")->required();
  cm->add_option("--dest", c->dest, "the folder in the repository (default: its root)");
  cm->add_option("--branch", c->push.branch, "the branch to commit to")->required();
  cm->add_option("--base", c->push.base, "where a missing branch starts");
  cm->add_option("--message", c->push.message, "the commit message");
  cm->add_option("--author", c->push.author, "NAME <EMAIL>");
  cm->add_option("--work-dir", c->push.work_dir, "the bare clone to commit in (kept on failure)")
      ->required();
  cm->add_option("--large-files", c->large_files,
                 "release: upload files over 50 MB as release assets (needs --repo)");
  cm->add_option("--sha-file", c->sha_file, "where to write the pushed commit's sha");
  cm->add_flag("--pull-request", c->pull_request,
               "open a pull request for the branch, or update the open one");
  cm->add_option("--repo", c->repo, "OWNER/NAME, for the pull request");
  cm->add_option("--pr-title", c->pr_title, "the pull request's title");
  cm->add_option("--pr-body", c->pr_body, "the pull request's body");
  cm->add_option("--pr-base", c->pr_base, "the pull request's base branch");
  cm->callback([cremote, c, &exit_code] {
    ignore_sigpipe();
    c->push.url = cremote->url;
    exit_code = cmd_commit(*c, remote_options(*cremote));
  });
}

}  // namespace wfrun::cli
