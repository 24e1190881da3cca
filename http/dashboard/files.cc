#include "http/dashboard/files.h"

#include <cmark.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace wfrun::dashboard {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

/// A notebook's multi-line string: a string or an array of strings.
std::string text_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  std::string out;
  if (v.is_array())
    for (const auto& p : v)
      if (p.is_string()) out += p.get<std::string>();
  return out;
}

/// Text without ANSI escape sequences (tracebacks are coloured).
std::string strip_ansi(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
      i += 2;
      while (i < s.size() && !(s[i] >= '@' && s[i] <= '~')) ++i;
      continue;
    }
    out += s[i];
  }
  return out;
}

/// o[key] when it is a string, else "" (notebooks are untrusted JSON: no type is assumed).
std::string str(const json& o, const char* key) {
  return o.is_object() && o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : "";
}

std::string markdown(const std::string& text) {
  // CMARK_OPT_DEFAULT leaves raw HTML out ("<!-- raw HTML omitted -->") and drops
  // javascript: links.
  std::unique_ptr<char, decltype(&std::free)> html(
      cmark_markdown_to_html(text.data(), text.size(), CMARK_OPT_DEFAULT), &std::free);
  return html ? std::string(html.get()) : "";
}

bool base64ish(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=' ||
           c == '\n' || c == '\r';
  });
}

std::string output_html(const json& o) {
  if (!o.is_object()) return "";
  const std::string type = str(o, "output_type");
  if (type == "stream") {
    const bool err = str(o, "name") == "stderr";
    return std::string("<pre class=\"out") + (err ? " stderr" : "") + "\">" +
           html_escape(strip_ansi(text_of(o.contains("text") ? o["text"] : json()))) + "</pre>\n";
  }
  if (type == "error") {
    std::string tb;
    if (o.contains("traceback") && o["traceback"].is_array())
      for (const auto& l : o["traceback"])
        if (l.is_string()) tb += strip_ansi(l.get<std::string>()) + "\n";
    if (tb.empty()) tb = str(o, "ename") + ": " + str(o, "evalue");
    return "<pre class=\"out stderr\">" + html_escape(tb) + "</pre>\n";
  }
  if ((type != "execute_result" && type != "display_data") || !o.contains("data") ||
      !o["data"].is_object())
    return "";
  const json& d = o["data"];
  for (const char* img : {"image/png", "image/jpeg", "image/gif"}) {
    if (d.contains(img)) {
      std::string b64 = text_of(d[img]);
      if (!base64ish(b64)) continue;
      b64.erase(std::remove_if(b64.begin(), b64.end(), [](char c) { return c == '\n' || c == '\r'; }),
                b64.end());
      return std::string("<img alt=\"output\" src=\"data:") + img + ";base64," + b64 + "\">\n";
    }
  }
  // HTML (pandas tables, widgets' fallbacks) and SVG as they are: the sandbox keeps them inert.
  if (d.contains("text/html")) return "<div class=\"html\">" + text_of(d["text/html"]) + "</div>\n";
  if (d.contains("image/svg+xml")) return "<div class=\"html\">" + text_of(d["image/svg+xml"]) + "</div>\n";
  if (d.contains("text/markdown")) return "<div class=\"md\">" + markdown(text_of(d["text/markdown"])) + "</div>\n";
  if (d.contains("text/plain")) return "<pre class=\"out\">" + html_escape(text_of(d["text/plain"])) + "</pre>\n";
  return "";
}

constexpr const char* kStyle = R"css(
:root{color-scheme:light dark;--fg:#1f2328;--bg:#fff;--muted:#59636e;--code:#f6f8fa;--line:#d1d9e0;--err:#fff0f0}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9198a1;--code:#151b23;--line:#3d444d;--err:#2d1517}}
body{font:15px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg);margin:0;padding:1rem 1.25rem;max-width:70rem}
.cell{margin:0 0 1rem}
.prompt{color:var(--muted);font:12px ui-monospace,monospace;margin:.2rem 0}
pre{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,monospace;background:var(--code);border:1px solid var(--line);border-radius:6px;padding:.6rem .8rem;overflow:auto;margin:.3rem 0;white-space:pre-wrap;word-break:break-word}
pre.out{background:transparent;border-style:dashed}
pre.stderr{background:var(--err)}
img{max-width:100%;height:auto;background:#fff}
.html{overflow:auto}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid var(--line);padding:.2rem .5rem}
a{color:#0969da}
)css";

}  // namespace

Result<std::vector<FileEntry>> list_files(const std::string& root, size_t limit, bool* truncated) {
  std::vector<FileEntry> out;
  *truncated = false;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) return Error("cannot list " + root + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    std::error_code e2;
    if (!it->is_regular_file(e2) || it->is_symlink(e2)) continue;
    if (out.size() >= limit) {
      *truncated = true;
      break;
    }
    out.push_back({fs::relative(it->path(), root, e2).generic_string(),
                   static_cast<long long>(it->file_size(e2))});
  }
  std::sort(out.begin(), out.end(), [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  return out;
}

Result<std::string> file_inside(const std::string& root, const std::string& rel) {
  const Error missing("no such file: " + rel);
  if (rel.empty() || rel.find('\0') != std::string::npos) return missing;
  std::error_code ec;
  const fs::path base = fs::canonical(root, ec);
  if (ec) return missing;
  const fs::path full = fs::canonical(base / fs::path(rel).relative_path(), ec);
  if (ec) return missing;
  // Inside: `base` is a prefix of `full`, compared by path components.
  auto b = base.begin(), f = full.begin();
  for (; b != base.end(); ++b, ++f)
    if (f == full.end() || *b != *f) return missing;
  if (!fs::is_regular_file(full, ec)) return missing;
  return full.string();
}

Result<std::string> notebook_html(const std::string& ipynb, const std::string& title) {
  // The parser keeps its own stack (no recursion); values nested deeper than any notebook
  // needs are dropped, so nothing later walks a deep tree either.
  json nb = json::parse(ipynb, [](int depth, json::parse_event_t, json&) { return depth <= 64; }, false);
  if (!nb.is_object()) return Error("not a notebook: the file is not a JSON object");
  if (!nb.contains("cells") || !nb["cells"].is_array())
    return Error("not a notebook this page can show: no `cells` array (nbformat 4)");
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" +
                  html_escape(title) + "</title>\n<style>" + kStyle + "</style></head><body>\n";
  size_t i = 0;
  for (const auto& cell : nb["cells"]) {
    ++i;
    if (!cell.is_object()) continue;
    const std::string type = str(cell, "cell_type");
    const std::string src = text_of(cell.contains("source") ? cell["source"] : json());
    h += "<section class=\"cell\" id=\"cell-" + std::to_string(i) + "\">\n";
    if (type == "markdown") {
      h += markdown(src);
    } else if (type == "code") {
      std::string count = cell.contains("execution_count") && cell["execution_count"].is_number_integer()
                              ? std::to_string(cell["execution_count"].get<long long>())
                              : " ";
      h += "<div class=\"prompt\">In [" + count + "]:</div>\n<pre class=\"src\">" + html_escape(src) + "</pre>\n";
      if (cell.contains("outputs") && cell["outputs"].is_array())
        for (const auto& o : cell["outputs"]) h += output_html(o);
    } else {
      h += "<pre>" + html_escape(src) + "</pre>\n";
    }
    h += "</section>\n";
  }
  h += "</body></html>\n";
  return h;
}

}  // namespace wfrun::dashboard
