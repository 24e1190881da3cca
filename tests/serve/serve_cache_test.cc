// `wfrun serve`'s write path: the queue's group commit (many deliveries at once, duplicates
// inside one batch), the skip decisions (a push no workflow listens to is recorded, not run,
// once a run has decided it), and the same through a real `wfrun serve` process whose runs are
// carried out by tests/serve/fake-serve-run.sh in its `skip` modes (a stand-in for
// `wfrun serve-run`, whose own `trigger` field is tested in tests/cli/serve_run_test.cc).

#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "http/serve/config.h"
#include "tests/serve/serve_process.h"
#include "http/serve/queue.h"
#include "http/serve/signature.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace wfrun::serve;

namespace {

const char* const kSecret = "test-webhook-secret";
const char* const kToken = "test-api-token";
const std::string kSha1 = "0123456789abcdef0123456789abcdef01234567";
const std::string kSha2 = "89abcdef0123456789abcdef0123456789abcdef";

/// A scratch folder, removed when the test passed.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/wfrun-serve-cache-XXXXXX";
    path_ = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty() && !::testing::Test::HasFailure()) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

RunRequest push_run(const std::string& delivery, const std::string& ref, const std::string& sha) {
  RunRequest r;
  r.delivery = delivery;
  r.event = "push";
  r.repo = "Codertocat/Hello-World";
  r.clone_url = "https://github.com/Codertocat/Hello-World.git";
  r.ref = ref;
  r.sha = sha;
  return r;
}

Submission push(const std::string& delivery, const std::string& ref = "refs/heads/quiet",
                const std::string& sha = kSha1) {
  return Submission{delivery, "push", {push_run(delivery, ref, sha)}, {}, true, "", {}};
}

// ---- the queue ----

TEST(GroupCommit, ConcurrentDeliveriesEachGetTheirRunAndDuplicatesTheOriginal) {
  TempDir dir;
  auto q = Queue::open(dir.path());
  ASSERT_TRUE(q) << q.error().str();
  constexpr int kThreads = 16, kEach = 25;
  std::mutex mu;
  std::set<std::int64_t> ids;
  std::vector<std::vector<std::int64_t>> shared_answers;
  int failures = 0, duplicates = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        // Every thread also sends one delivery id that all of them share, at the same time:
        // it lands in one batch more than once, and only the first may queue a run.
        const bool shared = i == 5;
        auto r = (*q)->submit(push(shared ? "shared" : "d-" + std::to_string(t) + "-" + std::to_string(i)));
        std::lock_guard lock(mu);
        if (!r) {
          ++failures;
          continue;
        }
        if (shared) shared_answers.push_back(r->runs);
        if (r->duplicate) {
          ++duplicates;
          continue;
        }
        for (auto id : r->runs) EXPECT_TRUE(ids.insert(id).second) << "run " << id << " twice";
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(duplicates, kThreads - 1);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kThreads * (kEach - 1) + 1));
  ASSERT_EQ(shared_answers.size(), static_cast<size_t>(kThreads));
  for (const auto& a : shared_answers) EXPECT_EQ(a, shared_answers.front());
  auto counts = (*q)->count_by_status();
  ASSERT_TRUE(counts);
  EXPECT_EQ((*counts)["queued"], kThreads * (kEach - 1) + 1);

  // All of it was committed: a second connection (a restarted server) sees every run.
  q->reset();
  auto again = Queue::open(dir.path());
  ASSERT_TRUE(again);
  RunFilter all;
  all.limit = 500;
  auto rows = (*again)->list(all);
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->size(), ids.size());
}

TEST(GroupCommit, TheWalIsCheckpointedOffTheWriter) {
  // SQLite's automatic checkpoint ran inside the writer's commits (every delivery waiting for
  // that commit waited for the copy too); it is off, and a thread of its own checkpoints. The
  // WAL must still be copied back and started over: 40 MB of payloads leave it small.
  TempDir dir;
  auto q = Queue::open(dir.path());
  ASSERT_TRUE(q) << q.error().str();
  const std::string payload(100 * 1024, 'p');
  constexpr int kThreads = 8, kEach = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        Submission s = push("w-" + std::to_string(t) + "-" + std::to_string(i));
        s.runs[0].payload = payload;
        if (!(*q)->submit(s)) ++failures;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  // The log starts over (and is cut back to 16 MB, journal_size_limit) at the first commit
  // after a checkpoint copied all of it; under load that may take a few more commits.
  std::error_code ec;
  std::uintmax_t wal = 0;
  for (int i = 0; i < 100; ++i) {
    wal = fs::file_size(dir.path() / "serve/queue.db-wal", ec);
    ASSERT_FALSE(ec) << ec.message();
    if (wal <= 16u << 20) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE((*q)->submit(push("after-" + std::to_string(i))));
  }
  EXPECT_LE(wal, 16u << 20) << "the WAL was never checkpointed";
  auto counts = (*q)->count_by_status();
  ASSERT_TRUE(counts);
  EXPECT_GE((*counts)["queued"], kThreads * kEach);
}

TEST(SkipDecisions, AKnownSkipIsRecordedNotRun) {
  TempDir dir;
  auto q = Queue::open(dir.path());
  ASSERT_TRUE(q) << q.error().str();
  // Nothing decided yet: the push queues a run.
  auto r = (*q)->submit(push("g1"));
  ASSERT_TRUE(r) << r.error().str();
  ASSERT_EQ(r->runs, std::vector<std::int64_t>{1});
  EXPECT_EQ(r->ignored, "");
  // Run 1 found no workflow whose on: matches.
  ASSERT_TRUE((*q)->remember_skip(1, push_run("g1", "refs/heads/quiet", kSha1)));

  r = (*q)->submit(push("g2"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->runs.empty());
  EXPECT_FALSE(r->duplicate);
  EXPECT_EQ(r->ignored, "no workflow's on: matches refs/heads/quiet at " + kSha1 + " (decided by run 1)");
  // Its redelivery is a duplicate of a recorded, unrun delivery.
  r = (*q)->submit(push("g2"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->duplicate);
  EXPECT_TRUE(r->runs.empty());
  EXPECT_EQ(r->ignored, "no workflow's on: matches refs/heads/quiet at " + kSha1 + " (decided by run 1)");
  // Another sha, another ref, or the decisions not asked for: a run each.
  r = (*q)->submit(push("g3", "refs/heads/quiet", kSha2));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->runs, std::vector<std::int64_t>{2});
  r = (*q)->submit(push("g4", "refs/heads/main", kSha1));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->runs, std::vector<std::int64_t>{3});
  Submission plain = push("g5");
  plain.use_decisions = false;
  r = (*q)->submit(plain);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->runs, std::vector<std::int64_t>{4});
  // A manual run is never a known skip.
  RunRequest manual = push_run("", "refs/heads/quiet", kSha1);
  manual.event = "manual";
  r = (*q)->submit(Submission{"", "manual", {manual}, {}, true, "", {}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->runs, std::vector<std::int64_t>{5});
  // A pull request into a branch nothing listens to; the repository's name in any case.
  RunRequest pr = push_run("p1", "refs/pull/7/head", kSha2);
  pr.event = "pull_request";
  pr.base_ref = "refs/heads/quiet";
  ASSERT_TRUE((*q)->remember_skip(9, pr));
  pr.repo = "codertocat/hello-world";
  pr.delivery = "p2";
  r = (*q)->submit(Submission{"p2", "pull_request", {pr}, {}, true, "", {}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ignored, "no workflow's on: matches a pull request into refs/heads/quiet at " + kSha2 +
                            " (decided by run 9)");

  // The decisions are durable: a restarted server still knows them.
  q->reset();
  auto again = Queue::open(dir.path());
  ASSERT_TRUE(again);
  r = (*again)->submit(push("g6"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->runs.empty());
  EXPECT_NE(r->ignored, "");
  auto counts = (*again)->count_by_status();
  ASSERT_TRUE(counts);
  EXPECT_EQ((*counts)["queued"], 5);
}

TEST(SkipDecisions, AnOlderQueueIsUpgraded) {
  // queue.db as the first `wfrun serve` wrote it: deliveries without the `ignored` column.
  TempDir dir;
  fs::create_directories(dir.path() / "serve/runs");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() / "serve/queue.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TABLE deliveries(guid TEXT PRIMARY KEY, event TEXT NOT NULL, "
                         "received REAL NOT NULL, runs TEXT NOT NULL DEFAULT '[]');"
                         "INSERT INTO deliveries VALUES ('old', 'push', 1, '[7]');",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto q = Queue::open(dir.path());
  ASSERT_TRUE(q) << q.error().str();
  auto r = (*q)->submit(push("old"));
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_TRUE(r->duplicate);
  EXPECT_EQ(r->runs, std::vector<std::int64_t>{7});
  EXPECT_EQ(r->ignored, "");
  r = (*q)->submit(push("new"));
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ(r->runs.size(), 1u);
}

TEST(Config, CloneUrlMayBeALocalRepository) {
  char env0[] = "HOOK=s3cret";
  char* env[] = {env0, nullptr};
  auto c = parse_config(
      "webhook: {secret-env: HOOK}\nrepositories:\n  - repo: o/r\n    clone-url: file:///srv/git/r.git\n",
      "server.yaml", env);
  ASSERT_TRUE(c) << c.error().str();
  EXPECT_EQ(c->repo("o/r")->clone_url, "file:///srv/git/r.git");
  c = parse_config("webhook: {secret-env: HOOK}\nrepositories:\n  - repo: o/r\n    clone-url: /srv/git/r.git\n",
                   "server.yaml", env);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().str(), "server.yaml:4:16: repositories[0].clone-url: '/srv/git/r.git' is not an "
                             "http:// or https:// URL (or file:///PATH)");
}

TEST(Retention, FinishedRunsAndRunlessDeliveriesArePruned) {
  TempDir dir;
  auto q = Queue::open(dir.path());
  ASSERT_TRUE(q) << q.error().str();
  Report pending = Report::status(0, "Codertocat/Hello-World", kSha1, "pending", "queued", "", "wfrun");
  for (int i = 1; i <= 4; ++i) {
    const std::string d = "d" + std::to_string(i);
    Submission s{d, "push", {push_run(d, "refs/heads/b" + std::to_string(i), kSha1)}, {pending}, false, "", {}};
    ASSERT_TRUE((*q)->submit(s));
  }
  for (int id = 1; id <= 3; ++id) {
    Report done = pending;
    done.state = "success";
    ASSERT_TRUE((*q)->finish(id, "success", "", done));
  }
  // A delivery answered from a skip decision: recorded without a run.
  ASSERT_TRUE((*q)->remember_skip(3, push_run("d3", "refs/heads/b3", kSha1)));
  auto skipped = (*q)->submit(push("s1", "refs/heads/b3", kSha1));
  ASSERT_TRUE(skipped);
  ASSERT_TRUE(skipped->runs.empty());

  // Keep the newest finished run: 1 and 2 go with their statuses and deliveries; 4 still runs.
  PrunePolicy keep_one;
  keep_one.runs_count = 1;
  auto p = (*q)->prune(keep_one, 1);  // one row per transaction: the batches add up
  ASSERT_TRUE(p) << p.error().str();
  EXPECT_EQ(p->runs, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(p->deliveries, 2);
  for (std::int64_t id : {1, 2}) {
    EXPECT_FALSE(*(*q)->get(id)) << id;
    EXPECT_TRUE((*q)->reports_of(id)->empty()) << id;
  }
  EXPECT_TRUE(*(*q)->get(3));
  EXPECT_TRUE(*(*q)->get(4));
  // A pruned delivery's id is forgotten; a kept one is still a duplicate.
  auto again = (*q)->submit(push("d1", "refs/heads/other", kSha2));
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->duplicate);
  again = (*q)->submit(push("d3", "refs/heads/other", kSha2));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->duplicate);

  // By age: the run-less delivery goes, and the decisions with the runs' age.
  PrunePolicy by_age;
  by_age.deliveries_before = now_seconds() + 1;
  by_age.runs_before = 1;  // runs finished before 1970: none
  p = (*q)->prune(by_age);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->runs.empty());
  EXPECT_EQ(p->deliveries, 1);
  EXPECT_FALSE((*q)->submit(push("s1", "refs/heads/b3", kSha1))->duplicate);
  ASSERT_TRUE((*q)->vacuum());
}

// ---- a real server ----

const json& push_example() {
  static const json j = [] {
    std::ifstream in(std::string(WFRUN_SOURCE_DIR) +
                     "/node_modules/@octokit/webhooks-examples/api.github.com/index.json");
    if (!in) return json();
    json all = json::parse(in);
    int n = 4;  // refs/heads/master created with one commit (as in serve_test.cc)
    for (const auto& e : all)
      if (e["name"] == "push")
        for (const auto& x : e["examples"])
          if (n-- == 0) return x;
    return json();
  }();
  return j;
}

/// `wfrun serve` in `dir` with the fake runner in `mode`; killed at the end.
class Server {
 public:
  Server(const fs::path& dir, const std::string& mode, const std::string& extra = "") : dir_(dir) {
    std::ofstream(dir_ / "secret") << kSecret << "\n";
    std::ofstream(dir_ / "tokens") << kToken << "\n";
    std::ofstream(dir_ / "server.yaml")
        << "listen: 127.0.0.1:0\nwebhook: {secret-file: secret}\napi: {tokens-file: tokens}\n"
        << "state-dir: state\nrunner: [/bin/sh, " << WFRUN_FAKE_RUNNER << ", '" << mode << "']\n"
        << "repositories: [Codertocat/Hello-World]\n" << extra;
  }
  ~Server() { stop(); }

  bool start() { return wfrun::serve::testing::start_serve(dir_, pid_, port_); }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  /// POSTs a signed push delivery; returns status and body.
  std::pair<int, json> deliver(const std::string& body, const std::string& guid) const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(20, 0);
    auto r = c.Post("/webhook",
                    {{"X-GitHub-Event", "push"},
                     {"X-GitHub-Delivery", guid},
                     {"X-Hub-Signature-256", "sha256=" + hmac_sha256_hex(kSecret, body)}},
                    body, "application/json");
    if (!r) return {0, json()};
    return {r->status, json::parse(r->body, nullptr, false)};
  }
  std::string get(const std::string& path) const {
    httplib::Client c("127.0.0.1", port_);
    auto r = c.Get(path.c_str(), {{"Authorization", std::string("Bearer ") + kToken}});
    return r && r->status == 200 ? r->body : "";
  }
  /// Waits (up to 60 s) until run `id` has ended; returns its status.
  std::string wait_final(std::int64_t id) const {
    for (int i = 0; i < 600; ++i) {
      json r = json::parse(get("/api/runs/" + std::to_string(id)), nullptr, false);
      if (r.is_object() && is_final_status(r.value("status", ""))) return r["status"];
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return "timeout";
  }
  size_t run_count() const {
    json l = json::parse(get("/api/runs?limit=500"), nullptr, false);
    return l.is_object() ? l["runs"].size() : 0;
  }

 private:
  fs::path dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

#define REQUIRE_EXAMPLE()                                                           \
  if (push_example().is_null()) {                                                   \
    if (std::getenv("WFRUN_REQUIRE_NPM")) FAIL() << "node_modules is missing";      \
    GTEST_SKIP() << "node_modules/@octokit/webhooks-examples is missing (npm ci)"; \
  }

TEST(ServeSkipDecisions, APushNobodyListensToRunsOnce) {
  REQUIRE_EXAMPLE();
  TempDir dir;
  Server s(dir.path(), "skip");
  ASSERT_TRUE(s.start()) << "see " << dir.path() / "server.log";
  const json p = push_example();
  const std::string body = p.dump(), sha = p["after"];
  auto [code, answer] = s.deliver(body, "guid-1");
  ASSERT_EQ(code, 202);
  EXPECT_EQ(answer, json::parse(R"({"runs":[1]})"));
  ASSERT_EQ(s.wait_final(1), "skipped");

  // The same push again (GitHub's "redeliver" gives a new id too): recorded, not run.
  const std::string why = "no workflow's on: matches refs/heads/master at " + sha + " (decided by run 1)";
  std::tie(code, answer) = s.deliver(body, "guid-2");
  EXPECT_EQ(code, 202);
  EXPECT_EQ(answer, json({{"ignored", why}}));
  std::tie(code, answer) = s.deliver(body, "guid-2");
  EXPECT_EQ(answer, json({{"ignored", why}, {"duplicate", true}}));
  EXPECT_EQ(s.run_count(), 1u);
  // Another commit on that branch is a new question.
  json other = p;
  other["after"] = kSha2;
  std::tie(code, answer) = s.deliver(other.dump(), "guid-3");
  EXPECT_EQ(answer, json::parse(R"({"runs":[2]})"));
  EXPECT_EQ(s.wait_final(2), "skipped");
  const std::string metrics = s.get("/metrics");
  EXPECT_NE(metrics.find("wfrun_webhook_deliveries_total{event=\"push\",result=\"known_skip\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("wfrun_webhook_deliveries_total{event=\"push\",result=\"queued\"} 2"),
            std::string::npos)
      << metrics;

  // Kept across a restart.
  s.stop();
  ASSERT_TRUE(s.start());
  std::tie(code, answer) = s.deliver(body, "guid-4");
  EXPECT_EQ(answer, json({{"ignored", why}}));
  EXPECT_EQ(s.run_count(), 2u);
}

TEST(ServeSkipDecisions, ASkipThatDoesNotSayWhyIsNotReused) {
  REQUIRE_EXAMPLE();
  // A result.json without `trigger` (an older serve-run): the next delivery still runs.
  TempDir dir;
  Server s(dir.path(), "skip-untagged");
  ASSERT_TRUE(s.start()) << "see " << dir.path() / "server.log";
  const std::string body = push_example().dump();
  EXPECT_EQ(s.deliver(body, "guid-1").second, json::parse(R"({"runs":[1]})"));
  ASSERT_EQ(s.wait_final(1), "skipped");
  EXPECT_EQ(s.deliver(body, "guid-2").second, json::parse(R"({"runs":[2]})"));
  EXPECT_EQ(s.wait_final(2), "skipped");
}

TEST(ServeRetention, VacuumAndTheDispatcherPrune) {
  REQUIRE_EXAMPLE();
  TempDir dir;
  Server s(dir.path(), "0", "retention: {runs: {count: 1}}\n");
  ASSERT_TRUE(s.start()) << "see " << dir.path() / "server.log";
  const std::string body = push_example().dump();
  for (int i = 1; i <= 3; ++i) {
    ASSERT_EQ(s.deliver(body, "guid-" + std::to_string(i)).first, 202);
    ASSERT_EQ(s.wait_final(i), "success");
  }
  s.stop();
  const fs::path runs = dir.path() / "state/serve/runs";
  ASSERT_TRUE(fs::exists(runs / "1"));
  const std::string cmd = "cd '" + dir.path().string() + "' && " + WFRUN_BIN +
                          " serve --vacuum --config server.yaml > vacuum.out 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::stringstream out;
  out << std::ifstream(dir.path() / "vacuum.out").rdbuf();
  EXPECT_EQ(out.str().rfind("pruned 2 finished runs, 2 deliveries and 0 skip decisions; ", 0), 0u) << out.str();
  EXPECT_FALSE(fs::exists(runs / "1"));
  EXPECT_FALSE(fs::exists(runs / "2"));
  EXPECT_TRUE(fs::exists(runs / "3"));
  // The server prunes too: at its start, and every ten minutes.
  ASSERT_TRUE(s.start());
  EXPECT_EQ(s.run_count(), 1u);
  ASSERT_EQ(s.deliver(body, "guid-4").first, 202);
  ASSERT_EQ(s.wait_final(4), "success");
  s.stop();
  ASSERT_TRUE(s.start());
  for (int i = 0; i < 100 && fs::exists(runs / "3"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(fs::exists(runs / "3"));
  EXPECT_EQ(s.run_count(), 1u);
}

}  // namespace
