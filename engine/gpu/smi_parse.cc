#include "engine/gpu/smi_parse.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>

#include "base/strings.h"

namespace wfrun::gpu {

const char* const kQueryGpuFields =
    "index,uuid,name,pci.bus_id,driver_version,memory.total,memory.used,memory.free,"
    "utilization.gpu,utilization.memory,power.draw,power.limit,temperature.gpu,clocks.sm,"
    "clocks.mem";

namespace {

std::vector<std::string> split_trimmed(std::string_view s, char sep) {
  std::vector<std::string> out;
  for (const auto& p : split(s, sep)) out.emplace_back(trim(p));
  return out;
}

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> out;
  for (auto& l : split(text, '\n')) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    out.push_back(std::move(l));
  }
  return out;
}

// "memory.total [MiB]" -> "memory.total"; "clocks.current.sm" (the header's name for the query
// field clocks.sm) stays as is: we do not use clocks.
std::string header_name(std::string_view h) {
  auto bracket = h.find('[');
  if (bracket != std::string_view::npos) h = h.substr(0, bracket);
  return std::string(trim(h));
}

int to_int(std::optional<double> v) { return v ? static_cast<int>(std::lround(*v)) : -1; }
long long to_ll(std::optional<double> v) { return v ? std::llround(*v) : -1; }
double to_double(std::optional<double> v) { return v ? *v : -1; }

// Sets the field of `g` that the query field `name` fills from `value`.
void set_field(GpuInfo& g, const std::string& name, const std::string& value) {
  if (name == "index") {
    g.index = to_int(parse_smi_number(value));
  } else if (name == "uuid") {
    g.uuid = value;
  } else if (name == "name") {
    g.name = value;
  } else if (name == "memory.total") {
    g.memory_total_mib = to_ll(parse_smi_number(value));
  } else if (name == "memory.used") {
    g.memory_used_mib = to_ll(parse_smi_number(value));
  } else if (name == "utilization.gpu") {
    g.utilization_pct = to_int(parse_smi_number(value));
  } else if (name == "power.draw" || name == "power.draw.instant") {
    g.power_w = to_double(parse_smi_number(value));
  } else if (name == "power.limit" || name == "enforced.power.limit") {
    g.power_limit_w = to_double(parse_smi_number(value));
  } else if (name == "temperature.gpu") {
    g.temperature_c = to_int(parse_smi_number(value));
  }
}

}  // namespace

std::optional<double> parse_smi_number(std::string_view value) {
  value = trim(value);
  if (value.empty() || value.front() == '[' || value == "N/A" || value == "-") return std::nullopt;
  std::string s(value);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !std::isfinite(v)) return std::nullopt;
  // What follows the number may only be a unit: " MiB", " W", " %", " C", " MHz".
  for (const char* p = end; *p; ++p) {
    if (!std::isalpha(static_cast<unsigned char>(*p)) && *p != ' ' && *p != '%') {
      return std::nullopt;
    }
  }
  return v;
}

Result<std::vector<GpuInfo>> parse_query_gpu_csv(std::string_view text, std::string_view fields) {
  std::vector<GpuInfo> out;
  std::vector<std::string> columns = split_trimmed(fields, ',');
  bool first = true;
  int line_no = 0;
  for (const auto& line : lines_of(text)) {
    ++line_no;
    if (trim(line).empty()) continue;
    std::vector<std::string> cells = split_trimmed(line, ',');
    if (first) {
      first = false;
      // A header starts with a field name, never with a number.
      if (!cells.empty() && !cells[0].empty() &&
          !std::isdigit(static_cast<unsigned char>(cells[0][0]))) {
        columns.clear();
        for (const auto& c : cells) columns.push_back(header_name(c));
        continue;
      }
    }
    if (cells.size() != columns.size()) {
      return Error("nvidia-smi output line " + std::to_string(line_no) + " has " +
                   std::to_string(cells.size()) + " values, expected " +
                   std::to_string(columns.size()) + ": " + line);
    }
    GpuInfo g;
    g.index = -1;
    for (size_t i = 0; i < cells.size(); ++i) set_field(g, columns[i], cells[i]);
    if (g.index < 0) {
      return Error("nvidia-smi output line " + std::to_string(line_no) +
                   " has no GPU index: " + line);
    }
    out.push_back(std::move(g));
  }
  return out;
}

namespace {

// The text of the first <tag>...</tag> inside `s`, or nullopt.
std::optional<std::string_view> element(std::string_view s, std::string_view tag) {
  std::string open = "<" + std::string(tag) + ">";
  std::string close = "</" + std::string(tag) + ">";
  auto b = s.find(open);
  if (b == std::string_view::npos) return std::nullopt;
  b += open.size();
  auto e = s.find(close, b);
  if (e == std::string_view::npos) return std::nullopt;
  return s.substr(b, e - b);
}

// The text at a path of nested elements: element_path(gpu, {"fb_memory_usage", "total"}).
std::optional<std::string_view> element_path(std::string_view s,
                                             std::initializer_list<std::string_view> path) {
  std::optional<std::string_view> cur = s;
  for (auto tag : path) {
    cur = element(*cur, tag);
    if (!cur) return std::nullopt;
  }
  return cur;
}

std::string xml_unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '&') {
      static const std::pair<std::string_view, char> kEntities[] = {
          {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
      bool done = false;
      for (auto [ent, ch] : kEntities) {
        if (s.substr(i, ent.size()) == ent) {
          out += ch;
          i += ent.size() - 1;
          done = true;
          break;
        }
      }
      if (done) continue;
    }
    out += s[i];
  }
  return out;
}

std::optional<double> number_at(std::string_view gpu,
                                std::initializer_list<std::string_view> path) {
  auto v = element_path(gpu, path);
  return v ? parse_smi_number(*v) : std::nullopt;
}

}  // namespace

Result<std::vector<GpuInfo>> parse_smi_xml(std::string_view text) {
  if (text.find("<nvidia_smi_log>") == std::string_view::npos) {
    return Error("not nvidia-smi -q -x output (no <nvidia_smi_log>)");
  }
  std::vector<GpuInfo> out;
  size_t pos = 0;
  while (true) {
    auto b = text.find("<gpu ", pos);
    auto b2 = text.find("<gpu>", pos);
    if (b2 < b) b = b2;
    if (b == std::string_view::npos) break;
    auto e = text.find("</gpu>", b);
    if (e == std::string_view::npos) return Error("nvidia-smi -q -x output: unterminated <gpu>");
    std::string_view gpu = text.substr(b, e - b);
    pos = e + 6;

    GpuInfo g;
    g.index = static_cast<int>(out.size());
    if (auto v = element(gpu, "product_name")) g.name = xml_unescape(trim(*v));
    if (auto v = element(gpu, "uuid")) g.uuid = xml_unescape(trim(*v));
    g.memory_total_mib = to_ll(number_at(gpu, {"fb_memory_usage", "total"}));
    g.memory_used_mib = to_ll(number_at(gpu, {"fb_memory_usage", "used"}));
    g.utilization_pct = to_int(number_at(gpu, {"utilization", "gpu_util"}));
    g.temperature_c = to_int(number_at(gpu, {"temperature", "gpu_temp"}));
    // Drivers >= 530 write <gpu_power_readings> with instant/average draw and
    // current_power_limit; older ones <power_readings> with power_draw and enforced_power_limit.
    if (auto pr = element(gpu, "gpu_power_readings")) {
      auto draw = number_at(*pr, {"instant_power_draw"});
      if (!draw) draw = number_at(*pr, {"average_power_draw"});
      g.power_w = to_double(draw);
      g.power_limit_w = to_double(number_at(*pr, {"current_power_limit"}));
    } else if (auto pr = element(gpu, "power_readings")) {
      g.power_w = to_double(number_at(*pr, {"power_draw"}));
      auto limit = number_at(*pr, {"enforced_power_limit"});
      if (!limit) limit = number_at(*pr, {"power_limit"});
      g.power_limit_w = to_double(limit);
    }
    out.push_back(std::move(g));
  }
  return out;
}

std::optional<GpuInfo> DmonParser::feed(std::string_view line) {
  std::string_view t = trim(line);
  if (t.empty()) return std::nullopt;
  if (t.front() == '#') {
    // The first comment line of a block names the columns; the second gives units.
    std::vector<std::string> words;
    for (const auto& w : split(t.substr(1), ' ')) {
      if (!trim(w).empty()) words.emplace_back(trim(w));
    }
    if (!words.empty() && words[0] == "gpu") {
      columns_ = std::move(words);
      saw_header_ = true;
    }
    return std::nullopt;
  }
  if (!saw_header_) {
    columns_ = {"gpu", "pwr", "gtemp", "mtemp", "sm",   "mem",
                "enc", "dec", "jpg",   "ofa",   "mclk", "pclk"};
    saw_header_ = true;
  }
  std::vector<std::string> cells;
  for (const auto& w : split(t, ' ')) {
    if (!trim(w).empty()) cells.emplace_back(trim(w));
  }
  GpuInfo g;
  g.index = -1;
  for (size_t i = 0; i < cells.size() && i < columns_.size(); ++i) {
    const auto& c = columns_[i];
    auto v = parse_smi_number(cells[i]);
    if (c == "gpu") {
      g.index = to_int(v);
    } else if (c == "pwr") {
      g.power_w = to_double(v);
    } else if (c == "gtemp") {
      g.temperature_c = to_int(v);
    } else if (c == "sm") {
      g.utilization_pct = to_int(v);
    } else if (c == "fb") {
      g.memory_used_mib = to_ll(v);
    }
  }
  if (g.index < 0) return std::nullopt;
  return g;
}

std::vector<GpuInfo> parse_dmon(std::string_view text) {
  DmonParser p;
  std::vector<GpuInfo> out;
  for (const auto& line : lines_of(text)) {
    if (auto g = p.feed(line)) out.push_back(std::move(*g));
  }
  return out;
}

}  // namespace wfrun::gpu
