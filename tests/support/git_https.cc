#include "tests/support/git_https.h"

#include "tests/support/files.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace wfrun::testkit {

namespace fs = std::filesystem;

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
  r.out = testing::slurp(out);
  r.err = testing::slurp(err);
  return r;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
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

bool required(const char* name) {
  const char* v = std::getenv(name);
  return v && std::string(v) == "1";
}

namespace {

std::string script() { return q(WFRUN_GITHTTP_SH); }

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

GitHttpsServer::GitHttpsServer(std::string user, std::string pass)
    : user_(std::move(user)), pass_(std::move(pass)) {
  std::string tmpl = (fs::temp_directory_path() / "wfrun-githttps-XXXXXX").string();
  if (::mkdtemp(tmpl.data())) dir_ = tmpl;
}

GitHttpsServer::~GitHttpsServer() {
  stop();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

std::string GitHttpsServer::start() {
  if (dir_.empty()) return "cannot make a temporary folder for the git server";
  Proc probe = shell("command -v lighttpd && test -e /usr/lib/lighttpd/mod_openssl.so", dir_);
  peer_missing_ = probe.code != 0;
  if (peer_missing_)
    return "lighttpd with mod_openssl is not installed (apt-get install lighttpd "
           "lighttpd-mod-openssl)";
  std::string why;
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = free_port();
    // With our pid as the owner, a watcher stops lighttpd if this process dies first.
    Proc r = shell("bash " + script() + " start " + q(dir_) + " " + std::to_string(port_) + " " +
                       q(user_) + " " + q(pass_) + " " + std::to_string(::getpid()),
                   dir_);
    if (r.code == 0) {
      running_ = true;
      return "";
    }
    why = "githttp.sh start failed: " + r.out + r.err;
  }
  port_ = 0;
  return why;
}

void GitHttpsServer::stop() {
  if (!running_) return;
  running_ = false;
  shell("bash " + script() + " stop " + q(dir_), dir_);
}

std::string GitHttpsServer::base() const { return "https://localhost:" + std::to_string(port_); }

std::string GitHttpsServer::url(const std::string& name) const {
  return base() + "/git/" + name + ".git";
}

std::string GitHttpsServer::anon_url(const std::string& name) const {
  return base() + "/anon/" + name + ".git";
}

std::string GitHttpsServer::cred_url(const std::string& name) const {
  return "https://" + user_ + ":" + pass_ + "@localhost:" + std::to_string(port_) + "/git/" +
         name + ".git";
}

std::string GitHttpsServer::ca() const { return (dir_ / "tls/ca.pem").string(); }

std::string GitHttpsServer::bare(const std::string& name) const {
  return (dir_ / "repos" / (name + ".git")).string();
}

std::string GitHttpsServer::git(const fs::path& home) const {
  return "env HOME=" + q(home) +
         " GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 GIT_AUTHOR_NAME=test "
         "GIT_AUTHOR_EMAIL=test@example.com GIT_COMMITTER_NAME=test "
         "GIT_COMMITTER_EMAIL=test@example.com GIT_SSL_CAINFO=" +
         q(ca()) + " git ";
}

Proc GitHttpsServer::new_repo(const std::string& name) const {
  return shell("bash " + script() + " new-repo " + q(dir_) + " " + q(name), dir_);
}

std::string GitHttpsServer::seed(const std::string& name,
                                 const std::map<std::string, std::string>& files,
                                 const fs::path& work) const {
  Proc r = new_repo(name);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  if (r.code != 0) return "";
  const std::string g = git(work.parent_path() / "home") + "-C " + q(work) + " ";
  for (const auto& [path, text] : files) {
    fs::create_directories((work / path).parent_path());
    std::ofstream(work / path, std::ios::binary) << text;
  }
  r = shell("set -e; " + git(work.parent_path() / "home") + "init -q -b main " + q(work) + "; " +
                g + "add -A; " + g + "commit -qm seed; " + g + "push -q " + q(cred_url(name)) +
                " main",
            work.parent_path());
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  if (r.code != 0) return "";
  return rev(name, "main");
}

std::string GitHttpsServer::rev(const std::string& name, const std::string& ref) const {
  Proc r = shell("git --git-dir=" + q(bare(name)) + " rev-parse --verify -q " + q(ref), dir_);
  return r.code == 0 ? trimmed(r.out) : "";
}

void GitHttpsTest::start_server(const std::string& user, const std::string& pass) {
  server_ = std::make_unique<GitHttpsServer>(user, pass);
  skip_ = server_->start();
}

void GitHttpsTest::TearDownTestSuite() { server_.reset(); }

void GitHttpsTest::SetUp() {
  if (!server_) {
    FAIL() << "the suite's SetUpTestSuite did not call start_server()";
  } else if (!skip_.empty()) {
    if (required("WFRUN_REQUIRE_LIGHTTPD") || !server_->peer_missing()) FAIL() << skip_;
    GTEST_SKIP() << skip_ << " (WFRUN_REQUIRE_LIGHTTPD=1 makes this a failure)";
  }
}

}  // namespace wfrun::testkit
