// `wfrun serve` under systemd's Type=notify: the test is systemd's side of sd_notify(3), a real
// unix datagram socket named by NOTIFY_SOCKET (no systemd runs here, so the test listens itself).

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "base/fd.h"
#include "tests/serve/serve_process.h"

namespace fs = std::filesystem;

namespace {

class ServeNotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/wfrun-notify-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    std::ofstream(dir_ / "secret") << "notify-secret\n";
    std::ofstream(dir_ / "server.yaml") << "listen: 127.0.0.1:0\n"
                                        << "webhook: {secret-file: secret}\n"
                                        << "repositories: [o/r]\n";
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::unsetenv("NOTIFY_SOCKET");
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Binds the datagram socket systemd would listen on: a path, or "@name" (abstract).
  void listen_notify(const std::string& address) {
    sock_ = wfrun::UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(sock_);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, address.data(), address.size());
    if (address[0] == '@') sa.sun_path[0] = '\0';
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size());
    ASSERT_EQ(::bind(sock_.get(), reinterpret_cast<sockaddr*>(&sa), len), 0) << std::strerror(errno);
    ::setenv("NOTIFY_SOCKET", address.c_str(), 1);
  }

  // The next datagram, or "" after 20 s.
  std::string next_message() {
    pollfd p{sock_.get(), POLLIN, 0};
    if (::poll(&p, 1, 20000) != 1) return "";
    char buf[4096];
    ssize_t n = ::recv(sock_.get(), buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

  bool port_accepts() const {
    wfrun::UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port_));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ::connect(c.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  }

  // The server's exit code, or -1 if it is still running after 20 s (TearDown kills it).
  int wait_exit() {
    int status = 0;
    for (int i = 0; i < 2000; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      ::usleep(10000);
    }
    return -1;
  }

  fs::path dir_;
  wfrun::UniqueFd sock_;
  pid_t pid_ = -1;
  int port_ = 0;
};

TEST_F(ServeNotifyTest, ReadyWhenListeningThenReloadingAndStopping) {
  listen_notify((dir_ / "notify").string());
  ASSERT_TRUE(wfrun::serve::testing::start_serve(dir_, pid_, port_));

  std::string ready = next_message();
  EXPECT_EQ(ready, "READY=1\nSTATUS=listening on port " + std::to_string(port_));
  EXPECT_TRUE(port_accepts()) << "READY=1 came before the socket listened";

  // systemctl reload: SIGHUP. RELOADING=1 (with the monotonic time systemd 253 wants), then
  // READY=1 once the new configuration is in place.
  ::kill(pid_, SIGHUP);
  std::string reloading = next_message();
  EXPECT_EQ(reloading.rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << reloading;
  EXPECT_GT(std::stoll(reloading.substr(reloading.find('=', 12) + 1)), 0);
  EXPECT_EQ(next_message(), ready);

  // A broken file on reload: still READY (the old configuration serves), and the status says why.
  std::ofstream(dir_ / "server.yaml") << "listen: 127.0.0.1:0\nwebhok: {}\n";
  ::kill(pid_, SIGHUP);
  EXPECT_EQ(next_message().rfind("RELOADING=1\n", 0), 0u);
  std::string after_bad = next_message();
  EXPECT_EQ(after_bad.rfind("READY=1\nSTATUS=listening on port " + std::to_string(port_) +
                                "; the last reload failed: server.yaml:2:1: unknown setting 'webhok'",
                            0),
            0u)
      << after_bad;
  EXPECT_TRUE(port_accepts());

  ::kill(pid_, SIGTERM);
  EXPECT_EQ(next_message(), "STOPPING=1\nSTATUS=stopping: waiting for running runs");
  EXPECT_EQ(wait_exit(), 0);
}

// systemd may stop the service the moment it is ready. A SIGTERM that came before the HTTP
// listener's loop ran used to be lost, and the server served on until SIGKILL.
TEST_F(ServeNotifyTest, StopsOnSigtermRightAfterReady) {
  listen_notify((dir_ / "notify").string());
  for (int round = 0; round < 5; ++round) {
    ASSERT_TRUE(wfrun::serve::testing::start_serve(dir_, pid_, port_));
    ASSERT_EQ(next_message().rfind("READY=1\n", 0), 0u);
    ::kill(pid_, SIGTERM);
    EXPECT_EQ(next_message().rfind("STOPPING=1\n", 0), 0u);
    ASSERT_EQ(wait_exit(), 0) << "round " << round << ": still running 20 s after SIGTERM";
  }
}

TEST_F(ServeNotifyTest, AbstractSocketName) {
  std::string name = "@wfrun-notify-test-" + std::to_string(::getpid());
  listen_notify(name);
  ASSERT_TRUE(wfrun::serve::testing::start_serve(dir_, pid_, port_));
  EXPECT_EQ(next_message(), "READY=1\nSTATUS=listening on port " + std::to_string(port_));
  ::kill(pid_, SIGTERM);
  EXPECT_EQ(next_message().rfind("STOPPING=1\n", 0), 0u);
  EXPECT_EQ(wait_exit(), 0);
}

TEST_F(ServeNotifyTest, WithoutNotifySocketNothingIsSentAndABadOneIsLogged) {
  // Not under systemd: serve starts and stops as before.
  ASSERT_TRUE(wfrun::serve::testing::start_serve(dir_, pid_, port_));
  EXPECT_TRUE(port_accepts());
  ::kill(pid_, SIGTERM);
  EXPECT_EQ(wait_exit(), 0);

  // A socket nobody listens on: serving goes on, the log names the problem.
  ::setenv("NOTIFY_SOCKET", (dir_ / "nobody").c_str(), 1);
  ASSERT_TRUE(wfrun::serve::testing::start_serve(dir_, pid_, port_));
  EXPECT_TRUE(port_accepts());
  ::kill(pid_, SIGTERM);
  EXPECT_EQ(wait_exit(), 0);
  std::ifstream log(dir_ / "server.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("NOTIFY_SOCKET=" + (dir_ / "nobody").string() +
                      ": sending to systemd: No such file or directory"),
            std::string::npos)
      << text;
}

}  // namespace
