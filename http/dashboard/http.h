#pragma once
// The dashboard's requests and responses as plain structs, so its handlers can be tested
// without a socket; mount.h adapts them to cpp-httplib.

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wfrun::dashboard {

struct Request {
  std::string method = "GET";
  std::string path;                           // decoded, without the query
  std::map<std::string, std::string> params;  // the query (the first value of each name)
  std::map<std::string, std::string> headers; // names in lower case
  std::string body;
  bool tls = false;

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
  std::string param(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? "" : it->second;
  }
  bool has_param(const std::string& name) const { return params.count(name) > 0; }
};

/// Where a streamed response writes; write() returns false once the client is gone.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual bool write(std::string_view data) = 0;
  /// False once the server can tell the client went away (it closed its side), before any
  /// write fails: a page left behind gives its stream slot back within a poll, not at the next
  /// heartbeat.
  virtual bool alive() { return true; }
};

struct Response {
  int status = 200;
  std::string type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  /// Set for a streamed body (server-sent events, big files): called once, on the server's
  /// worker thread; it writes until done and returns.
  std::function<void(StreamSink&)> stream;
  /// The streamed body's length when known (sent as Content-Length), else -1 (chunked).
  long long stream_length = -1;
  /// The body is gzip-compressed (embedded assets): sent with Content-Encoding: gzip.
  bool gzip = false;

  void header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
};

/// A JSON response; strings that are not UTF-8 are repaired, never thrown on.
Response json_response(int status, const nlohmann::json& body);
/// {"error": message}
Response error_response(int status, const std::string& message);

}  // namespace wfrun::dashboard
