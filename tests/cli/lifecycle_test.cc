// A killed wfrun leaves nothing behind: `kill -9` during a DAG kills every job process (the
// backgrounded ones too), and the next wfrun marks the run interrupted; a second Ctrl-C kills
// at once.
// Run as root (cgroups) and, where setpriv is there, as an unprivileged user.

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include "tests/support/files.h"

namespace fs = std::filesystem;

namespace {

using wfrun::testing::slurp;

void put(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

bool running(pid_t pid) {
  std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z' &&
         stat[close + 2] != 'X';
}

std::vector<pid_t> pids_in(const fs::path& file) {
  std::vector<pid_t> out;
  std::istringstream in(slurp(file));
  for (long p; in >> p;) out.push_back(static_cast<pid_t>(p));
  return out;
}

template <class Pred>
bool wait_until(Pred pred, double seconds) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/wfrun-life-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    state_ = dir_ / "state";
    ::chmod(dir_.c_str(), 0777);  // the unprivileged case writes here too
  }
  void TearDown() override {
    for (pid_t p : leftovers_) ::kill(p, SIGKILL);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Starts `wfrun ARGS` in the background (through `prefix`, e.g. setpriv) and returns its pid.
  pid_t start(const std::string& args, const std::string& prefix = "") {
    std::string cmd = "cd '" + dir_.string() + "' && exec " + prefix + " env WFRUN_HOME='" +
                      state_.string() + "' " + bin_.string() + " " + args + " >'" +
                      (dir_ / "out").string() + "' 2>&1 </dev/null";
    pid_t pid = ::fork();
    if (pid == 0) {
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
      ::_exit(127);
    }
    return pid;
  }

  std::string wfrun(const std::string& args) {
    std::string cmd = "cd '" + dir_.string() + "' && env WFRUN_HOME='" + state_.string() + "' " +
                      WFRUN_BIN + " " + args + " 2>&1 </dev/null";
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    ::pclose(p);
    return out;
  }

  // A 20-job DAG: five roots run at once (-j 5), each with a grandchild in the background
  // (and, where `daemons`, one that leaves the process group with setsid); the other 15
  // need them. Each process appends its pid to pids.txt.
  void write_dag(bool daemons) {
    std::string yaml = "jobs:\n";
    for (int i = 1; i <= 20; ++i) {
      std::string name = "j" + std::to_string(i);
      yaml += "  " + name + ":\n    uses: script@v1\n";
      if (i > 5) yaml += "    needs: [j" + std::to_string((i - 1) % 5 + 1) + "]\n";
      std::string script = "echo $$ >> " + (dir_ / "pids.txt").string() + "; sleep 600 & echo $! >> " +
                           (dir_ / "pids.txt").string() + ";";
      if (daemons && i == 1)
        script += " setsid sh -c 'echo $$ >> " + (dir_ / "pids.txt").string() +
                  "; exec sleep 600' & ";
      script += " wait";
      yaml += "    with: {script: \"" + script + "\"}\n";
    }
    put(dir_ / "dag.yaml", yaml);
  }

  void kill_nine_and_check(const std::string& prefix, bool daemons) {
    write_dag(daemons);
    pid_t pid = start("run dag.yaml -j 5", prefix);
    const size_t expected = 10 + (daemons ? 1 : 0);
    ASSERT_TRUE(wait_until([&] { return pids_in(dir_ / "pids.txt").size() >= expected; }, 30))
        << slurp(dir_ / "out");
    std::vector<pid_t> pids = pids_in(dir_ / "pids.txt");
    leftovers_.insert(leftovers_.end(), pids.begin(), pids.end());
    for (pid_t p : pids) ASSERT_TRUE(running(p)) << p;
    // The store records a job running just after it started: wait for that, so that what
    // the next wfrun finds does not depend on how quickly this one wrote it.
    ASSERT_TRUE(wait_until(
        [&] {
          auto r = nlohmann::json::parse(wfrun("show 1 --json"), nullptr, false);
          if (!r.is_object() || !r.contains("jobs")) return false;
          int n = 0;
          for (const auto& j : r["jobs"]) n += j.value("phase", "") == "running";
          return n == 5;
        },
        30))
        << wfrun("show 1 --json");
    ::kill(pid, SIGKILL);
    int st = 0;
    ::waitpid(pid, &st, 0);
    for (pid_t p : pids)
      EXPECT_TRUE(wait_until([&] { return !running(p); }, 10))
          << "pid " << p << " outlived the killed wfrun: " << slurp("/proc/" + std::to_string(p) + "/cmdline");

    // The next wfrun finds the run's owner gone.
    auto runs = nlohmann::json::parse(wfrun("runs --json"), nullptr, false);
    ASSERT_TRUE(runs.is_array() && runs.size() == 1) << runs.dump();
    EXPECT_EQ(runs[0]["state"], "interrupted");
    std::string show = wfrun("show 1");
    EXPECT_NE(show.find("(interrupted)"), std::string::npos) << show;
    auto record = nlohmann::json::parse(wfrun("show 1 --json"), nullptr, false);
    ASSERT_TRUE(record.is_object()) << record.dump();
    EXPECT_EQ(record["phase"], "interrupted");
    std::multiset<std::string> phases;
    for (const auto& j : record["jobs"]) phases.insert(j["phase"].get<std::string>());
    EXPECT_EQ(phases.count("interrupted"), 5u) << record.dump(2);
    EXPECT_EQ(phases.count("cancelled"), 15u) << record.dump(2);
  }

  fs::path dir_, state_;
  fs::path bin_ = WFRUN_BIN;  // what start() runs
  std::vector<pid_t> leftovers_;
};

TEST_F(LifecycleTest, KillNineDuringADagLeavesNoProcessAndTheRunInterrupted) {
  // As root wfrun puts each job in a cgroup, which catches the daemon as well.
  kill_nine_and_check("", ::geteuid() == 0);
}

TEST_F(LifecycleTest, KillNineAsAnUnprivilegedUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to become another user";
  if (std::system("command -v setpriv >/dev/null") != 0) GTEST_SKIP() << "no setpriv";
  // nobody may not make cgroups: process groups and the guard are all there is. The state
  // dir and the job's files are in dir_, which nobody may write.
  // The build may sit where nobody cannot reach (CI's clone is in a mkdtemp folder, mode 0700;
  // a clone in /root): nobody runs a link to the binary (or a copy) in dir_.
  std::error_code ec;
  fs::create_hard_link(WFRUN_BIN, dir_ / "wfrun", ec);
  if (ec) fs::copy_file(WFRUN_BIN, dir_ / "wfrun", ec);
  ASSERT_FALSE(ec) << "cannot put wfrun in " << dir_ << ": " << ec.message();
  bin_ = dir_ / "wfrun";
  kill_nine_and_check("setpriv --reuid=65534 --regid=65534 --clear-groups", false);
}

TEST_F(LifecycleTest, SecondCtrlCKillsAtOnce) {
  put(dir_ / "wf.yaml", R"(jobs:
  stubborn:
    uses: script@v1
    with:
      script: |
        trap 'echo ignoring TERM; touch )" + (dir_ / "termed").string() + R"(' TERM
        echo $$ > )" + (dir_ / "pid").string() + R"(
        # Its sleep dies of the TERM too: `set -e` must not end the script there.
        while true; do sleep 0.05 || true; done
)");
  pid_t pid = start("run wf.yaml");
  ASSERT_TRUE(wait_until([&] { return !slurp(dir_ / "pid").empty(); }, 30)) << slurp(dir_ / "out");
  auto t0 = std::chrono::steady_clock::now();
  ::kill(pid, SIGINT);
  // The job shrugs off the first Ctrl-C's SIGTERM (and says so in a file: wfrun flushes its
  // own output to a file only once a second).
  ASSERT_TRUE(wait_until([&] { return fs::exists(dir_ / "termed"); }, 10)) << slurp(dir_ / "out");
  // The first Ctrl-C says what a second one does.
  EXPECT_NE(slurp(dir_ / "out").find("Ctrl-C again kills the jobs at once"), std::string::npos)
      << slurp(dir_ / "out");
  ::kill(pid, SIGINT);
  int st = 0;
  ::waitpid(pid, &st, 0);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 130) << slurp(dir_ / "out");
  // The grace period after the first Ctrl-C is 5 s; the second did not wait for it.
  EXPECT_LT(took, 4.0) << slurp(dir_ / "out");
  EXPECT_NE(slurp(dir_ / "out").find("signal 9"), std::string::npos) << slurp(dir_ / "out");
  pid_t job = std::stoi(slurp(dir_ / "pid"));
  EXPECT_FALSE(running(job));
}

TEST_F(LifecycleTest, OutputToAFileArrivesWhileTheJobRuns) {
  // stdout is a file (start() redirects it): a CI log or `nohup` must show a running job's
  // lines, not only what stdio's buffer held when wfrun exited.
  put(dir_ / "wf.yaml", "jobs:\n  talk:\n    uses: script@v1\n    with:\n      script: |\n"
                        "        echo hello from the job\n"
                        "        while [ ! -e " + (dir_ / "go").string() + " ]; do sleep 0.05; done\n");
  pid_t pid = start("run wf.yaml");
  leftovers_.push_back(pid);
  EXPECT_TRUE(wait_until([&] { return slurp(dir_ / "out").find("talk | hello from the job") != std::string::npos; }, 10))
      << slurp(dir_ / "out");
  put(dir_ / "go", "");
  int st = 0;
  ::waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << slurp(dir_ / "out");
}

// `wfrun run --resume RUN`: the jobs that did not succeed run again (and what needs them);
// the others are taken as they finished, outputs included.
class ResumeTest : public LifecycleTest {
 protected:
  void SetUp() override {
    LifecycleTest::SetUp();
    const std::string d = dir_.string();
    put(dir_ / "wf.yaml", R"Y(jobs:
  produce:
    uses: script@v1
    env:
      TOKEN: secret:token
    outputs:
      count: {type: string}
      token: {type: string}
      files: {type: volume}
    with:
      script: |
        echo run >> )Y" + d + R"Y(/produce.runs
        echo 42 > /outputs/count
        echo "$TOKEN" > /outputs/token
        echo hello > /outputs/files/greeting.txt
  other:
    uses: script@v1
    with: {script: "echo run >> )Y" + d + R"Y(/other.runs"}
  consume:
    needs: produce
    uses: script@v1
    inputs:
      count: produce.outputs.count
      token: produce.outputs.token
      files: produce.outputs.files
    with:
      script: |
        echo run >> )Y" + d + R"Y(/consume.runs
        cp /inputs/token )Y" + d + R"Y(/token.seen
        test ! -e )Y" + d + R"Y(/broken
        echo "count=$(cat /inputs/count) greeting=$(cat /inputs/files/greeting.txt)" > )Y" + d + R"Y(/consumed
  last:
    needs: consume
    uses: script@v1
    with: {script: "echo run >> )Y" + d + R"Y(/last.runs"}
)Y");
  }

  // Runs `wfrun ARGS` and returns its exit code; its output goes to `out`.
  int status(const std::string& args, std::string* out = nullptr) {
    std::string text = wfrun(args + " 2>&1; echo \"exit=$?\"");
    size_t at = text.rfind("exit=");
    if (out) *out = text.substr(0, at);
    return at == std::string::npos ? -1 : std::atoi(text.c_str() + at + 5);
  }
  size_t lines(const std::string& name) {
    std::string t = slurp(dir_ / name);
    return static_cast<size_t>(std::count(t.begin(), t.end(), '\n'));
  }
  std::string phase(std::int64_t run, const std::string& job, std::string* message = nullptr) {
    auto r = nlohmann::json::parse(wfrun("show " + std::to_string(run) + " --json"), nullptr, false);
    if (!r.is_object()) return "?";
    for (const auto& j : r["jobs"])
      if (j.value("name", "") == job) {
        if (message) *message = j.value("message", "");
        return j.value("phase", "");
      }
    return "-";
  }
};

TEST_F(ResumeTest, RerunsWhatDidNotSucceedAndReusesTheRest) {
  put(dir_ / "broken", "");
  std::string out;
  ASSERT_EQ(status("run wf.yaml --secret token=s3cr3t-t0ken", &out), 1) << out;
  EXPECT_EQ(phase(1, "consume"), "failed");
  EXPECT_EQ(phase(1, "last"), "skipped");
  fs::remove(dir_ / "broken");

  // No file: the run's own.
  ASSERT_EQ(status("run --resume 1 --secret token=s3cr3t-t0ken", &out), 0) << out;
  EXPECT_NE(out.find("resuming run 1: reusing produce, other; the rest run again"),
            std::string::npos)
      << out;
  EXPECT_EQ(lines("produce.runs"), 1u);
  EXPECT_EQ(lines("other.runs"), 1u);
  EXPECT_EQ(lines("consume.runs"), 2u);
  EXPECT_EQ(lines("last.runs"), 1u);
  // The reused job's string and volume outputs reached the job that ran again: a string
  // output holding a secret as the job wrote it, not as the store keeps it (masked).
  EXPECT_EQ(slurp(dir_ / "consumed"), "count=42 greeting=hello\n");
  EXPECT_EQ(slurp(dir_ / "token.seen"), "s3cr3t-t0ken");
  std::string message;
  EXPECT_EQ(phase(2, "produce", &message), "succeeded");
  EXPECT_EQ(message, "reused from run 1");
  EXPECT_EQ(phase(2, "consume"), "succeeded");
  EXPECT_EQ(phase(2, "last"), "succeeded");
  auto runs = nlohmann::json::parse(wfrun("runs --json"), nullptr, false);
  ASSERT_TRUE(runs.is_array() && runs.size() == 2) << runs.dump();

  // A run that succeeded has nothing to resume.
  ASSERT_EQ(status("run --resume 2 --secret token=s3cr3t-t0ken", &out), 2) << out;
  EXPECT_NE(out.find("cannot resume run 2: it succeeded"), std::string::npos) << out;
}

TEST_F(ResumeTest, UnknownRunIsAClearError) {
  std::string out;
  ASSERT_EQ(status("run --resume 7", &out), 2) << out;
  EXPECT_NE(out.find("cannot resume run 7: no run 7 (see `wfrun runs`)"), std::string::npos) << out;
  ASSERT_EQ(status("run --resume seven wf.yaml", &out), 2) << out;
  EXPECT_NE(out.find("--resume: 'seven' is not a run id"), std::string::npos) << out;
}

TEST_F(ResumeTest, ARunStillRunningIsRefusedAndResumedOnceInterrupted) {
  const std::string d = dir_.string();
  put(dir_ / "long.yaml", "jobs:\n  wait:\n    uses: script@v1\n    with: {script: \"echo run >> " +
                              d + "/wait.runs; test -e " + d + "/quick || sleep 600\"}\n");
  pid_t pid = start("run long.yaml");
  leftovers_.push_back(pid);
  ASSERT_TRUE(wait_until([&] { return lines("wait.runs") == 1; }, 30)) << slurp(dir_ / "out");
  std::string out;
  EXPECT_EQ(status("run --resume 1 --secret token=s3cr3t-t0ken", &out), 2) << out;
  EXPECT_NE(out.find("cannot resume run 1: it is still running by wfrun process " +
                     std::to_string(pid) + "; wait for it to end, or stop it"),
            std::string::npos)
      << out;
  ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  // Once its wfrun is gone the run is interrupted, and resuming it runs the job again.
  put(dir_ / "quick", "");
  ASSERT_EQ(status("run --resume 1 --secret token=s3cr3t-t0ken", &out), 0) << out;
  EXPECT_EQ(lines("wait.runs"), 2u);
  EXPECT_EQ(phase(2, "wait"), "succeeded");
}

TEST_F(ResumeTest, ChangesSinceTheRunAreSaidOrRefused) {
  put(dir_ / "broken", "");
  std::string out;
  ASSERT_EQ(status("run wf.yaml --secret token=s3cr3t-t0ken", &out), 1) << out;
  fs::remove(dir_ / "broken");
  std::string yaml = slurp(dir_ / "wf.yaml");

  // Outside the jobs (here new defaults): any job may be affected; refused, saying how to go on.
  put(dir_ / "wf.yaml", "defaults: {env: {MODE: fast}}\n" + yaml);
  ASSERT_EQ(status("run --resume 1 wf.yaml --secret token=s3cr3t-t0ken", &out), 2) << out;
  EXPECT_NE(out.find("wf.yaml: cannot resume run 1: 'defaults' has changed since it ran"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("`wfrun run wf.yaml`"), std::string::npos) << out;
  EXPECT_EQ(lines("consume.runs"), 1u);

  // A job that succeeded changed: it runs again, as do the jobs that need it; a new job runs.
  std::string changed = yaml;
  changed.replace(changed.find("echo 42"), 7, "echo 43");
  changed += "  extra:\n    uses: script@v1\n    with: {script: \"true\"}\n";
  put(dir_ / "wf.yaml", changed);
  ASSERT_EQ(status("run --resume 1 --secret token=s3cr3t-t0ken", &out), 0) << out;
  EXPECT_NE(out.find("job 'produce' changed since run 1: it runs again, as it is now"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("job 'extra' is new since run 1"), std::string::npos) << out;
  EXPECT_NE(out.find("reusing other;"), std::string::npos) << out;
  EXPECT_EQ(lines("produce.runs"), 2u);
  EXPECT_EQ(lines("other.runs"), 1u);
  EXPECT_EQ(slurp(dir_ / "consumed"), "count=43 greeting=hello\n");
}

}  // namespace
