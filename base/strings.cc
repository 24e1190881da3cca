#include "base/strings.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace wfrun {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t best_d = 0;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (!best || d < best_d) {
      best = c;
      best_d = d;
    }
  }
  // Close enough: at most a third of the word (and at least one edit) differs, and not all of
  // it ("x" is no typo of "b").
  if (best && best_d > 0 && best_d < word.size() &&
      best_d <= std::max<size_t>(1, word.size() / 3)) {
    return best;
  }
  return std::nullopt;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  auto m = closest_match(word, candidates);
  return m ? " (did you mean '" + *m + "'?)" : "";
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    out.emplace_back(s.substr(start, p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string format_duration(double seconds) {
  char buf[32];
  if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  } else if (seconds < 3600) {
    int s = static_cast<int>(seconds);
    std::snprintf(buf, sizeof buf, "%dm%02ds", s / 60, s % 60);
  } else {
    int m = static_cast<int>(seconds / 60);
    std::snprintf(buf, sizeof buf, "%dh%02dm", m / 60, m % 60);
  }
  return buf;
}

std::string base64_encode(std::string_view data, bool url_safe) {
  const char* alphabet = url_safe
                             ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                             : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    unsigned v = static_cast<unsigned char>(data[i]) << 16 |
                 static_cast<unsigned char>(data[i + 1]) << 8 |
                 static_cast<unsigned char>(data[i + 2]);
    for (int k = 3; k >= 0; --k) out += alphabet[(v >> (6 * k)) & 63];
  }
  if (size_t rest = data.size() - i; rest > 0) {
    unsigned v = static_cast<unsigned char>(data[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(data[i + 1]) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

namespace {

// The characters of base64(text) that do not depend on what comes before or after `secret`
// when it starts `offset` bytes (0, 1 or 2) into a 3-byte group of a longer text.
std::string base64_core(std::string_view secret, size_t offset, bool url_safe) {
  std::string padded(offset, '\0');
  padded.append(secret);
  std::string enc = base64_encode(padded, url_safe);
  // Each character holds 6 bits: skip those that hold bits of the bytes before the secret,
  // and stop before the first that holds bits of the bytes after it.
  size_t first = (8 * offset + 5) / 6;
  size_t end = 8 * (offset + secret.size()) / 6;
  return end > first ? enc.substr(first, end - first) : std::string();
}

// %XX for every byte but RFC 3986's unreserved ones; `plus`: a space is '+' (forms).
std::string url_encode(std::string_view s, bool lower, bool plus) {
  const char* hex = lower ? "0123456789abcdef" : "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else if (plus && c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

void Redactor::add(std::string secret) {
  if (secret.empty()) return;
  for (bool url_safe : {false, true})
    for (size_t offset = 0; offset < 3; ++offset) add_pattern(base64_core(secret, offset, url_safe));
  for (bool lower : {false, true})
    for (bool plus : {false, true}) add_pattern(url_encode(secret, lower, plus));
  // The value itself, whatever its length (the derived forms only from kMinDerivedLength on).
  if (std::find(secrets_.begin(), secrets_.end(), secret) == secrets_.end())
    secrets_.push_back(std::move(secret));
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

void Redactor::add_pattern(std::string pattern) {
  if (pattern.size() < kMinDerivedLength) return;
  if (std::find(secrets_.begin(), secrets_.end(), pattern) != secrets_.end()) return;
  secrets_.push_back(std::move(pattern));
}

size_t Redactor::split_point(std::string_view text) const {
  if (secrets_.empty()) return text.size();
  const size_t longest = secrets_.front().size();  // sorted longest first
  size_t cut = text.size() > longest - 1 ? text.size() - (longest - 1) : 0;
  // An occurrence that starts before the cut and ends after it moves, whole, past the cut.
  for (const auto& s : secrets_) {
    size_t from = cut > s.size() ? cut - s.size() + 1 : 0;
    for (size_t pos = text.find(s, from); pos != std::string_view::npos && pos < cut;
         pos = text.find(s, pos + 1))
      if (pos + s.size() > cut) cut = pos;
  }
  return cut;
}

std::string Redactor::redact(std::string_view text) const {
  std::string out(text);
  for (const auto& s : secrets_) {
    size_t pos = 0;
    while ((pos = out.find(s, pos)) != std::string::npos) {
      out.replace(pos, s.size(), "***");
      pos += 3;
    }
  }
  return out;
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace wfrun
