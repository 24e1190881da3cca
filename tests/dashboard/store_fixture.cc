// Writes runs into a run store through the store's own API, for the dashboard's browser tests
// and bench/dashboard: what a hostile (or just unusual) writer could record, many runs, a huge
// log. The runs are recorded, not run: no process behind them.
//
//   dashboard_fixture hostile STATE         one run whose workflow, job, repository and branch
//                                           names and log lines are HTML/script, plus ANSI
//   dashboard_fixture bulk STATE RUNS JOBS  RUNS finished runs of JOBS jobs each, with varied
//                                           states, triggers, repositories and branches
//   dashboard_fixture biglog STATE MB       one finished run whose one job logged MB megabytes
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/fs.h"
#include "engine/paths.h"
#include "engine/store.h"

using namespace wfrun;
using namespace wfrun::engine;

namespace {

int fail(const Error& e) {
  std::fprintf(stderr, "dashboard_fixture: %s\n", e.str().c_str());
  return 1;
}

const char* kHostile[] = {
    "<script>window.__xss=1</script>",
    "\"><img src=x onerror=\"window.__xss=2\">",
    "\x1b[31m<script>window.__xss=3</script>\x1b[0m",
};

int hostile(const std::string& state) {
  auto store = RunStore::open(state);
  if (!store) return fail(store.error());
  const std::string name = std::string(kHostile[0]) + kHostile[1];
  auto run = store->create_run(name, "/tmp/x.yaml",
                               {"push", std::string("evil/") + kHostile[1], std::string("refs/heads/") + kHostile[0],
                                std::string(40, 'a'), 0});
  if (!run) return fail(run.error());
  // A workflow copy that does not parse: the page must still show the jobs (without edges).
  (void)write_file(run->dir + "/workflow.yaml", "jobs: {<script>: 1}\n");
  std::vector<JobResult> jobs(2);
  jobs[0].name = kHostile[1];
  jobs[1].name = "plain";
  double t = 1700000000;
  for (auto& j : jobs) {
    j.state = JobState::kSucceeded;
    j.exit_code = 0;
    j.started = t;
    j.finished = t + 3;
    j.message = kHostile[0];
    j.outputs["note"] = kHostile[1];
    const std::string dir = run->dir + "/jobs/" + (j.name == "plain" ? "plain" : "hostile");
    (void)make_dirs(dir);
    j.log_path = dir + "/log";
    std::string log;
    for (const char* h : kHostile) log += std::string("line ") + h + "\n";
    log += "\x1b[1;32mgreen bold\x1b[0m and \x1b[31mred\x1b[0m\n";
    if (auto s = write_file(j.log_path, log); !s) return fail(s.error());
    if (auto s = store->update_job(run->id, j); !s) return fail(s.error());
  }
  RunRecord r = *run;
  r.state = RunState::kSucceeded;
  r.started = t;
  r.finished = t + 7;
  if (auto s = store->update_run(r); !s) return fail(s.error());
  std::printf("%lld\n", static_cast<long long>(run->id));
  return 0;
}

int bulk(const std::string& state, int runs, int jobs_per_run) {
  auto store = RunStore::open(state);
  if (!store) return fail(store.error());
  const char* workflows[] = {"train", "evaluate", "prepare-data", "nightly", "sweep"};
  const char* repos[] = {"acme/vision", "acme/nlp", ""};
  const char* branches[] = {"refs/heads/main", "refs/heads/dev", "refs/pull/42/head", ""};
  const char* triggers[] = {"push", "pull_request", "manual", "cli"};
  const RunState states[] = {RunState::kSucceeded, RunState::kSucceeded, RunState::kFailed,
                             RunState::kCancelled, RunState::kSucceeded};
  double t = 1700000000;
  for (int i = 0; i < runs; ++i) {
    const std::string wf = workflows[i % 5];
    RunTrigger trig{triggers[i % 4], repos[i % 3], branches[i % 4], "", 0};
    if (trig.event != "cli") {
      char sha[41];
      std::snprintf(sha, sizeof sha, "%040x", i * 2654435761u);
      trig.sha = sha;
    } else {
      trig.repo.clear();
      trig.ref.clear();
    }
    auto run = store->create_run(wf, "/work/" + wf + ".yaml", trig);
    if (!run) return fail(run.error());
    std::string yaml = "jobs:\n";
    std::vector<JobResult> js(static_cast<size_t>(jobs_per_run));
    std::vector<const JobResult*> ptrs;
    for (int k = 0; k < jobs_per_run; ++k) {
      JobResult& j = js[static_cast<size_t>(k)];
      j.name = "step-" + std::to_string(k);
      yaml += "  " + j.name + ": {uses: script@v1, with: {script: \"true\"}" +
              (k ? ", needs: [step-" + std::to_string(k - 1) + "]" : "") + "}\n";
      j.state = JobState::kSucceeded;
      j.exit_code = 0;
      j.started = t + k * 10;
      j.finished = t + k * 10 + 9;
      if (k == 0 && i % 3 == 0) j.gpus = {0, 1};
      j.log_path = run->dir + "/jobs/" + j.name + "/log";
      ptrs.push_back(&j);
    }
    if (auto s = write_file(run->dir + "/workflow.yaml", yaml); !s) return fail(s.error());
    if (auto s = store->update_jobs(run->id, ptrs); !s) return fail(s.error());
    RunRecord r = *run;
    r.state = states[i % 5];
    r.started = t;
    r.finished = t + jobs_per_run * 10;
    if (auto s = store->update_run(r); !s) return fail(s.error());
    t += 60;
  }
  return 0;
}

int biglog(const std::string& state, long long mb) {
  auto store = RunStore::open(state);
  if (!store) return fail(store.error());
  auto run = store->create_run("big-log", "/work/big-log.yaml");
  if (!run) return fail(run.error());
  (void)write_file(run->dir + "/workflow.yaml", "jobs:\n  print: {uses: script@v1, with: {script: \"true\"}}\n");
  JobResult j;
  j.name = "print";
  j.state = JobState::kSucceeded;
  j.exit_code = 0;
  j.started = 1700000000;
  j.finished = 1700000600;
  (void)make_dirs(run->dir + "/jobs/print");
  j.log_path = run->dir + "/jobs/print/log";
  std::FILE* f = std::fopen(j.log_path.c_str(), "w");
  if (!f) return fail(Error("cannot write " + j.log_path));
  std::string block;
  long long line = 0;
  const long long target = mb << 20;
  long long written = 0;
  while (written < target) {
    block.clear();
    while (block.size() < (1u << 20)) {
      ++line;
      block += "step " + std::to_string(line) + " loss=0." + std::to_string(line % 9973) +
               " \x1b[32mok\x1b[0m the quick brown fox jumps over the lazy dog\n";
    }
    std::fwrite(block.data(), 1, block.size(), f);
    written += static_cast<long long>(block.size());
  }
  std::fprintf(f, "the last line %lld\n", line + 1);
  std::fclose(f);
  if (auto s = store->update_job(run->id, j); !s) return fail(s.error());
  RunRecord r = *run;
  r.state = RunState::kSucceeded;
  r.started = j.started;
  r.finished = j.finished;
  if (auto s = store->update_run(r); !s) return fail(s.error());
  std::printf("%lld\n", static_cast<long long>(run->id));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 2 && a[0] == "hostile") return hostile(a[1]);
  if (a.size() == 4 && a[0] == "bulk") return bulk(a[1], std::atoi(a[2].c_str()), std::atoi(a[3].c_str()));
  if (a.size() == 3 && a[0] == "biglog") return biglog(a[1], std::atoll(a[2].c_str()));
  std::fprintf(stderr, "usage: dashboard_fixture hostile STATE | bulk STATE RUNS JOBS | biglog STATE MB\n");
  return 2;
}
