#pragma once
// GitHub App authentication: the RS256 JWT an App signs with its private key (OpenSSL), and
// the base64 helpers it needs. The installation-token exchange and its cache live in
// GithubClient (github_client.cc).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace wfrun::http {

/// An App JWT: `{"alg":"RS256","typ":"JWT"}` . `{"iat":now-60,"exp":now+540,"iss":APP_ID}`,
/// signed with the PEM RSA key. iat is back-dated 60 s for clock drift; exp stays under
/// GitHub's 10-minute maximum. A bad key is `cannot read the GitHub App private key: ...`.
Result<std::string> make_app_jwt(const std::string& app_id, const std::string& private_key_pem,
                                 std::chrono::system_clock::time_point now);

std::string base64_encode(std::string_view data);
std::string base64url_encode(std::string_view data);  // no padding (JWT)
/// Decodes base64 (standard or URL alphabet, padding and newlines optional).
Result<std::string> base64_decode(std::string_view text);

/// Parses GitHub's `2024-01-02T03:04:05Z` (UTC); nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> parse_github_time(std::string_view s);
/// Formats as `2024-01-02T03:04:05Z`.
std::string format_github_time(std::chrono::system_clock::time_point t);

}  // namespace wfrun::http
