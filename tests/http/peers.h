#pragma once
// Test peers from npm (see docs/github.md, "Tests"): @octokit/fixtures-server replaying
// recorded GitHub API exchanges (adapted to today's headers) plus scenarios built from
// GitHub's OpenAPI examples, and the OpenAPI description every request is checked against.
// Missing node or node_modules skips the tests, unless WFRUN_REQUIRE_NPM=1.

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "base/error.h"
#include "http/github_report.h"
#include "tests/http/openapi_check.h"

namespace wfrun::http::testing {

/// The running fixtures server and the loaded spec, started once per test process.
struct Peers {
  std::string skip_reason;  // non-empty: node or the modules are missing
  std::string failure;      // non-empty: they are there, but the server did not start
  std::string node_modules;
  const OpenApiSpec* spec = nullptr;
  int port = 0;
  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port); }
};

const Peers& peers();
/// Skips (or fails under WFRUN_REQUIRE_NPM=1) when the peers are missing.
#define REQUIRE_PEERS()                                                     \
  do {                                                                      \
    const auto& p_ = ::wfrun::http::testing::peers();                       \
    if (!p_.failure.empty()) FAIL() << p_.failure;                          \
    if (!p_.skip_reason.empty()) {                                          \
      if (::wfrun::http::testing::npm_required()) FAIL() << p_.skip_reason; \
      GTEST_SKIP() << p_.skip_reason;                                       \
    }                                                                       \
  } while (0)
bool npm_required();

/// Loads a scenario; returns its base URL (`http://127.0.0.1:P/api.github.com/ID`).
Result<std::string> load_scenario(const std::string& name);
/// Ok when every request of the scenario was made; else the pending ones.
Result<void> scenario_done(const std::string& base_url);

/// The fixtures server's rewrite of `https://HOST/REST` in a scenario at `base_url`
/// (`http://127.0.0.1:P/HOST/ID/REST`): what a client sees of a URL in a response.
std::string rewritten(const std::string& base_url, const std::string& url);

/// The run the report scenarios expect (the same value builds the fixture and the request).
RunReport sample_run();
RunReport sample_start_run();  // the same run as it starts
/// 2016-07-11T21:14:10Z: an hour before the OpenAPI example installation token expires.
std::chrono::system_clock::time_point example_now();

/// An RSA key (PEM) made once per process, for App authentication in tests.
std::string test_private_key_pem();

/// The custom scenarios (from OpenAPI examples, plus synthetic rate limits), by name.
nlohmann::json custom_scenarios(const OpenApiSpec& spec);
/// A stock @octokit/fixtures scenario adapted to wfrun's headers (Bearer, vnd.github+json).
nlohmann::json adapt_stock_scenario(const nlohmann::json& fixture, const std::string& name);

}  // namespace wfrun::http::testing
