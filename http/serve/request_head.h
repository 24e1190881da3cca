#pragma once
// A request's head as `wfrun serve`'s front end reads it from the socket, checked on the raw
// bytes before cpp-httplib decodes anything (see front_end.h), and the answers the front end
// writes itself. No httplib here: the checks can be tested and fuzzed on their own.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wfrun::serve {

/// A request's head as read from the socket (before httplib's decoding).
struct RequestHead {
  std::string method;
  std::string target;  // as sent: /path?query
  std::string path;    // target up to '?'
  std::vector<std::pair<std::string, std::string>> headers;
  std::string peer;  // the client's address
  std::uint64_t content_length = 0;

  /// The first value of header `name` (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

/// Reads `text` (the request line and headers, through the blank line) into `head` (its `peer`
/// is kept) and `head_bytes` (the head as httplib is to read it: without Expect), and sets
/// `expect_continue`. Returns 0, or the status to refuse the request with and `*why`: a
/// malformed line, a control byte or NUL in a header, Content-Length with Transfer-Encoding
/// (the request-smuggling shape, 400), Transfer-Encoding alone (411), two different lengths
/// (400), a Content-Encoding (415), a version other than HTTP/1.0 or 1.1 (505).
int parse_request_head(std::string_view text, RequestHead& head, std::string& head_bytes,
                       bool& expect_continue, std::string* why);

/// A whole answer the front end sends itself, with `Connection: close`.
std::string plain_answer(int status, const std::string& json_body);

/// {"error": what}, for texts the front end writes itself (ASCII).
std::string error_json(const std::string& what);

}  // namespace wfrun::serve
