#include "cli/ui_command.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include <CLI/CLI.hpp>

#include "base/strings.h"
#include "cli/options.h"
#include "engine/run_index.h"
#include "http/dashboard/dashboard.h"
#include "http/dashboard/local_source.h"
#include "http/dashboard/ui_server.h"

namespace wfrun::cli {

namespace {

struct UiArgs {
  std::string listen = "127.0.0.1:8765";
  std::vector<std::string> allow_hosts;
  int threads = 16;
};

/// "HOST:PORT", "[::1]:PORT" or ":PORT" -> {host, port}.
Result<std::pair<std::string, int>> parse_listen(const std::string& s) {
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos)
    return Error("--listen " + s + ": expected HOST:PORT, e.g. 127.0.0.1:8765 (port 0: any free port)");
  std::string host = s.substr(0, colon);
  const std::string port = s.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::atoi(port.c_str()) > 65535)
    return Error("--listen " + s + ": the port must be a number from 0 to 65535");
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "127.0.0.1";
  return std::make_pair(host, std::atoi(port.c_str()));
}

std::string self_exe() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "wfrun" : p.string();
}

/// Starts `wfrun --state-dir STATE run FILE --input K=V...` detached (its own session, reparented
/// to init), with its terminal output appended to STATE/ui-runs.log. Re-run uses it.
Status launch_run(const std::string& state, const std::string& file,
                  const std::map<std::string, std::string>& inputs) {
  std::vector<std::string> args = {self_exe(), "--state-dir", state, "run", file};
  for (const auto& [k, v] : inputs) {
    args.push_back("--input");
    args.push_back(k + "=" + v);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = state + "/ui-runs.log";
  // Everything the child needs is built before fork (this process has threads).
  int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) return Error("cannot open " + log + ": " + std::strerror(errno));
  int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out);
    ::close(in);
    return Error(std::string("cannot start a run: fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    sigset_t none;
    sigemptyset(&none);
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out);
  ::close(in);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return {};
}

void say(const std::string& line) {
  std::fprintf(stderr, "wfrun ui: %s\n", line.c_str());
  std::fflush(stderr);
}

int cmd_ui(const UiArgs& a, const std::string& state_flag) {
  auto listen = parse_listen(a.listen);
  if (!listen) {
    std::fprintf(stderr, "wfrun: %s\n", listen.error().str().c_str());
    return 2;
  }
  std::error_code ec;
  const std::string state =
      std::filesystem::absolute(resolve_state_dir(state_flag), ec).lexically_normal().string();
  auto index = engine::RunIndex::open(state);
  if (!index) {
    std::fprintf(stderr, "wfrun: %s\n", index.error().str().c_str());
    return 2;
  }
  dashboard::LocalRunSource source(std::move(*index), [state](const std::string& file, const auto& inputs) {
    return launch_run(state, file, inputs);
  });

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  dashboard::Options opts;
  const std::string& host = listen->first;
  auto add_host = [&](std::string h) {
    for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (h.find(':') != std::string::npos && h.front() != '[') h = "[" + h + "]";
    opts.hosts.push_back(h);
  };
  if (host != "0.0.0.0" && host != "::") add_host(host);
  for (const auto& h : a.allow_hosts) add_host(h);
  opts.max_streams = std::max(2, a.threads - 4);
  opts.log = say;
  std::string base;
  dashboard::Dashboard* dash_ptr = nullptr;
  opts.on_signed_in = [&] {
    say("a browser signed in; for another browser, open " + base + "/?token=" +
        dash_ptr->sessions().new_login_token());
  };
  dashboard::Dashboard dash(opts, source, state);
  dash_ptr = &dash;
  auto srv = dashboard::UiServer::create(host, listen->second, a.threads, dash);
  if (!srv) {
    std::fprintf(stderr, "wfrun: %s\n", srv.error().str().c_str());
    return 2;
  }
  const std::string shown = host == "0.0.0.0" || host == "::" ? "127.0.0.1"
                            : host.find(':') != std::string::npos ? "[" + host + "]" : host;
  base = "http://" + shown + ":" + std::to_string((*srv)->port());
  // The first line is what scripts (and the tests) read: the port, then the link.
  std::printf("wfrun ui: listening on port %d\n", (*srv)->port());
  std::printf("wfrun ui: the dashboard of %s\n  %s/?token=%s\n", state.c_str(), base.c_str(),
              dash.sessions().new_login_token().c_str());
  std::printf("wfrun ui: the link signs one browser in (then a new one is printed); Ctrl-C stops\n");
  std::fflush(stdout);

  std::thread signals([&] {
    int sig = 0;
    while (::sigwait(&set, &sig) != 0) {
    }
    (*srv)->stop();
  });
  (*srv)->run();
  (*srv)->stop();
  ::pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  return 0;
}

}  // namespace

void add_ui_command(CLI::App& app, const std::string& state_dir, int& exit_code) {
  static UiArgs a;
  auto* cmd = app.add_subcommand("ui", "the dashboard of this machine's runs, in a browser (docs/dashboard.md)");
  cmd->add_option("--listen", a.listen, "HOST:PORT to serve on (default 127.0.0.1:8765; port 0: any free port)");
  cmd->add_option("--allow-host", a.allow_hosts,
                  "a host name the browser may use besides localhost and the --listen address "
                  "(repeatable; e.g. the machine's name when listening on 0.0.0.0)");
  cmd->add_option("--threads", a.threads, "HTTP worker threads (each open page holds one)")
      ->check(CLI::Range(4, 256));
  cmd->callback([&] { exit_code = cmd_ui(a, state_dir); });
}

}  // namespace wfrun::cli
