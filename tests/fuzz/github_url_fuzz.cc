// Fuzz target: GitHub URL parsing: `wfrun seed`'s URLs (git/seed.h: github.com forms, tree/blob
// paths, ?clone=), the REF/PATH split against a repository's refs, git's and the REST client's
// URL redaction, and http/github_url.h (parse_url, encoding, Link headers).

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "git/git.h"
#include "git/seed.h"
#include "http/github_url.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace wfrun;
  std::string text(reinterpret_cast<const char*>(data), size);
  static const std::vector<std::pair<std::string, std::string>> refs = {
      {"HEAD", "refs/heads/main"},
      {"refs/heads/main", "0123456789abcdef0123456789abcdef01234567"},
      {"refs/heads/feature/x", "1123456789abcdef0123456789abcdef01234567"},
      {"refs/tags/v1", "2123456789abcdef0123456789abcdef01234567"}};
  if (auto s = git::parse_seed_url(text); s) {
    if (s->tree || s->blob) (void)git::split_ref_and_path(s->rest, refs, text);  // as seed does
    (void)git::redact_url(s->clone_url);
  } else {
    (void)s.error().str();
  }
  (void)git::redact_url(text);
  if (auto u = http::parse_url(text)) (void)u->str();
  (void)http::redact_url(text);
  (void)http::encode_segment(text);
  (void)http::encode_path(text);
  (void)http::encode_query(text);
  (void)http::link_rel(text, "next");
  return 0;
}
