#pragma once
// Checks requests against GitHub's OpenAPI description (@octokit/openapi): the method and
// path must be an operation, path parameters and query parameters must fit their schemas, and
// a JSON body must fit the request body's schema (a subset of JSON Schema: type, nullable,
// enum, required, properties, additionalProperties: false, items, allOf/anyOf/oneOf, $ref).

#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "http/github_client.h"

namespace wfrun::http::testing {

/// GitHub's REST API description, loaded once (13 MB of JSON).
class OpenApiSpec {
 public:
  /// Loads `api.github.com.json`; "" and `why` set when it cannot.
  static const OpenApiSpec* load(const std::string& path, std::string* why);

  /// Problems with one request ("" path prefix already removed); empty when it is valid.
  /// `path_and_query` is `/repos/o/r/pulls?state=open`.
  std::vector<std::string> check(const std::string& method, const std::string& path_and_query,
                                 const std::string& body) const;

  /// Problems with an answer to METHOD `path` (no query): `status` must be one the operation
  /// declares, and a JSON body must fit that response's schema.
  std::vector<std::string> check_response(const std::string& method, const std::string& path,
                                          int status, const std::string& body) const;

  /// `components.examples[name].value` (null when unknown).
  const nlohmann::json& example(const std::string& name) const;
  /// The first JSON request-body example of METHOD TEMPLATE (null when none).
  nlohmann::json request_example(const std::string& method, const std::string& tpl) const;

 private:
  struct Route {
    std::string method;
    std::string tpl;
    std::vector<std::string> segments;
    const nlohmann::json* op;
    std::vector<nlohmann::json> params;
    int literals = 0;
  };
  const Route* match(const std::string& method, const std::string& path,
                     std::vector<std::pair<std::string, std::string>>* path_params,
                     std::string* why) const;
  nlohmann::json deref(const nlohmann::json& j) const;
  void validate(const nlohmann::json& schema, const nlohmann::json& value, const std::string& at,
                std::vector<std::string>& errors, int depth = 0) const;

  nlohmann::json spec_;
  std::vector<Route> routes_;
};

/// Checks every request against the spec. The URL's origin and `strip` (a regex matched at the
/// start of the path, e.g. the fixtures server's `/api.github.com/ID`) are removed first.
/// Requests the client followed from `Link`/`Location` may instead match `allow_followed`
/// (GitHub links to id-based routes such as `/repositories/1000/issues` that the spec lacks).
std::vector<std::string> check_requests(const OpenApiSpec& spec,
                                        const std::vector<SentRequest>& requests,
                                        const std::string& strip = "",
                                        const std::vector<std::string>& allow_followed = {
                                            "^/repositories/[0-9]+/"});

}  // namespace wfrun::http::testing
