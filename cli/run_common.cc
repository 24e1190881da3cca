#include "cli/run_common.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "cli/options.h"
#include "engine/slurm/attempts.h"
#include "workflows/secrets.h"

namespace wfrun::cli {
namespace {

// The signal self-pipe: SIGINT/SIGTERM write one byte each; the engine cancels the run at the
// first and kills its jobs at once at the second.
int g_signal_pipe[2] = {-1, -1};
volatile sig_atomic_t g_interrupted = 0;
// Whether a run's loop is reading the pipe. When none is (checks before the run, the clone of
// serve-run, the report after it), a second signal ends wfrun at once; the run's guard kills
// whatever jobs are left.
volatile sig_atomic_t g_engine_listening = 0;

void on_signal(int sig) {
  int saved = errno;
  const bool again = g_interrupted != 0;
  g_interrupted = 1;
  if (g_signal_pipe[1] >= 0) (void)!::write(g_signal_pipe[1], "x", 1);
  if (again && !g_engine_listening) ::_exit(130);
  static const char kFirst[] = "\nwfrun: stopping; Ctrl-C again kills the jobs at once\n";
  static const char kFirstTerm[] = "wfrun: stopping; a second signal kills the jobs at once\n";
  static const char kAgain[] = "\nwfrun: killing the jobs\n";
  if (again)
    (void)!::write(STDERR_FILENO, kAgain, sizeof kAgain - 1);
  else if (sig == SIGINT)
    (void)!::write(STDERR_FILENO, kFirst, sizeof kFirst - 1);
  else
    (void)!::write(STDERR_FILENO, kFirstTerm, sizeof kFirstTerm - 1);
  errno = saved;
}

/// Passes everything on to `inner`, and tells the signal handler while the run's loop runs.
class ListeningObserver : public ForwardingObserver {
 public:
  using ForwardingObserver::ForwardingObserver;
  ~ListeningObserver() override { g_engine_listening = 0; }
  void run_started(const engine::RunResult& run) override {
    inner_.run_started(run);
    g_engine_listening = 1;
  }
  void run_finished(const engine::RunResult& run) override {
    g_engine_listening = 0;
    inner_.run_finished(run);
  }
};

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

void resume_into(engine::ResumePlan plan, engine::RunOptions& opts,
                 const std::function<void(const std::string&)>& say) {
  const auto left = plan.left_behind("slurm");
  if (!left.empty()) {
    // scancel gets what it needs of wfrun's environment (SLURM_CONF and the like), no secret.
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) {
      const std::string_view v(*e);
      if (v.starts_with("PATH=") || v.starts_with("HOME=") || v.starts_with("USER=") ||
          v.starts_with("LANG=") || v.starts_with("SLURM_"))
        env.emplace_back(v);
    }
    for (const auto& line : slurm::cancel_left_behind(plan.dir, left, env)) say(line);
  }
  engine::resume_with(std::move(plan), opts);
}

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
  ListeningObserver listening(reporter ? *reporter : printer);
  return engine::run_workflow(wf, opts, listening);
}

}  // namespace wfrun::cli
