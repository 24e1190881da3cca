#pragma once
// URL helpers for the GitHub client: splitting, joining, percent-encoding, Link headers and
// redaction for logs.

#include <optional>
#include <string>
#include <string_view>

namespace wfrun::http {

/// A parsed absolute http(s) URL. `target` is the path plus query (`/a/b?x=1`, "/" at least).
struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets or port
  int port = 0;        // explicit or the scheme's default
  std::string target;

  /// `scheme://host[:port]` (the port only when it is not the default), what httplib wants.
  std::string origin() const;
  std::string str() const { return origin() + target; }
};

/// Parses `http(s)://[user[:pass]@]host[:port][/path][?query]`; userinfo is dropped.
std::optional<Url> parse_url(std::string_view url);

/// A URL safe for logs and errors: no userinfo, and the values of query parameters that
/// may hold credentials masked (`?access_token=***&page=2`).
std::string redact_url(std::string_view url);

/// Percent-encodes one path segment (everything but RFC 3986 unreserved characters).
std::string encode_segment(std::string_view s);
/// Percent-encodes a path, keeping `/` (for file paths in `contents/PATH`).
std::string encode_path(std::string_view s);
/// Percent-encodes a query value.
std::string encode_query(std::string_view s);

/// The URL of `rel="REL"` in an RFC 8288 `Link` header, or nullopt.
std::optional<std::string> link_rel(std::string_view link_header, std::string_view rel);

}  // namespace wfrun::http
