#include "engine/gpu/request.h"

#include <cctype>
#include <cstdlib>

#include "base/strings.h"

namespace wfrun::gpu {
namespace {

constexpr int kMaxGpusPerJob = 16;

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> tokens(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      cur += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// "80G" / "80GB" -> 80; else -1.
int memory_token(const std::string& t) {
  size_t i = 0;
  while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
  if (i == 0 || i == t.size()) return -1;
  std::string rest = t.substr(i);
  if (rest != "G" && rest != "GB") return -1;
  return std::atoi(t.substr(0, i).c_str());
}

const InstanceType* find_type(const std::string& name) {
  for (const auto& t : instance_types()) {
    if (upper(t.name) == upper(name)) return &t;
  }
  return nullptr;
}

}  // namespace

const std::vector<InstanceType>& instance_types() {
  static const std::vector<InstanceType> kTypes = {
      {"C3", 0, ""},
      {"C4", 0, ""},
      {"C5", 0, ""},
      {"C6", 0, ""},
      {"C7", 0, ""},
      {"C8", 0, ""},
      {"C9", 0, ""},
      {"C10", 0, ""},
      {"Free-GPU", 1, ""},
      {"Free-P5000", 1, "P5000"},
      {"M4000", 1, "M4000"},
      {"P4000", 1, "P4000"},
      {"P5000", 1, "P5000"},
      {"P6000", 1, "P6000"},
      {"RTX4000", 1, "RTX4000"},
      {"RTX5000", 1, "RTX5000"},
      {"A4000", 1, "A4000"},
      {"A5000", 1, "A5000"},
      {"A6000", 1, "A6000"},
      {"V100", 1, "V100"},
      {"V100-32G", 1, "V100-32G"},
      {"A100", 1, "A100"},
      {"A100-80G", 1, "A100-80G"},
      {"H100", 1, "H100"},
  };
  return kTypes;
}

std::string GpuRequest::str() const {
  std::string s;
  if (count == 0) {
    s = "no GPU";
  } else {
    s = std::to_string(count) + (count == 1 ? " GPU" : " GPUs");
    if (!model.empty()) s += " of model " + model;
  }
  if (!instance_type.empty()) s += " (instance-type " + instance_type + ")";
  return s;
}

Result<GpuRequest> gpu_request(const workflows::Resources& r) {
  auto where = [&](const char* key) {
    auto it = r.where.find(key);
    return it == r.where.end() ? Location{} : it->second;
  };
  GpuRequest req;
  if (!r.instance_type.empty()) {
    req.instance_type = r.instance_type;
    const InstanceType* t = find_type(r.instance_type);
    int n = 1;
    if (!t) {
      // NAMExN: N GPUs of a GPU type ("A100-80Gx8").
      auto x = r.instance_type.find_last_of("xX");
      if (x != std::string::npos && x + 1 < r.instance_type.size() &&
          r.instance_type.find_first_not_of("0123456789", x + 1) == std::string::npos) {
        const InstanceType* base = find_type(r.instance_type.substr(0, x));
        n = std::atoi(r.instance_type.c_str() + x + 1);
        if (base && base->gpus > 0 && n >= 1 && n <= kMaxGpusPerJob) t = base;
      }
    }
    if (!t) {
      std::vector<std::string> names;
      for (const auto& it : instance_types()) names.push_back(it.name);
      return Error(where("instance-type"),
                   "unknown instance-type '" + r.instance_type + "'" +
                       did_you_mean(r.instance_type, names) +
                       "; known types: " + join(names, ", ") +
                       ", and NAMExN for N GPUs of a GPU type (e.g. A100-80Gx8)");
    }
    req.count = t->gpus * n;
    req.model = t->model;
  }
  if (r.gpus) {
    if (*r.gpus < 0 || *r.gpus > kMaxGpusPerJob) {
      return Error(where("gpus"), "gpus must be between 0 and " + std::to_string(kMaxGpusPerJob) +
                                      ", not " + std::to_string(*r.gpus));
    }
    req.count = *r.gpus;
    if (req.count == 0) req.model.clear();
  }
  return req;
}

bool model_matches(std::string_view model, std::string_view device_name,
                   long long memory_total_mib) {
  std::vector<std::string> want = tokens(model);
  if (want.empty()) return true;
  std::vector<std::string> have = tokens(device_name);
  // The model itself: one device token, or two adjacent ones joined.
  bool base = false;
  for (size_t i = 0; i < have.size() && !base; ++i) {
    base = have[i] == want[0] || (i + 1 < have.size() && have[i] + have[i + 1] == want[0]);
  }
  if (!base) return false;
  for (size_t w = 1; w < want.size(); ++w) {
    int gb = memory_token(want[w]);
    if (gb < 0) {
      bool found = false;
      for (const auto& h : have) found = found || h == want[w];
      if (!found) return false;
      continue;
    }
    int named = -1;
    for (const auto& h : have) {
      if (memory_token(h) >= 0) named = memory_token(h);
    }
    if (named >= 0) {
      if (named != gb) return false;
    } else if (memory_total_mib < static_cast<long long>(gb) * 1000 * 95 / 100) {
      return false;
    }
  }
  return true;
}

}  // namespace wfrun::gpu
