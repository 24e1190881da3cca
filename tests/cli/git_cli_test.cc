// The git actions and `wfrun seed` end to end: the wfrun binary against a real git
// smart-HTTP server over HTTPS with basic auth (tests/support/git_https.h).

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/files.h"
#include "tests/support/git_https.h"

namespace fs = std::filesystem;

namespace {

using wfrun::testkit::GitHttpsTest;
using wfrun::testkit::Proc;
using wfrun::testkit::q;
using wfrun::testing::slurp;
using wfrun::testkit::shell;

const char* kUser = "alice";
const char* kPass = "cli-S3cret-T0ken";

/// One git server for the suite (tests/support/git_https.h); each test gets its own folder and
/// state dir.
class GitCliTest : public GitHttpsTest {
 protected:
  static void SetUpTestSuite() { start_server(kUser, kPass); }
  void SetUp() override {
    GitHttpsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    char tmpl[] = "/tmp/wfrun-gitcli-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    state_ = dir_ / "state";
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  // The git CLI: no user config, trusts the test CA, signs as "test".
  std::string git() const { return srv().git(dir_ / "home"); }
  // A new repo NAME on the server (a slash makes OWNER/NAME) whose main has `files`
  // (path -> content); returns main's sha.
  std::string seed(const std::string& name, const std::map<std::string, std::string>& files) {
    return srv().seed(name, files, dir_ / ("seed-" + std::to_string(seeds_++)));
  }

  // `wfrun ARGS` in the test's folder, trusting the test CA.
  Proc wfrun(const std::string& args, const std::string& env = "") {
    return shell("cd " + q(dir_) + " && env WFRUN_HOME=" + q(state_) + " WFRUN_CA_FILE=" + q(srv().ca()) +
                     " " + env + " " + WFRUN_BIN + " " + args,
                 dir_);
  }
  fs::path file(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  // No file under `root` holds the token.
  void expect_no_token_under(const fs::path& root) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      if (!it->is_regular_file() || it->is_symlink()) continue;
      EXPECT_EQ(slurp(it->path()).find(kPass), std::string::npos) << it->path();
    }
  }

  fs::path dir_, state_;
  int seeds_ = 0;
};

TEST_F(GitCliTest, GitCheckoutClonesIntoTheOutputVolume) {
  std::string main_sha = seed("proj", {{"README", "hello from git\n"}, {"src/a.py", "x = 1\n"}});
  file("wf.yaml", R"(jobs:
  Fetch:
    uses: git-checkout@v1
    with:
      url: )" + srv().url("proj") +
                      R"(
      username: alice
      password: secret:gitpw
    outputs:
      src: {type: volume}
  Show:
    needs: [Fetch]
    inputs: {src: Fetch.outputs.src}
    uses: script@v1
    with:
      script: cat /inputs/src/README /inputs/src/src/a.py
)");
  Proc o = wfrun("run wf.yaml --secret gitpw=" + std::string(kPass));
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("Fetch | checked out the default branch at " + main_sha), std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("Show  | hello from git"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("Show  | x = 1"), std::string::npos) << o.out;
  // The token reached the clone by environment only: not in the logs, the run store, the
  // clone's .git or the cache.
  EXPECT_EQ(o.out.find(kPass), std::string::npos);
  expect_no_token_under(state_);
  EXPECT_TRUE(fs::exists(state_ / "runs/1/jobs/Fetch/outputs/src/.git"));
  EXPECT_TRUE(fs::is_directory(state_ / "git-cache"));

  // A wrong token: the job fails with the one-rejection message.
  Proc bad = wfrun("run wf.yaml --secret gitpw=wrong-token");
  EXPECT_EQ(bad.code, 1) << bad.out << bad.err;
  EXPECT_NE(bad.out.find("authentication failed for " + srv().url("proj") +
                         " (check the token and its scopes)"),
            std::string::npos)
      << bad.out;
}

TEST_F(GitCliTest, GitCheckoutRefAndPathAndGithubTokenFallback) {
  seed("refs", {{"README", "main\n"}});
  Proc r = shell("set -e; " + git() + "clone -q " + q(srv().cred_url("refs")) + " " + q(dir_ / "w") +
                     "; " + git() + "-C " + q(dir_ / "w") +
                     " checkout -qb feature/x; echo feat > " + q(dir_ / "w/README") + "; " + git() +
                     "-C " + q(dir_ / "w") + " commit -qam feat; " + git() + "-C " + q(dir_ / "w") +
                     " push -q origin " + "feature/x",
                 dir_);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  file("wf.yaml", R"(jobs:
  Fetch:
    uses: git-checkout@v1
    with:
      url: )" + srv().url("refs") +
                      R"(
      ref: feature/x
      path: code
      username: alice
    outputs:
      code: {type: volume}
  Show:
    needs: [Fetch]
    inputs: {code: Fetch.outputs.code}
    uses: script@v1
    with:
      script: cat /inputs/code/README
)");
  // No password: the GITHUB_TOKEN secret is used.
  Proc o = wfrun("run wf.yaml", "WFRUN_SECRET_GITHUB_TOKEN=" + std::string(kPass));
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("Show  | feat"), std::string::npos) << o.out;
  expect_no_token_under(state_);
}

// A job that makes a report and a model, and a git-commit@v1 job that commits them to
// acme/results (on the test server through WFRUN_GITHUB_URL).
std::string commit_workflow(const std::string& extra = "") {
  return R"(jobs:
  Make:
    uses: script@v1
    outputs:
      report: {type: volume}
    with:
      script: |
        mkdir -p /outputs/report/sub
        echo "# run" > /outputs/report/summary.md
        echo skip > /outputs/report/notes.txt
        echo deep > /outputs/report/sub/b.txt
  Save:
    needs: [Make]
    inputs: {report: Make.outputs.report}
    uses: git-commit@v1
    with:
      repo: acme/results
      branch: results
      base: main
      paths: [report/*.md, report/sub]
      dest: runs/latest
      username: alice
      password: secret:gitpw
)" + extra;
}

TEST_F(GitCliTest, GitCommitPushesInputsToABranch) {
  std::string main_sha = seed("acme/results", {{"README", "results live here\n"}});
  file("wf.yaml", commit_workflow());
  std::string env = "WFRUN_GITHUB_URL=" + srv().base() + "/git";
  Proc o = wfrun("run wf.yaml --secret gitpw=" + std::string(kPass), env);
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("Save | committing 2 paths to results of " + srv().url("acme/results")),
            std::string::npos)
      << o.out;
  std::string tip = srv().rev("acme/results", "results");
  EXPECT_NE(o.out.find("Save | pushed " + tip + " to results (1 attempt)"), std::string::npos)
      << o.out;
  Proc ls =
      shell("git --git-dir=" + q(srv().bare("acme/results")) + " ls-tree -r --name-only results", dir_);
  EXPECT_EQ(ls.out, "README\nruns/latest/sub/b.txt\nruns/latest/summary.md\n");
  Proc msg =
      shell("git --git-dir=" + q(srv().bare("acme/results")) + " log -1 --format=%s%n%an results", dir_);
  EXPECT_EQ(msg.out, "Update files from wfrun [skip ci]\nwfrun\n");
  EXPECT_EQ(srv().rev("acme/results", "results~1"), main_sha);  // created from `base`
  expect_no_token_under(state_);

  // The same files again: nothing to commit.
  Proc again = wfrun("run wf.yaml --secret gitpw=" + std::string(kPass), env);
  ASSERT_EQ(again.code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("Save | nothing to commit: results already has these files"),
            std::string::npos)
      << again.out;
  EXPECT_EQ(srv().rev("acme/results", "results"), tip);
}

TEST_F(GitCliTest, GitCommitKeepsTheCommitAndPrintsHowToPushWhenThePushFails) {
  seed("acme/frozen", {{"README", "x\n"}});
  fs::path hook = fs::path(srv().bare("acme/frozen")) / "hooks/pre-receive";
  std::ofstream(hook) << "#!/bin/sh\necho 'pushes are frozen' >&2\nexit 1\n";
  fs::permissions(hook, fs::perms::owner_all, fs::perm_options::add);
  std::string wf = commit_workflow();
  wf.replace(wf.find("acme/results"), 12, "acme/frozen");
  file("wf.yaml", wf);
  Proc o = wfrun("run wf.yaml --secret gitpw=" + std::string(kPass),
                 "WFRUN_GITHUB_URL=" + srv().base() + "/git");
  EXPECT_EQ(o.code, 1) << o.out << o.err;
  fs::path kept = state_ / "runs/1/jobs/Save/git-commit.git";
  std::string log = slurp(state_ / "runs/1/jobs/Save/log");
  EXPECT_NE(log.find("the server rejected the push to results: pre-receive hook declined "
                     "(remote: pushes are frozen)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("push it by hand with:\n  git -C " + kept.string() +
                     " push origin refs/heads/results:refs/heads/results\n"),
            std::string::npos)
      << log;
  // The commit is there, with the files.
  Proc ls = shell("git --git-dir=" + q(kept) + " ls-tree -r --name-only refs/heads/results", dir_);
  EXPECT_EQ(ls.out, "README\nruns/latest/sub/b.txt\nruns/latest/summary.md\n") << ls.err;
  expect_no_token_under(state_);
}

TEST_F(GitCliTest, GitCommitRefusesFilesOver50Megabytes) {
  seed("acme/big", {{"README", "x\n"}});
  file("wf.yaml", R"(jobs:
  Make:
    uses: script@v1
    outputs: {out: {type: volume}}
    with:
      script: truncate -s 60M /outputs/out/model.bin
  Save:
    needs: [Make]
    inputs: {out: Make.outputs.out}
    uses: git-commit@v1
    with: {repo: acme/big, branch: main, paths: out, password: secret:gitpw}
)");
  Proc o = wfrun("run wf.yaml --secret gitpw=" + std::string(kPass),
                 "WFRUN_GITHUB_URL=" + srv().base() + "/git");
  EXPECT_EQ(o.code, 1) << o.out << o.err;
  EXPECT_NE(o.out.find("refusing to commit files over 50 MB (GitHub rejects files over 100 MB): "),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("model.bin (62.9 MB)"), std::string::npos) << o.out;
}

// The quickstart with GITHUB_TOKEN and WFRUN_QUICKSTART_REPO: it seeds from and pushes to that
// repository (github.com mapped onto the test server by WFRUN_GITHUB_URL, as for GitHub
// Enterprise), with the token from the environment; a WFRUN_QUICKSTART_REPO that is not
// OWNER/NAME is refused.
TEST_F(GitCliTest, QuickstartUsesGithubWithAToken) {
  fs::path src = fs::path(WFRUN_SOURCE_DIR) / "examples/quickstart";
  std::string main_sha =
      seed("acme/analysis", {{"analysis.ipynb", slurp(src / "repo/analysis.ipynb")}});
  std::string env = "cd " + q(dir_) + " && env WFRUN_HOME=" + q(state_) +
                    " WFRUN_CA_FILE=" + q(srv().ca()) + " GITHUB_TOKEN=" + kPass +
                    " WFRUN_GITHUB_URL=" + srv().base() + "/git ";
  Proc bad =
      shell(env + "WFRUN_QUICKSTART_REPO=not-a-repo " + q(src / "run.sh") + " " + WFRUN_BIN, dir_);
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("WFRUN_QUICKSTART_REPO must be OWNER/NAME, not 'not-a-repo'"),
            std::string::npos)
      << bad.err;
  Proc o = shell(
      env + "WFRUN_QUICKSTART_REPO=acme/analysis " + q(src / "run.sh") + " " + WFRUN_BIN + " 2>&1",
      dir_);
  ASSERT_EQ(o.code, 0) << o.out;
  std::string tip = srv().rev("acme/analysis", "results");
  EXPECT_EQ(srv().rev("acme/analysis", "results~1"), main_sha);
  EXPECT_NE(o.out.find("seeded " + (state_ / "workspace").string() + " from " + srv().base() +
                       "/git/acme/analysis at main"),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("commit:     " + tip + "\n"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("look:       " + srv().base() + "/git/acme/analysis/tree/results"),
            std::string::npos)
      << o.out;
  Proc ls =
      shell("git --git-dir=" + q(srv().bare("acme/analysis")) + " ls-tree -r --name-only results", dir_);
  EXPECT_EQ(ls.out,
            "analysis.ipynb\nruns/1/analysis.ipynb\nruns/1/results/metrics.json\n"
            "runs/1/results/summary.md\n");
  EXPECT_FALSE(fs::exists(state_ / "origin.git"));  // no stand-in was made
  EXPECT_EQ(o.out.find(kPass), std::string::npos);
  expect_no_token_under(state_);
}

// A stand-in for the GitHub REST API's release calls (tests/http checks the same calls against
// @octokit/fixtures-server and GitHub's OpenAPI description): acme/assets has no release
// wfrun-assets, so it is created; uploads are read in blocks, hashed and logged with their
// content type, length and SHA-256.
const char* kFakeReleaseApi = R"PY(
import hashlib, http.server, json, sys
log = open(sys.argv[2], "a")
class H(http.server.BaseHTTPRequestHandler):
    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        log.write("GET %s\n" % self.path); log.flush()
        self.reply(404, {"message": "Not Found"})
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        if self.path == "/repos/acme/assets/releases":
            body = self.rfile.read(n).decode()
            log.write("POST %s %s\n" % (self.path, json.loads(body)["tag_name"])); log.flush()
            base = "http://127.0.0.1:%d" % self.server.server_address[1]
            return self.reply(201, {"id": 5, "tag_name": "wfrun-assets",
                                    "upload_url": base + "/uploads/repos/acme/assets/releases/5/assets{?name,label}"})
        h, left = hashlib.sha256(), n
        while left:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk: break
            h.update(chunk); left -= len(chunk)
        name = self.path.split("name=")[1]
        log.write("UPLOAD %s %s %d %s\n" % (self.path, self.headers.get("Content-Type"), n, h.hexdigest())); log.flush()
        self.reply(201, {"id": 9, "name": name, "size": n,
                         "browser_download_url": "https://github.com/acme/assets/releases/download/wfrun-assets/" + name})
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
)PY";

// `large-files: release`: the two files over 50 MB (one in a folder) become release assets, and
// the commit the git server gets has the rest plus large-files.md with their links.
TEST_F(GitCliTest, GitCommitUploadsLargeFilesAsReleaseAssets) {
  seed("acme/assets", {{"README", "x\n"}});
  file("fake_api.py", kFakeReleaseApi);
  std::string port_file = (dir_ / "api.port").string();
  std::string log_file = (dir_ / "requests.log").string();
  Proc start = shell("cd " + q(dir_) + " && (python3 fake_api.py " + q(port_file) + " " +
                         q(log_file) + " & echo $! > api.pid) && for i in $(seq 50); do test -s " +
                         q(port_file) + " && break; sleep 0.1; done",
                     dir_);
  ASSERT_EQ(start.code, 0) << start.err;
  std::string api = "http://127.0.0.1:" + slurp(port_file);
  file("wf.yaml", R"(jobs:
  Make:
    uses: script@v1
    outputs: {out: {type: volume}}
    with:
      script: |
        mkdir -p /outputs/out/ckpt
        truncate -s 60M /outputs/out/model.bin
        truncate -s 51000001 /outputs/out/ckpt/weights.pt
        echo small > /outputs/out/ckpt/config.json
        echo "# report" > /outputs/out/report.md
  Save:
    needs: [Make]
    inputs: {out: Make.outputs.out}
    uses: git-commit@v1
    with:
      repo: acme/assets
      branch: main
      paths: [out/*.bin, out/*.md, out/ckpt]
      dest: run1
      password: secret:gitpw
      large-files: release
)");
  Proc o = wfrun("run wf.yaml --secret gitpw=" + std::string(kPass),
                 "WFRUN_GITHUB_URL=" + srv().base() + "/git WFRUN_GITHUB_API_URL=" + api);
  shell("kill $(cat " + q(dir_ / "api.pid") + ")", dir_);
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  Proc sums =
      shell("sha256sum " + q(state_ / "runs/1/jobs/Make/outputs/out/model.bin") + " " +
                q(state_ / "runs/1/jobs/Make/outputs/out/ckpt/weights.pt") + " | cut -c1-64",
            dir_);
  ASSERT_EQ(sums.code, 0) << sums.err;
  std::string model_sha = sums.out.substr(0, 64), weights_sha = sums.out.substr(65, 64);
  EXPECT_NE(o.out.find("Save | created the release wfrun-assets of acme/assets"), std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("Save | uploaded large file run1/model.bin (62.9 MB) to the release "
                       "wfrun-assets of acme/assets as " +
                       model_sha.substr(0, 12) + "-model.bin"),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("Save | uploaded large file run1/ckpt/weights.pt (51.0 MB)"),
            std::string::npos)
      << o.out;
  std::string requests = slurp(log_file);
  EXPECT_NE(requests.find("GET /repos/acme/assets/releases/tags/wfrun-assets\n"
                          "POST /repos/acme/assets/releases wfrun-assets\n"),
            std::string::npos)
      << requests;
  EXPECT_NE(requests.find("UPLOAD /uploads/repos/acme/assets/releases/5/assets?name=" +
                          model_sha.substr(0, 12) + "-model.bin application/octet-stream " +
                          std::to_string(60 * 1024 * 1024) + " " + model_sha + "\n"),
            std::string::npos)
      << requests;
  EXPECT_NE(requests.find("-weights.pt application/octet-stream 51000001 " + weights_sha),
            std::string::npos)
      << requests;
  // The git server got the small files and the manifest, not the large ones.
  Proc ls = shell("git --git-dir=" + q(srv().bare("acme/assets")) + " ls-tree -r --name-only main", dir_);
  EXPECT_EQ(ls.out, "README\nrun1/ckpt/config.json\nrun1/large-files.md\nrun1/report.md\n");
  Proc md =
      shell("git --git-dir=" + q(srv().bare("acme/assets")) + " show main:run1/large-files.md", dir_);
  EXPECT_NE(md.out.find("| `run1/model.bin` | 62.9 MB (62914560 bytes) | `" + model_sha + "` | [" +
                        model_sha.substr(0, 12) +
                        "-model.bin](https://github.com/acme/assets/releases/download/"
                        "wfrun-assets/" +
                        model_sha.substr(0, 12) + "-model.bin) |"),
            std::string::npos)
      << md.out;
  EXPECT_NE(md.out.find("| `run1/ckpt/weights.pt` | 51.0 MB (51000001 bytes) | `" + weights_sha),
            std::string::npos)
      << md.out;
  expect_no_token_under(state_);
}

// A stand-in for the GitHub REST API's pull request calls (the CLI tests do not link the
// fixtures server's harness; tests/http checks the same calls against it and GitHub's OpenAPI
// description): acme/prs has no open pull request for the branch, then a created one;
// acme/open has #9 open, which is updated. Every request goes to requests.log.
const char* kFakeApi = R"PY(
import http.server, json, sys
log = open(sys.argv[2], "a")
class H(http.server.BaseHTTPRequestHandler):
    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        log.write("GET %s %s\n" % (self.path, self.headers.get("Authorization"))); log.flush()
        if self.path.startswith("/repos/acme/prs/pulls?"):
            return self.reply(200, [])
        if self.path.startswith("/repos/acme/open/pulls?"):
            return self.reply(200, [{"number": 9, "html_url": "https://github.com/acme/open/pull/9",
                                     "state": "open", "head": {"ref": "results", "sha": "x"},
                                     "base": {"ref": "main"}}])
        self.reply(404, {"message": "Not Found"})
    def do_PATCH(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        log.write("PATCH %s %s\n" % (self.path, body)); log.flush()
        pr = json.loads(body)
        self.reply(200, {"number": 9, "html_url": "https://github.com/acme/open/pull/9",
                         "title": pr.get("title"), "state": "open",
                         "head": {"ref": "results", "sha": "y"}, "base": {"ref": "main"}})
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        log.write("POST %s %s\n" % (self.path, body)); log.flush()
        pr = json.loads(body)
        self.reply(201, {"number": 7, "html_url": "https://github.com/acme/prs/pull/7",
                         "state": "open", "head": {"ref": pr["head"], "sha": "x"},
                         "base": {"ref": pr["base"]}})
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
)PY";

TEST_F(GitCliTest, GitCommitOpensAPullRequest) {
  seed("acme/prs", {{"README", "x\n"}});
  file("fake_api.py", kFakeApi);
  std::string port_file = (dir_ / "api.port").string();
  std::string log_file = (dir_ / "requests.log").string();
  Proc start = shell("cd " + q(dir_) + " && (python3 fake_api.py " + q(port_file) + " " +
                         q(log_file) + " & echo $! > api.pid) && for i in $(seq 50); do test -s " +
                         q(port_file) + " && break; sleep 0.1; done",
                     dir_);
  ASSERT_EQ(start.code, 0) << start.err;
  std::string api = "http://127.0.0.1:" + slurp(port_file);
  std::string wf = commit_workflow(R"(      pull-request:
        title: Results of the nightly run
        body: Made by wfrun.
)");
  wf.replace(wf.find("acme/results"), 12, "acme/prs");
  file("wf.yaml", wf);
  Proc o = wfrun("run wf.yaml --secret gitpw=" + std::string(kPass),
                 "WFRUN_GITHUB_URL=" + srv().base() + "/git WFRUN_GITHUB_API_URL=" + api);
  shell("kill $(cat " + q(dir_ / "api.pid") + ")", dir_);
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("Save | opened pull request #7: https://github.com/acme/prs/pull/7"),
            std::string::npos)
      << o.out;
  std::string requests = slurp(log_file);
  EXPECT_NE(requests.find("GET /repos/acme/prs/pulls?state=open&head=acme%3Aresults"),
            std::string::npos)
      << requests;
  EXPECT_NE(requests.find(std::string("Bearer ") + kPass), std::string::npos) << requests;
  EXPECT_NE(requests.find(R"("base":"main")"), std::string::npos) << requests;
  EXPECT_NE(requests.find(R"("head":"results")"), std::string::npos) << requests;
  EXPECT_NE(requests.find(R"("title":"Results of the nightly run")"), std::string::npos)
      << requests;
  expect_no_token_under(state_);
}

TEST_F(GitCliTest, GitCommitUpdatesThePullRequestAlreadyOpen) {
  seed("acme/open", {{"README", "x\n"}});
  file("fake_api.py", kFakeApi);
  std::string port_file = (dir_ / "api.port").string();
  std::string log_file = (dir_ / "requests.log").string();
  Proc start = shell("cd " + q(dir_) + " && (python3 fake_api.py " + q(port_file) + " " +
                         q(log_file) + " & echo $! > api.pid) && for i in $(seq 50); do test -s " +
                         q(port_file) + " && break; sleep 0.1; done",
                     dir_);
  ASSERT_EQ(start.code, 0) << start.err;
  std::string api = "http://127.0.0.1:" + slurp(port_file);
  std::string wf = commit_workflow(R"(      pull-request:
        title: Results of run ${{ run.number }}
        body: Updated by wfrun.
)");
  wf.replace(wf.find("acme/results"), 12, "acme/open");
  file("wf.yaml", wf);
  Proc o = wfrun("run wf.yaml --secret gitpw=" + std::string(kPass),
                 "WFRUN_GITHUB_URL=" + srv().base() + "/git WFRUN_GITHUB_API_URL=" + api);
  shell("kill $(cat " + q(dir_ / "api.pid") + ")", dir_);
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("Save | updated pull request #9: https://github.com/acme/open/pull/9"),
            std::string::npos)
      << o.out;
  std::string requests = slurp(log_file);
  EXPECT_NE(requests.find("GET /repos/acme/open/pulls?state=open&head=acme%3Aresults"),
            std::string::npos)
      << requests;
  EXPECT_NE(
      requests.find(
          R"(PATCH /repos/acme/open/pulls/9 {"body":"Updated by wfrun.","title":"Results of run 1"})"),
      std::string::npos)
      << requests;
  EXPECT_EQ(requests.find("POST"), std::string::npos) << requests;
  expect_no_token_under(state_);
}

// ---------------------------------------------------------------------------------------------
// `wfrun seed`: every URL form, with github.com mapped onto the test server.

const char* kNotebook = R"NB({"cells": [{"cell_type": "code", "execution_count": null,
 "metadata": {}, "outputs": [], "source": ["print('hi from ' + open('data.txt').read().strip())"]}],
 "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
 "nbformat": 4, "nbformat_minor": 5})NB";

class SeedTest : public GitCliTest {
 protected:
  void SetUp() override {
    GitCliTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // acme/nb-N: main (README, notebooks/), branch feature/x (another notebook text), tag v1.
    name_ = "acme/nb-" + std::to_string(counter_++);
    main_ = seed(name_, {{"README", "top\n"},
                         {"notebooks/hello.ipynb", kNotebook},
                         {"notebooks/data.txt", "main\n"}});
    fs::path w = dir_ / "w";
    Proc r = shell("set -e; " + git() + "clone -q " + q(srv().cred_url(name_)) + " " + q(w) + "; " +
                       git() + "-C " + q(w) + " tag v1; " + git() + "-C " + q(w) +
                       " checkout -qb feature/x; echo feature > " + q(w / "notebooks/data.txt") +
                       "; " + git() + "-C " + q(w) + " commit -qam feature; " + git() + "-C " +
                       q(w) + " push -q origin feature/x v1",
                   dir_);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    feature_ = srv().rev(name_, "feature/x");
  }
  // `wfrun seed ARGS` with github.com on the server's /anon/ (public) or /git/ (private).
  Proc seed_cmd(const std::string& args, bool is_private = false, const std::string& env = "") {
    return wfrun("seed " + args,
                 "WFRUN_GITHUB_URL=" + srv().base() + (is_private ? "/git" : "/anon") + " " + env);
  }
  std::string workspace_json(const fs::path& ws) { return slurp(ws / ".wfrun/workspace.json"); }
  std::string gh(const std::string& rest = "") const {
    return "https://github.com/" + name_ + rest;
  }
  std::string origin(bool is_private = false) const {
    return srv().base() + (is_private ? "/git/" : "/anon/") + name_ + ".git";
  }

  static inline int counter_ = 0;
  std::string name_, main_, feature_;
};

TEST_F(SeedTest, RepositoryUrlClonesTheDefaultBranch) {
  Proc o = seed_cmd(q(gh()));
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  fs::path ws = dir_ / name_.substr(5);  // acme/nb-N -> nb-N
  EXPECT_EQ(o.out, "seeded " + ws.filename().string() + " from " + origin() + " at main (" +
                       main_.substr(0, 12) + ")\n");
  EXPECT_EQ(slurp(ws / "README"), "top\n");
  EXPECT_TRUE(fs::exists(ws / ".git"));
  std::string j = workspace_json(ws);
  EXPECT_NE(j.find("\"origin\": \"" + origin() + "\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"ref\": \"main\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"commit\": \"" + main_ + "\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"path\": \"\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"time\": \"20"), std::string::npos) << j;
  // The same with .git and a trailing slash, into a named folder.
  o = seed_cmd(q(gh(".git/")) + " ws2");
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_EQ(slurp(dir_ / "ws2/README"), "top\n");
}

TEST_F(SeedTest, TreeUrlWithASlashRefMakesThatFolderTheWorkspace) {
  Proc o = seed_cmd(q(gh("/tree/feature/x/notebooks")) + " ws");
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_EQ(o.out, "seeded ws from " + origin() + " at feature/x (" + feature_.substr(0, 12) +
                       "), notebooks\n");
  EXPECT_EQ(slurp(dir_ / "ws/data.txt"), "feature\n");
  EXPECT_TRUE(fs::exists(dir_ / "ws/hello.ipynb"));
  EXPECT_FALSE(fs::exists(dir_ / "ws/README"));
  EXPECT_FALSE(fs::exists(dir_ / "ws/.wfrun/clone"));
  std::string j = workspace_json(dir_ / "ws");
  EXPECT_NE(j.find("\"ref\": \"feature/x\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"path\": \"notebooks\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"commit\": \"" + feature_ + "\""), std::string::npos) << j;
  // A tree URL naming only the ref: the whole repository at that ref.
  o = seed_cmd(q(gh("/tree/v1")) + " tag");
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_EQ(slurp(dir_ / "tag/notebooks/data.txt"), "main\n");
}

TEST_F(SeedTest, BlobUrlGivesTheNotebookOrWithCloneTheRepository) {
  Proc o = seed_cmd(q(gh("/blob/main/notebooks/hello.ipynb")) + " one");
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("notebook: one/hello.ipynb\n"), std::string::npos) << o.out;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_ / "one")) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{".wfrun", "hello.ipynb"}));
  std::string j = workspace_json(dir_ / "one");
  EXPECT_NE(j.find("\"path\": \"notebooks/hello.ipynb\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"notebook\": \"hello.ipynb\""), std::string::npos) << j;

  o = seed_cmd(q(gh("/blob/feature/x/notebooks/hello.ipynb")) + " all --clone");
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("notebook: all/notebooks/hello.ipynb\n"), std::string::npos) << o.out;
  EXPECT_EQ(slurp(dir_ / "all/README"), "top\n");
  EXPECT_EQ(slurp(dir_ / "all/notebooks/data.txt"), "feature\n");

  // The badge's ?clone=true is --clone.
  o = seed_cmd(q(gh("/blob/feature/x/notebooks/hello.ipynb?clone=true")) + " badge");
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("notebook: badge/notebooks/hello.ipynb\n"), std::string::npos) << o.out;
  EXPECT_EQ(slurp(dir_ / "badge/README"), "top\n");
  EXPECT_TRUE(fs::exists(dir_ / "badge/.git"));
  EXPECT_NE(workspace_json(dir_ / "badge").find("\"path\": \"notebooks/hello.ipynb\""),
            std::string::npos);
}

TEST_F(SeedTest, SshAndPlainGitUrlsAndRef) {
  // git@github.com: goes to the override too (ssh stays ssh without one).
  Proc o = seed_cmd("git@github.com:" + name_ + ".git ssh --ref feature/x");
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_EQ(slurp(dir_ / "ssh/notebooks/data.txt"), "feature\n");
  // Any other git URL is cloned as is.
  o = wfrun("seed " + q(origin()) + " plain --ref v1");
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_EQ(o.out, "seeded plain from " + origin() + " at v1 (" + main_.substr(0, 12) + ")\n");
}

TEST_F(SeedTest, RunExecutesTheNotebook) {
  Proc o = seed_cmd(q(gh("/tree/main/notebooks")) + " ws");
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  o = seed_cmd(q(gh("/blob/main/notebooks/hello.ipynb")) + " run --clone --run");
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  std::string executed = slurp(dir_ / "run/notebooks/hello.executed.ipynb");
  EXPECT_NE(executed.find("hi from main"), std::string::npos) << executed << o.err;
  o = seed_cmd(q(gh()) + " norun --run");
  EXPECT_EQ(o.code, 2);
  EXPECT_EQ(o.err,
            "wfrun: --run needs a notebook URL (https://github.com/OWNER/REPO/blob/REF/"
            "PATH.ipynb)\n");
}

TEST_F(SeedTest, ClearErrors) {
  auto err = [&](const std::string& args, bool is_private = false, const std::string& env = "") {
    Proc o = seed_cmd(args, is_private, env);
    EXPECT_NE(o.code, 0) << args;
    return o.err;
  };
  EXPECT_EQ(err(q("https://github.com/acme/no-such-repo") + " x"),
            "wfrun: reading " + srv().base() +
                "/anon/acme/no-such-repo.git: repository not found (or the token cannot see "
                "it)\n");
  EXPECT_EQ(err(q("https://github.com/acme") + " x"),
            "wfrun: https://github.com/acme is not a repository URL (expected "
            "https://github.com/OWNER/REPO)\n");
  EXPECT_EQ(err(q(gh("/tree/nope/notebooks")) + " x"),
            "wfrun: no branch or tag of " + origin() + " matches 'nope/notebooks'\n");
  EXPECT_EQ(err(q(gh("/tree/main/not/here")) + " x"),
            "wfrun: path 'not/here' does not exist in " + origin() + " at main\n");
  EXPECT_FALSE(fs::exists(dir_ / "x/.wfrun"));
  EXPECT_EQ(err(q(gh("/blob/main/README")) + " x"),
            "wfrun: " + gh("/blob/main/README") +
                " is not a notebook (.ipynb); use a /tree/ URL for a folder, or --clone\n");
  EXPECT_EQ(err(q(gh()) + " x", /*is_private=*/true),
            "wfrun: authentication required for " + origin(true) +
                ": no credentials were given (pass a token as secret:NAME or set GITHUB_TOKEN)\n");
  file("full/file.txt", "x");
  EXPECT_EQ(err(q(gh()) + " full"),
            "wfrun: full exists and is not empty (give another folder as DIR)\n");
  // A private repository with a token (sent as x-access-token, as to GitHub).
  Proc ok = seed_cmd(q(gh()) + " private", true, "GITHUB_TOKEN=" + std::string(kPass));
  ASSERT_EQ(ok.code, 0) << ok.out << ok.err;
  EXPECT_EQ(slurp(dir_ / "private/README"), "top\n");
  EXPECT_EQ(slurp(dir_ / "private/.git/config").find(kPass), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// The workflow-level `github:` block: a status when the run starts and ends, and one comment.

const char* kFakeReportApi = R"PY(
import http.server, json, sys
log = open(sys.argv[2], "a")
class H(http.server.BaseHTTPRequestHandler):
    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        log.write("GET %s %s\n" % (self.path, self.headers.get("Authorization"))); log.flush()
        self.reply(200, [])
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        log.write("POST %s %s\n" % (self.path, body)); log.flush()
        self.reply(201, {"id": 1, "html_url": "https://github.com/x", "body": "b"})
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
)PY";

TEST_F(GitCliTest, GithubBlockReportsTheRun) {
  file("fake_api.py", kFakeReportApi);
  std::string port_file = (dir_ / "api.port").string();
  std::string log_file = (dir_ / "requests.log").string();
  Proc start = shell("cd " + q(dir_) + " && (python3 fake_api.py " + q(port_file) + " " +
                         q(log_file) + " & echo $! > api.pid) && for i in $(seq 50); do test -s " +
                         q(port_file) + " && break; sleep 0.1; done",
                     dir_);
  ASSERT_EQ(start.code, 0) << start.err;
  std::string api = "http://127.0.0.1:" + slurp(port_file);
  const std::string sha = "0123456789abcdef0123456789abcdef01234567";
  file("event.json", R"({"after": ")" + sha + R"(", "ref": "refs/heads/main",
    "repository": {"full_name": "acme/proj", "clone_url": "https://github.com/acme/proj.git"}})");
  file("wf.yaml", R"(github:
  token: secret:gh
  status: wfrun/ci
  comment: true
jobs:
  hello:
    uses: script@v1
    with: {script: echo hi}
)");
  Proc o = wfrun("run wf.yaml --event event.json --secret gh=gh-T0ken-123",
                 "WFRUN_GITHUB_API_URL=" + api);
  shell("kill $(cat " + q(dir_ / "api.pid") + ")", dir_);
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_EQ(o.err.find("warning"), std::string::npos) << o.err;
  std::string requests = slurp(log_file);
  size_t pending =
      requests.find("POST /repos/acme/proj/statuses/" + sha + R"( {"context":"wfrun/ci")");
  ASSERT_NE(pending, std::string::npos) << requests;
  EXPECT_NE(requests.find(R"("state":"pending")", pending), std::string::npos) << requests;
  size_t success = requests.find(R"("state":"success")");
  EXPECT_NE(success, std::string::npos) << requests;
  EXPECT_GT(success, pending);
  // No pull request for main: the report goes on the commit.
  EXPECT_NE(requests.find("POST /repos/acme/proj/commits/" + sha + "/comments"), std::string::npos)
      << requests;
  EXPECT_NE(requests.find("Bearer gh-T0ken-123"), std::string::npos) << requests;
  EXPECT_EQ(o.out.find("gh-T0ken-123"), std::string::npos);

  // Without the token secret the run still runs, with a warning.
  Proc no = wfrun("run wf.yaml --event event.json --secret gh=", "WFRUN_GITHUB_API_URL=" + api);
  EXPECT_EQ(no.code, 0) << no.out << no.err;
  EXPECT_NE(no.err.find("wfrun: warning: not reporting to GitHub: no token"), std::string::npos)
      << no.err;
}

// A stand-in for GitHub as a GitHub App sees it: the installation token endpoint checks the
// JWT (RS256, verified with `openssl dgst` against the App's public key; `iss` is the App id)
// and answers with an installation token; every other call must carry that token.
const char* kFakeAppApi = R"PY(
import base64, http.server, json, subprocess, sys, tempfile, os
log = open(sys.argv[2], "a")
pub = sys.argv[3]
def unb64(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
class H(http.server.BaseHTTPRequestHandler):
    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
    def do_GET(self):
        log.write("GET %s %s\n" % (self.path, self.headers.get("Authorization"))); log.flush()
        self.reply(200, [])
    def do_PATCH(self):
        log.write("PATCH %s %s %s\n" % (self.path, self.headers.get("Authorization"), self.body())); log.flush()
        self.reply(200, {"id": 4})
    def do_POST(self):
        auth = self.headers.get("Authorization", "")
        body = self.body()
        if self.path == "/app/installations/678/access_tokens":
            h, p, sig = auth[len("Bearer "):].split(".")
            with tempfile.TemporaryDirectory() as d:
                open(d + "/data", "w").write(h + "." + p)
                open(d + "/sig", "wb").write(unb64(sig))
                ok = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature",
                                     d + "/sig", d + "/data"], capture_output=True).returncode == 0
            claims = json.loads(unb64(p))
            log.write("TOKEN alg=%s iss=%s verified=%s\n" % (json.loads(unb64(h))["alg"], claims["iss"], ok)); log.flush()
            if not ok: return self.reply(401, {"message": "A JSON web token could not be decoded"})
            return self.reply(201, {"token": "ghs_inst4llation", "expires_at": "2099-01-01T00:00:00Z"})
        log.write("POST %s %s %s\n" % (self.path, auth, body)); log.flush()
        self.reply(201, {"id": 4, "html_url": "https://github.com/x", "body": "b"})
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
)PY";

// The workflow's `github:` block with a GitHub App: JWT -> installation token -> a check run,
// in progress and then completed, all with the installation token.
TEST_F(GitCliTest, GithubBlockReportsTheRunAsAnApp) {
  Proc keys = shell("cd " + q(dir_) +
                        " && openssl genrsa -out app.pem 2048 2>/dev/null && openssl rsa -in "
                        "app.pem -pubout -out app.pub 2>/dev/null",
                    dir_);
  ASSERT_EQ(keys.code, 0) << keys.err;
  file("fake_api.py", kFakeAppApi);
  std::string port_file = (dir_ / "api.port").string();
  std::string log_file = (dir_ / "requests.log").string();
  Proc start =
      shell("cd " + q(dir_) + " && (python3 fake_api.py " + q(port_file) + " " + q(log_file) +
                " app.pub & echo $! > api.pid) && for i in $(seq 50); do "
                "test -s " +
                q(port_file) + " && break; sleep 0.1; done",
            dir_);
  ASSERT_EQ(start.code, 0) << start.err;
  std::string api = "http://127.0.0.1:" + slurp(port_file);
  const std::string sha = "0123456789abcdef0123456789abcdef01234567";
  file("event.json", R"({"after": ")" + sha + R"(", "ref": "refs/heads/main",
    "repository": {"full_name": "acme/proj", "clone_url": "https://github.com/acme/proj.git"}})");
  file("wf.yaml", R"(github:
  app: {id: 12345, key: secret:app_pem, installation: 678}
  status: wfrun/ci
jobs:
  hello:
    uses: script@v1
    with: {script: echo hi}
)");
  Proc o = wfrun(
      "run wf.yaml --event event.json",
      "WFRUN_SECRET_app_pem=\"$(cat " + q(dir_ / "app.pem") + ")\" WFRUN_GITHUB_API_URL=" + api);
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_EQ(o.err.find("warning"), std::string::npos) << o.err;
  std::string requests = slurp(log_file);
  EXPECT_EQ(requests.find("TOKEN alg=RS256 iss=12345 verified=True\n"), 0u) << requests;
  size_t created = requests.find("POST /repos/acme/proj/check-runs Bearer ghs_inst4llation ");
  ASSERT_NE(created, std::string::npos) << requests;
  EXPECT_NE(requests.find(R"("head_sha":")" + sha + R"(")", created), std::string::npos)
      << requests;
  EXPECT_NE(requests.find(R"("status":"in_progress")", created), std::string::npos) << requests;
  size_t done = requests.find("PATCH /repos/acme/proj/check-runs/4 Bearer ghs_inst4llation ");
  ASSERT_NE(done, std::string::npos) << requests;
  EXPECT_NE(requests.find(R"("conclusion":"success")", done), std::string::npos) << requests;
  // One installation token for the whole run (cached).
  EXPECT_EQ(requests.find("TOKEN", 1), std::string::npos) << requests;

  // A key that is not the App's: GitHub refuses the JWT, and the run goes on with a warning.
  Proc other = shell("cd " + q(dir_) + " && openssl genrsa -out other.pem 2048 2>/dev/null", dir_);
  ASSERT_EQ(other.code, 0);
  Proc bad = wfrun(
      "run wf.yaml --event event.json",
      "WFRUN_SECRET_app_pem=\"$(cat " + q(dir_ / "other.pem") + ")\" WFRUN_GITHUB_API_URL=" + api);
  shell("kill $(cat " + q(dir_ / "api.pid") + ")", dir_);
  EXPECT_EQ(bad.code, 0) << bad.out << bad.err;
  EXPECT_NE(bad.err.find("wfrun: warning: reporting to GitHub: github: starting check run "
                         "'wfrun/ci': getting a GitHub App installation token: POST " +
                         api +
                         "/app/installations/678/access_tokens: 401 A JSON web token could "
                         "not be decoded"),
            std::string::npos)
      << bad.err;
  EXPECT_EQ(bad.err.find("BEGIN"), std::string::npos) << bad.err;
}

}  // namespace
