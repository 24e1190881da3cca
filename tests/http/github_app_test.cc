// The App JWT, checked with OpenSSL against a key made for the test.
#include "http/github_app.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <nlohmann/json.hpp>

#include "base/fd.h"
#include "base/strings.h"

namespace wfrun::http {
namespace {

using Key = Handle<EVP_PKEY, EVP_PKEY_free>;

std::string pem_of(EVP_PKEY* key) {
  Handle<BIO, BIO_free_all> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

TEST(GithubApp, SignsAVerifiableRs256Jwt) {
  Key key(EVP_RSA_gen(2048));
  ASSERT_TRUE(key);
  const auto now = std::chrono::system_clock::from_time_t(1700000000);
  auto jwt = make_app_jwt("12345", pem_of(key.get()), now);
  ASSERT_TRUE(jwt) << jwt.error().str();
  const auto parts = split(*jwt, '.');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(*base64_decode(parts[0]), R"({"alg":"RS256","typ":"JWT"})");
  EXPECT_EQ(*base64_decode(parts[1]), R"({"iat":1699999940,"exp":1700000540,"iss":12345})");
  EXPECT_EQ(parts[2].find_first_of("+/="), std::string::npos);  // base64url, no padding

  const std::string input = parts[0] + "." + parts[1];
  const std::string sig = *base64_decode(parts[2]);
  Handle<EVP_MD_CTX, EVP_MD_CTX_free> ctx(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()), 1);
  EXPECT_EQ(
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()),
      1);
}

TEST(GithubApp, ClientIdIsAStringIssuer) {
  Key key(EVP_RSA_gen(2048));
  auto jwt =
      make_app_jwt("Iv1.abc", pem_of(key.get()), std::chrono::system_clock::from_time_t(100));
  ASSERT_TRUE(jwt);
  EXPECT_EQ(*base64_decode(split(*jwt, '.')[1]), R"({"iat":40,"exp":640,"iss":"Iv1.abc"})");
}

TEST(GithubApp, BadKeysAreErrorsThatNameTheKey) {
  auto jwt = make_app_jwt("1", "not a key", std::chrono::system_clock::now());
  ASSERT_FALSE(jwt);
  EXPECT_TRUE(starts_with(jwt.error().message(), "cannot read the GitHub App private key: "))
      << jwt.error().message();
  Key ec(EVP_EC_gen("P-256"));
  jwt = make_app_jwt("1", pem_of(ec.get()), std::chrono::system_clock::now());
  ASSERT_FALSE(jwt);
  EXPECT_EQ(jwt.error().message(), "cannot read the GitHub App private key: not an RSA key");
}

TEST(GithubApp, Base64AndTimes) {
  EXPECT_EQ(base64_encode("Test content"), "VGVzdCBjb250ZW50");
  EXPECT_EQ(base64_encode("ab"), "YWI=");
  EXPECT_EQ(*base64_decode("YWI="), "ab");
  EXPECT_EQ(*base64_decode("VGVz\ndCBj\nb250ZW50\n"), "Test content");
  // RFC 4648's vectors, both ways; base64url without padding decodes too.
  const char* const kPlain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char* const kCoded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(base64_encode(kPlain[i]), kCoded[i]);
    EXPECT_EQ(*base64_decode(kCoded[i]), kPlain[i]);
  }
  const std::string bytes("\xfb\xff\x00\xfe", 4);
  EXPECT_EQ(base64_encode(bytes), "+/8A/g==");
  EXPECT_EQ(base64url_encode(bytes), "-_8A_g");
  EXPECT_EQ(*base64_decode("-_8A_g"), bytes);
  EXPECT_FALSE(base64_decode("Zm9v!"));
  EXPECT_FALSE(base64_decode("Zm9vY"));
  auto t = parse_github_time("2016-07-11T22:14:10Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(std::chrono::system_clock::to_time_t(*t), 1468275250);
  EXPECT_EQ(format_github_time(*t), "2016-07-11T22:14:10Z");
  EXPECT_FALSE(parse_github_time("yesterday"));
}

}  // namespace
}  // namespace wfrun::http
