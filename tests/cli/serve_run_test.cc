// `wfrun serve-run` end to end: the binary against a real git smart-HTTP server over HTTPS
// (lighttpd + git http-backend, tests/git/githttp.sh), with webhook payloads made from the real
// examples of @octokit/webhooks-examples (their repository, ref and sha rewritten to the test
// repository). No fakes: the request.json a test writes is what `wfrun serve` hands its child.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/files.h"
#include "tests/support/git_https.h"

extern char** environ;

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using wfrun::testkit::GitHttpsTest;
using wfrun::testkit::Proc;
using wfrun::testkit::q;
using wfrun::testing::slurp;
using wfrun::testkit::shell;

const char* kUser = "alice";
const char* kGitToken = "git-S3cret-T0ken";         // the server's password for kUser
const char* kGithubToken = "ghp-serve-run-S3cret";  // WFRUN_GITHUB_TOKEN

/// The real example payload `name` (the first whose `pick` holds) from @octokit/webhooks-examples.
json example(const std::string& name, bool (*pick)(const json&)) {
  static const json all = json::parse(slurp(
      fs::path(WFRUN_SOURCE_DIR) / "node_modules/@octokit/webhooks-examples/api.github.com/index.json"));
  for (const auto& w : all)
    if (w.value("name", "") == name)
      for (const auto& e : w["examples"])
        if (pick(e)) return e;
  ADD_FAILURE() << "no " << name << " example";
  return json::object();
}

// The workflows of the test repository.
const char* kMainWf = R"(on:
  github:
    branches: {only: main}
    pull_request: {branches: {only: main}}
jobs:
  show:
    uses: script@v1
    outputs:
      seen: {type: string}
    env:
      TOK: secret:GITHUB_TOKEN
    with:
      script: |
        echo "$WFRUN_GIT_SHA $WFRUN_GIT_REF $WFRUN_GIT_REPO_URL" > /outputs/seen
        echo "ps=$PS_GRADIENT_CI_GIT_SHA $PS_GRADIENT_CI_GIT_REF $PS_GRADIENT_CI_GIT_REPO_URL"
        echo "ctx=${{ github.sha }} ${{ github.ref }} ${{ github.repository }}"
        echo "tok=$TOK"
        cat README
)";
const char* kOtherWf = R"(on: {github: {branches: {only: 'release/.*'}}}
jobs:
  a:
    uses: script@v1
    with: {script: echo other}
)";
const char* kBrokenWf = R"(on: {github: {branches: {only: main}}}
jobs:
  a:
    uses: script@v1
    needs: [prepar]
    with: {script: echo}
)";
const char* kGradientWf = R"(on:
  github:
    branches:
      only: main
jobs:
  hello:
    uses: script@v1
    with:
      script: echo "gradient $PS_GRADIENT_CI_GIT_REF"
)";
const char* kManualWf = R"(inputs:
  greeting:
    type: string
    with: {value: default}
jobs:
  greet:
    uses: script@v1
    with:
      script: echo "greeting=${{ inputs.greeting }} ref=$WFRUN_GIT_REF"
)";
const char* kSlowWf = R"(jobs:
  slow:
    uses: script@v1
    with:
      script: |
        echo started
        sleep 60
)";

/// One git server for the suite (tests/support/git_https.h; the server outlives each test, so
/// each test gets its own repository); each test gets its own folder and state dir.
class ServeRunTest : public GitHttpsTest {
 protected:
  static void SetUpTestSuite() { start_server(kUser, kGitToken); }
  void SetUp() override {
    GitHttpsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    char tmpl[] = "/tmp/wfrun-serverun-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    state_ = dir_ / "state";
    proj_ = "acme/proj" + std::to_string(++repos_);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  std::string git() const { return srv().git(dir_ / "home"); }
  // A new repo NAME (OWNER/NAME) on the server whose main has `files`; returns main's sha.
  // work_ is the clone that pushed it.
  std::string seed(const std::string& name, const std::map<std::string, std::string>& files) {
    work_ = dir_ / ("seed-" + std::to_string(seeds_++));
    return srv().seed(name, files, work_);
  }
  std::map<std::string, std::string> proj_files() const {
    return {{"README", "the checkout\n"},
            {".wfrun/workflows/main.yaml", kMainWf},
            {".wfrun/workflows/other.yaml", kOtherWf},
            {".wfrun/workflows/broken.yaml", kBrokenWf},
            {".wfrun/workflows/manual.yaml", kManualWf},
            {".wfrun/workflows/slow.yaml", kSlowWf},
            {".gradient/workflows/gradient.yml", kGradientWf}};
  }

  // A push payload: the real `refs/heads/master` example, pointed at NAME's REF at SHA.
  json push_payload(const std::string& name, const std::string& ref, const std::string& sha) {
    json p = example("push", [](const json& e) {
      return e.value("ref", "") == "refs/heads/master" && !e.value("deleted", true);
    });
    p["ref"] = ref;
    p["after"] = sha;
    p["head_commit"]["id"] = sha;
    p["repository"]["full_name"] = name;
    p["repository"]["clone_url"] = srv().url(name);
    return p;
  }

  fs::path run_dir(const std::string& id) {
    fs::path d = dir_ / ("run-" + id);
    fs::create_directories(d);
    return d;
  }
  json request(std::int64_t id, const std::string& event, const std::string& name,
               const std::string& sha, const std::string& ref) {
    return {{"run_id", id},          {"delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
            {"event", event},        {"repo", name},
            {"clone_url", srv().url(name)}, {"sha", sha},
            {"ref", ref},            {"base_ref", nullptr},
            {"workflow", nullptr},   {"inputs", json::object()},
            {"github_api", "https://api.github.invalid"},
            {"ca_file", srv().ca()},       {"target_url", "http://127.0.0.1:8080/runs/" + std::to_string(id)}};
  }
  void write(const fs::path& rundir, const json& req, const json& payload) {
    std::ofstream(rundir / "request.json") << req.dump(2);
    std::ofstream(rundir / "payload.json") << payload.dump(2);
  }
  std::string env(const std::string& git_token = kGitToken) const {
    return "env WFRUN_GIT_TOKEN=" + q(git_token) + " WFRUN_GITHUB_TOKEN=" + q(kGithubToken) + " ";
  }
  // `wfrun serve-run` on RUNDIR, stdout and stderr to RUNDIR/log as `wfrun serve` does.
  Proc serve_run(const fs::path& rundir, const std::string& git_token = kGitToken) {
    Proc p = shell("cd " + q(dir_) + " && " + env(git_token) + WFRUN_BIN + " serve-run --state-dir " +
                       q(state_) + " --dir " + q(rundir) + " >" + q(rundir / "log") + " 2>&1",
                   dir_);
    p.out = slurp(rundir / "log");
    return p;
  }
  json result(const fs::path& rundir) { return json::parse(slurp(rundir / "result.json")); }
  json run_json(const std::string& id) {
    return json::parse(slurp(state_ / "runs" / id / "run.json"));
  }
  const json* entry(const json& res, const std::string& path) {
    for (const auto& w : res["workflows"])
      if (w["path"] == path) return &w;
    return nullptr;
  }
  void expect_no_token_under(const fs::path& root) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      if (!it->is_regular_file() || it->is_symlink()) continue;
      std::string text = slurp(it->path());
      EXPECT_EQ(text.find(kGitToken), std::string::npos) << it->path();
      EXPECT_EQ(text.find(kGithubToken), std::string::npos) << it->path();
    }
  }

  static inline int repos_ = 0;
  std::string proj_;
  fs::path dir_, state_, work_;
  int seeds_ = 0;
};

TEST_F(ServeRunTest, PushRunsTheMatchingWorkflowsAndReportsTheInvalidOne) {
  std::string sha = seed(proj_, proj_files());
  fs::path rd = run_dir("1");
  write(rd, request(1, "push", proj_, sha, "refs/heads/main"),
        push_payload(proj_, "refs/heads/main", sha));
  Proc p = serve_run(rd);
  // broken.yaml is an error, so the whole run is; the valid matching ones still ran.
  EXPECT_EQ(p.code, 2) << p.out;
  json res = result(rd);
  EXPECT_EQ(res["status"], "error") << res.dump(2);
  EXPECT_EQ(res["message"],
            ".wfrun/workflows/broken.yaml: .wfrun/workflows/broken.yaml:5:13: job 'a' needs "
            "unknown job 'prepar' (2 of 3 workflows succeeded)")
      << res.dump(2);
  ASSERT_EQ(res["workflows"].size(), 3u) << res.dump(2);
  const json* broken = entry(res, ".wfrun/workflows/broken.yaml");
  ASSERT_NE(broken, nullptr);
  EXPECT_EQ((*broken)["status"], "error");
  EXPECT_TRUE((*broken)["run_id"].is_null());
  EXPECT_EQ(entry(res, ".wfrun/workflows/other.yaml"), nullptr);   // release/.* only
  EXPECT_EQ(entry(res, ".wfrun/workflows/manual.yaml"), nullptr);  // no on: -> by hand only
  const json* main = entry(res, ".wfrun/workflows/main.yaml");
  const json* grad = entry(res, ".gradient/workflows/gradient.yml");
  ASSERT_NE(main, nullptr);
  ASSERT_NE(grad, nullptr);
  EXPECT_EQ((*main)["status"], "success");
  EXPECT_EQ((*main)["name"], "main");
  EXPECT_EQ((*grad)["status"], "success");

  // Both runs are in the store, and the job saw the event as env and context.
  std::string id = (*main)["run_id"];
  json run = run_json(id);
  EXPECT_EQ(run["phase"], "succeeded");
  EXPECT_EQ(run["workflow"], "main");  // the store names a workflow by its file's stem
  EXPECT_EQ(run["jobs"][0]["outputs"]["seen"], sha + " refs/heads/main " + srv().url(proj_));
  std::string log = slurp(state_ / "runs" / id / "jobs/show/log");
  EXPECT_NE(log.find("ps=" + sha + " refs/heads/main " + srv().url(proj_)), std::string::npos)
      << log;
  EXPECT_NE(log.find("ctx=" + sha + " refs/heads/main acme/proj"), std::string::npos) << log;
  EXPECT_NE(log.find("the checkout"), std::string::npos) << log;  // cwd = the checkout
  EXPECT_NE(log.find("tok=***"), std::string::npos) << log;       // the secret, masked
  EXPECT_EQ(run_json((*grad)["run_id"])["phase"], "succeeded");
  EXPECT_NE(slurp(state_ / "runs" / std::string((*grad)["run_id"]) / "jobs/hello/log")
                .find("gradient refs/heads/main"),
            std::string::npos);
  // The log says why each workflow ran or not.
  EXPECT_NE(p.out.find(".wfrun/workflows/other.yaml: not triggered: branch 'main' does not match "
                       "on.github.branches.only (release/.*)"),
            std::string::npos)
      << p.out;
  EXPECT_FALSE(fs::exists(rd / "result.json.tmp"));

  // A second run of the same repo only fetches: one mirror in the cache.
  fs::path rd2 = run_dir("2");
  write(rd2, request(2, "push", proj_, sha, "refs/heads/main"),
        push_payload(proj_, "refs/heads/main", sha));
  EXPECT_EQ(serve_run(rd2).code, 2);
  int mirrors = 0;
  for (const auto& e : fs::directory_iterator(state_ / "git-cache"))
    if (e.is_directory()) ++mirrors;
  EXPECT_EQ(mirrors, 1);

  // No token anywhere: logs, results, the store, the clone cache, the checkout's .git.
  expect_no_token_under(dir_);
}

TEST_F(ServeRunTest, NoMatchingWorkflowIsSkipped) {
  std::string sha = seed("acme/quiet", {{".wfrun/workflows/main.yaml", kMainWf},
                                        {".wfrun/workflows/manual.yaml", kManualWf}});
  fs::path rd = run_dir("1");
  write(rd, request(1, "push", "acme/quiet", sha, "refs/heads/feature"),
        push_payload("acme/quiet", "refs/heads/feature", sha));
  Proc p = serve_run(rd);
  EXPECT_EQ(p.code, 0) << p.out;
  json res = result(rd);
  EXPECT_EQ(res["status"], "skipped");
  EXPECT_EQ(res["message"], "push to refs/heads/feature: no workflow's 'on:' matched");
  EXPECT_TRUE(res["workflows"].empty());
  // What the decision depends on, so that wfrun serve can reuse it (docs/serve.md).
  EXPECT_EQ(res["trigger"], json({{"event", "push"}, {"ref", "refs/heads/feature"},
                                  {"base_ref", ""}, {"sha", sha}}));
  EXPECT_FALSE(fs::exists(state_ / "runs/1"));  // nothing ran

  // A tag: main.yaml names only branches.
  fs::path rd2 = run_dir("2");
  write(rd2, request(2, "push", "acme/quiet", sha, "refs/tags/v1"),
        push_payload("acme/quiet", "refs/tags/v1", sha));
  EXPECT_EQ(serve_run(rd2).code, 0);
  EXPECT_EQ(result(rd2)["status"], "skipped");
}

TEST_F(ServeRunTest, PullRequestFetchesTheHeadFromThePullRef) {
  seed("acme/pr", {{"README", "base\n"}, {".wfrun/workflows/main.yaml", kMainWf}});
  // The pull request's head is on no branch: only refs/pull/7/head names it (as on GitHub).
  std::string g = git() + "-C " + q(work_) + " ";
  Proc r = shell("set -e; echo 'from the PR' > " + q(work_ / "README") + "; " + g +
                     "commit -qam pr; " + g + "push -q " + q(srv().cred_url("acme/pr")) +
                     " HEAD:refs/pull/7/head",
                 dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  std::string head = srv().rev("acme/pr", "refs/pull/7/head");
  json p = example("pull_request", [](const json& e) { return e.value("action", "") == "opened"; });
  p["number"] = 7;
  p["pull_request"]["number"] = 7;
  p["pull_request"]["head"]["sha"] = head;
  p["pull_request"]["base"]["ref"] = "main";
  p["repository"]["full_name"] = "acme/pr";
  p["repository"]["clone_url"] = srv().url("acme/pr");
  fs::path rd = run_dir("1");
  json req = request(1, "pull_request", "acme/pr", head, "refs/pull/7/head");
  req["base_ref"] = "refs/heads/main";
  write(rd, req, p);
  Proc o = serve_run(rd);
  ASSERT_EQ(o.code, 0) << o.out;
  json res = result(rd);
  EXPECT_EQ(res["status"], "success") << res.dump(2);
  ASSERT_EQ(res["workflows"].size(), 1u);
  std::string id = res["workflows"][0]["run_id"];
  std::string log = slurp(state_ / "runs" / id / "jobs/show/log");
  EXPECT_NE(log.find("from the PR"), std::string::npos) << log;
  EXPECT_NE(log.find("ctx=" + head + " refs/pull/7/merge acme/pr"), std::string::npos) << log;
  EXPECT_EQ(run_json(id)["jobs"][0]["outputs"]["seen"],
            head + " refs/pull/7/head " + srv().url("acme/pr"));
}

TEST_F(ServeRunTest, ManualRunOfOneWorkflowWithInputs) {
  std::string sha = seed(proj_, proj_files());
  fs::path rd = run_dir("1");
  json req = request(1, "manual", proj_, "", "refs/heads/main");
  req["delivery"] = nullptr;
  req["workflow"] = ".wfrun/workflows/manual.yaml";
  req["inputs"] = {{"greeting", "hi there"}};
  write(rd, req, json::object());
  Proc p = serve_run(rd);
  ASSERT_EQ(p.code, 0) << p.out;
  json res = result(rd);
  EXPECT_EQ(res["status"], "success") << res.dump(2);
  ASSERT_EQ(res["workflows"].size(), 1u);  // just that file; broken.yaml is not even read
  EXPECT_EQ(res["workflows"][0]["path"], ".wfrun/workflows/manual.yaml");
  std::string id = res["workflows"][0]["run_id"];
  EXPECT_NE(slurp(state_ / "runs" / id / "jobs/greet/log")
                .find("greeting=hi there ref=refs/heads/main"),
            std::string::npos);
  EXPECT_NE(p.out.find("checked out " + sha), std::string::npos) << p.out;

  // An input the workflow does not declare.
  fs::path rd2 = run_dir("2");
  req["inputs"] = {{"greting", "x"}};
  write(rd2, req, json::object());
  Proc bad = serve_run(rd2);
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_EQ(result(rd2)["workflows"][0]["message"],
            "request.json: field inputs.greting: the workflow .wfrun/workflows/manual.yaml "
            "declares no input 'greting'");

  // A workflow that is not in the commit.
  fs::path rd3 = run_dir("3");
  req["inputs"] = json::object();
  req["workflow"] = ".wfrun/workflows/nope.yaml";
  write(rd3, req, json::object());
  Proc none = serve_run(rd3);
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(result(rd3)["message"].get<std::string>().find(
                "request.json: field workflow: '.wfrun/workflows/nope.yaml' is not in commit " +
                sha),
            std::string::npos);
}

TEST_F(ServeRunTest, SigtermCancelsTheRunningWorkflowAndStillWritesTheResult) {
  seed(proj_, proj_files());
  fs::path rd = run_dir("1");
  json req = request(1, "manual", proj_, "", "refs/heads/main");
  req["workflow"] = ".wfrun/workflows/slow.yaml";
  write(rd, req, json::object());
  std::string cmd = "cd " + q(dir_) + " && exec " + env() + WFRUN_BIN + " serve-run --state-dir " +
                    q(state_) + " --dir " + q(rd) + " >" + q(rd / "log") + " 2>&1";
  std::vector<std::string> args = {"/bin/sh", "-c", cmd};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(::posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv.data(), environ), 0);
  // Wait (generously: a loaded machine) until the job has started and printed.
  fs::path job_log = state_ / "runs/1/jobs/slow/log";
  for (int i = 0; i < 1200 && slurp(job_log).find("started") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_NE(slurp(job_log).find("started"), std::string::npos) << slurp(rd / "log");
  ::kill(pid, SIGTERM);
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st)) << st;
  EXPECT_EQ(WEXITSTATUS(st), 130) << slurp(rd / "log");
  json res = result(rd);
  EXPECT_EQ(res["status"], "cancelled") << res.dump(2);
  EXPECT_EQ(res["workflows"][0]["status"], "cancelled");
  EXPECT_EQ(res["workflows"][0]["run_id"], "1");
  EXPECT_EQ(run_json("1")["phase"], "cancelled");
}

TEST_F(ServeRunTest, FetchFailureIsAnErrorWithoutTheToken) {
  std::string sha = seed(proj_, proj_files());
  fs::path rd = run_dir("1");
  write(rd, request(1, "push", proj_, sha, "refs/heads/main"),
        push_payload(proj_, "refs/heads/main", sha));
  Proc p = serve_run(rd, "wrong-T0ken-value");
  EXPECT_EQ(p.code, 2) << p.out;
  json res = result(rd);
  EXPECT_EQ(res["status"], "error");
  std::string msg = res["message"];
  EXPECT_EQ(msg.rfind("fetching " + srv().url(proj_) + ": ", 0), 0u) << msg;
  EXPECT_NE(msg.find("authentication failed"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("wrong-T0ken-value"), std::string::npos);
  EXPECT_EQ(p.out.find("wrong-T0ken-value"), std::string::npos);
}

TEST_F(ServeRunTest, BadRequestJsonNamesTheField) {
  struct Case {
    std::string request;
    std::string message;
  };
  const std::string ok_tail =
      R"("repo": "acme/proj", "clone_url": "https://localhost/git/acme/proj.git", )"
      R"("sha": "0123456789abcdef0123456789abcdef01234567", "ref": "refs/heads/main")";
  std::vector<Case> cases = {
      {"{not json", "request.json: not valid JSON: "},
      {"[]", "request.json: must be a JSON object, got a list"},
      {R"({"event": "push", )" + ok_tail + "}",
       "request.json: field run_id: missing (it is required)"},
      {R"({"run_id": "17", "event": "push", )" + ok_tail + "}",
       "request.json: field run_id: must be a positive integer, got \"17\""},
      {R"({"run_id": 17, "event": "fork", )" + ok_tail + "}",
       "request.json: field event: must be push, pull_request or manual, got 'fork'"},
      {R"({"run_id": 17, "event": "push", "repo": "acme", "clone_url": "https://x/y.git", )"
       R"("sha": "0123456789abcdef0123456789abcdef01234567", "ref": "refs/heads/main"})",
       "request.json: field repo: must be OWNER/NAME, got 'acme'"},
      {R"({"run_id": 17, "event": "push", "repo": "a/b", "clone_url": "https://x/y.git", )"
       R"("sha": "abc", "ref": "refs/heads/main"})",
       "request.json: field sha: must be a full commit sha (40 lower-case hex digits), got "
       "'abc'"},
      {R"({"run_id": 17, "event": "push", "repo": "a/b", "clone_url": "https://u:pw@x/y.git", )"
       R"("sha": "0123456789abcdef0123456789abcdef01234567", "ref": "refs/heads/main"})",
       "request.json: field clone_url: must not carry credentials; the token comes from "
       "$WFRUN_GIT_TOKEN"},
      {R"({"run_id": 17, "event": "pull_request", )" + ok_tail + "}",
       "request.json: field base_ref: missing (it is required for pull_request events)"},
      {R"({"run_id": 17, "event": "push", "repo": "a/b", "clone_url": "https://x/y.git", )"
       R"("sha": "0123456789abcdef0123456789abcdef01234567", "ref": "refs/heads/main\u0000x"})",
       "request.json: field ref: must not contain control characters"},
      {R"({"run_id": 17, "event": "manual", "inputs": {"n": 3}, )" + ok_tail + "}",
       "request.json: field inputs.n: must be a string, got a number"},
      {R"({"run_id": 17, "event": "push", "ref": 5, "repo": "a/b", "clone_url": "https://x/y.git"})",
       "request.json: field ref: must be a string, got a number"},
      // Bytes that are not UTF-8: the parser's message quotes them, and result.json must still
      // be written (found by tests/fuzz/request_json_fuzz.cc).
      {"{\"run_id\": 17, \"event\": \"push\xff\xfe\"}", "request.json: not valid JSON: "},
  };
  int n = 0;
  for (const auto& c : cases) {
    fs::path rd = run_dir("bad" + std::to_string(n++));
    std::ofstream(rd / "request.json") << c.request;
    std::ofstream(rd / "payload.json") << "{}";
    Proc p = serve_run(rd);
    EXPECT_EQ(p.code, 2) << c.request << "\n" << p.out;
    json res = result(rd);
    EXPECT_EQ(res["status"], "error");
    EXPECT_EQ(res["message"].get<std::string>().rfind(c.message, 0), 0u)
        << c.request << "\n" << res["message"];
    EXPECT_NE(p.out.find(c.message), std::string::npos) << p.out;
  }
  EXPECT_FALSE(fs::exists(state_ / "runs"));
}

}  // namespace
