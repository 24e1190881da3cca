// `wfrun serve` polling (http/serve/poller.h) without a server: the `poll:` setting, what a
// listing means against the heads seen before, the backoff, and the queue's polling tables.
// The server end to end is in serve_poll_test.cc.

#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "http/serve/config.h"
#include "http/serve/poller.h"
#include "http/serve/queue.h"

namespace fs = std::filesystem;
using namespace wfrun::serve;

namespace {

TEST(PollConfig, IntervalIsValidatedWithFileLineColumn) {
  char* env[] = {const_cast<char*>("HOOK=x"), nullptr};
  auto c = parse_config("webhook: {secret-env: HOOK}\nrepositories:\n  - {repo: o/r, poll: 30s}\n",
                        "server.yaml", env);
  ASSERT_TRUE(c) << c.error().str();
  EXPECT_EQ(c->repositories[0].poll, 30);
  c = parse_config("webhook: {secret-env: HOOK}\nrepositories: [o/r]\n", "server.yaml", env);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->repositories[0].poll, 0) << "the default stays webhook-only";
  c = parse_config("webhook: {secret-env: HOOK}\nrepositories:\n  - repo: o/r\n    poll: 500ms\n",
                   "server.yaml", env);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().str().rfind("server.yaml:4:11: repositories[0].poll:", 0), 0u) << c.error().str();
  c = parse_config("webhook: {secret-env: HOOK}\nrepositories:\n  - repo: o/r\n    poll: 0s\n",
                   "server.yaml", env);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().str().find("server.yaml:4:11: repositories[0].poll: must be from 1s to 1d"),
            std::string::npos)
      << c.error().str();
  c = parse_config("webhook: {secret-env: HOOK}\nrepositories:\n  - {repo: o/r, pol: 1m}\n",
                   "server.yaml", env);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().str().find("did you mean 'poll'"), std::string::npos) << c.error().str();
}

TEST(PollDiff, NewMovedGoneAndReopened) {
  std::map<std::string, std::string> seen = {{"refs/heads/main", "a"},
                                             {"refs/heads/old", "b"},
                                             {"refs/pull/3/closed", "c"},
                                             {"refs/pull/4/head", "d"}};
  auto head = [](std::string ref, std::string sha) {
    PolledHead h;
    h.ref = std::move(ref);
    h.sha = std::move(sha);
    return h;
  };
  std::vector<PolledHead> heads = {head("refs/heads/main", "a2"), head("refs/heads/new", "n")};
  auto d = diff_heads("refs/heads/", heads, seen);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].ref, "refs/heads/main");
  EXPECT_EQ(d[0].before, "a");
  EXPECT_EQ(d[0].after, "a2");
  EXPECT_EQ(d[1].ref, "refs/heads/new");
  EXPECT_EQ(d[1].before, "");
  EXPECT_EQ(d[2].ref, "refs/heads/old");
  EXPECT_EQ(d[2].after, "") << "gone";
  std::vector<PolledHead> pulls = {head("refs/pull/3/head", "c")};
  d = diff_heads("refs/pull/", pulls, seen);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].action, "reopened");
  EXPECT_EQ(d[1].ref, "refs/pull/4/head");
  EXPECT_EQ(d[1].action, "closed");
}

TEST(PollBackoff, DoublesUpToTenMinutesNeverBelowTheInterval) {
  EXPECT_EQ(Poller::backoff(30, 1), 30);
  EXPECT_EQ(Poller::backoff(30, 2), 60);
  EXPECT_EQ(Poller::backoff(30, 3), 120);
  EXPECT_EQ(Poller::backoff(30, 30), 600);
  EXPECT_EQ(Poller::backoff(3600, 5), 3600);
}

TEST(PollQueue, SeenHeadsAndTheOtherSourceDedupe) {
  char tmpl[] = "/tmp/wfrun-poll-q-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  auto q = Queue::open(tmpl);
  ASSERT_TRUE(q) << q.error().str();
  auto refs = (*q)->polled_refs("o/r");
  ASSERT_TRUE(refs);
  EXPECT_FALSE(refs->has_value()) << "never polled";
  RunRequest r;
  r.event = "push";
  r.repo = "o/r";
  r.ref = "refs/heads/main";
  r.sha = std::string(40, 'a');
  // A webhook delivery queues run 1.
  Submission hook;
  hook.delivery = "guid-1";
  hook.event = "push";
  hook.runs = {r};
  auto got = (*q)->submit(hook);
  ASSERT_TRUE(got) << got.error().str();
  ASSERT_EQ(got->runs, std::vector<std::int64_t>{1});
  // Polling finds the same push: nothing new is queued, but the head is recorded.
  Submission polled;
  polled.delivery = "poll:1";
  polled.event = "push";
  polled.source = "poll";
  polled.runs = {r};
  polled.seen = {{"o/r", "refs/heads/main", r.sha}, {"o/r", "", "polled"}};
  got = (*q)->submit(polled);
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->duplicate);
  EXPECT_EQ(got->runs, std::vector<std::int64_t>{1});
  refs = (*q)->polled_refs("O/R");  // GitHub's names are case-insensitive
  ASSERT_TRUE(refs && refs->has_value());
  EXPECT_EQ((**refs), (std::map<std::string, std::string>{{"refs/heads/main", r.sha}}));
  // A second webhook delivery of the same push (GitHub's Redeliver) still runs, as before.
  hook.delivery = "guid-2";
  got = (*q)->submit(hook);
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->duplicate);
  fs::remove_all(tmpl);
}

}  // namespace
