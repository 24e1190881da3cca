// Secrets masking: the value as written, its base64 forms at every alignment, URL-encoded.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/strings.h"

namespace wfrun {
namespace {

// base64 from coreutils, so the encoder under test is not its own oracle.
std::string coreutils_base64(const std::string& data, bool url_safe) {
  char path[] = "/tmp/wfrun-redact-XXXXXX";
  int fd = ::mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ::close(fd);
  std::string cmd = std::string("base64 -w0 < ") + path + (url_safe ? " | tr '+/' '-_'" : "");
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[256];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  ::unlink(path);
  return out;
}

bool b64_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '-' ||
         c == '_';
}

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  return c == '+' || c == '-' ? 62 : 63;
}

// Decodes base64 characters in groups of four from the first (a trailing partial group adds
// the bytes it holds whole).
std::string decode(const std::string& run) {
  std::string out;
  unsigned bits = 0;
  int nbits = 0;
  for (char c : run) {
    bits = (bits << 6) | static_cast<unsigned>(b64_value(c));
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out += static_cast<char>((bits >> nbits) & 0xff);
      bits &= (1u << nbits) - 1;
    }
  }
  return out;
}

// Whether `secret` can still be read from any run of base64 characters in `text`, at any
// alignment.
bool recoverable(const std::string& text, const std::string& secret) {
  for (size_t i = 0; i < text.size();) {
    if (!b64_char(text[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && b64_char(text[j])) ++j;
    std::string run = text.substr(i, j - i);
    // One of the first four characters starts a group of the original encoding.
    for (size_t from = 0; from < run.size() && from < 4; ++from)
      if (decode(run.substr(from)).find(secret) != std::string::npos) return true;
    i = j;
  }
  return false;
}

TEST(Redact, ValueAsWritten) {
  Redactor r;
  r.add("hunter2");
  EXPECT_EQ(r.redact("pw=hunter2 and hunter2."), "pw=*** and ***.");
  EXPECT_EQ(r.redact("nothing here"), "nothing here");
}

TEST(Redact, Base64AtEveryAlignmentInsideLongerText) {
  const std::string secret = "s3cr3t-Canary?value~with/odd>bytes\xff";
  Redactor r;
  r.add(secret);
  for (bool url_safe : {false, true})
    for (std::string before : {"", "a", "ab", "user:", "Basic-prefix-"})
      for (std::string after : {"", "x", "xy", "\n-more-text"}) {
        std::string enc = coreutils_base64(before + secret + after, url_safe);
        ASSERT_TRUE(recoverable(enc, secret)) << "the oracle itself is wrong: " << enc;
        std::string out = r.redact("Authorization: Basic " + enc + " end");
        EXPECT_NE(out.find("***"), std::string::npos) << out;
        EXPECT_FALSE(recoverable(out, secret))
            << "url_safe=" << url_safe << " before='" << before << "' after='" << after
            << "': " << out;
      }
}

TEST(Redact, OwnEncoderMatchesCoreutils) {
  for (const std::string& s : {std::string(""), std::string("f"), std::string("fo"),
                               std::string("foo"), std::string("\xfb\xff\xfe?>"),
                               std::string(1000, '\xfa')}) {
    EXPECT_EQ(base64_encode(s), coreutils_base64(s, false)) << s;
    EXPECT_EQ(base64_encode(s, true), coreutils_base64(s, true)) << s;
  }
}

TEST(Redact, UrlEncodedForms) {
  Redactor r;
  r.add("p@ss w/rd&more");
  EXPECT_EQ(r.redact("https://u:p%40ss%20w%2Frd%26more@host/"), "https://u:***@host/");
  EXPECT_EQ(r.redact("q=p%40ss%20w%2frd%26more&x=1"), "q=***&x=1");
  EXPECT_EQ(r.redact("form: p%40ss+w%2Frd%26more"), "form: ***");
  EXPECT_EQ(r.redact("raw p@ss w/rd&more"), "raw ***");
}

TEST(Redact, ShortSecretsOnlyAsWritten) {
  // The base64 of a three-letter secret is four characters that ordinary text is full of.
  Redactor r;
  r.add("abc");
  EXPECT_EQ(r.redact("abc YWJj"), "*** YWJj");
}

TEST(Redact, SplitPointKeepsAnEncodedFormWhole) {
  Redactor r;
  const std::string secret = "a-secret-long-enough";
  r.add(secret);
  std::string enc = base64_encode(secret);
  std::string text = std::string(100, '.') + enc.substr(0, 10);
  // The cut may not fall inside what may become the encoded form.
  EXPECT_LE(r.split_point(text), 100u);
}

}  // namespace
}  // namespace wfrun
