// Scenarios the recordings lack, for @octokit/fixtures-server: response bodies are GitHub's
// own OpenAPI examples (`openapi-*`); rate limits and a 401 are hand-written (`synthetic-*`),
// since nothing in these packages records them. Request bodies must not contain
// `https://HOST/` strings: the server rewrites those in fixtures (see `rewritten`).
#include "http/github_report.h"
#include "http/large_files.h"
#include "tests/http/peers.h"

namespace wfrun::http::testing {

using nlohmann::json;

namespace {

const char* const kRepo = "/repos/octocat/Hello-World";
const char* const kSha = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const char* const kToken = "Bearer 0000000000000000000000000000000000000001";
const char* const kAppToken = "Bearer ghs_16C7e42F292c6912E7710c838347Ae178B4a";

json req_headers(const char* auth, bool body) {
  json h = {{"accept", "application/vnd.github+json"}};
  if (auth) h["authorization"] = auth;
  if (body) h["content-type"] = "application/json";
  return h;
}

json step(const std::string& method, const std::string& path, int status, const json& response,
          const json& body = nullptr, const char* auth = kToken, json headers = json::object()) {
  headers["content-type"] = "application/json; charset=utf-8";
  json s = {{"scope", "https://api.github.com:443"},
            {"method", method},
            {"path", path},
            {"status", status},
            {"response", response},
            {"reqheaders", req_headers(auth, !body.is_null())},
            {"headers", headers}};
  if (!body.is_null()) s["body"] = body;
  return s;
}

}  // namespace

RunReport sample_run() {
  RunReport r;
  r.workflow = "train";
  r.run_id = "r-42";
  r.state = "failure";
  r.duration_s = 245;
  r.url = "https://ci.example.com/runs/42";
  r.jobs = {{"prepare", "success", 12.3, {{"rows", "1000"}, {"path", "data/a|b.csv"}}},
            {"fit", "failure", 232.0, {}},
            {"publish", "skipped", 0, {}}};
  return r;
}

RunReport sample_start_run() {
  RunReport r = sample_run();
  r.state = "running";
  r.duration_s = 0;
  for (auto& j : r.jobs) {
    j.state = "pending";
    j.outputs.clear();
  }
  return r;
}

std::chrono::system_clock::time_point example_now() {
  return std::chrono::system_clock::from_time_t(1468271650);  // 2016-07-11T21:14:10Z
}

json custom_scenarios(const OpenApiSpec& spec) {
  const std::string R = kRepo;
  const std::string pulls_q = R + "/pulls?state=open&head=octocat:new-topic";
  json out;

  out["openapi-pulls"] = {
      step("get", pulls_q, 200, json::array()),
      step("post", R + "/pulls", 201, spec.example("pull-request"),
           spec.request_example("POST", "/repos/{owner}/{repo}/pulls")),
      step("get", pulls_q, 200, spec.example("pull-request-simple-items")),
  };

  // git-commit@v1's pull-request step on a branch whose pull request is already open: found
  // by head, then its title and body are set (the state and base of the OpenAPI request
  // example are not ours to change).
  json update = spec.request_example("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}");
  update.erase("state");
  update.erase("base");
  out["openapi-pulls-update"] = {
      step("get", pulls_q, 200, spec.example("pull-request-simple-items")),
      step("patch", R + "/pulls/1347", 200, spec.example("pull-request"), update),
  };

  // `large-files: release`: no release yet, so one is made; the file ("model weights\n") is
  // uploaded to the uploads host under a name that starts with its SHA-256. Then a second run
  // whose asset is already there (same name and size) uploads nothing.
  const std::string asset = "3100795e42b2-model.bin";
  json upload = step("post", R + "/releases/1/assets?name=" + asset, 201,
                     spec.example("release-asset"), "model weights\n");
  upload["scope"] = "https://uploads.github.com:443";
  upload["reqheaders"]["content-type"] = "application/octet-stream";
  out["openapi-large-files-new"] = {
      step("get", R + "/releases/tags/wfrun-assets", 404,
           {{"message", "Not Found"},
            {"documentation_url",
             "https://docs.github.com/rest/releases/releases#get-a-release-by-tag-name"}}),
      step("post", R + "/releases", 201, spec.example("release"),
           {{"tag_name", "wfrun-assets"},
            {"name", "wfrun large files"},
            {"body", large_files_release_body()}}),
      upload,
  };
  json there = spec.example("release-asset");
  there["name"] = asset;
  there["size"] = 14;
  out["openapi-large-files-reuse"] = {
      step("get", R + "/releases/tags/wfrun-assets", 200, spec.example("release")),
      step("get", R + "/releases/1/assets", 200, json::array({there})),
  };

  // A whole run reported with a token: pending, failure, and a new comment on the PR.
  const RunReport run = sample_run();
  const RunReport start = sample_start_run();
  const std::string marker = "<!-- wfrun-report: wfrun/ci -->";
  const std::string comment = marker + "\n" + render_run_report(run);
  json items = json::array({spec.example("pull-request-simple-items")[0]});
  out["openapi-report-token"] = {
      step("post", R + "/statuses/" + kSha, 201, spec.example("status"),
           {{"state", "pending"},
            {"context", "wfrun/ci"},
            {"description", status_description(start)},
            {"target_url", run.url}}),
      step("post", R + "/statuses/" + kSha, 201, spec.example("status"),
           {{"state", "failure"},
            {"context", "wfrun/ci"},
            {"description", status_description(run)},
            {"target_url", run.url}}),
      step("get", pulls_q, 200, items),
      step("get", R + "/issues/1347/comments?per_page=100", 200, json::array()),
      step("post", R + "/issues/1347/comments", 201, spec.example("issue-comment"),
           {{"body", comment}}),
  };

  // A re-run with `comment` but no `status` (marker "wfrun"): the comment with our marker is
  // edited, not added again; another comment is left alone.
  const std::string plain_marker = "<!-- wfrun-report: wfrun -->";
  const std::string plain_comment = plain_marker + "\n" + render_run_report(run);
  json old = spec.example("issue-comment");
  old["body"] = plain_marker + "\nan older report";
  json other = spec.example("issue-comment");
  other["id"] = 7;
  other["body"] = "LGTM";
  out["openapi-report-update"] = {
      step("get", R + "/issues/1347/comments?per_page=100", 200, json::array({other, old})),
      step("patch", R + "/issues/comments/1", 200, spec.example("issue-comment"),
           {{"body", plain_comment}}),
  };

  // No pull request for the branch: the report goes on the commit.
  out["openapi-report-commit"] = {
      step("get", R + "/pulls?state=open&head=octocat:no-pr", 200, json::array()),
      step("get", R + "/commits/" + kSha + "/comments?per_page=100", 200, json::array()),
      step("post", R + "/commits/" + kSha + "/comments", 201, spec.example("commit-comment"),
           {{"body", plain_comment}}),
  };

  // GitHub App: find the installation, get its token, then a check run in progress and
  // completed. The JWT changes with the clock, so Authorization is not matched on the first two.
  json check = {
      {"name", "wfrun/ci"},
      {"head_sha", kSha},
      {"status", "in_progress"},
      {"details_url", run.url},
      {"output",
       {{"title", "wfrun: " + status_description(start)}, {"summary", render_run_report(start)}}}};
  json done = {
      {"name", "wfrun/ci"},
      {"status", "completed"},
      {"conclusion", "failure"},
      {"details_url", run.url},
      {"output",
       {{"title", "wfrun: " + status_description(run)}, {"summary", render_run_report(run)}}}};
  out["openapi-app-check-run"] = {
      step("get", R + "/installation", 200, spec.example("installation"), nullptr, nullptr),
      step("post", "/app/installations/1/access_tokens", 201, spec.example("installation-token"),
           nullptr, nullptr),
      step("post", R + "/check-runs", 201,
           spec.example("check-run-example-of-in-progress-conclusion"), check, kAppToken),
      step("patch", R + "/check-runs/4", 200,
           spec.example("check-run-example-of-completed-conclusion"), done, kAppToken),
  };

  // Primary rate limit exhausted; resets at 2016-07-11T22:14:10Z.
  out["synthetic-rate-limit-403"] = {
      step("get", pulls_q, 403,
           {{"message", "API rate limit exceeded for installation ID 1."},
            {"documentation_url",
             "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"}},
           nullptr, kToken,
           {{"x-ratelimit-limit", "5000"},
            {"x-ratelimit-remaining", "0"},
            {"x-ratelimit-reset", "1468275250"},
            {"x-ratelimit-resource", "core"}}),
  };
  // Secondary rate limit with retry-after, then success.
  out["synthetic-rate-limit-429"] = {
      step("get", pulls_q, 429,
           {{"message", "You have exceeded a secondary rate limit."},
            {"documentation_url",
             "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"}},
           nullptr, kToken, {{"retry-after", "3"}}),
      step("get", pulls_q, 200, json::array()),
  };
  out["synthetic-bad-credentials"] = {
      step("get", R + "/git/ref/heads/main", 401,
           {{"message", "Bad credentials"}, {"documentation_url", "https://docs.github.com/rest"}}),
  };
  return out;
}

}  // namespace wfrun::http::testing
