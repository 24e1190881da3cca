#include "engine/gpu/allocator.h"

#include <algorithm>

#include "base/strings.h"

namespace wfrun::gpu {

GpuAllocator::GpuAllocator(std::vector<GpuInfo> gpus) : gpus_(std::move(gpus)) {
  std::sort(gpus_.begin(), gpus_.end(),
            [](const GpuInfo& a, const GpuInfo& b) { return a.index < b.index; });
  owner_.resize(gpus_.size());
}

std::vector<int> GpuAllocator::matching(const GpuRequest& r) const {
  std::vector<int> out;  // positions in gpus_
  for (size_t i = 0; i < gpus_.size(); ++i) {
    if (model_matches(r.model, gpus_[i].name, gpus_[i].memory_total_mib)) {
      out.push_back(static_cast<int>(i));
    }
  }
  return out;
}

bool GpuAllocator::can_ever_satisfy(const GpuRequest& r) const {
  return r.count <= 0 || static_cast<int>(matching(r).size()) >= r.count;
}

std::string GpuAllocator::unsatisfiable_message(const GpuRequest& r, const std::string& job) const {
  std::string msg = "job '" + job + "' asks for " + r.str() + " but this machine has ";
  if (gpus_.empty()) return msg + "no NVIDIA GPU";
  // "8 × NVIDIA H100 80GB HBM3, 1 × Tesla T4" in index order of first appearance.
  std::vector<std::pair<std::string, int>> kinds;
  for (const auto& g : gpus_) {
    auto it = std::find_if(kinds.begin(), kinds.end(), [&](auto& k) { return k.first == g.name; });
    if (it == kinds.end()) {
      kinds.emplace_back(g.name, 1);
    } else {
      ++it->second;
    }
  }
  std::vector<std::string> parts;
  for (const auto& [name, n] : kinds) parts.push_back(std::to_string(n) + " × " + name);
  std::string inventory = join(parts, ", ");
  if (r.model.empty()) {
    return msg + std::to_string(gpus_.size()) + (gpus_.size() == 1 ? " GPU" : " GPUs") + " (" +
           inventory + ")";
  }
  size_t n = matching(r).size();
  return msg + std::to_string(n) + " matching " + (n == 1 ? "GPU" : "GPUs") + " (of " +
         std::to_string(gpus_.size()) + ": " + inventory + ")";
}

std::optional<std::vector<int>> GpuAllocator::try_acquire(const GpuRequest& r,
                                                          const std::string& job) {
  if (auto held = held_by(job); !held.empty()) return held;
  if (r.count <= 0) return std::vector<int>{};
  std::vector<int> chosen;
  for (int pos : matching(r)) {
    if (owner_[pos].empty()) chosen.push_back(pos);
    if (static_cast<int>(chosen.size()) == r.count) break;
  }
  if (static_cast<int>(chosen.size()) < r.count) return std::nullopt;
  std::vector<int> indices;
  for (int pos : chosen) {
    owner_[pos] = job;
    indices.push_back(gpus_[pos].index);
  }
  return indices;
}

void GpuAllocator::release(const std::string& job) {
  for (auto& o : owner_) {
    if (o == job) o.clear();
  }
}

std::vector<int> GpuAllocator::held_by(const std::string& job) const {
  std::vector<int> out;
  if (job.empty()) return out;
  for (size_t i = 0; i < gpus_.size(); ++i) {
    if (owner_[i] == job) out.push_back(gpus_[i].index);
  }
  return out;
}

int GpuAllocator::free_count() const {
  return static_cast<int>(std::count(owner_.begin(), owner_.end(), std::string()));
}

bool BlockingGpuAllocator::can_ever_satisfy(const GpuRequest& r) const {
  std::lock_guard<std::mutex> lock(mu_);
  return alloc_.can_ever_satisfy(r);
}

std::optional<std::vector<int>> BlockingGpuAllocator::acquire(const GpuRequest& r,
                                                              const std::string& job) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!alloc_.can_ever_satisfy(r)) return std::nullopt;
  std::optional<std::vector<int>> got;
  freed_.wait(lock, [&] { return (got = alloc_.try_acquire(r, job)).has_value(); });
  return got;
}

std::optional<std::vector<int>> BlockingGpuAllocator::try_acquire(const GpuRequest& r,
                                                                  const std::string& job) {
  std::lock_guard<std::mutex> lock(mu_);
  return alloc_.try_acquire(r, job);
}

void BlockingGpuAllocator::release(const std::string& job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    alloc_.release(job);
  }
  freed_.notify_all();
}

std::map<std::string, std::string> gpu_env(const std::vector<int>& gpus, bool container) {
  std::vector<std::string> host, inside;
  for (size_t i = 0; i < gpus.size(); ++i) {
    host.push_back(std::to_string(gpus[i]));
    inside.push_back(std::to_string(i));
  }
  std::map<std::string, std::string> env;
  env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID";
  if (container) {
    env["CUDA_VISIBLE_DEVICES"] = join(inside, ",");
    // "void": the NVIDIA runtime hook exposes nothing (CUDA images set "all" by default).
    env["NVIDIA_VISIBLE_DEVICES"] = host.empty() ? "void" : join(host, ",");
  } else {
    env["CUDA_VISIBLE_DEVICES"] = join(host, ",");
  }
  return env;
}

}  // namespace wfrun::gpu
