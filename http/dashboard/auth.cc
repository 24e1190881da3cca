#include "http/dashboard/auth.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "base/strings.h"

namespace wfrun::dashboard {

namespace {

constexpr double kSessionIdleSeconds = 30 * 24 * 3600.0;
constexpr size_t kMaxSessions = 1000;
constexpr size_t kMaxLoginTokens = 16;

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

bool equal_ct(std::string_view a, std::string_view b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string random_token() {
  unsigned char buf[32];
  if (RAND_bytes(buf, sizeof buf) != 1) throw std::runtime_error("no random bytes from OpenSSL");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : buf) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

std::string Sessions::new_login_token() {
  std::string t = random_token();
  std::lock_guard lock(mu_);
  login_tokens_.push_back(t);
  if (login_tokens_.size() > kMaxLoginTokens) login_tokens_.erase(login_tokens_.begin());
  return t;
}

bool Sessions::use_login_token(std::string_view token) {
  std::lock_guard lock(mu_);
  for (auto it = login_tokens_.begin(); it != login_tokens_.end(); ++it) {
    if (equal_ct(*it, token)) {
      login_tokens_.erase(it);
      return true;
    }
  }
  return false;
}

Sessions::Session Sessions::create() {
  Session s{random_token(), random_token(), now_seconds()};
  std::lock_guard lock(mu_);
  if (sessions_.size() >= kMaxSessions) {
    // The least recently used one goes.
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    sessions_.erase(oldest);
  }
  sessions_[s.id] = s;
  return s;
}

std::optional<Sessions::Session> Sessions::find(std::string_view id) {
  if (id.size() != 64) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  // The map lookup compares early bytes in variable time, but a session id is 256 random bits:
  // learning a prefix through timing does not help guess the rest.
  if (it == sessions_.end()) return std::nullopt;
  const double now = now_seconds();
  if (now - it->second.last_used > kSessionIdleSeconds) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_used = now;
  return it->second;
}

size_t Sessions::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

std::string session_cookie(const std::string& id, bool secure) {
  return std::string(kSessionCookie) + "=" + id + "; HttpOnly; SameSite=Strict; Path=/" +
         (secure ? "; Secure" : "");
}

std::string cookie_value(const Request& req, std::string_view name) {
  for (const auto& part : split(req.header("cookie"), ';')) {
    std::string_view p = trim(part);
    size_t eq = p.find('=');
    if (eq == std::string_view::npos) continue;
    if (trim(p.substr(0, eq)) == name) return std::string(trim(p.substr(eq + 1)));
  }
  return "";
}

std::string request_host(const Request& req) {
  std::string h = lower(std::string(trim(req.header("host"))));
  if (!h.empty() && h[0] == '[') {
    size_t end = h.find(']');
    return end == std::string::npos ? "" : h.substr(0, end + 1);
  }
  size_t colon = h.find(':');
  return colon == std::string::npos ? h : h.substr(0, colon);
}

bool host_allowed(const Request& req, const std::vector<std::string>& allowed) {
  const std::string h = request_host(req);
  if (h.empty()) return false;
  return std::find(allowed.begin(), allowed.end(), h) != allowed.end();
}

bool same_origin(const Request& req) {
  const std::string origin = req.header("origin");
  if (!origin.empty()) {
    const std::string host = std::string(trim(req.header("host")));
    return !host.empty() && lower(origin) == lower((req.tls ? "https://" : "http://") + host);
  }
  return req.header("sec-fetch-site") == "same-origin";
}

}  // namespace wfrun::dashboard
