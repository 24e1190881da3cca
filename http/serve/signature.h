#pragma once
// Webhook signatures: GitHub's X-Hub-Signature-256 (HMAC-SHA256 of the raw body, hex) and
// constant-time comparison (OpenSSL's CRYPTO_memcmp).

#include <string>
#include <string_view>

namespace wfrun::serve {

/// Lower-case hex of HMAC-SHA256(key, data).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

/// True when `header` is `sha256=` followed by the HMAC of `body` under `secret`. Compares in
/// constant time; any other shape (missing, sha1=, wrong length) is false.
bool verify_signature(std::string_view secret, std::string_view body, std::string_view header);

/// Equal contents, in time that depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace wfrun::serve
