#include "http/github_url.h"

#include <cctype>
#include <charconv>

namespace wfrun::http {

std::string Url::origin() const {
  std::string out = scheme + "://";
  out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  const int def = scheme == "https" ? 443 : 80;
  if (port != def) out += ":" + std::to_string(port);
  return out;
}

std::optional<Url> parse_url(std::string_view s) {
  Url u;
  const size_t colon = s.find("://");
  if (colon == std::string_view::npos) return std::nullopt;
  u.scheme = std::string(s.substr(0, colon));
  for (char& c : u.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (u.scheme != "http" && u.scheme != "https") return std::nullopt;
  std::string_view rest = s.substr(colon + 3);
  const size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view target = end == std::string_view::npos ? "" : rest.substr(end);
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);
  }
  std::string_view port;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    u.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      port = authority.substr(close + 2);
    }
  } else {
    const size_t pc = authority.rfind(':');
    u.host = std::string(authority.substr(0, pc));
    if (pc != std::string_view::npos) port = authority.substr(pc + 1);
  }
  if (u.host.empty()) return std::nullopt;
  u.port = u.scheme == "https" ? 443 : 80;
  if (!port.empty()) {
    int p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || ptr != port.data() + port.size() || p <= 0 || p > 65535) {
      return std::nullopt;
    }
    u.port = p;
  }
  if (const size_t hash = target.find('#'); hash != std::string_view::npos) {
    target = target.substr(0, hash);
  }
  u.target = target.empty() || target[0] != '/' ? "/" + std::string(target) : std::string(target);
  return u;
}

namespace {
bool secret_param(std::string_view name);
}  // namespace

std::string redact_url(std::string_view url) {
  auto u = parse_url(url);
  if (!u) return "<invalid URL>";
  const size_t q = u->target.find('?');
  if (q == std::string::npos) return u->str();
  std::string out = u->origin() + u->target.substr(0, q + 1);
  std::string_view query = std::string_view(u->target).substr(q + 1);
  bool first = true;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    const size_t eq = kv.find('=');
    if (!first) out += '&';
    first = false;
    out += std::string(kv.substr(0, eq));
    if (eq != std::string_view::npos) {
      out += secret_param(kv.substr(0, eq)) ? std::string("=***") : std::string(kv.substr(eq));
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return out;
}

namespace {

// Query parameters whose values may be credentials (access_token, client_secret, sig, ...).
bool secret_param(std::string_view name) {
  std::string n(name);
  for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* w : {"token", "secret", "sig", "password", "key", "code", "jwt", "x-amz-"}) {
    if (n.find(w) != std::string::npos) return true;
  }
  return false;
}

std::string encode(std::string_view s, bool keep_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string encode_segment(std::string_view s) { return encode(s, false); }
std::string encode_path(std::string_view s) { return encode(s, true); }
std::string encode_query(std::string_view s) { return encode(s, false); }

std::optional<std::string> link_rel(std::string_view header, std::string_view rel) {
  // <url>; rel="next", <url>; rel="last"
  size_t pos = 0;
  while (pos < header.size()) {
    const size_t lt = header.find('<', pos);
    if (lt == std::string_view::npos) break;
    const size_t gt = header.find('>', lt);
    if (gt == std::string_view::npos) break;
    std::string_view url = header.substr(lt + 1, gt - lt - 1);
    size_t next = header.find('<', gt);
    std::string_view params = header.substr(
        gt + 1, next == std::string_view::npos ? std::string_view::npos : next - gt - 1);
    // rel may hold several space-separated values: rel="next last"
    const size_t r = params.find("rel=");
    if (r != std::string_view::npos) {
      std::string_view v = params.substr(r + 4);
      if (!v.empty() && v[0] == '"') {
        v = v.substr(1, v.find('"', 1) - 1);
      } else {
        v = v.substr(0, v.find_first_of(";, "));
      }
      size_t i = 0;
      while (i <= v.size()) {
        size_t sp = v.find(' ', i);
        if (v.substr(i, sp == std::string_view::npos ? std::string_view::npos : sp - i) == rel) {
          return std::string(url);
        }
        if (sp == std::string_view::npos) break;
        i = sp + 1;
      }
    }
    if (next == std::string_view::npos) break;
    pos = next;
  }
  return std::nullopt;
}

}  // namespace wfrun::http
