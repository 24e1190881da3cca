// Tests for git/: local repositories, and a real git smart-HTTP server over HTTPS with basic
// auth (lighttpd + git http-backend, started by githttp.sh on a free port).

#include "git/git.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "git/actions.h"
#include "git/clone_cache.h"
#include "git/commit_push.h"
#include "git/seed.h"
#include "tests/support/files.h"
#include "tests/support/git_https.h"

namespace wfrun::git {
namespace {

namespace fs = std::filesystem;
using wfrun::testing::slurp;
using wfrun::testing::write_file;

struct Cmd {
  int rc;
  std::string out;
};

Cmd sh(const std::string& cmd) {
  Cmd c{-1, ""};
  FILE* p = ::popen(("{ " + cmd + " ; } 2>&1").c_str(), "r");
  if (!p) return c;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) c.out.append(buf, n);
  int st = ::pclose(p);
  c.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return c;
}

std::string q(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

/// A temporary folder, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "wfrun-git-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return (path_ / rel).string(); }

 private:
  fs::path path_;
};

// A git CLI that reads no user or system config, never prompts, and signs commits as "test".
std::string git_env(const std::string& home) {
  return "env HOME=" + q(home) +
         " GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 GIT_AUTHOR_NAME=test "
         "GIT_AUTHOR_EMAIL=test@example.com GIT_COMMITTER_NAME=test "
         "GIT_COMMITTER_EMAIL=test@example.com ";
}

// ---------------------------------------------------------------------------------------------
// Without a server.

TEST(GitUrl, RedactsCredentials) {
  EXPECT_EQ(redact_url("https://alice:s3cret@github.com/o/r.git"), "https://github.com/o/r.git");
  EXPECT_EQ(redact_url("https://ghp_abc@github.com/o/r"), "https://github.com/o/r");
  EXPECT_EQ(redact_url("https://a:p@ss@host:8443/x?y=1"), "https://host:8443/x?y=1");
  EXPECT_EQ(redact_url("ssh://git:pw@github.com/o/r.git"), "ssh://git@github.com/o/r.git");
  EXPECT_EQ(redact_url("git@github.com:o/r.git"), "git@github.com:o/r.git");
  EXPECT_EQ(redact_url("/srv/repos/r.git"), "/srv/repos/r.git");
  EXPECT_EQ(redact_url("https://github.com/o/r"), "https://github.com/o/r");
}

TEST(GitCache, PathIsKeyedByTheUrlWithoutCredentials) {
  std::string a = cache_path("/c", "https://alice:one@github.com/o/repo.git");
  std::string b = cache_path("/c", "https://bob:two@github.com/o/repo.git");
  std::string c = cache_path("/c", "https://github.com/o/other.git");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(a.rfind("/c/repo-", 0), 0u) << a;
  EXPECT_EQ(a.find("one"), std::string::npos);
  EXPECT_EQ(a.substr(a.size() - 4), ".git");
}

TEST(GitCommandLine, ManualPushCommandIsQuotedAndHasNoToken) {
  EXPECT_EQ(manual_push_command("/var/lib/wfrun/x", "main"),
            "git -C /var/lib/wfrun/x push origin refs/heads/main:refs/heads/main");
  EXPECT_EQ(manual_push_command("/tmp/a b", "main"),
            "git -C '/tmp/a b' push origin refs/heads/main:refs/heads/main");
}

/// A local origin repository made with the git CLI.
class GitLocalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    origin_ = tmp_ / "origin";
    Cmd c = sh(git_env(tmp_.path()) + "sh -c " +
               q("git init -q -b main " + q(origin_) + " && cd " + q(origin_) +
                 " && echo hello > README && git add README && git commit -qm first"));
    ASSERT_EQ(c.rc, 0) << c.out;
    sha_ = trimmed(sh("git -C " + q(origin_) + " rev-parse HEAD").out);
  }
  TempDir tmp_;
  std::string origin_;
  std::string sha_;
};

TEST_F(GitLocalTest, ClonesALocalPathAndAFileUrl) {
  auto a = Repository::clone(origin_, tmp_ / "a", {});
  ASSERT_TRUE(a) << a.error().str();
  EXPECT_EQ(*a->head_sha(), sha_);
  EXPECT_EQ(slurp(tmp_.path() / "a/README"), "hello\n");
  auto b = Repository::clone("file://" + origin_, tmp_ / "b", {});
  ASSERT_TRUE(b) << b.error().str();
  EXPECT_EQ(*b->head_sha(), sha_);
}

TEST_F(GitLocalTest, UnknownRefNamesTheRef) {
  auto a = Repository::clone(origin_, tmp_ / "a", {});
  ASSERT_TRUE(a);
  auto r = a->resolve("nope", {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().str(), "ref 'nope' not found in " + origin_);
}

TEST_F(GitLocalTest, RefusesFilesOver50MegabytesNamingThem) {
  auto a = Repository::clone(origin_, tmp_ / "a", {});
  ASSERT_TRUE(a);
  std::string big = tmp_ / "big.bin", big2 = tmp_ / "big2.bin";
  fs::resize_file((std::ofstream(big), big), 60'000'000);  // sparse: no disk used
  fs::resize_file((std::ofstream(big2), big2), 50'000'001);
  write_file(tmp_.path() / "small.txt", "ok\n");
  auto r = a->commit_paths("main", "",
                           {{tmp_ / "small.txt", "s.txt"}, {big, "b.bin"}, {big2, "b2.bin"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().str(),
            "refusing to commit files over 50 MB (GitHub rejects files over 100 MB): " + big +
                " (60.0 MB), " + big2 + " (50.0 MB)");
  // commit_and_push refuses before it touches the network.
  CommitPushRequest req;
  req.url = "https://localhost:1/nowhere.git";
  req.work_dir = tmp_ / "work";
  req.branch = "main";
  req.files = {{big, "b.bin"}};
  auto cp = commit_and_push(req, {});
  ASSERT_FALSE(cp);
  EXPECT_EQ(cp.error().str(),
            "refusing to commit files over 50 MB (GitHub rejects files over 100 MB): " + big +
                " (60.0 MB)");
  EXPECT_FALSE(fs::exists(tmp_.path() / "work"));
}

TEST_F(GitLocalTest, CommitsFilesAndDirectoriesWithModes) {
  auto a = Repository::clone(origin_, tmp_ / "a", {});
  ASSERT_TRUE(a);
  write_file(tmp_.path() / "out/x.txt", "x\n");
  write_file(tmp_.path() / "out/sub/y.txt", "y\n");
  write_file(tmp_.path() / "run.sh", "#!/bin/sh\n");
  fs::permissions(tmp_.path() / "run.sh", fs::perms::owner_exec, fs::perm_options::add);
  auto r = a->commit_paths("main", "", {{tmp_ / "out", "results/out"}, {tmp_ / "run.sh", "bin/"}},
                           "add results [skip ci]", "Ada <ada@example.com>");
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_TRUE(r->changed);
  EXPECT_EQ(r->parent, sha_);
  Cmd ls = sh("git -C " + q(tmp_ / "a") + " ls-tree -r HEAD");
  EXPECT_NE(ls.out.find("100644 blob"), std::string::npos);
  EXPECT_NE(ls.out.find("\tresults/out/sub/y.txt"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("100755 blob"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("\tbin/run.sh"), std::string::npos) << ls.out;
  Cmd log = sh("git -C " + q(tmp_ / "a") + " log -1 --format='%an <%ae>|%s'");
  EXPECT_EQ(trimmed(log.out), "Ada <ada@example.com>|add results [skip ci]");
  // HEAD is on main: the work tree has the files too, and is clean.
  EXPECT_EQ(slurp(tmp_.path() / "a/results/out/x.txt"), "x\n");
  EXPECT_EQ(trimmed(sh("git -C " + q(tmp_ / "a") + " status --porcelain").out), "");
  // The same files again: nothing to commit.
  auto again = a->commit_paths("main", "", {{tmp_ / "out", "results/out"}});
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(again->sha, r->sha);
  auto bad = a->commit_paths("main", "", {{tmp_ / "run.sh", "../escape.sh"}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().str(), "the destination '../escape.sh' is outside the repository");
}

TEST_F(GitLocalTest, UpdatesSubmodulesOnRequest) {
  std::string lib = tmp_ / "lib";
  std::string env = git_env(tmp_.path());
  Cmd c = sh(env + "sh -c " +
             q("git init -q -b main " + q(lib) + " && cd " + q(lib) +
               " && echo lib > lib.txt && git add . && git commit -qm lib && cd " + q(origin_) +
               " && git -c protocol.file.allow=always submodule -q add " + q(lib) +
               " third_party/lib && git commit -qm sub"));
  ASSERT_EQ(c.rc, 0) << c.out;
  auto a = Repository::clone(origin_, tmp_ / "a", {});
  ASSERT_TRUE(a) << a.error().str();
  EXPECT_FALSE(fs::exists(tmp_.path() / "a/third_party/lib/lib.txt"));
  auto r = a->update_submodules({});
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ(slurp(tmp_.path() / "a/third_party/lib/lib.txt"), "lib\n");
}

// ---------------------------------------------------------------------------------------------
// git-checkout@v1: the job's command line, and what its process does.

/// A job and the pieces of an ActionContext for it.
struct ActionFixture {
  workflows::Job job;
  workflows::Json with = workflows::Json::object();
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> secrets;
  engine::JobDirs dirs{"/run/jobs/fetch", "/run/jobs/fetch/inputs", "/run/jobs/fetch/outputs",
                       "/run/jobs/fetch/log"};
  std::vector<engine::ResolvedInput> inputs;

  ActionFixture(const std::string& uses, std::vector<std::string> volumes) {
    job.name = "fetch";
    job.uses = uses;
    for (auto& v : volumes) job.outputs.push_back({v, workflows::IoType::kVolume, {}, {}});
  }
  Result<engine::ActionCommand> command(const engine::Action& a) {
    job.with = with;
    engine::ActionContext ctx{job, with, env, dirs, inputs};
    ctx.secrets = &secrets;
    return a.command(ctx);
  }
};

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string after(const std::vector<std::string>& v, const std::string& flag) {
  auto it = std::find(v.begin(), v.end(), flag);
  return it == v.end() || it + 1 == v.end() ? "" : *(it + 1);
}

TEST(GitCheckoutAction, TokenTravelsInTheEnvironmentNeverTheCommandLine) {
  GitCheckoutAction action;
  ActionFixture f("git-checkout@v1", {"src"});
  f.with = {{"url", "https://bob:url-T0ken@example.com/o/r.git"}, {"ref", "main"}};
  auto cmd = f.command(action);
  ASSERT_TRUE(cmd) << cmd.error().str();
  EXPECT_EQ(cmd->argv[1], "git-checkout");
  EXPECT_EQ(after(cmd->argv, "--url"), "https://example.com/o/r.git");
  EXPECT_EQ(after(cmd->argv, "--username"), "bob");
  EXPECT_EQ(after(cmd->argv, "--dest"), "/run/jobs/fetch/outputs/src");
  EXPECT_EQ(after(cmd->argv, "--cache"), "/run/jobs/fetch/git-cache");
  EXPECT_EQ(after(cmd->argv, "--ref"), "main");
  for (const auto& a : cmd->argv) EXPECT_EQ(a.find("T0ken"), std::string::npos) << a;
  EXPECT_EQ(cmd->env.at(kTokenEnv), "url-T0ken");

  // `password` (a resolved secret:NAME) wins over GITHUB_TOKEN; GITHUB_TOKEN is the fallback.
  f.with = {{"url", "https://example.com/o/r"}, {"password", "pw-T0ken"}, {"path", "code"}};
  f.secrets["GITHUB_TOKEN"] = "gh-T0ken";
  cmd = f.command(action);
  ASSERT_TRUE(cmd) << cmd.error().str();
  EXPECT_EQ(cmd->env.at(kTokenEnv), "pw-T0ken");
  EXPECT_EQ(after(cmd->argv, "--dest"), "/run/jobs/fetch/outputs/code");
  EXPECT_FALSE(has(cmd->argv, "--ref"));
  f.with = {{"url", "https://example.com/o/r"}, {"path", "/outputs/src"}};
  cmd = f.command(action);
  ASSERT_TRUE(cmd) << cmd.error().str();
  EXPECT_EQ(cmd->env.at(kTokenEnv), "gh-T0ken");
  EXPECT_EQ(after(cmd->argv, "--dest"), "/outputs/src");
  f.secrets.clear();
  f.env["GITHUB_TOKEN"] = "env-T0ken";
  cmd = f.command(action);
  ASSERT_TRUE(cmd) << cmd.error().str();
  EXPECT_EQ(cmd->env.at(kTokenEnv), "env-T0ken");
  // Gradient's docs pass a private repository's token as the job's env GIT_PASSWORD.
  f.secrets["GITHUB_TOKEN"] = "gh-T0ken";
  f.env["GIT_PASSWORD"] = "gradient-T0ken";
  cmd = f.command(action);
  ASSERT_TRUE(cmd) << cmd.error().str();
  EXPECT_EQ(cmd->env.at(kTokenEnv), "gradient-T0ken");
}

TEST(GitCheckoutAction, NeedsOneVolumeOutputOrAPath) {
  GitCheckoutAction action;
  ActionFixture none("git-checkout@v1", {});
  none.job.with = {{"url", "https://example.com/o/r"}};
  EXPECT_EQ(action.check(none.job).error().message(),
            "git-checkout@v1 clones into the job's volume output, and job 'fetch' has 0: declare "
            "one (outputs: {src: {type: volume}}) or give `path:`");
  ActionFixture two("git-checkout@v1", {"a", "b"});
  two.job.with = {{"url", "https://example.com/o/r"}, {"path", "a"}};
  EXPECT_TRUE(action.check(two.job).ok());
  ActionFixture one("git-checkout@v1", {"src"});
  one.job.with = {{"url", "https://example.com/o/r"}};
  EXPECT_TRUE(action.check(one.job).ok());
}

// HTTP Basic over plain http:// carries the password readable to anyone on the way: refused
// unless the job says `insecure: true`, and a GITHUB_TOKEN found by default is not offered.
TEST(GitCheckoutAction, PlainHttpCredentialsNeedInsecure) {
  GitCheckoutAction action;
  ActionFixture f("git-checkout@v1", {"src"});
  f.job.where.file = "wf.yaml";
  f.job.where.line = 3;
  f.job.where.column = 5;
  f.with = {{"url", "http://git.example.com/o/r.git"}, {"password", "pw-T0ken"}};
  const std::string why =
      "git-checkout@v1 refuses to send `password` over plain http://: HTTP Basic "
      "authentication carries it unencrypted, readable by anyone on the network path. Use an "
      "https:// URL, or set `insecure: true` if you accept that";
  auto cmd = f.command(action);
  ASSERT_FALSE(cmd);
  EXPECT_EQ(cmd.error().message(), why);
  EXPECT_EQ(cmd.error().where().field, "jobs.fetch.with.password");
  // Before the run as well, where the workflow says it.
  f.job.with = f.with;
  ASSERT_FALSE(action.check(f.job));
  EXPECT_EQ(action.check(f.job).error().str(), "wf.yaml:3:5: " + why);
  // Credentials in the URL itself.
  f.with = {{"url", "HTTP://bob:url-T0ken@git.example.com/o/r.git"}};
  cmd = f.command(action);
  ASSERT_FALSE(cmd);
  EXPECT_EQ(cmd.error().where().field, "jobs.fetch.with.url");
  EXPECT_NE(cmd.error().message().find("the credentials in `url`"), std::string::npos);
  // insecure: true sends them; https:// never needed it.
  f.with = {{"url", "http://git.example.com/o/r.git"}, {"password", "pw-T0ken"}, {"insecure", true}};
  f.job.with = f.with;
  cmd = f.command(action);
  ASSERT_TRUE(cmd) << cmd.error().str();
  EXPECT_EQ(cmd->env.at(kTokenEnv), "pw-T0ken");
  EXPECT_TRUE(action.check(f.job).ok());
  f.with = {{"url", "https://git.example.com/o/r.git"}, {"password", "pw-T0ken"}};
  cmd = f.command(action);
  ASSERT_TRUE(cmd) << cmd.error().str();
  EXPECT_EQ(cmd->env.at(kTokenEnv), "pw-T0ken");
  // A GITHUB_TOKEN nobody named for this server: a public http:// clone works without it.
  f.secrets["GITHUB_TOKEN"] = "gh-T0ken";
  f.with = {{"url", "http://git.example.com/o/r.git"}};
  cmd = f.command(action);
  ASSERT_TRUE(cmd) << cmd.error().str();
  EXPECT_EQ(cmd->env.count(kTokenEnv), 0u);
  // git-commit@v1 takes the same care.
  GitCommitAction commit;
  ActionFixture c("git-commit@v1", {});
  c.with = {{"url", "http://git.example.com/o/r.git"}, {"password", "pw-T0ken"},
            {"branch", "out"}, {"paths", "x"}};
  cmd = c.command(commit);
  ASSERT_FALSE(cmd);
  EXPECT_EQ(cmd.error().where().field, "jobs.fetch.with.password");
  EXPECT_NE(cmd.error().message().find("git-commit@v1 refuses"), std::string::npos);
}

TEST(GitCommitAction, CommandLineKeepsTheTokenOutAndPathsRelative) {
  GitCommitAction action;
  ActionFixture f("git-commit@v1", {});
  f.job.name = "save";
  f.with = {{"repo", "acme/results"},
            {"branch", "results"},
            {"paths", {"/inputs/report/*.md", "/run/jobs/fetch/inputs/model", "notes.txt"}},
            {"dest", "runs/7"},
            {"password", "pw-T0ken"},
            {"pull-request", {{"title", "Results"}, {"base", "main"}}}};
  ::setenv("WFRUN_GITHUB_URL", "https://git.example.com/prefix/", 1);
  auto cmd = f.command(action);
  ::unsetenv("WFRUN_GITHUB_URL");
  ASSERT_TRUE(cmd) << cmd.error().str();
  EXPECT_EQ(cmd->argv[1], "git-commit");
  EXPECT_EQ(after(cmd->argv, "--url"), "https://git.example.com/prefix/acme/results.git");
  EXPECT_EQ(after(cmd->argv, "--inputs"), "/run/jobs/fetch/inputs");
  std::vector<std::string> paths;
  for (size_t i = 0; i + 1 < cmd->argv.size(); ++i)
    if (cmd->argv[i] == "--path") paths.push_back(cmd->argv[i + 1]);
  EXPECT_EQ(paths, (std::vector<std::string>{"report/*.md", "model", "notes.txt"}));
  EXPECT_EQ(after(cmd->argv, "--work-dir"), "/run/jobs/fetch/git-commit.git");
  EXPECT_EQ(after(cmd->argv, "--dest"), "runs/7");
  EXPECT_EQ(after(cmd->argv, "--repo"), "acme/results");
  EXPECT_EQ(after(cmd->argv, "--pr-title"), "Results");
  EXPECT_EQ(after(cmd->argv, "--pr-base"), "main");
  EXPECT_TRUE(has(cmd->argv, "--pull-request"));
  for (const auto& a : cmd->argv) EXPECT_EQ(a.find("T0ken"), std::string::npos) << a;
  EXPECT_EQ(cmd->env.at(kTokenEnv), "pw-T0ken");

  f.with = {{"url", "https://example.com/r.git"}, {"branch", "b"}, {"paths", "/etc/passwd"}};
  EXPECT_EQ(f.command(action).error().message(),
            "`paths` entry '/etc/passwd' is not in the job's /inputs");
}

TEST(GitCommitAction, ChecksWhatTheTableCannot) {
  GitCommitAction action;
  auto check = [&](workflows::Json with) {
    ActionFixture f("git-commit@v1", {});
    f.job.name = "save";
    f.job.with = std::move(with);
    Status st = action.check(f.job);
    return st.ok() ? std::string("ok") : st.error().message();
  };
  EXPECT_EQ(check({{"repo", "a/b"}, {"branch", "x"}, {"paths", "f"}}), "ok");
  EXPECT_EQ(check({{"branch", "x"}, {"paths", "f"}}),
            "git-commit@v1 needs exactly one of `url:` (any git URL) and `repo:` (OWNER/NAME on "
            "GitHub)");
  EXPECT_EQ(check({{"url", "u"}, {"repo", "a/b"}, {"branch", "x"}, {"paths", "f"}}),
            "git-commit@v1 needs exactly one of `url:` (any git URL) and `repo:` (OWNER/NAME on "
            "GitHub)");
  EXPECT_EQ(check({{"repo", "just-a-name"}, {"branch", "x"}, {"paths", "f"}}),
            "`repo` must be OWNER/NAME, not 'just-a-name'");
  EXPECT_EQ(check({{"repo", "a/b"}, {"branch", "x"}, {"paths", "../up"}}),
            "`paths` entry '../up' leaves the job's /inputs");
  EXPECT_EQ(check({{"repo", "a/b"}, {"branch", "x"}, {"paths", "f"}, {"large-files", "release"}}),
            "ok");
  EXPECT_EQ(check({{"url", "u"}, {"branch", "x"}, {"paths", "f"}, {"large-files", "release"}}),
            "`large-files: release` needs `repo: OWNER/NAME` (the release is made through the "
            "GitHub API), not `url:`");
  EXPECT_EQ(check({{"url", "u"}, {"branch", "x"}, {"paths", "f"}, {"pull-request", {{"title", "t"}}}}),
            "`pull-request` needs `repo: OWNER/NAME` (the GitHub API names repositories that "
            "way), not `url:`");
  EXPECT_EQ(check({{"repo", "a/b"}, {"branch", "x"}, {"paths", "f"}, {"pull-request", {{"titel", "t"}}}}),
            "unknown key 'titel' in `pull-request` (it takes title, body, base)");
}

TEST(GitCommitAction, ExpandPathsLikeCpDashR) {
  TempDir tmp;
  write_file(tmp.path() / "in/report/a.md", "a");
  write_file(tmp.path() / "in/report/b.md", "b");
  write_file(tmp.path() / "in/report/c.txt", "c");
  write_file(tmp.path() / "in/model/w.bin", "w");
  std::string in = tmp / "in";
  auto files = expand_paths(in, {"report/*.md", "model"}, "runs/1/");
  ASSERT_TRUE(files) << files.error().str();
  ASSERT_EQ(files->size(), 3u);
  EXPECT_EQ((*files)[0].src, in + "/report/a.md");
  EXPECT_EQ((*files)[0].dest, "runs/1/a.md");
  EXPECT_EQ((*files)[1].dest, "runs/1/b.md");
  EXPECT_EQ((*files)[2].src, in + "/model");
  EXPECT_EQ((*files)[2].dest, "runs/1/model");
  auto root = expand_paths(in, {"report/c.txt"}, "");
  ASSERT_TRUE(root) << root.error().str();
  EXPECT_EQ((*root)[0].dest, "c.txt");
  EXPECT_EQ(expand_paths(in, {"report/*.csv"}, "").error().message(),
            "`paths` entry 'report/*.csv' matched nothing in the job's /inputs");
  EXPECT_EQ(github_repo_url("a/b/c").error().message(),
            "'a/b/c' is not a GitHub repository (OWNER/NAME)");
}

TEST(Seed, ParsesEveryUrlForm) {
  ::unsetenv("WFRUN_GITHUB_URL");
  auto u = parse_seed_url("https://github.com/acme/proj");
  ASSERT_TRUE(u) << u.error().str();
  EXPECT_EQ(u->clone_url, "https://github.com/acme/proj.git");
  EXPECT_EQ(u->repo_name, "proj");
  EXPECT_FALSE(u->tree || u->blob);
  u = parse_seed_url("https://github.com/acme/proj/tree/feature/x/notebooks?tab=1");
  ASSERT_TRUE(u) << u.error().str();
  EXPECT_TRUE(u->tree);
  EXPECT_EQ(u->rest, (std::vector<std::string>{"feature", "x", "notebooks"}));
  u = parse_seed_url("https://github.com/acme/proj/blob/main/a/b.ipynb");
  ASSERT_TRUE(u) << u.error().str();
  EXPECT_TRUE(u->blob);
  EXPECT_EQ(u->rest, (std::vector<std::string>{"main", "a", "b.ipynb"}));
  EXPECT_FALSE(u->clone);
  // The "Run on Gradient" badge's form: ?clone=true is --clone.
  u = parse_seed_url("https://github.com/acme/proj/blob/main/a/b.ipynb?ref=badge&clone=true#x");
  ASSERT_TRUE(u) << u.error().str();
  EXPECT_TRUE(u->clone);
  EXPECT_EQ(u->rest, (std::vector<std::string>{"main", "a", "b.ipynb"}));
  EXPECT_TRUE(parse_seed_url("https://github.com/acme/proj/blob/main/b.ipynb?clone=1")->clone);
  EXPECT_FALSE(parse_seed_url("https://github.com/acme/proj/blob/main/b.ipynb?clone=false")->clone);
  EXPECT_FALSE(parse_seed_url("https://github.com/acme/proj/blob/main/b.ipynb#clone=true")->clone);
  u = parse_seed_url("git@github.com:acme/proj.git");
  ASSERT_TRUE(u) << u.error().str();
  EXPECT_EQ(u->clone_url, "git@github.com:acme/proj.git");
  u = parse_seed_url("https://user:tok@git.example.com/team/tools.git");
  ASSERT_TRUE(u) << u.error().str();
  EXPECT_EQ(u->clone_url, "https://user:tok@git.example.com/team/tools.git");
  EXPECT_EQ(u->repo_name, "tools");
  ::setenv("WFRUN_GITHUB_URL", "https://ghe.example.com/", 1);
  EXPECT_EQ(parse_seed_url("git@github.com:acme/proj.git")->clone_url,
            "https://ghe.example.com/acme/proj.git");
  ::unsetenv("WFRUN_GITHUB_URL");
  EXPECT_EQ(parse_seed_url("https://github.com/acme/proj/pulls").error().message(),
            "https://github.com/acme/proj/pulls is not a repository, folder or notebook URL "
            "(expected .../tree/REF or .../blob/REF/PATH after OWNER/REPO)");
  EXPECT_EQ(parse_seed_url("https://github.com/acme/proj/blob/main").error().message(),
            "https://github.com/acme/proj/blob/main names no file after the ref");
}

TEST(Seed, SplitsRefsWithSlashesAgainstTheRemote) {
  std::vector<std::pair<std::string, std::string>> refs = {
      {"HEAD", "refs/heads/main"},
      {"refs/heads/main", "1"},
      {"refs/heads/feature", "2"},
      {"refs/heads/feature/x", "3"},
      {"refs/tags/v1.0", "4"}};
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(*split_ref_and_path({"feature", "x", "nb", "a.ipynb"}, refs, "U"),
            P("feature/x", "nb/a.ipynb"));
  EXPECT_EQ(*split_ref_and_path({"feature", "y"}, refs, "U"), P("feature", "y"));
  EXPECT_EQ(*split_ref_and_path({"v1.0"}, refs, "U"), P("v1.0", ""));
  EXPECT_EQ(*split_ref_and_path({"0123abcd", "dir"}, refs, "U"), P("0123abcd", "dir"));
  EXPECT_EQ(split_ref_and_path({"nope", "dir"}, refs, "https://a:b@h/r.git").error().message(),
            "no branch or tag of https://h/r.git matches 'nope/dir'");
}

TEST_F(GitLocalTest, RunCheckoutClonesThroughTheCacheAndChecksOutTheRef) {
  Cmd c = sh(git_env(tmp_.path()) + "sh -c " +
             q("cd " + q(origin_) + " && git tag v1 && echo two > README && git commit -qam two"));
  ASSERT_EQ(c.rc, 0) << c.out;
  CheckoutRequest req{origin_, "v1", tmp_ / "out/src", tmp_ / "cache", false};
  auto sha = run_checkout(req, {});
  ASSERT_TRUE(sha) << sha.error().str();
  EXPECT_EQ(*sha, sha_);
  EXPECT_EQ(slurp(tmp_.path() / "out/src/README"), "hello\n");
  EXPECT_TRUE(fs::exists(cache_path(tmp_ / "cache", origin_)));
  req.ref = "";
  req.dest = tmp_ / "out/again";
  sha = run_checkout(req, {});
  ASSERT_TRUE(sha) << sha.error().str();
  EXPECT_EQ(slurp(tmp_.path() / "out/again/README"), "two\n");
  req.ref = "nope";
  req.dest = tmp_ / "out/bad";
  EXPECT_EQ(run_checkout(req, {}).error().str(), "ref 'nope' not found in " + origin_);
}

// ---------------------------------------------------------------------------------------------
// Against a real git smart-HTTP server over HTTPS with basic auth.

using testkit::GitHttpsTest;

/// Commits made in the seeded repo.
struct Seed {
  std::string main, feature, tag, pr;
  std::string work;  // the CLI clone that pushed them
};

/// lighttpd + git http-backend (tests/support/git_https.h), shared by the suite.
class GitHttpTest : public GitHttpsTest {
 protected:
  static void SetUpTestSuite() { start_server("alice", "s3cret-T0ken-xyz"); }

  RemoteOptions good() const {
    RemoteOptions o;
    o.creds.username = srv().user();
    o.creds.token = srv().pass();
    o.ca_file = srv().ca();
    return o;
  }
  std::string git() const { return srv().git(srv().dir() / "home"); }
  // A new bare repo NAME with main (2 commits), feature, tag v1 and refs/pull/1/head.
  Seed seed(const std::string& name) {
    Seed s;
    testkit::Proc made = srv().new_repo(name);
    EXPECT_EQ(made.code, 0) << made.out << made.err;
    s.work = tmp_ / ("seed-" + name);
    std::string g = git() + "-C " + q(s.work) + " ";
    std::string script = "set -e; " + git() + "init -q -b main " + q(s.work) +
                         "; echo one > " + q(s.work + "/README") + "; " + g + "add README; " + g +
                         "commit -qm one; " + g + "tag v1; echo two > " + q(s.work + "/README") +
                         "; " + g + "commit -qam two; " + g + "checkout -qb feature; echo feat > " +
                         q(s.work + "/feature.txt") + "; " + g + "add feature.txt; " + g +
                         "commit -qm feat; " + g + "checkout -q --detach main; echo pr > " +
                         q(s.work + "/pr.txt") + "; " + g + "add pr.txt; " + g + "commit -qm pr; " +
                         g + "push -q " + q(srv().cred_url(name)) +
                         " main feature v1 HEAD:refs/pull/1/head; " + g + "checkout -q main";
    Cmd c = sh(script);
    EXPECT_EQ(c.rc, 0) << c.out;
    auto rev = [&](const std::string& r) {
      return trimmed(sh("git --git-dir=" + q(srv().bare(name)) + " rev-parse " + r).out);
    };
    s.main = rev("main");
    s.feature = rev("feature");
    s.tag = rev("v1^{commit}");
    s.pr = rev("refs/pull/1/head");
    return s;
  }
  std::string remote_rev(const std::string& name, const std::string& ref) {
    return trimmed(sh("git --git-dir=" + q(srv().bare(name)) + " rev-parse " + ref).out);
  }
  // Pushes one more commit to main of NAME with the CLI (over HTTPS), returns its sha.
  std::string cli_push_commit(const Seed& s, const std::string& name, const std::string& file) {
    std::string g = git() + "-C " + q(s.work) + " ";
    Cmd c = sh("set -e; echo " + file + " > " + q(s.work + "/" + file) + "; " + g + "add " + file +
               "; " + g + "commit -qm " + file + "; " + g + "push -q " + q(srv().cred_url(name)) +
               " main");
    EXPECT_EQ(c.rc, 0) << c.out;
    return remote_rev(name, "main");
  }
  void expect_no_secret(const std::string& text) {
    EXPECT_EQ(text.find(srv().pass()), std::string::npos) << text;
  }
  void expect_no_secret_in_tree(const fs::path& root) {
    for (const auto& e : fs::recursive_directory_iterator(root)) {
      if (!e.is_regular_file()) continue;
      std::string name = e.path().filename().string();
      if (name == "config" || name == "FETCH_HEAD" ||
          e.path().string().find("/logs/") != std::string::npos)
        expect_no_secret(slurp(e.path()));
    }
  }

  TempDir tmp_;
};

TEST_F(GitHttpTest, ClonesAndFetchesWithAToken) {
  Seed s = seed("clone");
  auto repo = Repository::clone(srv().url("clone"), tmp_ / "c", good());
  ASSERT_TRUE(repo) << repo.error().str();
  EXPECT_EQ(*repo->head_sha(), s.main);
  EXPECT_EQ(repo->origin_url(), srv().url("clone"));
  EXPECT_EQ(slurp(tmp_.path() / "c/README"), "two\n");
  std::string next = cli_push_commit(s, "clone", "three.txt");
  auto f = repo->fetch(good());
  ASSERT_TRUE(f) << f.error().str();
  EXPECT_EQ(*repo->resolve("main", good()), next);
  expect_no_secret_in_tree(tmp_.path() / "c/.git");
}

TEST_F(GitHttpTest, CredentialsInTheUrlAreUsedButNeverStored) {
  Seed s = seed("userinfo");
  RemoteOptions o;
  o.ca_file = srv().ca();
  auto repo = Repository::clone(srv().cred_url("userinfo"), tmp_ / "c", o);
  ASSERT_TRUE(repo) << repo.error().str();
  EXPECT_EQ(*repo->head_sha(), s.main);
  EXPECT_EQ(repo->origin_url(), srv().url("userinfo"));
  expect_no_secret_in_tree(tmp_.path() / "c/.git");
}

TEST_F(GitHttpTest, BadPasswordFailsAfterOneTry) {
  seed("badpw");
  RemoteOptions o = good();
  o.creds.token = "wrong-password-123";
  auto before = std::chrono::steady_clock::now();
  auto repo = Repository::clone(srv().url("badpw"), tmp_ / "c", o);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - before).count();
  ASSERT_FALSE(repo);
  EXPECT_EQ(repo.error().str(), "authentication failed for " + srv().url("badpw") +
                                    " (check the token and its scopes)");
  EXPECT_EQ(repo.error().str().find("wrong-password"), std::string::npos);
  EXPECT_LT(secs, 5.0);
  // One unauthenticated request and one with the bad password: no 15 retries. Only libgit2's
  // lines count: the git CLI's seeding push is in the log too, once lighttpd has flushed it.
  size_t tries = 0;
  std::istringstream log(slurp(srv().dir() / "log/access.log"));
  for (std::string line; std::getline(log, line);)
    tries += line.find("/git/badpw.git/info/refs") != std::string::npos &&
             line.find("libgit2") != std::string::npos;
  EXPECT_LE(tries, 2u) << slurp(srv().dir() / "log/access.log");
}

TEST_F(GitHttpTest, NoCredentialsForAPrivateRepo) {
  seed("nocreds");
  RemoteOptions o;
  o.ca_file = srv().ca();
  auto repo = Repository::clone(srv().url("nocreds"), tmp_ / "c", o);
  ASSERT_FALSE(repo);
  EXPECT_EQ(repo.error().str(),
            "authentication required for " + srv().url("nocreds") +
                ": no credentials were given (pass a token as secret:NAME or set GITHUB_TOKEN)");
  // The same repo is public under /anon/: no credentials needed to read.
  auto anon = Repository::clone(srv().anon_url("nocreds"), tmp_ / "anon", o);
  ASSERT_TRUE(anon) << anon.error().str();
}

TEST_F(GitHttpTest, UntrustedCertificateMentionsTheCaFileOption) {
  seed("cert");
  RemoteOptions o = good();
  o.ca_file.clear();
  auto repo = Repository::clone(srv().url("cert"), tmp_ / "c", o);
  ASSERT_FALSE(repo);
  std::string msg = repo.error().str();
  EXPECT_EQ(msg.rfind("the TLS certificate of " + srv().url("cert") + " is not trusted: ", 0), 0u)
      << msg;
  EXPECT_NE(msg.find("(if a proxy or a private CA signs it, pass that CA bundle with --ca-file "
                     "or WFRUN_CA_FILE)"),
            std::string::npos)
      << msg;
  // And with the CA file it works again (the setting is process-wide; it must switch back).
  auto ok = Repository::clone(srv().url("cert"), tmp_ / "c2", good());
  ASSERT_TRUE(ok) << ok.error().str();
}

TEST_F(GitHttpTest, ResolvesBranchesTagsShasAndPullRequests) {
  Seed s = seed("refs");
  auto repo = Repository::clone(srv().url("refs"), tmp_ / "c", good());
  ASSERT_TRUE(repo) << repo.error().str();
  EXPECT_EQ(*repo->resolve("main", good()), s.main);
  EXPECT_EQ(*repo->resolve("feature", good()), s.feature);
  EXPECT_EQ(*repo->resolve("v1", good()), s.tag);
  EXPECT_EQ(*repo->resolve(s.feature, good()), s.feature);
  EXPECT_EQ(*repo->resolve(s.feature.substr(0, 8), good()), s.feature);
  auto pr = repo->resolve("refs/pull/1/head", good());  // not cloned: fetched on demand
  ASSERT_TRUE(pr) << pr.error().str();
  EXPECT_EQ(*pr, s.pr);
  auto missing = repo->resolve("no-such-branch", good());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().str(), "ref 'no-such-branch' not found in " + srv().url("refs"));
  auto missing_pr = repo->resolve("refs/pull/7/head", good());
  ASSERT_FALSE(missing_pr);
  EXPECT_EQ(missing_pr.error().str(), "ref 'refs/pull/7/head' not found in " + srv().url("refs"));
}

TEST_F(GitHttpTest, ChecksOutBranchesTagsAndPullRequests) {
  Seed s = seed("checkout");
  auto repo = Repository::clone(srv().url("checkout"), tmp_ / "c", good());
  ASSERT_TRUE(repo);
  fs::path wt = tmp_.path() / "c";
  ASSERT_TRUE(repo->checkout("feature", good()));
  EXPECT_EQ(*repo->head_sha(), s.feature);
  EXPECT_EQ(slurp(wt / "feature.txt"), "feat\n");
  EXPECT_EQ(trimmed(sh("git -C " + q(wt) + " symbolic-ref HEAD").out), "refs/heads/feature");
  ASSERT_TRUE(repo->checkout("v1", good()));
  EXPECT_EQ(*repo->head_sha(), s.tag);
  EXPECT_EQ(slurp(wt / "README"), "one\n");
  EXPECT_FALSE(fs::exists(wt / "feature.txt"));
  ASSERT_TRUE(repo->checkout("pull/1/head", good()));
  EXPECT_EQ(*repo->head_sha(), s.pr);
  EXPECT_EQ(slurp(wt / "pr.txt"), "pr\n");
  ASSERT_TRUE(repo->checkout(s.main.substr(0, 10), good()));
  EXPECT_EQ(*repo->head_sha(), s.main);
  EXPECT_EQ(trimmed(sh("git -C " + q(wt) + " status --porcelain").out), "");
}

TEST_F(GitHttpTest, CommitsAndPushes) {
  seed("push");
  auto repo = Repository::clone(srv().url("push"), tmp_ / "c", good());
  ASSERT_TRUE(repo);
  write_file(tmp_.path() / "metrics.json", "{\"acc\": 0.9}\n");
  auto c = repo->commit_paths("main", "", {{tmp_ / "metrics.json", "results/metrics.json"}});
  ASSERT_TRUE(c) << c.error().str();
  auto p = repo->push("main", good());
  ASSERT_TRUE(p) << p.error().str();
  EXPECT_EQ(remote_rev("push", "main"), c->sha);
  EXPECT_EQ(sh("git --git-dir=" + q(srv().bare("push")) + " show main:results/metrics.json").out,
            "{\"acc\": 0.9}\n");
  EXPECT_EQ(trimmed(sh("git --git-dir=" + q(srv().bare("push")) + " log -1 --format=%s main").out),
            "Update files from wfrun [skip ci]");
}

TEST_F(GitHttpTest, PushWithABadPasswordFailsWithoutRetrying) {
  seed("pushpw");
  auto repo = Repository::clone(srv().url("pushpw"), tmp_ / "c", good());
  ASSERT_TRUE(repo);
  write_file(tmp_.path() / "f.txt", "f\n");
  ASSERT_TRUE(repo->commit_paths("main", "", {{tmp_ / "f.txt", "f.txt"}}));
  RemoteOptions bad = good();
  bad.creds.token = "nope-nope";
  auto p = repo->push("main", bad);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().str(), "authentication failed for " + srv().url("pushpw") +
                                 " (check the token and its scopes)");
}

TEST_F(GitHttpTest, ServerRejectsANonFastForwardPush) {
  Seed s = seed("denynff");
  ASSERT_EQ(
      sh("git --git-dir=" + q(srv().bare("denynff")) + " config receive.denyNonFastForwards true")
          .rc,
      0);
  auto repo = Repository::clone(srv().url("denynff"), tmp_ / "c", good());
  ASSERT_TRUE(repo);
  cli_push_commit(s, "denynff", "other.txt");  // main moves on the server
  ASSERT_TRUE(repo->fetch(good()));
  write_file(tmp_.path() / "f.txt", "f\n");
  // Build on the old tip (a local branch), then force it onto main: the server must refuse.
  git::Repository& r = *repo;
  ASSERT_EQ(sh("git -C " + q(tmp_ / "c") + " update-ref refs/heads/stale " + s.main).rc, 0);
  ASSERT_TRUE(r.commit_paths("stale", "", {{tmp_ / "f.txt", "f.txt"}}));
  ASSERT_EQ(sh("git -C " + q(tmp_ / "c") + " update-ref refs/heads/main refs/heads/stale").rc, 0);
  auto p = r.push("main", good(), /*force=*/true);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().str(),
            "the server rejected the push to main: non-fast-forward (remote: error: denying "
            "non-fast-forward refs/heads/main (you should pull first))");
}

TEST_F(GitHttpTest, PreReceiveHookRejectionKeepsTheCommitAndSaysHowToPush) {
  seed("hook");
  fs::path hook = fs::path(srv().bare("hook")) / "hooks/pre-receive";
  write_file(hook, "#!/bin/sh\necho 'pushes to main are frozen' >&2\nexit 1\n");
  fs::permissions(hook, fs::perms::owner_all);
  write_file(tmp_.path() / "f.txt", "f\n");
  CommitPushRequest req;
  req.url = srv().url("hook");
  req.work_dir = tmp_ / "work";
  req.branch = "main";
  req.files = {{tmp_ / "f.txt", "f.txt"}};
  auto r = commit_and_push(req, good());
  ASSERT_FALSE(r);
  std::string msg = r.error().str();
  std::string sha =
      trimmed(sh("git --git-dir=" + q(tmp_ / "work") + " rev-parse refs/heads/main").out);
  EXPECT_EQ(msg,
            "the server rejected the push to main: pre-receive hook declined (remote: "
            "pushes to main are frozen); the commit " +
                sha.substr(0, 12) + " is kept in " + (tmp_ / "work") +
                "; push it by hand with: git -C " + (tmp_ / "work") +
                " push origin refs/heads/main:refs/heads/main");
  expect_no_secret(msg);
  expect_no_secret_in_tree(tmp_.path() / "work");
  // The printed command works once the hook is gone.
  fs::remove(hook);
  Cmd c = sh(git() + "-c credential.helper= -C " + q(tmp_ / "work") + " push " +
             q(srv().cred_url("hook")) + " refs/heads/main:refs/heads/main");
  ASSERT_EQ(c.rc, 0) << c.out;
  EXPECT_EQ(remote_rev("hook", "main"), sha);
}

TEST_F(GitHttpTest, CommitAndPushCreatesTheBranchFromBase) {
  Seed s = seed("newbranch");
  write_file(tmp_.path() / "r.txt", "r\n");
  CommitPushRequest req;
  req.url = srv().url("newbranch");
  req.work_dir = tmp_ / "work";
  req.branch = "results";
  req.base = "main";
  req.files = {{tmp_ / "r.txt", "r.txt"}};
  auto r = commit_and_push(req, good());
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_TRUE(r->changed);
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(remote_rev("newbranch", "results"), r->sha);
  EXPECT_EQ(remote_rev("newbranch", "results~1"), s.main);
  // Again with the same file: nothing to do.
  req.work_dir = tmp_ / "work2";
  auto again = commit_and_push(req, good());
  ASSERT_TRUE(again) << again.error().str();
  EXPECT_FALSE(again->changed);
  req.base = "nope";
  req.branch = "other";
  req.work_dir = tmp_ / "work3";
  auto bad = commit_and_push(req, good());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().str(), "ref 'nope' not found in " + srv().url("newbranch"));
}

// libgit2 searches for deltas only after it has opened the push's upload, so a long search
// stalls the request until the server drops it (bench/commit-push: lighttpd, 60 s idle). Above
// delta_search_max_bytes the pack is sent without deltas; below it, with them.
TEST_F(GitHttpTest, BigPushesSkipTheDeltaSearch) {
  seed("deltas");
  // Keep the received packs as they came (not unpacked), so verify-pack can read them.
  Cmd keep = sh("git --git-dir=" + q(srv().bare("deltas")) + " config receive.unpackLimit 1");
  ASSERT_EQ(keep.rc, 0) << keep.out;
  // Two 300 KB files that differ in one line: the second is a tiny delta of the first.
  std::string text;
  for (int i = 0; i < 10000; ++i) text += "line " + std::to_string(i * 7919 % 10007) + " of many\n";
  auto deltas_in_packs = [&] {
    Cmd v = sh("for p in " + q(srv().bare("deltas")) +
               "/objects/pack/*.idx; do git verify-pack -v \"$p\"; done | "
               "grep -c 'chain length' || true");
    return trimmed(v.out);
  };
  auto push = [&](const std::string& branch, std::uint64_t limit, const std::string& tag) {
    write_file(tmp_.path() / tag / "a.txt", text + tag + " a\n");
    write_file(tmp_.path() / tag / "b.txt", text + tag + " b\n");
    CommitPushRequest req;
    req.url = srv().url("deltas");
    req.work_dir = tmp_ / ("work-" + tag);
    req.branch = branch;
    req.base = "main";
    req.files = {{tmp_ / tag, "data"}};
    req.delta_search_max_bytes = limit;
    return commit_and_push(req, good());
  };
  auto big = push("big", 100 * 1000, "big");  // 600 KB of files: over the limit
  ASSERT_TRUE(big) << big.error().str();
  EXPECT_EQ(deltas_in_packs(), "0");
  Cmd cfg = sh("git --git-dir=" + q(tmp_ / "work-big") + " config pack.deltaCacheSize");
  EXPECT_EQ(trimmed(cfg.out), "0");
  auto small = push("small", 64ull * 1000 * 1000, "small");
  ASSERT_TRUE(small) << small.error().str();
  EXPECT_NE(deltas_in_packs(), "0");
  EXPECT_EQ(remote_rev("deltas", "small:data/b.txt"),
            trimmed(sh("git hash-object " + q(tmp_ / "small/b.txt")).out));
}

TEST_F(GitHttpTest, FourRacingPushersAllLand) {
  Seed s = seed("race");
  constexpr int kPushers = 4;
  std::vector<Result<CommitPushResult>> results(kPushers, Error("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kPushers; ++i) {
    std::string name = "run" + std::to_string(i) + ".txt";
    write_file(tmp_.path() / ("in" + std::to_string(i)) / name, "run " + std::to_string(i) + "\n");
  }
  for (int i = 0; i < kPushers; ++i) {
    threads.emplace_back([&, i] {
      CommitPushRequest req;
      req.url = srv().url("race");
      req.work_dir = tmp_ / ("work" + std::to_string(i));
      req.branch = "main";
      req.files = {{tmp_ / ("in" + std::to_string(i)), "runs"}};
      req.message = "run " + std::to_string(i) + " [skip ci]";
      results[i] = commit_and_push(req, good());
    });
  }
  for (auto& t : threads) t.join();
  int retried = 0;
  for (int i = 0; i < kPushers; ++i) {
    ASSERT_TRUE(results[i]) << i << ": " << results[i].error().str();
    if (results[i]->attempts > 1) ++retried;
  }
  std::string bare = "git --git-dir=" + q(srv().bare("race")) + " ";
  EXPECT_EQ(trimmed(sh(bare + "rev-list --count " + s.main + "..main").out),
            std::to_string(kPushers));
  Cmd ls = sh(bare + "ls-tree --name-only main runs/");
  EXPECT_EQ(ls.out, "runs/run0.txt\nruns/run1.txt\nruns/run2.txt\nruns/run3.txt\n");
  // Linear history: rebuilt on the new tip, never merged.
  EXPECT_EQ(trimmed(sh(bare + "rev-list --merges --count main").out), "0");
  std::printf("racing pushers: %d of %d needed more than one attempt\n", retried, kPushers);
}

TEST_F(GitHttpTest, CachedCloneOnlyFetchesTheSecondTime) {
  Seed s = seed("cached");
  std::string cache = tmp_ / "cache";
  auto a = cached_clone(cache, srv().url("cached"), tmp_ / "a", good());
  ASSERT_TRUE(a) << a.error().str();
  auto head = a->head_sha();
  ASSERT_TRUE(head) << head.error().str();
  EXPECT_EQ(*head, s.main);
  EXPECT_EQ(a->origin_url(), srv().url("cached"));
  auto feature = a->resolve("feature", good());
  ASSERT_TRUE(feature) << feature.error().str();
  EXPECT_EQ(*feature, s.feature);
  auto tag = a->resolve("v1", good());
  ASSERT_TRUE(tag) << tag.error().str();
  EXPECT_EQ(*tag, s.tag);
  std::string mirror = cache_path(cache, srv().url("cached"));
  ASSERT_TRUE(fs::exists(fs::path(mirror) / "HEAD"));
  std::string next = cli_push_commit(s, "cached", "later.txt");
  // Credentials in the URL: same mirror, reused (fetched, not cloned again).
  auto before = sh("ls -i " + q(mirror + "/HEAD")).out;
  auto b = cached_clone(cache, srv().cred_url("cached"), tmp_ / "b", good());
  ASSERT_TRUE(b) << b.error().str();
  EXPECT_EQ(sh("ls -i " + q(mirror + "/HEAD")).out, before);
  EXPECT_EQ(*b->head_sha(), next);
  EXPECT_EQ(b->origin_url(), srv().url("cached"));
  size_t mirrors = 0;
  for (const auto& e : fs::directory_iterator(cache))
    if (e.path().extension() == ".git") ++mirrors;
  EXPECT_EQ(mirrors, 1u);
  // On-demand refs go to the real remote.
  auto pr = b->resolve("refs/pull/1/head", good());
  ASSERT_TRUE(pr) << pr.error().str();
  EXPECT_EQ(*pr, s.pr);
  expect_no_secret_in_tree(cache);
  expect_no_secret_in_tree(tmp_.path() / "b/.git");
}

}  // namespace
}  // namespace wfrun::git
