// One secret, a canary, through every path a secret takes in `wfrun run`: a script's env, a
// container's env (podman), a notebook parameter, git-checkout's password against the HTTPS git
// server (tests/support/git_https.h) and git-commit's push; then every file under the test's
// folder (the state dir with wfrun.db and any -wal, logs, run.json, the git cache, each .git/config)
// and every command's output (`--json` too) is searched for it, as written, in base64 and
// URL-encoded. The only files allowed to hold it are those a job wrote itself (the executed
// notebook, whose parameters cell holds the value). A second test does the same for `wfrun serve`.
//
// Without podman the container job is left out (a failure under WFRUN_REQUIRE_PODMAN=1); without
// Debian's Python the notebook job is.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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
using wfrun::testkit::required;
using wfrun::testkit::shell;

// With characters that URL-encoding and base64 change.
const char* kCanary = "cnry+Q7v2=Zp4k+W9x8=mT3s";
const char* kImage = "localhost/wfrun-test-bb:1";

const char* kNotebook = R"({
 "cells": [
  {"cell_type": "code", "execution_count": null, "id": "p", "metadata": {"tags": ["parameters"]},
   "outputs": [], "source": ["token = ''\n"]},
  {"cell_type": "code", "execution_count": null, "id": "u", "metadata": {}, "outputs": [],
   "source": ["print('token length', len(token))\n", "print('token', token)\n"]}
 ],
 "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
 "nbformat": 4, "nbformat_minor": 5
}
)";

class CanaryTest : public GitHttpsTest {
 protected:
  static void SetUpTestSuite() { start_server("alice", kCanary); }
  void SetUp() override {
    GitHttpsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    char tmpl[] = "/tmp/wfrun-canary-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    state_ = dir_ / "state";
    fs::create_directories(dir_ / "scratch");
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  Proc sh(const std::string& cmd) { return shell(cmd, dir_ / "scratch"); }
  Proc wfrun(const std::string& args) {
    fs::create_directories(dir_ / "scratch");
    Proc p = sh("cd " + q(dir_) + " && env WFRUN_HOME=" + q(state_) + " WFRUN_CA_FILE=" +
                q(srv().ca()) + " WFRUN_GITHUB_URL=" + q(srv().base() + "/git") + " " + env_ +
                " " + WFRUN_BIN + " " + args);
    outputs_.push_back(p.out + p.err);
    return p;
  }

  // podman with the busybox+bash test image (built as container_test.cc builds it); "" when
  // it is there, else why not.
  std::string podman() {
    if (sh("command -v podman && (command -v runc || test -x /usr/sbin/runc)").code != 0)
      return "podman (with runc) is not installed";
    fs::create_directories(dir_ / "scratch");
    fs::path conf = dir_ / "containers.conf";
    std::ofstream(conf) << "[containers]\ndefault_ulimits = []\npids_limit = 0\n";
    env_ += " CONTAINERS_CONF=" + q(conf) + " WFRUN_CONTAINER_RUNTIME=" + q("podman --runtime runc");
    std::string r = (dir_ / "rootfs").string();
    Proc p = sh("set -e; export CONTAINERS_CONF=" + q(conf) + "; podman image exists " + kImage +
                " && exit 0; r=" + q(r) +
                "; mkdir -p $r/bin $r/tmp; cp $(command -v busybox) $r/bin/busybox; "
                "for a in sh echo cat ls sleep mkdir test env touch; do ln -s busybox $r/bin/$a; "
                "done; cp /bin/bash $r/bin/bash; for l in $(ldd /bin/bash | grep -o '/[^ ]*'); "
                "do mkdir -p $r$(dirname $l); cp -L $l $r$l; done; tar -C $r -cf " +
                q(dir_ / "img.tar") + " .; podman import -q " + q(dir_ / "img.tar") + " " +
                kImage + " >/dev/null");
    return p.code == 0 ? "" : "could not build the test image: " + p.out + p.err;
  }

  // The canary as written, in base64 and URL-encoded (what masking covers).
  std::vector<std::string> forms() {
    std::string b64 = sh(std::string("printf %s ") + q(kCanary) + " | base64 -w0").out;
    std::string url;
    const char* hex = "0123456789ABCDEF";
    for (unsigned char c : std::string(kCanary)) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        url += static_cast<char>(c);
      } else {
        url += '%';
        url += hex[c >> 4];
        url += hex[c & 15];
      }
    }
    return {kCanary, b64, url};
  }

  fs::path dir_, state_;
  std::string env_;
  std::vector<std::string> outputs_;  // every command's output
};

TEST_F(CanaryTest, OneSecretThroughEveryPathLeavesNoTrace) {
  const bool python = ::access("/usr/bin/python3", X_OK) == 0;
  std::string no_podman = podman();
  if (!no_podman.empty() && required("WFRUN_REQUIRE_PODMAN")) FAIL() << no_podman;
  srv().seed("acme/src", {{"README", "source\n"}, {"nb.ipynb", kNotebook}}, dir_ / "seed1");
  srv().seed("acme/results", {{"README", "results\n"}}, dir_ / "seed2");

  std::string wf = R"Y(jobs:
  Script:
    uses: script@v1
    env:
      TOKEN: secret:canary
    outputs:
      report: {type: volume}
    with:
      script: |
        echo "plain=$TOKEN"
        echo "b64=$(printf %s "$TOKEN" | base64 -w0)"
        echo "url=$(/usr/bin/python3 -c 'import os, urllib.parse as u; print(u.quote(os.environ["TOKEN"], safe=""))')"
        echo "stderr=$TOKEN" >&2
        echo "# report" > /outputs/report/summary.md
  Fetch:
    uses: git-checkout@v1
    with:
      url: )Y" + srv().url("acme/src") + R"Y(
      username: alice
      password: secret:canary
    outputs:
      src: {type: volume}
  Save:
    needs: [Script]
    inputs: {report: Script.outputs.report}
    uses: git-commit@v1
    with:
      repo: acme/results
      branch: results
      base: main
      paths: [report]
      username: alice
      password: secret:canary
)Y";
  if (python)
    wf += R"Y(  Notebook:
    needs: [Fetch]
    inputs: {src: Fetch.outputs.src}
    uses: notebook@v1
    with:
      notebook: /inputs/src/nb.ipynb
      python: /usr/bin/python3
      parameters: {token: secret:canary}
)Y";
  if (no_podman.empty())
    wf += R"Y(  Boxed:
    uses: container@v1
    env:
      TOKEN: secret:canary
    with:
      image: )Y" + std::string(kImage) + R"Y(
      command: [sh, -c]
      args: ["echo box=$TOKEN"]
)Y";
  std::ofstream(dir_ / "wf.yaml") << wf;

  Proc run = wfrun("run wf.yaml --secret " + q(std::string("canary=") + kCanary));
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  // Each path got the value: masked where wfrun shows it.
  EXPECT_NE(run.out.find("Script   | plain=***"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("Script   | b64=***"), std::string::npos) << run.out;
  if (python) {
    EXPECT_NE(run.out.find("Script   | url=***"), std::string::npos) << run.out;
  }
  EXPECT_NE(run.out.find("Script   | stderr=***"), std::string::npos) << run.out;
  if (python) {
    EXPECT_NE(run.out.find("token length " + std::to_string(std::string(kCanary).size())),
              std::string::npos)
        << run.out;
    EXPECT_NE(run.out.find("Notebook | token ***"), std::string::npos) << run.out;
  }
  if (no_podman.empty()) {
    EXPECT_NE(run.out.find("Boxed    | box=***"), std::string::npos) << run.out;
  }
  EXPECT_NE(srv().rev("acme/results", "results"), "");

  // A run that fails on the secret's path (a wrong password): its errors are masked too.
  std::ofstream(dir_ / "bad.yaml") << "jobs:\n  Fetch:\n    uses: git-checkout@v1\n    with:\n"
                                      "      url: " + srv().url("acme/missing") +
                                          "\n      username: alice\n      password: secret:canary\n"
                                          "    outputs:\n      src: {type: volume}\n";
  Proc bad = wfrun("run bad.yaml --secret " + q(std::string("canary=") + kCanary));
  EXPECT_EQ(bad.code, 1) << bad.out << bad.err;

  for (const char* cmd : {"runs", "runs --json", "show 1", "show 1 --json", "show 2 --json",
                          "logs 1", "logs 1 Script", "logs 2", "metrics 1 --json",
                          "run wf.yaml --dry-run --secret "})
    wfrun(std::string(cmd) + (std::string(cmd).back() == ' ' ? q(std::string("canary=") + kCanary) : ""));

  const std::vector<std::string> needles = forms();
  for (const auto& out : outputs_)
    for (const auto& n : needles) EXPECT_EQ(out.find(n), std::string::npos) << n << " in " << out;

  // Every file, but those a job wrote itself: the notebook's executed copy holds the parameter.
  const fs::path own = state_ / "runs/1/jobs/Notebook/outputs";
  size_t files = 0;
  bool saw_db = false, saw_git_config = false;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir_, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->path() == own) {
      it.disable_recursion_pending();
      continue;
    }
    // The test's own: the image it built, its shell's output files.
    if (it->path() == dir_ / "rootfs" || it->path() == dir_ / "scratch" ||
        it->path().filename() == "img.tar") {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || it->is_symlink()) continue;
    ++files;
    saw_db |= it->path().filename() == "wfrun.db";
    saw_git_config |= it->path().filename() == "config" && it->path().parent_path().filename() == ".git";
    std::string text = slurp(it->path());
    for (const auto& n : needles) EXPECT_EQ(text.find(n), std::string::npos) << n << " in " << it->path();
  }
  EXPECT_TRUE(saw_db);
  EXPECT_TRUE(saw_git_config);
  EXPECT_GT(files, 20u);
}


// `wfrun serve` with the canary as its webhook secret, its API token and the repository's token
// (the clone's password on the git server and the workflow's GITHUB_TOKEN): a signed ping, a
// manual run through the API, its answers and logs, then the same search of every file.
TEST_F(CanaryTest, ServeTokensLeaveNoTrace) {
  srv().seed("acme/proj", {{"README", "proj\n"}, {".wfrun/workflows/main.yaml", R"Y(jobs:
  show:
    uses: script@v1
    env:
      TOK: secret:GITHUB_TOKEN
    with:
      script: |
        echo "tok=$TOK"
        cat README
)Y"}},
             dir_ / "seed");
  std::ofstream(dir_ / "server.yaml")
      << "listen: 127.0.0.1:0\nwebhook: {secret-env: WFRUN_CANARY}\napi: {tokens-env: WFRUN_CANARY}\n"
         "state-dir: " << state_.string() << "\ngithub-api: https://api.github.invalid\n"
         "ca-file: " << srv().ca() << "\nrepositories:\n  - repo: acme/proj\n"
         "    token-env: WFRUN_CANARY\n    clone-url: " << srv().url("acme/proj") << "\n";
  const fs::path log = dir_ / "serve.log";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setenv("WFRUN_CANARY", kCanary, 1);
    std::string cmd = "exec " + std::string(WFRUN_BIN) + " serve --config " + q(dir_ / "server.yaml") +
                      " >" + q(log) + " 2>&1 </dev/null";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    ::_exit(127);
  }
  struct Stop {
    pid_t pid;
    ~Stop() {
      ::kill(pid, SIGTERM);
      int st = 0;
      ::waitpid(pid, &st, 0);
    }
  } stop{pid};
  int port = 0;
  for (int i = 0; i < 300 && port == 0; ++i) {
    std::string text = slurp(log);
    size_t at = text.find("listening on port ");
    if (at != std::string::npos) port = std::atoi(text.c_str() + at + 18);
    if (port == 0) ::usleep(50000);
  }
  ASSERT_GT(port, 0) << slurp(log);
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  auto curl = [&](const std::string& args) {
    Proc p = sh("curl -sS -H " + q(std::string("Authorization: Bearer ") + kCanary) + " " + args);
    outputs_.push_back(p.out + p.err);
    return p.out;
  };

  // A signed ping, and one signed with a wrong secret.
  const std::string ping = R"({"zen":"Keep it logically awesome.","hook_id":1})";
  std::ofstream(dir_ / "ping.json") << ping;
  std::string sig = sh("printf %s " + q(ping) + " | openssl dgst -sha256 -hmac " + q(kCanary) +
                       " | sed 's/^.*= //'").out;
  while (!sig.empty() && sig.back() == '\n') sig.pop_back();
  for (const std::string& s : {sig, std::string(64, '0')}) {
    outputs_.push_back(sh("curl -sS -i -H 'X-GitHub-Event: ping' -H 'X-GitHub-Delivery: "
                          "72d3162e-cc78-11e3-81ab-4c9367dc0958' -H 'Content-Type: application/json' "
                          "-H " + q("X-Hub-Signature-256: sha256=" + s) + " --data-binary @" +
                          q(dir_ / "ping.json") + " " + base + "/webhook")
                           .out);
    // The right signature is answered, the wrong one refused.
    EXPECT_NE(outputs_.back().find(s == sig ? " 200 " : " 401 "), std::string::npos)
        << outputs_.back();
  }

  std::string posted = curl("-X POST -d '{\"repo\": \"acme/proj\", \"ref\": \"main\", \"workflow\": "
                       "\".wfrun/workflows/main.yaml\"}' " + base + "/api/runs");
  ASSERT_NE(posted.find("\"runs\""), std::string::npos) << posted << slurp(log);
  std::string run;
  for (int i = 0; i < 600; ++i) {
    run = curl(base + "/api/runs/1");
    if (run.find("\"status\":\"queued\"") == std::string::npos &&
        run.find("\"status\":\"running\"") == std::string::npos)
      break;
    ::usleep(50000);
  }
  ASSERT_NE(run.find("\"status\":\"success\""), std::string::npos) << run << slurp(log);
  std::string child_log = curl(base + "/api/runs/1/log");
  EXPECT_NE(child_log.find("tok=***"), std::string::npos) << child_log;
  curl(base + "/api/runs");
  curl(base + "/api/runs/1/jobs/show/log?workflow=.wfrun/workflows/main.yaml");
  curl(base + "/metrics");
  outputs_.push_back(slurp(log));

  const std::vector<std::string> needles = forms();
  for (const auto& out : outputs_)
    for (const auto& n : needles) EXPECT_EQ(out.find(n), std::string::npos) << n << " in " << out;
  size_t files = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir_, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->path() == dir_ / "scratch") {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || it->is_symlink()) continue;
    ++files;
    std::string text = slurp(it->path());
    for (const auto& n : needles) EXPECT_EQ(text.find(n), std::string::npos) << n << " in " << it->path();
  }
  EXPECT_GT(files, 10u);
}

}  // namespace
