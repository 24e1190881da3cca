// Retries, rate limits, timeouts, headers and App tokens against a FAKE peer: a small local
// httplib server written for these tests (not GitHub, not a recording), used where exact
// timing and failure injection matter. Waits are injected or bounded to about a second.
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "base/fd.h"
#include "base/strings.h"
#include "http/github_app.h"
#include "http/github_client.h"

namespace wfrun::http {
namespace {

using namespace std::chrono_literals;

/// A local HTTP server on 127.0.0.1 and a free port, stopped on destruction.
class FakePeer {
 public:
  FakePeer() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakePeer() {
    server_.stop();
    thread_.join();
  }
  httplib::Server& server() { return server_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

struct Sleeps {
  std::mutex mu;
  std::vector<std::chrono::milliseconds> v;
};

ClientOptions options(const std::string& base, Sleeps* sleeps = nullptr) {
  ClientOptions o;
  o.base_url = base;
  o.auth.token = "tok123";
  o.retry.max_attempts = 3;
  o.retry.base_delay = 100ms;
  if (sleeps) {
    o.sleep = [sleeps](std::chrono::milliseconds d) {
      std::lock_guard l(sleeps->mu);
      sleeps->v.push_back(d);
    };
  }
  return o;
}

TEST(GithubFakePeer, SendsGithubHeadersUnderAPathPrefix) {
  FakePeer peer;
  httplib::Headers seen;
  peer.server().Get("/api/v3/repos/o/r", [&](const httplib::Request& req, httplib::Response& res) {
    seen = req.headers;
    res.set_content(R"({"full_name":"o/r"})", "application/json");
  });
  GithubClient c(options(peer.url() + "/api/v3/"));
  auto r = c.get("/repos/o/r");
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ((*r)["full_name"], "o/r");
  auto h = [&](const char* k) {
    auto it = seen.find(k);
    return it == seen.end() ? "" : it->second;
  };
  EXPECT_EQ(h("Accept"), "application/vnd.github+json");
  EXPECT_EQ(h("Authorization"), "Bearer tok123");
  EXPECT_EQ(h("X-GitHub-Api-Version"), "2022-11-28");
  EXPECT_EQ(h("User-Agent"), "wfrun/" WFRUN_VERSION " (+https://github.com/wfrun/wfrun)");
}

TEST(GithubFakePeer, RetriesServerErrorsWithBackoffAndJitter) {
  FakePeer peer;
  std::atomic<int> calls = 0;
  peer.server().Post("/repos/o/r/statuses/abc",
                     [&](const httplib::Request& req, httplib::Response& res) {
                       if (++calls < 3) {
                         res.status = calls == 1 ? 502 : 503;
                         return;
                       }
                       res.status = 201;
                       res.set_content(R"({"id":7})", "application/json");
                     });
  Sleeps sleeps;
  GithubClient c(options(peer.url(), &sleeps));
  auto id = c.create_status(Repo{"o", "r"}, "abc", {"success", "ci", "ok", ""});
  ASSERT_TRUE(id) << id.error().str();
  EXPECT_EQ(*id, 7);
  EXPECT_EQ(calls, 3);
  ASSERT_EQ(sleeps.v.size(), 2u);
  EXPECT_GE(sleeps.v[0], 50ms);
  EXPECT_LE(sleeps.v[0], 100ms);
  EXPECT_GE(sleeps.v[1], 100ms);
  EXPECT_LE(sleeps.v[1], 200ms);
}

TEST(GithubFakePeer, GivesUpOnServerErrorsWithGithubsMessage) {
  FakePeer peer;
  peer.server().Get("/x", [&](const httplib::Request&, httplib::Response& res) {
    res.status = 500;
    res.set_content(R"({"message":"Server Error"})", "application/json");
  });
  Sleeps sleeps;
  GithubClient c(options(peer.url(), &sleeps));
  auto r = c.get("/x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "GET " + peer.url() + "/x: 500 Server Error");
  EXPECT_EQ(sleeps.v.size(), 2u);
}

TEST(GithubFakePeer, NetworkErrorsAreRetriedThenReported) {
  int port;
  {
    FakePeer closed;  // a port that was free a moment ago and is closed now
    port = closed.port();
  }
  Sleeps sleeps;
  GithubClient c(options("http://127.0.0.1:" + std::to_string(port), &sleeps));
  auto r = c.get("/repos/o/r");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "GET http://127.0.0.1:" + std::to_string(port) +
                                     "/repos/o/r: could not connect (after 3 attempts)");
  EXPECT_EQ(sleeps.v.size(), 2u);
}

TEST(GithubFakePeer, WaitsAsToldByRetryAfter) {
  FakePeer peer;
  std::atomic<int> calls = 0;
  peer.server().Get("/x", [&](const httplib::Request&, httplib::Response& res) {
    if (++calls == 1) {
      res.status = 429;
      res.set_header("retry-after", "1");
      res.set_content(R"({"message":"slow down"})", "application/json");
      return;
    }
    res.set_content("{}", "application/json");
  });
  ClientOptions o = options(peer.url());  // the real sleep: one bounded wait of 1 s
  o.retry.max_rate_limit_wait = 2s;
  GithubClient c(o);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = c.get("/x");
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ(calls, 2);
  EXPECT_GE(took, 1s);
  EXPECT_LT(took, 3s);
}

TEST(GithubFakePeer, FailsWhenTheRateLimitResetsTooLate) {
  FakePeer peer;
  const auto now = std::chrono::system_clock::from_time_t(1700000000);
  peer.server().Get("/x", [&](const httplib::Request&, httplib::Response& res) {
    res.status = 403;
    res.set_header("x-ratelimit-remaining", "0");
    res.set_header("x-ratelimit-reset", "1700000600");
    res.set_content(
        R"({"message":"API rate limit exceeded","documentation_url":"https://docs.github.com/rl"})",
        "application/json");
  });
  Sleeps sleeps;
  ClientOptions o = options(peer.url(), &sleeps);
  o.now = [now] { return now; };
  o.retry.max_rate_limit_wait = 60s;
  GithubClient c(o);
  auto r = c.get("/x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "GET " + peer.url() +
                "/x: 403 API rate limit exceeded; see https://docs.github.com/rl: "
                "GitHub's rate limit is exhausted; it resets at 2023-11-14T22:23:20Z (in 10m01s), "
                "longer than the 1m00s wfrun waits");
  EXPECT_TRUE(sleeps.v.empty());
}

TEST(GithubFakePeer, ForbiddenWithoutRateLimitIsAnOrdinaryError) {
  FakePeer peer;
  peer.server().Get("/x", [&](const httplib::Request&, httplib::Response& res) {
    res.status = 403;
    res.set_header("x-ratelimit-remaining", "4999");
    res.set_content(
        R"({"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/x"})",
        "application/json");
  });
  Sleeps sleeps;
  GithubClient c(options(peer.url(), &sleeps));
  auto r = c.get("/x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "GET " + peer.url() +
                "/x: 403 Resource not accessible by integration; see https://docs.github.com/x");
  EXPECT_TRUE(sleeps.v.empty());
}

TEST(GithubFakePeer, ReadTimeoutIsAnErrorSoon) {
  FakePeer peer;
  peer.server().Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(1500ms);
    res.set_content("{}", "application/json");
  });
  ClientOptions o = options(peer.url());
  o.timeouts.read = 200ms;
  o.retry.max_attempts = 1;
  GithubClient c(o);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = c.get("/slow");
  ASSERT_FALSE(r);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1200ms);
  EXPECT_EQ(r.error().message(), "GET " + peer.url() +
                                     "/slow: the connection failed while reading the response "
                                     "(timeout or reset) (after 1 attempt)");
}

TEST(GithubFakePeer, NeverSendsCredentialsToAnotherHost) {
  FakePeer peer;
  peer.server().Get("/items", [&](const httplib::Request&, httplib::Response& res) {
    res.set_header("Link", "<http://127.0.0.2:" + std::to_string(peer.port()) +
                               "/items?page=2>; rel=\"next\"");
    res.set_content("[1]", "application/json");
  });
  GithubClient c(options(peer.url()));
  auto r = c.get_all("/items");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "refusing to send GitHub credentials to http://127.0.0.2:" +
                                     std::to_string(peer.port()) + " (not " + peer.url() + ")");
}

TEST(GithubFakePeer, FollowsSameHostRedirects) {
  FakePeer peer;
  peer.server().Patch("/repos/o/old", [&](const httplib::Request&, httplib::Response& res) {
    res.status = 307;
    res.set_header("Location", peer.url() + "/repositories/1");
  });
  std::string body;
  peer.server().Patch("/repositories/1", [&](const httplib::Request& req, httplib::Response& res) {
    body = req.body;
    res.set_content(R"({"id":1})", "application/json");
  });
  std::vector<SentRequest> sent;
  ClientOptions o = options(peer.url());
  o.on_request = [&](const SentRequest& s) { sent.push_back(s); };
  GithubClient c(o);
  auto r = c.patch("/repos/o/old", {{"name", "new"}});
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ(body, R"({"name":"new"})");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].followed_from, "location");
}

TEST(GithubFakePeer, AppInstallationTokenIsCachedAndRenewed) {
  Handle<EVP_PKEY, EVP_PKEY_free> key(EVP_RSA_gen(2048));
  Handle<BIO, BIO_free_all> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* pem = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &pem);

  FakePeer peer;
  auto now = std::chrono::system_clock::from_time_t(1700000000);
  std::atomic<int> tokens = 0;
  std::string jwt_auth, api_auth;
  peer.server().Post("/app/installations/5/access_tokens", [&](const httplib::Request& req,
                                                               httplib::Response& res) {
    jwt_auth = req.get_header_value("Authorization");
    ++tokens;
    res.status = 201;
    res.set_content(nlohmann::json{{"token", "ghs_" + std::to_string(tokens.load())},
                                   {"expires_at", format_github_time(now + 1h)}}
                        .dump(),
                    "application/json");
  });
  peer.server().Get("/x", [&](const httplib::Request& req, httplib::Response& res) {
    api_auth = req.get_header_value("Authorization");
    res.set_content("{}", "application/json");
  });
  ClientOptions o = options(peer.url());
  o.auth = Auth{"", AppCredentials{"42", std::string(pem, static_cast<size_t>(n)), 5, ""}};
  o.now = [&] { return now; };
  GithubClient c(o);
  ASSERT_TRUE(c.get("/x"));
  ASSERT_TRUE(c.get("/x"));
  EXPECT_EQ(tokens, 1);
  EXPECT_EQ(api_auth, "Bearer ghs_1");
  EXPECT_TRUE(starts_with(jwt_auth, "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9."));
  now += 56min;  // within 5 minutes of expiry: renewed
  ASSERT_TRUE(c.get("/x"));
  EXPECT_EQ(tokens, 2);
  EXPECT_EQ(api_auth, "Bearer ghs_2");
}

}  // namespace
}  // namespace wfrun::http
