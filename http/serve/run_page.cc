#include "http/serve/run_page.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/fd.h"
#include "base/strings.h"
#include "engine/fs.h"
#include "http/dashboard/auth.h"
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

Status keep_link_secret(ServerConfig& config, const std::string& state_dir) {
  if (!config.link_secret.empty() || !config.webhook_secret.empty()) return {};
  const std::string dir = state_dir + "/serve", path = dir + "/link-secret";
  if (auto s = engine::make_dirs(dir); !s) return s;
  if (!engine::exists(path)) {
    // Written whole to a file of its own (0600 before a byte is in it), then linked in: a
    // second server starting at the same moment reads one whole key, the first one's.
    std::string key;
    try {
      key = dashboard::random_token();
    } catch (const std::exception& e) {
      return Error(std::string("cannot make the run links' key: ") + e.what());
    }
    const std::string tmp = path + ".new." + std::to_string(::getpid());
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    const bool written = fd && engine::write_all(fd.get(), key.data(), key.size());
    const int err = errno;
    fd.reset();
    if (!written || (::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST)) {
      const int e = written ? errno : err;
      (void)::unlink(tmp.c_str());
      return Error(path + ": cannot write the run links' key: " + std::strerror(e));
    }
    (void)::unlink(tmp.c_str());
  }
  auto key = engine::read_file(path, 4096);
  if (!key) return key.error();
  std::string k(trim(*key));
  if (k.size() < kKeyHexDigits)
    return Error(path + ": the run links' key is too short; remove the file and start again "
                 "(links made before then stop working)");
  config.link_secret = std::move(k);
  return {};
}

}  // namespace wfrun::serve
