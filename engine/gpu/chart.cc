// The SVG chart of one job's metrics: three panels sharing the time axis.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "base/strings.h"
#include "engine/gpu/metrics.h"

namespace wfrun::gpu {
namespace {

constexpr double kWidth = 900, kLeft = 70, kRight = 190, kTop = 50, kPanel = 170, kGap = 60;
constexpr size_t kMaxPoints = 1200;  // per line; longer series are averaged into buckets
const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                               "#9467bd", "#8c564b", "#e377c2", "#17becf"};
constexpr const char* kProcessColor = "#555555";

std::string esc(std::string_view s) { return html_escape(s); }

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

struct Series {
  std::string label, color;
  bool dashed = false;
  std::vector<std::pair<double, double>> pts;  // (seconds since start, value)
};

std::vector<std::pair<double, double>> thin(const std::vector<std::pair<double, double>>& p) {
  if (p.size() <= kMaxPoints) return p;
  std::vector<std::pair<double, double>> out;
  size_t per = (p.size() + kMaxPoints - 1) / kMaxPoints;
  for (size_t i = 0; i < p.size(); i += per) {
    double t = 0, v = 0;
    size_t n = std::min(per, p.size() - i);
    for (size_t k = 0; k < n; ++k) {
      t += p[i + k].first;
      v += p[i + k].second;
    }
    out.emplace_back(t / n, v / n);
  }
  return out;
}

// 0, a "nice" step (1, 2 or 5 × 10^k) and the top of the axis for values up to `max`.
double nice_step(double max) {
  if (max <= 0) return 1;
  double raw = max / 4;
  double p = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= raw) return m * p;
  }
  return 10 * p;
}

// A step of whole seconds, minutes or hours giving at most about 6 ticks.
double nice_time_step(double span) {
  static const double kSteps[] = {1,   2,   5,    10,   15,   30,    60,    120,   300,
                                  600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400};
  for (double s : kSteps) {
    if (span / s <= 6) return s;
  }
  return nice_step(span);
}

std::string time_label(double s) {
  if (s < 120) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0fs", s);
    return buf;
  }
  return format_duration(s);
}

void panel(std::string& svg, double y0, const std::string& title, const std::string& unit,
           const std::vector<Series>& series, double duration, double fixed_max) {
  double plot_w = kWidth - kLeft - kRight;
  double max = fixed_max;
  for (const auto& s : series) {
    for (const auto& [t, v] : s.pts) max = std::max(max, v);
  }
  double step = nice_step(max);
  double top = std::max(step, std::ceil(max / step) * step);
  double span = duration > 0 ? duration : 1;
  auto x = [&](double t) { return kLeft + plot_w * t / span; };
  auto y = [&](double v) { return y0 + kPanel - kPanel * v / top; };

  svg += "<text x=\"" + num(kLeft) + "\" y=\"" + num(y0 - 8) +
         "\" font-size=\"14\" font-weight=\"bold\">" + esc(title) + " (" + esc(unit) + ")</text>\n";
  // Grid and y labels.
  for (double v = 0; v <= top + step / 2; v += step) {
    svg += "<line x1=\"" + num(kLeft) + "\" y1=\"" + num(y(v)) + "\" x2=\"" + num(kLeft + plot_w) +
           "\" y2=\"" + num(y(v)) + "\" stroke=\"#e0e0e0\"/>\n";
    char label[32];
    std::snprintf(label, sizeof label, v >= 100 || v == std::floor(v) ? "%.0f" : "%.1f", v);
    svg += "<text x=\"" + num(kLeft - 6) + "\" y=\"" + num(y(v) + 4) +
           "\" font-size=\"11\" text-anchor=\"end\">" + label + "</text>\n";
  }
  // Axes.
  svg += "<line x1=\"" + num(kLeft) + "\" y1=\"" + num(y0) + "\" x2=\"" + num(kLeft) + "\" y2=\"" +
         num(y0 + kPanel) + "\" stroke=\"#000\"/>\n";
  svg += "<line x1=\"" + num(kLeft) + "\" y1=\"" + num(y0 + kPanel) + "\" x2=\"" +
         num(kLeft + plot_w) + "\" y2=\"" + num(y0 + kPanel) + "\" stroke=\"#000\"/>\n";
  double tstep = nice_time_step(span);
  for (double t = 0; t <= span + tstep / 100; t += tstep) {
    svg += "<text x=\"" + num(x(t)) + "\" y=\"" + num(y0 + kPanel + 15) +
           "\" font-size=\"11\" text-anchor=\"middle\">" + time_label(t) + "</text>\n";
  }
  if (series.empty()) {
    svg += "<text x=\"" + num(kLeft + plot_w / 2) + "\" y=\"" + num(y0 + kPanel / 2) +
           "\" font-size=\"13\" fill=\"#888\" text-anchor=\"middle\">no data</text>\n";
  }
  double ly = y0 + 10;
  for (const auto& s : series) {
    std::string pts;
    for (const auto& [t, v] : thin(s.pts)) pts += num(x(t)) + "," + num(y(v)) + " ";
    svg += "<polyline fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"1.5\"" +
           (s.dashed ? " stroke-dasharray=\"5,3\"" : "") + " points=\"" + pts + "\"/>\n";
    svg += "<line x1=\"" + num(kWidth - kRight + 15) + "\" y1=\"" + num(ly) + "\" x2=\"" +
           num(kWidth - kRight + 35) + "\" y2=\"" + num(ly) + "\" stroke=\"" + s.color +
           "\" stroke-width=\"2\"" + (s.dashed ? " stroke-dasharray=\"5,3\"" : "") + "/>\n";
    svg += "<text x=\"" + num(kWidth - kRight + 40) + "\" y=\"" + num(ly + 4) +
           "\" font-size=\"12\">" + esc(s.label) + "</text>\n";
    ly += 18;
  }
}

}  // namespace

std::string render_svg(const std::string& job, const std::vector<MetricRow>& all) {
  double t0 = 0, t1 = 0;
  bool any = false;
  for (const auto& r : all) {
    if (r.job != job) continue;
    t0 = any ? std::min(t0, r.t) : r.t;
    t1 = any ? std::max(t1, r.t) : r.t;
    any = true;
  }
  std::map<int, Series> util, mem, power;
  Series cpu{"CPU (process tree)", kProcessColor, true, {}};
  Series rss{"RSS (process tree)", kProcessColor, true, {}};
  for (const auto& r : all) {
    if (r.job != job) continue;
    double t = r.t - t0;
    if (r.gpu) {
      std::string label = "GPU " + std::to_string(*r.gpu);
      std::string color = kColors[static_cast<size_t>(*r.gpu) % std::size(kColors)];
      for (auto* m : {&util, &mem, &power}) {
        auto& s = (*m)[*r.gpu];
        s.label = label;
        s.color = color;
      }
      if (r.util) util[*r.gpu].pts.emplace_back(t, *r.util);
      if (r.mem_mib) mem[*r.gpu].pts.emplace_back(t, static_cast<double>(*r.mem_mib));
      if (r.power_w) power[*r.gpu].pts.emplace_back(t, *r.power_w);
    } else {
      if (r.cpu_pct) cpu.pts.emplace_back(t, *r.cpu_pct);
      if (r.rss_kb) rss.pts.emplace_back(t, *r.rss_kb / 1024.0);
    }
  }
  auto list = [](const std::map<int, Series>& m) {
    std::vector<Series> out;
    for (const auto& [g, s] : m) {
      if (!s.pts.empty()) out.push_back(s);
    }
    return out;
  };
  std::vector<Series> p1 = list(util), p2 = list(mem), p3 = list(power);
  if (!cpu.pts.empty()) p1.push_back(cpu);
  if (!rss.pts.empty()) p2.push_back(rss);

  double height = kTop + 3 * kPanel + 2 * kGap + 56;
  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(kWidth) + "\" height=\"" +
         num(height) + "\" viewBox=\"0 0 " + num(kWidth) + " " + num(height) +
         "\" font-family=\"sans-serif\">\n";
  svg += "<title>wfrun metrics: " + esc(job) + "</title>\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n";
  svg += "<text x=\"" + num(kLeft) + "\" y=\"24\" font-size=\"16\" font-weight=\"bold\">Job " +
         esc(job) + "</text>\n";
  double dur = any ? t1 - t0 : 0;
  panel(svg, kTop + 10, "Utilisation", "%", p1, dur, 100);
  panel(svg, kTop + 10 + kPanel + kGap, "Memory", "MiB", p2, dur, 0);
  panel(svg, kTop + 10 + 2 * (kPanel + kGap), "Power", "W", p3, dur, 0);
  svg += "<text x=\"" + num(kLeft + (kWidth - kLeft - kRight) / 2) + "\" y=\"" + num(height - 6) +
         "\" font-size=\"11\" text-anchor=\"middle\">time since the first " + "sample</text>\n";
  svg += "</svg>\n";
  return svg;
}

Result<void> write_job_charts(const std::string& run_dir, const std::vector<MetricRow>& rows) {
  std::vector<std::string> jobs;
  for (const auto& r : rows) {
    if (std::find(jobs.begin(), jobs.end(), r.job) == jobs.end()) jobs.push_back(r.job);
  }
  for (const auto& job : jobs) {
    if (job.empty() || job.find('/') != std::string::npos || job == "." || job == "..") {
      return Error("job name '" + job + "' cannot name a folder");
    }
    std::filesystem::path dir = std::filesystem::path(run_dir) / "jobs" / job;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Error("creating " + dir.string() + ": " + ec.message());
    std::filesystem::path file = dir / "metrics.svg";
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << render_svg(job, rows);
    out.close();
    if (!out) return Error("writing " + file.string() + " failed");
  }
  return {};
}

}  // namespace wfrun::gpu
