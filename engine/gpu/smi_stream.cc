// nvidia-smi as a stream of samples: one child printing a CSV line per GPU every interval.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <map>

#include "base/fd.h"
#include "engine/gpu/inventory.h"
#include "engine/gpu/smi_parse.h"

extern char** environ;

namespace wfrun::gpu {
namespace {

class SmiStreamProvider : public GpuProvider {
 public:
  SmiStreamProvider(std::string path, int interval_ms)
      : path_(std::move(path)), interval_ms_(interval_ms < 100 ? 100 : interval_ms) {}
  ~SmiStreamProvider() override { stop(); }

  std::string name() const override { return "nvidia-smi"; }

  Result<std::vector<GpuInfo>> list() override {
    if (auto s = drain(); !s) return s.error();
    std::vector<GpuInfo> out;
    for (const auto& [i, g] : latest_) out.push_back(g);
    return out;
  }

  Result<std::vector<GpuInfo>> sample(const std::vector<int>& indices) override {
    if (auto s = drain(); !s) return s.error();
    std::vector<GpuInfo> out;
    for (int i : indices) {
      if (auto it = latest_.find(i); it != latest_.end()) out.push_back(it->second);
    }
    return out;
  }

 private:
  Result<void> start() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return errno_error("pipe", errno);
    UniqueFd r(fds[0]), w(fds[1]);
    ::fcntl(r.get(), F_SETFL, ::fcntl(r.get(), F_GETFL) | O_NONBLOCK);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, w.get(), 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    std::vector<std::string> argv = {path_, std::string("--query-gpu=") + kQueryGpuFields,
                                     "--format=csv,noheader,nounits", "-lms",
                                     std::to_string(interval_ms_)};
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    int rc = posix_spawn(&pid_, path_.c_str(), &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      pid_ = -1;
      return errno_error("starting " + path_, rc);
    }
    out_ = std::move(r);
    buffer_.clear();
    return {};
  }

  void stop() {
    out_.reset();
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
      pid_ = -1;
    }
  }

  // Reads what nvidia-smi printed since the last call, without blocking.
  Result<void> drain() {
    if (pid_ <= 0) {
      if (auto s = start(); !s) return s;
    }
    char buf[16384];
    while (true) {
      ssize_t n = ::read(out_.get(), buf, sizeof buf);
      if (n > 0) {
        buffer_.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      stop();  // EOF or an error: nvidia-smi is gone
      return Error("nvidia-smi " + path_ + " stopped printing samples; restarting it");
    }
    size_t nl;
    while ((nl = buffer_.find('\n')) != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      auto parsed = parse_query_gpu_csv(line);
      if (!parsed) continue;  // a partial or odd line: the next one will do
      for (auto& g : *parsed) latest_[g.index] = std::move(g);
    }
    return {};
  }

  std::string path_;
  int interval_ms_;
  pid_t pid_ = -1;
  UniqueFd out_;
  std::string buffer_;
  std::map<int, GpuInfo> latest_;
};

}  // namespace

std::unique_ptr<GpuProvider> nvidia_smi_stream(const std::string& path, int interval_ms) {
  return std::make_unique<SmiStreamProvider>(path, interval_ms);
}

std::unique_ptr<GpuProvider> sampling_provider(Discovery& d, double interval_seconds) {
  if (d.source == "nvidia-smi" && !d.nvidia_smi_path.empty()) {
    return nvidia_smi_stream(d.nvidia_smi_path, static_cast<int>(interval_seconds * 1000));
  }
  return std::move(d.provider);
}

}  // namespace wfrun::gpu
