// The client against recorded GitHub API exchanges (@octokit/fixtures via
// @octokit/fixtures-server, adapted to today's headers) and scenarios built from GitHub's
// OpenAPI examples. After each test, every request the client sent is checked against
// GitHub's OpenAPI description, and the scenario must be used up.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "base/strings.h"
#include "http/github_client.h"
#include "http/github_report.h"
#include "http/large_files.h"
#include "tests/http/openapi_check.h"
#include "tests/http/peers.h"

namespace wfrun::http {
namespace {

using namespace std::chrono_literals;
using testing::peers;

const std::string kSha1 = "0000000000000000000000000000000000000001";
const std::string kSha2 = "0000000000000000000000000000000000000002";
const std::string kToken = "0000000000000000000000000000000000000001";
const std::string kExampleSha = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

class GithubFixtures : public ::testing::Test {
 protected:
  void SetUp() override { REQUIRE_PEERS(); }

  void TearDown() override {
    if (!peers().skip_reason.empty() || !peers().failure.empty() || HasFatalFailure()) return;
    // Every request must be a GitHub operation; URLs from Link/Location may be id-based.
    for (const auto& p :
         testing::check_requests(*peers().spec, sent_, "/(api|uploads)\\.github\\.com/[0-9a-z]+")) {
      ADD_FAILURE() << "not a valid GitHub API request: " << p;
    }
    if (!base_.empty() && expect_done_) {
      auto done = testing::scenario_done(base_);
      EXPECT_TRUE(done) << done.error().message();
    }
  }

  GithubClient client(const std::string& scenario, Auth auth = Auth{kToken, {}}) {
    auto base = testing::load_scenario(scenario);
    EXPECT_TRUE(base) << base.error().message();
    base_ = base ? *base : "http://127.0.0.1:1";
    ClientOptions o;
    o.base_url = base_;
    o.auth = std::move(auth);
    o.retry.max_attempts = 1;
    o.sleep = [this](std::chrono::milliseconds d) { sleeps_.push_back(d); };
    o.on_request = [this](const SentRequest& r) { sent_.push_back(r); };
    return GithubClient(o);
  }

  std::string base_;
  bool expect_done_ = true;
  std::vector<SentRequest> sent_;
  std::vector<std::chrono::milliseconds> sleeps_;
};

TEST_F(GithubFixtures, CreateStatus) {
  auto c = client("create-status");
  const Repo repo{"octokit-fixture-org", "create-status"};
  auto id = c.create_status(
      repo, kSha1, {"failure", "example/1", "create-status failure test", "https://example.com"});
  ASSERT_TRUE(id) << id.error().str();
  EXPECT_EQ(*id, 1000);
  id = c.create_status(
      repo, kSha1, {"success", "example/2", "create-status success test", "https://example.com"});
  ASSERT_TRUE(id) << id.error().str();
  EXPECT_EQ(*id, 1001);
  auto list = c.get_all(repo.path() + "/commits/" + kSha1 + "/statuses");
  ASSERT_TRUE(list) << list.error().str();
  EXPECT_EQ(list->size(), 2u);
  auto combined = c.combined_status(repo, kSha1);
  ASSERT_TRUE(combined) << combined.error().str();
  EXPECT_EQ(*combined, "failure");
}

TEST_F(GithubFixtures, GitRefs) {
  auto c = client("git-refs");
  const Repo repo{"octokit-fixture-org", "git-refs"};
  auto refs = c.list_refs(repo, "heads");
  ASSERT_TRUE(refs) << refs.error().str();
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_EQ((*refs)[0], std::make_pair(std::string("refs/heads/main"), kSha1));
  ASSERT_TRUE(c.create_ref(repo, "refs/heads/test", kSha2));
  ASSERT_TRUE(c.update_ref(repo, "heads/test", kSha1));
  refs = c.list_refs(repo, "heads");
  ASSERT_TRUE(refs) << refs.error().str();
  EXPECT_EQ(refs->size(), 2u);
  auto del = c.delete_ref(repo, "refs/heads/test");
  EXPECT_TRUE(del) << del.error().str();
}

TEST_F(GithubFixtures, CreateFile) {
  auto c = client("create-file");
  auto fc = c.put_file(Repo{"octokit-fixture-org", "create-file"}, "test.txt", "Test content",
                       "create test.txt");
  ASSERT_TRUE(fc) << fc.error().str();
  EXPECT_EQ(fc->content_sha.size(), 40u);
  EXPECT_EQ(fc->commit_sha.size(), 40u);
}

TEST_F(GithubFixtures, GetContentRaw) {
  auto c = client("get-content");
  auto text = c.get_file(Repo{"octokit-fixture-org", "hello-world"}, "README.md");
  ASSERT_TRUE(text) << text.error().str();
  EXPECT_EQ(*text, "# hello-world");
}

TEST_F(GithubFixtures, PaginatesThroughLinkNext) {
  auto c = client("paginate-issues");
  auto issues = c.get_all("/repos/octokit-fixture-org/paginate-issues/issues?per_page=3");
  ASSERT_TRUE(issues) << issues.error().str();
  ASSERT_EQ(issues->size(), 13u);
  EXPECT_EQ((*issues)[0]["number"], 13);
  EXPECT_EQ((*issues)[12]["number"], 1);
  ASSERT_EQ(sent_.size(), 5u);
  EXPECT_EQ(sent_[4].followed_from, "link");
  EXPECT_NE(sent_[4].url.find("/repositories/1000/issues?per_page=3&page=5"), std::string::npos);
}

TEST_F(GithubFixtures, ErrorsShowGithubsMessageAndDocumentation) {
  auto c = client("errors");
  auto r =
      c.post("/repos/octokit-fixture-org/errors/labels", {{"name", "foo"}, {"color", "invalid"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "POST " + base_ +
                "/repos/octokit-fixture-org/errors/labels: 422 Validation Failed "
                "(Label.color invalid); see " +
                testing::rewritten(base_,
                                   "https://docs.github.com/rest/reference/issues#create-a-label"));
}

TEST_F(GithubFixtures, BadCredentials) {
  auto c = client("synthetic-bad-credentials");
  auto r = c.get_ref(Repo{"octocat", "Hello-World"}, "refs/heads/main");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "GET " + base_ +
                "/repos/octocat/Hello-World/git/ref/heads/main: 401 Bad credentials; see " +
                testing::rewritten(base_, "https://docs.github.com/rest") +
                " (check the token or the App's key, and that it has not expired)");
}

TEST_F(GithubFixtures, ReleaseAssets) {
  auto c = client("release-assets");
  const Repo repo{"octokit-fixture-org", "release-assets"};
  auto rel = c.get_release_by_tag(repo, "v1.0.0");
  ASSERT_TRUE(rel) << rel.error().str();
  EXPECT_EQ(rel->id, 1000);
  // The upload goes to upload_url (uploads.github.com, rewritten by the fixtures server).
  EXPECT_NE(rel->upload_url.find("/uploads.github.com/"), std::string::npos) << rel->upload_url;
  auto asset =
      c.upload_release_asset(*rel, "test-upload.txt", "text/plain", "Hello, world!\n", "test");
  ASSERT_TRUE(asset) << asset.error().str();
  EXPECT_EQ(asset->id, 1000);
  EXPECT_EQ(asset->name, "test-upload.txt");
  auto assets = c.list_release_assets(repo, rel->id);
  ASSERT_TRUE(assets) << assets.error().str();
  ASSERT_EQ(assets->size(), 1u);
  auto one = c.get(repo.path() + "/releases/assets/1000");
  ASSERT_TRUE(one) << one.error().str();
  auto renamed = c.patch(repo.path() + "/releases/assets/1000",
                         {{"name", "new-filename.txt"}, {"label", "new label"}});
  ASSERT_TRUE(renamed) << renamed.error().str();
  EXPECT_EQ((*renamed)["name"], "new-filename.txt");
  auto del = c.delete_release_asset(repo, 1000);
  EXPECT_TRUE(del) << del.error().str();
}

// The same recording, with the asset streamed from a file (what `large-files: release` does).
TEST_F(GithubFixtures, ReleaseAssetStreamedFromAFile) {
  auto c = client("release-assets");
  const Repo repo{"octokit-fixture-org", "release-assets"};
  auto rel = c.get_release_by_tag(repo, "v1.0.0");
  ASSERT_TRUE(rel) << rel.error().str();
  const std::string path = ::testing::TempDir() + "/wfrun-upload.txt";
  std::ofstream(path) << "Hello, world!\n";
  auto asset = c.upload_release_asset_file(*rel, "test-upload.txt", "text/plain", path, "test");
  std::remove(path.c_str());
  ASSERT_TRUE(asset) << asset.error().str();
  EXPECT_EQ(asset->name, "test-upload.txt");
  EXPECT_EQ(sent_.back().body, "");  // not read into memory
  auto missing = c.upload_release_asset_file(*rel, "x.txt", "text/plain", path);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message().find("cannot read " + path + ": No such file"), 0u)
      << missing.error().message();
  // The rest of the recording.
  ASSERT_TRUE(c.list_release_assets(repo, rel->id));
  ASSERT_TRUE(c.get(repo.path() + "/releases/assets/1000"));
  ASSERT_TRUE(c.patch(repo.path() + "/releases/assets/1000",
                      {{"name", "new-filename.txt"}, {"label", "new label"}}));
  ASSERT_TRUE(c.delete_release_asset(repo, 1000));
}

TEST_F(GithubFixtures, LargeFilesMakeTheReleaseAndUploadAssets) {
  auto c = client("openapi-large-files-new");
  const Repo repo{"octocat", "Hello-World"};
  const std::string path = ::testing::TempDir() + "/wfrun-model.bin";
  std::ofstream(path) << "model weights\n";
  std::vector<std::string> lines;
  auto r = publish_large_files(c, repo, kLargeFilesTag, {{path, "runs/1/model.bin", 14}},
                               [&](const std::string& l) { lines.push_back(l); });
  std::remove(path.c_str());
  ASSERT_TRUE(r) << r.error().str();
  ASSERT_EQ(r->size(), 1u);
  const PublishedFile& f = r->front();
  EXPECT_TRUE(f.uploaded);
  EXPECT_EQ(f.asset_name, "3100795e42b2-model.bin");
  EXPECT_EQ(f.sha256, "3100795e42b2eb175e3a53bf0787528bf2c1fef29b867b771abbd580ca4f7341");
  EXPECT_EQ(f.url,
            testing::rewritten(base_,
                               "https://github.com/octocat/Hello-World/releases/download/v1.0.0/"
                               "example.zip"));
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "created the release wfrun-assets of octocat/Hello-World",
                       "uploaded large file runs/1/model.bin (0.0 MB) to the release "
                       "wfrun-assets of octocat/Hello-World as 3100795e42b2-model.bin"}));
  std::string md = large_files_manifest(repo, kLargeFilesTag, *r);
  EXPECT_NE(md.find("| `runs/1/model.bin` | 0.0 MB (14 bytes) | "
                    "`3100795e42b2eb175e3a53bf0787528bf2c1fef29b867b771abbd580ca4f7341` | "
                    "[3100795e42b2-model.bin](" +
                    f.url + ") |\n"),
            std::string::npos)
      << md;
}

TEST_F(GithubFixtures, LargeFilesReuseTheAssetAlreadyThere) {
  auto c = client("openapi-large-files-reuse");
  const Repo repo{"octocat", "Hello-World"};
  const std::string path = ::testing::TempDir() + "/wfrun-model.bin";
  std::ofstream(path) << "model weights\n";
  auto r = publish_large_files(c, repo, kLargeFilesTag, {{path, "runs/2/model.bin", 14}});
  std::remove(path.c_str());
  ASSERT_TRUE(r) << r.error().str();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_FALSE(r->front().uploaded);
  EXPECT_EQ(r->front().repo_path, "runs/2/model.bin");
  EXPECT_EQ(sent_.size(), 2u);
}

TEST(LargeFiles, ContentTypes) {
  EXPECT_EQ(asset_content_type("model.bin"), "application/octet-stream");
  EXPECT_EQ(asset_content_type("a/B.ZIP"), "application/zip");
  EXPECT_EQ(asset_content_type("data.csv"), "text/csv");
  EXPECT_EQ(asset_content_type("Makefile"), "application/octet-stream");
}

TEST_F(GithubFixtures, PullRequestsCreateAndFindByHead) {
  auto c = client("openapi-pulls");
  const Repo repo{"octocat", "Hello-World"};
  auto none = c.find_pull_by_head(repo, "new-topic");
  ASSERT_TRUE(none) << none.error().str();
  EXPECT_FALSE(*none);
  auto pr = c.create_pull(repo, {"Amazing new feature", "octocat:new-feature", "master",
                                 "Please pull these awesome changes in!", false});
  ASSERT_TRUE(pr) << pr.error().str();
  EXPECT_EQ(pr->number, 1347);
  EXPECT_EQ(pr->head_ref, "new-topic");
  auto found = c.find_pull_by_head(repo, "octocat:new-topic");
  ASSERT_TRUE(found) << found.error().str();
  ASSERT_TRUE(*found);
  EXPECT_EQ((*found)->number, 1347);
}

TEST_F(GithubFixtures, OpenPullRequestIsUpdatedInPlace) {
  auto c = client("openapi-pulls-update");
  const Repo repo{"octocat", "Hello-World"};
  auto found = c.find_pull_by_head(repo, "new-topic");
  ASSERT_TRUE(found) << found.error().str();
  ASSERT_TRUE(*found);
  auto pr = c.update_pull(repo, (*found)->number, "new title", "updated body");
  ASSERT_TRUE(pr) << pr.error().str();
  EXPECT_EQ(pr->number, 1347);
  EXPECT_EQ(pr->state, "open");
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].method, "PATCH");
  EXPECT_EQ(sent_[1].url, base_ + "/repos/octocat/Hello-World/pulls/1347");
  EXPECT_EQ(nlohmann::json::parse(sent_[1].body),
            (nlohmann::json{{"title", "new title"}, {"body", "updated body"}}));
  auto nothing = c.update_pull(repo, 1347, "", "");
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error().message(),
            "updating pull request #1347 of octocat/Hello-World: no title or body to set");
  EXPECT_EQ(sent_.size(), 2u);
}

TEST_F(GithubFixtures, ReportRunWithTokenSetsStatusesAndCommentsOnThePullRequest) {
  auto c = client("openapi-report-token");
  GithubReportConfig cfg;
  cfg.repo = "octocat/Hello-World";
  cfg.status = "wfrun/ci";
  cfg.comment = true;
  // URLs in a scenario's request bodies are rewritten by the server; send what it expects.
  RunReport start = testing::sample_start_run(), run = testing::sample_run();
  start.url = run.url = testing::rewritten(base_, run.url);
  const ReportTarget target{kExampleSha, 0, "new-topic"};
  auto st = report_run_start(c, cfg, target, start);
  ASSERT_TRUE(st) << st.error().str();
  auto fin = report_run_finish(c, cfg, target, run, *st);
  ASSERT_TRUE(fin) << fin.error().str();
}

TEST_F(GithubFixtures, ReportCommentIsUpdatedInPlace) {
  auto c = client("openapi-report-update");
  GithubReportConfig cfg;
  cfg.repo = "octocat/Hello-World";
  cfg.comment = true;  // no status
  RunReport run = testing::sample_run();
  run.url = testing::rewritten(base_, run.url);
  auto fin = report_run_finish(c, cfg, ReportTarget{kExampleSha, 1347, ""}, run);
  ASSERT_TRUE(fin) << fin.error().str();
}

TEST_F(GithubFixtures, ReportGoesOnTheCommitWithoutAPullRequest) {
  auto c = client("openapi-report-commit");
  GithubReportConfig cfg;
  cfg.repo = "octocat/Hello-World";
  cfg.comment = true;
  RunReport run = testing::sample_run();
  run.url = testing::rewritten(base_, run.url);
  auto fin = report_run_finish(c, cfg, ReportTarget{kExampleSha, 0, "no-pr"}, run);
  ASSERT_TRUE(fin) << fin.error().str();
}

TEST_F(GithubFixtures, ReportRunAsAppUsesACheckRun) {
  Auth auth;
  auth.app = AppCredentials{"1", testing::test_private_key_pem(), 0, "octocat/Hello-World"};
  auto c0 = client("openapi-app-check-run", auth);
  ClientOptions o = c0.options();
  // The example installation token expires at 2016-07-11T22:14:10Z.
  o.now = [] { return testing::example_now(); };
  GithubClient c(o);
  GithubReportConfig cfg;
  cfg.repo = "octocat/Hello-World";
  cfg.app = auth.app;
  cfg.status = "wfrun/ci";
  RunReport start = testing::sample_start_run(), run = testing::sample_run();
  start.url = run.url = testing::rewritten(base_, run.url);
  const ReportTarget target{kExampleSha, 0, ""};
  auto st = report_run_start(c, cfg, target, start);
  ASSERT_TRUE(st) << st.error().str();
  EXPECT_EQ(st->check_run_id, 4);
  auto fin = report_run_finish(c, cfg, target, run, *st);
  ASSERT_TRUE(fin) << fin.error().str();
}

TEST_F(GithubFixtures, CheckRunsNeedAnApp) {
  expect_done_ = false;
  auto c = client("openapi-pulls");
  CheckRun run;
  run.name = "ci";
  run.head_sha = kExampleSha;
  auto r = c.create_check_run(Repo{"octocat", "Hello-World"}, run);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "check runs need GitHub App authentication (a token can set commit statuses)");
  EXPECT_TRUE(sent_.empty());
}

TEST_F(GithubFixtures, RateLimitExhaustedFailsSayingWhenItResets) {
  auto c0 = client("synthetic-rate-limit-403");
  ClientOptions o = c0.options();
  o.now = [] { return testing::example_now(); };
  GithubClient c(o);
  auto r = c.find_pull_by_head(Repo{"octocat", "Hello-World"}, "new-topic");
  ASSERT_FALSE(r);
  EXPECT_EQ(
      r.error().message(),
      "GET " + base_ +
          "/repos/octocat/Hello-World/pulls?state=open&head=octocat%3Anew-topic: "
          "403 API rate limit exceeded for installation ID 1.; see " +
          testing::rewritten(
              base_,
              "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api") +
          ": GitHub's rate limit is exhausted; it resets at 2016-07-11T22:14:10Z (in 1h00m), "
          "longer than the 5m00s wfrun waits");
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(GithubFixtures, SecondaryRateLimitWaitsRetryAfter) {
  auto c = client("synthetic-rate-limit-429");
  auto r = c.find_pull_by_head(Repo{"octocat", "Hello-World"}, "new-topic");
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_FALSE(*r);
  ASSERT_EQ(sleeps_.size(), 1u);
  EXPECT_EQ(sleeps_[0], 3s);
}

// The checker itself: it must reject what GitHub would.
TEST(OpenApiCheck, RejectsWhatGithubWould) {
  REQUIRE_PEERS();
  const auto& spec = *peers().spec;
  const std::string st = "/repos/o/r/statuses/" + kSha1;
  EXPECT_TRUE(spec.check("POST", st, R"({"state":"success","context":"ci"})").empty());
  EXPECT_EQ(spec.check("POST", st, R"({"state":"passed","context":5})"),
            (std::vector<std::string>{
                "POST /repos/{owner}/{repo}/statuses/{sha}: body/context must be string",
                "POST /repos/{owner}/{repo}/statuses/{sha}: body/state must be one of "
                "[\"error\",\"failure\",\"pending\",\"success\"]"}));
  EXPECT_EQ(spec.check("POST", "/repos/o/r/status/" + kSha1, "{}"),
            (std::vector<std::string>{"no operation matches path /repos/o/r/status/" + kSha1}));
  EXPECT_EQ(spec.check("PUT", st, ""),
            (std::vector<std::string>{
                "PUT is not an operation of /repos/{owner}/{repo}/statuses/{sha}"}));
  EXPECT_EQ(spec.check("GET", "/repos/o/r/pulls?stat=open", ""),
            (std::vector<std::string>{
                "GET /repos/{owner}/{repo}/pulls: unknown query parameter 'stat'"}));
  EXPECT_EQ(spec.check("GET", "/repos/o/r/git/refs/", ""),
            (std::vector<std::string>{"no operation matches path /repos/o/r/git/refs/"}));
  EXPECT_TRUE(spec.check("GET", "/repos/o/r/git/matching-refs/heads/feature/x", "").empty());
  // Link targets GitHub hands out are allowed only when followed.
  std::vector<SentRequest> sent = {{"GET", "http://h/repositories/1/issues?page=2", "", "link"},
                                   {"GET", "http://h/repositories/1/issues?page=2", "", ""}};
  EXPECT_EQ(testing::check_requests(spec, sent).size(), 1u);
}

}  // namespace
}  // namespace wfrun::http
