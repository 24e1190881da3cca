#pragma once
// Who may see the dashboard: one-time login tokens swapped for an HttpOnly, SameSite cookie,
// the CSRF token of each session, and the Host and Origin checks (DNS rebinding, cross-site
// requests). See docs/dashboard.md, "Access".

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/dashboard/http.h"

namespace wfrun::dashboard {

inline constexpr const char* kSessionCookie = "wfrun_session";

/// 32 random bytes from OpenSSL, as 64 hex digits.
std::string random_token();

/// Browser sessions and one-time login tokens, in memory (a restart signs everyone out).
/// Thread-safe.
class Sessions {
 public:
  struct Session {
    std::string id;    // the cookie's value
    std::string csrf;  // sent back in X-CSRF-Token on every change
    double last_used = 0;
  };

  /// A new one-time login token (`wfrun ui` prints it in its URL).
  std::string new_login_token();
  /// True (and the token is used up) when `token` is an unused login token.
  bool use_login_token(std::string_view token);
  Session create();
  /// The session with this cookie value, if it exists and was used in the last 30 days.
  std::optional<Session> find(std::string_view id);
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> login_tokens_;
  std::map<std::string, Session, std::less<>> sessions_;
};

/// `wfrun_session=ID; HttpOnly; SameSite=Strict; Path=/` (+ `; Secure` under TLS).
std::string session_cookie(const std::string& id, bool secure);
/// The value of cookie `name` in the request's Cookie header, or "".
std::string cookie_value(const Request& req, std::string_view name);

/// The Host header's host part in lower case, without the port ("[::1]" keeps its brackets).
std::string request_host(const Request& req);
/// True when the request's Host is one of `allowed` (lower-case host names, no ports).
bool host_allowed(const Request& req, const std::vector<std::string>& allowed);
/// True when a state-changing request comes from our own pages: its Origin is this server's
/// origin (scheme://Host), or, without an Origin, Sec-Fetch-Site says same-origin.
bool same_origin(const Request& req);

}  // namespace wfrun::dashboard
