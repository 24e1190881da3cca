#include "http/serve/signature.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cctype>

#include "base/fd.h"  // Handle

namespace wfrun::serve {

namespace {

std::string to_hex(const unsigned char* mac, size_t len) {
  static const char* const kHex = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (size_t i = 0; i < len; ++i) {
    out[2 * i] = kHex[mac[i] >> 4];
    out[2 * i + 1] = kHex[mac[i] & 15];
  }
  return out;
}

}  // namespace

struct HmacSha256::Impl {
  Handle<EVP_MAC, EVP_MAC_free> mac;
  Handle<EVP_MAC_CTX, EVP_MAC_CTX_free> ctx;
};

HmacSha256::HmacSha256(std::string_view key) : impl_(std::make_unique<Impl>()) {
  impl_->mac.reset(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (impl_->mac) impl_->ctx.reset(EVP_MAC_CTX_new(impl_->mac.get()));
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  // An empty key is valid for HMAC; OpenSSL wants a non-null pointer for it.
  static const unsigned char kEmpty = 0;
  const auto* k = key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  // Should OpenSSL fail here, hex() gives "" and no signature matches (fails closed).
  if (impl_->ctx && EVP_MAC_init(impl_->ctx.get(), k, key.size(), params) != 1) impl_->ctx.reset();
}

HmacSha256::~HmacSha256() = default;

void HmacSha256::update(std::string_view data) {
  if (impl_->ctx) EVP_MAC_update(impl_->ctx.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size());
}

std::string HmacSha256::hex() {
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t len = 0;
  if (!impl_->ctx || EVP_MAC_final(impl_->ctx.get(), mac, &len, sizeof mac) != 1) return "";
  impl_->ctx.reset();
  return to_hex(mac, len);
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  HmacSha256 h(key);
  h.update(data);
  return h.hex();
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool signature_shaped(std::string_view header) {
  constexpr std::string_view kPrefix = "sha256=";
  if (header.size() != kPrefix.size() + 64 || header.substr(0, kPrefix.size()) != kPrefix)
    return false;
  for (char c : header.substr(kPrefix.size()))
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

bool signature_matches(std::string_view mac_hex, std::string_view header) {
  if (!signature_shaped(header)) return false;
  // GitHub sends lower-case hex; accept upper case from other senders.
  std::string got(header.substr(7));
  for (char& c : got)
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  return constant_time_equal(mac_hex, got);
}

bool verify_signature(std::string_view secret, std::string_view body, std::string_view header) {
  if (!signature_shaped(header)) return false;
  return signature_matches(hmac_sha256_hex(secret, body), header);
}

}  // namespace wfrun::serve
