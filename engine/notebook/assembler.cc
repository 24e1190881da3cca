#include "engine/notebook/assembler.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/strings.h"

namespace wfrun::notebook::internal {

using nlohmann::json;
namespace fs = std::filesystem;

std::string iso_now() {
  auto now = std::chrono::system_clock::now();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(us / 1000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long>(us % 1000000));
  return buf;
}

double seconds_between(const std::string& a, const std::string& b) {
  auto parse = [](const std::string& s) {
    struct tm tm{};
    double frac = 0;
    if (s.size() < 19) return 0.0;
    strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    auto dot = s.find('.');
    if (dot != std::string::npos) frac = std::atof(("0" + s.substr(dot, 7)).c_str());
    return static_cast<double>(timegm(&tm)) + frac;
  };
  return parse(b) - parse(a);
}

namespace {

// nbformat stores multi-line text as a list of lines.
json split_text(const std::string& s) {
  json lines = json::array();
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string::npos) {
      lines.push_back(s.substr(start));
      break;
    }
    lines.push_back(s.substr(start, nl - start + 1));
    start = nl + 1;
  }
  return lines;
}

}  // namespace

void split_bundle(json& data) {
  for (auto& [mime, v] : data.items())
    if (v.is_string() && (starts_with(mime, "text/") || mime == "application/javascript" ||
                          mime == "image/svg+xml"))
      v = split_text(v.get<std::string>());
}

json to_nbformat(json out) {
  if (out.contains("text") && out["text"].is_string())
    out["text"] = split_text(out["text"].get<std::string>());
  if (out.contains("data")) split_bundle(out["data"]);
  return out;
}

Status write_atomic(const std::string& path, const std::string& text) {
  std::error_code ec;
  fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
  std::string tmp = path + ".tmp" + std::to_string(getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return errno_error("cannot write " + tmp, errno);
    f << text;
    if (!f) return errno_error("cannot write " + tmp, errno);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return errno_error("cannot rename to " + path, errno);
  return {};
}

}  // namespace wfrun::notebook::internal
