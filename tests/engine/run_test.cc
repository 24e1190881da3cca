// Scheduling: order, parallelism, failure propagation, conditions, retries, timeouts, cancel.
#include "engine/run.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "engine/actions.h"
#include "engine/context.h"
#include "engine/fs.h"
#include "engine/store.h"
#include "tests/engine/helpers.h"
#include "workflows/parser.h"

namespace wfrun::engine {
namespace {

using testing::job;
using testing::options;
using testing::read_text;
using testing::Recorder;
using testing::run_yaml;
using testing::TempDir;

TEST(Run, NeedsOrderLogsAndRecord) {
  TempDir dir;
  Recorder rec;
  RunResult run = run_yaml(R"YAML(
jobs:
  b:
    needs: a
    uses: script@v1
    with: {script: "echo b; echo b-err >&2"}
  a:
    uses: script@v1
    with: {script: "echo a"}
)YAML",
                           options(dir), &rec);
  EXPECT_EQ(run.state, RunState::kSucceeded);
  EXPECT_EQ(run.id, 1);
  EXPECT_EQ(run.number, 1);
  ASSERT_EQ(run.jobs.size(), 2u);
  EXPECT_EQ(run.jobs[0].name, "b");  // workflow order
  EXPECT_EQ(rec.events,
            (std::vector<std::string>{"run_started", "start a 1", "finish a succeeded", "start b 1",
                                      "finish b succeeded", "run_finished"}));
  EXPECT_EQ(rec.lines["b"], (std::vector<std::string>{"b", "b-err"}));
  EXPECT_EQ(read_text(job(run, "a").log_path), "a\n");
  EXPECT_EQ(job(run, "a").log_path, run.dir + "/jobs/a/log");
  EXPECT_EQ(job(run, "a").exit_code, 0);
  EXPECT_EQ(job(run, "a").attempts, 1);
  EXPECT_LE(job(run, "a").finished, job(run, "b").started);
  EXPECT_EQ(run.dir, dir / "state/runs/1");
  EXPECT_NE(read_text(run.dir + "/workflow.yaml").find("echo b-err"), std::string::npos);

  auto j = nlohmann::json::parse(read_text(run.dir + "/run.json"));
  EXPECT_EQ(j["id"], 1);
  EXPECT_EQ(j["number"], 1);
  EXPECT_EQ(j["workflow"], "test");
  EXPECT_EQ(j["phase"], "succeeded");
  EXPECT_TRUE(j["started"].is_string());
  EXPECT_TRUE(j["finished"].is_string());
  ASSERT_EQ(j["jobs"].size(), 2u);
  EXPECT_EQ(j["jobs"][1]["name"], "a");
  EXPECT_EQ(j["jobs"][1]["phase"], "succeeded");
  EXPECT_EQ(j["jobs"][1]["exitCode"], 0);
  EXPECT_EQ(j["jobs"][1]["attempts"], 1);
  EXPECT_TRUE(j["jobs"][1]["outputs"].is_object());

  // The store has the same.
  auto store = RunStore::open(dir / "state");
  ASSERT_TRUE(store);
  auto r = store->get_run(run.id);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ(r->state, RunState::kSucceeded);
  EXPECT_EQ(r->workflow, "test");
  ASSERT_EQ(r->jobs.size(), 2u);
  EXPECT_EQ(r->jobs[0].name, "b");
  EXPECT_EQ(r->jobs[0].state, JobState::kSucceeded);

  // A second run of the same workflow gets number 2.
  RunResult again = run_yaml("jobs: {a: {uses: script@v1, with: {script: 'true'}}}", options(dir));
  EXPECT_EQ(again.number, 2);
  EXPECT_EQ(again.id, 2);
}

// Each job appends "start T" / "end T" lines; the most jobs running at one instant.
int max_overlap(const std::string& file) {
  std::vector<std::pair<double, int>> events;
  for (const auto& line : split(read_text(file), '\n')) {
    auto f = split(line, ' ');
    if (f.size() != 2) continue;
    events.emplace_back(std::stod(f[1]), f[0] == "start" ? 1 : -1);
  }
  std::sort(events.begin(), events.end());
  int cur = 0, best = 0;
  for (auto& [t, d] : events) best = std::max(best, cur += d);
  return best;
}

TEST(Run, ParallelismLimit) {
  TempDir dir;
  std::string yaml = "jobs:\n";
  for (int i = 0; i < 6; ++i)
    yaml += "  j" + std::to_string(i) +
            ":\n    uses: script@v1\n    with:\n      script: |\n        echo start $EPOCHREALTIME "
            ">> " +
            dir / "times" + "\n        sleep 0.2\n        echo end $EPOCHREALTIME >> " +
            dir / "times" + "\n";
  RunOptions opts = options(dir);
  opts.max_parallel = 2;
  RunResult run = run_yaml(yaml, opts);
  EXPECT_EQ(run.state, RunState::kSucceeded);
  EXPECT_EQ(max_overlap(dir / "times"), 2);

  ::unlink((dir / "times").c_str());
  opts.max_parallel = 6;
  run = run_yaml(yaml, opts);
  EXPECT_EQ(max_overlap(dir / "times"), 6);
}

TEST(Run, JobsStartAsSoonAsTheirNeedsAreDone) {
  TempDir dir;
  // slow and fast run at once; after-fast must not wait for slow.
  RunOptions opts = options(dir);
  opts.max_parallel = 4;
  Recorder rec;
  RunResult run = run_yaml(R"YAML(
jobs:
  slow: {uses: script@v1, with: {script: sleep 0.5}}
  fast: {uses: script@v1, with: {script: "true"}}
  after-fast: {needs: fast, uses: script@v1, with: {script: "true"}}
)YAML",
                           opts, &rec);
  EXPECT_EQ(run.state, RunState::kSucceeded);
  EXPECT_LT(job(run, "after-fast").finished, job(run, "slow").finished);
}

TEST(Run, FailureSkipsDependentsTransitively) {
  TempDir dir;
  RunResult run = run_yaml(R"YAML(
jobs:
  a: {uses: script@v1, with: {script: "echo failing; exit 3"}}
  b: {needs: a, uses: script@v1, with: {script: "true"}}
  c: {needs: b, uses: script@v1, with: {script: "true"}}
  d: {uses: script@v1, with: {script: "true"}}
)YAML",
                           options(dir));
  EXPECT_EQ(run.state, RunState::kFailed);
  EXPECT_EQ(job(run, "a").state, JobState::kFailed);
  EXPECT_EQ(job(run, "a").exit_code, 3);
  EXPECT_EQ(job(run, "a").message, "exit code 3");
  EXPECT_EQ(job(run, "b").state, JobState::kSkipped);
  EXPECT_EQ(job(run, "b").message, "skipped because 'a' failed");
  EXPECT_EQ(job(run, "c").state, JobState::kSkipped);
  EXPECT_EQ(job(run, "c").message, "skipped because 'b' was skipped");
  EXPECT_EQ(job(run, "c").attempts, 0);
  EXPECT_EQ(job(run, "d").state, JobState::kSucceeded);
}

TEST(Run, ScriptStopsAtTheFirstFailingCommand) {
  TempDir dir;
  RunResult run = run_yaml(R"YAML(
jobs:
  a: {uses: script@v1, with: {script: "false\necho not reached"}}
)YAML",
                           options(dir));
  EXPECT_EQ(job(run, "a").state, JobState::kFailed);
  EXPECT_EQ(read_text(job(run, "a").log_path), "");
}

TEST(Run, FailureAndAlwaysConditions) {
  TempDir dir;
  RunResult run = run_yaml(R"YAML(
jobs:
  ok: {uses: script@v1, with: {script: "true"}}
  bad: {uses: script@v1, with: {script: "exit 1"}}
  on-failure: {needs: bad, if: failure(), uses: script@v1, with: {script: "true"}}
  on-failure-ok: {needs: ok, if: failure(), uses: script@v1, with: {script: "true"}}
  always: {needs: [ok, bad], if: "${{ always() }}", uses: script@v1, with: {script: "true"}}
  skipped: {needs: bad, uses: script@v1, with: {script: "true"}}
  late-failure: {needs: skipped, if: failure(), uses: script@v1, with: {script: "true"}}
  after-handler: {needs: on-failure, uses: script@v1, with: {script: "true"}}
)YAML",
                           options(dir));
  EXPECT_EQ(run.state, RunState::kFailed);
  EXPECT_EQ(job(run, "on-failure").state, JobState::kSucceeded);
  EXPECT_EQ(job(run, "on-failure-ok").state, JobState::kSkipped);
  EXPECT_EQ(job(run, "on-failure-ok").message, "skipped because no job it needs failed");
  EXPECT_EQ(job(run, "always").state, JobState::kSucceeded);
  EXPECT_EQ(job(run, "skipped").state, JobState::kSkipped);
  // failure() looks through skipped jobs at the failure that caused them.
  EXPECT_EQ(job(run, "late-failure").state, JobState::kSucceeded);
  EXPECT_EQ(job(run, "after-handler").state, JobState::kSucceeded);
}

TEST(Run, ContinueOnErrorCountsAsSuccessForDependents) {
  TempDir dir;
  RunResult run = run_yaml(R"YAML(
jobs:
  flaky: {uses: script@v1, continue-on-error: true, with: {script: "exit 2"}}
  next: {needs: flaky, uses: script@v1, with: {script: "true"}}
  handler: {needs: flaky, if: failure(), uses: script@v1, with: {script: "true"}}
)YAML",
                           options(dir));
  EXPECT_EQ(job(run, "flaky").state, JobState::kFailed);
  EXPECT_EQ(job(run, "next").state, JobState::kSucceeded);
  EXPECT_EQ(job(run, "handler").state, JobState::kSkipped);
  EXPECT_EQ(run.state, RunState::kSucceeded);
}

TEST(Run, RetriesUntilSuccess) {
  TempDir dir;
  Recorder rec;
  RunResult run = run_yaml(
      "jobs:\n  flaky:\n    uses: script@v1\n    retries: 3\n    with:\n"
      "      script: |\n        echo try >> " +
          dir / "count" + "\n        test $(wc -l < " + dir / "count" + ") -ge 3\n",
      options(dir), &rec);
  EXPECT_EQ(job(run, "flaky").state, JobState::kSucceeded);
  EXPECT_EQ(job(run, "flaky").attempts, 3);
  EXPECT_EQ(std::count(rec.events.begin(), rec.events.end(), "start flaky 3"), 1);
  EXPECT_EQ(read_text(job(run, "flaky").log_path),
            "wfrun: exit code 1; retrying\nwfrun: attempt 2 of 4\n"
            "wfrun: exit code 1; retrying\nwfrun: attempt 3 of 4\n");

  RunResult out = run_yaml("jobs: {bad: {uses: script@v1, retries: 1, with: {script: 'exit 5'}}}",
                           options(dir));
  EXPECT_EQ(job(out, "bad").state, JobState::kFailed);
  EXPECT_EQ(job(out, "bad").attempts, 2);
  EXPECT_EQ(job(out, "bad").exit_code, 5);
}

TEST(Run, TimeoutTermThenKill) {
  TempDir dir;
  double t0 = testing::now_seconds();
  RunResult run = run_yaml(R"YAML(
jobs:
  stubborn:
    uses: script@v1
    timeout: 0.3
    with:
      script: |
        trap 'echo got TERM' TERM
        echo waiting
        while true; do sleep 0.05 || true; done
  polite:
    uses: script@v1
    timeout: 0.3
    with:
      script: |
        trap 'echo bye; exit 7' TERM
        while true; do sleep 0.05; done
  after: {needs: stubborn, uses: script@v1, with: {script: "true"}}
)YAML",
                           options(dir));
  double took = testing::now_seconds() - t0;
  const JobResult& s = job(run, "stubborn");
  EXPECT_EQ(s.state, JobState::kTimedOut);
  EXPECT_EQ(s.message, "timed out after 0.3s");
  EXPECT_EQ(s.signal, SIGKILL);
  EXPECT_NE(read_text(s.log_path).find("got TERM"), std::string::npos);
  const JobResult& p = job(run, "polite");
  EXPECT_EQ(p.state, JobState::kTimedOut);
  EXPECT_EQ(p.exit_code, 7);
  EXPECT_NE(read_text(p.log_path).find("bye\n"), std::string::npos);
  EXPECT_EQ(job(run, "after").message, "skipped because 'stubborn' timed out");
  EXPECT_EQ(run.state, RunState::kFailed);
  EXPECT_LT(took, 3.0);
}

TEST(Run, TimeoutMessageUsesTheUnitWritten) {
  TempDir dir;
  auto wf = testing::parse("jobs: {a: {uses: script@v1, timeout: 90m, with: {script: 'true'}}}");
  ASSERT_EQ(wf.jobs.size(), 1u);
  wf.jobs[0].timeout_seconds = 0.2;  // run fast, but check the text of a real 90m below
  wf.jobs[0].with["script"] = "sleep 5";
  Recorder rec;
  auto run = run_workflow(wf, options(dir), rec);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->jobs[0].message, "timed out after 0.2s");
}

TEST(Run, RetryAfterTimeout) {
  TempDir dir;
  RunResult run = run_yaml(R"YAML(
jobs:
  slow-once:
    uses: script@v1
    timeout: 0.3
    retries: 1
    with:
      script: |
        if [ -e done ]; then exit 0; fi
        touch done
        sleep 5
)YAML",
                           options(dir));
  EXPECT_EQ(job(run, "slow-once").state, JobState::kSucceeded);
  EXPECT_EQ(job(run, "slow-once").attempts, 2);
}

/// Cancels the run once `count` jobs printed "ready".
class Canceller : public Recorder {
 public:
  Canceller(int fd, int count) : fd_(fd), count_(count) {}
  void job_output(const std::string& job, std::string_view line) override {
    Recorder::job_output(job, line);
    if (line == "ready" && --count_ == 0) {
      ssize_t w = ::write(fd_, "x", 1);
      (void)w;
    }
  }

 private:
  int fd_;
  int count_;
};

TEST(Run, CancelTerminatesRunningAndCancelsTheRest) {
  TempDir dir;
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  RunOptions opts = options(dir);
  opts.cancel_fd = p[0];
  opts.max_parallel = 2;
  Canceller rec(p[1], 2);
  double t0 = testing::now_seconds();
  RunResult run = run_yaml(R"YAML(
jobs:
  long:
    uses: script@v1
    with:
      script: |
        trap 'echo terminated; exit 1' TERM
        echo ready
        while true; do sleep 0.05; done
  stubborn:
    uses: script@v1
    with:
      script: |
        trap '' TERM
        echo ready
        while true; do sleep 0.05; done
  queued: {uses: script@v1, with: {script: "true"}}
  after: {needs: long, if: always(), uses: script@v1, with: {script: "true"}}
)YAML",
                           opts, &rec);
  double took = testing::now_seconds() - t0;
  ::close(p[0]);
  ::close(p[1]);
  EXPECT_EQ(run.state, RunState::kCancelled);
  EXPECT_EQ(job(run, "long").state, JobState::kCancelled);
  // bash also reports its sleep being terminated: the whole group got SIGTERM.
  std::string log = read_text(job(run, "long").log_path);
  EXPECT_EQ(log.substr(0, 6), "ready\n");
  EXPECT_NE(log.find("terminated\n"), std::string::npos);
  EXPECT_EQ(job(run, "stubborn").state, JobState::kCancelled);
  EXPECT_EQ(job(run, "stubborn").signal, SIGKILL);
  EXPECT_EQ(job(run, "queued").state, JobState::kCancelled);
  EXPECT_EQ(job(run, "queued").attempts, 0);
  EXPECT_EQ(job(run, "after").state, JobState::kCancelled);
  EXPECT_LT(took, 3.0);
  auto j = nlohmann::json::parse(read_text(run.dir + "/run.json"));
  EXPECT_EQ(j["phase"], "cancelled");
}

/// Creates RUN/cancel (as the dashboard's Cancel button does) once a job printed "ready".
class CancelFile : public Recorder {
 public:
  void run_started(const RunResult& run) override { dir_ = run.dir; }
  void job_output(const std::string& job, std::string_view line) override {
    Recorder::job_output(job, line);
    if (line == "ready") {
      ASSERT_TRUE(write_file(dir_ + "/" + kCancelFile, ""));
    }
  }

 private:
  std::string dir_;
};

TEST(Run, CancelFileFromAnotherProcessCancelsTheRun) {
  TempDir dir;
  CancelFile rec;
  double t0 = testing::now_seconds();
  RunResult run = run_yaml(R"YAML(
jobs:
  long:
    uses: script@v1
    with:
      script: |
        echo ready
        while true; do sleep 0.05; done
  after: {needs: long, uses: script@v1, with: {script: "true"}}
)YAML",
                           options(dir), &rec);
  EXPECT_EQ(run.state, RunState::kCancelled);
  EXPECT_EQ(job(run, "long").state, JobState::kCancelled);
  EXPECT_EQ(job(run, "after").state, JobState::kCancelled);
  EXPECT_LT(testing::now_seconds() - t0, 4.0);
}

TEST(Run, InvocationRecordsTheWorkflowFileAndInputs) {
  TempDir dir;
  RunOptions opts = options(dir);
  opts.inputs = {{"rows", "10"}};
  RunResult run = run_yaml(R"YAML(
inputs:
  rows: {type: string}
jobs:
  a: {uses: script@v1, with: {script: "true"}}
)YAML",
                           opts);
  auto j = nlohmann::json::parse(read_text(run.dir + "/invocation.json"));
  EXPECT_EQ(j["inputs"]["rows"], "10");
  EXPECT_EQ(j["workflow_file"].get<std::string>().front(), '/');
}

// A cancel ends every job that has not started the same way, whether it was ready (held back
// by -j) or still waiting for its needs; before, the dependents of the ready ones came out
// "skipped".
TEST(Run, CancelRecordsEveryJobThatNeverStartedTheSameWay) {
  TempDir dir;
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  RunOptions opts = options(dir);
  opts.cancel_fd = p[0];
  opts.max_parallel = 1;
  Canceller rec(p[1], 1);
  RunResult run = run_yaml(R"YAML(
jobs:
  first:
    uses: script@v1
    with: {script: "echo ready; sleep 30"}
  second: {uses: script@v1, with: {script: "true"}}
  third: {needs: second, uses: script@v1, with: {script: "true"}}
  fourth: {needs: [first, third], uses: script@v1, with: {script: "true"}}
  fifth: {needs: fourth, if: always(), uses: script@v1, with: {script: "true"}}
)YAML",
                           opts, &rec);
  ::close(p[0]);
  ::close(p[1]);
  EXPECT_EQ(run.state, RunState::kCancelled);
  EXPECT_EQ(job(run, "first").state, JobState::kCancelled);
  EXPECT_EQ(job(run, "first").message, "cancelled");
  for (const char* name : {"second", "third", "fourth", "fifth"}) {
    EXPECT_EQ(job(run, name).state, JobState::kCancelled) << name;
    EXPECT_EQ(job(run, name).message, "cancelled before it started") << name;
    EXPECT_EQ(job(run, name).attempts, 0) << name;
  }
}

// The second cancel (a second Ctrl-C) kills at once, without the grace period.
TEST(Run, SecondCancelKillsAtOnce) {
  TempDir dir;
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  RunOptions opts = options(dir);
  opts.cancel_fd = p[0];
  opts.kill_grace_seconds = 60;
  // One cancel when the job is ready, the second once it has shrugged off the SIGTERM.
  class TwiceCanceller : public Recorder {
   public:
    explicit TwiceCanceller(int fd) : fd_(fd) {}
    void job_output(const std::string& job, std::string_view line) override {
      if (line == "ready" || line == "ignoring TERM") (void)!::write(fd_, "x", 1);
    }

   private:
    int fd_;
  } rec(p[1]);
  double t0 = testing::now_seconds();
  RunResult run = run_yaml(R"YAML(
jobs:
  stubborn:
    uses: script@v1
    with:
      script: |
        trap 'echo ignoring TERM' TERM
        echo ready
        # Its sleep dies of the TERM too: `set -e` must not end the script there.
        while true; do sleep 0.05 || true; done
)YAML",
                           opts, &rec);
  double took = testing::now_seconds() - t0;
  EXPECT_EQ(job(run, "stubborn").state, JobState::kCancelled);
  EXPECT_EQ(job(run, "stubborn").signal, SIGKILL);
  EXPECT_LT(took, 10.0);
  ::close(p[0]);
  ::close(p[1]);
}

TEST(Run, EnvironmentIsExplicit) {
  TempDir dir;
  ::setenv("WFRUN_TEST_NOT_PASSED", "leak", 1);
  ::setenv("LC_WFRUN_TEST", "passed", 1);
  RunOptions opts = options(dir);
  opts.secrets = {{"tok", "s3cr3t-value"}};
  RunResult run = run_yaml(R"YAML(
defaults:
  env: {SHARED: shared}
jobs:
  a:
    uses: script@v1
    env: {MINE: "mine-${{ run.number }}", TOKEN: secret:tok}
    with:
      script: |
        echo "[$WFRUN_TEST_NOT_PASSED][$LC_WFRUN_TEST][$SHARED][$MINE]"
        echo "[$WFRUN_RUN_ID][$WFRUN_RUN_NUMBER][$WFRUN_JOB]"
        echo "[$WFRUN_INPUTS][$WFRUN_OUTPUTS]"
        test -n "$PATH" && test -n "$HOME" && pwd
        test "$TOKEN" = s3cr3t-value && echo token ok
  b:
    uses: script@v1
    with: {script: 'echo "[$TOKEN]"'}
)YAML",
                           opts);
  ::unsetenv("WFRUN_TEST_NOT_PASSED");
  ::unsetenv("LC_WFRUN_TEST");
  EXPECT_EQ(run.state, RunState::kSucceeded);
  std::string log = read_text(job(run, "a").log_path);
  EXPECT_NE(log.find("[][passed][shared][mine-1]\n"), std::string::npos) << log;
  EXPECT_NE(log.find("[1][1][a]\n"), std::string::npos) << log;
  EXPECT_NE(log.find("[" + run.dir + "/jobs/a/inputs][" + run.dir + "/jobs/a/outputs]"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(dir.path()), std::string::npos);  // cwd = the workflow's folder
  EXPECT_NE(log.find("token ok"), std::string::npos);
  EXPECT_EQ(read_text(job(run, "b").log_path), "[]\n");  // only jobs that ask get a secret
}

TEST(Run, OptionsEnvReachesEveryJobUnderItsOwnEnv) {
  TempDir dir;
  RunOptions opts = options(dir);
  opts.env = {{"WFRUN_GIT_SHA", "abc123"}, {"SHARED", "from-options"}};
  RunResult run = run_yaml(R"YAML(
jobs:
  a:
    uses: script@v1
    with: {script: 'echo "[$WFRUN_GIT_SHA][$SHARED]"'}
  b:
    uses: script@v1
    env: {SHARED: mine}
    with: {script: 'echo "[$WFRUN_GIT_SHA][$SHARED][${{ env.WFRUN_GIT_SHA }}]"'}
)YAML",
                           opts);
  EXPECT_EQ(run.state, RunState::kSucceeded) << job(run, "b").message;
  EXPECT_EQ(read_text(job(run, "a").log_path), "[abc123][from-options]\n");
  // The job's own value wins; `with` sees the variable too.
  EXPECT_EQ(read_text(job(run, "b").log_path), "[abc123][mine][abc123]\n");
}

TEST(Run, Interpolation) {
  TempDir dir;
  RunOptions opts = options(dir);
  opts.inputs = {{"greeting", "hello"}};
  opts.event = nlohmann::json::parse(R"JSON({
    "ref": "refs/heads/main", "after": "abc123",
    "repository": {"full_name": "acme/proj", "clone_url": "https://github.com/acme/proj.git"},
    "head_commit": {"message": "fix it"}})JSON");
  RunResult run = run_yaml(R"YAML(
inputs:
  greeting: {type: string}
jobs:
  a:
    uses: script@v1
    outputs: {word: {type: string}}
    with: {script: "echo world > /outputs/word"}
  b:
    needs: a
    uses: script@v1
    env:
      URL: context.event.github.url
      MSG: ${{ github.event.head_commit.message }}
    with:
      script: |
        echo "${{ inputs.greeting }} ${{ jobs.a.outputs.word }} ${{ run.number }}"
        echo "${{ github.sha }} ${{ github.ref }} ${{ github.repository }}"
        echo "$URL | $MSG | ${{ env.MSG }}"
        echo '$${{ literal }}'
)YAML",
                           opts);
  EXPECT_EQ(run.state, RunState::kSucceeded) << job(run, "b").message;
  EXPECT_EQ(read_text(job(run, "b").log_path),
            "hello world 1\nabc123 refs/heads/main acme/proj\n"
            "https://github.com/acme/proj.git | fix it | fix it\n${{ literal }}\n");
}

TEST(Run, GithubContextFromTheGitCheckout) {
  TempDir dir;
  std::string repo = dir / "repo";
  std::string setup = "git init -q -b trunk " + repo + " && cd " + repo +
                      " && git -c user.name=t -c user.email=t@e commit -q --allow-empty -m x && "
                      "git remote add origin https://example.com/acme/widgets.git";
  ASSERT_EQ(std::system(setup.c_str()), 0);
  RunOptions opts = options(dir);
  opts.workflow_dir = repo;
  RunResult run = run_yaml(R"YAML(
jobs:
  a:
    uses: script@v1
    with:
      script: echo "${{ github.ref }} ${{ github.repository }} $URL $REF ${#SHA}"
    env: {URL: context.event.github.url, REF: context.event.github.ref, SHA: "${{ github.sha }}"}
)YAML",
                           opts);
  EXPECT_EQ(
      read_text(job(run, "a").log_path),
      "refs/heads/trunk acme/widgets https://example.com/acme/widgets.git refs/heads/trunk 40\n");
}

TEST(Context, PullRequestEvent) {
  GithubInfo gh(nlohmann::json::parse(R"JSON({
    "number": 7,
    "pull_request": {"number": 7, "head": {"sha": "feedbeef", "ref": "topic"}},
    "repository": {"full_name": "acme/proj", "html_url": "https://github.com/acme/proj"}})JSON"),
                "");
  EXPECT_EQ(gh.lookup("sha"), "feedbeef");
  EXPECT_EQ(gh.lookup("ref"), "refs/pull/7/merge");
  EXPECT_EQ(gh.lookup("repository"), "acme/proj");
  EXPECT_EQ(gh.lookup("event.pull_request.head.ref"), "topic");
  EXPECT_EQ(gh.lookup("event.pull_request.number"), "7");
  EXPECT_FALSE(gh.lookup("event.nope"));
  EXPECT_EQ(gh.url(), "https://github.com/acme/proj");
  EXPECT_EQ(gh.checkout_ref(), "feedbeef");  // a PR's merge ref is GitHub's; check out the head
}

TEST(Context, UnknownValueFailsTheJob) {
  TempDir dir;
  RunResult run = run_yaml(R"YAML(
jobs:
  a: {uses: script@v1, with: {script: "echo ${{ github.sha }}"}}
)YAML",
                           options(dir));  // no event, and the folder is not a git checkout
  EXPECT_EQ(job(run, "a").state, JobState::kFailed);
  EXPECT_EQ(job(run, "a").message, "jobs.a.with.script: unknown value '${{ github.sha }}'");
  EXPECT_EQ(read_text(job(run, "a").log_path),
            "wfrun: jobs.a.with.script: unknown value '${{ github.sha }}'\n");
}

TEST(Actions, SimpleCommandsSkipTheShell) {
  EXPECT_EQ(simple_command("true", "/usr/bin:/bin"), (std::vector<std::string>{"true"}));
  EXPECT_EQ(simple_command("  echo a-b c=d\n", "/usr/bin:/bin"),
            (std::vector<std::string>{"echo", "a-b", "c=d"}));
  for (const char* shell : {"echo $HOME", "a && b", "echo 'x'", "X=1 env", "cd /tmp", "exit 3",
                            "echo *", "true\nfalse", "ls ~", "echo a # b", "no-such-cmd-wfrun"})
    EXPECT_FALSE(simple_command(shell, "/usr/bin:/bin")) << shell;
}

TEST(Plan, LinesInStartOrder) {
  TempDir dir;
  auto wf = testing::parse(R"YAML(
jobs:
  train:
    needs: [prepare, fetch]
    uses: script@v1
    with: {image: "pytorch:latest", script: python train.py}
  prepare: {uses: script@v1, with: {script: "true"}}
  fetch: {uses: container@v1, with: {image: busybox}}
)YAML");
  RunOptions opts = options(dir);
  opts.container_runtime = "sh";  // any program on PATH
  auto plan = plan_run(wf, opts);
  ASSERT_TRUE(plan) << plan.error().str();
  EXPECT_EQ(*plan, (std::vector<std::string>{
                       "1. prepare (script@v1)", "2. fetch (container@v1, image busybox)",
                       "3. train (script@v1, needs prepare, fetch, image pytorch:latest)"}));
}

TEST(Plan, NoContainerRuntime) {
  TempDir dir;
  auto wf = testing::parse(R"YAML(
jobs:
  a: {uses: script@v1, with: {image: x, script: "true"}}
  b: {uses: container@v1, with: {image: y}}
  c: {uses: script@v1, with: {script: "true"}}
)YAML");
  RunOptions opts = options(dir);
  opts.container_runtime = "wfrun-no-such-runtime --flag";
  auto plan = plan_run(wf, opts);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().str(),
            "no container runtime found (install podman or docker, or pass "
            "--container-runtime): jobs 'a', 'b' need one");
  Recorder rec;
  auto run = run_workflow(wf, opts, rec);
  ASSERT_FALSE(run);
  EXPECT_TRUE(rec.events.empty());  // nothing ran
}

TEST(Plan, MissingSecretInputAndDataset) {
  TempDir dir;
  RunOptions opts = options(dir);
  auto wf = testing::parse(R"YAML(
jobs:
  a: {uses: script@v1, env: {T: "secret:token"}, with: {script: "true"}}
)YAML");
  auto plan = plan_run(wf, opts);
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().str().find("unknown secret 'token'"), std::string::npos)
      << plan.error().str();

  wf = testing::parse(R"YAML(
inputs:
  n: {type: string}
jobs:
  a: {uses: script@v1, inputs: {n: workflow.inputs.n}, with: {script: "true"}}
)YAML");
  plan = plan_run(wf, opts);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().str(), "test.yaml:3:3: input 'n' has no value; pass --input n=VALUE");
  opts.inputs = {{"m", "1"}};
  plan = plan_run(wf, opts);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().str(), "unknown input 'm'; the workflow's inputs are 'n'");

  opts.inputs.clear();
  wf = testing::parse(R"YAML(
jobs:
  a:
    uses: script@v1
    inputs: {d: {type: dataset, with: {ref: "nope:2"}}}
    with: {script: "true"}
)YAML");
  plan = plan_run(wf, opts);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().message(), "dataset 'nope:2' not found in " + dir / "state" + "/datasets");
}

}  // namespace
}  // namespace wfrun::engine
