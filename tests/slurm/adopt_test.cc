// ci-runs-inside: SlurmCluster.* (tests/slurm/CMakeLists.txt: one cluster per gtest process)
// A wfrun killed with -9 leaves its jobs running in Slurm. The wfrun that takes the run over
// (`wfrun run --resume RUN`, the server's requeue) hands each attempt the dead one had started
// to its executor's adopt(); the Slurm executor must find the job (by its id file, or in the
// queue by the attempt's own folder when the id was never written) and follow it to its end
// instead of submitting it again. Here the dead wfrun is the real binary killed mid-job, and
// the executor is driven in this process the way the run loop drives it.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/fd.h"
#include "engine/output.h"
#include "engine/paths.h"
#include "engine/run.h"
#include "engine/run_setup.h"
#include "engine/slurm/slurm_executor.h"
#include "tests/serve/serve_process.h"
#include "tests/slurm/cluster.h"
#include "workflows/executor_settings.h"

namespace wfrun::slurmtest {
namespace {

struct Lines : engine::RunObserver {
  std::vector<std::string> lines, warnings;
  void job_output(const std::string& job, std::string_view line) override {
    lines.push_back(job + " | " + std::string(line));
  }
  void warning(std::string_view message) override { warnings.emplace_back(message); }
  bool has(const std::string& line) const {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  }
};

// Drives the executor as the run loop does (its fds, its next timer, step) until an attempt
// ends or `seconds` pass.
std::vector<engine::AttemptEnd> run_until_end(engine::Executor& ex, double seconds) {
  using Clock = engine::Executor::Clock;
  auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(seconds));
  std::vector<engine::AttemptEnd> ended;
  while (ended.empty() && Clock::now() < until) {
    std::vector<pollfd> fds;
    ex.poll_fds(fds);
    auto wake = std::min(ex.next_wakeup(), until);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now()).count();
    ::poll(fds.data(), fds.size(), static_cast<int>(std::clamp<long long>(ms + 1, 0, 1000)));
    ex.step(fds.data(), fds.size(), ended);
  }
  return ended;
}

TEST_F(SlurmTest, KilledWfrunsJobIsFollowedNotSubmittedAgain) {
  fs::path go = dir_ / "go";
  pid_t pid = spawn("run --executor slurm " +
                    file("adopted.yaml",
                         "jobs:\n  adopted:\n    uses: script@v1\n    with:\n      script: |\n"
                         "        echo before\n"
                         "        while [ ! -e " + go.string() + " ]; do sleep 0.1; done\n"
                         "        echo after; exit 3\n")
                        .string());
  ASSERT_TRUE(wait_for([&] { return fs::exists(attempt_dir("adopted") / "started"); }))
      << slurp(out_path()) << slurp(err_path());
  ::kill(pid, SIGKILL);
  EXPECT_EQ(wait(pid), 128 + SIGKILL);
  long long id = slurm_id("adopted");
  ASSERT_GT(id, 0);
  ASSERT_EQ(sh("squeue -h -j " + std::to_string(id) + " -o %T"), "RUNNING\n")
      << "the job must outlive the wfrun that submitted it";
  // As if wfrun had been killed between sbatch's answer and writing the id: only the job's
  // folder (its --chdir, one per attempt) is left to find it by.
  fs::remove(attempt_dir("adopted") / "slurm_id");

  Lines observer;
  engine::RunOptions opts;
  opts.state_dir = state_.string();
  engine::RunSetup setup;
  setup.opts = &opts;
  setup.observer = &observer;
  setup.env = engine::HostEnv::current();
  // The run that takes over is a new one (run 2, as `wfrun run --resume 1` makes it); the
  // attempt it adopts is run 1's, in run 1's folder.
  engine::RunResult run;
  run.id = 2;
  run.dir = (state_ / "runs/2").string();
  std::string dead_run = (state_ / "runs/1").string();
  workflows::SlurmSettings settings;
  settings.probe = false;
  auto ex = slurm::make_slurm_executor(setup, run, nullptr, settings);

  // The job's log in run 2, as the run loop opens it for the attempt.
  fs::path new_log = state_ / "runs/2/jobs/adopted/log";
  fs::create_directories(new_log.parent_path());
  UniqueFd log_fd(::open(new_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  ASSERT_TRUE(log_fd);
  engine::OutputSink sink(log_fd.get(), nullptr,
                          [&](std::string_view l) { observer.job_output("adopted", l); });
  // What the resuming run loop hands adopt(): the job, the attempt, its folders and output.
  auto attempt = [&](int n) {
    engine::AttemptSpec spec;
    spec.attempt = n;
    spec.name = "adopted";
    spec.dirs = engine::job_dirs(dead_run, "adopted");
    spec.output = &sink;
    return spec;
  };
  // Attempt 2 was never started by the dead wfrun: nothing to adopt, a new one is submitted.
  engine::AttemptSpec never = attempt(2);
  EXPECT_FALSE(ex->adopt(never));

  engine::AttemptSpec spec = attempt(1);
  ASSERT_TRUE(ex->adopt(spec));
  EXPECT_EQ(slurm_id("adopted"), id) << "found in the queue, its id is written again";
  EXPECT_EQ(ex->active(), 1u);

  write_file(go, "");
  auto ended = run_until_end(*ex, 60);
  ex->finish();
  ASSERT_EQ(ended.size(), 1u) << "the adopted job's end was never seen";
  EXPECT_EQ(ended[0].reason, engine::AttemptEnd::Reason::kExited) << ended[0].message;
  EXPECT_EQ(ended[0].status.code, 3);
  EXPECT_TRUE(observer.has("adopted | after")) << "its output is followed live";
  // Run 2's log of the job holds all of it, also what it printed before the takeover.
  sink.finish();
  EXPECT_EQ(slurp(new_log), "before\nafter\n");
  // Exactly one Slurm job ever had this attempt's name, and no job of run 2 reached Slurm: it
  // was not submitted again.
  EXPECT_EQ(sh("squeue -h -t all --name=wfrun-1-adopted-1 -o %i"), std::to_string(id) + "\n");
  EXPECT_EQ(sh("squeue -h -t all -o %j | grep -c '^wfrun-1-adopted-'"), "1\n");
  EXPECT_EQ(sh("squeue -h -t all -o %j | grep -c '^wfrun-2-'"), "0\n");
}

// The same through the command line, end to end: `wfrun run --resume 1` after a kill -9 takes
// the finished job as it was, follows the one still in Slurm, and runs the rest; every job
// reached Slurm exactly once. (After the test above: it counts run 2's jobs.)
TEST_F(SlurmTest, ResumeFollowsTheJobStillInSlurmAndSubmitsNothingTwice) {
  fs::path go = dir_ / "go";
  fs::path wf = file("resume.yaml", R"Y(jobs:
  r_first:
    uses: script@v1
    outputs: {n: {type: string}}
    with: {script: "echo one > /outputs/n"}
  r_long:
    needs: r_first
    uses: script@v1
    inputs: {n: r_first.outputs.n}
    outputs: {m: {type: string}}
    with:
      script: |
        echo "before $(cat /inputs/n)"
        while [ ! -e )Y" + go.string() + R"Y( ]; do sleep 0.1; done
        echo after
        echo two > /outputs/m
  r_last:
    needs: r_long
    uses: script@v1
    inputs: {m: r_long.outputs.m}
    with: {script: "echo last $(cat /inputs/m)"}
)Y");
  pid_t pid = spawn("run --executor slurm " + wf.string());
  ASSERT_TRUE(wait_for([&] { return fs::exists(attempt_dir("r_long") / "started"); }))
      << slurp(out_path()) << slurp(err_path());
  ::kill(pid, SIGKILL);
  EXPECT_EQ(wait(pid), 128 + SIGKILL);
  const long long id = slurm_id("r_long");
  ASSERT_GT(id, 0);
  ASSERT_EQ(sh("squeue -h -j " + std::to_string(id) + " -o %T"), "RUNNING\n");

  pid = spawn("run --resume 1");
  // The resumed run follows the job: what it printed so far reaches the new run's log, and the
  // job goes on where it was.
  ASSERT_TRUE(wait_for([&] {
    return slurp(state_ / "runs/2/jobs/r_long/log").find("before one") != std::string::npos;
  })) << slurp(out_path()) << slurp(err_path());
  write_file(go, "");
  ASSERT_EQ(wait(pid), 0) << slurp(out_path()) << slurp(err_path());
  const std::string out = slurp(out_path()), err = slurp(err_path());
  EXPECT_NE(err.find("resuming run 1: reusing r_first"), std::string::npos) << err;
  EXPECT_NE(err.find("--executor slurm, as run 1 had"), std::string::npos) << err;
  EXPECT_NE(out.find("| wfrun: following attempt 1, which run 1 started and is still there"),
            std::string::npos) << out;
  EXPECT_NE(out.find("| after"), std::string::npos) << out;
  EXPECT_NE(out.find("| last two"), std::string::npos) << out;
  // One Slurm job per job: r_first and r_long from run 1, r_last from run 2.
  const std::string names = sh("squeue -h -t all -o %j | grep -- '-r_' | sort");
  EXPECT_EQ(names, "wfrun-1-r_first-1\nwfrun-1-r_long-1\nwfrun-2-r_last-1\n");
  auto run2 = nlohmann::json::parse(wfrun("show 2 --json").out, nullptr, false);
  ASSERT_TRUE(run2.is_object()) << run2;
  EXPECT_EQ(run2["phase"], "succeeded") << run2.dump(2);
  for (const auto& j : run2["jobs"]) {
    EXPECT_EQ(j["phase"], "succeeded") << j.dump(2);
    if (j["name"] == "r_long") {
      EXPECT_EQ(j["attempts"], 1) << j.dump(2);
    }
  }
  // The new run's log of the job holds all of it.
  EXPECT_EQ(slurp(state_ / "runs/2/jobs/r_long/log"),
            "wfrun: following attempt 1, which run 1 started and is still there\nbefore one\nafter\n");
}

// A job that changed since the run a kill -9 ended is not followed but run again, as it is now:
// its old attempt, still in Slurm, is cancelled first, so that the two never run side by side.
TEST_F(SlurmTest, ResumeCancelsTheAttemptOfAJobThatChanged) {
  const fs::path go = dir_ / "go";
  const std::string body = "    uses: script@v1\n    with:\n      script: |\n";
  const fs::path wf = file("changed.yaml", "jobs:\n  c_long:\n" + body + "        echo before\n"
                           "        while [ ! -e " + go.string() + " ]; do sleep 0.1; done\n"
                           "        echo after\n");
  pid_t pid = spawn("run --executor slurm " + wf.string());
  ASSERT_TRUE(wait_for([&] { return fs::exists(attempt_dir("c_long") / "started"); }))
      << slurp(out_path()) << slurp(err_path());
  ::kill(pid, SIGKILL);
  EXPECT_EQ(wait(pid), 128 + SIGKILL);
  const long long id = slurm_id("c_long");
  ASSERT_GT(id, 0);
  ASSERT_EQ(sh("squeue -h -j " + std::to_string(id) + " -o %T"), "RUNNING\n");

  file("changed.yaml", "jobs:\n  c_long:\n" + body + "        echo changed\n");
  auto r = wfrun("run --resume 1");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("job 'c_long' changed since run 1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("wfrun: job 'c_long': its attempt 1 (Slurm job " + std::to_string(id) +
                       ") is not followed by the resumed run, so it was cancelled (scancel)"),
            std::string::npos) << r.err;
  EXPECT_NE(r.out.find("| changed"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("following attempt"), std::string::npos) << r.out;
  EXPECT_TRUE(wait_for([&] { return sh("squeue -h -t all -j " + std::to_string(id) + " -o %T") == "CANCELLED\n"; }))
      << sh("squeue -h -t all -j " + std::to_string(id) + " -o %T");
  write_file(go, "");  // too late: the old attempt never prints "after"
  EXPECT_EQ(slurp(attempt_dir("c_long") / "../log").find("after"), std::string::npos);
  EXPECT_EQ(sh("squeue -h -t all -o %j | grep -- '-c_long-' | sort"),
            "wfrun-1-c_long-1\nwfrun-2-c_long-1\n");
}

// wfrun serve killed with -9 while a run's job is in Slurm, then started again: the run is
// queued again, and the serve-run that takes it over resumes the interrupted run, following
// the job still in Slurm instead of submitting it twice.
TEST_F(SlurmTest, ServersRequeueFollowsTheJobStillInSlurm) {
  const fs::path go = dir_ / "go", bare = dir_ / "ml.git", work = dir_ / "work";
  const std::string wf = R"Y(jobs:
  s_first:
    uses: script@v1
    with: {script: "echo first"}
  s_long:
    needs: s_first
    uses: script@v1
    with:
      script: |
        echo before
        while [ ! -e )Y" + go.string() + R"Y( ]; do sleep 0.1; done
        echo after
  s_last:
    needs: s_long
    uses: script@v1
    with: {script: "echo last"}
)Y";
  const std::string git = "git -c user.name=t -c user.email=t@x ";
  ASSERT_EQ(std::system(("git init -q --bare -b main '" + bare.string() + "' && git init -q -b main '" +
                         work.string() + "'").c_str()), 0);
  write_file(work / ".wfrun/workflows/w.yaml", wf);
  ASSERT_EQ(std::system(("cd '" + work.string() + "' && " + git + "add . && " + git +
                         "commit -qm w && " + git + "push -q '" + bare.string() + "' main").c_str()), 0);
  write_file(dir_ / "hook", "webhook-secret\n");
  write_file(dir_ / "api", "api-token\n");
  write_file(dir_ / "server.yaml", "listen: 127.0.0.1:0\nwebhook: {secret-file: hook}\n"
                                   "api: {tokens-file: api}\nstate-dir: " + state_.string() +
                                   "\nexecutor: {kind: slurm}\nrepositories:\n  - repo: acme/ml\n"
                                   "    clone-url: file://" + bare.string() + "\n");
  ::setenv("SLURM_CONF", Cluster::get().conf().c_str(), 1);  // serve passes it to serve-run
  pid_t server = 0;
  int port = 0;
  ASSERT_TRUE(serve::testing::start_serve(dir_, server, port)) << slurp(dir_ / "server.log");
  const std::string api = "curl -s -H 'Authorization: Bearer api-token' http://127.0.0.1:";
  const std::string started = sh(api + std::to_string(port) + "/api/runs -H 'Content-Type: application/json' "
                                 "-d '{\"repo\":\"acme/ml\",\"ref\":\"main\",\"workflow\":\".wfrun/workflows/w.yaml\"}'");
  ASSERT_NE(started.find("\"runs\":[1]"), std::string::npos) << started;
  const fs::path attempt = state_ / "runs/1/jobs/s_long/slurm-1";
  const fs::path run_log = state_ / "serve/runs/1/log";
  ASSERT_TRUE(wait_for([&] { return fs::exists(attempt / "started"); }))
      << slurp(dir_ / "server.log") << slurp(run_log);
  ::kill(server, SIGKILL);
  ::waitpid(server, nullptr, 0);

  ASSERT_TRUE(serve::testing::start_serve(dir_, server, port)) << slurp(dir_ / "server.log");
  // The new serve-run follows the job (run 2 is the resumed engine run) before it may end.
  ASSERT_TRUE(wait_for([&] { return fs::exists(state_ / "runs/2/jobs/s_long/log"); }))
      << slurp(dir_ / "server.log");
  write_file(go, "");
  std::string run;
  ASSERT_TRUE(wait_for([&] {
    run = sh(api + std::to_string(port) + "/api/runs/1");
    for (const char* end : {"success", "failure", "error", "cancelled"})
      if (run.find("\"status\":\"" + std::string(end) + "\"") != std::string::npos) return true;
    return false;
  })) << run << slurp(dir_ / "server.log") << slurp(run_log);
  ::kill(server, SIGTERM);
  ::waitpid(server, nullptr, 0);
  EXPECT_NE(run.find("\"status\":\"success\""), std::string::npos) << run << slurp(run_log);
  EXPECT_NE(run.find("\"interruptions\":1"), std::string::npos) << run;
  // s_first and s_long went to Slurm once, in run 1; s_last once, in run 2.
  EXPECT_EQ(sh("squeue -h -t all -o %j | grep -- '-s_' | sort"),
            "wfrun-1-s_first-1\nwfrun-1-s_long-1\nwfrun-2-s_last-1\n");
  EXPECT_EQ(slurp(state_ / "runs/2/jobs/s_long/log"),
            "wfrun: following attempt 1, which run 1 started and is still there\nbefore\nafter\n");
}

}  // namespace
}  // namespace wfrun::slurmtest
