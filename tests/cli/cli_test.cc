// The wfrun binary end to end: real child processes, a real state dir, real signals.

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/files.h"

namespace fs = std::filesystem;

namespace {

using wfrun::testing::slurp;
using wfrun::testing::write_file;

struct Output {
  int code = -1;
  std::string out, err;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/wfrun-cli-XXXXXX";
    dir_ = mkdtemp(tmpl);
    state_ = dir_ / "state";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Runs `wfrun ARGS` (a shell fragment) with the test's state dir; captures both streams.
  Output wfrun(const std::string& args, const std::string& env = "") {
    fs::path out = dir_ / "stdout", err = dir_ / "stderr";
    std::string cmd = "cd '" + dir_.string() + "' && env WFRUN_HOME='" + state_.string() + "' " +
                      env + " " + WFRUN_BIN + " " + args + " >'" + out.string() + "' 2>'" +
                      err.string() + "' </dev/null";
    int status = std::system(cmd.c_str());
    Output o;
    o.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    o.out = slurp(out);
    o.err = slurp(err);
    return o;
  }

  fs::path file(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    write_file(p, text);
    return p;
  }

  fs::path dir_, state_;
};

const char* kTwoJobs = R"(jobs:
  hello:
    uses: script@v1
    outputs:
      greeting:
        type: string
    with:
      script: |
        echo "hello from $WFRUN_JOB"
        echo hi > /outputs/greeting
  world:
    uses: script@v1
    needs: [hello]
    with:
      script: echo "got ${{ jobs.hello.outputs.greeting }}"
)";

TEST_F(CliTest, VersionAndHelp) {
  auto o = wfrun("--version");
  EXPECT_EQ(o.code, 0);
  EXPECT_EQ(o.out, "wfrun " WFRUN_VERSION "\n");
  for (const char* sub : {"run", "validate", "graph", "runs", "show", "logs", "models", "nb2py",
                          "nbrun"}) {
    auto h = wfrun(std::string(sub) + " --help");
    EXPECT_EQ(h.code, 0) << sub;
    EXPECT_NE(h.out.find("Usage"), std::string::npos) << sub << ": " << h.out;
  }
}

TEST_F(CliTest, UnknownFlagIsExit2) {
  auto o = wfrun("run --no-such-flag x.yaml");
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.err.find("--no-such-flag"), std::string::npos) << o.err;
}

TEST_F(CliTest, BadFilesGiveOneLineErrors) {
  file("empty.yaml", "");
  file("bin.yaml", std::string("jobs:\0\x01\x02", 8));
  fs::create_directories(dir_ / "adir");
  struct Case {
    std::string arg, want;
  } cases[] = {
      {"missing.yaml", "wfrun: missing.yaml: no such file\n"},
      {"adir", "wfrun: adir: is a directory, expected a workflow file\n"},
      {"empty.yaml", "wfrun: empty.yaml: the file is empty; a workflow needs a 'jobs:' map\n"},
      {"bin.yaml", "wfrun: bin.yaml: not a text file\n"},
  };
  for (const auto& c : cases) {
    auto o = wfrun("run " + c.arg);
    EXPECT_EQ(o.code, 2) << c.arg;
    EXPECT_EQ(o.err, c.want) << c.arg;
    auto v = wfrun("validate " + c.arg);
    EXPECT_EQ(v.code, 2) << c.arg;
    EXPECT_EQ(v.err, c.want) << c.arg;
  }
}

TEST_F(CliTest, RunShorthandSummaryAndRecord) {
  file("wf.yaml", kTwoJobs);
  auto o = wfrun("wf.yaml");
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("hello | hello from hello"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("world | got hi"), std::string::npos) << o.out;
  // The summary table.
  EXPECT_NE(o.out.find("JOB    STATUS     DURATION  EXIT"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("run 1 succeeded"), std::string::npos) << o.out;

  auto runs = wfrun("runs");
  EXPECT_EQ(runs.code, 0);
  EXPECT_NE(runs.out.find("succeeded"), std::string::npos) << runs.out;
  auto show = wfrun("show 1");
  EXPECT_EQ(show.code, 0);
  EXPECT_NE(show.out.find("hello.greeting = hi"), std::string::npos) << show.out;
  auto logs = wfrun("logs 1 world");
  EXPECT_EQ(logs.code, 0);
  EXPECT_EQ(logs.out, "got hi\n");
  auto all = wfrun("logs 1");
  EXPECT_NE(all.out.find("hello | hello from hello\n"), std::string::npos) << all.out;
  auto bad = wfrun("logs 1 wrld");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("run 1 has no job 'wrld' (did you mean 'world'?)"), std::string::npos)
      << bad.err;
  auto missing = wfrun("show 99");
  EXPECT_EQ(missing.code, 2);

  // run.json, Gradient-shaped.
  std::string json = slurp(state_ / "runs" / "1" / "run.json");
  EXPECT_NE(json.find("\"phase\""), std::string::npos) << json;
  EXPECT_TRUE(fs::exists(state_ / "runs" / "1" / "workflow.yaml"));
}

TEST_F(CliTest, FailedJobExits1AndSkipsDependents) {
  file("wf.yaml", R"(jobs:
  bad:
    uses: script@v1
    with:
      script: exit 3
  after:
    uses: script@v1
    needs: [bad]
    with:
      script: echo never
)");
  auto o = wfrun("run wf.yaml");
  EXPECT_EQ(o.code, 1) << o.out << o.err;
  EXPECT_EQ(o.out.find("never"), std::string::npos);
  EXPECT_NE(o.out.find("failed"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("skipped"), std::string::npos) << o.out;
  auto show = wfrun("show 1");
  EXPECT_NE(show.out.find("failed"), std::string::npos) << show.out;
}

TEST_F(CliTest, SecretsAreFilledAndMasked) {
  file("wf.yaml", R"(jobs:
  use:
    uses: script@v1
    env:
      TOKEN: secret:api_token
    with:
      script: |
        echo "token=$TOKEN"
        test "${#TOKEN}" -eq 12
)");
  // Unknown secret: refused before anything runs, with the location.
  auto missing = wfrun("run wf.yaml");
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("wf.yaml:5:"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("unknown secret 'api_token'"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(state_ / "runs" / "1"));

  for (const std::string how : {"--secret api_token=s3cr3t-value", "--secrets-file secrets.env",
                                "ENV"}) {
    file("secrets.env", "# test\napi_token=s3cr3t-value\n");
    auto o = how == "ENV" ? wfrun("run wf.yaml", "WFRUN_SECRET_api_token=s3cr3t-value")
                          : wfrun("run wf.yaml " + how);
    ASSERT_EQ(o.code, 0) << how << o.out << o.err;
    EXPECT_EQ(o.out.find("s3cr3t-value"), std::string::npos) << o.out;
    EXPECT_NE(o.out.find("token=***"), std::string::npos) << o.out;
  }
  // Nothing in the state dir holds the secret: logs, run.json, the database.
  for (const auto& e : fs::recursive_directory_iterator(state_)) {
    if (!e.is_regular_file()) continue;
    EXPECT_EQ(slurp(e.path()).find("s3cr3t-value"), std::string::npos) << e.path();
  }
}

TEST_F(CliTest, InputsFromFlagsAndGradientInputsFile) {
  file("wf.yaml", R"(inputs:
  who:
    type: string
    with:
      value: nobody
jobs:
  greet:
    uses: script@v1
    inputs:
      who: workflow.inputs.who
    with:
      script: echo "hi $(cat /inputs/who) / ${{ inputs.who }}"
)");
  auto d = wfrun("run wf.yaml");
  EXPECT_NE(d.out.find("hi nobody / nobody"), std::string::npos) << d.out << d.err;
  auto f = wfrun("run wf.yaml --input who=alice");
  EXPECT_NE(f.out.find("hi alice / alice"), std::string::npos) << f.out << f.err;
  file("inputs.json", R"({"inputs": {"who": {"value": "bob"}}})");
  auto j = wfrun("run wf.yaml --inputs-file inputs.json");
  EXPECT_NE(j.out.find("hi bob / bob"), std::string::npos) << j.out << j.err;
  auto bad = wfrun("run wf.yaml --input whom=x");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("declares no input 'whom' (did you mean 'who'?)"), std::string::npos)
      << bad.err;
}

TEST_F(CliTest, DryRunPrintsPlanAndRunsNothing) {
  file("wf.yaml", kTwoJobs);
  auto o = wfrun("run wf.yaml --dry-run");
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("hello"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("world"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("hello from"), std::string::npos) << o.out;
  EXPECT_FALSE(fs::exists(state_ / "runs" / "1"));
}

TEST_F(CliTest, ValidateAndGraph) {
  file("good.yaml", kTwoJobs);
  file("bad.yaml", "jobs:\n  a:\n    uses: script@v1\n    needs: [b]\n    with: {script: x}\n");
  auto v = wfrun("validate good.yaml");
  EXPECT_EQ(v.code, 0);
  EXPECT_EQ(v.out, "good.yaml: ok (2 jobs)\n");
  auto b = wfrun("validate good.yaml bad.yaml");
  EXPECT_EQ(b.code, 2);
  EXPECT_NE(b.err.find("bad.yaml:4:"), std::string::npos) << b.err;
  auto dot = wfrun("graph good.yaml");
  EXPECT_EQ(dot.code, 0);
  EXPECT_NE(dot.out.find("digraph"), std::string::npos) << dot.out;
  EXPECT_NE(dot.out.find("\"hello\" -> \"world\""), std::string::npos) << dot.out;
  auto mm = wfrun("graph good.yaml --format mermaid");
  EXPECT_NE(mm.out.find("j0[\"hello<br/>script@v1\"]"), std::string::npos) << mm.out;
  EXPECT_NE(mm.out.find("j0 --> j1"), std::string::npos) << mm.out;
}

TEST_F(CliTest, InterruptCancelsRunningJobsAndExits130) {
  fs::path pidfile = dir_ / "job.pid";
  file("wf.yaml", R"(jobs:
  slow:
    uses: script@v1
    with:
      script: |
        echo $$ > )" + pidfile.string() + R"(
        sleep 60
)");
  fs::path out = dir_ / "out";
  std::string cmd = "cd '" + dir_.string() + "' && WFRUN_HOME='" + state_.string() + "' exec " +
                    WFRUN_BIN + " run wf.yaml >'" + out.string() + "' 2>&1 </dev/null";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    _exit(127);
  }
  // Wait for the job to be running.
  for (int i = 0; i < 200 && slurp(pidfile).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(slurp(pidfile).empty()) << slurp(out);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  pid_t job = std::stoi(slurp(pidfile));
  auto t0 = std::chrono::steady_clock::now();
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130) << slurp(out);
  EXPECT_LT(secs, 10);
  EXPECT_NE(kill(job, 0), 0) << "the job's process survived";
  auto show = wfrun("show 1");
  EXPECT_NE(show.out.find("cancelled"), std::string::npos) << show.out;
}

TEST_F(CliTest, TwoProcessesShareOneStateDir) {
  file("wf.yaml", kTwoJobs);
  fs::path o1 = dir_ / "o1", o2 = dir_ / "o2";
  std::string base = "cd '" + dir_.string() + "' && WFRUN_HOME='" + state_.string() + "' " +
                     WFRUN_BIN + " run wf.yaml -q";
  std::string cmd = "(" + base + " >'" + o1.string() + "' 2>&1 & " + base + " >'" + o2.string() +
                    "' 2>&1; wait)";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto runs = wfrun("runs --json");
  ASSERT_EQ(runs.code, 0) << runs.err;
  EXPECT_NE(runs.out.find("\"id\": 1"), std::string::npos) << runs.out;
  EXPECT_NE(runs.out.find("\"id\": 2"), std::string::npos) << runs.out;
  EXPECT_NE(runs.out.find("\"number\": 2"), std::string::npos) << runs.out;
}

TEST_F(CliTest, GpusWithoutAnyGpu) {
  auto o = wfrun("gpus", "WFRUN_NVML_LIB=none WFRUN_NVIDIA_SMI=none");
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "no NVIDIA GPU found\n");
}

const char* kGpuJob = R"(jobs:
  train:
    uses: script@v1
    resources:
      gpus: 1
    with:
      script: |
        echo "devices [$CUDA_VISIBLE_DEVICES]"
        sleep 0.5
  cpu:
    uses: script@v1
    with:
      script: echo "cpu sees [$CUDA_VISIBLE_DEVICES]"
)";

TEST_F(CliTest, GpuJobMetricsSummaryAndCharts) {
  file("wf.yaml", kGpuJob);
  const std::string env = "WFRUN_FAKE_GPUS=2xH100";
  auto plan = wfrun("run wf.yaml --dry-run", env);
  EXPECT_EQ(plan.code, 0) << plan.err;
  EXPECT_NE(plan.out.find("train (script@v1, 1 GPU)"), std::string::npos) << plan.out;
  auto o = wfrun("run wf.yaml --metrics-interval 0.1", env);
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("devices [0]"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("cpu sees []"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("JOB    STATUS     DURATION  EXIT  PEAK RSS  GPUS  GPU UTIL MEAN/PEAK  "
                       "GPU MEM PEAK  ENERGY"),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("0% / 0%"), std::string::npos) << o.out;
  EXPECT_TRUE(fs::exists(state_ / "runs/1/jobs/train/metrics.svg"));
  auto m = wfrun("metrics 1");
  EXPECT_EQ(m.code, 0) << m.err;
  EXPECT_EQ(m.out.rfind("JOB    GPUS  UTIL MEAN", 0), 0u) << m.out;
  EXPECT_NE(m.out.find("\ntrain  0     0%"), std::string::npos) << m.out;
  auto csv = wfrun("metrics 1 train --csv");
  EXPECT_EQ(csv.code, 0) << csv.err;
  EXPECT_EQ(csv.out.rfind("job,t,gpu,util,mem_mib,power_w,temp_c,cpu_pct,rss_kb\ntrain,", 0), 0u)
      << csv.out;

  // Runs without GPU jobs keep the compact table.
  file("cpu.yaml", "jobs:\n  hello:\n    uses: script@v1\n    with: {script: echo hi}\n");
  auto cpu = wfrun("run cpu.yaml", env);
  ASSERT_EQ(cpu.code, 0) << cpu.err;
  EXPECT_NE(cpu.out.find("JOB    STATUS     DURATION  EXIT  PEAK RSS\nhello  succeeded"),
            std::string::npos)
      << cpu.out;
}

TEST_F(CliTest, MissingGpusFailTheRunOrRunOnTheCpu) {
  file("wf.yaml", R"(jobs:
  train:
    uses: script@v1
    resources: {instance-type: A100-80Gx2}
    with: {script: 'echo "[$CUDA_VISIBLE_DEVICES]"'}
)");
  const std::string env = "WFRUN_FAKE_GPUS=8xH100";
  auto o = wfrun("run wf.yaml", env);
  EXPECT_EQ(o.code, 2);
  EXPECT_EQ(o.err,
            "wfrun: wf.yaml:4:17: job 'train' asks for 2 GPUs of model A100-80G (instance-type "
            "A100-80Gx2) but this machine has 0 matching GPUs (of 8: 8 × NVIDIA H100 80GB HBM3) "
            "(--allow-missing-gpus runs it on the CPU instead)\n");
  EXPECT_FALSE(fs::exists(state_ / "runs" / "1"));
  auto cpu = wfrun("run wf.yaml --allow-missing-gpus", env);
  EXPECT_EQ(cpu.code, 0) << cpu.err;
  EXPECT_NE(
      cpu.out.find("train | wfrun: job 'train' asks for 2 GPUs of model A100-80G "
                   "(instance-type A100-80Gx2) but this machine has 0 matching GPUs (of 8: "
                   "8 × NVIDIA H100 80GB HBM3); running it on the CPU (--allow-missing-gpus)"),
      std::string::npos)
      << cpu.out;
  EXPECT_NE(cpu.out.find("train | []"), std::string::npos) << cpu.out;
}

// Every example validates and runs, so none can rot. An example with a run.sh is run through
// it by its own test (the quickstart: QuickstartIsTheWholeLoop).
TEST_F(CliTest, ExamplesValidateAndRun) {
  fs::path examples = fs::path(WFRUN_SOURCE_DIR) / "examples";
  int count = 0;
  for (const auto& e : fs::recursive_directory_iterator(examples)) {
    if (e.path().filename() != "workflow.yaml") continue;
    ++count;
    auto v = wfrun("validate '" + e.path().string() + "'");
    EXPECT_EQ(v.code, 0) << e.path() << v.err;
    if (fs::exists(e.path().parent_path() / "run.sh")) continue;
    fs::path args_file = e.path().parent_path() / "test-args";
    std::string args = fs::exists(args_file) ? slurp(args_file) : "";
    while (!args.empty() && args.back() == '\n') args.pop_back();
    auto r = wfrun("run -q '" + e.path().string() + "' " + args,
                   "WFRUN_SECRET_api_token=example-token");
    EXPECT_EQ(r.code, 0) << e.path() << "\n" << r.out << r.err;
  }
  EXPECT_GE(count, 1);
}

TEST_F(CliTest, DagExampleEndToEnd) {
  fs::path wf = fs::path(WFRUN_SOURCE_DIR) / "examples/dag/workflow.yaml";
  auto o = wfrun("run '" + wf.string() + "' --input rows=100",
                 "WFRUN_SECRET_api_token=tok-9876");
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("| 100 | 5050 | 50.50 | 833.25 |"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("uploading with token ***"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("tok-9876"), std::string::npos);
  // The dataset got version 1, then 2.
  auto again = wfrun("run -q '" + wf.string() + "'", "WFRUN_SECRET_api_token=tok-9876");
  ASSERT_EQ(again.code, 0) << again.out << again.err;
  EXPECT_TRUE(fs::exists(state_ / "datasets/dag-report/1/report.md"));
  EXPECT_TRUE(fs::exists(state_ / "datasets/dag-report/2/report.md"));
  EXPECT_NE(slurp(state_ / "datasets/dag-report/2/report.md").find("| 1000 | 500500 |"),
            std::string::npos);
}

// scripts/quickstart's loop, as it runs it (examples/quickstart/run.sh), without GITHUB_TOKEN: a
// local bare repository stands in for GitHub. Seed, run the notebook with parameters, commit the
// executed notebook and results to `results`, push, print where; and again, which adds a commit.
TEST_F(CliTest, QuickstartIsTheWholeLoop) {
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3";
  fs::path run_sh = fs::path(WFRUN_SOURCE_DIR) / "examples/quickstart/run.sh";
  auto quickstart = [&](const std::string& env = "") {
    fs::path out = dir_ / "qs.out";
    std::string cmd = "cd '" + dir_.string() +
                      "' && env -u GITHUB_TOKEN -u WFRUN_QUICKSTART_REPO WFRUN_HOME='" +
                      state_.string() + "' " + env + " '" + run_sh.string() + "' " + WFRUN_BIN +
                      " >'" + out.string() + "' 2>&1 </dev/null";
    int status = std::system(cmd.c_str());
    Output o;
    o.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    o.out = slurp(out);
    return o;
  };
  fs::path origin = state_ / "origin.git";
  auto git = [&](const std::string& args) {
    fs::path out = dir_ / "git.out";
    std::system(
        ("git --git-dir '" + origin.string() + "' " + args + " >'" + out.string() + "' 2>&1")
            .c_str());
    return slurp(out);
  };

  auto first = quickstart();
  ASSERT_EQ(first.code, 0) << first.out;
  EXPECT_NE(first.out.find("seeded " + (state_ / "workspace").string() + " from " +
                           origin.string() + " at main"),
            std::string::npos)
      << first.out;
  // The notebook ran with the workflow's parameters, not its defaults (1000 samples).
  EXPECT_NE(first.out.find("analyze | batch 20/20: pi ~ "), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("from 200000 samples"), std::string::npos) << first.out;
  std::string sha = git("rev-parse results");
  ASSERT_EQ(sha.size(), 41u) << sha;
  sha.pop_back();
  EXPECT_NE(first.out.find("publish | pushed " + sha + " to results (1 attempt)"),
            std::string::npos)
      << first.out;
  EXPECT_NE(first.out.find("commit:     " + sha + "\n"), std::string::npos) << first.out;
  EXPECT_NE(
      first.out.find("look:       git --git-dir " + origin.string() + " log --stat -3 results"),
      std::string::npos)
      << first.out;
  // What landed: the executed notebook (with the injected parameters and the cells' outputs)
  // and the results the notebook wrote, on a branch made from main.
  EXPECT_EQ(git("ls-tree -r --name-only results"),
            "README.md\nanalysis.ipynb\nruns/1/analysis.ipynb\nruns/1/results/metrics.json\n"
            "runs/1/results/summary.md\n");
  std::string nb = git("show results:runs/1/analysis.ipynb");
  EXPECT_NE(nb.find("injected-parameters"), std::string::npos) << nb;
  EXPECT_NE(nb.find("samples = 200000"), std::string::npos) << nb;
  EXPECT_NE(nb.find("from 200000 samples"), std::string::npos) << nb;
  std::string metrics = git("show results:runs/1/results/metrics.json");
  EXPECT_NE(metrics.find("\"samples\": 200000"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\"estimate\": 3.1"), std::string::npos) << metrics;
  EXPECT_EQ(git("rev-parse results~1"), git("rev-parse main"));

  // A second run works too: a fresh workspace, one more commit on results. A GITHUB_TOKEN in the
  // environment without WFRUN_QUICKSTART_REPO keeps the local stand-in, saying so.
  auto second = quickstart("GITHUB_TOKEN=unused-t0ken");
  ASSERT_EQ(second.code, 0) << second.out;
  EXPECT_EQ(second.out.find("making the stand-in"), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("GITHUB_TOKEN is set but WFRUN_QUICKSTART_REPO is not: using a local "
                            "stand-in"),
            std::string::npos)
      << second.out;
  EXPECT_EQ(second.out.find("unused-t0ken"), std::string::npos) << second.out;
  EXPECT_EQ(git("rev-list --count results"), "3\n");
  EXPECT_EQ(git("log -1 --format=%s results"),
            "quickstart run 2: analysis.ipynb executed by wfrun [skip ci]\n");
  EXPECT_NE(git("ls-tree -r --name-only results").find("runs/2/results/metrics.json"),
            std::string::npos);
}

}  // namespace
