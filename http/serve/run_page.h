#pragma once
// The run link of `wfrun serve`: commit statuses point at PUBLIC_URL/runs/ID?key=K, a
// capability link that a GitHub user can open without an API token. K is derived from a
// server secret, so it cannot be guessed, and it opens one run's read-only page (the dashboard's,
// http/dashboard) and logs only.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"
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
/// A server with neither a links nor a webhook secret (every repository polls) keys its links
/// with STATE_DIR/serve/link-secret: 32 random bytes made at the first start (mode 0600), so that the
/// links stay valid across restarts. Sets `config.link_secret` from it; any other config is
/// left as it is.
Status keep_link_secret(ServerConfig& config, const std::string& state_dir);

}  // namespace wfrun::serve
