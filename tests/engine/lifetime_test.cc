// Jobs die with wfrun: PR_SET_PDEATHSIG on a job's leader, the run's guard process, cgroups,
// and how a later wfrun tells that a run's owner is gone (pid plus start time).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "engine/cgroup.h"
#include "engine/fs.h"
#include "engine/guard.h"
#include "engine/owner.h"
#include "engine/process.h"
#include "tests/engine/helpers.h"

namespace wfrun::engine {
namespace {

using testing::read_text;
using testing::TempDir;

ProcessSpec sh(const std::string& script) {
  ProcessSpec s;
  s.argv = {"sh", "-c", script};
  s.env = {"PATH=/usr/local/bin:/usr/bin:/bin"};
  return s;
}

// Gone, or a zombie waiting for init: either way no longer running.
bool dead(pid_t pid) {
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  return stat.empty() || stat.find(") Z") != std::string::npos ||
         stat.find(") X") != std::string::npos;
}

bool dies_within(pid_t pid, double seconds) {
  for (int i = 0; i < seconds * 100; ++i) {
    if (dead(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return dead(pid);
}

// Waits for a file to hold a pid (one line) and returns it; 0 on timeout.
pid_t wait_for_pid(const std::string& path) {
  for (int i = 0; i < 500; ++i) {
    std::string t = read_text(path);
    if (!t.empty() && t.back() == '\n') return static_cast<pid_t>(std::stoi(t));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

// Runs `body` in a forked child (a stand-in for wfrun) and SIGKILLs that child once `ready`
// holds a line, as `kill -9 wfrun` would. Returns once the child is reaped.
template <class Body>
void kill_nine_after(const std::string& ready, Body body) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    body();
    ::pause();
    ::_exit(0);
  }
  ASSERT_NE(wait_for_pid(ready), 0) << "the stand-in for wfrun never got ready";
  ::kill(child, SIGKILL);
  int st = 0;
  ::waitpid(child, &st, 0);
}

TEST(Lifetime, LeaderDiesWithTheProcessThatStartedIt) {
  TempDir dir;
  kill_nine_after(dir / "ready", [&] {
    ProcessSpec with = sh("echo $$ > " + dir / "with" + "; exec sleep 60");
    with.die_with_parent = true;
    ProcessSpec without = sh("echo $$ > " + dir / "without" + "; exec sleep 60");
    auto a = Subprocess::start(with);
    auto b = Subprocess::start(without);
    if (!a || !b) ::_exit(1);
    if (!wait_for_pid(dir / "with") || !wait_for_pid(dir / "without")) ::_exit(1);
    (void)write_file(dir / "ready", "1\n");
    ::pause();
  });
  pid_t with = wait_for_pid(dir / "with"), without = wait_for_pid(dir / "without");
  ASSERT_GT(with, 0);
  ASSERT_GT(without, 0);
  EXPECT_TRUE(dies_within(with, 5)) << "the leader outlived the process that started it";
  // Without the request the same leader lives on (so the check above can fail).
  EXPECT_FALSE(dead(without));
  ::kill(without, SIGKILL);
}

TEST(Lifetime, StartErrorsAreTheSameOnEveryPath) {
  ProcessSpec s = sh("true");
  s.cwd = "/nonexistent/wfrun";
  s.die_with_parent = true;
  auto p = Subprocess::start(s);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message(),
            "cannot change to directory '/nonexistent/wfrun': No such file or directory");
  // An executable file that is no program: exec fails in the child, and says why.
  TempDir dir;
  ASSERT_TRUE(write_file(dir / "not-a-program", "\x7f" "ELF but not really\n"));
  ASSERT_EQ(::chmod((dir / "not-a-program").c_str(), 0755), 0);
  for (bool die : {false, true}) {
    ProcessSpec t;
    t.argv = {dir / "not-a-program"};
    t.env = {"PATH=/usr/bin:/bin"};
    t.die_with_parent = die;
    auto q = Subprocess::start(t);
    ASSERT_FALSE(q);
    EXPECT_EQ(q.error().message(), "cannot run '" + dir / "not-a-program" + "': Exec format error");
  }
  ProcessSpec u = sh("echo out; echo err >&2; exit 3");
  u.die_with_parent = true;
  auto r = run_command(u);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ(r->status.code, 3);
  EXPECT_EQ(r->output, "out\nerr\n");
}

TEST(Lifetime, GuardKillsTheGroupsOfAKilledOwner) {
  TempDir dir;
  // The job backgrounds a grandchild in its process group: PDEATHSIG does not reach it, the
  // guard does.
  kill_nine_after(dir / "ready", [&] {
    auto guard = RunGuard::start({});
    if (!guard) ::_exit(1);
    ProcessSpec job = sh("sleep 60 & echo $! > " + dir / "grandchild" + "; wait");
    job.die_with_parent = true;
    auto p = Subprocess::start(job);
    if (!p) ::_exit(1);
    guard->watch_group(p->pid());
    if (!wait_for_pid(dir / "grandchild")) ::_exit(1);
    (void)write_file(dir / "guard", std::to_string(guard->pid()) + "\n");
    (void)write_file(dir / "ready", "1\n");
    ::pause();
  });
  pid_t grandchild = wait_for_pid(dir / "grandchild");
  pid_t guard = wait_for_pid(dir / "guard");
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(dies_within(grandchild, 5)) << "the backgrounded grandchild outlived wfrun";
  EXPECT_TRUE(dies_within(guard, 5)) << "the guard did not exit after its clean-up";
}

TEST(Lifetime, GuardLeavesForgottenGroupsAlone) {
  TempDir dir;
  auto guard = RunGuard::start({});
  ASSERT_TRUE(guard) << guard.error().str();
  auto p = Subprocess::start(sh("exec sleep 60"));
  ASSERT_TRUE(p);
  guard->watch_group(p->pid());
  guard->forget_group(p->pid());
  guard->finish();  // the guard has exited: had it killed the group, the status would say so
  EXPECT_FALSE(p->try_wait());
  p->signal_group(SIGKILL);
  EXPECT_EQ(p->wait().signal, SIGKILL);
}

// A cgroup of our own under this process's, or a reason why there is none here.
struct TestCgroup {
  std::string dir, why_not;
  explicit TestCgroup(const std::string& name) {
    std::string own = own_cgroup_dir();
    auto d = make_cgroup(own, name + "-" + std::to_string(::getpid()));
    if (d)
      dir = *d;
    else
      why_not = own.empty() ? "no cgroup2 hierarchy mounted" : d.error().message();
  }
  ~TestCgroup() {
    if (!dir.empty()) destroy_cgroup(dir, 2);
  }
};

TEST(Lifetime, CgroupCatchesWhatLeftTheProcessGroup) {
  TempDir dir;
  TestCgroup cg("wfrun-test-cgroup");
  if (cg.dir.empty()) GTEST_SKIP() << "cgroups are not available here: " << cg.why_not;
  // setsid leaves the job's process group (and session): only the cgroup still holds it.
  kill_nine_after(dir / "ready", [&] {
    RunGuard::Options o;
    o.cgroup = cg.dir;
    auto guard = RunGuard::start(o);
    if (!guard) ::_exit(1);
    auto job_dir = make_cgroup(cg.dir, "job0-1");
    if (!job_dir) ::_exit(1);
    UniqueFd procs(::open((*job_dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    ProcessSpec job =
        sh("setsid sh -c 'echo $$ > " + dir / "daemon" + "; exec sleep 60' & wait");
    job.die_with_parent = true;
    job.cgroup_procs_fd = procs.get();
    auto p = Subprocess::start(job);
    if (!p) ::_exit(1);
    guard->watch_group(p->pid());
    if (!wait_for_pid(dir / "daemon")) ::_exit(1);
    (void)write_file(dir / "ready", "1\n");
    ::pause();
  });
  pid_t daemon = wait_for_pid(dir / "daemon");
  ASSERT_GT(daemon, 0);
  EXPECT_NE(read_text("/proc/" + std::to_string(daemon) + "/cgroup").find("job0-1"),
            std::string::npos);
  EXPECT_TRUE(dies_within(daemon, 5)) << "a process that left the job's group outlived wfrun";
  // The guard removed the job's cgroup and emptied the run's.
  for (int i = 0; i < 300 && exists(cg.dir + "/job0-1"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(exists(cg.dir + "/job0-1"));
}

TEST(Lifetime, OwnerIsPidPlusStartTime) {
  ProcessOwner self = current_owner();
  EXPECT_EQ(self.pid, ::getpid());
  EXPECT_GT(self.start_ticks, 0u);
  EXPECT_FALSE(self.boot_id.empty());
  EXPECT_EQ(owner_state(self), OwnerState::kAlive);

  auto p = Subprocess::start(sh("exec sleep 60"));
  ASSERT_TRUE(p);
  ProcessOwner other = self;
  other.pid = p->pid();
  other.start_ticks = process_start_ticks(p->pid());
  EXPECT_EQ(owner_state(other), OwnerState::kAlive);
  // The same pid with another start time is another process: the owner is gone.
  ProcessOwner reused = other;
  reused.start_ticks += 1;
  EXPECT_EQ(owner_state(reused), OwnerState::kGone);
  ProcessOwner rebooted = other;
  rebooted.boot_id = "00000000-0000-0000-0000-000000000000";
  EXPECT_EQ(owner_state(rebooted), OwnerState::kGone);
  ProcessOwner elsewhere = other;
  elsewhere.host = self.host + "-elsewhere";
  EXPECT_EQ(owner_state(elsewhere), OwnerState::kUnknown);
  // Killed and not yet reaped (a zombie) is gone too.
  p->signal_group(SIGKILL);
  while (!p->has_exited()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(owner_state(other), OwnerState::kGone);
  p->wait();
  EXPECT_EQ(owner_state(other), OwnerState::kGone);
  EXPECT_EQ(owner_state(ProcessOwner{}), OwnerState::kUnknown);
}

}  // namespace
}  // namespace wfrun::engine
