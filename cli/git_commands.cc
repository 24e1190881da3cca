#include "cli/git_commands.h"

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "git/actions.h"
#include "git/commit_push.h"
#include "http/github_client.h"

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
  std::string inputs, dest, repo, pr_title, pr_body, pr_base;
  std::vector<std::string> paths;
  bool pull_request = false;
  git::CommitPushRequest push;
};

// The pull request for the pushed branch: the one already open (the push updated it), or a
// new one. Returns the line to print.
Result<std::string> open_pull_request(const CommitArgs& a, const git::RemoteOptions& remote) {
  auto repo = http::Repo::parse(a.repo);
  if (!repo) return repo.error();
  http::ClientOptions o;
  if (const char* api = std::getenv("WFRUN_GITHUB_API_URL"); api && *api) o.base_url = api;
  o.auth.token = remote.creds.token;
  o.ca_file = remote.ca_file;
  http::GithubClient client(std::move(o));
  auto found = client.find_pull_by_head(*repo, a.push.branch);
  if (!found) return found.error();
  if (*found)
    return "pull request #" + std::to_string((*found)->number) + " is open: " + (*found)->html_url;
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
  cm->add_flag("--pull-request", c->pull_request, "open (or find) a pull request for the branch");
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
