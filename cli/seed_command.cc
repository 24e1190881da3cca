#include "cli/seed_command.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/self_exe.h"
#include "git/seed.h"

extern char** environ;

namespace wfrun::cli {
namespace {

struct SeedArgs {
  std::string url, dir, ref, ca_file;
  bool clone = false, run = false;
};

// `wfrun nbrun NOTEBOOK` with this very binary; its exit code.
int run_notebook(const std::string& notebook) {
  std::string self = self_exe();
  std::vector<std::string> args = {self, "nbrun", notebook};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  pid_t pid = 0;
  if (int rc = ::posix_spawn(&pid, self.c_str(), nullptr, nullptr, argv.data(), environ); rc != 0) {
    std::fprintf(stderr, "wfrun: cannot start %s: %s\n", self.c_str(), std::strerror(rc));
    return 1;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int cmd_seed(const SeedArgs& a) {
  ::signal(SIGPIPE, SIG_IGN);  // a server hanging up is an error, not a killed process
  git::RemoteOptions opts = git::RemoteOptions::from_env();
  if (!a.ca_file.empty()) opts.ca_file = a.ca_file;
  git::SeedRequest req;
  req.url = a.url;
  req.dir = a.dir;
  req.ref = a.ref;
  req.clone = a.clone;
  // A URL or folder that cannot work is a usage error (2); what the remote says is 1.
  auto u = git::parse_seed_url(a.url);
  if (!u) {
    std::fprintf(stderr, "wfrun: %s\n", u.error().str().c_str());
    return 2;
  }
  std::string dir = a.dir.empty() ? u->repo_name : a.dir;
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) &&
      (!std::filesystem::is_directory(dir, ec) || !std::filesystem::is_empty(dir, ec))) {
    std::fprintf(stderr, "wfrun: %s exists and is not empty (give another folder as DIR)\n",
                 dir.c_str());
    return 2;
  }
  if (a.run) {
    if (!u->blob) {
      std::fprintf(stderr,
                   "wfrun: --run needs a notebook URL (https://github.com/OWNER/REPO/blob/REF/"
                   "PATH.ipynb)\n");
      return 2;
    }
  }
  auto r = git::seed_workspace(req, opts);
  if (!r) {
    std::fprintf(stderr, "wfrun: %s\n", r.error().str().c_str());
    return 1;
  }
  std::printf("seeded %s from %s at %s (%s)%s\n", r->dir.c_str(), r->origin.c_str(), r->ref.c_str(),
              r->commit.substr(0, 12).c_str(), r->path.empty() ? "" : (", " + r->path).c_str());
  if (!r->notebook.empty()) {
    std::string nb = (std::filesystem::path(r->dir) / r->notebook).string();
    std::printf("notebook: %s\n", nb.c_str());
    if (a.run) return run_notebook(nb);
  }
  return 0;
}

}  // namespace

void add_seed_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<SeedArgs>();
  auto* sc = app.add_subcommand(
      "seed",
      "make a notebook workspace from a GitHub URL (repo, /tree/REF/PATH or /blob/.../X.ipynb)");
  sc->add_option("url", a->url,
                 "https://github.com/OWNER/REPO[/tree/REF[/PATH] | /blob/REF/PATH.ipynb], "
                 "git@github.com:OWNER/REPO.git, or any git URL")
      ->required();
  sc->add_option("dir", a->dir,
                 "the workspace folder (default: the repository's name); must be "
                 "empty or absent");
  sc->add_option("--ref", a->ref, "branch, tag or sha (for URLs without /tree/ or /blob/)");
  sc->add_flag("--clone", a->clone,
               "with a notebook URL: the whole repository, not just the notebook");
  sc->add_flag("--run", a->run, "execute the notebook right away (wfrun nbrun)");
  sc->add_option("--ca-file", a->ca_file, "an extra CA bundle (PEM); default $WFRUN_CA_FILE");
  sc->footer(
      "A private repository needs a token in GITHUB_TOKEN. github.com URLs go to "
      "$WFRUN_GITHUB_URL when it is set (GitHub Enterprise, tests).");
  sc->callback([a, &exit_code] { exit_code = cmd_seed(*a); });
}

}  // namespace wfrun::cli
