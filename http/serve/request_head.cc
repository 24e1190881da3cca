#include "http/serve/request_head.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>

namespace wfrun::serve {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool token_char(unsigned char c) {
  return std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

const char* reason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

}  // namespace

std::string plain_answer(int status, const std::string& json_body) {
  const std::string body = json_body + "\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + reason(status) +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

std::string error_json(const std::string& what) {
  std::string out = "{\"error\":\"";
  for (char c : what) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"}";
}

std::string RequestHead::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return "";
}

int parse_request_head(std::string_view text, RequestHead& h, std::string& head_bytes,
                       bool& expect_continue, std::string* why) {
  std::string peer = std::move(h.peer);
  h = RequestHead();
  h.peer = std::move(peer);
  expect_continue = false;
  size_t eol = text.find("\r\n");
  const std::string_view line = text.substr(0, eol);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    *why = "malformed request line";
    return 400;
  }
  h.method = std::string(line.substr(0, sp1));
  h.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  const std::string_view version = line.substr(sp2 + 1);
  if (h.method.empty() || !std::all_of(h.method.begin(), h.method.end(), [](char ch) { return token_char(ch); })) {
    *why = "malformed request line";
    return 400;
  }
  if (h.target.empty() || h.target.size() > 8192 ||
      !std::all_of(h.target.begin(), h.target.end(), [](char ch) {
        return static_cast<unsigned char>(ch) > 0x20 && static_cast<unsigned char>(ch) < 0x7f;
      })) {
    *why = "malformed request target";
    return 400;
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    *why = "only HTTP/1.0 and HTTP/1.1 are served";
    return version.substr(0, 5) == "HTTP/" ? 505 : 400;
  }
  h.path = h.target.substr(0, h.target.find('?'));
  std::string rebuilt(line);
  rebuilt += "\r\n";
  bool have_length = false, have_encoding = false;
  std::string length;
  size_t at = eol + 2;
  while (at < text.size()) {
    eol = text.find("\r\n", at);
    const std::string_view hl = text.substr(at, eol - at);
    at = eol + 2;
    if (hl.empty()) break;
    if (hl[0] == ' ' || hl[0] == '\t') {
      *why = "folded header lines are not accepted";
      return 400;
    }
    const size_t colon = hl.find(':');
    if (colon == 0 || colon == std::string_view::npos ||
        !std::all_of(hl.begin(), hl.begin() + static_cast<long>(colon), [](char ch) { return token_char(ch); })) {
      *why = "malformed header line";
      return 400;
    }
    std::string_view value = hl.substr(colon + 1);
    for (unsigned char ch : value)
      if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
        *why = "header " + std::string(hl.substr(0, colon)) + ": control characters are not accepted";
        return 400;
      }
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    std::string name(hl.substr(0, colon));
    if (iequals(name, "Content-Length")) {
      if (value.empty() || value.size() > 15 ||
          !std::all_of(value.begin(), value.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) ||
          (have_length && value != length)) {
        *why = "Content-Length: expected one whole number";
        return 400;
      }
      have_length = true;
      length = std::string(value);
    } else if (iequals(name, "Transfer-Encoding")) {
      have_encoding = true;
    } else if (iequals(name, "Content-Encoding")) {
      if (!iequals(value, "identity")) {
        *why = "Content-Encoding: send the body unencoded";
        return 415;
      }
    } else if (iequals(name, "Expect")) {
      if (iequals(value, "100-continue")) expect_continue = true;
      continue;  // answered here (below), not by httplib
    }
    rebuilt.append(hl).append("\r\n");
    h.headers.emplace_back(std::move(name), std::string(value));
  }
  if (have_encoding) {
    // Both: the request-smuggling shape (a proxy and we could disagree on where it ends).
    *why = have_length ? "Content-Length and Transfer-Encoding together are not accepted"
                       : "send the body with a Content-Length";
    return have_length ? 400 : 411;
  }
  h.content_length = have_length ? std::stoull(length) : 0;
  rebuilt += "\r\n";
  head_bytes = std::move(rebuilt);
  return 0;
}

}  // namespace wfrun::serve
