#include "engine/process.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace wfrun::engine {

namespace {

// Signals a job gets back at their defaults even if wfrun handles or ignores them.
constexpr int kDefaultSignals[] = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT, SIGPIPE,
                                   SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};

std::string env_path(const std::vector<std::string>& env) {
  for (const auto& kv : env)
    if (kv.compare(0, 5, "PATH=") == 0) return kv.substr(5);
  return "/usr/local/bin:/usr/bin:/bin";
}

bool is_executable_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// Writes a message to fd 2 from a forked child: async-signal-safe calls only.
void child_fail(const char* what, int err) {
  const char* prefix = "wfrun: ";
  const char* reason = strerrordesc_np(err);
  if (!reason) reason = "error";
  ssize_t ignored = ::write(2, prefix, std::strlen(prefix));
  ignored = ::write(2, what, std::strlen(what));
  ignored = ::write(2, ": ", 2);
  ignored = ::write(2, reason, std::strlen(reason));
  ignored = ::write(2, "\n", 1);
  (void)ignored;
  ::_exit(127);
}

// What a child does between fork (or vfork) and exec. Only system calls on data prepared
// before the fork: it runs in a copy of a possibly multi-threaded process, or (vfork) in the
// parent's memory while the parent waits.
struct ChildPlan {
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* cwd = nullptr;
  int out_fd = -1;
  pid_t parent = 0;
  bool die_with_parent = false;
  int cgroup_fd = -1;
  const ChildSetup* setup = nullptr;
};

// Runs the plan up to exec; returns only when a step failed, with errno set and *what naming
// the step.
void child_exec(const ChildPlan& plan, const char** what) {
  ::setpgid(0, 0);
  if (plan.die_with_parent) {
    *what = "asking to die with wfrun";
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return;
    // wfrun died before the request took effect: no one is left to notice this job.
    if (::getppid() != plan.parent) {
      errno = ESRCH;
      return;
    }
  }
  if (plan.cgroup_fd >= 0) (void)!::write(plan.cgroup_fd, "0", 1);
  // No handler of wfrun's may run in the child: back to the defaults while signals are still
  // blocked (the vfork path blocks them all around the fork).
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0) continue;
    if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) ::sigaction(sig, &dfl, nullptr);
  }
  for (int sig : kDefaultSignals) ::sigaction(sig, &dfl, nullptr);
  *what = "redirecting the job's input and output";
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0 || ::dup2(devnull, 0) < 0 || ::dup2(plan.out_fd, 1) < 0 ||
      ::dup2(plan.out_fd, 2) < 0)
    return;
  *what = "cannot change to the job's directory";
  if (plan.cwd && ::chdir(plan.cwd) < 0) return;
  if (plan.setup) {
    *what = "setting up the job";
    if (!plan.setup->run_in_child(what)) return;
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  *what = "exec";
  ::execve(plan.path, plan.argv, plan.envp);
}

int pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd >= 0) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
#else
  return -1;
#endif
}

}  // namespace

std::string ExitStatus::str() const {
  if (code) return "exit code " + std::to_string(*code);
  if (signal) {
    const char* name = strsignal(*signal);
    return "killed by signal " + std::to_string(*signal) +
           (name ? std::string(" (") + name + ")" : "");
  }
  return "still running";
}

std::string find_program(const std::string& name, const std::string& path) {
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos) return is_executable_file(name) ? name : "";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (is_executable_file(candidate)) return candidate;
    start = end + 1;
  }
  return "";
}

namespace {

// Why a program could not be started: the command, or the directory it was to run in.
Error spawn_error(const ProcessSpec& spec, int err) {
  if (!spec.cwd.empty() && (err == ENOENT || err == ENOTDIR || err == EACCES) &&
      ::access(spec.cwd.c_str(), X_OK) != 0)
    return errno_error("cannot change to directory '" + spec.cwd + "'", err);
  return errno_error("cannot run '" + spec.argv[0] + "'", err);
}

}  // namespace

Result<Subprocess> Subprocess::start(const ProcessSpec& spec) {
  if (spec.argv.empty()) return Error("cannot start a process without a command");
  std::string program = find_program(spec.argv[0], env_path(spec.env));
  if (program.empty()) return Error("cannot run '" + spec.argv[0] + "': command not found");

  // Everything the child needs is built before fork: it may not allocate.
  std::vector<char*> argv, envp;
  argv.reserve(spec.argv.size() + 1);
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  envp.reserve(spec.env.size() + 1);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) return errno_error("pipe", errno);
  UniqueFd read_end(fds[0]), write_end(fds[1]);

  Subprocess p;
  if (!spec.setup && !spec.die_with_parent && spec.cgroup_procs_fd < 0) {
    // posix_spawn uses clone(CLONE_VFORK) in glibc: much cheaper than fork for a big parent.
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, write_end.get(), 1);
    posix_spawn_file_actions_adddup2(&actions, write_end.get(), 2);
    if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, spec.cwd.c_str());
    sigset_t mask;
    sigemptyset(&mask);
    posix_spawnattr_setsigmask(&attr, &mask);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int s : kDefaultSignals) sigaddset(&defaults, s);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, program.c_str(), &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return spawn_error(spec, rc);
    p.pid_ = pid;
  } else {
    ChildPlan plan;
    plan.path = program.c_str();
    plan.argv = argv.data();
    plan.envp = envp.data();
    plan.cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
    plan.out_fd = write_end.get();
    plan.parent = ::getpid();
    plan.die_with_parent = spec.die_with_parent;
    plan.cgroup_fd = spec.cgroup_procs_fd;
    plan.setup = spec.setup;
    // Every signal stays blocked from before the fork until the child has put its handlers
    // back to the defaults, so that no handler of wfrun's runs in the child.
    sigset_t all, saved;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &saved);
    pid_t pid;
    if (!spec.setup) {
      // vfork, as posix_spawn does: the child borrows wfrun's memory until it execs, and says
      // through it why when it cannot.
      volatile int child_errno = 0;
      const char* volatile child_what = nullptr;
      pid = ::vfork();
      if (pid == 0) {
        const char* what = "exec";
        child_exec(plan, &what);
        child_what = what;
        child_errno = errno ? errno : EINVAL;
        ::_exit(127);
      }
      ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
      if (pid < 0) return errno_error("vfork", errno);
      if (child_errno != 0) {
        int st;
        while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        const char* what = child_what;
        if (what && std::strcmp(what, "exec") != 0 &&
            std::strcmp(what, "cannot change to the job's directory") != 0)
          return errno_error(std::string("cannot run '") + spec.argv[0] + "': " + what,
                             child_errno);
        return spawn_error(spec, child_errno);
      }
    } else {
      pid = ::fork();
      if (pid == 0) {
        const char* what = "exec";
        child_exec(plan, &what);
        child_fail(what, errno);
      }
      ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
      if (pid < 0) return errno_error("fork", errno);
      // Also in the parent, so that signalling the group right away cannot race the child.
      ::setpgid(pid, pid);
    }
    p.pid_ = pid;
  }
  write_end.reset();
  // A bigger pipe lets a chatty job write ahead while wfrun is busy elsewhere and halves the
  // context switches per byte; where the kernel refuses (per-user pipe limits), 64 KiB stays.
  ::fcntl(read_end.get(), F_SETPIPE_SZ, 1 << 20);
  int flags = ::fcntl(read_end.get(), F_GETFL);
  ::fcntl(read_end.get(), F_SETFL, flags | O_NONBLOCK);
  p.output_ = std::move(read_end);
  p.pidfd_.reset(pidfd_open(p.pid_));
  return p;
}

Subprocess::Subprocess(Subprocess&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      output_(std::move(o.output_)),
      pidfd_(std::move(o.pidfd_)),
      status_(std::move(o.status_)) {
  o.status_.reset();
}

Subprocess& Subprocess::operator=(Subprocess&& o) noexcept {
  if (this != &o) {
    reset();
    pid_ = std::exchange(o.pid_, -1);
    output_ = std::move(o.output_);
    pidfd_ = std::move(o.pidfd_);
    status_ = std::move(o.status_);
    o.status_.reset();
  }
  return *this;
}

Subprocess::~Subprocess() { reset(); }

void Subprocess::reset() {
  if (running()) {
    signal_group(SIGKILL);
    wait();
  }
  pid_ = -1;
  output_.reset();
  pidfd_.reset();
  status_.reset();
}

void Subprocess::signal_group(int sig) {
  // After the leader is reaped its pid (and so the group id) may be reused: stop then. A
  // zombie leader still holds the id, so killing leftovers before try_wait() is safe.
  if (pid_ > 0 && !status_) ::kill(-pid_, sig);
}

static ExitStatus decode(int st) {
  ExitStatus s;
  if (WIFEXITED(st))
    s.code = WEXITSTATUS(st);
  else if (WIFSIGNALED(st))
    s.signal = WTERMSIG(st);
  return s;
}

bool Subprocess::try_wait() {
  if (status_) return true;
  if (pid_ <= 0) return false;
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    status_ = decode(st);
    pidfd_.reset();
    return true;
  }
  if (r < 0 && errno == ECHILD) {  // reaped by someone else: nothing to report
    status_ = ExitStatus{};
    return true;
  }
  return false;
}

bool Subprocess::has_exited() const {
  if (status_) return true;
  if (pid_ <= 0) return false;
  siginfo_t info{};
  int r;
  do {
    r = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
  } while (r < 0 && errno == EINTR);
  return r == 0 && info.si_pid == pid_;
}

ExitStatus Subprocess::wait() {
  if (status_) return *status_;
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, 0);
  } while (r < 0 && errno == EINTR);
  status_ = r == pid_ ? decode(st) : ExitStatus{};
  pidfd_.reset();
  return *status_;
}

Result<CommandOutput> run_command(const ProcessSpec& spec, size_t max_bytes) {
  auto p = Subprocess::start(spec);
  if (!p) return p.error();
  CommandOutput out;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(p->output_fd(), buf, sizeof buf);
    if (n > 0) {
      size_t room = max_bytes - std::min(max_bytes, out.output.size());
      out.output.append(buf, std::min(room, static_cast<size_t>(n)));
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      pollfd pfd{p->output_fd(), POLLIN, 0};
      ::poll(&pfd, 1, -1);
      continue;
    }
    break;
  }
  p->close_output();
  out.status = p->wait();
  return out;
}

}  // namespace wfrun::engine
