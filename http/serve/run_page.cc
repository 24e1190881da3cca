#include "http/serve/run_page.h"

#include <cctype>
#include <cstdio>
#include <ctime>

#include "base/strings.h"
#include "http/serve/queue.h"
#include "http/serve/signature.h"

namespace wfrun::serve {

namespace {

using nlohmann::json;
constexpr size_t kKeyHexDigits = 32;  // 128 bits

const std::string& link_secret(const ServerConfig& c) {
  return c.link_secret.empty() ? c.webhook_secret : c.link_secret;
}

std::string str(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return "";
  const json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  return "";
}

double num(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0;
}

std::string utc(double t) {
  if (t <= 0) return "–";
  std::time_t s = static_cast<std::time_t>(t);
  std::tm tm{};
  ::gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string took(double started, double finished) {
  if (started <= 0 || finished < started) return "–";
  return format_duration(finished - started);
}

/// Percent-encoding for a path segment or a query value.
std::string url_encode(std::string_view s) {
  std::string out;
  char buf[4];
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string badge(const std::string& status) {
  return "<span class=\"s " + html_escape(status) + "\">" + html_escape(status) + "</span>";
}

}  // namespace

std::string run_key(const ServerConfig& config, std::int64_t id) {
  return hmac_sha256_hex(link_secret(config), "run:" + std::to_string(id)).substr(0, kKeyHexDigits);
}

std::string run_link(const ServerConfig& config, std::int64_t id) {
  return config.base_url() + "/runs/" + std::to_string(id) + "?key=" + run_key(config, id);
}

bool run_key_ok(const ServerConfig& config, std::int64_t id, std::string_view key) {
  if (link_secret(config).empty() || key.size() != kKeyHexDigits) return false;
  return constant_time_equal(run_key(config, id), key);
}

std::string with_run_key(const ServerConfig& config, std::int64_t run_id, const std::string& url) {
  const std::string tail = "/runs/" + std::to_string(run_id);
  if (url.find('?') != std::string::npos || url.size() < tail.size() ||
      url.compare(url.size() - tail.size(), tail.size(), tail) != 0)
    return url;
  return url + "?key=" + run_key(config, run_id);
}

std::string render_run_page(const json& run, const json& workflows, const std::string& key) {
  const std::string id = str(run, "id");
  const std::string status = str(run, "status");
  const std::string k = "key=" + url_encode(key);
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  if (!is_final_status(status)) h += "<meta http-equiv=\"refresh\" content=\"10\">\n";
  h += "<meta name=\"referrer\" content=\"no-referrer\">\n";
  h += "<title>wfrun run " + html_escape(id) + ": " + html_escape(status) + "</title>\n";
  h += "<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:60em}"
       "table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:left;"
       "border-bottom:1px solid #ddd}code{font-size:13px}.s{font-weight:bold}"
       ".success,.succeeded{color:#1a7f37}.failure,.failed,.error{color:#cf222e}.cancelled,.skipped,"
       ".interrupted{color:#6e7781}.queued,.running{color:#9a6700}</style>\n";
  h += "</head><body>\n";
  h += "<h1>Run " + html_escape(id) + " " + badge(status) + "</h1>\n";
  if (!str(run, "message").empty()) h += "<p>" + html_escape(str(run, "message")) + "</p>\n";
  h += "<table>\n";
  auto row = [&](const std::string& name, const std::string& value_html) {
    h += "<tr><th>" + name + "</th><td>" + value_html + "</td></tr>\n";
  };
  row("Repository", html_escape(str(run, "repo")));
  row("Event", html_escape(str(run, "event")));
  row("Ref", "<code>" + html_escape(str(run, "ref")) + "</code>");
  if (!str(run, "base_ref").empty()) row("Base", "<code>" + html_escape(str(run, "base_ref")) + "</code>");
  if (!str(run, "sha").empty()) row("Commit", "<code>" + html_escape(str(run, "sha")) + "</code>");
  row("Queued", utc(num(run, "queued_at")));
  row("Started", utc(num(run, "started_at")));
  row("Finished", utc(num(run, "finished_at")));
  row("Duration", took(num(run, "started_at"), num(run, "finished_at")));
  row("Output", "<a href=\"" + html_escape(url_encode(id) + "/log?" + k) + "\">the run's log</a>");
  h += "</table>\n";

  h += "<h2>Workflows</h2>\n";
  if (!workflows.is_array() || workflows.empty()) {
    h += "<p>" + std::string(is_final_status(status) ? "No workflow ran." : "Not known yet.") + "</p>\n";
  } else {
    for (const auto& w : workflows) {
      const std::string path = str(w, "path");
      const std::string name = str(w, "name");
      h += "<h3>" + html_escape(name.empty() ? path : name) + " " + badge(str(w, "status")) + "</h3>\n";
      h += "<p><code>" + html_escape(path) + "</code>";
      if (!str(w, "message").empty()) h += " – " + html_escape(str(w, "message"));
      h += "</p>\n";
      if (!w.contains("jobs") || !w["jobs"].is_array() || w["jobs"].empty()) continue;
      h += "<table>\n<tr><th>Job</th><th>Status</th><th>Duration</th><th>Exit</th><th>Log</th></tr>\n";
      for (const auto& j : w["jobs"]) {
        const std::string job = str(j, "name");
        const std::string href = url_encode(id) + "/jobs/" + url_encode(job) + "/log?" + k +
                                 "&workflow=" + url_encode(path);
        std::string line = "<tr><td>" + html_escape(job) + "</td><td>" + badge(str(j, "state")) +
                           "</td><td>" + took(num(j, "started_at"), num(j, "finished_at")) +
                           "</td><td>" + html_escape(str(j, "exit_code")) + "</td><td><a href=\"" +
                           html_escape(href) + "\">log</a>";
        if (!str(j, "message").empty()) line += " " + html_escape(str(j, "message"));
        h += line + "</td></tr>\n";
      }
      h += "</table>\n";
    }
  }
  h += "</body></html>\n";
  return h;
}

}  // namespace wfrun::serve
