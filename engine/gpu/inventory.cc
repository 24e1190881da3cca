// discover(), the nvidia-smi provider and the simulated one. NVML is in nvml.cc.

#include "engine/gpu/inventory.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/fd.h"
#include "base/log.h"
#include "base/strings.h"
#include "engine/gpu/smi_parse.h"

extern char** environ;

namespace wfrun::gpu {
namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : fallback;
}

/// The executable `name` (a path when it contains '/', else looked up on PATH), or "".
std::string find_executable(const std::string& name) {
  auto runnable = [](const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) return runnable(name) ? name : "";
  for (const auto& dir : split(env_or("PATH", "/usr/local/bin:/usr/bin:/bin"), ':')) {
    if (dir.empty()) continue;
    std::string p = dir + "/" + name;
    if (runnable(p)) return p;
  }
  return "";
}

struct Captured {
  int exit_code = -1;  // -1: killed (timeout) or by a signal
  std::string out, err;
};

/// Runs argv (argv[0] a path) with stdin from /dev/null and returns its output. A child still
/// running after `timeout_ms` is killed: nvidia-smi can hang when the driver is wedged.
Result<Captured> run_capture(const std::vector<std::string>& argv, int timeout_ms) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return errno_error("pipe", errno);
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return errno_error("pipe", errno);
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0].c_str(), &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return errno_error("starting " + argv[0], rc);
  out_w.reset();
  err_w.reset();

  Captured c;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool timed_out = false;
  while (out_r || err_r) {
    pollfd fds[2];
    int n = 0;
    if (out_r) fds[n++] = {out_r.get(), POLLIN, 0};
    if (err_r) fds[n++] = {err_r.get(), POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    int r = ::poll(fds, n, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    for (int i = 0; i < n; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[8192];
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      bool is_out = out_r && fds[i].fd == out_r.get();
      if (got <= 0) {
        (is_out ? out_r : err_r).reset();
      } else {
        (is_out ? c.out : c.err).append(buf, static_cast<size_t>(got));
      }
    }
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return Error(argv[0] + " did not answer within " + std::to_string(timeout_ms / 1000) + "s");
  }
  c.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return c;
}

std::string first_line(const std::string& s) {
  std::string t(trim(s));
  auto nl = t.find('\n');
  return nl == std::string::npos ? t : t.substr(0, nl);
}

class SmiProvider : public GpuProvider {
 public:
  explicit SmiProvider(std::string path) : path_(std::move(path)) {}
  std::string name() const override { return "nvidia-smi"; }

  Result<std::vector<GpuInfo>> list() override { return query({}); }

  Result<std::vector<GpuInfo>> sample(const std::vector<int>& indices) override {
    if (indices.empty()) return std::vector<GpuInfo>{};
    std::vector<std::string> ids;
    for (int i : indices) ids.push_back(std::to_string(i));
    auto got = query({"-i", join(ids, ",")});
    if (!got) return got.error();
    // Keep the order the caller asked for.
    std::vector<GpuInfo> out;
    for (int i : indices) {
      for (const auto& g : *got) {
        if (g.index == i) out.push_back(g);
      }
    }
    return out;
  }

 private:
  Result<std::vector<GpuInfo>> query(std::vector<std::string> extra) {
    std::vector<std::string> argv = {path_, std::string("--query-gpu=") + kQueryGpuFields,
                                     "--format=csv,noheader,nounits"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto c = run_capture(argv, 10000);
    if (!c) return c.error().context("nvidia-smi");
    if (c->exit_code != 0) {
      std::string why = first_line(c->out.empty() ? c->err : c->out);
      if (why.empty()) why = first_line(c->err);
      return Error("nvidia-smi failed (exit code " + std::to_string(c->exit_code) + ")" +
                   (why.empty() ? "" : ": " + why));
    }
    auto parsed = parse_query_gpu_csv(c->out);
    if (!parsed) return parsed.error().context("reading nvidia-smi's output");
    return parsed;
  }

  std::string path_;
};

struct Model {
  const char* key;
  const char* name;
  long long memory_mib;
  double power_limit_w;
};

// What the simulated provider reports for each model (names as nvidia-smi prints them).
constexpr Model kModels[] = {
    {"M4000", "Quadro M4000", 8192, 120},
    {"P4000", "Quadro P4000", 8192, 105},
    {"P5000", "Quadro P5000", 16384, 180},
    {"P6000", "Quadro P6000", 24576, 250},
    {"RTX4000", "Quadro RTX 4000", 8192, 125},
    {"RTX5000", "Quadro RTX 5000", 16384, 230},
    {"A4000", "NVIDIA RTX A4000", 16376, 140},
    {"A5000", "NVIDIA RTX A5000", 24564, 230},
    {"A6000", "NVIDIA RTX A6000", 49140, 300},
    {"V100", "Tesla V100-SXM2-16GB", 16384, 300},
    {"V100-32G", "Tesla V100-SXM2-32GB", 32768, 300},
    {"A100", "NVIDIA A100-SXM4-40GB", 40960, 400},
    {"A100-80G", "NVIDIA A100-SXM4-80GB", 81920, 400},
    {"H100", "NVIDIA H100 80GB HBM3", 81559, 700},
    {"T4", "Tesla T4", 15360, 70},
    {"L4", "NVIDIA L4", 23034, 72},
};

Result<std::vector<GpuInfo>> gpus_from_json(const std::string& text) {
  std::vector<GpuInfo> out;
  try {
    auto j = nlohmann::json::parse(text);
    if (j.is_object() && j.contains("gpus")) j = j["gpus"];
    if (!j.is_array()) return Error("expected a JSON array of GPUs");
    for (const auto& e : j) {
      GpuInfo g;
      if (e.contains("model")) g = simulated_gpu(e.at("model").get<std::string>(), 0);
      g.index = static_cast<int>(out.size());
      g.index = e.value("index", g.index);
      g.uuid = e.value("uuid", g.uuid);
      g.name = e.value("name", g.name);
      g.memory_total_mib = e.value("memory_total_mib", g.memory_total_mib);
      g.memory_used_mib = e.value("memory_used_mib", g.memory_used_mib);
      g.utilization_pct = e.value("utilization_pct", g.utilization_pct);
      g.power_w = e.value("power_w", g.power_w);
      g.power_limit_w = e.value("power_limit_w", g.power_limit_w);
      g.temperature_c = e.value("temperature_c", g.temperature_c);
      if (g.name.empty()) return Error("GPU " + std::to_string(g.index) + " has no name or model");
      if (g.uuid.empty()) g.uuid = simulated_gpu("x", g.index).uuid;
      out.push_back(std::move(g));
    }
  } catch (const nlohmann::json::exception& e) {
    return Error(std::string("invalid JSON: ") + e.what());
  }
  return out;
}

}  // namespace

DiscoverOptions DiscoverOptions::from_environment() {
  DiscoverOptions o;
  o.fake = env_or("WFRUN_FAKE_GPUS", "");
  o.nvml_lib = env_or("WFRUN_NVML_LIB", o.nvml_lib);
  o.nvidia_smi = env_or("WFRUN_NVIDIA_SMI", o.nvidia_smi);
  return o;
}

GpuInfo simulated_gpu(const std::string& model, int index) {
  GpuInfo g;
  g.index = index;
  char uuid[64];
  std::snprintf(uuid, sizeof uuid, "GPU-00000000-0000-4000-8000-%012d", index);
  g.uuid = uuid;
  g.name = "NVIDIA " + model;
  g.memory_total_mib = 16384;
  g.power_limit_w = 300;
  for (const auto& m : kModels) {
    if (model == m.key) {
      g.name = m.name;
      g.memory_total_mib = m.memory_mib;
      g.power_limit_w = m.power_limit_w;
    }
  }
  // Idle, as the captured H100 was.
  g.memory_used_mib = 0;
  g.utilization_pct = 0;
  g.power_w = g.power_limit_w / 10;
  g.temperature_c = 35;
  return g;
}

Result<std::vector<GpuInfo>> SimulatedProvider::sample(const std::vector<int>& indices) {
  std::vector<GpuInfo> out;
  for (int i : indices) {
    for (const auto& g : gpus_) {
      if (g.index == i) out.push_back(g);
    }
  }
  return out;
}

void SimulatedProvider::set_state(const GpuInfo& s) {
  for (auto& g : gpus_) {
    if (g.index != s.index) continue;
    g.memory_used_mib = s.memory_used_mib;
    g.utilization_pct = s.utilization_pct;
    g.power_w = s.power_w;
    g.temperature_c = s.temperature_c;
  }
}

Result<std::unique_ptr<GpuProvider>> simulated_provider(const std::string& spec_in) {
  std::string spec(trim(spec_in));
  auto bad = [&](const std::string& why) {
    return Error("WFRUN_FAKE_GPUS='" + spec + "': " + why);
  };
  std::vector<GpuInfo> gpus;
  if (!spec.empty() && (spec[0] == '[' || spec[0] == '{')) {
    auto g = gpus_from_json(spec);
    if (!g) return bad(g.error().message());
    gpus = std::move(*g);
  } else if (spec.find('/') != std::string::npos || spec.ends_with(".json")) {
    std::ifstream in(spec);
    if (!in) return bad("cannot read the file");
    std::stringstream ss;
    ss << in.rdbuf();
    auto g = gpus_from_json(ss.str());
    if (!g) return bad(g.error().message());
    gpus = std::move(*g);
  } else {
    // "8xH100", "2xA100-80G,1xT4", "H100" (one).
    for (const auto& part : split(spec, ',')) {
      std::string p(trim(part));
      if (p.empty()) continue;
      int n = 1;
      std::string model = p;
      auto x = p.find('x');
      if (x != std::string::npos && x > 0 && p.find_first_not_of("0123456789") == x) {
        n = std::atoi(p.substr(0, x).c_str());
        model = p.substr(x + 1);
      }
      if (n < 0 || n > 64 || model.empty()) return bad("expected COUNTxMODEL, e.g. 8xH100");
      for (int i = 0; i < n; ++i)
        gpus.push_back(simulated_gpu(model, static_cast<int>(gpus.size())));
    }
  }
  return std::unique_ptr<GpuProvider>(std::make_unique<SimulatedProvider>(std::move(gpus)));
}

SmiOpen open_nvidia_smi(const std::string& path) {
  SmiOpen out;
  std::string exe = path == "none" ? "" : find_executable(path.empty() ? "nvidia-smi" : path);
  if (exe.empty()) {
    out.absent = true;
    out.error =
        Error("nvidia-smi: " + (path.empty() ? std::string("nvidia-smi") : path) + " not found");
    return out;
  }
  auto p = std::make_unique<SmiProvider>(exe);
  auto gpus = p->list();
  if (!gpus) {
    out.error = gpus.error();
    return out;
  }
  out.gpus = std::move(*gpus);
  out.provider = std::move(p);
  out.path = exe;
  return out;
}

Discovery discover(const DiscoverOptions& opts) {
  Discovery d;
  if (!opts.fake.empty()) {
    auto p = simulated_provider(opts.fake);
    if (!p) {
      d.warnings.push_back(p.error().message());
      return d;
    }
    auto gpus = (*p)->list();
    d.gpus = std::move(*gpus);
    d.source = "simulated";
    if (!d.gpus.empty()) d.provider = std::move(*p);
    return d;
  }

  NvmlOpen nvml = open_nvml(opts.nvml_lib);
  if (nvml.provider) {
    auto gpus = nvml.provider->list();
    if (gpus) {
      d.source = "nvml";
      d.gpus = std::move(*gpus);
      if (!d.gpus.empty()) d.provider = std::move(nvml.provider);
      return d;
    }
    d.warnings.push_back(gpus.error().message() + "; trying nvidia-smi");
  } else if (nvml.absent) {
    d.notes.push_back(nvml.error.message());
  } else {
    d.warnings.push_back(nvml.error.message() + "; trying nvidia-smi");
  }

  SmiOpen smi = open_nvidia_smi(opts.nvidia_smi);
  if (smi.provider) {
    d.source = "nvidia-smi";
    d.nvidia_smi_path = smi.path;
    d.gpus = std::move(smi.gpus);
    if (!d.gpus.empty()) d.provider = std::move(smi.provider);
    return d;
  }
  (smi.absent ? d.notes : d.warnings).push_back(smi.error.message());
  for (const auto& n : d.notes) debug_log("gpu", n);
  return d;
}

}  // namespace wfrun::gpu
