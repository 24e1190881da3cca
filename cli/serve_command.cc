#include "cli/serve_command.h"

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <thread>

#include <CLI/CLI.hpp>

#include "cli/options.h"
#include "http/serve/config.h"
#include "http/serve/server.h"

namespace wfrun::cli {

namespace {

void log_line(const std::string& line) {
  static std::mutex mu;
  std::time_t t = std::time(nullptr);
  char ts[32];
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::lock_guard lock(mu);
  std::fprintf(stderr, "%s wfrun serve: %s\n", ts, line.c_str());
  std::fflush(stderr);
}

int cmd_serve(const std::string& config_file, const std::string& state_flag) {
  auto cfg = serve::load_config(config_file);
  if (!cfg) {
    std::fprintf(stderr, "wfrun: %s\n", cfg.error().str().c_str());
    return 2;
  }
  std::error_code ec;
  const std::string state = std::filesystem::absolute(
      cfg->state_dir.empty() ? resolve_state_dir(state_flag) : cfg->state_dir, ec).lexically_normal().string();

  // Signals go to one thread that waits for them (sigwait); every other thread blocks them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto srv = serve::Server::create(*cfg, state, log_line);
  if (!srv) {
    std::fprintf(stderr, "wfrun: %s\n", srv.error().str().c_str());
    return 2;
  }
  // The test harness and scripts read the port from here (listen: 127.0.0.1:0 picks one).
  std::printf("wfrun serve: listening on port %d\n", (*srv)->port());
  std::fflush(stdout);

  std::thread signals([&] {
    while (true) {
      int sig = 0;
      if (::sigwait(&set, &sig) != 0) continue;
      if (sig == SIGHUP) {
        auto next = serve::load_config(config_file);
        if (!next) {
          log_line("reload failed, keeping the old configuration: " + next.error().str());
          continue;
        }
        (*srv)->reload(std::move(*next));
        continue;
      }
      (*srv)->shutdown();
      return;
    }
  });
  auto done = (*srv)->run();
  (*srv)->shutdown();  // no-op after a signal; ends the signal thread's wait otherwise
  ::pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  if (!done) {
    std::fprintf(stderr, "wfrun: %s\n", done.error().str().c_str());
    return 2;
  }
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, const std::string& state_dir, int& exit_code) {
  static std::string config = "server.yaml";
  auto* cmd = app.add_subcommand(
      "serve", "receive GitHub webhooks and run the repositories' workflows (see docs/serve.md)");
  cmd->add_option("--config", config, "the server configuration (default ./server.yaml)");
  cmd->callback([&] { exit_code = cmd_serve(config, state_dir); });
}

}  // namespace wfrun::cli
