// The job endpoints: /api/runs/ID/jobs/JOB/{log, log/search, metrics, outputs/NAME[/file]}.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "base/fd.h"
#include "base/strings.h"
#include "engine/fs.h"
#include "engine/run_index.h"
#include "http/dashboard/dashboard.h"
#include "http/dashboard/files.h"
#include "http/dashboard/logs.h"

namespace wfrun::dashboard {

namespace {

using nlohmann::json;

constexpr size_t kMaxWindow = 4u << 20;      // one log window
constexpr size_t kDefaultWindow = 256u << 10;
constexpr size_t kMaxHits = 1000;
constexpr size_t kMaxPoints = 1500;          // per chart series
constexpr size_t kMaxFiles = 2000;
constexpr size_t kMaxNotebook = 64u << 20;

bool signed_number(const std::string& s, long long& out) {
  if (s.empty() || s.size() > 19) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size() || s.find_first_not_of("0123456789", i) != std::string::npos) return false;
  out = std::atoll(s.c_str());
  return true;
}

/// Streams `path` from `offset` for `length` bytes.
std::function<void(StreamSink&)> file_stream(std::string path, long long length) {
  return [path = std::move(path), length](StreamSink& sink) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return;
    std::vector<char> buf(256 * 1024);
    long long done = 0;
    while (done < length) {
      ssize_t n = ::pread(fd.get(), buf.data(), std::min<long long>(buf.size(), length - done), done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (!sink.write(std::string_view(buf.data(), static_cast<size_t>(n)))) return;
      done += n;
    }
    // A file that shrank meanwhile: pad, so the promised length still arrives.
    const std::string zeros(4096, '\0');
    while (done < length) {
      const long long n = std::min<long long>(zeros.size(), length - done);
      if (!sink.write(std::string_view(zeros.data(), static_cast<size_t>(n)))) return;
      done += n;
    }
  };
}

/// `name` made safe for a Content-Disposition filename="...".
std::string download_name(std::string_view path) {
  std::string base(path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1));
  std::string out;
  for (char c : base)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '_';
  return out.empty() ? "download" : out;
}

/// Series for the charts: one time axis, per-GPU util/memory/power, process CPU and RSS, each
/// reduced to at most kMaxPoints (the peak of each bucket, so spikes survive).
json chart_series(const std::vector<gpu::MetricRow>& rows) {
  std::vector<double> t;
  std::vector<int> gpus;
  for (const auto& r : rows)
    if (r.gpu && std::find(gpus.begin(), gpus.end(), *r.gpu) == gpus.end()) gpus.push_back(*r.gpu);
  std::sort(gpus.begin(), gpus.end());
  const size_t ng = gpus.size();
  using Col = std::vector<std::optional<double>>;
  std::vector<Col> util(ng), mem(ng), power(ng);
  Col cpu, rss;
  for (const auto& r : rows) {
    if (t.empty() || std::fabs(r.t - t.back()) > 1e-3) {
      t.push_back(r.t);
      for (size_t g = 0; g < ng; ++g) {
        util[g].emplace_back();
        mem[g].emplace_back();
        power[g].emplace_back();
      }
      cpu.emplace_back();
      rss.emplace_back();
    }
    if (r.gpu) {
      const size_t g = static_cast<size_t>(std::find(gpus.begin(), gpus.end(), *r.gpu) - gpus.begin());
      if (r.util) util[g].back() = *r.util;
      if (r.mem_mib) mem[g].back() = static_cast<double>(*r.mem_mib);
      if (r.power_w) power[g].back() = *r.power_w;
    } else {
      if (r.cpu_pct) cpu.back() = *r.cpu_pct;
      if (r.rss_kb) rss.back() = static_cast<double>(*r.rss_kb) / 1024.0;
    }
  }
  const size_t n = t.size();
  const size_t step = n > kMaxPoints ? (n + kMaxPoints - 1) / kMaxPoints : 1;
  auto reduce = [&](const Col& c) {
    json out = json::array();
    for (size_t i = 0; i < n; i += step) {
      std::optional<double> peak;
      for (size_t k = i; k < std::min(n, i + step); ++k)
        if (c[k] && (!peak || *c[k] > *peak)) peak = c[k];
      out.push_back(peak ? json(std::round(*peak * 100) / 100) : json(nullptr));
    }
    return out;
  };
  json times = json::array();
  for (size_t i = 0; i < n; i += step) times.push_back(t[i]);
  json j = {{"t", times}, {"gpus", gpus}, {"cpu_pct", reduce(cpu)}, {"rss_mib", reduce(rss)}};
  json ju = json::array(), jm = json::array(), jp = json::array();
  for (size_t g = 0; g < ng; ++g) {
    ju.push_back(reduce(util[g]));
    jm.push_back(reduce(mem[g]));
    jp.push_back(reduce(power[g]));
  }
  j["util"] = std::move(ju);
  j["mem_mib"] = std::move(jm);
  j["power_w"] = std::move(jp);
  j["samples"] = n;
  return j;
}

}  // namespace

std::pair<std::string, std::string> job_address(const std::string& segment,
                                                const std::string& workflow_param) {
  const size_t dot = segment.find('.');
  // Job names are letters, digits, '-' and '_': a dot after 1-3 digits is an address.
  if (dot == std::string::npos || dot == 0 || dot > 3 ||
      segment.find_first_not_of("0123456789") != dot)
    return {workflow_param, segment};
  return {"#" + segment.substr(0, dot), segment.substr(dot + 1)};
}

Response Dashboard::job_api(const Request& req, std::int64_t id, const std::string& job,
                            const std::vector<std::string>& rest) {
  const auto address = job_address(job, req.param("workflow"));
  const std::string& workflow = address.first;
  const std::string& name = address.second;
  auto ref = source_.job(id, workflow, name);
  if (!ref) return error_response(500, ref.error().str());
  if (!*ref) return error_response(404, "run " + std::to_string(id) + " has no job '" + name + "'");
  if (rest.size() == 1 && rest[0] == "log") return log_window(req, **ref);
  if (rest.size() == 2 && rest[0] == "log" && rest[1] == "search") return log_search(req, **ref);
  if (rest.size() == 1 && rest[0] == "metrics") return metrics(**ref);
  if (rest.size() >= 2 && rest[0] == "outputs") {
    if (rest.size() == 2) return output_files(req, **ref, rest[1]);
    if (rest.size() == 3 && rest[2] == "file") return output_files(req, **ref, rest[1]);
  }
  return error_response(404, "not found");
}

Response Dashboard::log_window(const Request& req, const JobRef& ref) {
  long long from = 0, to = -1;
  const bool windowed = req.has_param("from") || req.has_param("to");
  if (req.has_param("from") && !signed_number(req.param("from"), from))
    return error_response(400, "from: expected a byte offset (negative: from the end)");
  if (req.has_param("to") && !signed_number(req.param("to"), to))
    return error_response(400, "to: expected a byte offset");
  if (!windowed) {
    // The whole log as text (what scripts and the raw link want), streamed.
    struct stat st{};
    const long long size = ::stat(ref.log_path.c_str(), &st) == 0 ? st.st_size : 0;
    Response r;
    r.type = "text/plain; charset=utf-8";
    r.header("X-Content-Type-Options", "nosniff");
    r.header("Cache-Control", "no-store");
    if (req.param("download") == "1")
      r.header("Content-Disposition", "attachment; filename=\"" + download_name(ref.job) + ".log\"");
    r.stream = file_stream(ref.log_path, size);
    r.stream_length = size;
    return r;
  }
  long long max = static_cast<long long>(kDefaultWindow);
  if (req.has_param("max") && (!signed_number(req.param("max"), max) || max < 1))
    return error_response(400, "max: expected a number of bytes");
  max = std::min<long long>(max, kMaxWindow);
  auto w = read_log_window(ref.log_path, from, to, static_cast<size_t>(max), !ref.running);
  if (!w) return error_response(500, w.error().str());
  Response r;
  r.type = "text/plain; charset=utf-8";
  r.body = std::move(w->text);
  r.header("X-Log-Start", std::to_string(w->start));
  r.header("X-Log-End", std::to_string(w->end));
  r.header("X-Log-Size", std::to_string(w->size));
  r.header("X-Log-Running", ref.running ? "1" : "0");
  r.header("X-Content-Type-Options", "nosniff");
  r.header("Cache-Control", "no-store");
  return r;
}

Response Dashboard::log_search(const Request& req, const JobRef& ref) {
  const std::string q = req.param("q");
  if (q.empty()) return error_response(400, "q: what to search for");
  if (q.size() > 1000) return error_response(400, "q: at most 1000 characters");
  long long limit = 200;
  if (req.has_param("limit") && (!signed_number(req.param("limit"), limit) || limit < 1))
    return error_response(400, "limit: expected a positive number");
  auto found = search_log(ref.log_path, q, std::min<size_t>(static_cast<size_t>(limit), kMaxHits));
  if (!found) return error_response(500, found.error().str());
  json hits = json::array();
  for (const auto& h : found->hits) hits.push_back({{"line", h.line}, {"offset", h.offset}, {"text", h.text}});
  return json_response(200, {{"hits", hits}, {"truncated", found->truncated}, {"scanned", found->scanned}});
}

Response Dashboard::metrics(const JobRef& ref) {
  engine::RunIndex* idx = index();
  if (!idx) return error_response(500, "cannot open the run store");
  auto rows = idx->metrics(ref.store_run, ref.job);
  if (!rows) return error_response(500, rows.error().str());
  json j = chart_series(*rows);
  const auto s = gpu::summarize(*rows);
  j["summary"] = s.empty() ? json(nullptr) : json(gpu::summary_json(s.front()));
  return json_response(200, j);
}

Response Dashboard::output_files(const Request& req, const JobRef& ref, const std::string& name) {
  auto it = ref.outputs.find(name);
  if (it == ref.outputs.end() || it->second.dir.empty())
    return error_response(404, "job " + ref.job + " has no files in output '" + name + "'");
  const std::string& root = it->second.dir;
  if (!req.has_param("path")) {
    bool truncated = false;
    auto files = list_files(root, kMaxFiles, &truncated);
    if (!files) return error_response(500, files.error().str());
    json list = json::array();
    for (const auto& f : *files) list.push_back({{"path", f.path}, {"size", f.size}});
    return json_response(200, {{"files", list}, {"truncated", truncated}});
  }
  auto file = file_inside(root, req.param("path"));
  if (!file) return error_response(404, file.error().str());
  if (req.param("view") == "notebook") {
    auto text = engine::read_file(*file, kMaxNotebook);
    if (!text) return error_response(413, text.error().str());
    auto html = notebook_html(*text, req.param("path"));
    if (!html) return error_response(422, req.param("path") + ": " + html.error().str());
    Response r;
    r.type = "text/html; charset=utf-8";
    r.body = std::move(*html);
    // An opaque origin with no scripts: outputs are untrusted HTML.
    r.header("Content-Security-Policy",
             "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
             "frame-ancestors 'self'");
    r.header("X-Content-Type-Options", "nosniff");
    r.header("Cache-Control", "no-store");
    r.header("Referrer-Policy", "no-referrer");
    return r;
  }
  struct stat st{};
  if (::stat(file->c_str(), &st) != 0) return error_response(404, "no such file");
  Response r;
  r.type = "application/octet-stream";
  r.header("Content-Disposition", "attachment; filename=\"" + download_name(req.param("path")) + "\"");
  r.header("Content-Security-Policy", "sandbox; default-src 'none'");
  r.header("X-Content-Type-Options", "nosniff");
  r.header("Cache-Control", "no-store");
  r.stream = file_stream(*file, st.st_size);
  r.stream_length = st.st_size;
  return r;
}

}  // namespace wfrun::dashboard
