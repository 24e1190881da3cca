// The git actions and `wfrun seed` end to end: the wfrun binary against a real git
// smart-HTTP server over HTTPS with basic auth (lighttpd + git http-backend, githttp.sh).

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace fs = std::filesystem;

namespace {

struct Proc {
  int code = -1;
  std::string out, err;
};

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string q(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

Proc shell(const std::string& cmd, const fs::path& scratch) {
  fs::path out = scratch / "sh.out", err = scratch / "sh.err";
  int st = std::system(("{ " + cmd + " ; } >" + q(out) + " 2>" + q(err) + " </dev/null").c_str());
  Proc r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = read_all(out);
  r.err = read_all(err);
  return r;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

const char* kUser = "alice";
const char* kPass = "cli-S3cret-T0ken";

/// One lighttpd for the suite; each test gets its own folder and state dir.
class GitCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_.clear();
    char tmpl[] = "/tmp/wfrun-gitcli-srv-XXXXXX";
    srv_dir_ = ::mkdtemp(tmpl);
    Proc probe = shell("command -v lighttpd && test -e /usr/lib/lighttpd/mod_openssl.so", srv_dir_);
    if (probe.code != 0) {
      skip_ = "lighttpd with mod_openssl is not installed";
      return;
    }
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = free_port();
      Proc r = shell("bash " + q(WFRUN_GITHTTP_SH) + " start " + q(srv_dir_) + " " +
                        std::to_string(port_) + " " + kUser + " " + kPass + " " +
                        std::to_string(::getpid()),
                    srv_dir_);
      if (r.code == 0) return;
      skip_ = "githttp.sh start failed: " + r.out + r.err;
    }
  }
  static void TearDownTestSuite() {
    shell("bash " + q(WFRUN_GITHTTP_SH) + " stop " + q(srv_dir_), "/tmp");
    std::error_code ec;
    fs::remove_all(srv_dir_, ec);
  }
  void SetUp() override {
    if (!skip_.empty()) {
      const char* req = std::getenv("WFRUN_REQUIRE_LIGHTTPD");
      if (req && std::string(req) == "1") FAIL() << skip_;
      GTEST_SKIP() << skip_;
    }
    char tmpl[] = "/tmp/wfrun-gitcli-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    state_ = dir_ / "state";
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  std::string base() const { return "https://localhost:" + std::to_string(port_); }
  std::string url(const std::string& name) const { return base() + "/git/" + name + ".git"; }
  std::string ca() const { return (srv_dir_ / "tls/ca.pem").string(); }
  std::string bare(const std::string& name) const {
    return (srv_dir_ / "repos" / (name + ".git")).string();
  }
  // The git CLI: no user config, trusts the test CA, signs as "test".
  std::string git() const {
    return "env HOME=" + q(dir_ / "home") +
           " GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 GIT_AUTHOR_NAME=test "
           "GIT_AUTHOR_EMAIL=test@example.com GIT_COMMITTER_NAME=test "
           "GIT_COMMITTER_EMAIL=test@example.com GIT_SSL_CAINFO=" +
           q(ca()) + " git ";
  }
  std::string cred_url(const std::string& name) const {
    return "https://" + std::string(kUser) + ":" + kPass + "@localhost:" + std::to_string(port_) +
           "/git/" + name + ".git";
  }

  // A new repo NAME on the server (a slash makes OWNER/NAME) whose main has `files`
  // (path -> content); returns main's sha.
  std::string seed(const std::string& name, const std::map<std::string, std::string>& files) {
    Proc r = shell("bash " + q(WFRUN_GITHTTP_SH) + " new-repo " + q(srv_dir_) + " " + q(name),
                  dir_);
    EXPECT_EQ(r.code, 0) << r.err;
    fs::path work = dir_ / ("seed-" + std::to_string(seeds_++));
    std::string g = git() + "-C " + q(work) + " ";
    std::string script = "set -e; " + git() + "init -q -b main " + q(work) + "; ";
    for (const auto& [path, text] : files) {
      fs::create_directories((work / path).parent_path());
      std::ofstream(work / path, std::ios::binary) << text;
    }
    script += g + "add -A; " + g + "commit -qm seed; " + g + "push -q " + q(cred_url(name)) +
              " main";
    r = shell(script, dir_);
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    return rev(name, "main");
  }
  std::string rev(const std::string& name, const std::string& ref) {
    Proc r = shell("git --git-dir=" + q(bare(name)) + " rev-parse " + q(ref), dir_);
    std::string s = r.out;
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }

  // `wfrun ARGS` in the test's folder, trusting the test CA.
  Proc wfrun(const std::string& args, const std::string& env = "") {
    return shell("cd " + q(dir_) + " && env WFRUN_HOME=" + q(state_) + " WFRUN_CA_FILE=" +
                     q(ca()) + " " + env + " " + WFRUN_BIN + " " + args,
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
      EXPECT_EQ(read_all(it->path()).find(kPass), std::string::npos) << it->path();
    }
  }

  static inline std::string skip_;
  static inline fs::path srv_dir_;
  static inline int port_ = 0;
  fs::path dir_, state_;
  int seeds_ = 0;
};

TEST_F(GitCliTest, GitCheckoutClonesIntoTheOutputVolume) {
  std::string main_sha = seed("proj", {{"README", "hello from git\n"}, {"src/a.py", "x = 1\n"}});
  file("wf.yaml", R"(jobs:
  Fetch:
    uses: git-checkout@v1
    with:
      url: )" + url("proj") + R"(
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
  EXPECT_NE(bad.out.find("authentication failed for " + url("proj") +
                         " (check the token and its scopes)"),
            std::string::npos)
      << bad.out;
}

TEST_F(GitCliTest, GitCheckoutRefAndPathAndGithubTokenFallback) {
  seed("refs", {{"README", "main\n"}});
  Proc r = shell("set -e; " + git() + "clone -q " + q(cred_url("refs")) + " " + q(dir_ / "w") +
                    "; " + git() + "-C " + q(dir_ / "w") + " checkout -qb feature/x; echo feat > " +
                    q(dir_ / "w/README") + "; " + git() + "-C " + q(dir_ / "w") +
                    " commit -qam feat; " + git() + "-C " + q(dir_ / "w") + " push -q origin " +
                    "feature/x",
                dir_);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  file("wf.yaml", R"(jobs:
  Fetch:
    uses: git-checkout@v1
    with:
      url: )" + url("refs") + R"(
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

}  // namespace
