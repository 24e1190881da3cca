#include "http/github_app.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "base/fd.h"  // Handle

namespace wfrun::http {

namespace {

std::string openssl_reason() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(std::max(n, 0)));
  return out;
}

std::string base64url_encode(std::string_view data) {
  std::string s = base64_encode(data);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return s;
}

Result<std::string> base64_decode(std::string_view text) {
  // EVP_DecodeBlock takes the standard alphabet in whole, padded quads: map base64url onto it,
  // drop line breaks and spaces, and pad again.
  std::string in;
  in.reserve(text.size() + 3);
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == ' ' || c == '=') continue;
    in += c == '-' ? '+' : c == '_' ? '/' : c;
  }
  if (in.size() % 4 == 1) return Error("invalid base64");
  const size_t pad = (4 - in.size() % 4) % 4;
  in.append(pad, '=');
  std::string out(in.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) return Error("invalid base64");
  out.resize(static_cast<size_t>(n) - pad);  // EVP_DecodeBlock counts the padding as zero bytes
  return out;
}

std::optional<std::chrono::system_clock::time_point> parse_github_time(std::string_view s) {
  std::tm tm{};
  char z = 0;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z) != 7 ||
      z != 'Z') {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const time_t t = timegm(&tm);
  if (t == -1) return std::nullopt;
  return std::chrono::system_clock::from_time_t(t);
}

std::string format_github_time(std::chrono::system_clock::time_point t) {
  const time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<std::string> make_app_jwt(const std::string& app_id, const std::string& pem,
                                 std::chrono::system_clock::time_point now) {
  if (app_id.empty()) return Error("the GitHub App id is empty");
  Handle<BIO, BIO_free_all> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Error("cannot read the GitHub App private key: " + openssl_reason());
  Handle<EVP_PKEY, EVP_PKEY_free> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return Error("cannot read the GitHub App private key: " + openssl_reason() +
                 " (expected the PEM file GitHub generated for the App)");
  }
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
    return Error("cannot read the GitHub App private key: not an RSA key");
  }
  const auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  nlohmann::ordered_json payload;
  payload["iat"] = secs - 60;
  payload["exp"] = secs + 540;
  // GitHub accepts the numeric App id (as a number) or the client id (a string).
  const bool numeric = app_id.find_first_not_of("0123456789") == std::string::npos;
  if (numeric) {
    payload["iss"] = std::stoll(app_id);
  } else {
    payload["iss"] = app_id;
  }
  const std::string signing_input =
      base64url_encode(nlohmann::ordered_json{{"alg", "RS256"}, {"typ", "JWT"}}.dump()) + "." +
      base64url_encode(payload.dump());

  Handle<EVP_MD_CTX, EVP_MD_CTX_free> ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return Error("signing the GitHub App JWT: " + openssl_reason());
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return Error("signing the GitHub App JWT: " + openssl_reason());
  }
  sig.resize(len);
  return signing_input + "." + base64url_encode(sig);
}

}  // namespace wfrun::http
