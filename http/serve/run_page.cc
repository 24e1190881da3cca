#include "http/serve/run_page.h"

#include "http/serve/signature.h"

namespace wfrun::serve {

namespace {

constexpr size_t kKeyHexDigits = 32;  // 128 bits

const std::string& link_secret(const ServerConfig& c) {
  return c.link_secret.empty() ? c.webhook_secret : c.link_secret;
}

}  // namespace

std::string run_key(const ServerConfig& config, std::int64_t id) {
  return hmac_sha256_hex(link_secret(config), "run:" + std::to_string(id)).substr(0, kKeyHexDigits);
}

std::string run_link(const ServerConfig& config, std::int64_t id) {
  return config.base_url() + "/runs/" + std::to_string(id) + "?key=" + run_key(config, id);
}

bool run_key_ok(const ServerConfig& config, std::int64_t id, std::string_view key) {
  if (link_secret(config).empty() || key.size() != kKeyHexDigits) return false;
  return constant_time_equal(run_key(config, id), key);
}

std::string with_run_key(const ServerConfig& config, std::int64_t run_id, const std::string& url) {
  const std::string tail = "/runs/" + std::to_string(run_id);
  if (url.find('?') != std::string::npos || url.size() < tail.size() ||
      url.compare(url.size() - tail.size(), tail.size(), tail) != 0)
    return url;
  return url + "?key=" + run_key(config, run_id);
}

}  // namespace wfrun::serve
