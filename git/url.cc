// URL credential handling: what may be shown, and what goes to the credentials callback.

#include <cctype>
#include <cstdlib>
#include <string>

#include "git/lg2.h"

namespace wfrun::git {

namespace {

struct UrlParts {
  bool has_userinfo = false;
  std::string scheme;    // "https", "ssh", ...
  std::string user;      // percent-decoded
  std::string password;  // percent-decoded
  std::string clean;     // the URL without the userinfo (ssh keeps the user)
};

std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::strtol(s.substr(i + 1, 2).c_str(), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

UrlParts split_url(const std::string& url) {
  UrlParts p;
  p.clean = url;
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return p;  // a path or scp-like `git@host:x`
  p.scheme = url.substr(0, scheme_end);
  size_t auth_start = scheme_end + 3;
  size_t auth_end = url.find_first_of("/?#", auth_start);
  if (auth_end == std::string::npos) auth_end = url.size();
  // The last '@' before the path: passwords may contain '@' when not percent-encoded.
  size_t at = url.rfind('@', auth_end);
  if (at == std::string::npos || at < auth_start) return p;
  std::string userinfo = url.substr(auth_start, at - auth_start);
  p.has_userinfo = true;
  size_t colon = userinfo.find(':');
  p.user = percent_decode(userinfo.substr(0, colon));
  if (colon != std::string::npos) p.password = percent_decode(userinfo.substr(colon + 1));
  std::string keep;
  // An ssh user name is not a secret and selects the account ("git@"): keep it.
  if (p.scheme == "ssh" || p.scheme == "git+ssh" || p.scheme == "ssh+git")
    keep = userinfo.substr(0, colon) + "@";
  p.clean = url.substr(0, auth_start) + keep + url.substr(at + 1);
  return p;
}

}  // namespace

Credentials Credentials::from_token(std::string token) {
  Credentials c;
  c.username = "x-access-token";
  c.token = std::move(token);
  return c;
}

RemoteOptions RemoteOptions::from_env() {
  RemoteOptions o;
  if (const char* t = std::getenv("GITHUB_TOKEN"); t && *t) o.creds = Credentials::from_token(t);
  if (const char* ca = std::getenv("WFRUN_CA_FILE"); ca && *ca) o.ca_file = ca;
  return o;
}

std::string redact_url(const std::string& url) { return split_url(url).clean; }

namespace lg2 {

std::string take_url_credentials(const std::string& url, Credentials& creds) {
  UrlParts p = split_url(url);
  if (!p.has_userinfo) return url;
  bool ssh = p.clean.find('@') != std::string::npos && p.scheme.find("ssh") != std::string::npos;
  if (creds.token.empty() && !ssh) {
    if (!p.password.empty()) {
      creds.username = p.user;
      creds.token = p.password;
    } else if (!p.user.empty()) {
      creds = Credentials::from_token(p.user);  // https://TOKEN@host/...
    }
  } else if (ssh && creds.username.empty()) {
    creds.username = p.user;
  }
  return p.clean;
}

}  // namespace lg2
}  // namespace wfrun::git
