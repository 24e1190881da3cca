// Running a notebook: one Python process runs the converted cells (runner.py) and streams
// per-cell events over a pipe on its fd 3; we assemble the executed notebook as they arrive.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/fd.h"
#include "base/strings.h"
#include "engine/notebook/assembler.h"
#include "engine/notebook/embedded.h"
#include "engine/notebook/json_reader.h"
#include "engine/notebook/notebook.h"

extern char** environ;

#ifndef WFRUN_VERSION
#define WFRUN_VERSION "dev"
#endif

namespace wfrun::notebook {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using internal::Assembler;
using internal::iso_now;
using internal::seconds_between;
using internal::write_atomic;

std::string signal_text(int sig) {
  std::string s = "killed by signal " + std::to_string(sig);
  const char* name = strsignal(sig);
  if (name) s += std::string(" (") + name + ")";
  if (sig == SIGKILL) s += "; out of memory?";
  return s;
}

/// The Python child: its own process group; killed and reaped on destruction.
struct Child {
  pid_t pid = -1;
  bool reaped = false;
  int status = 0;

  ~Child() { kill_and_reap(); }

  void kill_group(int sig) {
    if (pid > 0 && !reaped) ::kill(-pid, sig);
  }
  bool try_reap() {
    if (pid <= 0 || reaped) return reaped;
    pid_t r;
    do r = ::waitpid(pid, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == pid || (r < 0 && errno == ECHILD)) reaped = true;
    return reaped;
  }
  void kill_and_reap() {
    if (pid <= 0 || reaped) return;
    kill_group(SIGKILL);
    pid_t r;
    do r = ::waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    reaped = true;
    ::kill(-pid, SIGKILL);  // anything the runner left behind in its group
  }
  /// Waits up to `grace` for the child to exit by itself.
  void wait_for(std::chrono::milliseconds grace) {
    auto deadline = Clock::now() + grace;
    while (!try_reap() && Clock::now() < deadline) ::usleep(5000);
  }
  std::string describe() const {
    if (!reaped) return "still running";
    if (WIFSIGNALED(status)) return signal_text(WTERMSIG(status));
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    return "ended";
  }
};

std::string basename_of(const std::string& path) { return fs::path(path).filename().string(); }

}  // namespace

Result<NbRunResult> run_notebook(const NbRunOptions& options) {
  auto read = read_notebook(options.notebook);
  if (!read) return read.error();
  Notebook nb = std::move(*read);
  if (auto st = check_python_kernel(nb); !st) return st.error();
  inject_parameters(nb, options.params);
  const std::string name = basename_of(options.notebook);

  // Translate every code cell; cells nbclient would skip are left untouched.
  ConvertOptions copts;
  copts.unsupported = UnsupportedMagic::kRuntimeError;
  json plan_cells = json::array();
  std::map<int, int> cell_no;  // notebook index -> 1-based number among executed cells
  auto& cells = nb.cells();
  for (size_t i = 0; i < cells.size(); ++i) {
    json& c = cells[i];
    if (c.value("cell_type", "") != "code") continue;
    c["outputs"] = json::array();
    c["execution_count"] = nullptr;
    std::string src = cell_source(c);
    auto tags = cell_tags(c);
    if (trim(src).empty() ||
        std::find(tags.begin(), tags.end(), "skip-execution") != tags.end())
      continue;
    int n = static_cast<int>(plan_cells.size()) + 1;
    auto code = translate_cell(src, copts, name, n);
    if (!code) return code.error();
    cell_no[static_cast<int>(i)] = n;
    c["metadata"]["papermill"] = {{"status", "pending"}, {"exception", nullptr},
                                  {"start_time", nullptr}, {"end_time", nullptr},
                                  {"duration", nullptr}};
    plan_cells.push_back(
        {{"index", i}, {"code", *code}, {"source", src}, {"tags", tags}});
  }
  json plan = {{"cells", plan_cells}, {"allow_errors", options.allow_errors}};

  // Scratch folder: runner + plan.
  std::string tmpl = (fs::temp_directory_path() / "wfrun-nb-XXXXXX").string();
  std::vector<char> tbuf(tmpl.begin(), tmpl.end());
  tbuf.push_back('\0');
  if (!mkdtemp(tbuf.data())) return errno_error("cannot create a temporary folder", errno);
  std::string work = tbuf.data();
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{work};
  const bool boxed = options.container.has_value();
  // In a container the runner may run as another user: it must reach its files through the
  // folder (0711: it cannot list it) and write the event FIFO.
  if (boxed && ::chmod(work.c_str(), 0711) != 0) return errno_error("chmod " + work, errno);
  std::string runner_path = work + "/wfrun_nbrunner.py";
  std::string plan_path = work + "/plan.json";
  if (auto st = write_atomic(runner_path, std::string(support_py()) + "\n" +
                                              std::string(runner_py()));
      !st)
    return st.error();
  if (auto st = write_atomic(plan_path, plan.dump(-1, ' ', false, json::error_handler_t::replace));
      !st)
    return st.error();

  if (boxed) {
    ::chmod(runner_path.c_str(), 0644);
    ::chmod(plan_path.c_str(), 0644);
  }
  std::string cwd = options.cwd;
  if (cwd.empty() && !boxed) {
    fs::path p = fs::absolute(options.notebook).parent_path();
    cwd = p.string();
  }
  std::string out_path = options.output;

  // Environment.
  std::map<std::string, std::string> env;
  if (options.env) {
    env = *options.env;
  } else {
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      auto eq = kv.find('=');
      if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  std::string python = options.python.empty() ? "python3" : options.python;
  std::vector<std::string> argv_strs = {python, runner_path, plan_path};
  const std::string events_path = work + "/events";
  if (boxed) {
    // The runtime runs with `env`; the runner gets only what it needs, through the runtime.
    std::map<std::string, std::string> inside = options.extra_env;
    const std::string scratch = kContainerScratch;
    inside["WFRUN_NB_EVENTS_PATH"] = scratch + "/events";
    argv_strs = options.container->argv({{work, scratch}}, inside, options.cwd,
                                        {python, scratch + "/wfrun_nbrunner.py",
                                         scratch + "/plan.json"});
    if (argv_strs.empty()) return Error("cannot run notebook " + name + ": no container command");
    if (::mkfifo(events_path.c_str(), 0600) != 0 || ::chmod(events_path.c_str(), 0622) != 0)
      return errno_error("cannot make the event FIFO " + events_path, errno);
  } else {
    for (const auto& [k, v] : options.extra_env) env[k] = v;
    env["WFRUN_NB_EVENTS_FD"] = "3";
    env.erase("MPLBACKEND");
  }
  std::vector<std::string> env_strs;
  for (const auto& [k, v] : env) env_strs.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strs) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<char*> argv;
  for (auto& s : argv_strs) argv.push_back(s.data());
  argv.push_back(nullptr);
  // Resolve the program on PATH now (no allocation after fork).
  const std::string& program = argv_strs[0];
  std::string exe = program;
  if (program.find('/') == std::string::npos) {
    std::string path = env.count("PATH") ? env["PATH"] : "/usr/local/bin:/usr/bin:/bin";
    exe.clear();
    for (const auto& dir : split(path, ':')) {
      std::string cand = (dir.empty() ? "." : dir) + "/" + program;
      if (::access(cand.c_str(), X_OK) == 0) {
        exe = cand;
        break;
      }
    }
    if (exe.empty())
      return Error("cannot run notebook " + name + ": '" + program + "' not found on PATH");
  }

  int evp[2] = {-1, -1}, diagp[2];
  if (boxed) {
    // Our read end, and a write end we hold until the runner has opened its own: until then
    // a FIFO without writers reads as end of file.
    evp[0] = ::open(events_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (evp[0] >= 0) evp[1] = ::open(events_path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (evp[1] < 0) {
      if (evp[0] >= 0) ::close(evp[0]);
      return errno_error("cannot open the event FIFO " + events_path, errno);
    }
  } else if (::pipe2(evp, O_CLOEXEC) != 0) {
    return errno_error("pipe", errno);
  }
  UniqueFd ev_read(evp[0]), ev_write(evp[1]);
  if (::pipe2(diagp, O_CLOEXEC) != 0) return errno_error("pipe", errno);
  UniqueFd diag_read(diagp[0]), diag_write(diagp[1]);
  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));

  Child child;
  child.pid = ::fork();
  if (child.pid < 0) return errno_error("fork", errno);
  if (child.pid == 0) {
    ::setpgid(0, 0);
    int ev = boxed ? -1 : ::fcntl(ev_write.get(), F_DUPFD, 10);
    ::dup2(devnull.get(), 0);
    ::dup2(diag_write.get(), 1);
    ::dup2(diag_write.get(), 2);
    if (ev >= 0) {
      ::dup2(ev, 3);
      ::close(ev);
    }
    if (!boxed && ::chdir(cwd.c_str()) != 0) {
      const char msg[] = "wfrun: cannot enter the working folder\n";
      (void)!::write(2, msg, sizeof msg - 1);
      ::_exit(126);
    }
    signal(SIGPIPE, SIG_DFL);
    ::execve(exe.c_str(), argv.data(), envp.data());
    const char msg[] = "wfrun: cannot execute python\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::setpgid(child.pid, child.pid);
  if (!boxed) ev_write.reset();
  diag_write.reset();
  ::fcntl(ev_read.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(diag_read.get(), F_SETFL, O_NONBLOCK);

  NbRunResult result;
  result.output = out_path;
  Assembler nbout(nb.doc, out_path);
  nbout.doc()["metadata"]["papermill"] = {
      {"input_path", options.notebook}, {"output_path", out_path}, {"parameters", options.params},
      {"start_time", iso_now()}, {"environment_variables", json::object()},
      {"version", std::string("wfrun-") + WFRUN_VERSION}};

  std::string ev_buf, diag_buf;
  std::map<std::string, std::string> partial;  // live-log line buffers per stream
  auto log = [&](std::string_view line) {
    if (options.on_log) options.on_log(line);
  };
  auto flush_partial = [&]() {
    for (auto& [k, v] : partial)
      if (!v.empty()) {
        log(v);
        v.clear();
      }
  };
  bool done = false, failed = false, ready = false;
  int failed_cell = -1;
  std::string error_line;
  Clock::time_point cell_started{};
  bool in_cell = false;
  int cell_n = 0;
  std::string kill_reason;

  // The notebook index an event names: one of the cells the plan runs.
  auto event_cell = [&](const json& ev) {
    int idx = ev.at("cell").get<int>();
    if (!cell_no.count(idx)) throw std::runtime_error("no planned cell " + std::to_string(idx));
    return idx;
  };
  auto handle = [&](const json& ev) {
    std::string e = ev.value("e", "");
    if (e == "ready") {
      ready = true;
      ev_write.reset();  // the runner holds its end now: its exit is our end of file
    } else if (e == "start") {
      int idx = event_cell(ev);
      cell_n = ev.value("n", 0);
      nbout.start(idx, ev.value("execution_count", 0), ev.value("time", iso_now()));
      in_cell = true;
      cell_started = Clock::now();
      log("cell " + std::to_string(cell_n) + "/" + std::to_string(ev.value("total", 0)));
    } else if (e == "log") {
      std::string& buf = partial[ev.value("name", "stdout")];
      buf += ev.value("text", "");
      size_t nl;
      while ((nl = buf.find('\n')) != std::string::npos) {
        std::string line = buf.substr(0, nl);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        log(line);
        buf.erase(0, nl + 1);
      }
    } else if (e == "output") {
      nbout.output(ev.at("output"), ev.contains("display_id") && ev.at("display_id").is_string()
                                     ? ev.at("display_id").get<std::string>()
                                     : "");
    } else if (e == "update") {
      if (ev.at("display_id").is_string())
        nbout.update(ev.at("display_id").get<std::string>(), ev.at("data"),
                     ev.value("metadata", json::object()));
    } else if (e == "clear") {
      nbout.clear(ev.value("wait", false));
    } else if (e == "end") {
      flush_partial();
      std::string status = ev.value("status", "ok");
      int idx = event_cell(ev);
      nbout.end(status, ev.value("time", iso_now()));
      in_cell = false;
      ++result.cells_run;
      if (status == "error") {
        auto tags = cell_tags(nbout.cell(idx));
        bool allowed = options.allow_errors ||
                       std::find(tags.begin(), tags.end(), "raises-exception") != tags.end();
        std::string msg = name + ": cell " + std::to_string(cell_no[idx]);
        if (ev.contains("line")) msg += ", line " + std::to_string(ev.at("line").get<int>());
        std::string evalue = ev.value("evalue", "");
        msg += ": " + ev.value("ename", "Error") + (evalue.empty() ? "" : ": " + evalue);
        if (!allowed && failed_cell < 0) {
          failed = true;
          failed_cell = idx;
          error_line = msg;
        }
      }
    } else if (e == "done") {
      done = true;
    }
  };

  bool ev_open = true;
  while (ev_open) {
    struct pollfd pfds[3] = {{ev_read.get(), POLLIN, 0}, {diag_read.get(), POLLIN, 0},
                             {options.cancel_fd, POLLIN, 0}};
    int nfds = options.cancel_fd >= 0 ? 3 : 2;
    int timeout = static_cast<int>(std::min<long long>(100, nbout.due_in().count()));
    int rc = ::poll(pfds, static_cast<nfds_t>(nfds), timeout);
    if (rc < 0 && errno != EINTR) return errno_error("poll", errno);
    char buf[65536];
    // Diagnostics (interpreter errors, faulthandler): keep the tail.
    while (true) {
      ssize_t n = ::read(diag_read.get(), buf, sizeof buf);
      if (n <= 0) break;
      diag_buf.append(buf, static_cast<size_t>(n));
      if (diag_buf.size() > 65536) diag_buf.erase(0, diag_buf.size() - 65536);
    }
    while (true) {
      ssize_t n = ::read(ev_read.get(), buf, sizeof buf);
      if (n == 0) {
        ev_open = false;
        break;
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      ev_buf.append(buf, static_cast<size_t>(n));
    }
    size_t pos = 0, nl;
    while ((nl = ev_buf.find('\n', pos)) != std::string::npos) {
      // Events carry what the notebook displays, so they are read with the notebook's bounds.
      auto ev = parse_json(std::string_view(ev_buf).substr(pos, nl - pos), "runner event",
                           kMaxJsonDepth + 4);
      try {
        if (!ev) throw std::runtime_error(ev.error().str());
        handle(*ev);
      } catch (const std::exception& ex) {
        diag_buf += std::string("\nwfrun: bad runner event: ") + ex.what();
      }
      pos = nl + 1;
    }
    ev_buf.erase(0, pos);
    nbout.write_if_due();
    // Before the runner opened the FIFO, only the runtime's exit tells us it never will
    // (no such image, no python3 in it, ...).
    if (boxed && !ready && ev_open && child.try_reap()) break;
    if (options.cancel_fd >= 0 && (pfds[2].revents & (POLLIN | POLLHUP))) {
      kill_reason = "cancelled";
      break;
    }
    if (in_cell && options.cell_timeout.count() > 0 &&
        Clock::now() - cell_started > options.cell_timeout) {
      kill_reason = "timed out after " +
                    format_duration(static_cast<double>(options.cell_timeout.count()) / 1000.0);
      break;
    }
  }

  if (!kill_reason.empty()) {
    if (boxed && options.container->kill) options.container->kill();
    child.kill_group(SIGTERM);
    child.wait_for(std::chrono::milliseconds(1000));
  } else {
    child.wait_for(std::chrono::milliseconds(done ? 5000 : 1000));
  }
  child.kill_and_reap();
  while (true) {  // whatever the interpreter printed last
    char buf[65536];
    ssize_t n = ::read(diag_read.get(), buf, sizeof buf);
    if (n <= 0) break;
    diag_buf.append(buf, static_cast<size_t>(n));
  }
  flush_partial();

  if (!done) {
    int idx = nbout.current();
    std::string where = idx >= 0 ? name + ": cell " + std::to_string(cell_no[idx]) : name;
    if (!ready && kill_reason.empty()) {
      std::string tail(trim(diag_buf));
      std::string in = boxed ? " in image " + options.container->image : "";
      return Error("cannot run notebook " + name + in + " with " + python + ": " +
                   child.describe() + (tail.empty() ? "" : "\n" + tail));
    }
    if (!kill_reason.empty())
      error_line = where + ": " + kill_reason;
    else
      error_line = where + ": the Python process died (" + child.describe() + ")";
    std::string tail(trim(diag_buf));
    if (!tail.empty()) {
      auto lines = split(tail, '\n');
      size_t from = lines.size() > 20 ? lines.size() - 20 : 0;
      error_line += "\n" + join(std::vector<std::string>(lines.begin() + static_cast<long>(from),
                                                         lines.end()),
                                "\n");
    }
    if (idx >= 0) {
      nbout.end("error", iso_now());
      failed_cell = idx;
    }
    failed = true;
  }

  json& doc = nbout.doc();
  auto& pm = doc["metadata"]["papermill"];
  pm["end_time"] = iso_now();
  pm["duration"] = seconds_between(pm["start_time"].get<std::string>(), pm["end_time"]);
  pm["exception"] = failed;
  if (failed && failed_cell >= 0) {
    // papermill's error banner at the top and an anchor before the failing cell.
    const std::string style =
        "color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;";
    int count = doc["cells"][static_cast<size_t>(failed_cell)].value("execution_count", 0);
    json anchor = {{"cell_type", "markdown"},
                   {"metadata", {{"tags", {"papermill-error-cell-tag"}}}},
                   {"source", "<span id=\"papermill-error-cell\" style=\"" + style +
                                  "\">Execution using papermill encountered an exception here "
                                  "and stopped:</span>"}};
    json banner = {{"cell_type", "markdown"},
                   {"metadata", {{"tags", {"papermill-error-cell-tag"}}}},
                   {"source", "<span style=\"" + style +
                                  "\">An Exception was encountered at '<a "
                                  "href=\"#papermill-error-cell\">In [" +
                                  std::to_string(count) + "]</a>'.</span>"}};
    if (doc.value("nbformat_minor", 0) >= 5) {
      anchor["id"] = "papermill-error-anchor";
      banner["id"] = "papermill-error-banner";
    }
    auto& cs = doc["cells"];
    cs.insert(cs.begin() + failed_cell, anchor);
    cs.insert(cs.begin(), banner);
  }
  if (auto st = nbout.write(); !st) return st.error();
  result.ok = !failed;
  result.failed_cell = failed_cell;
  result.error = error_line;
  result.executed = std::move(doc);
  return result;
}

}  // namespace wfrun::notebook
