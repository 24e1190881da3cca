// `wfrun serve`: the signature and config units, then a real `wfrun serve` process on a loopback
// port receiving real @octokit/webhooks-examples payloads, signed here. Runs are carried out by
// tests/serve/fake-serve-run.sh, a stand-in that keeps the serve-run contract, so these tests
// can decide how long a run takes (kill -9 and SIGTERM mid-run).

#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "http/serve/config.h"
#include "tests/serve/serve_process.h"
#include "http/serve/request_head.h"
#include "http/serve/signature.h"
#include "http/serve/webhook.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace wfrun::serve;

namespace {

const char* const kSecret = "test-webhook-secret";
const char* const kToken = "test-api-token";

const json& examples() {
  static const json j = [] {
    std::ifstream in(std::string(WFRUN_SOURCE_DIR) +
                     "/node_modules/@octokit/webhooks-examples/api.github.com/index.json");
    return in ? json::parse(in) : json::array();
  }();
  return j;
}

/// The `n`th example of `event` whose action is `action` ("" = any).
json example(const std::string& event, const std::string& action = "", int n = 0) {
  for (const auto& e : examples())
    if (e["name"] == event)
      for (const auto& x : e["examples"])
        if (action.empty() || x.value("action", "") == action)
          if (n-- == 0) return x;
  return json();
}

#define REQUIRE_EXAMPLES()                                                          \
  if (examples().empty()) {                                                         \
    if (std::getenv("WFRUN_REQUIRE_NPM")) FAIL() << "node_modules is missing";      \
    GTEST_SKIP() << "node_modules/@octokit/webhooks-examples is missing (npm ci)"; \
  }

std::string sign(const std::string& body, const std::string& secret = kSecret) {
  return "sha256=" + hmac_sha256_hex(secret, body);
}

/// application/x-www-form-urlencoded escaping, as GitHub sends the `payload` field.
std::string form_encode(const std::string& s) {
  std::string out;
  char buf[4];
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '*') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// ---- units ----

TEST(Signature, GithubTestVector) {
  EXPECT_EQ(hmac_sha256_hex("It's a Secret to Everybody", "Hello, World!"),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
  EXPECT_TRUE(verify_signature("It's a Secret to Everybody", "Hello, World!",
                               "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"));
  EXPECT_FALSE(verify_signature("It's a Secret to Everybody", "Hello, World!\n",
                                "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"));
  EXPECT_FALSE(verify_signature("x", "Hello, World!", ""));
  EXPECT_FALSE(verify_signature("x", "Hello, World!", "sha1=0123"));
}

// `executor:` says where the runs' jobs run; serve-run gets it from the same file.
TEST(Config, ExecutorBlock) {
  char env0[] = "HOOK=s3cret";
  char* env[] = {env0, nullptr};
  auto c = parse_config(
      "webhook: {secret-env: HOOK}\nrepositories: [o/r]\nexecutor: {kind: slurm, partition: gpu}\n",
      "server.yaml", env);
  ASSERT_TRUE(c) << c.error().str();
  ASSERT_TRUE(c->executor);
  EXPECT_EQ(c->executor->kind, "slurm");
  EXPECT_EQ(c->executor->slurm.placement.partition, "gpu");
  c = parse_config("webhook: {secret-env: HOOK}\nrepositories: [o/r]\n", "server.yaml", env);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->executor);
  c = parse_config(
      "webhook: {secret-env: HOOK}\nrepositories: [o/r]\nexecutor: {kind: slurm, qoss: x}\n",
      "server.yaml", env);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().str().substr(0, 57),
            "server.yaml:3:25: executor: unknown key 'qoss' (did you m");
}

TEST(Signature, IncrementalEqualsWhole) {
  // The front end computes the HMAC as the body arrives, in whatever pieces the socket gives.
  const std::string key = "It's a Secret to Everybody", body = "Hello, World!";
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    HmacSha256 h(key);
    h.update(std::string_view(body).substr(0, cut));
    h.update(std::string_view(body).substr(cut));
    const std::string mac = h.hex();
    EXPECT_EQ(mac, "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17") << cut;
    EXPECT_TRUE(signature_matches(mac, "sha256=" + mac));
    EXPECT_TRUE(signature_matches(mac, "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17"));
  }
  // An empty key is a valid HMAC key (RFC 2104), not a failure.
  EXPECT_EQ(hmac_sha256_hex("", ""), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  // The shape is checked before any comparison: 64 hex digits after `sha256=`.
  EXPECT_TRUE(signature_shaped("sha256=" + std::string(64, 'a')));
  EXPECT_FALSE(signature_shaped("sha256=" + std::string(63, 'a')));
  EXPECT_FALSE(signature_shaped("sha256=" + std::string(63, 'a') + "g"));
  EXPECT_FALSE(signature_shaped("sha1=" + std::string(40, 'a')));
  EXPECT_FALSE(signature_matches(std::string(64, 'a'), "sha256=" + std::string(63, 'a') + "g"));
}

TEST(RequestHead, FramingIsCheckedOnTheRawBytes) {
  auto parse = [](const std::string& headers, std::string* why = nullptr) {
    RequestHead h;
    std::string bytes, w;
    bool expect = false;
    const int status = parse_request_head("POST /webhook HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n", h,
                                          bytes, expect, &w);
    if (why) *why = w;
    return status;
  };
  std::string why;
  EXPECT_EQ(parse("Content-Length: 5\r\n"), 0);
  // The request-smuggling shape: once decoded as chunked and accepted.
  EXPECT_EQ(parse("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", &why), 400);
  EXPECT_EQ(why, "Content-Length and Transfer-Encoding together are not accepted");
  EXPECT_EQ(parse("Transfer-Encoding: chunked\r\n"), 411);
  EXPECT_EQ(parse("Content-Length: 5\r\nContent-Length: 6\r\n"), 400);
  EXPECT_EQ(parse("Content-Length: 5\r\nContent-Length: 5\r\n"), 0);
  EXPECT_EQ(parse("Content-Length: -5\r\n"), 400);
  EXPECT_EQ(parse("Content-Encoding: gzip\r\n"), 415);
  EXPECT_EQ(parse(std::string("X-GitHub-Event: ping\0push\r\n", 27), &why), 400);
  EXPECT_EQ(why, "header X-GitHub-Event: control characters are not accepted");
  EXPECT_EQ(parse(" folded\r\n"), 400);
  RequestHead h;
  std::string bytes;
  bool expect = false;
  EXPECT_EQ(parse_request_head("GET /a HTTP/2.0\r\n\r\n", h, bytes, expect, &why), 505);
  h.peer = "127.0.0.1";
  ASSERT_EQ(parse_request_head("GET /api/runs?x=1 HTTP/1.1\r\nACCEPT:  text/plain \r\n"
                               "Expect: 100-continue\r\n\r\n", h, bytes, expect, &why), 0);
  EXPECT_EQ(h.path, "/api/runs");
  EXPECT_EQ(h.header("Accept"), "text/plain");
  EXPECT_EQ(h.peer, "127.0.0.1");
  EXPECT_TRUE(expect);
  EXPECT_EQ(bytes.find("Expect"), std::string::npos);  // answered by the front end, not httplib
}

TEST(Config, ErrorsNameFileLineColumn) {
  auto c = parse_config("listen: 127.0.0.1:8080\nrepositories: [o/r]\n", "server.yaml");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().str(),
            "server.yaml:1:1: no webhook secret: add `webhook: {secret-file: FILE}` or `webhook: "
            "{secret-env: NAME}` (the secret you gave GitHub when you added the webhook); or poll "
            "every repository (`poll: 1m`; o/r has no `poll:`)");
  c = parse_config("repositories: [{repo: o/r, poll: 1m}, {repo: o/s, poll: 30s}]\n", "server.yaml");
  ASSERT_TRUE(c) << c.error().str();
  EXPECT_EQ(c->webhook_secret, "") << "polling only: no deliveries are taken";
  char env0[] = "HOOK=s3cret";
  char* env[] = {env0, nullptr};
  c = parse_config("webhook: {secret-env: HOOK}\nlistn: 1\nrepositories: [o/r]\n", "server.yaml", env);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().str().substr(0, 64),
            "server.yaml:2:1: unknown setting 'listn' (did you mean 'listen'?");
  c = parse_config("webhook: {secret-env: NOPE}\nrepositories: [o/r]\n", "server.yaml", env);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().str(),
            "server.yaml:1:23: webhook.secret-env: the environment variable NOPE is not set");
  c = parse_config("webhook: {secret-env: HOOK}\nmax-concurrent: 0\nrepositories: [o/r]\n",
                   "server.yaml", env);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().str(),
            "server.yaml:2:17: max-concurrent: expected a whole number from 1 to 256, not '0'");
  c = parse_config("webhook: {secret-env: HOOK}\nrepositories:\n  - repo: nope\n", "server.yaml", env);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().str(), "server.yaml:3:11: repositories[0]: 'nope' is not OWNER/NAME");
  c = parse_config("webhook: {secret: x}\nrepositories: [o/r]\n", "server.yaml", env);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().str().find("server.yaml:1:11: webhook: unknown key 'secret'"), std::string::npos);
  c = parse_config("webhook: {secret-env: HOOK}\nrepositories: [O/R]\n", "server.yaml", env);
  ASSERT_TRUE(c) << c.error().str();
  EXPECT_EQ(c->webhook_secret, "s3cret");
  EXPECT_NE(c->repo("o/r"), nullptr);  // GitHub names are case-insensitive
}

ServerConfig test_config() {
  char env0[] = "HOOK=test-webhook-secret";
  char* env[] = {env0, nullptr};
  auto c = parse_config(
      "webhook: {secret-env: HOOK}\nrepositories: [Codertocat/Hello-World, octokit/octokit.rb]\n",
      "server.yaml", env);
  EXPECT_TRUE(c);
  return *c;
}

TEST(Decide, RealPayloads) {
  REQUIRE_EXAMPLES();
  const ServerConfig cfg = test_config();
  auto decide_json = [&](const std::string& event, const json& p) {
    std::string body = p.dump();
    return decide(cfg, Delivery{event, "guid", sign(body), "application/json", body});
  };
  // push #4: refs/heads/master created with one commit.
  json push = example("push", "", 4);
  auto d = decide_json("push", push);
  ASSERT_EQ(d.status, 202) << d.body;
  ASSERT_EQ(d.runs.size(), 1u);
  EXPECT_EQ(d.runs[0].ref, "refs/heads/master");
  EXPECT_EQ(d.runs[0].sha, push["after"]);
  EXPECT_EQ(d.runs[0].clone_url, "https://github.com/Codertocat/Hello-World.git");
  // push #1 deletes a tag.
  d = decide_json("push", example("push", "", 1));
  EXPECT_EQ(d.status, 202);
  EXPECT_EQ(d.body, R"({"ignored":"the push deleted refs/tags/simple-tag"})");
  // [skip ci] in the head commit.
  json skip = push;
  skip["head_commit"]["message"] = "bump version [skip ci]";
  EXPECT_EQ(decide_json("push", skip).result, "ignored");
  // pull_request opened (same repo) runs; closed does not.
  json pr = example("pull_request", "opened");
  ASSERT_FALSE(pr.is_null());
  d = decide_json("pull_request", pr);
  if (pr["pull_request"]["head"]["repo"]["full_name"] == pr["pull_request"]["base"]["repo"]["full_name"] &&
      cfg.repo(pr["repository"]["full_name"])) {
    EXPECT_EQ(d.status, 202) << d.body;
    ASSERT_EQ(d.runs.size(), 1u);
    EXPECT_EQ(d.runs[0].base_ref, "refs/heads/" + pr["pull_request"]["base"]["ref"].get<std::string>());
  }
  EXPECT_EQ(decide_json("pull_request", example("pull_request", "closed")).result, "ignored");
  // Forks only when allowed.
  json fork = pr;
  fork["pull_request"]["head"]["repo"]["full_name"] = "someone/fork";
  fork["repository"]["full_name"] = "Codertocat/Hello-World";
  fork["pull_request"]["base"]["repo"]["full_name"] = "Codertocat/Hello-World";
  EXPECT_EQ(decide_json("pull_request", fork).body,
            R"x({"ignored":"pull requests from forks are not allowed (allow-forks: false)"})x");
  // Bad signature: nothing parsed.
  d = decide(cfg, Delivery{"push", "g", sign("other"), "application/json", "not json"});
  EXPECT_EQ(d.status, 401);
  d = decide(cfg, Delivery{"push", "g", sign("not json"), "application/json", "not json"});
  EXPECT_EQ(d.status, 400);
  // No secret (a server that only polls): even a body signed with the empty key is refused.
  ServerConfig polling = cfg;
  polling.webhook_secret.clear();
  const std::string body = push.dump();
  d = decide(polling, Delivery{"push", "g", "sha256=" + hmac_sha256_hex("", body), "application/json", body});
  EXPECT_EQ(d.status, 403);
  EXPECT_EQ(d.result, "no_webhooks");
  EXPECT_TRUE(d.runs.empty());
}

TEST(Decide, FormEncoded) {
  EXPECT_EQ(form_value("a=1&payload=%7B%22x%22%3A+1%7D", "payload"), "{\"x\": 1}");
  EXPECT_EQ(form_value("a=1", "payload"), "");
}

// ---- the server process ----

/// A `wfrun serve` process in a scratch folder; killed (and the folder removed) at the end.
class ServeProcess {
 public:
  explicit ServeProcess(const fs::path& dir) : dir_(dir) {}
  ~ServeProcess() { kill9(); }

  void write_config(const std::string& extra, double run_seconds) {
    std::ofstream(dir_ / "secret") << kSecret << "\n";
    std::ofstream(dir_ / "tokens") << kToken << "\n";
    std::ofstream(dir_ / "repo-token") << "ghp_repotoken123\n";
    std::ofstream(dir_ / "server.yaml")
        << "listen: 127.0.0.1:0\n"
        << "webhook: {secret-file: secret}\n"
        << "api: {tokens-file: tokens}\n"
        << "state-dir: state\n"
        << "runner: [/bin/sh, " << WFRUN_FAKE_RUNNER << ", '" << run_seconds << "']\n"
        << "repositories:\n  - repo: Codertocat/Hello-World\n  - repo: octokit/octokit.rb\n"
        << extra;
  }

  bool start() { return wfrun::serve::testing::start_serve(dir_, pid_, port_); }

  /// SIGTERM, then waits; returns the exit code.
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

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(20, 0);
    return c;
  }
  httplib::Result deliver(const std::string& event, const std::string& body, const std::string& guid,
                          const std::string& content_type = "application/json") const {
    return client().Post("/webhook",
                         {{"X-GitHub-Event", event},
                          {"X-GitHub-Delivery", guid},
                          {"User-Agent", "GitHub-Hookshot/044aadd"},
                          {"X-Hub-Signature-256", sign(body)}},
                         body, content_type.c_str());
  }
  json api_get(const std::string& path) const {
    auto r = client().Get(path.c_str(), {{"Authorization", std::string("Bearer ") + kToken}});
    if (!r || r->status != 200) return json();
    return json::parse(r->body, nullptr, false);
  }
  /// Waits (up to 60 s) until run `id` has `status`; returns the run.
  json wait_status(std::int64_t id, const std::string& status) const {
    json r;
    for (int i = 0; i < 600; ++i) {
      r = api_get("/api/runs/" + std::to_string(id));
      if (r.is_object() && r["status"] == status) return r;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return r;
  }
  int port() const { return port_; }
  const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

class Serve : public ::testing::Test {
 protected:
  void SetUp() override {
    if (examples().empty()) {
      if (std::getenv("WFRUN_REQUIRE_NPM")) FAIL() << "node_modules is missing";
      GTEST_SKIP() << "node_modules/@octokit/webhooks-examples is missing (npm ci)";
    }
    char tmpl[] = "/tmp/wfrun-serve-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    server_ = std::make_unique<ServeProcess>(dir_);
  }
  void TearDown() override {
    server_.reset();
    std::error_code ec;
    if (!dir_.empty() && !HasFailure()) fs::remove_all(dir_, ec);
  }
  void start(const std::string& extra = "", double run_seconds = 0) {
    server_->write_config(extra, run_seconds);
    ASSERT_TRUE(server_->start()) << "see " << (dir_ / "server.log");
  }
  std::string push_body() const { return example("push", "", 4).dump(); }

  fs::path dir_;
  std::unique_ptr<ServeProcess> server_;
};

TEST_F(Serve, DeliveriesAndAnswers) {
  start();
  const std::string body = push_body();
  auto r = server_->deliver("push", body, "guid-1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(json::parse(r->body), json::parse(R"({"runs":[1]})"));
  // A redelivery queues nothing and answers with the original run.
  r = server_->deliver("push", body, "guid-1");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body), json::parse(R"({"runs":[1],"duplicate":true})"));
  // Form-encoded, signed as sent.
  std::string form = "payload=" + form_encode(body);
  r = server_->deliver("push", form, "guid-2", "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
  EXPECT_EQ(json::parse(r->body), json::parse(R"({"runs":[2]})"));
  // Bad and missing signatures.
  auto c = server_->client();
  r = c.Post("/webhook", {{"X-GitHub-Event", "push"}, {"X-Hub-Signature-256", sign(body, "wrong")}},
             body, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = c.Post("/webhook", {{"X-GitHub-Event", "push"}}, body, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  // Not JSON; a repository that is not configured; ping; an event that starts nothing.
  r = server_->deliver("push", "this is not json", "guid-3");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  json other = example("push", "", 4);
  other["repository"]["full_name"] = "someone/else";
  r = server_->deliver("push", other.dump(), "guid-4");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  r = server_->deliver("ping", example("ping").dump(), "guid-5");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = server_->deliver("issues", example("issues").dump(), "guid-6");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(r->body, "{\"ignored\":\"event 'issues' starts no runs\"}\n");
  // Unknown route; the API without a token, for routes that exist and routes that do not.
  r = c.Get("/nope");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  for (const char* p : {"/api/runs", "/api/runs/1", "/api/secret-things", "/metrics"}) {
    r = c.Get(p, {{"Authorization", "Bearer wrong"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << p;
    EXPECT_EQ(r->body, "{\"error\":\"unauthorized\"}\n");
  }
  r = c.Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);

  // The runs finish (the fake child), and the API and metrics show them.
  json run = server_->wait_status(1, "success");
  EXPECT_EQ(run["status"], "success") << run.dump();
  EXPECT_EQ(run["message"], "fake run done");
  EXPECT_EQ(run["ref"], "refs/heads/master");
  r = c.Get("/api/runs/1/log", {{"Authorization", std::string("Bearer ") + kToken}});
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("build   | hello from the job"), std::string::npos) << r->body;
  // The child got the contract's files and no server secret.
  const fs::path rd = dir_ / "state/serve/runs/1";
  json req = json::parse(std::ifstream(rd / "request.json"));
  EXPECT_EQ(req["run_id"], 1);
  EXPECT_EQ(req["event"], "push");
  EXPECT_EQ(req["repo"], "Codertocat/Hello-World");
  EXPECT_EQ(req["delivery"], "guid-1");
  EXPECT_EQ(json::parse(std::ifstream(rd / "payload-seen.json")), json::parse(body));
  // The payload is kept once, in queue.db: the child's copy went with the child.
  EXPECT_FALSE(fs::exists(rd / "payload.json"));
  std::stringstream env;
  env << std::ifstream(rd / "env.txt").rdbuf();
  EXPECT_EQ(env.str().find(kSecret), std::string::npos);
  EXPECT_EQ(env.str().find(kToken), std::string::npos);
  server_->wait_status(2, "success");
  r = c.Get("/metrics", {{"Authorization", std::string("Bearer ") + kToken}});
  ASSERT_TRUE(r);
  for (const char* want :
       {"wfrun_webhook_deliveries_total{event=\"push\",result=\"queued\"} 2",
        "wfrun_webhook_deliveries_total{event=\"push\",result=\"duplicate\"} 1",
        "wfrun_webhook_deliveries_total{event=\"unverified\",result=\"bad_signature\"} 2",
        "wfrun_webhook_deliveries_total{event=\"push\",result=\"forbidden\"} 1",
        "wfrun_webhook_deliveries_total{event=\"ping\",result=\"ping\"} 1",
        "wfrun_runs{status=\"success\"} 2", "wfrun_queue_depth 0",
        "wfrun_run_duration_seconds_count 2"})
    EXPECT_NE(r->body.find(want), std::string::npos) << want << "\n" << r->body;
  EXPECT_EQ(server_->stop(), 0);
}

TEST_F(Serve, OversizedBodyIsRefusedUnread) {
  start();
  // Headers announce 30 MB; only a few bytes follow. The answer must come without the rest.
  httplib::Client c("127.0.0.1", server_->port());
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(server_->port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  std::string req =
      "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "X-GitHub-Event: push\r\nContent-Length: 31457280\r\n\r\n{\"a\":";
  ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  char buf[256] = {};
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf).substr(0, 12), "HTTP/1.1 413");
  // A slow client that stops mid-headers does not stop others.
  fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::write(fd, "POST /webhook HTTP/1.1\r\nHost", 28), 28);
  auto r = c.Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  ::close(fd);
}

TEST_F(Serve, HundredDeliveriesAtOnceGiveHundredRuns) {
  start("max-concurrent: 4\n");
  const std::string body = push_body();
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<std::int64_t> ids;
  int failures = 0;
  for (int t = 0; t < 10; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        auto r = server_->deliver("push", body, "guid-" + std::to_string(t) + "-" + std::to_string(i));
        std::lock_guard lock(mu);
        if (!r || r->status != 202) {
          ++failures;
          continue;
        }
        const json answer = json::parse(r->body);
        for (const auto& id : answer["runs"]) ids.insert(id.get<std::int64_t>());
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(ids.size(), 100u);
  json list = server_->api_get("/api/runs?limit=500");
  EXPECT_EQ(list["runs"].size(), 100u);
  json page = server_->api_get("/api/runs?limit=30");
  EXPECT_EQ(page["runs"].size(), 30u);
  EXPECT_EQ(page["next"], "/api/runs?limit=30&before=71");
}

TEST_F(Serve, KillDashNineThenRestartRequeuesOnce) {
  start("", 30);
  auto r = server_->deliver("push", push_body(), "guid-k");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202);
  ASSERT_EQ(server_->wait_status(1, "running")["status"], "running");
  server_->kill9();
  ASSERT_TRUE(server_->start());
  json run = server_->wait_status(1, "success");
  EXPECT_EQ(run["status"], "success") << run.dump();
  EXPECT_EQ(run["interruptions"], 1);
  EXPECT_EQ(run["attempts"], 2);
}

TEST_F(Serve, SigtermCancelsRunsAfterTheGracePeriod) {
  start("shutdown-grace: 1s\ncancel-grace: 10s\n", 30);
  auto r = server_->deliver("push", push_body(), "guid-t");
  ASSERT_TRUE(r);
  ASSERT_EQ(server_->wait_status(1, "running")["status"], "running");
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(server_->stop(), 0);
  // Far less than the run's 30 s: the grace period, then SIGTERM to the child.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(25));
  ASSERT_TRUE(server_->start());
  json run = server_->api_get("/api/runs/1");
  EXPECT_EQ(run["status"], "cancelled") << run.dump();
  EXPECT_EQ(run["interruptions"], 0);
}

TEST_F(Serve, SigtermLetsShortRunsFinish) {
  start("shutdown-grace: 60s\n", 1);
  auto r = server_->deliver("push", push_body(), "guid-s");
  ASSERT_TRUE(r);
  ASSERT_EQ(server_->wait_status(1, "running")["status"], "running");
  EXPECT_EQ(server_->stop(), 0);
  ASSERT_TRUE(server_->start());
  EXPECT_EQ(server_->api_get("/api/runs/1")["status"], "success");
}

TEST_F(Serve, ManualRunsAndCancel) {
  start("", 30);
  auto c = server_->client();
  httplib::Headers auth = {{"Authorization", std::string("Bearer ") + kToken}};
  auto r = c.Post("/api/runs", auth,
                  R"({"repo":"codertocat/hello-world","ref":"main","workflow":".wfrun/workflows/a.yaml","inputs":{"n":"3"}})",
                  "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  EXPECT_EQ(json::parse(r->body)["runs"][0], 1);
  r = c.Post("/api/runs", auth, R"({"repo":"x/y","ref":"main"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  ASSERT_EQ(server_->wait_status(1, "running")["status"], "running");
  // The run is marked running when the dispatcher claims it, a moment before it writes the
  // run's folder and starts the child: wait for the child's sign of life instead.
  const fs::path folder = dir_ / "state/serve/runs/1";
  for (int i = 0; i < 500 && !fs::exists(folder / "log"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  json req = json::parse(std::ifstream(folder / "request.json"));
  EXPECT_EQ(req["event"], "manual");
  EXPECT_EQ(req["ref"], "refs/heads/main");
  EXPECT_EQ(req["workflow"], ".wfrun/workflows/a.yaml");
  EXPECT_EQ(req["inputs"]["n"], "3");
  r = c.Post("/api/runs/1/cancel", auth, "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  json run = server_->wait_status(1, "cancelled");
  EXPECT_EQ(run["status"], "cancelled") << run.dump();
  r = c.Post("/api/runs/99/cancel", auth, "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

}  // namespace
