#pragma once
// The run link of `wfrun serve`: commit statuses point at PUBLIC_URL/runs/ID?key=K, a
// capability link that a GitHub user can open without an API token. K is derived from a
// server secret, so it cannot be guessed, and it opens one run's read-only page (the dashboard's,
// http/dashboard) and logs only.

#include <cstdint>
#include <string>
#include <string_view>

#include "http/serve/config.h"

namespace wfrun::serve {

/// Run `id`'s key: the first 32 hex digits of HMAC-SHA256(links secret, or the webhook secret
/// when none is set, "run:ID").
std::string run_key(const ServerConfig& config, std::int64_t id);
/// BASE/runs/ID?key=K: the link commit statuses and run reports carry.
std::string run_link(const ServerConfig& config, std::int64_t id);
/// True when `key` is run `id`'s key (compared in constant time).
bool run_key_ok(const ServerConfig& config, std::int64_t id, std::string_view key);
/// `url` with run `run_id`'s key added when it is that run's plain link (`.../runs/ID`, no
/// query); any other URL is returned as it is.
std::string with_run_key(const ServerConfig& config, std::int64_t run_id, const std::string& url);

}  // namespace wfrun::serve
