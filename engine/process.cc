#include "engine/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
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
  if (!spec.setup) {
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
    if (rc != 0) {
      Error e = errno_error("cannot run '" + spec.argv[0] + "'", rc);
      if (!spec.cwd.empty() && rc == ENOENT && ::access(spec.cwd.c_str(), F_OK) != 0)
        e = errno_error("cannot change to directory '" + spec.cwd + "'", rc);
      return e;
    }
    p.pid_ = pid;
  } else {
    const char* cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
    const char* path = program.c_str();
    int wfd = write_end.get();
    pid_t pid = ::fork();
    if (pid < 0) return errno_error("fork", errno);
    if (pid == 0) {
      ::setpgid(0, 0);
      for (int s : kDefaultSignals) ::signal(s, SIG_DFL);
      sigset_t mask;
      sigemptyset(&mask);
      ::sigprocmask(SIG_SETMASK, &mask, nullptr);
      int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull < 0 || ::dup2(devnull, 0) < 0 || ::dup2(wfd, 1) < 0 || ::dup2(wfd, 2) < 0)
        ::_exit(127);
      if (devnull > 2) ::close(devnull);
      if (cwd && ::chdir(cwd) < 0) child_fail("cannot change to the job's directory", errno);
      const char* what = "setting up the job";
      if (!spec.setup->run_in_child(&what)) child_fail(what, errno);
      ::execve(path, argv.data(), envp.data());
      child_fail("exec", errno);
    }
    // Also in the parent, so that signalling the group right away cannot race the child.
    ::setpgid(pid, pid);
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
