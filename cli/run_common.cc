#include "cli/run_common.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "cli/options.h"
#include "workflows/secrets.h"

namespace wfrun::cli {
namespace {

// The signal self-pipe: SIGINT/SIGTERM write one byte; the engine cancels the run when its
// read end becomes readable.
int g_signal_pipe[2] = {-1, -1};
volatile sig_atomic_t g_interrupted = 0;

void on_signal(int) {
  g_interrupted = 1;
  int saved = errno;
  if (g_signal_pipe[1] >= 0) (void)!::write(g_signal_pipe[1], "x", 1);
  errno = saved;
}

}  // namespace

int install_signal_pipe() {
  if (g_signal_pipe[0] >= 0) return g_signal_pipe[0];
  if (::pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  return g_signal_pipe[0];
}

bool interrupted() { return g_interrupted != 0; }

engine::RunOptions base_run_options(const std::string& state_dir) {
  engine::RunOptions opts;
  opts.state_dir = state_dir;
  if (const char* rt = std::getenv("WFRUN_CONTAINER_RUNTIME"); rt && *rt)
    opts.container_runtime = rt;
  opts.secrets = secrets_from_environment();
  return opts;
}

Result<engine::RunResult> run_checked(const workflows::Workflow& wf, const engine::RunOptions& opts,
                                      engine::RunObserver& printer,
                                      const GithubReportSettings& github) {
  auto secrets_ok = workflows::check_secrets(
      wf, [&](const std::string& n) { return opts.secrets.count(n) > 0; });
  if (!secrets_ok) return secrets_ok.error();
  // The workflow's `github:` block reports the run to GitHub around the printer.
  auto reporter = make_github_observer(wf, opts, printer, github);
  return engine::run_workflow(wf, opts, reporter ? *reporter : printer);
}

}  // namespace wfrun::cli
