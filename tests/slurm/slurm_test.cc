// ci-runs-inside: SlurmCluster.* (tests/slurm/CMakeLists.txt: one cluster per gtest process)
// `wfrun run --executor slurm` against a real Slurm (tests/slurm/slurm.sh): the binary end to
// end, as a user runs it, with the cluster's own commands to check what Slurm saw.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/slurm/cluster.h"

namespace wfrun::slurmtest {
namespace {

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

// Whether the terminal output has the line `JOB | text` (job names are padded to one width).
bool said(const std::string& out, const std::string& job, const std::string& text) {
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, job.size(), job) != 0) continue;
    size_t bar = line.find(" | ", job.size());
    if (bar == std::string::npos || line.find_first_not_of(' ', job.size()) != bar + 1) continue;
    if (line.compare(bar + 3, text.size(), text) == 0) return true;
  }
  return false;
}

// The examples' DAG (volumes, string outputs, a secret, a dataset) through Slurm gives what it
// gives locally, each job one sbatch named wfrun-RUN-JOB-ATTEMPT.
TEST_F(SlurmTest, ExampleDagRunsThroughSlurm) {
  fs::path wf = fs::path(WFRUN_SOURCE_DIR) / "examples/dag/workflow.yaml";
  auto o = wfrun("run --executor slurm '" + wf.string() + "' --input rows=100",
                 "WFRUN_SECRET_api_token=tok-9876");
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_TRUE(contains(o.out, "| 100 | 5050 | 50.50 | 833.25 |")) << o.out;
  EXPECT_TRUE(said(o.out, "prepare", "prepared 100 numbers")) << o.out;
  EXPECT_TRUE(contains(o.out, "uploading with token ***")) << o.out;
  EXPECT_FALSE(contains(o.out, "tok-9876"));
  for (const char* job : {"prepare", "stats", "squares", "report"}) {
    long long id = slurm_id(job);
    ASSERT_GT(id, 0) << job;
    std::string rec = scontrol(id);
    EXPECT_TRUE(contains(rec, std::string("JobName=wfrun-1-") + job + "-1")) << rec;
    EXPECT_TRUE(contains(rec, "JobState=COMPLETED")) << rec;
  }
  EXPECT_TRUE(fs::exists(state_ / "datasets/dag-report/1/report.md"));
  // No secret file is left behind.
  EXPECT_FALSE(fs::exists(attempt_dir("report") / "secrets.json"));
}

// Slurm assigns the GPUs: the job sees the CUDA_VISIBLE_DEVICES Slurm set, two one-GPU jobs
// run at once on the two GPUs, and the third waits for one of them. The machine that submits
// has no GPU at all: wfrun must not check the requests against it.
TEST_F(SlurmTest, GpusComeFromSlurm) {
  std::string jobs = "jobs:\n";
  for (const char* j : {"g1", "g2", "g3"})
    jobs += std::string("  ") + j + ":\n    uses: script@v1\n    resources: {gpus: 1}\n" +
            "    with:\n      script: |\n        echo \"start $(date +%s.%N) cvd=$CUDA_VISIBLE_DEVICES\"\n" +
            "        sleep 3\n        echo \"end $(date +%s.%N)\"\n";
  jobs += "  cpu:\n    uses: script@v1\n    with: {script: 'echo \"cvd=[$CUDA_VISIBLE_DEVICES]\"'}\n";
  auto o = wfrun("run --executor slurm " + file("gpus.yaml", jobs).string());
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  struct Span {
    double start = 0, end = 0;
    std::string cvd;
  };
  std::vector<Span> spans;
  for (const char* j : {"g1", "g2", "g3"}) {
    std::string log = slurp(state_ / "runs/1/jobs" / j / "log");
    Span s;
    std::istringstream in(log);
    for (std::string w; in >> w;) {
      if (w == "start") in >> s.start;
      if (w == "end") in >> s.end;
      if (w.rfind("cvd=", 0) == 0) s.cvd = w.substr(4);
    }
    EXPECT_TRUE(s.cvd == "0" || s.cvd == "1") << j << ": " << log;
    spans.push_back(s);
    EXPECT_TRUE(contains(scontrol(slurm_id(j)), "gres:gpu:1")) << scontrol(slurm_id(j));
  }
  // Exactly two overlap; the third started after one of them ended.
  int overlaps = 0;
  for (size_t a = 0; a < 3; ++a)
    for (size_t b = a + 1; b < 3; ++b)
      if (spans[a].start < spans[b].end && spans[b].start < spans[a].end) {
        ++overlaps;
        EXPECT_NE(spans[a].cvd, spans[b].cvd) << "two jobs on one GPU at once";
      }
  EXPECT_EQ(overlaps, 1) << o.out;
  EXPECT_TRUE(said(o.out, "cpu", "cvd=[]")) << o.out;
}

TEST_F(SlurmTest, FailingJobKeepsItsExitCodeAndLog) {
  auto o = wfrun("run --executor slurm " +
                 file("fail.yaml",
                      "jobs:\n  bad:\n    uses: script@v1\n    with:\n      script: |\n"
                      "        echo before the failure\n        exit 3\n  after:\n"
                      "    needs: bad\n    uses: script@v1\n    with: {script: echo never}\n")
                     .string());
  EXPECT_EQ(o.code, 1) << o.out << o.err;
  EXPECT_TRUE(said(o.out, "bad", "before the failure")) << o.out;
  EXPECT_TRUE(contains(o.out, "exit code 3")) << o.out;
  EXPECT_EQ(slurp(state_ / "runs/1/jobs/bad/log"), "before the failure\n");
  EXPECT_FALSE(contains(o.out, "never"));
  EXPECT_TRUE(contains(scontrol(slurm_id("bad")), "ExitCode=3:0")) << scontrol(slurm_id("bad"));
}

// `timeout:` stops the job (wfrun's own timer, from the moment it runs) and is Slurm's --time
// too, with room for the kill grace, so that Slurm stops it if wfrun is gone.
TEST_F(SlurmTest, TimeoutStopsTheJobAndSetsTheTimeLimit) {
  auto t0 = std::chrono::steady_clock::now();
  auto o = wfrun("run --executor slurm " +
                 file("slow.yaml",
                      "jobs:\n  slow:\n    uses: script@v1\n    timeout: 2s\n"
                      "    with: {script: 'echo started; sleep 300'}\n")
                     .string());
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(o.code, 1) << o.out << o.err;
  EXPECT_TRUE(contains(o.out, "timed out after 2s")) << o.out;
  EXPECT_TRUE(said(o.out, "slow", "started")) << o.out;
  EXPECT_LT(took, 60) << "the timeout did not stop the job";
  std::string rec = scontrol(slurm_id("slow"));
  EXPECT_TRUE(contains(rec, "TimeLimit=00:02:00")) << rec;  // 2s + 5s grace + 60s, in minutes
  EXPECT_TRUE(contains(rec, "JobState=CANCELLED")) << rec;
}

// Ctrl-C (SIGINT) cancels every job of the run in Slurm, running or still queued, and kills
// their processes on the node.
TEST_F(SlurmTest, InterruptCancelsEveryJob) {
  std::string wf =
      "jobs:\n"
      "  a: {uses: script@v1, with: {script: 'sleep 4242'}}\n"
      "  b: {uses: script@v1, with: {script: 'sleep 4243'}}\n"
      "  c: {uses: script@v1, resources: {gpus: 2}, with: {script: 'sleep 4244'}}\n"
      "  d: {uses: script@v1, resources: {gpus: 2}, with: {script: 'sleep 4245'}}\n";
  pid_t pid = spawn("run --executor slurm " + file("long.yaml", wf).string());
  // a, b and one of c/d run; the other waits in Slurm's queue for the GPUs.
  ASSERT_TRUE(wait_for([&] {
    return fs::exists(attempt_dir("a") / "started") && fs::exists(attempt_dir("b") / "started") &&
           slurm_id("c") > 0 && slurm_id("d") > 0 &&
           (fs::exists(attempt_dir("c") / "started") || fs::exists(attempt_dir("d") / "started"));
  })) << slurp(out_path()) << slurp(err_path());
  ::kill(pid, SIGINT);
  int code = wait(pid);
  EXPECT_EQ(code, 130) << slurp(out_path()) << slurp(err_path());
  for (const char* j : {"a", "b", "c", "d"}) {
    std::string rec = scontrol(slurm_id(j));
    EXPECT_TRUE(contains(rec, "JobState=CANCELLED")) << j << ": " << rec;
  }
  EXPECT_TRUE(wait_for([] { return sh("pgrep -f 'sleep 424[2-5]'").empty(); }, 20))
      << sh("ps -ef | grep 'sleep 424'");
  auto show = wfrun("show 1");
  EXPECT_TRUE(contains(show.out, "cancelled")) << show.out;
}

// A request the cluster can never meet fails the job before it runs, in Slurm's words, naming
// the job; the jobs that do not need it still run.
TEST_F(SlurmTest, ImpossibleRequestFailsWithSlurmsMessage) {
  auto o = wfrun("run --executor slurm " +
                 file("big.yaml",
                      "jobs:\n  huge:\n    uses: script@v1\n    resources: {gpus: 3}\n"
                      "    with: {script: echo never}\n  small:\n    uses: script@v1\n"
                      "    with: {script: echo fine}\n")
                     .string());
  EXPECT_EQ(o.code, 1) << o.out << o.err;
  EXPECT_TRUE(contains(o.out, "Slurm refused job 'huge'")) << o.out;
  EXPECT_TRUE(contains(o.out, "Requested node configuration is not available")) << o.out;
  EXPECT_TRUE(said(o.out, "small", "fine")) << o.out;
  EXPECT_FALSE(said(o.out, "huge", "never"));
}

// A secret reaches the job's environment and nothing Slurm keeps or shows: not the job record
// (`scontrol show job -dd`), not the batch script, not squeue, not any process's command line
// or environment outside the job, not Slurm's state and spool folders.
TEST_F(SlurmTest, SecretNeverReachesSlurm) {
  const std::string secret = "s3cr3t-Zq81-value";
  pid_t pid = spawn(
      "run --executor slurm " +
          file("secret.yaml",
               "jobs:\n  use:\n    uses: script@v1\n    env: {TOKEN: 'secret:token'}\n"
               "    with:\n      script: |\n        sleep 4\n"
               "        case \"$TOKEN\" in s3cr3t-Zq81-*) echo token-ok;; esac\n"
               "        echo \"the token is $TOKEN\"\n")
              .string(),
      "WFRUN_SECRET_token=" + secret);
  ASSERT_TRUE(wait_for([&] { return fs::exists(attempt_dir("use") / "started"); }))
      << slurp(out_path()) << slurp(err_path());
  long long id = slurm_id("use");
  ASSERT_GT(id, 0);
  std::string seen = sh("scontrol show job -dd " + std::to_string(id)) +
                     sh("scontrol write batch_script " + std::to_string(id) + " -") +
                     sh("squeue -o %all") + sh("cat /proc/[0-9]*/cmdline | tr '\\0' ' '");
  EXPECT_TRUE(contains(seen, "wfrun")) << "the checks saw nothing: " << seen;
  EXPECT_FALSE(contains(seen, secret)) << seen;
  EXPECT_FALSE(fs::exists(attempt_dir("use") / "secrets.json")) << "the shim did not delete it";
  std::string cluster = Cluster::get().dir();
  EXPECT_EQ(sh("grep -rl -a '" + secret + "' '" + cluster + "/state' '" + cluster + "/spool'"), "");
  EXPECT_EQ(wait(pid), 0) << slurp(out_path()) << slurp(err_path());
  std::string out = slurp(out_path());
  EXPECT_TRUE(said(out, "use", "token-ok")) << out;
  EXPECT_TRUE(said(out, "use", "the token is ***")) << out;
  EXPECT_FALSE(contains(out, secret));
  EXPECT_FALSE(contains(slurp(state_ / "runs/1/jobs/use/log"), secret));
  EXPECT_EQ(sh("grep -rl -a '" + secret + "' '" + state_.string() + "'"), "");
}

// The node fails under a running job (an admin sets it down): Slurm ends the job NODE_FAIL,
// and wfrun runs it again under `retries`.
TEST_F(SlurmTest, NodeFailureIsRetried) {
  fs::path marker = dir_ / "first-attempt";
  pid_t pid = spawn("run --executor slurm " +
                    file("flaky.yaml",
                         "jobs:\n  flaky:\n    uses: script@v1\n    retries: 1\n    with:\n"
                         "      script: |\n        if [ -e " + marker.string() + " ]; then\n"
                         "          echo second attempt\n        else\n"
                         "          touch " + marker.string() + "\n"
                         "          echo first attempt; sleep 300\n        fi\n")
                        .string());
  ASSERT_TRUE(wait_for([&] { return fs::exists(marker); })) << slurp(out_path()) << slurp(err_path());
  sh("scontrol update nodename=localhost state=down reason=wfrun-test");
  // The node comes back by itself (ReturnToService=2): its slurmd still answers.
  wait_for([] { return sh("sinfo -h -o %T").find("down") == std::string::npos; }, 30);
  sh("scontrol update nodename=localhost state=resume");
  EXPECT_EQ(wait(pid), 0) << slurp(out_path()) << slurp(err_path());
  std::string out = slurp(out_path());
  EXPECT_TRUE(contains(out, "NODE_FAIL")) << out;
  EXPECT_TRUE(said(out, "flaky", "second attempt")) << out;
  EXPECT_TRUE(contains(scontrol(slurm_id("flaky", 1)), "JobState=NODE_FAIL"));
  EXPECT_TRUE(contains(scontrol(slurm_id("flaky", 2)), "JobName=wfrun-1-flaky-2"));
}

// wfrun asks Slurm about its jobs with one squeue for all of them (the user's jobs, no job
// list), never sooner than the interval after the last one, and backs off while nothing
// changes. A squeue wrapper first on PATH logs each call; the intervals are shortened by the
// executor block so that the backoff shows within seconds (1, 2, 4, 8 s instead of 5 ... 60 s).
TEST_F(SlurmTest, OneSqueueForAllJobsWithBackoff) {
  fs::path log = dir_ / "squeue.log";
  std::string real = sh("command -v squeue");
  while (!real.empty() && real.back() == '\n') real.pop_back();
  ASSERT_FALSE(real.empty());
  std::string user = sh("id -un");
  while (!user.empty() && user.back() == '\n') user.pop_back();
  file("bin/squeue", "#!/bin/sh\necho \"$(date +%s.%N) $*\" >> '" + log.string() +
                         "'\nexec " + real + " \"$@\"\n");
  fs::permissions(dir_ / "bin/squeue", fs::perms::owner_all);
  file("slurm.yaml", "executor:\n  kind: slurm\n  squeue-interval: 1s\n  squeue-max-interval: 8s\n");
  std::string jobs = "jobs:\n";
  for (const char* j : {"p1", "p2", "p3"})
    jobs += std::string("  ") + j + ": {uses: script@v1, with: {script: 'sleep 20'}}\n";
  auto t0 = std::chrono::steady_clock::now();
  auto o = wfrun("run --executor-config slurm.yaml " + file("three.yaml", jobs).string(),
                 "PATH='" + (dir_ / "bin").string() + "':\"$PATH\"");
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  std::vector<double> at;
  std::istringstream in(slurp(log));
  for (std::string line; std::getline(in, line);) {
    size_t sp = line.find(' ');
    at.push_back(std::stod(line.substr(0, sp)));
    // One call for all jobs: by user, every state, no job ids or names.
    EXPECT_EQ(line.substr(sp + 1), "-h -t all -u " + user + " -o %i|%j|%T|%r") << line;
  }
  // Three jobs for 20 s at one call per job per second would be ~60 calls; after 1, 2, 4, 8,
  // 16 s it is 5 (one more for each change Slurm shows, e.g. PENDING to RUNNING).
  ASSERT_GE(at.size(), 3u) << slurp(log);
  EXPECT_LE(at.size(), 8u) << slurp(log) << "wall " << wall;
  double longest = 0;
  for (size_t i = 1; i < at.size(); ++i) {
    EXPECT_GE(at[i] - at[i - 1], 0.95) << "sooner than the interval:\n" << slurp(log);
    longest = std::max(longest, at[i] - at[i - 1]);
  }
  EXPECT_GE(longest, 6) << "no backoff while nothing changed:\n" << slurp(log);
}

// A relative --state-dir names the folder under the directory wfrun was started in, for the
// probe and for the jobs too, although Slurm starts them in folders of their own.
TEST_F(SlurmTest, RelativeStateDirWorks) {
  auto o = wfrun("run --executor slurm --state-dir rel " +
                 file("one.yaml", "jobs:\n  one: {uses: script@v1, with: {script: echo hi}}\n")
                     .string());
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_TRUE(said(o.out, "one", "hi")) << o.out;
  EXPECT_TRUE(fs::exists(dir_ / "rel/runs/1/jobs/one/slurm-1/exit"));
}

// The wfrun binary the nodes would run is not there: the probe says so before any job is
// submitted, naming the path and the setting that fixes it.
TEST_F(SlurmTest, ProbeFindsNoWfrunOnTheNodes) {
  file("slurm.yaml", "executor:\n  kind: slurm\n  wfrun-path: /nonexistent/bin/wfrun\n");
  auto o = wfrun("run --executor-config slurm.yaml " +
                 file("one.yaml", "jobs:\n  one: {uses: script@v1, with: {script: echo hi}}\n")
                     .string());
  EXPECT_EQ(o.code, 2) << o.out << o.err;
  EXPECT_TRUE(contains(o.err, "the nodes cannot run /nonexistent/bin/wfrun")) << o.err;
  EXPECT_TRUE(contains(o.err, "wfrun-path")) << o.err;
  EXPECT_FALSE(fs::exists(state_ / "runs/1/jobs/one/slurm-1"));
}

// The state folder is on a filesystem only the submitting machine sees (here: a tmpfs in a
// mount namespace of its own, which slurmd's does not share): the probe job cannot write
// there, and wfrun says which folder the nodes must see.
TEST_F(SlurmTest, ProbeFindsTheStateFolderNotShared) {
  if (sh("unshare -m true && echo yes") != "yes\n") GTEST_SKIP() << "no mount namespaces here";
  fs::path priv = dir_ / "private";
  fs::create_directories(priv);
  fs::path wf = file("one.yaml", "jobs:\n  one: {uses: script@v1, with: {script: echo hi}}\n");
  std::string cmd = "unshare -m --propagation private sh -c \"mount -t tmpfs none '" +
                    priv.string() + "' && SLURM_CONF='" + Cluster::get().conf() + "' " +
                    WFRUN_BIN + " run --executor slurm --state-dir '" + priv.string() +
                    "/state' '" + wf.string() + "'\" 2>&1; echo rc=$?";
  std::string out = sh(cmd);
  EXPECT_TRUE(contains(out, "rc=2")) << out;
  EXPECT_TRUE(contains(out, "the nodes do not see the state folder " + priv.string() + "/state"))
      << out;
  EXPECT_TRUE(contains(out, "WFRUN_HOME")) << out;
}

// notebook@v1 runs `wfrun nbrun` on the node (the shim puts its own wfrun in place of the
// submitting one), and the job's sampler on the node feeds `wfrun metrics` as locally.
TEST_F(SlurmTest, NotebookRunsOnTheNodeWithMetrics) {
  if (sh("/usr/bin/python3 -c 'import numpy' && echo ok") != "ok\n") {
    const char* req = std::getenv("WFRUN_REQUIRE_PYTHON_LIBS");
    if (req && std::string(req) == "1") FAIL() << "Debian's python3 with numpy is missing";
    GTEST_SKIP() << "Debian's python3 with numpy is missing";
  }
  fs::path wf = fs::path(WFRUN_SOURCE_DIR) / "examples/notebook/workflow.yaml";
  auto o = wfrun("run --executor slurm --metrics-interval 0.05 '" + wf.string() + "'");
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_TRUE(said(o.out, "summary", "outputs in the executed notebook:")) << o.out;
  EXPECT_TRUE(fs::exists(state_ / "runs/1/jobs/train/outputs/train/train.ipynb"));
  EXPECT_TRUE(contains(scontrol(slurm_id("train")), "JobState=COMPLETED"));
  auto m = wfrun("metrics 1 --csv");
  EXPECT_EQ(m.code, 0) << m.err;
  EXPECT_TRUE(contains(m.out, "train,")) << m.out;
}

// Slurm tells the job's GPUs to the sampler on the node: with a simulated inventory there (the
// submitting wfrun's WFRUN_FAKE_GPUS), the job's GPU rows are those Slurm gave it.
TEST_F(SlurmTest, GpuMetricsComeFromTheNode) {
  auto o = wfrun("run --executor slurm --metrics-interval 0.05 " +
                     file("g.yaml",
                          "jobs:\n  g:\n    uses: script@v1\n    resources: {gpus: 1}\n"
                          "    with: {script: 'sleep 2; echo cvd=$CUDA_VISIBLE_DEVICES'}\n")
                         .string(),
                 "WFRUN_FAKE_GPUS=2xH100");
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  std::string cvd = o.out.substr(o.out.find("cvd=") + 4, 1);
  auto m = wfrun("metrics 1 --csv");
  ASSERT_EQ(m.code, 0) << m.err;
  EXPECT_TRUE(contains(m.out, "g,")) << m.out;
  // A GPU row names the GPU Slurm assigned, and no other.
  std::istringstream in(m.out);
  std::set<std::string> gpus;
  std::string header;
  std::getline(in, header);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cols;
    std::stringstream ls(line);
    for (std::string c; std::getline(ls, c, ',');) cols.push_back(c);
    if (cols.size() > 2 && !cols[2].empty()) gpus.insert(cols[2]);
  }
  EXPECT_EQ(gpus, std::set<std::string>{cvd}) << header << "\n" << m.out;
}

// A container job runs with the node's podman.
TEST_F(SlurmTest, ContainerJobRunsWithTheNodesPodman) {
  fs::path conf = file("containers.conf", "[containers]\ndefault_ulimits = []\npids_limit = 0\n");
  std::string env = "CONTAINERS_CONF='" + conf.string() + "'";
  if (sh("command -v podman >/dev/null && command -v runc >/dev/null && echo ok") != "ok\n") {
    const char* req = std::getenv("WFRUN_REQUIRE_PODMAN");
    if (req && std::string(req) == "1") FAIL() << "podman (with runc) is not installed";
    GTEST_SKIP() << "podman (with runc) is not installed";
  }
  // The busybox image the engine's container tests use, built the same way when missing.
  std::string r = (dir_ / "rootfs").string();
  std::string build =
      env + " sh -c \"podman image exists localhost/wfrun-test-bb:1 || (set -e; mkdir -p " + r +
      "/bin; cp \\$(command -v busybox) " + r + "/bin/busybox; for a in sh echo cat; do ln -s "
      "busybox " + r + "/bin/\\$a; done; tar -C " + r + " -cf " + r + ".tar .; podman import -q " +
      r + ".tar localhost/wfrun-test-bb:1 >/dev/null)\" && echo built";
  ASSERT_EQ(sh(build), "built\n");
  auto o = wfrun("run --executor slurm --container-runtime 'podman --runtime runc' " +
                     file("c.yaml",
                          "jobs:\n  boxed:\n    uses: container@v1\n    outputs: {said: {type: string}}\n"
                          "    with:\n      image: localhost/wfrun-test-bb:1\n"
                          "      command: [sh, -c]\n"
                          "      args: ['echo inside $WFRUN_JOB; echo hello > /outputs/said']\n")
                         .string(),
                 env);
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_TRUE(said(o.out, "boxed", "inside boxed")) << o.out;
  EXPECT_TRUE(contains(scontrol(slurm_id("boxed")), "JobState=COMPLETED"));
}

}  // namespace
}  // namespace wfrun::slurmtest
