#include "engine/process.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "base/strings.h"
#include "tests/engine/helpers.h"

namespace wfrun::engine {
namespace {

using testing::TempDir;

ProcessSpec sh(const std::string& script) {
  ProcessSpec s;
  s.argv = {"sh", "-c", script};
  s.env = {"PATH=/usr/local/bin:/usr/bin:/bin"};
  return s;
}

TEST(Process, ExitCodeAndMergedOutput) {
  auto r = run_command(sh("echo out; echo err >&2; exit 3"));
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ(r->status.code, 3);
  EXPECT_FALSE(r->status.signal);
  EXPECT_EQ(r->output, "out\nerr\n");
  EXPECT_EQ(r->status.str(), "exit code 3");
}

TEST(Process, SignalIsReported) {
  auto r = run_command(sh("kill -KILL $$"));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->status.code);
  EXPECT_EQ(r->status.signal, SIGKILL);
  EXPECT_EQ(r->status.str(), "killed by signal 9 (Killed)");
}

TEST(Process, ExplicitEnvironmentOnly) {
  ::setenv("WFRUN_TEST_LEAK", "leaked", 1);
  ProcessSpec s = sh("echo \"[$WFRUN_TEST_LEAK][$ONLY]\"");
  s.env.push_back("ONLY=given");
  auto r = run_command(s);
  ::unsetenv("WFRUN_TEST_LEAK");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->output, "[][given]\n");
}

TEST(Process, CwdStdinAndOwnProcessGroup) {
  TempDir dir;
  ProcessSpec s = sh("pwd; cat; echo \"pgid=$(ps -o pgid= $$ | tr -d ' ') pid=$$\"");
  s.cwd = dir.path();
  auto r = run_command(s);
  ASSERT_TRUE(r);
  // stdin is /dev/null: cat returns at once.
  auto lines = split(r->output, '\n');
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[0], dir.path());
  auto fields = split(lines[1], ' ');
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0].substr(5), fields[1].substr(4));
}

TEST(Process, CommandNotFound) {
  ProcessSpec s;
  s.argv = {"wfrun-no-such-program"};
  s.env = {"PATH=/usr/bin:/bin"};
  auto p = Subprocess::start(s);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message(), "cannot run 'wfrun-no-such-program': command not found");
}

TEST(Process, BadDirectory) {
  ProcessSpec s = sh("true");
  s.cwd = "/nonexistent/wfrun";
  auto p = Subprocess::start(s);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message(),
            "cannot change to directory '/nonexistent/wfrun': No such file or directory");
}

TEST(Process, KillsTheWholeGroup) {
  TempDir dir;
  // A grandchild in the same group: killing the group must kill it too.
  auto p = Subprocess::start(sh("sleep 30 & echo $! > " + dir / "pid" + "; wait"));
  ASSERT_TRUE(p);
  std::string pid_text;
  for (int i = 0; i < 200 && pid_text.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    pid_text = testing::read_text(dir / "pid");
  }
  ASSERT_FALSE(pid_text.empty());
  pid_t grandchild = std::stoi(pid_text);
  p->signal_group(SIGTERM);
  ExitStatus st = p->wait();
  EXPECT_EQ(st.signal, SIGTERM);
  // The grandchild got SIGTERM too (it is reaped by init; give it a moment).
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    std::string stat = testing::read_text("/proc/" + std::to_string(grandchild) + "/stat");
    gone = stat.empty() || stat.find(") Z") != std::string::npos;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(gone);
}

TEST(Process, DestructorKillsAndReaps) {
  pid_t pid;
  {
    auto p = Subprocess::start(sh("sleep 30"));
    ASSERT_TRUE(p);
    pid = p->pid();
  }
  // Reaped: no such process (not even a zombie of ours).
  EXPECT_EQ(::kill(pid, 0), -1);
}

TEST(Process, ExitFdPollsReadableOnExit) {
  auto p = Subprocess::start(sh("exit 0"));
  ASSERT_TRUE(p);
  if (p->exit_fd() < 0) GTEST_SKIP() << "no pidfd_open on this kernel";
  pollfd pfd{p->exit_fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 5000), 1);
  EXPECT_TRUE(p->try_wait());
  EXPECT_TRUE(p->status()->success());
}

class WriteMarker : public ChildSetup {
 public:
  explicit WriteMarker(std::string path) : path_(std::move(path)) {}
  bool run_in_child(const char** what) const override {
    *what = "writing the marker";
    return ::symlink("/", path_.c_str()) == 0;
  }

 private:
  std::string path_;
};

TEST(Process, ChildSetupRunsBeforeExec) {
  TempDir dir;
  WriteMarker setup(dir / "marker");
  ProcessSpec s = sh("test -L " + dir / "marker" + " && echo yes");
  s.setup = &setup;
  auto r = run_command(s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->output, "yes\n");
  // A failing setup step is reported in the output, exit code 127.
  auto again = run_command(s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status.code, 127);
  EXPECT_EQ(again->output, "wfrun: writing the marker: File exists\n");
}

TEST(Process, FindProgram) {
  EXPECT_EQ(find_program("sh", "/nonexistent:/bin"), "/bin/sh");
  EXPECT_EQ(find_program("sh", "/nonexistent"), "");
  EXPECT_EQ(find_program("/bin/sh", ""), "/bin/sh");
}

}  // namespace
}  // namespace wfrun::engine
