#include "http/serve/payload_fields.h"

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>
#include <vector>

namespace wfrun::serve {

namespace {

using nlohmann::json;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// Bytes that stand for themselves in a string: printable ASCII but the quote and backslash.
constexpr auto kPlain = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();

/// Deeper than any payload GitHub sends; what is deeper is refused, so that a hostile payload
/// cannot make the pass hold a frame per byte.
constexpr size_t kMaxDepth = 1000;

/// One pass over the text; see the header. Each call to a scanning member starts at the first
/// byte of what it scans and leaves p_ just past it.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : s_(text) {}

  bool run(std::map<std::string, json, std::less<>>& got) {
    // nlohmann skips a UTF-8 byte order mark before the value.
    if (s_.size() >= 3 && s_.compare(0, 3, "\xEF\xBB\xBF") == 0) p_ = 3;
    ws();
    if (p_ >= s_.size() || s_[p_] != '{') return false;  // not an object (or not JSON)
    struct Frame {
      bool array;
      bool in_array;  // this or a container around it is an array
      size_t base;    // path's length where this container started
    };
    std::vector<Frame> frames;
    std::string path, text;
    for (;;) {
      // A value.
      if (p_ >= s_.size()) return false;
      const char c = s_[p_];
      // Only members of objects outside arrays, and few of those, are read.
      const bool keep = c != '{' && c != '[' && !frames.empty() && !frames.back().in_array &&
                        PayloadFields::wanted(path);
      if (c == '{' || c == '[') {
        if (frames.size() >= kMaxDepth) return false;
        const bool array = c == '[';
        frames.push_back({array, array || (!frames.empty() && frames.back().in_array), path.size()});
        ++p_;
        ws();
        if (p_ < s_.size() && s_[p_] == (array ? ']' : '}')) {
          ++p_;
          path.resize(frames.back().base);
          frames.pop_back();
        } else {
          if (!array && !key(path, frames.back().base)) return false;
          continue;
        }
      } else if (c == '"') {
        text.clear();
        if (!string(keep ? &text : nullptr)) return false;
        if (keep) got[path] = text;
      } else if (c == 't' || c == 'f' || c == 'n') {
        const std::string_view word = c == 't' ? "true" : c == 'f' ? "false" : "null";
        if (s_.compare(p_, word.size(), word) != 0) return false;
        p_ += word.size();
        if (keep) got[path] = c == 'n' ? json(nullptr) : json(c == 't');
      } else if (c == '-' || is_digit(c)) {
        std::string_view token;
        if (!number(token)) return false;
        if (keep) got[path] = json::parse(token, nullptr, false);
      } else {
        return false;
      }
      // After a value: the end, a comma and the next value, or containers that close.
      for (;;) {
        ws();
        // nlohmann reads a NUL byte as the end of the text: what follows one is not looked at.
        if (frames.empty()) return p_ == s_.size() || s_[p_] == '\0';
        if (p_ >= s_.size()) return false;
        const Frame& f = frames.back();
        if (s_[p_] == ',') {
          ++p_;
          ws();
          if (!f.array && !key(path, f.base)) return false;
          break;
        }
        if (s_[p_] != (f.array ? ']' : '}')) return false;
        ++p_;
        path.resize(f.base);
        frames.pop_back();
      }
    }
  }

 private:
  void ws() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\n' || s_[p_] == '\r' || s_[p_] == '\t')) ++p_;
  }

  // A member's name and its colon; `path` becomes the member's.
  bool key(std::string& path, size_t base) {
    if (p_ >= s_.size() || s_[p_] != '"') return false;
    path.resize(base);
    path += '/';
    if (!string(&path)) return false;
    ws();
    if (p_ >= s_.size() || s_[p_] != ':') return false;
    ++p_;
    ws();
    return true;
  }

  int hex4() {
    if (s_.size() - p_ < 4) return -1;
    int v = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = hex_value(s_[p_ + i]);
      if (h < 0) return -1;
      v = v * 16 + h;
    }
    p_ += 4;
    return v;
  }

  // The length of the UTF-8 sequence at p_ (RFC 3629, as nlohmann checks it); 0 if it is not one.
  size_t utf8_length() const {
    const auto at = [&](size_t k) { return static_cast<unsigned char>(s_[p_ + k]); };
    const size_t left = s_.size() - p_;
    const unsigned c = at(0);
    auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
      return k < left && at(k) >= lo && at(k) <= hi;
    };
    if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
    if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
    if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
    if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
    if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
    if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
    if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
    return 0;
  }

  // A string, decoded into `out` when it is not null.
  bool string(std::string* out) {
    ++p_;  // the opening quote
    for (;;) {
      if (p_ >= s_.size()) return false;
      const auto c = static_cast<unsigned char>(s_[p_]);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c == '\\') {
        if (++p_ >= s_.size()) return false;
        const char e = s_[p_++];
        char plain = 0;
        switch (e) {
          case '"': plain = '"'; break;
          case '\\': plain = '\\'; break;
          case '/': plain = '/'; break;
          case 'b': plain = '\b'; break;
          case 'f': plain = '\f'; break;
          case 'n': plain = '\n'; break;
          case 'r': plain = '\r'; break;
          case 't': plain = '\t'; break;
          case 'u': {
            int cp = hex4();
            if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF)) return false;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              // A high surrogate must be followed by a low one.
              if (s_.size() - p_ < 2 || s_[p_] != '\\' || s_[p_ + 1] != 'u') return false;
              p_ += 2;
              const int low = hex4();
              if (low < 0xDC00 || low > 0xDFFF) return false;
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            if (out) append_utf8(*out, static_cast<unsigned>(cp));
            continue;
          }
          default: return false;
        }
        if (out) *out += plain;
        continue;
      }
      if (c < 0x20) return false;  // control characters must be escaped
      if (c < 0x80) {
        const size_t from = p_;
        while (p_ < s_.size() && kPlain[static_cast<unsigned char>(s_[p_])]) ++p_;
        if (out) out->append(s_.data() + from, p_ - from);
        continue;
      }
      const size_t n = utf8_length();
      if (n == 0) return false;
      if (out) out->append(s_.data() + p_, n);
      p_ += n;
    }
  }

  // A number (RFC 8259's grammar); like nlohmann, one whose value is beyond a double is an error.
  bool number(std::string_view& token) {
    const size_t from = p_;
    if (s_[p_] == '-') ++p_;
    if (p_ >= s_.size() || !is_digit(s_[p_])) return false;
    if (s_[p_] == '0') {
      ++p_;
    } else {
      while (p_ < s_.size() && is_digit(s_[p_])) ++p_;
    }
    bool fraction = false;
    if (p_ < s_.size() && s_[p_] == '.') {
      ++p_;
      fraction = true;
      if (p_ >= s_.size() || !is_digit(s_[p_])) return false;
      while (p_ < s_.size() && is_digit(s_[p_])) ++p_;
    }
    if (p_ < s_.size() && (s_[p_] == 'e' || s_[p_] == 'E')) {
      ++p_;
      fraction = true;
      if (p_ < s_.size() && (s_[p_] == '+' || s_[p_] == '-')) ++p_;
      if (p_ >= s_.size() || !is_digit(s_[p_])) return false;
      while (p_ < s_.size() && is_digit(s_[p_])) ++p_;
    }
    token = s_.substr(from, p_ - from);
    // An integer of up to 18 digits fits in 64 bits; others are read as nlohmann reads them:
    // an integer that overflows becomes a double, and a double must be finite.
    if (!fraction && token.size() <= 18) return true;
    const std::string t(token);
    if (!fraction) {
      errno = 0;
      if (t[0] == '-') (void)std::strtoll(t.c_str(), nullptr, 10);
      else (void)std::strtoull(t.c_str(), nullptr, 10);
      if (errno != ERANGE) return true;
    }
    return std::isfinite(std::strtod(t.c_str(), nullptr));
  }

  std::string_view s_;
  size_t p_ = 0;
};

}  // namespace

std::optional<PayloadFields> PayloadFields::parse(std::string_view text) {
  PayloadFields f;
  if (!Scanner(text).run(f.got_)) return std::nullopt;
  return f;
}

std::string PayloadFields::str(const std::string& path) const {
  auto it = got_.find(path);
  return it != got_.end() && it->second.is_string() ? it->second.get<std::string>() : "";
}

const nlohmann::json* PayloadFields::get(const std::string& path) const {
  auto it = got_.find(path);
  return it == got_.end() ? nullptr : &it->second;
}

bool PayloadFields::wanted(std::string_view path) {
  static const std::set<std::string, std::less<>> kWanted = {
      "/zen", "/ref", "/after", "/deleted", "/action", "/number",
      "/head_commit/id", "/head_commit/message",
      "/repository/full_name", "/repository/clone_url",
      "/pull_request/head/sha", "/pull_request/head/ref", "/pull_request/head/repo/full_name",
      "/pull_request/base/ref", "/pull_request/base/repo/full_name"};
  if (path.size() < 4 || path.size() > 33) return false;
  switch (path[1]) {  // the first letters of the names above
    case 'z': case 'r': case 'a': case 'd': case 'n': case 'h': case 'p': break;
    default: return false;
  }
  return kWanted.count(path) > 0;
}

}  // namespace wfrun::serve
