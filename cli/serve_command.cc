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
#include "cli/systemd_notify.h"
#include "http/serve/config.h"
#include "http/serve/queue.h"
#include "http/serve/retention.h"
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

/// `wfrun serve --vacuum`: prunes what the retention lets go, then compacts queue.db.
int cmd_vacuum(const serve::ServerConfig& cfg, const std::string& state) {
  const std::string db = state + "/serve/queue.db";
  std::error_code ec;
  auto size_of = [&] {
    std::uintmax_t total = 0;
    for (const char* suffix : {"", "-wal"}) {
      const auto n = std::filesystem::file_size(db + suffix, ec);
      if (!ec) total += n;
    }
    return total;
  };
  const std::uintmax_t before = size_of();
  auto queue = serve::Queue::open(state);
  if (!queue) {
    std::fprintf(stderr, "wfrun: %s\n", queue.error().str().c_str());
    return 2;
  }
  auto pruned = serve::prune_state(**queue, cfg, state, serve::now_seconds());
  if (!pruned) {
    std::fprintf(stderr, "wfrun: %s\n", pruned.error().str().c_str());
    return 2;
  }
  if (auto s = (*queue)->vacuum(); !s) {
    std::fprintf(stderr, "wfrun: %s (is a server running on it?)\n", s.error().str().c_str());
    return 2;
  }
  queue->reset();
  std::printf("pruned %zu finished runs, %lld deliveries and %lld skip decisions; %s: %.1f MB -> %.1f MB\n",
              pruned->runs.size(), static_cast<long long>(pruned->deliveries),
              static_cast<long long>(pruned->decisions), db.c_str(), before / 1048576.0,
              size_of() / 1048576.0);
  return 0;
}

int cmd_serve(const std::string& config_file, const std::string& state_flag, bool vacuum,
              bool catch_up) {
  auto cfg = serve::load_config(config_file);
  if (!cfg) {
    std::fprintf(stderr, "wfrun: %s\n", cfg.error().str().c_str());
    return 2;
  }
  cfg->poll_catch_up = catch_up;
  std::error_code ec;
  const std::string state = std::filesystem::absolute(
      cfg->state_dir.empty() ? resolve_state_dir(state_flag) : cfg->state_dir, ec).lexically_normal().string();
  if (vacuum) return cmd_vacuum(*cfg, state);

  // Under systemd (Type=notify): READY=1 once the socket listens, RELOADING=1 and READY=1
  // around a SIGHUP, STOPPING=1 at SIGTERM. Read before any thread starts (it unsets the variable).
  const SystemdNotifier systemd = SystemdNotifier::from_environment();
  auto tell_systemd = [&](const std::string& state) {
    if (auto s = systemd.notify(state); !s) log_line(s.error().str());
  };

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
  const std::string listening = "listening on port " + std::to_string((*srv)->port());
  tell_systemd("READY=1\nSTATUS=" + listening);

  std::thread signals([&] {
    while (true) {
      int sig = 0;
      if (::sigwait(&set, &sig) != 0) continue;
      if (sig == SIGHUP) {
        tell_systemd(SystemdNotifier::reloading());
        auto next = serve::load_config(config_file);
        if (!next) {
          log_line("reload failed, keeping the old configuration: " + next.error().str());
          tell_systemd("READY=1\nSTATUS=" + listening + "; the last reload failed: " +
                       next.error().str());
          continue;
        }
        next->poll_catch_up = catch_up;
        (*srv)->reload(std::move(*next));
        tell_systemd("READY=1\nSTATUS=" + listening);
        continue;
      }
      tell_systemd("STOPPING=1\nSTATUS=stopping: waiting for running runs");
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
  static bool vacuum = false;
  auto* cmd = app.add_subcommand(
      "serve", "receive GitHub webhooks and run the repositories' workflows (see docs/serve.md)");
  static bool catch_up = false;
  cmd->add_option("--config", config, "the server configuration (default ./server.yaml)");
  cmd->add_flag("--vacuum", vacuum,
                "prune what the configuration's retention lets go, compact queue.db, and exit");
  cmd->add_flag("--catch-up", catch_up,
                "polled repositories: the first poll runs the current heads (default: only "
                "records them)");
  cmd->callback([&] { exit_code = cmd_serve(config, state_dir, vacuum, catch_up); });
}

}  // namespace wfrun::cli
