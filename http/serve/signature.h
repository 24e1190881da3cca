#pragma once
// Webhook signatures: GitHub's X-Hub-Signature-256 (HMAC-SHA256 of the raw body, hex) and
// constant-time comparison (OpenSSL's CRYPTO_memcmp).

#include <memory>
#include <string>
#include <string_view>

namespace wfrun::serve {

/// Lower-case hex of HMAC-SHA256(key, data).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

/// HMAC-SHA256 over data that arrives in pieces (a body as it is read).
class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;
  void update(std::string_view data);
  /// Lower-case hex of the MAC of everything given; once.
  std::string hex();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// True when `header` has the shape of a signature: `sha256=` and 64 hex digits.
bool signature_shaped(std::string_view header);

/// True when `header` is `sha256=` followed by `mac_hex` (as hmac_sha256_hex gives it).
/// Compares in constant time; any other shape (missing, sha1=, wrong length) is false.
bool signature_matches(std::string_view mac_hex, std::string_view header);

/// True when `header` is `sha256=` followed by the HMAC of `body` under `secret`.
bool verify_signature(std::string_view secret, std::string_view body, std::string_view header);

/// Equal contents, in time that depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace wfrun::serve
