#include "engine/guard.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <climits>
#include <cerrno>
#include <cstring>
#include <memory>

#include "base/log.h"
#include "engine/cgroup.h"

namespace wfrun::engine {

namespace {

constexpr size_t kNameMax = 248;

/// One message on the pipe: at most PIPE_BUF bytes, so each write() arrives whole.
struct Message {
  char op = 0;  // 'G' watch group, 'g' forget it, 'C' watch container, 'c' forget it
  pid_t pgid = 0;
  char name[kNameMax] = {};
};
static_assert(sizeof(Message) <= PIPE_BUF);

// How long the guard waits for the runtime to kill a container, and for a cgroup to empty.
constexpr long kRuntimeWaitMs = 30000;
constexpr long kCgroupWaitMs = 5000;

void nap_ms(long ms) {
  struct timespec ts {ms / 1000, (ms % 1000) * 1000000L};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/// Everything the guard needs, allocated before the fork: the guard itself may not allocate
/// (it is a fork of a process that may have other threads holding the allocator's locks).
struct GuardState {
  int pipe = -1;
  int devnull = -1;
  int cgroup = -1;  // the run's cgroup folder, or -1
  std::string cgroup_path;
  std::vector<pid_t> groups;
  std::vector<std::array<char, kNameMax>> containers;
  std::vector<char> used;  // containers[i] holds a name
  // The runtime's command line: argv[verb_at] is "kill" or "rm", argv[verb_at + 1] the name.
  std::vector<std::string> runtime;
  std::vector<char*> argv, envp;
  std::vector<std::string> env;
  size_t verb_at = 0;
  std::vector<pid_t> children;  // the runtime processes started at the end
};

void guard_add_group(GuardState& s, pid_t pgid) {
  for (pid_t& g : s.groups)
    if (g == 0) {
      g = pgid;
      return;
    }
}

void guard_remove_group(GuardState& s, pid_t pgid) {
  for (pid_t& g : s.groups)
    if (g == pgid) g = 0;
}

void guard_add_container(GuardState& s, const char* name) {
  for (size_t i = 0; i < s.containers.size(); ++i)
    if (!s.used[i]) {
      std::memcpy(s.containers[i].data(), name, kNameMax);
      s.containers[i][kNameMax - 1] = '\0';
      s.used[i] = 1;
      return;
    }
}

void guard_remove_container(GuardState& s, const char* name) {
  for (size_t i = 0; i < s.containers.size(); ++i)
    if (s.used[i] && std::strncmp(s.containers[i].data(), name, kNameMax) == 0) s.used[i] = 0;
}

// Runs RUNTIME VERB NAME for each container still registered (all at once), and waits for them.
void guard_runtime(GuardState& s, char* verb) {
  if (s.argv.empty()) return;
  size_t started = 0;
  for (size_t i = 0; i < s.containers.size(); ++i) {
    if (!s.used[i]) continue;
    s.argv[s.verb_at] = verb;
    s.argv[s.verb_at + 1] = s.containers[i].data();
    pid_t pid = ::fork();  // the guard has one thread: fork is safe here
    if (pid == 0) {
      ::execve(s.argv[0], s.argv.data(), s.envp.data());
      ::_exit(127);
    }
    if (pid > 0 && started < s.children.size()) s.children[started++] = pid;
  }
  for (long waited = 0; waited < kRuntimeWaitMs; waited += 20) {
    bool any = false;
    for (size_t k = 0; k < started; ++k) {
      if (s.children[k] <= 0) continue;
      int st;
      pid_t r = ::waitpid(s.children[k], &st, WNOHANG);
      if (r == s.children[k] || (r < 0 && errno == ECHILD))
        s.children[k] = 0;
      else
        any = true;
    }
    if (!any) break;
    nap_ms(20);
  }
}

[[noreturn]] void guard_main(GuardState& s) {
  ::setsid();
  ::prctl(PR_SET_NAME, "wfrun-guard");
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE, SIGUSR1,
                  SIGUSR2, SIGALRM})
    ::sigaction(sig, &ign, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGCHLD, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Nothing of wfrun's stays open here but the pipe and the cgroup folder: a guard holding a
  // job's pipe or the store would keep them alive after wfrun.
  ::dup2(s.devnull, 0);
  ::dup2(s.devnull, 1);
  ::dup2(s.devnull, 2);
  int keep_lo = std::min(s.pipe, s.cgroup < 0 ? s.pipe : s.cgroup);
  int keep_hi = std::max(s.pipe, s.cgroup);
  for (int fd = 3; fd < keep_lo; ++fd) ::close(fd);
  if (keep_hi != keep_lo)
    for (int fd = keep_lo + 1; fd < keep_hi; ++fd) ::close(fd);
  if (::syscall(SYS_close_range, keep_hi + 1, ~0U, 0) != 0) {
    long max = ::sysconf(_SC_OPEN_MAX);
    for (long fd = keep_hi + 1; fd < (max > 0 ? max : 1024); ++fd) ::close(static_cast<int>(fd));
  }

  Message m;
  while (true) {
    ssize_t n = ::read(s.pipe, &m, sizeof m);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof m)) break;  // EOF: wfrun has gone
    m.name[kNameMax - 1] = '\0';
    switch (m.op) {
      case 'G': guard_add_group(s, m.pgid); break;
      case 'g': guard_remove_group(s, m.pgid); break;
      case 'C': guard_add_container(s, m.name); break;
      case 'c': guard_remove_container(s, m.name); break;
      default: break;
    }
  }

  for (pid_t g : s.groups)
    if (g > 0) ::kill(-g, SIGKILL);
  if (s.cgroup >= 0) cgroup_kill_all(s.cgroup);
  static char kill_verb[] = "kill";
  static char rm_verb[] = "rm";
  guard_runtime(s, kill_verb);
  // --rm removes a killed container, unless its podman client was killed first: make sure.
  guard_runtime(s, rm_verb);
  if (s.cgroup >= 0) {
    for (long waited = 0; cgroup_populated(s.cgroup) && waited < kCgroupWaitMs; waited += 10) {
      nap_ms(10);
      cgroup_kill_all(s.cgroup);
    }
    cgroup_remove_below(s.cgroup);
    ::rmdir(s.cgroup_path.c_str());
  }
  ::_exit(0);
}

}  // namespace

Result<RunGuard> RunGuard::start(const Options& options) {
  auto state = std::make_unique<GuardState>();
  GuardState& s = *state;
  s.groups.assign(options.slots, 0);
  s.containers.resize(options.slots);
  s.used.assign(options.slots, 0);
  if (!options.runtime_argv.empty()) {
    s.runtime = options.runtime_argv;
    s.verb_at = s.runtime.size();
    for (auto& a : s.runtime) s.argv.push_back(a.data());
    s.argv.push_back(nullptr);  // the verb
    s.argv.push_back(nullptr);  // the name
    s.argv.push_back(nullptr);
    s.env = options.runtime_env;
    for (auto& e : s.env) s.envp.push_back(e.data());
    s.envp.push_back(nullptr);
    s.children.assign(options.slots, 0);
  }
  UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull) return errno_error("opening /dev/null", errno);
  UniqueFd cgroup;
  if (!options.cgroup.empty()) {
    cgroup.reset(::open(options.cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cgroup) return errno_error("opening the cgroup '" + options.cgroup + "'", errno);
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errno_error("pipe", errno);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  s.pipe = read_end.get();
  s.devnull = devnull.get();
  s.cgroup = cgroup.get();
  s.cgroup_path = options.cgroup;

  sigset_t all, saved;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &saved);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(write_end.get());
    guard_main(s);
  }
  ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (pid < 0) return errno_error("starting the run's guard process", errno);
  RunGuard g;
  g.pid_ = pid;
  g.pipe_ = std::move(write_end);
  return g;
}

RunGuard::RunGuard(RunGuard&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)), pipe_(std::move(o.pipe_)) {}

RunGuard& RunGuard::operator=(RunGuard&& o) noexcept {
  if (this != &o) {
    finish();
    pid_ = std::exchange(o.pid_, -1);
    pipe_ = std::move(o.pipe_);
  }
  return *this;
}

RunGuard::~RunGuard() { finish(); }

void RunGuard::finish() {
  pipe_.reset();
  if (pid_ > 0) {
    int st;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
  }
  pid_ = -1;
}

void RunGuard::send(char op, pid_t pgid, const std::string& name) {
  if (!pipe_) return;
  if (name.size() >= kNameMax) {
    debug_log("engine", "container name too long for the run's guard: " + name);
    return;
  }
  Message m;
  m.op = op;
  m.pgid = pgid;
  std::memcpy(m.name, name.data(), name.size());
  const char* p = reinterpret_cast<const char*>(&m);
  size_t left = sizeof m;
  while (left > 0) {
    ssize_t n = ::write(pipe_.get(), p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      debug_log("engine", std::string("writing to the run's guard: ") + std::strerror(errno));
      return;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void RunGuard::watch_group(pid_t pgid) { send('G', pgid, ""); }
void RunGuard::forget_group(pid_t pgid) { send('g', pgid, ""); }
void RunGuard::watch_container(const std::string& name) { send('C', 0, name); }
void RunGuard::forget_container(const std::string& name) { send('c', 0, name); }

}  // namespace wfrun::engine
