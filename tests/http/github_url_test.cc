#include "http/github_url.h"

#include <gtest/gtest.h>

namespace wfrun::http {
namespace {

TEST(GithubUrl, ParsesOriginsAndTargets) {
  auto u = parse_url("https://user:secret@ghe.example.com:8443/api/v3?x=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "ghe.example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->origin(), "https://ghe.example.com:8443");
  EXPECT_EQ(u->target, "/api/v3?x=1");
  EXPECT_EQ(parse_url("http://127.0.0.1:3000")->target, "/");
  EXPECT_EQ(parse_url("https://api.github.com/")->origin(), "https://api.github.com");
  EXPECT_FALSE(parse_url("ftp://x/y"));
  EXPECT_FALSE(parse_url("api.github.com/repos"));
  EXPECT_FALSE(parse_url("http://host:99999/"));
}

TEST(GithubUrl, RedactsCredentialsAndQueryValues) {
  EXPECT_EQ(redact_url("https://x-access-token:ghs_abc@api.github.com/repos/o/"
                       "r?access_token=t&a&page=2&client_secret=s"),
            "https://api.github.com/repos/o/r?access_token=***&a&page=2&client_secret=***");
  EXPECT_EQ(redact_url("https://api.github.com/repos/o/r"), "https://api.github.com/repos/o/r");
}

TEST(GithubUrl, Encodes) {
  EXPECT_EQ(encode_segment("a b/c:d"), "a%20b%2Fc%3Ad");
  EXPECT_EQ(encode_path("docs/read me.md"), "docs/read%20me.md");
}

TEST(GithubUrl, FindsLinkRelations) {
  const std::string link =
      "<https://api.github.com/repositories/1000/issues?per_page=3&page=2>; rel=\"next\", "
      "<https://api.github.com/repositories/1000/issues?per_page=3&page=5>; rel=\"last\"";
  EXPECT_EQ(link_rel(link, "next"),
            "https://api.github.com/repositories/1000/issues?per_page=3&page=2");
  EXPECT_EQ(link_rel(link, "last"),
            "https://api.github.com/repositories/1000/issues?per_page=3&page=5");
  EXPECT_FALSE(link_rel(link, "prev"));
  EXPECT_FALSE(link_rel("", "next"));
  EXPECT_EQ(link_rel("<a>; rel=\"prev next\"", "next"), "a");
}

}  // namespace
}  // namespace wfrun::http
