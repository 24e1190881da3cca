// The run store: runs, jobs, datasets and models in SQLite, shared between processes.
#include "engine/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <thread>

#include "engine/fs.h"
#include "tests/engine/helpers.h"

namespace wfrun::engine {
namespace {

using testing::TempDir;

TEST(Store, RunsAndJobs) {
  TempDir dir;
  auto store = RunStore::open(dir / "state");
  ASSERT_TRUE(store) << store.error().str();
  auto a = store->create_run("train", "wf/train.yaml");
  ASSERT_TRUE(a) << a.error().str();
  auto b = store->create_run("train", "wf/train.yaml");
  auto c = store->create_run("other", "wf/other.yaml");
  ASSERT_TRUE(b && c);
  EXPECT_EQ(a->id, 1);
  EXPECT_EQ(a->number, 1);
  EXPECT_EQ(b->number, 2);
  EXPECT_EQ(c->number, 1);
  EXPECT_EQ(c->id, 3);
  EXPECT_TRUE(is_dir(dir / "state/runs/3"));
  EXPECT_EQ(c->dir, dir / "state/runs/3");

  JobResult j;
  j.name = "prep";
  j.state = JobState::kFailed;
  j.exit_code = 2;
  j.attempts = 3;
  j.message = "exit code 2";
  j.outputs = {{"n", "5"}};
  ASSERT_TRUE(store->update_job(a->id, j));
  j.state = JobState::kSucceeded;
  ASSERT_TRUE(store->update_job(a->id, j));  // an update, not a second row
  JobResult k;
  k.name = "train";
  k.signal = 9;
  ASSERT_TRUE(store->update_job(a->id, k));
  RunRecord rec = *a;
  rec.state = RunState::kSucceeded;
  rec.finished = 5;
  ASSERT_TRUE(store->update_run(rec));

  auto got = store->get_run(a->id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->state, RunState::kSucceeded);
  EXPECT_EQ(got->finished, 5);
  EXPECT_EQ(got->workflow_file, "wf/train.yaml");
  ASSERT_EQ(got->jobs.size(), 2u);
  EXPECT_EQ(got->jobs[0].name, "prep");
  EXPECT_EQ(got->jobs[0].state, JobState::kSucceeded);
  EXPECT_EQ(got->jobs[0].exit_code, 2);
  EXPECT_EQ(got->jobs[0].attempts, 3);
  EXPECT_EQ(got->jobs[0].outputs.at("n"), "5");
  EXPECT_EQ(got->jobs[1].signal, 9);
  EXPECT_FALSE(got->jobs[1].exit_code);

  auto list = store->list_runs(2);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, 3);  // newest first
  EXPECT_FALSE(store->get_run(99));
  EXPECT_EQ(store->get_run(99).error().message(), "no run 99");
}

TEST(Store, TriggerAndJobGpus) {
  TempDir dir;
  auto store = RunStore::open(dir / "state");
  ASSERT_TRUE(store) << store.error().str();
  auto cli = store->create_run("train", "train.yaml");
  auto push = store->create_run("train", "train.yaml",
                                {"push", "acme/ml", "refs/heads/main", std::string(40, 'a'), 7});
  ASSERT_TRUE(cli && push);
  JobResult j;
  j.name = "fit";
  j.gpus = {0, 3};
  ASSERT_TRUE(store->update_job(push->id, j));
  auto a = store->get_run(cli->id);
  auto b = store->get_run(push->id);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->trigger.event, "cli");
  EXPECT_EQ(a->trigger.parent, 0);
  EXPECT_EQ(b->trigger.event, "push");
  EXPECT_EQ(b->trigger.repo, "acme/ml");
  EXPECT_EQ(b->trigger.ref, "refs/heads/main");
  EXPECT_EQ(b->trigger.sha, std::string(40, 'a'));
  EXPECT_EQ(b->trigger.parent, 7);
  ASSERT_EQ(b->jobs.size(), 1u);
  EXPECT_EQ(b->jobs[0].gpus, (std::vector<int>{0, 3}));
}

// A store written by a wfrun from before the trigger and gpus columns opens, keeps its runs
// and gains the columns.
TEST(Store, OlderStoreGainsTheNewColumns) {
  TempDir dir;
  ASSERT_TRUE(make_dirs(dir / "state/runs"));
  const std::string db = dir / "state/wfrun.db";
  const std::string sql =
      "CREATE TABLE runs(id INTEGER PRIMARY KEY, number INTEGER NOT NULL, workflow TEXT NOT NULL, "
      "workflow_file TEXT NOT NULL DEFAULT '', dir TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, "
      "started REAL NOT NULL DEFAULT 0, finished REAL NOT NULL DEFAULT 0, UNIQUE(workflow, number));"
      "CREATE TABLE jobs(run_id INTEGER NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL, "
      "exit_code INTEGER, signal INTEGER, attempts INTEGER NOT NULL DEFAULT 0, started REAL NOT NULL "
      "DEFAULT 0, finished REAL NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '', outputs TEXT "
      "NOT NULL DEFAULT '{}', log_path TEXT NOT NULL DEFAULT '', seq INTEGER NOT NULL DEFAULT 0, "
      "PRIMARY KEY(run_id, name));"
      "INSERT INTO runs(id, number, workflow, state) VALUES (1, 1, 'old', 'succeeded');"
      "INSERT INTO jobs(run_id, name, state) VALUES (1, 'a', 'succeeded');";
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  auto store = RunStore::open(dir / "state");
  ASSERT_TRUE(store) << store.error().str();
  auto old = store->get_run(1);
  ASSERT_TRUE(old) << old.error().str();
  EXPECT_EQ(old->workflow, "old");
  EXPECT_EQ(old->trigger.event, "cli");
  ASSERT_EQ(old->jobs.size(), 1u);
  EXPECT_TRUE(old->jobs[0].gpus.empty());
  auto fresh = store->create_run("old", "old.yaml", {"manual", "acme/ml", "refs/heads/x", "", 3});
  ASSERT_TRUE(fresh) << fresh.error().str();
  EXPECT_EQ(store->get_run(fresh->id)->trigger.parent, 3);
}

TEST(Store, DatasetVersions) {
  TempDir dir;
  auto store = RunStore::open(dir / "state");
  ASSERT_TRUE(store);
  EXPECT_EQ(store->find_dataset("d", std::nullopt).error().message(),
            "dataset 'd' not found in " + dir / "state/datasets");
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(make_dirs(dir / "src"));
    auto v = store->commit_dataset_version("d", dir / "src", 7);
    ASSERT_TRUE(v) << v.error().str();
    EXPECT_EQ(v->version, i + 1);
    EXPECT_EQ(v->path, dir / "state/datasets/d/" + std::to_string(i + 1));
    EXPECT_TRUE(is_dir(v->path));
    EXPECT_FALSE(exists(dir / "src"));
  }
  EXPECT_EQ(store->find_dataset("d", std::nullopt)->version, 2);
  EXPECT_EQ(store->find_dataset("d", 1)->run_id, 7);
  EXPECT_FALSE(store->find_dataset("d", 3));
  // A version folder made by hand counts.
  ASSERT_TRUE(make_dirs(store->dataset_dir("d", 5)));
  EXPECT_EQ(store->find_dataset("d", std::nullopt)->version, 5);
  EXPECT_EQ(store->find_dataset("d", 5)->path, dir / "state/datasets/d/5");
  auto added = store->add_dataset_version("d", "/elsewhere", 0);
  ASSERT_TRUE(added);
  EXPECT_EQ(added->version, 6);
  EXPECT_EQ(store->find_dataset("d", 6)->path, "/elsewhere");
}

TEST(Store, ModelIds) {
  TempDir dir;
  auto store = RunStore::open(dir / "state");
  ASSERT_TRUE(store);
  ModelRecord m;
  m.name = "a";
  m.type = "ONNX";
  m.dataset = "d";
  m.dataset_version = 1;
  EXPECT_EQ(store->add_model(m)->id, "mdl-1");
  EXPECT_EQ(store->add_model(m)->id, "mdl-2");
  auto all = store->list_models();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].id, "mdl-2");
  EXPECT_EQ((*all)[1].type, "ONNX");
  EXPECT_GT((*all)[1].created, 0);
}

void expect_numbers_without_gaps(const std::string& state, int n) {
  auto store = RunStore::open(state);
  ASSERT_TRUE(store);
  auto runs = store->list_runs(10000);
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->size(), static_cast<size_t>(n));
  std::set<std::int64_t> ids, numbers;
  for (const auto& r : *runs) {
    ids.insert(r.id);
    numbers.insert(r.number);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(n));
  EXPECT_EQ(numbers.size(), static_cast<size_t>(n));
  EXPECT_EQ(*numbers.begin(), 1);
  EXPECT_EQ(*numbers.rbegin(), n);
}

TEST(Store, ConcurrentThreadsEachWithItsConnection) {
  TempDir dir;
  constexpr int kThreads = 4, kRuns = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      auto store = RunStore::open(dir / "state");
      if (!store) {
        ++failures;
        return;
      }
      for (int i = 0; i < kRuns; ++i) {
        auto r = store->create_run("wf", "wf.yaml");
        if (!r) ++failures;
        JobResult j;
        j.name = "j";
        if (r && !store->update_job(r->id, j)) ++failures;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  expect_numbers_without_gaps(dir / "state", kThreads * kRuns);
}

TEST(Store, ConcurrentProcesses) {
  TempDir dir;
  constexpr int kProcs = 4, kRuns = 25;
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto store = RunStore::open(dir / "state");
      if (!store) ::_exit(2);
      for (int i = 0; i < kRuns; ++i) {
        if (!store->create_run("wf", "wf.yaml")) ::_exit(3);
        ModelRecord m;
        if (!store->add_model(m)) ::_exit(4);
      }
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "child status " << st;
  }
  expect_numbers_without_gaps(dir / "state", kProcs * kRuns);
  auto store = RunStore::open(dir / "state");
  auto models = store->list_models();
  ASSERT_TRUE(models);
  std::set<std::string> ids;
  for (const auto& m : *models) ids.insert(m.id);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kProcs * kRuns));
}

// A run whose wfrun is gone (here: a child process that exits without ending the run) is
// marked interrupted by the next open of the store; a run whose owner lives is left alone.
TEST(Store, RunOfADeadOwnerIsMarkedInterrupted) {
  TempDir dir;
  const std::string state = dir / "state";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto store = RunStore::open(state);
    if (!store) ::_exit(2);
    auto r = store->create_run("wf", "wf.yaml");
    if (!r) ::_exit(3);
    RunRecord rec = *r;
    rec.state = RunState::kRunning;
    JobResult done, running, waiting;
    done.name = "done";
    done.state = JobState::kSucceeded;
    done.outputs = {{"x", "1"}};
    running.name = "running";
    running.state = JobState::kRunning;
    running.attempts = 1;
    waiting.name = "waiting";
    if (!store->update_run(rec) || !store->update_jobs(r->id, {&done, &running, &waiting}))
      ::_exit(4);
    ::_exit(0);  // as if killed: the run stays "running"
  }
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;

  auto store = RunStore::open(state);  // this open marks it
  ASSERT_TRUE(store) << store.error().str();
  auto mine = store->create_run("wf", "wf.yaml");  // owned by this live process
  ASSERT_TRUE(mine);
  RunRecord live = *mine;
  live.state = RunState::kRunning;
  ASSERT_TRUE(store->update_run(live));

  auto again = RunStore::open(state);
  ASSERT_TRUE(again);
  auto run = again->get_run(1);
  ASSERT_TRUE(run) << run.error().str();
  EXPECT_EQ(run->state, RunState::kInterrupted);
  EXPECT_EQ(run->owner.pid, pid);
  EXPECT_GT(run->finished, 0);
  ASSERT_EQ(run->jobs.size(), 3u);
  EXPECT_EQ(run->jobs[0].state, JobState::kSucceeded);
  EXPECT_EQ(run->jobs[0].outputs.at("x"), "1");
  EXPECT_EQ(run->jobs[1].state, JobState::kInterrupted);
  EXPECT_EQ(run->jobs[1].message, "wfrun (pid " + std::to_string(pid) + ") stopped while it ran");
  EXPECT_EQ(run->jobs[2].state, JobState::kCancelled);
  EXPECT_EQ(run->jobs[2].message, "never started: wfrun (pid " + std::to_string(pid) + ") stopped");
  // run.json says the same.
  std::string json = testing::read_text(run->dir + "/run.json");
  EXPECT_NE(json.find("\"phase\": \"interrupted\""), std::string::npos) << json;
  EXPECT_EQ(again->get_run(2)->state, RunState::kRunning);
  EXPECT_TRUE(again->mark_interrupted()->empty());
}

}  // namespace
}  // namespace wfrun::engine
