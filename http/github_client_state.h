#pragma once
// Inside the GitHub client: the state github_client.cc (requests, redirects, pages),
// github_retry.cc (retries, rate limits) and github_auth.cc (tokens, App installation tokens)
// share. Only those files include it.

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "http/github_client.h"

namespace wfrun::http {

struct GithubClient::State {
  std::shared_ptr<Transport> transport;
  std::mt19937_64 rng{std::random_device{}()};
  std::string installation_token;
  std::chrono::system_clock::time_point installation_expires{};
  std::int64_t installation_id = 0;
  std::vector<std::string> origins;  // where the client may send its credentials
  std::string base;                  // base URL without a trailing slash
};

}  // namespace wfrun::http
