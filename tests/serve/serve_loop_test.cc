// `wfrun serve` reporting back and the whole loop, with real peers:
// - commit statuses go to @octokit/fixtures-server (tests/http/serve-fixtures.mjs), in
//   scenarios built here from GitHub's OpenAPI examples; every request body a scenario expects
//   is checked against GitHub's OpenAPI description, and the server must send exactly those;
// - the full loop clones from the local HTTPS git server (tests/git/githttp.sh) with the real
//   `wfrun serve-run` child;
// - TLS with a certificate made here with openssl, SIGHUP reloads, ?follow=1 log streaming,
//   a GitHub App's installation token, and the run link (PUBLIC_URL/runs/ID?key=K).
// The reporting tests that need a run to end at a chosen moment use a stand-in child,
// tests/serve/gated-serve-run.sh (it keeps the serve-run contract): the fixtures server takes
// requests in order, so the final status must not overtake the pending one.

#include <fcntl.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "http/serve/config.h"
#include "tests/serve/github_openapi.h"
#include "tests/serve/serve_process.h"
#include "tests/support/eventually.h"
#include "http/serve/run_page.h"
#include "http/serve/signature.h"
#include "tests/http/openapi_check.h"
#include "tests/support/files.h"
#include "tests/support/git_https.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace wfrun::serve;

namespace {

using wfrun::serve::testing::github_openapi;
using wfrun::serve::testing::npm_required;
using wfrun::testkit::eventually;
/// How long one thing a test waits for may take: the fixtures server and a real serve-run are slow on two loaded cores.
constexpr double kWait = 60;

const char* const kSecret = "loop-webhook-secret";
const char* const kApiToken = "loop-api-token";
const char* const kRepoToken = "ghp-loop-R3poT0ken";  // statuses (and clones in the full loop)
const std::string kModules = std::string(WFRUN_SOURCE_DIR) + "/node_modules";

using wfrun::testkit::q;
using wfrun::testing::slurp;

/// Runs `cmd` in sh; returns its exit code, stdout+stderr in `*out`.
int shell(const std::string& cmd, std::string* out = nullptr) {
  char tmpl[] = "/tmp/wfrun-loop-sh-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ::close(fd);
  int st = std::system(("{ " + cmd + " ; } >" + q(tmpl) + " 2>&1 </dev/null").c_str());
  if (out) *out = slurp(tmpl);
  ::unlink(tmpl);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

const json& examples() {
  static const json j = [] {
    std::ifstream in(kModules + "/@octokit/webhooks-examples/api.github.com/index.json");
    return in ? json::parse(in) : json::array();
  }();
  return j;
}

/// The push example that creates refs/heads/master with one commit (Codertocat/Hello-World).
json push_example() {
  for (const auto& e : examples())
    if (e["name"] == "push")
      for (const auto& x : e["examples"])
        if (x.value("ref", "") == "refs/heads/master" && !x.value("deleted", true) &&
            x.contains("head_commit") && x["head_commit"].is_object())
          return x;
  return json();
}

std::string sign(const std::string& body) { return "sha256=" + hmac_sha256_hex(kSecret, body); }



/// @octokit/fixtures-server (through tests/http/serve-fixtures.mjs) serving the scenarios a
/// test built; the process ends with this object.
class Fixtures {
 public:
  ~Fixtures() {
    if (pid_ > 0) {
      ::close(stdin_);
      ::kill(-pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  /// Writes `scenarios` (name -> steps) and starts the server; "" or why not.
  std::string start(const fs::path& dir, const json& scenarios) {
    fs::create_directories(dir);
    for (const auto& [name, steps] : scenarios.items()) std::ofstream(dir / (name + ".json")) << steps.dump(2);
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return "pipe failed";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::execlp("node", "node", WFRUN_TESTS_HTTP_DIR "/serve-fixtures.mjs", dir.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    std::string line;
    char c;
    pollfd p{out[0], POLLIN, 0};
    while (::poll(&p, 1, 30000) > 0 && ::read(out[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(out[0]);
    std::smatch m;
    if (!std::regex_search(line, m, std::regex("PORT ([0-9]+)"))) return "the fixtures server did not start: " + line;
    port_ = std::stoi(m[1]);
    return "";
  }
  /// Loads scenario `name`; its base URL (`http://127.0.0.1:P/api.github.com/ID`).
  std::string load(const std::string& name) {
    httplib::Client c("127.0.0.1", port_);
    auto r = c.Post("/fixtures", json{{"scenario", name}}.dump(), "application/json");
    if (!r || r->status != 201) return "";
    return json::parse(r->body)["url"].get<std::string>();
  }
  /// "" when every request of the scenario at `base` was made; else what is pending.
  std::string pending(const std::string& base) {
    httplib::Client c("127.0.0.1", port_);
    const std::string path = base.substr(base.find('/', 8));
    auto r = c.Get((path + "/__done__").c_str(), {{"Accept", "application/vnd.github+json"}});
    if (!r) return "no answer";
    if (r->body.find("not found") != std::string::npos && r->body.find("Fixture") != std::string::npos) return "";
    return r->body;
  }
  /// What the fixtures server makes of `https://HOST/REST` in a scenario at `base`.
  static std::string rewritten(const std::string& base, const std::string& url) {
    const std::string id = base.substr(base.rfind('/') + 1);
    const std::string origin = base.substr(0, base.find('/', 8));
    std::smatch m;
    if (!std::regex_match(url, m, std::regex("https?://([^/]+)/(.*)"))) return url;
    return origin + "/" + m[1].str() + "/" + id + "/" + m[2].str();
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int port_ = 0;
};

/// One step of a scenario (the shape of tests/http/scenarios.cc); a request body is checked
/// against GitHub's OpenAPI description here.
json step(const std::string& method, const std::string& path, int status, const json& response,
          const json& body = nullptr, const std::string& auth = std::string("Bearer ") + kRepoToken) {
  json h = {{"accept", "application/vnd.github+json"}};
  if (!auth.empty()) h["authorization"] = auth;
  if (!body.is_null()) h["content-type"] = "application/json";
  json s = {{"scope", "https://api.github.com:443"},
            {"method", method},
            {"path", path},
            {"status", status},
            {"response", response},
            {"reqheaders", h},
            {"headers", {{"content-type", "application/json; charset=utf-8"}}}};
  if (!body.is_null()) {
    s["body"] = body;
    for (const auto& e : github_openapi()->check(method == "post" ? "POST" : method, path, body.dump()))
      ADD_FAILURE() << method << " " << path << ": " << e;
  }
  return s;
}

/// A status as the server must post it (run link with its key, context wfrun/test).
json status_body(const std::string& state, const std::string& description, const std::string& url) {
  return {{"state", state}, {"context", "wfrun/test"}, {"description", description}, {"target_url", url}};
}

/// A `wfrun serve` process in a scratch folder; killed at the end.
class ServeProcess {
 public:
  explicit ServeProcess(fs::path dir) : dir_(std::move(dir)) {}
  ~ServeProcess() { kill9(); }

  bool start() { return wfrun::serve::testing::start_serve(dir_, pid_, port_); }
  int stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void hup() const { ::kill(pid_, SIGHUP); }
  std::string log() const { return slurp(dir_ / "server.log"); }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30, 0);
    return c;
  }
  httplib::Result deliver(const std::string& body, const std::string& guid,
                          const std::string& event = "push") const {
    return client().Post("/webhook",
                         {{"X-GitHub-Event", event},
                          {"X-GitHub-Delivery", guid},
                          {"User-Agent", "GitHub-Hookshot/044aadd"},
                          {"X-Hub-Signature-256", sign(body)}},
                         body, "application/json");
  }
  httplib::Result get(const std::string& path, bool token = true) const {
    if (!token) return client().Get(path.c_str());
    return client().Get(path.c_str(), {{"Authorization", std::string("Bearer ") + kApiToken}});
  }
  json api(const std::string& path) const {
    auto r = get(path);
    if (!r || r->status != 200) return json();
    return json::parse(r->body, nullptr, false);
  }
  json run(std::int64_t id) const { return api("/api/runs/" + std::to_string(id)); }
  /// Waits until run `id` is `status`; returns the run.
  json wait_status(std::int64_t id, const std::string& status) const {
    json r;
    eventually([&] {
      r = run(id);
      return r.is_object() && r["status"] == status;
    }, kWait);
    return r;
  }
  /// Waits until run `id`'s report number `n` has `outcome`; returns the run.
  json wait_report(std::int64_t id, size_t n, const std::string& outcome, int min_attempts = 1,
                   double seconds = 60) const {
    json r;
    eventually(
        [&] {
          r = run(id);
          return r.is_object() && r["reports"].size() > n && r["reports"][n]["outcome"] == outcome &&
                 r["reports"][n]["attempts"].get<int>() >= min_attempts;
        },
        seconds);
    return r;
  }
  int port() const { return port_; }

 private:
  fs::path dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

/// Neither the server's log nor any file of its state (queue.db and its WAL, run folders)
/// holds `secret`; `allowed` names files that may (the stand-in child's env.txt dump).
void expect_nowhere(const fs::path& dir, const std::string& secret, const std::set<std::string>& allowed = {}) {
  EXPECT_EQ(slurp(dir / "server.log").find(secret), std::string::npos) << secret << " in server.log";
  for (auto& e : fs::recursive_directory_iterator(dir / "state")) {
    if (!e.is_regular_file() || allowed.count(e.path().filename().string())) continue;
    EXPECT_EQ(slurp(e.path()).find(secret), std::string::npos) << secret << " in " << e.path();
  }
}

// ---- units ----

ServerConfig link_config() {
  ServerConfig c;
  c.webhook_secret = "hook";
  c.public_url = "https://ci.example.com";
  return c;
}

TEST(RunLink, KeyIsAnHmacOfTheRunId) {
  ServerConfig c = link_config();
  const std::string k = run_key(c, 17);
  EXPECT_EQ(k, hmac_sha256_hex("hook", "run:17").substr(0, 32));
  EXPECT_EQ(run_link(c, 17), "https://ci.example.com/runs/17?key=" + k);
  EXPECT_TRUE(run_key_ok(c, 17, k));
  EXPECT_FALSE(run_key_ok(c, 18, k));  // one run's key opens no other run
  EXPECT_FALSE(run_key_ok(c, 17, k.substr(0, 31)));
  EXPECT_FALSE(run_key_ok(c, 17, ""));
  EXPECT_FALSE(run_key_ok(c, 17, hmac_sha256_hex("hook", "run:17")));  // the untruncated MAC
  // A dedicated links secret wins over the webhook secret.
  c.link_secret = "links";
  EXPECT_EQ(run_key(c, 17), hmac_sha256_hex("links", "run:17").substr(0, 32));
  EXPECT_FALSE(run_key_ok(c, 17, k));
  // The webhook's pending status is queued with the plain link: the reporter adds the key.
  EXPECT_EQ(with_run_key(c, 5, "https://ci.example.com/runs/5"), run_link(c, 5));
  EXPECT_EQ(with_run_key(c, 5, "https://ci.example.com/runs/55"), "https://ci.example.com/runs/55");
  EXPECT_EQ(with_run_key(c, 5, run_link(c, 5)), run_link(c, 5));
}

TEST(RunLink, LinksSecretFromTheConfig) {
  char e0[] = "HOOK=hook-secret", e1[] = "LINKS=links-secret";
  char* env[] = {e0, e1, nullptr};
  auto c = parse_config("webhook: {secret-env: HOOK}\nlinks: {secret-env: LINKS}\nrepositories: [o/r]\n",
                        "server.yaml", env);
  ASSERT_TRUE(c) << c.error().str();
  EXPECT_EQ(c->link_secret, "links-secret");
  EXPECT_EQ(run_key(*c, 1), hmac_sha256_hex("links-secret", "run:1").substr(0, 32));
  c = parse_config("webhook: {secret-env: HOOK}\nrepositories: [o/r]\n", "server.yaml", env);
  ASSERT_TRUE(c);
  EXPECT_EQ(run_key(*c, 1), hmac_sha256_hex("hook-secret", "run:1").substr(0, 32));
  c = parse_config("webhook: {secret-env: HOOK}\nlinks: {secret: x}\nrepositories: [o/r]\n", "server.yaml", env);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().str().substr(0, 45), "server.yaml:2:9: links: unknown key 'secret' ");
}

// ---- the server with the fixtures server ----

class ServeLoop : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (examples().empty()) why = "node_modules/@octokit/webhooks-examples is missing (npm ci)";
    else if (std::system("node --version >/dev/null 2>&1") != 0) why = "node is not on PATH";
    else if (!github_openapi()) why = "cannot load GitHub's OpenAPI description (npm ci)";
    if (!why.empty()) {
      if (npm_required()) FAIL() << why;
      GTEST_SKIP() << why;
    }
    char tmpl[] = "/tmp/wfrun-serve-loop-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ / "secret") << kSecret << "\n";
    std::ofstream(dir_ / "tokens") << kApiToken << "\n";
    std::ofstream(dir_ / "repo-token") << kRepoToken << "\n";
    server_ = std::make_unique<ServeProcess>(dir_);
  }
  void TearDown() override {
    server_.reset();
    fixtures_.reset();
    std::error_code ec;
    if (!dir_.empty() && !HasFailure()) fs::remove_all(dir_, ec);
  }
  /// Starts the fixtures server with `scenarios`.
  void fixtures(const json& scenarios) {
    fixtures_ = std::make_unique<Fixtures>();
    ASSERT_EQ(fixtures_->start(dir_ / "fixtures", scenarios), "");
  }
  /// server.yaml: the common part plus `extra` (github-api, public-url, runner, repositories).
  void config(const std::string& extra) {
    std::ofstream(dir_ / "server.yaml") << "listen: 127.0.0.1:0\n"
                                        << "webhook: {secret-file: secret}\n"
                                        << "api: {tokens-file: tokens}\n"
                                        << "state-dir: state\n"
                                        << "status-context: wfrun/test\n"
                                        << extra;
  }
  std::string gated_runner(const std::string& gate, const std::string& status) const {
    return "runner: [/bin/sh, " + std::string(WFRUN_GATED_RUNNER) + ", '" + gate + "', " + status + "]\n";
  }
  void start() { ASSERT_TRUE(server_->start()) << server_->log(); }
  ServerConfig keys() const {  // what run_key needs
    ServerConfig c;
    c.webhook_secret = kSecret;
    return c;
  }

  fs::path dir_;
  std::unique_ptr<Fixtures> fixtures_;
  std::unique_ptr<ServeProcess> server_;
};

const std::string kPublic = "https://ci.example.com";  // the public URL (rewritten per scenario)

TEST_F(ServeLoop, PendingThenFailureWithTheRunLink) {
  const json push = push_example();
  const std::string sha = push["after"];
  const std::string statuses = "/repos/Codertocat/Hello-World/statuses/" + sha;
  const std::string link = kPublic + "/runs/1?key=" + run_key(keys(), 1);
  fixtures({{"statuses", {step("post", statuses, 201, github_openapi()->example("status"),
                               status_body("pending", "queued", link)),
                          step("post", statuses, 201, github_openapi()->example("status"),
                               status_body("failure", "gated run: failure", link))}}});
  const std::string api = fixtures_->load("statuses");
  ASSERT_FALSE(api.empty());
  config("github-api: " + api + "\npublic-url: " + Fixtures::rewritten(api, kPublic + "/") +
         "\n" + gated_runner((dir_ / "go").string(), "failure") +
         "repositories:\n  - {repo: Codertocat/Hello-World, token-file: repo-token}\n");
  start();
  auto r = server_->deliver(push.dump(), "guid-1");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  // The pending status is posted while the run runs; then the run ends.
  json run = server_->wait_report(1, 0, "sent");
  ASSERT_EQ(run["reports"][0]["outcome"], "sent") << run.dump(2);
  std::ofstream(dir_ / "go") << "";
  run = server_->wait_report(1, 1, "sent");
  EXPECT_EQ(run["status"], "failure") << run.dump(2);
  ASSERT_EQ(run["reports"].size(), 2u) << run.dump(2);
  EXPECT_EQ(run["reports"][1]["state"], "failure");
  EXPECT_EQ(run["reports"][1]["context"], "wfrun/test");
  EXPECT_EQ(fixtures_->pending(api), "");

  // The link opens the run's page without a token; nothing else does.
  const std::string key = run_key(keys(), 1);
  EXPECT_EQ(run["url"], Fixtures::rewritten(api, link));
  r = server_->get("/runs/1?key=" + key, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");  // the dashboard
  // ... whose run page reads the run with the same key (the API, read-only).
  r = server_->get("/api/runs/1?key=" + key, false);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json page = json::parse(r->body);
  EXPECT_EQ(page["status"], "failure");
  EXPECT_NE(page["message"].get<std::string>().find("gated run: failure"), std::string::npos) << r->body;
  EXPECT_EQ(page["can_cancel"], false);
  EXPECT_EQ(page["can_rerun"], false);
  r = server_->get("/runs/1/log?key=" + key, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("build   | gated run"), std::string::npos) << r->body;
  for (const std::string& p : std::vector<std::string>{"/api/runs/1", "/api/runs/1?key=", "/api/runs/1?key=" + run_key(keys(), 2),
                               "/api/runs/1?key=" + std::string(32, '0'), "/api/runs/2?key=" + key,
                               "/api/runs?key=" + key, "/runs/1/log?key=" + run_key(keys(), 2),
                               "/runs/1x?key=" + key, "/runs"}) {
    r = server_->get(p, false);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << p;
    EXPECT_EQ(r->body, "{\"error\":\"unauthorized\"}\n") << p;
  }
  // The page itself holds no data: without a key it is the sign-in page.
  r = server_->get("/runs/1", false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");
  // An API token reads the run as well.
  r = server_->get("/api/runs/1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // No token in the server's log, the queue or the run's files.
  server_->stop();
  expect_nowhere(dir_, kRepoToken, {"env.txt"});
  expect_nowhere(dir_, kApiToken);
  expect_nowhere(dir_, kSecret);
}

TEST_F(ServeLoop, ApiFailureIsRecordedAndNeverFailsTheRun) {
  const json push = push_example();
  const std::string sha = push["after"];
  const std::string statuses = "/repos/Codertocat/Hello-World/statuses/" + sha;
  const std::string link = kPublic + "/runs/1?key=" + run_key(keys(), 1);
  fixtures({{"flaky", {step("post", statuses, 500,
                            {{"message", "Server Error"}, {"documentation_url", "https://docs.github.com/rest"}},
                            status_body("pending", "queued", link)),
                       step("post", statuses, 201, github_openapi()->example("status"),
                            status_body("error", "gated run: error", link))}}});
  const std::string api = fixtures_->load("flaky");
  ASSERT_FALSE(api.empty());
  config("github-api: " + api + "\npublic-url: " + Fixtures::rewritten(api, kPublic + "/") +
         "\n" + gated_runner((dir_ / "go").string(), "error") +
         "repositories:\n  - {repo: Codertocat/Hello-World, token-file: repo-token}\n");
  start();
  ASSERT_EQ(server_->deliver(push.dump(), "guid-1")->status, 202);
  // The 500 is recorded on the pending status, which waits for its next try.
  json run = server_->wait_report(1, 0, "pending", 1);
  ASSERT_EQ(run["reports"][0]["attempts"], 1) << run.dump(2);
  EXPECT_NE(run["reports"][0]["last_error"].get<std::string>().find("500"), std::string::npos) << run.dump(2);
  EXPECT_TRUE(run["reports"][0].contains("next_try"));
  EXPECT_EQ(run["status"], "running");
  std::ofstream(dir_ / "go") << "";
  // The run ends as its child said; the stale pending status is dropped, the final one sent.
  run = server_->wait_report(1, 1, "sent");
  EXPECT_EQ(run["status"], "error") << run.dump(2);
  EXPECT_EQ(run["reports"][0]["outcome"], "superseded") << run.dump(2);
  EXPECT_EQ(fixtures_->pending(api), "");
  auto m = server_->get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("wfrun_github_reports_total{result=\"retried\"} 1"), std::string::npos) << m->body;
  EXPECT_NE(m->body.find("wfrun_github_reports_total{result=\"sent\"} 1"), std::string::npos) << m->body;
  EXPECT_NE(server_->log().find("posting the pending status failed (will retry)"), std::string::npos);
  server_->stop();
  expect_nowhere(dir_, kRepoToken, {"env.txt"});
}

TEST_F(ServeLoop, GithubDownThenSighupRetriesAndReloadsTheRepositories) {
  const json push = push_example();
  const std::string sha = push["after"];
  const std::string link = kPublic + "/runs/1?key=" + run_key(keys(), 1);
  fixtures({{"late", {step("post", "/repos/Codertocat/Hello-World/statuses/" + sha, 201,
                           github_openapi()->example("status"), status_body("success", "gated run: success", link))}}});
  const std::string api = fixtures_->load("late");
  ASSERT_FALSE(api.empty());
  // GitHub is down: nothing listens where github-api points.
  const std::string public_url = Fixtures::rewritten(api, kPublic + "/");
  const std::string common = "public-url: " + public_url + "\n" + gated_runner("-", "success");
  config("github-api: http://127.0.0.1:1\n" + common +
         "repositories:\n  - {repo: Codertocat/Hello-World, token-file: repo-token}\n");
  start();
  ASSERT_EQ(server_->deliver(push.dump(), "guid-1")->status, 202);
  json run = server_->wait_report(1, 1, "pending", 1);
  EXPECT_EQ(run["status"], "success") << run.dump(2);
  EXPECT_FALSE(run["reports"][1]["last_error"].get<std::string>().empty()) << run.dump(2);
  auto m = server_->get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("wfrun_github_reports_total{result=\"retried\"}"), std::string::npos) << m->body;

  // octokit/octokit.rb is not configured yet.
  json other = push;
  other["repository"]["full_name"] = "octokit/octokit.rb";
  ASSERT_EQ(server_->deliver(other.dump(), "guid-2")->status, 403);
  // A broken file: logged, and the old configuration stays.
  std::ofstream(dir_ / "server.yaml", std::ios::app) << "max-concurrent: lots\n";
  server_->hup();
  ASSERT_TRUE(eventually([&] { return server_->log().find("reload failed") != std::string::npos; }, kWait));
  EXPECT_NE(server_->log().find("reload failed, keeping the old configuration: server.yaml:11:17: "
                                "max-concurrent: expected a whole number"),
            std::string::npos)
      << server_->log();
  EXPECT_EQ(server_->deliver(other.dump(), "guid-3")->status, 403);
  // GitHub is back, and octokit/octokit.rb is added (no token: no statuses).
  config("github-api: " + api + "\n" + common +
         "repositories:\n  - {repo: Codertocat/Hello-World, token-file: repo-token}\n"
         "  - repo: octokit/octokit.rb\n");
  server_->hup();
  ASSERT_TRUE(eventually([&] { return server_->log().find("reloaded the configuration") != std::string::npos; }, kWait));
  auto r = server_->deliver(other.dump(), "guid-4");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
  // The outbox's next try (5 s after the first) reaches GitHub.
  run = server_->wait_report(1, 1, "sent", 2);
  EXPECT_EQ(run["reports"][1]["outcome"], "sent") << run.dump(2);
  EXPECT_EQ(fixtures_->pending(api), "");
  EXPECT_EQ(server_->wait_status(2, "success")["reports"].size(), 0u);
  server_->stop();
  expect_nowhere(dir_, kRepoToken, {"env.txt"});
}

TEST_F(ServeLoop, GithubAppInstallationToken) {
  // The App's installation token (GitHub's OpenAPI example, made to expire in the future)
  // reaches the child as WFRUN_GIT_TOKEN, and the status is posted with it.
  json token = github_openapi()->example("installation-token");
  token["expires_at"] = "2099-01-01T00:00:00Z";
  const std::string app_token = token["token"];
  const std::string sha = push_example()["after"];
  const std::string link = kPublic + "/runs/1?key=" + run_key(keys(), 1);
  fixtures({{"app", {step("post", "/app/installations/1/access_tokens", 201, token, nullptr, ""),
                     step("post", "/app/installations/1/access_tokens", 201, token, nullptr, ""),
                     step("post", "/repos/Codertocat/Hello-World/statuses/" + sha, 201,
                          github_openapi()->example("status"), status_body("success", "gated run: success", link),
                          "Bearer " + app_token)}}});
  const std::string api = fixtures_->load("app");
  ASSERT_FALSE(api.empty());
  std::string out;
  ASSERT_EQ(shell("openssl genrsa -out " + q((dir_ / "app.pem").string()) + " 2048", &out), 0) << out;
  config("github-api: " + api + "\npublic-url: " + Fixtures::rewritten(api, kPublic + "/") + "\n" +
         gated_runner("-", "success") +
         "repositories:\n  - repo: Codertocat/Hello-World\n"
         "    app: {id: 1, key-file: app.pem, installation-id: 1}\n");
  start();
  // A manual run of a given commit: no pending status, so the requests come in one order.
  auto r = server_->client().Post("/api/runs", {{"Authorization", std::string("Bearer ") + kApiToken}},
                                  json{{"repo", "Codertocat/Hello-World"}, {"ref", "master"}, {"sha", sha}}.dump(),
                                  "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  json run = server_->wait_report(1, 0, "sent");
  EXPECT_EQ(run["status"], "success") << run.dump(2);
  EXPECT_EQ(fixtures_->pending(api), "");
  const std::string env = slurp(dir_ / "state/serve/runs/1/env.txt");
  EXPECT_NE(env.find("WFRUN_GIT_TOKEN=" + app_token + "\n"), std::string::npos);
  EXPECT_NE(env.find("WFRUN_GITHUB_TOKEN=" + app_token + "\n"), std::string::npos);
  server_->stop();
  expect_nowhere(dir_, app_token, {"env.txt"});
  expect_nowhere(dir_, "PRIVATE KEY");
}

TEST_F(ServeLoop, Tls) {
  std::string out;
  const std::string crt = (dir_ / "server.crt").string(), key = (dir_ / "server.key").string();
  ASSERT_EQ(shell("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
                  "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " + q(key) + " -out " + q(crt),
                  &out),
            0)
      << out;
  config("tls: {cert: server.crt, key: server.key}\n" + gated_runner("-", "success") +
         "repositories:\n  - repo: Codertocat/Hello-World\n");
  start();
  httplib::SSLClient c("localhost", server_->port());
  c.set_ca_cert_path(crt.c_str());
  c.enable_server_certificate_verification(true);
  c.set_read_timeout(30, 0);
  auto r = c.Get("/healthz");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);
  const std::string body = push_example().dump();
  r = c.Post("/webhook", {{"X-GitHub-Event", "push"}, {"X-GitHub-Delivery", "guid-tls"}, {"X-Hub-Signature-256", sign(body)}},
             body, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
  r = c.Get("/api/runs/1", {{"Authorization", std::string("Bearer ") + kApiToken}});
  ASSERT_TRUE(r);
  const std::string url = json::parse(r->body)["url"];
  EXPECT_EQ(url, "https://127.0.0.1:" + std::to_string(server_->port()) + "/runs/1?key=" + run_key(keys(), 1));
  // A client that does not trust the certificate gets nowhere, and plain HTTP is not served.
  httplib::SSLClient untrusting("localhost", server_->port());
  untrusting.enable_server_certificate_verification(true);
  untrusting.set_ca_cert_path("/dev/null");
  EXPECT_FALSE(untrusting.Get("/healthz"));
  auto plain = server_->client().Get("/healthz");
  EXPECT_TRUE(!plain || plain->status != 200);
  // The server survived all of it.
  r = c.Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// ---- the full loop: push -> clone from the git server -> real serve-run -> status ----

TEST_F(ServeLoop, FullLoopPushCloneRunReport) {
  // The git server; kRepoToken is the password of x-access-token (how a token clones).
  wfrun::testkit::GitHttpsServer git("alice", kRepoToken);
  if (std::string why = git.start(); !why.empty()) {
    if (wfrun::testkit::required("WFRUN_REQUIRE_LIGHTTPD") || !git.peer_missing()) FAIL() << why;
    GTEST_SKIP() << why;
  }
  const std::string repo = "acme/loop";
  const std::string clone = git.url(repo);
  const std::string ca = git.ca();
  // The repository: one workflow for main, whose job prints the sha, then waits for `release`.
  const std::string sha = git.seed(
      repo,
      {{".wfrun/workflows/ci.yaml",
        "on: {github: {branches: {only: main}}}\n"
        "jobs:\n  show:\n    uses: script@v1\n    with:\n      script: |\n"
        "        echo \"sha=$WFRUN_GIT_SHA\"\n"
        "        while [ ! -e " + (dir_ / "release").string() + " ]; do sleep 0.05; done\n"
        "        echo released\n"}},
      dir_ / "work");
  ASSERT_TRUE(std::regex_match(sha, std::regex("[0-9a-f]{40}"))) << sha;

  // The real push example, pointed at the repository.
  json push = push_example();
  push["ref"] = "refs/heads/main";
  push["after"] = sha;
  push["head_commit"]["id"] = sha;
  push["head_commit"]["message"] = "add ci";
  push["repository"]["full_name"] = repo;
  push["repository"]["clone_url"] = clone;
  const std::string statuses = "/repos/acme/loop/statuses/" + sha;
  const std::string link = kPublic + "/runs/1?key=" + run_key(keys(), 1);
  fixtures({{"loop", {step("post", statuses, 201, github_openapi()->example("status"), status_body("pending", "queued", link)),
                      step("post", statuses, 201, github_openapi()->example("status"),
                           status_body("success", "1 workflow succeeded", link))}}});
  const std::string api = fixtures_->load("loop");
  ASSERT_FALSE(api.empty());
  config("github-api: " + api + "\npublic-url: " + Fixtures::rewritten(api, kPublic + "/") + "\nca-file: " + ca +
         "\nrepositories:\n  - {repo: " + repo + ", token-file: repo-token, clone-url: '" + clone + "'}\n");
  start();
  auto r = server_->deliver(push.dump(), "guid-loop");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;

  // Follow the job's log while it runs: the sha arrives before the job may end.
  std::atomic<bool> saw_sha{false}, stream_done{false};
  std::string streamed;
  std::mutex mu;
  std::thread follower([&] {
    auto c = server_->client();
    c.set_read_timeout(120, 0);
    c.Get("/api/runs/1/jobs/show/log?follow=1", {{"Authorization", std::string("Bearer ") + kApiToken}},
          [&](const char* data, size_t n) {
            std::lock_guard lock(mu);
            streamed.append(data, n);
            if (streamed.find("sha=" + sha) != std::string::npos) saw_sha = true;
            return true;
          });
    stream_done = true;
  });
  struct Join {
    std::thread& t;
    const fs::path release;
    ~Join() {
      std::ofstream(release) << "";
      if (t.joinable()) t.join();
    }
  } join{follower, dir_ / "release"};
  json run = server_->wait_report(1, 0, "sent");
  EXPECT_EQ(run["reports"][0]["outcome"], "sent") << run.dump(2) << server_->log();
  ASSERT_TRUE(eventually([&] { return saw_sha.load(); }, kWait))
      << streamed << slurp(dir_ / "state/serve/runs/1/log");
  EXPECT_FALSE(stream_done.load());  // the job is still waiting
  std::ofstream(dir_ / "release") << "";
  ASSERT_TRUE(eventually([&] { return stream_done.load(); }, kWait));
  {
    std::lock_guard lock(mu);
    EXPECT_NE(streamed.find("released"), std::string::npos) << streamed;
  }

  run = server_->wait_report(1, 1, "sent");
  EXPECT_EQ(run["status"], "success") << run.dump(2) << slurp(dir_ / "state/serve/runs/1/log");
  EXPECT_EQ(run["message"], "1 workflow succeeded");
  EXPECT_EQ(fixtures_->pending(api), "");
  ASSERT_EQ(run["workflows"].size(), 1u) << run.dump(2);
  EXPECT_EQ(run["workflows"][0]["path"], ".wfrun/workflows/ci.yaml");
  ASSERT_EQ(run["workflows"][0]["jobs"].size(), 1u);
  EXPECT_EQ(run["workflows"][0]["jobs"][0]["state"], "succeeded");
  // The job's own log, from the run store.
  r = server_->get("/api/runs/1/jobs/show/log");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("sha=" + sha), std::string::npos) << r->body;

  // The status's link: the run page's data lists the job, and its logs work with the same key.
  const std::string key = run_key(keys(), 1);
  r = server_->get("/api/runs/1?key=" + key, false);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  json linked = json::parse(r->body);
  EXPECT_EQ(linked["sha"], sha);
  ASSERT_EQ(linked["workflows"][0]["jobs"].size(), 1u);
  EXPECT_EQ(linked["workflows"][0]["jobs"][0]["name"], "show");
  EXPECT_EQ(linked["workflows"][0]["jobs"][0]["state"], "succeeded");
  r = server_->get("/api/runs/1/jobs/show/log?key=" + key + "&from=-65536", false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("sha=" + sha), std::string::npos) << r->body;
  r = server_->get("/runs/1/jobs/show/log?key=" + key + "&workflow=.wfrun%2Fworkflows%2Fci.yaml", false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("sha=" + sha), std::string::npos) << r->body;
  server_->stop();
  expect_nowhere(dir_, kRepoToken);  // the real child: not even its environment is written
}

}  // namespace
