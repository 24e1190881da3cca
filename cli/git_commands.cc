#include "cli/git_commands.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include <CLI/CLI.hpp>

#include "git/actions.h"

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

int fail(const Error& e) {
  std::fprintf(stderr, "wfrun: %s\n", e.str().c_str());
  return 1;
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
    req->url = remote->url;
    auto opts = remote_options(*remote);
    std::printf("cloning %s into %s\n", git::redact_url(req->url).c_str(), req->dest.c_str());
    std::fflush(stdout);
    auto sha = git::run_checkout(*req, opts);
    if (!sha) {
      exit_code = fail(sha.error());
      return;
    }
    std::printf("checked out %s at %s\n", req->ref.empty() ? "the default branch" : req->ref.c_str(),
                sha->c_str());
    exit_code = 0;
  });
}

}  // namespace wfrun::cli
