// The per-job summary of metric rows, and their CSV / JSON / table forms.

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "base/strings.h"
#include "engine/gpu/metrics.h"

namespace wfrun::gpu {

std::vector<JobSummary> summarize(const std::vector<MetricRow>& rows) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<const MetricRow*>> by_job;
  for (const auto& r : rows) {
    auto& v = by_job[r.job];
    if (v.empty()) order.push_back(r.job);
    v.push_back(&r);
  }
  std::vector<JobSummary> out;
  for (const auto& job : order) {
    JobSummary s;
    s.job = job;
    double util_sum = 0, cpu_sum = 0;
    int util_n = 0, cpu_n = 0;
    std::map<double, long long> mem_at;                           // t -> sum over GPUs
    std::map<int, std::vector<std::pair<double, double>>> power;  // gpu -> (t, W)
    std::set<double> times;
    std::set<int> gpus;
    for (const MetricRow* r : by_job[job]) {
      times.insert(r->t);
      if (r->gpu) {
        gpus.insert(*r->gpu);
        if (r->util) {
          util_sum += *r->util;
          ++util_n;
          s.util_peak = std::max(s.util_peak.value_or(0), *r->util);
        }
        if (r->mem_mib) mem_at[r->t] += *r->mem_mib;
        if (r->power_w) power[*r->gpu].emplace_back(r->t, *r->power_w);
      } else {
        if (r->cpu_pct) {
          cpu_sum += *r->cpu_pct;
          ++cpu_n;
        }
        if (r->rss_kb) s.rss_peak_kb = std::max(s.rss_peak_kb.value_or(0), *r->rss_kb);
      }
    }
    s.gpus.assign(gpus.begin(), gpus.end());
    if (util_n) s.util_mean = util_sum / util_n;
    if (cpu_n) s.cpu_mean = cpu_sum / cpu_n;
    for (const auto& [t, m] : mem_at) s.mem_peak_mib = std::max(s.mem_peak_mib.value_or(0), m);
    if (!power.empty()) {
      double joules = 0;
      for (auto& [gpu, pts] : power) {
        std::sort(pts.begin(), pts.end());
        for (size_t i = 1; i < pts.size(); ++i) {
          joules += (pts[i].second + pts[i - 1].second) / 2 * (pts[i].first - pts[i - 1].first);
        }
      }
      s.energy_wh = joules / 3600;
    }
    s.samples = static_cast<int>(times.size());
    if (!times.empty()) {
      s.first = *times.begin();
      s.last = *times.rbegin();
    }
    out.push_back(std::move(s));
  }
  return out;
}

namespace {

template <class T>
std::string csv_value(const std::optional<T>& v) {
  if (!v) return "";
  if constexpr (std::is_floating_point_v<T>) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", *v);
    return buf;
  } else {
    return std::to_string(*v);
  }
}

template <class T>
nlohmann::ordered_json json_value(const std::optional<T>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string metrics_csv(const std::vector<MetricRow>& rows) {
  std::string out = "job,t,gpu,util,mem_mib,power_w,temp_c,cpu_pct,rss_kb\n";
  for (const auto& r : rows) {
    char t[32];
    std::snprintf(t, sizeof t, "%.3f", r.t);
    out += csv_field(r.job) + "," + t + "," + csv_value(r.gpu) + "," + csv_value(r.util) + "," +
           csv_value(r.mem_mib) + "," + csv_value(r.power_w) + "," + csv_value(r.temp_c) + "," +
           csv_value(r.cpu_pct) + "," + csv_value(r.rss_kb) + "\n";
  }
  return out;
}

nlohmann::ordered_json summary_json(const JobSummary& s) {
  return {{"job", s.job},
          {"gpus", s.gpus},
          {"samples", s.samples},
          {"first", s.first},
          {"last", s.last},
          {"util_mean_pct", json_value(s.util_mean)},
          {"util_peak_pct", json_value(s.util_peak)},
          {"gpu_mem_peak_mib", json_value(s.mem_peak_mib)},
          {"energy_wh", json_value(s.energy_wh)},
          {"cpu_mean_pct", json_value(s.cpu_mean)},
          {"rss_peak_kb", json_value(s.rss_peak_kb)}};
}

nlohmann::ordered_json metrics_json(const std::vector<MetricRow>& rows) {
  nlohmann::ordered_json summary = nlohmann::ordered_json::array();
  for (const auto& s : summarize(rows)) summary.push_back(summary_json(s));
  nlohmann::ordered_json samples = nlohmann::ordered_json::array();
  for (const auto& r : rows) {
    samples.push_back({{"job", r.job},
                       {"t", r.t},
                       {"gpu", json_value(r.gpu)},
                       {"util", json_value(r.util)},
                       {"mem_mib", json_value(r.mem_mib)},
                       {"power_w", json_value(r.power_w)},
                       {"temp_c", json_value(r.temp_c)},
                       {"cpu_pct", json_value(r.cpu_pct)},
                       {"rss_kb", json_value(r.rss_kb)}});
  }
  return {{"summary", summary}, {"samples", samples}};
}

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string memory_kb(long long kb) {
  if (kb >= 1024LL * 1024) return fmt("%.1f GiB", kb / 1048576.0);
  if (kb >= 1024) return fmt("%.0f MiB", kb / 1024.0);
  return std::to_string(kb) + " KiB";
}

}  // namespace

std::string summary_table(const std::vector<JobSummary>& summaries) {
  std::vector<std::vector<std::string>> table = {{"JOB", "GPUS", "UTIL MEAN", "UTIL PEAK",
                                                  "GPU MEM PEAK", "ENERGY", "CPU MEAN", "RSS PEAK",
                                                  "SAMPLES"}};
  for (const auto& s : summaries) {
    std::vector<std::string> ids;
    for (int g : s.gpus) ids.push_back(std::to_string(g));
    table.push_back({
        s.job,
        ids.empty() ? "-" : join(ids, ","),
        s.util_mean ? fmt("%.0f%%", *s.util_mean) : "-",
        s.util_peak ? std::to_string(*s.util_peak) + "%" : "-",
        s.mem_peak_mib ? memory_kb(*s.mem_peak_mib * 1024) : "-",
        s.energy_wh ? fmt("%.2f Wh", *s.energy_wh) : "-",
        s.cpu_mean ? fmt("%.0f%%", *s.cpu_mean) : "-",
        s.rss_peak_kb ? memory_kb(*s.rss_peak_kb) : "-",
        std::to_string(s.samples),
    });
  }
  std::vector<size_t> width(table[0].size(), 0);
  for (const auto& row : table) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : table) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace wfrun::gpu
