// `wfrun serve` polling GitHub (`poll:`) instead of receiving webhooks, end to end (the units
// are in poll_units_test.cc): a real server process polls a stand-in GitHub
// (tests/serve/github_standin.h: every request and 200 answer checked against GitHub's OpenAPI
// description) that answers from real git repositories; runs are carried out by
// tests/serve/fake-serve-run.sh (a stand-in for `wfrun serve-run`, which is tested in
// tests/cli), gated-serve-run.sh where a run must wait, or the real serve-run (the full loop).

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "http/serve/queue.h"
#include "http/serve/signature.h"
#include "tests/serve/github_standin.h"
#include "tests/serve/github_openapi.h"
#include "tests/serve/serve_process.h"
#include "tests/support/eventually.h"
#include "tests/support/files.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace wfrun::serve;
using Clock = std::chrono::steady_clock;

namespace {

using wfrun::serve::testing::github_openapi;
using wfrun::serve::testing::npm_required;
using wfrun::testing::slurp;
using wfrun::testkit::eventually;
/// How long one thing a test waits for may take: a few poll intervals, with slack for a loaded machine.
constexpr double kWait = 30;

const char* const kSecret = "poll-webhook-secret";
const char* const kApiToken = "poll-api-token";
const char* const kRepoToken = "ghp-poll-R3poT0ken";

/// Runs `cmd` with sh; its output, or a failed expectation.
std::string sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(("{ " + cmd + " ; } 2>&1").c_str(), "r");
  if (!p) return "";
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = ::pclose(p);
  EXPECT_EQ(st, 0) << cmd << "\n" << out;
  return out;
}



// ---- a real server polling the stand-in ----

class ServePoll : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!github_openapi()) why = "cannot load GitHub's OpenAPI description (npm ci)";
    if (!why.empty()) {
      if (npm_required()) FAIL() << why;
      GTEST_SKIP() << why;
    }
    char tmpl[] = "/tmp/wfrun-serve-poll-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ / "secret") << kSecret << "\n";
    std::ofstream(dir_ / "tokens") << kApiToken << "\n";
    std::ofstream(dir_ / "repo-token") << kRepoToken << "\n";
    github_ = std::make_unique<wfrun::serve::testing::GithubStandIn>(*github_openapi());
  }
  void TearDown() override {
    stop_server();
    if (github_) {
      for (const auto& p : github_->problems()) ADD_FAILURE() << "OpenAPI: " << p;
      github_.reset();
    }
    std::error_code ec;
    if (!dir_.empty() && !HasFailure()) fs::remove_all(dir_, ec);
  }

  /// A bare repository OWNER/NAME with one commit on main, and a clone to push from.
  void make_repo(const std::string& name) {
    const fs::path bare = dir_ / "git" / (name + ".git"), work = dir_ / "work" / name;
    sh("git init -q --bare -b main '" + bare.string() + "' && git init -q -b main '" + work.string() +
       "' && cd '" + work.string() + "' && git config user.email t@example.com && git config user.name T" +
       " && git remote add origin '" + bare.string() + "'");
    commit(name, "first");
    push(name, "main");
    github_->add_repo(name, bare, kRepoToken);
  }
  /// A new commit in the clone of `name`; its sha.
  std::string commit(const std::string& name, const std::string& message) {
    const fs::path work = dir_ / "work" / name;
    sh("cd '" + work.string() + "' && git commit -q --allow-empty -m '" + message + "'");
    return head(name);
  }
  std::string head(const std::string& name) {
    std::string s = sh("git -C '" + (dir_ / "work" / name).string() + "' rev-parse HEAD");
    return s.substr(0, 40);
  }
  void push(const std::string& name, const std::string& refspec, bool force = false) {
    sh("git -C '" + (dir_ / "work" / name).string() + "' push -q " + (force ? "-f " : "") + "origin " + refspec);
  }

  void config(const std::string& repos, const std::string& runner = "", int max_concurrent = 2,
              bool webhook = true) {
    std::ofstream(dir_ / "server.yaml")
        << "listen: 127.0.0.1:0\n" << (webhook ? "webhook: {secret-file: secret}\n" : "")
        << "api: {tokens-file: tokens}\n"
        << "state-dir: state\ngithub-api: " << github_->url() << "\n"
        << "max-concurrent: " << max_concurrent << "\n"
        << (runner.empty() ? "runner: [/bin/sh, " + std::string(WFRUN_FAKE_RUNNER) + ", '0']\n" : runner)
        << "repositories:\n" << repos;
  }
  std::string repo_entry(const std::string& name, const std::string& poll = "1s") {
    return "  - {repo: " + name + ", token-file: repo-token, poll: " + poll + ", clone-url: 'file://" +
           (dir_ / "git" / (name + ".git")).string() + "'}\n";
  }
  void start(const char* extra = nullptr) {
    ASSERT_TRUE(wfrun::serve::testing::start_serve(dir_, pid_, port_, extra)) << log();
  }
  void stop_server(int sig = SIGTERM) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  std::string log() const { return slurp(dir_ / "server.log"); }
  json api(const std::string& path) const {
    httplib::Client c("127.0.0.1", port_);
    auto r = c.Get(path.c_str(), {{"Authorization", std::string("Bearer ") + kApiToken}});
    if (!r || r->status != 200) return json();
    return json::parse(r->body, nullptr, false);
  }
  /// All runs, oldest first.
  json runs() const {
    json page = api("/api/runs?limit=200");
    json out = json::array();
    if (page.is_object() && page["runs"].is_array())
      for (auto it = page["runs"].rbegin(); it != page["runs"].rend(); ++it) out.push_back(*it);
    return out;
  }
  json wait_runs(size_t n, double seconds = 30) const {
    json r;
    eventually([&] { return (r = runs()).size() >= n; }, seconds);
    return r;
  }
  /// Waits for the first poll of `name` to be recorded.
  void wait_first_poll(const std::string& name) {
    ASSERT_TRUE(eventually([&] { return log().find("poll " + name + ": first poll") != std::string::npos; }, kWait))
        << log();
  }
  /// Waits for `n` more requests of `name` after now.
  void wait_requests(const std::string& name, size_t n) {
    const size_t from = github_->requests(name).size();
    ASSERT_TRUE(eventually([&] { return github_->requests(name).size() >= from + n; }, kWait)) << log();
  }

  fs::path dir_;
  std::unique_ptr<wfrun::serve::testing::GithubStandIn> github_;
  pid_t pid_ = -1;
  int port_ = 0;
};

TEST_F(ServePoll, PushFoundWithinOneIntervalAndNothingCountsWhileNothingChanges) {
  make_repo("acme/app");
  config(repo_entry("acme/app"));
  start();
  wait_first_poll("acme/app");
  EXPECT_NE(log().find("recorded 1 heads; nothing runs for them"), std::string::npos) << log();
  EXPECT_EQ(runs().size(), 0u) << "the first poll records the heads without running them";

  const std::string sha = commit("acme/app", "second");
  push("acme/app", "main");
  github_->sync("acme/app");
  const auto pushed = Clock::now();
  json r = wait_runs(1);
  const double latency = std::chrono::duration<double>(Clock::now() - pushed).count();
  ASSERT_EQ(r.size(), 1u) << log();
  EXPECT_LT(latency, 1.0 + 1.5) << "one interval (1s) plus slack";
  EXPECT_EQ(r[0]["event"], "push");
  EXPECT_EQ(r[0]["ref"], "refs/heads/main");
  EXPECT_EQ(r[0]["sha"], sha);
  EXPECT_EQ(r[0]["delivery"].get<std::string>().rfind("poll:", 0), 0u) << r[0].dump();
  EXPECT_EQ(r[0]["polled"], true);
  // The payload the run gets: GitHub's push fields, marked as polled. (The runner keeps a copy:
  // the server removes its own once the run ends, which a quick run may do before this looks.)
  json payload;
  ASSERT_TRUE(eventually([&] {
    payload = json::parse(slurp(dir_ / "state/serve/runs/1/payload-seen.json"), nullptr, false);
    return payload.is_object();
  }, kWait));
  EXPECT_EQ(payload["wfrun_polled"], true);
  EXPECT_EQ(payload["after"], sha);
  EXPECT_EQ(payload["head_commit"]["message"], "second");
  EXPECT_EQ(payload["repository"]["full_name"], "acme/app");
  EXPECT_EQ(payload["before"].get<std::string>().size(), 40u);

  // Nothing changes: three more rounds of polls, all 304s, none counted against the limit.
  eventually([&] { return api("/api/runs/1")["status"] == "success"; }, kWait);
  wait_requests("acme/app", 3);
  const int counted = github_->counted("acme/app");
  const size_t before = github_->requests("acme/app").size();
  wait_requests("acme/app", 9);
  EXPECT_EQ(github_->counted("acme/app"), counted) << "304s do not count";
  auto reqs = github_->requests("acme/app");
  for (size_t i = before; i < reqs.size(); ++i) {
    EXPECT_EQ(reqs[i].status, 304) << reqs[i].path;
    EXPECT_FALSE(reqs[i].if_none_match.empty());
  }
  // Never faster than configured: each round starts with the branches' listing, and rounds
  // start at least `poll:` (1 s) apart (less a little: the request leaves a moment after the
  // round starts).
  std::vector<Clock::time_point> rounds;
  for (const auto& q : reqs)
    if (q.path.ends_with("/git/matching-refs/heads")) rounds.push_back(q.at);
  ASSERT_GE(rounds.size(), 4u);
  for (size_t i = 1; i < rounds.size(); ++i)
    EXPECT_GE(std::chrono::duration<double>(rounds[i] - rounds[i - 1]).count(), 0.8) << "round " << i;
  EXPECT_GE(std::chrono::duration<double>(rounds.back() - rounds.front()).count(),
            0.95 * static_cast<double>(rounds.size() - 1));
  EXPECT_EQ(runs().size(), 1u);
  EXPECT_EQ(log().find(kRepoToken), std::string::npos) << "the token reached the log";
}

TEST_F(ServePoll, TagsPullRequestsForcePushSkipCiAndDeletedRefs) {
  make_repo("acme/app");
  config(repo_entry("acme/app"));
  start();
  wait_first_poll("acme/app");

  // A lightweight tag and an annotated tag.
  sh("git -C '" + (dir_ / "work/acme/app").string() + "' tag v1 && git -C '" +
     (dir_ / "work/acme/app").string() + "' tag -a v2 -m release");
  push("acme/app", "v1");
  push("acme/app", "v2");
  github_->sync("acme/app");
  json r = wait_runs(2);
  ASSERT_EQ(r.size(), 2u) << log();
  const std::string main_sha = head("acme/app");
  for (const auto& run : r) {
    EXPECT_EQ(run["event"], "push");
    EXPECT_EQ(run["sha"], main_sha) << "a tag runs the commit it names";
  }
  EXPECT_EQ((std::set<std::string>{r[0]["ref"], r[1]["ref"]}),
            (std::set<std::string>{"refs/tags/v1", "refs/tags/v2"}));

  // A pull request is opened, then force-pushed.
  sh("cd '" + (dir_ / "work/acme/app").string() + "' && git checkout -q -b feature");
  const std::string pr1 = commit("acme/app", "feature work");
  push("acme/app", "feature:refs/pull/1/head");
  github_->sync("acme/app");
  r = wait_runs(3);
  ASSERT_EQ(r.size(), 3u) << log();
  EXPECT_EQ(r[2]["event"], "pull_request");
  EXPECT_EQ(r[2]["ref"], "refs/pull/1/head");
  EXPECT_EQ(r[2]["sha"], pr1);
  EXPECT_EQ(r[2]["base_ref"], "refs/heads/main");
  sh("cd '" + (dir_ / "work/acme/app").string() + "' && git commit -q --amend --allow-empty -m 'feature work, amended'");
  const std::string pr2 = head("acme/app");
  push("acme/app", "feature:refs/pull/1/head", true);
  github_->sync("acme/app");
  r = wait_runs(4);
  ASSERT_EQ(r.size(), 4u) << log();
  EXPECT_EQ(r[3]["sha"], pr2);
  json payload;
  ASSERT_TRUE(eventually([&] {
    payload = json::parse(slurp(dir_ / "state/serve/runs/4/payload-seen.json"), nullptr, false);
    return payload.is_object();
  }, kWait));
  EXPECT_EQ(payload["action"], "synchronize");
  EXPECT_EQ(payload["before"], pr1);
  EXPECT_EQ(payload["wfrun_polled"], true);

  // [skip ci] on main: recorded, nothing runs. Then a deleted branch: nothing runs.
  sh("cd '" + (dir_ / "work/acme/app").string() + "' && git checkout -q main");
  commit("acme/app", "docs [skip ci]");
  push("acme/app", "main");
  push("acme/app", "feature:refs/heads/feature");
  github_->sync("acme/app");
  ASSERT_TRUE(eventually([&] { return log().find("asks to skip") != std::string::npos; }, kWait)) << log();
  r = wait_runs(5);
  ASSERT_EQ(r.size(), 5u) << "the new branch runs, the [skip ci] head does not\n" << log();
  EXPECT_EQ(r[4]["ref"], "refs/heads/feature");
  push("acme/app", ":refs/heads/feature");
  github_->sync("acme/app");
  ASSERT_TRUE(eventually([&] { return log().find("refs/heads/feature was deleted; nothing runs") != std::string::npos; }, kWait))
      << log();
  wait_requests("acme/app", 3);
  EXPECT_EQ(runs().size(), 5u) << log();
}

TEST_F(ServePoll, TwentyPushesBetweenTwoPollsRunTheNewestHeadOnce) {
  make_repo("acme/app");
  config(repo_entry("acme/app"));
  start();
  wait_first_poll("acme/app");
  std::string last;
  for (int i = 0; i < 20; ++i) {
    last = commit("acme/app", "push " + std::to_string(i));
    push("acme/app", "main");
  }
  github_->sync("acme/app");
  json r = wait_runs(1);
  wait_requests("acme/app", 6);  // two more rounds
  r = runs();
  ASSERT_EQ(r.size(), 1u) << log();
  EXPECT_EQ(r[0]["sha"], last);
  EXPECT_NE(log().find("only the newest head runs"), std::string::npos) << log();
}

std::string push_body(const std::string& repo, const std::string& ref, const std::string& before,
                      const std::string& after, const std::string& clone_url) {
  return json{{"ref", ref},
              {"before", before},
              {"after", after},
              {"deleted", false},
              {"head_commit", {{"id", after}, {"message", "hooked"}}},
              {"repository", {{"full_name", repo}, {"clone_url", clone_url}}}}
      .dump();
}

TEST_F(ServePoll, AWebhookAndAPollOfTheSamePushRunOnce) {
  make_repo("acme/app");
  config(repo_entry("acme/app"));
  start();
  wait_first_poll("acme/app");
  const std::string before = head("acme/app");
  const std::string c1 = commit("acme/app", "webhook first");
  push("acme/app", "main");
  // The webhook arrives before the poll sees the push.
  httplib::Client hc("127.0.0.1", port_);
  const std::string body = push_body("acme/app", "refs/heads/main", before, c1, "file:///x");
  auto res = hc.Post("/webhook",
                     {{"X-GitHub-Event", "push"}, {"X-GitHub-Delivery", "d-1"},
                      {"X-Hub-Signature-256", "sha256=" + hmac_sha256_hex(kSecret, body)}},
                     body, "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  github_->sync("acme/app");
  ASSERT_TRUE(eventually([&] { return log().find("already queued by a webhook delivery (run 1)") != std::string::npos; }, kWait))
      << log();
  EXPECT_EQ(runs().size(), 1u);

  // The poll sees a push first; the webhook for it comes later and is a duplicate.
  const std::string c2 = commit("acme/app", "poll first");
  push("acme/app", "main");
  github_->sync("acme/app");
  json r = wait_runs(2);
  ASSERT_EQ(r.size(), 2u) << log();
  EXPECT_EQ(r[1]["sha"], c2);
  const std::string body2 = push_body("acme/app", "refs/heads/main", c1, c2, "file:///x");
  res = hc.Post("/webhook",
                {{"X-GitHub-Event", "push"}, {"X-GitHub-Delivery", "d-2"},
                 {"X-Hub-Signature-256", "sha256=" + hmac_sha256_hex(kSecret, body2)}},
                body2, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 202);
  json answer = json::parse(res->body);
  EXPECT_EQ(answer["duplicate"], true) << res->body;
  EXPECT_EQ(answer["runs"], json::array({2})) << res->body;
  EXPECT_EQ(runs().size(), 2u);
}

TEST_F(ServePoll, AServerThatOnlyPollsNeedsNoWebhookSecretAndRefusesDeliveries) {
  make_repo("acme/app");
  config(repo_entry("acme/app"), "", 2, /*webhook=*/false);
  start();
  wait_first_poll("acme/app");
  const std::string sha = commit("acme/app", "polled");
  push("acme/app", "main");
  github_->sync("acme/app");
  json r = wait_runs(1);
  ASSERT_EQ(r.size(), 1u) << log();
  EXPECT_EQ(r[0]["sha"], sha);

  // A delivery, however it is signed, is refused unread: there is no secret to check it with
  // (an empty HMAC key would let anyone sign).
  httplib::Client hc("127.0.0.1", port_);
  const std::string body = push_body("acme/app", "refs/heads/main", sha, sha, "file:///x");
  auto res = hc.Post("/webhook",
                     {{"X-GitHub-Event", "push"}, {"X-GitHub-Delivery", "d-1"},
                      {"X-Hub-Signature-256", "sha256=" + hmac_sha256_hex("", body)}},
                     body, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403) << res->body;
  EXPECT_NE(res->body.find("takes no webhooks"), std::string::npos) << res->body;
  EXPECT_EQ(runs().size(), 1u);

  // Run links are keyed by a key of the server's own, kept across restarts.
  const fs::path key = dir_ / "state/serve/link-secret";
  ASSERT_TRUE(fs::exists(key));
  EXPECT_EQ(fs::status(key).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  const std::string url = api("/api/runs/1")["url"].get<std::string>();
  const size_t k = url.find("?key=");
  ASSERT_NE(k, std::string::npos) << url;
  EXPECT_NE(url.substr(k + 5), hmac_sha256_hex("", "run:1").substr(0, 32)) << "keyed by nothing";
  // The key opens the run (the API, read-only, as the run page does) without a token.
  const std::string link = "/api" + url.substr(url.find("/runs/"));
  EXPECT_EQ(hc.Get(link.c_str())->status, 200) << link;
  stop_server();
  start();  // on another port (listen: 127.0.0.1:0)
  const std::string again = api("/api/runs/1")["url"].get<std::string>();
  EXPECT_EQ("/api" + again.substr(again.find("/runs/")), link) << "the link changed at a restart";
  std::string wrong = link;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  httplib::Client after("127.0.0.1", port_);
  EXPECT_EQ(after.Get(link.c_str())->status, 200) << link;
  EXPECT_EQ(after.Get(wrong.c_str())->status, 401) << wrong;
}

TEST_F(ServePoll, KillDashNineBetweenPollAndRunThenRestartRunsEachPushOnce) {
  make_repo("acme/app");
  const std::string gate = (dir_ / "gate").string();
  config(repo_entry("acme/app"),
         "runner: [/bin/sh, " + std::string(WFRUN_GATED_RUNNER) + ", '" + gate + "', success]\n", 1);
  start();
  wait_first_poll("acme/app");
  const std::string b = commit("acme/app", "b");
  push("acme/app", "main");
  github_->sync("acme/app");
  ASSERT_EQ(wait_runs(1).size(), 1u) << log();
  eventually([&] { return api("/api/runs/1")["status"] == "running"; }, kWait);
  // Run 2 is queued behind run 1 (max-concurrent: 1) when the server dies.
  const std::string c = commit("acme/app", "c");
  push("acme/app", "main");
  github_->sync("acme/app");
  ASSERT_EQ(wait_runs(2).size(), 2u) << log();
  stop_server(SIGKILL);
  start();
  wait_requests("acme/app", 6);  // two rounds of polls after the restart
  std::ofstream(gate) << "open\n";
  ASSERT_TRUE(eventually([&] {
    json r = runs();
    return r.size() == 2 && r[0]["status"] == "success" && r[1]["status"] == "success";
  }, kWait)) << runs().dump() << log();
  wait_requests("acme/app", 3);
  json r = runs();
  ASSERT_EQ(r.size(), 2u) << log();
  EXPECT_EQ(r[0]["sha"], b);
  EXPECT_EQ(r[1]["sha"], c);
  const std::string l = log();
  EXPECT_EQ(l.find("first poll"), l.rfind("first poll")) << "the restart knew the heads\n" << l;
}

TEST_F(ServePoll, RateLimitBacksOffAndARevokedTokenLeavesTheOthersPolling) {
  make_repo("acme/app");
  make_repo("acme/lib");
  config(repo_entry("acme/app") + repo_entry("acme/lib"));
  start();
  wait_first_poll("acme/app");
  wait_first_poll("acme/lib");

  // Rate-limited for 3 s: one refused request, then nothing until the reset.
  github_->rate_limit("acme/app", 3);
  const auto limited = Clock::now();
  ASSERT_TRUE(eventually([&] { return log().find("rate limit is exhausted") != std::string::npos; }, kWait)) << log();
  const std::string sha = commit("acme/app", "after the limit");
  push("acme/app", "main");
  github_->sync("acme/app");
  json r = wait_runs(1, 15);
  ASSERT_EQ(r.size(), 1u) << log();
  EXPECT_EQ(r[0]["sha"], sha);
  int refused = 0;
  for (const auto& q : github_->requests("acme/app")) {
    if (q.at < limited) continue;
    if (q.status == 403) ++refused;
    else EXPECT_GE(std::chrono::duration<double>(q.at - limited).count(), 1.9) << "polled before the reset";
  }
  EXPECT_EQ(refused, 1) << "one refused request, then a wait until the reset";

  // acme/app's token is revoked: a clear error, and acme/lib keeps polling.
  github_->set_token("acme/app", "another-token");
  ASSERT_TRUE(eventually([&] { return log().find("401 Bad credentials") != std::string::npos; }, kWait)) << log();
  const std::string lib = commit("acme/lib", "still polled");
  push("acme/lib", "main");
  github_->sync("acme/lib");
  r = wait_runs(2);
  ASSERT_EQ(r.size(), 2u) << log();
  EXPECT_EQ(r[1]["repo"], "acme/lib");
  EXPECT_EQ(r[1]["sha"], lib);
  const std::string l = log();
  const auto at = l.find("401 Bad credentials");
  EXPECT_NE(l.rfind("poll acme/app", at), std::string::npos) << l;
  EXPECT_NE(l.find("check the token", at), std::string::npos) << l;
  EXPECT_EQ(l.find(kRepoToken), std::string::npos);
}

TEST_F(ServePoll, FullLoopAPolledPushIsClonedAndRunByServeRun) {
  // The real child (`wfrun serve-run`) clones the bare repository and runs its workflow.
  make_repo("acme/app");
  const fs::path work = dir_ / "work/acme/app";
  fs::create_directories(work / ".wfrun/workflows");
  std::ofstream(work / ".wfrun/workflows/ci.yaml")
      << "on: {github: {branches: {only: main}}}\n"
         "jobs:\n  show:\n    uses: script@v1\n    with:\n      script: |\n"
         "        echo \"polled sha=$WFRUN_GIT_SHA ref=$WFRUN_GIT_REF\"\n";
  sh("cd '" + work.string() + "' && git add -A");
  config(repo_entry("acme/app"), "runner: ['" + std::string(WFRUN_BIN) + "', serve-run]\n");
  start();
  wait_first_poll("acme/app");
  const std::string sha = commit("acme/app", "add ci");
  push("acme/app", "main");
  github_->sync("acme/app");
  ASSERT_EQ(wait_runs(1).size(), 1u) << log();
  json run;
  ASSERT_TRUE(eventually([&] {
    run = api("/api/runs/1");
    return run.is_object() && is_final_status(run.value("status", ""));
  }, 120)) << log();
  EXPECT_EQ(run["status"], "success") << slurp(dir_ / "state/serve/runs/1/log");
  EXPECT_NE(slurp(dir_ / "state/serve/runs/1/log").find("polled sha=" + sha + " ref=refs/heads/main"),
            std::string::npos)
      << slurp(dir_ / "state/serve/runs/1/log");
}

TEST_F(ServePoll, CatchUpRunsTheHeadsTheFirstPollFinds) {
  make_repo("acme/app");
  sh("git -C '" + (dir_ / "work/acme/app").string() + "' push -q origin main:refs/heads/dev");
  github_->sync("acme/app");
  config(repo_entry("acme/app"));
  start("--catch-up");
  json r = wait_runs(2);
  ASSERT_EQ(r.size(), 2u) << log();
  EXPECT_EQ((std::set<std::string>{r[0]["ref"], r[1]["ref"]}),
            (std::set<std::string>{"refs/heads/main", "refs/heads/dev"}));
  wait_requests("acme/app", 6);
  EXPECT_EQ(runs().size(), 2u) << "caught up once";

  // SIGHUP adds a repository: it is polled at once (and caught up, as the flag says); the
  // first one keeps its schedule and its heads.
  make_repo("acme/lib");
  config(repo_entry("acme/app") + repo_entry("acme/lib"));
  ::kill(pid_, SIGHUP);
  r = wait_runs(3);
  ASSERT_EQ(r.size(), 3u) << log();
  EXPECT_EQ(r[2]["repo"], "acme/lib");
  wait_requests("acme/app", 3);
  EXPECT_EQ(runs().size(), 3u) << log();
}

}  // namespace
