#include "workflows/duration.h"

#include <cctype>
#include <cmath>
#include <string>

#include "base/strings.h"

namespace wfrun::workflows {
namespace {

// Reads an unsigned decimal number (`12`, `1.5`, `.5`) at `pos`; false if there is none.
bool read_number(std::string_view s, size_t& pos, double& out) {
  size_t start = pos;
  bool digits = false;
  while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) ++pos, digits = true;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    bool frac = false;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) ++pos, frac = true;
    if (!frac) return false;  // "1." is not a number here
    digits = true;
  }
  if (!digits) return false;
  out = std::stod(std::string(s.substr(start, pos - start)));
  return true;
}

Error duration_error(std::string_view text) {
  return Error("'" + std::string(text) +
               "' is not a duration; use a number with a unit, e.g. 45s, 90m, 1h30m, 1.5h or 2d");
}

Error memory_error(std::string_view text) {
  return Error("'" + std::string(text) +
               "' is not a memory size; use e.g. 512Mi, 16Gi, 4GB or a number of bytes");
}

}  // namespace

Result<double> parse_duration(std::string_view text) {
  std::string_view s = trim(text);
  if (s.empty()) return Error("empty duration; use e.g. 45s, 90m, 1h30m, 1.5h or 2d");
  size_t pos = 0;
  double n = 0;
  if (!read_number(s, pos, n)) return duration_error(text);
  if (pos == s.size()) return n;  // plain seconds
  static constexpr std::string_view kUnits = "dhms";
  static constexpr double kSeconds[] = {86400, 3600, 60, 1};
  double total = 0;
  size_t next_unit = 0;  // units must come in order d, h, m, s
  while (true) {
    if (pos >= s.size()) return duration_error(text);
    size_t u = kUnits.find(static_cast<char>(std::tolower(static_cast<unsigned char>(s[pos]))));
    if (u == std::string_view::npos || u < next_unit) return duration_error(text);
    total += n * kSeconds[u];
    next_unit = u + 1;
    ++pos;
    if (pos == s.size()) break;
    if (!read_number(s, pos, n)) return duration_error(text);
  }
  return total;
}

Result<long long> parse_memory(std::string_view text) {
  std::string_view s = trim(text);
  if (s.empty()) return Error("empty memory size; use e.g. 512Mi, 16Gi, 4GB or a number of bytes");
  size_t pos = 0;
  double n = 0;
  if (!read_number(s, pos, n)) return memory_error(text);
  std::string unit;
  for (char c : s.substr(pos))
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double mult = 1;
  if (!unit.empty() && unit != "b") {
    static constexpr std::string_view kPrefixes = "kmgtp";
    size_t p = kPrefixes.find(unit[0]);
    if (p == std::string_view::npos) return memory_error(text);
    std::string rest = unit.substr(1);
    bool binary;
    if (rest.empty() || rest == "b") {
      binary = false;
    } else if (rest == "i" || rest == "ib") {
      binary = true;
    } else {
      return memory_error(text);
    }
    mult = std::pow(binary ? 1024.0 : 1000.0, static_cast<double>(p + 1));
  }
  double bytes = std::round(n * mult);
  if (bytes > 9.0e18) return Error("memory size '" + std::string(text) + "' is too large");
  return static_cast<long long>(bytes);
}

}  // namespace wfrun::workflows
