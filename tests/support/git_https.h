#pragma once
// The test suites' git smart-HTTP server over HTTPS with basic auth: lighttpd running
// `git http-backend` (tests/git/githttp.sh) in a folder of its own, on a free loopback port,
// plus the small shell helpers the tests that use it share. Linked by git_test, cli_test and
// serve_loop_test (tests/support/CMakeLists.txt).
//
// Without lighttpd and mod_openssl the tests that need it skip, unless WFRUN_REQUIRE_LIGHTTPD=1
// (CI), which makes that a failure.

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace wfrun::testkit {

/// A finished shell command.
struct Proc {
  int code = -1;
  std::string out, err;
};

/// `s` quoted for sh.
std::string q(const std::string& s);


/// Runs `cmd` with sh, stdin from /dev/null; stdout and stderr go through files in `scratch`.
Proc shell(const std::string& cmd, const std::filesystem::path& scratch);

/// A free TCP port on 127.0.0.1 (-1 when none could be had).
int free_port();

/// True when the environment variable `name` is "1" (CI's WFRUN_REQUIRE_* switches).
bool required(const char* name);

/// lighttpd + git http-backend over HTTPS. URLs: https://localhost:PORT/git/NAME.git (basic auth
/// for everything), /anon/NAME.git (auth for push only). USER and x-access-token (what a bare
/// token is sent as) both take PASS. A slash in NAME makes OWNER/NAME.
class GitHttpsServer {
 public:
  GitHttpsServer(std::string user, std::string pass);
  ~GitHttpsServer();  // stops lighttpd and removes the folder
  GitHttpsServer(const GitHttpsServer&) = delete;
  GitHttpsServer& operator=(const GitHttpsServer&) = delete;

  /// Starts lighttpd (three tries at a free port): "" once it answers, else why it could not.
  std::string start();
  /// After a failed start(): true when lighttpd or mod_openssl is missing (a test may skip),
  /// false when they are there and the server still did not start (always a failure).
  bool peer_missing() const { return peer_missing_; }
  void stop();

  const std::string& user() const { return user_; }
  const std::string& pass() const { return pass_; }
  int port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::string base() const;                             // https://localhost:PORT
  std::string url(const std::string& name) const;       // BASE/git/NAME.git
  std::string anon_url(const std::string& name) const;  // BASE/anon/NAME.git
  std::string cred_url(const std::string& name) const;  // with USER:PASS@ in it
  std::string ca() const;                               // the test CA's certificate (PEM)
  std::string bare(const std::string& name) const;      // the bare repository on disk

  /// The git CLI (ends with "git "): no system or user config (HOME=`home`), trusts the test CA
  /// (GIT_SSL_CAINFO beats -c http.sslCAInfo), no prompts, author and committer "test".
  std::string git(const std::filesystem::path& home) const;
  /// An empty bare repository NAME (branch main).
  Proc new_repo(const std::string& name) const;
  /// A new repository NAME whose main holds `files` (path -> content), committed in `work` and
  /// pushed with the git CLI; returns main's sha (a test failure and "" when that failed).
  std::string seed(const std::string& name, const std::map<std::string, std::string>& files,
                   const std::filesystem::path& work) const;
  /// `ref` resolved in the bare repository NAME ("" when it does not resolve).
  std::string rev(const std::string& name, const std::string& ref) const;

 private:
  std::string user_, pass_;
  std::filesystem::path dir_;
  int port_ = 0;
  bool running_ = false;
  bool peer_missing_ = false;
};

/// A suite whose tests share one GitHttpsServer: the suite's SetUpTestSuite calls
/// start_server(USER, PASS); each test's SetUp calls GitHttpsTest::SetUp() first, which skips the
/// test when lighttpd is missing (fails it under WFRUN_REQUIRE_LIGHTTPD=1) and fails it when the
/// server is installed but did not start.
class GitHttpsTest : public ::testing::Test {
 protected:
  static void start_server(const std::string& user, const std::string& pass);
  static void TearDownTestSuite();
  void SetUp() override;

  static GitHttpsServer& srv() { return *server_; }

  static inline std::unique_ptr<GitHttpsServer> server_;
  static inline std::string skip_;
};

}  // namespace wfrun::testkit
