#pragma once
// GitHub's OpenAPI description (@octokit/openapi, from `npm ci`), which the serve tests check
// every request and answer against, and whether its absence fails a test or skips it.

#include <cstdlib>
#include <string>

#include "tests/http/openapi_check.h"

namespace wfrun::serve::testing {

/// Loaded once; null when node_modules has none.
inline const wfrun::http::testing::OpenApiSpec* github_openapi() {
  static std::string why;
  static const auto* s = wfrun::http::testing::OpenApiSpec::load(
      std::string(WFRUN_SOURCE_DIR) + "/node_modules/@octokit/openapi/generated/api.github.com.json",
      &why);
  return s;
}

/// WFRUN_REQUIRE_NPM=1 (CI): a test that needs npm's packages fails without them.
inline bool npm_required() {
  const char* v = std::getenv("WFRUN_REQUIRE_NPM");
  return v && std::string(v) == "1";
}

}  // namespace wfrun::serve::testing
