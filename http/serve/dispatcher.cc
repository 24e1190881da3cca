#include "http/serve/dispatcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "base/self_exe.h"
#include "base/strings.h"
#include "engine/fs.h"
#include "engine/process.h"
#include "http/serve/json_text.h"
#include "http/serve/reporter.h"
#include "http/serve/retention.h"
#include "http/serve/run_page.h"

extern char** environ;

namespace wfrun::serve {

namespace {

using nlohmann::json;

/// Points the child's stdout and stderr at the run's log (dup2 only: runs after fork).
class LogRedirect : public engine::ChildSetup {
 public:
  explicit LogRedirect(int fd) : fd_(fd) {}
  bool run_in_child(const char** what) const override {
    if (::dup2(fd_, 1) < 0 || ::dup2(fd_, 2) < 0) {
      *what = "redirecting output to the run's log";
      return false;
    }
    return true;
  }

 private:
  int fd_;
};

// Variables a run inherits from the server; everything else (and every secret the config
// read from the environment) stays out.
bool passed_on(const std::string& name, const ServerConfig& config) {
  for (const auto& s : config.secret_env_names)
    if (name == s) return false;
  static const char* const kNames[] = {
      "PATH",          "HOME",         "USER",         "LOGNAME",      "LANG",
      "LC_ALL",        "TZ",           "TMPDIR",       "WFRUN_DEBUG",  "WFRUN_CONTAINER_RUNTIME",
      "WFRUN_CA_FILE", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY",  "https_proxy",
      "HTTP_PROXY",    "http_proxy",   "NO_PROXY",     "no_proxy",     "ASAN_OPTIONS",
      "LSAN_OPTIONS",  "UBSAN_OPTIONS", "SLURM_CONF"};
  for (const char* n : kNames)
    if (name == n) return true;
  return starts_with(name, "WFRUN_SECRET_");
}

std::string describe(const std::string& status, const std::string& message) {
  if (!message.empty()) return message;
  if (status == "success") return "the workflows succeeded";
  if (status == "failure") return "a workflow failed";
  if (status == "skipped") return "no workflow runs for this event";
  if (status == "cancelled") return "cancelled";
  return "the run failed: " + status;
}

/// True when result.json says its `skipped` depends only on the commit and the event, and
/// names exactly this run's event, ref, base ref and sha (see docs/serve.md, skip decisions).
bool skip_is_reusable(const json& result, const RunRequest& r) {
  if (r.event != "push" && r.event != "pull_request") return false;
  auto t = result.find("trigger");
  if (t == result.end() || !t->is_object()) return false;
  auto field = [&](const char* k) {
    auto v = t->find(k);
    return v != t->end() && v->is_string() ? v->get<std::string>() : std::string();
  };
  return field("event") == r.event && field("ref") == r.ref && field("base_ref") == r.base_ref &&
         r.sha.size() == 40 && field("sha") == r.sha;
}

}  // namespace

struct Dispatcher::Child {
  engine::Subprocess proc;
  UniqueFd log;
  RunRow run;
  double kill_at = 0;         // SIGKILL after this (0: no SIGTERM sent yet)
  std::string cancel_reason;  // "" = not cancelled
};

std::string run_dir(const std::string& state_dir, std::int64_t id) {
  return state_dir + "/serve/runs/" + std::to_string(id);
}

Dispatcher::Dispatcher(Queue& queue, ConfigHolder& config, Metrics& metrics, Reporter& reporter,
                       std::string state_dir, std::function<void(const std::string&)> log)
    : queue_(queue),
      config_(config),
      metrics_(metrics),
      reporter_(reporter),
      state_dir_(std::move(state_dir)),
      log_(std::move(log)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

Dispatcher::~Dispatcher() {
  if (thread_.joinable()) drain(0);
}

void Dispatcher::start() { thread_ = std::thread([this] { loop(); }); }

void Dispatcher::wake() {
  std::uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof one);
}

int Dispatcher::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

void Dispatcher::drain(double grace) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      stopping_ = true;
      stop_deadline_ = now_seconds() + grace;
    }
  }
  wake();
  if (thread_.joinable()) thread_.join();
}

void Dispatcher::end_orphan(pid_t pid, const std::string& dir, double grace, bool requeued) {
  if (pid <= 0) return;
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string cmd = ss.str();
  // Only a child of ours: its command line names the run's folder.
  if (cmd.find(dir) == std::string::npos) return;
  // Not our child any more: init reaps it, and kill(pid, 0) fails once it has.
  ::kill(requeued ? -pid : pid, requeued ? SIGKILL : SIGTERM);
  if (requeued) ::kill(pid, SIGKILL);
  const double until = now_seconds() + (requeued ? 5.0 : grace);
  while (now_seconds() < until && ::kill(pid, 0) == 0) ::usleep(50 * 1000);
  if (::kill(pid, 0) == 0) ::kill(-pid, SIGKILL), ::kill(pid, SIGKILL);
}

std::vector<std::string> child_environment(const ServerConfig& config) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos && passed_on(kv.substr(0, eq), config)) env.push_back(kv);
  }
  return env;
}

Status Dispatcher::launch(const ServerConfig& config, const RunRow& run) {
  const RepoConfig* repo = config.repo(run.request.repo);
  const std::string dir = run_dir(state_dir_, run.id);
  if (auto s = engine::make_dirs(dir); !s) return s;
  // A run queued again after an interruption starts over: the old result is not its result.
  (void)::unlink((dir + "/result.json").c_str());

  std::string git_token, api_token;
  if (repo) {
    if (repo->app) {
      auto t = app_installation_token(config, *repo);
      if (!t) return t.error().context("getting a GitHub App installation token for " + repo->full_name);
      git_token = api_token = *t;
    } else {
      git_token = api_token = repo->token;
    }
  }
  json inputs = json::object();
  for (const auto& [k, v] : run.request.inputs) inputs[k] = v;
  const bool manual = run.request.event == "manual";
  json req = {{"run_id", run.id},
              {"delivery", run.request.delivery.empty() ? json() : json(run.request.delivery)},
              {"event", run.request.event},
              {"repo", run.request.repo},
              {"clone_url", run.request.clone_url},
              {"sha", run.request.sha},
              {"ref", run.request.ref},
              {"base_ref", run.request.base_ref.empty() ? json() : json(run.request.base_ref)},
              {"workflow", manual && !run.request.workflow.empty() ? json(run.request.workflow) : json()},
              {"inputs", inputs},
              {"github_api", config.github_api},
              {"ca_file", config.ca_file.empty() ? json() : json(config.ca_file)},
              {"target_url", run_link(config, run.id)}};
  if (auto s = engine::write_file_atomic(dir + "/request.json", json_text(req, 2) + "\n"); !s) return s;
  if (auto s = engine::write_file_atomic(dir + "/payload.json", run.request.payload); !s) return s;

  Child c;
  c.run = run;
  c.log.reset(::open((dir + "/log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!c.log) return errno_error("opening " + dir + "/log", errno);
  if (run.attempts > 1) {
    std::string line = "--- wfrun serve: attempt " + std::to_string(run.attempts) + " ---\n";
    (void)!::write(c.log.get(), line.data(), line.size());
  }

  engine::ProcessSpec spec;
  spec.argv = config.runner.empty() ? std::vector<std::string>{self_exe(), "serve-run"}
                                    : config.runner;
  for (const auto& a : {std::string("--state-dir"), state_dir_, std::string("--dir"), dir})
    spec.argv.push_back(a);
  // serve-run reads the executor: block from the same file, from the run's folder: the path
  // must not be relative to where the server started.
  if (config.executor && !config.file.empty()) {
    std::error_code ec;
    spec.argv.insert(spec.argv.end(), {"--executor-config", std::filesystem::absolute(config.file, ec).string()});
  }
  spec.env = child_environment(config);
  if (!git_token.empty()) spec.env.push_back("WFRUN_GIT_TOKEN=" + git_token);
  if (!api_token.empty()) spec.env.push_back("WFRUN_GITHUB_TOKEN=" + api_token);
  spec.cwd = dir;
  LogRedirect redirect(c.log.get());
  spec.setup = &redirect;
  auto p = engine::Subprocess::start(spec);
  if (!p) return p.error();
  c.proc = std::move(*p);
  c.proc.close_output();
  (void)queue_.set_pid(run.id, c.proc.pid());
  log_("run " + std::to_string(run.id) + ": started (" + run.request.event + " " +
       run.request.repo + " " + run.request.ref + ", pid " + std::to_string(c.proc.pid()) + ")");
  children_->emplace(run.id, std::move(c));
  return {};
}

void Dispatcher::start_runs(const ServerConfig& config) {
  const int room = config.max_concurrent - static_cast<int>(children_->size());
  if (room <= 0) return;
  auto runs = queue_.start_queued(room);
  if (!runs) {
    log_("dispatcher: " + runs.error().str());
    return;
  }
  for (const RunRow& r : *runs) {
    Status started;
    try {
      started = launch(config, r);
    } catch (const std::exception& e) {
      // One bad run (bytes no JSON can hold, say) fails that run, never the dispatcher.
      started = Error(std::string("internal error: ") + e.what());
    }
    if (auto s = std::move(started); !s) {
      log_("run " + std::to_string(r.id) + ": cannot start: " + s.error().str());
      const RepoConfig* repo = config.repo(r.request.repo);
      std::optional<Report> rep;
      if (repo && (!repo->token.empty() || repo->app) && !r.request.sha.empty())
        rep = Report::status(r.id, repo->full_name, r.request.sha, "error",
                     "could not start: " + s.error().message(),
                     run_link(config, r.id), config.status_context);
      (void)queue_.finish(r.id, "error", "could not start: " + s.error().str(), rep);
      metrics_.run_finished("error", 0);
      reporter_.wake();
    }
  }
}

void Dispatcher::finish(std::int64_t id, Child& c) {
  const engine::ExitStatus st = c.proc.wait();
  const std::string dir = run_dir(state_dir_, id);
  std::string status, message;
  if (auto text = engine::read_file(dir + "/result.json")) {
    json j = json::parse(*text, nullptr, false);
    if (j.is_object() && j.contains("status") && j["status"].is_string()) {
      status = j["status"].get<std::string>();
      if (j.contains("message") && j["message"].is_string()) message = j["message"].get<std::string>();
      if (status == "skipped" && skip_is_reusable(j, c.run.request))
        if (auto s = queue_.remember_skip(id, c.run.request); !s)
          log_("run " + std::to_string(id) + ": cannot record the skip decision: " + s.error().str());
    }
  }
  static const std::vector<std::string> kKnown = {"success", "failure", "error", "skipped", "cancelled"};
  if (!status.empty() && std::find(kKnown.begin(), kKnown.end(), status) == kKnown.end()) {
    message = "serve-run wrote an unknown status '" + status + "'";
    status = "error";
  }
  if (status.empty()) {
    if (!c.cancel_reason.empty()) {
      status = "cancelled";
      message = c.cancel_reason + " (" + st.str() + ")";
    } else {
      status = "error";
      message = "serve-run ended (" + st.str() + ") without writing result.json; see the log";
    }
  } else if (!c.cancel_reason.empty() && status == "cancelled" && message.empty()) {
    message = c.cancel_reason;
  }
  message = std::string(trim(message.substr(0, message.find('\n'))));

  ConfigPtr config = config_.get();
  const RepoConfig* repo = config->repo(c.run.request.repo);
  std::optional<Report> rep;
  if (repo && (!repo->token.empty() || repo->app) && !c.run.request.sha.empty()) {
    // GitHub knows pending, success, failure and error: a run with nothing to do is a
    // success (the pending status must not stay), a cancelled one an error.
    std::string state = status == "skipped" ? "success" : status == "cancelled" ? "error" : status;
    rep = Report::status(id, repo->full_name, c.run.request.sha, state, describe(status, message),
                 run_link(*config, id), config->status_context);
  }
  if (auto s = queue_.finish(id, status, message, rep); !s)
    log_("run " + std::to_string(id) + ": cannot record the result: " + s.error().str());
  // The payload is kept once, in queue.db: the child's copy goes with the child.
  (void)::unlink((dir + "/payload.json").c_str());
  metrics_.run_finished(status, now_seconds() - c.run.started);
  log_("run " + std::to_string(id) + ": " + status + (message.empty() ? "" : ": " + message));
  reporter_.wake();
}

void Dispatcher::reap() {
  for (auto it = children_->begin(); it != children_->end();) {
    if (it->second.proc.try_wait()) {
      try {
        finish(it->first, it->second);
      } catch (const std::exception& e) {
        log_("run " + std::to_string(it->first) + ": cannot record the result: internal error: " + e.what());
      }
      it = children_->erase(it);
    } else {
      ++it;
    }
  }
}

void Dispatcher::loop() {
  std::map<std::int64_t, Child> children;
  children_ = &children;
  double last_cancel_check = 0;
  while (true) {
    try {
      if (!step(children, last_cancel_check)) break;
    } catch (const std::exception& e) {
      // The last line: log it and go on (after a pause, should it repeat).
      log_("dispatcher: internal error: " + std::string(e.what()));
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
  std::lock_guard lock(mu_);
  running_ = 0;
  children_ = nullptr;
}

bool Dispatcher::step(std::map<std::int64_t, Child>& children, double& last_cancel_check) {
  ConfigPtr config = config_.get();
  reap();
  bool stopping;
  double deadline;
  {
    std::lock_guard lock(mu_);
    stopping = stopping_;
    deadline = stop_deadline_;
    running_ = static_cast<int>(children.size());
  }
  const double now = now_seconds();
  if (stopping && children.empty()) return false;
  if (stopping && now >= deadline) {
    for (auto& [id, c] : children)
      if (c.kill_at == 0) {
        c.cancel_reason = "cancelled: the server shut down";
        c.proc.signal_group(SIGTERM);
        c.kill_at = now + config->cancel_grace;
        log_("run " + std::to_string(id) + ": the shutdown grace period is over; cancelling");
      }
  }
  if (now - last_cancel_check >= 0.5 || stopping) {
    last_cancel_check = now;
    if (auto ids = queue_.cancel_requests()) {
      for (auto id : *ids) {
        auto it = children.find(id);
        if (it == children.end() || it->second.kill_at != 0) continue;
        it->second.cancel_reason = "cancelled through the API";
        it->second.proc.signal_group(SIGTERM);
        it->second.kill_at = now + config->cancel_grace;
        log_("run " + std::to_string(id) + ": cancelling");
      }
    }
  }
  for (auto& [id, c] : children)
    if (c.kill_at != 0 && now >= c.kill_at) {
      c.proc.signal_group(SIGKILL);
      c.kill_at = now + 3600;  // once
    }
  if (!stopping) start_runs(*config);
  if (!stopping && now >= next_prune_) {
    next_prune_ = now + kPruneEvery;
    auto pruned = prune_state(queue_, *config, state_dir_, now_seconds());
    if (!pruned)
      log_("retention: " + pruned.error().str());
    else if (!pruned->runs.empty() || pruned->deliveries > 0)
      log_("retention: pruned " + std::to_string(pruned->runs.size()) + " finished runs and " +
           std::to_string(pruned->deliveries) + " deliveries");
  }
  {
    std::lock_guard lock(mu_);
    running_ = static_cast<int>(children.size());
  }

  // Sleep until a child exits, someone wakes us, or a deadline comes.
  std::vector<pollfd> fds;
  fds.push_back({wake_fd_.get(), POLLIN, 0});
  bool all_pidfds = true;
  for (auto& [id, c] : children) {
    if (c.proc.exit_fd() >= 0) fds.push_back({c.proc.exit_fd(), POLLIN, 0});
    else all_pidfds = false;
  }
  double wait = 1.0;
  if (!all_pidfds) wait = 0.1;
  if (stopping && deadline > now) wait = std::min(wait, deadline - now);
  for (auto& [id, c] : children)
    if (c.kill_at != 0 && c.kill_at > now) wait = std::min(wait, c.kill_at - now);
  int ms = std::max(1, static_cast<int>(wait * 1000));
  if (::poll(fds.data(), fds.size(), ms) > 0 && (fds[0].revents & POLLIN)) {
    std::uint64_t n;
    (void)!::read(wake_fd_.get(), &n, sizeof n);
  }
  return true;
}

}  // namespace wfrun::serve
