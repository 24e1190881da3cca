// How `wfrun gpus` shows the inventory.

#include <algorithm>
#include <cstdio>

#include "engine/gpu/inventory.h"

namespace wfrun::gpu {
namespace {

std::string or_dash(long long v, const char* suffix) {
  return v < 0 ? "-" : std::to_string(v) + suffix;
}

std::string watts(double v) {
  if (v < 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

template <class T>
nlohmann::ordered_json known(T v) {
  return v < 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(v);
}

}  // namespace

std::string gpu_table(const std::vector<GpuInfo>& gpus) {
  std::vector<std::vector<std::string>> rows = {
      {"INDEX", "NAME", "MEMORY USED / TOTAL", "UTIL", "POWER / LIMIT", "TEMP", "UUID"}};
  for (const auto& g : gpus) {
    rows.push_back(
        {std::to_string(g.index), g.name,
         (g.memory_used_mib < 0 ? "-" : std::to_string(g.memory_used_mib)) + " / " +
             or_dash(g.memory_total_mib, " MiB"),
         or_dash(g.utilization_pct, "%"),
         watts(g.power_w) + " / " + (g.power_limit_w < 0 ? "-" : watts(g.power_limit_w) + " W"),
         or_dash(g.temperature_c, "C"), g.uuid});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size()) out += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out += "\n";
  }
  return out;
}

nlohmann::ordered_json gpu_json(const GpuInfo& g) {
  return {{"index", g.index},
          {"uuid", g.uuid},
          {"name", g.name},
          {"memory_total_mib", known(g.memory_total_mib)},
          {"memory_used_mib", known(g.memory_used_mib)},
          {"utilization_pct", known(g.utilization_pct)},
          {"power_w", known(g.power_w)},
          {"power_limit_w", known(g.power_limit_w)},
          {"temperature_c", known(g.temperature_c)}};
}

nlohmann::ordered_json discovery_json(const Discovery& d) {
  nlohmann::ordered_json gpus = nlohmann::ordered_json::array();
  for (const auto& g : d.gpus) gpus.push_back(gpu_json(g));
  return {{"source", d.source}, {"warnings", d.warnings}, {"gpus", gpus}};
}

}  // namespace wfrun::gpu
