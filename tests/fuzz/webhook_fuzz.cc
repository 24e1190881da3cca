// Fuzz target: the webhook decision (http/serve/webhook.h): a delivery's headers and body in,
// the answer and the runs to queue out. Input: header lines `Name: value` (X-GitHub-Event,
// X-GitHub-Delivery, Content-Type, X-Hub-Signature-256), a blank line, then the body. Without
// an X-Hub-Signature-256 line the body is signed with the configured secret, so most inputs get
// past the signature check to the parts a hostile but signed delivery reaches.
//
// Beyond "no crash, no exception": a final answer is JSON, everything a queued run carries
// must be fit to be written as JSON (the dispatcher writes it into request.json), and the
// payload's one-pass field scanner agrees with nlohmann's parser on the body
// (tests/serve/payload_oracle.h).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "http/serve/config.h"
#include "http/serve/signature.h"
#include "http/serve/webhook.h"
#include "tests/serve/payload_oracle.h"

namespace {

using namespace wfrun::serve;

const ServerConfig& config() {
  static const ServerConfig c = [] {
    static char hook[] = "FUZZ_HOOK=fuzz-webhook-secret";
    static char token[] = "FUZZ_TOKEN=ghp-fuzz-token";
    static char* env[] = {hook, token, nullptr};
    auto r = parse_config(
        "webhook: {secret-env: FUZZ_HOOK}\n"
        "repositories:\n"
        "  - {repo: Codertocat/Hello-World, token-env: FUZZ_TOKEN}\n"
        "  - {repo: Octocoders/Hello-World, allow-forks: true}\n"
        "  - {repo: acme/proj, clone-url: 'file:///nonexistent/proj.git'}\n",
        "/nonexistent/server.yaml", env);
    if (!r) {
      std::fprintf(stderr, "webhook_fuzz: bad built-in config: %s\n", r.error().str().c_str());
      std::abort();
    }
    return *r;
  }();
  return c;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Delivery d;
  d.event = "push";
  d.content_type = "application/json";
  bool signed_here = true;
  size_t pos = 0;
  while (pos < in.size()) {
    size_t eol = in.find('\n', pos);
    if (eol == std::string_view::npos) break;
    std::string_view line = in.substr(pos, eol - pos);
    pos = eol + 1;
    if (trimmed(line).empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = trimmed(line.substr(0, colon)), value = trimmed(line.substr(colon + 1));
    if (name == "X-GitHub-Event") {
      d.event = value;
    } else if (name == "X-GitHub-Delivery") {
      d.id = value;
    } else if (name == "Content-Type") {
      d.content_type = value;
    } else if (name == "X-Hub-Signature-256") {
      d.signature = value;
      signed_here = false;
    }
  }
  d.body = in.substr(pos);
  if (signed_here) d.signature = "sha256=" + hmac_sha256_hex(config().webhook_secret, d.body);

  if (const std::string why = testing::payload_disagreement(std::string(d.body)); !why.empty()) {
    std::fprintf(stderr, "webhook_fuzz: the payload scanner and nlohmann disagree: %s\n", why.c_str());
    std::abort();
  }
  WebhookDecision w = decide(config(), d);
  // An answer without runs is final and JSON (with runs, the queue writes it).
  if (w.runs.empty() && !nlohmann::json::accept(w.body)) std::abort();
  for (const auto& r : w.runs) {
    nlohmann::json req = {{"delivery", r.delivery}, {"event", r.event},     {"repo", r.repo},
                          {"clone_url", r.clone_url}, {"sha", r.sha},       {"ref", r.ref},
                          {"base_ref", r.base_ref},   {"workflow", r.workflow}};
    (void)req.dump();  // throws on bytes that are not UTF-8
  }
  return 0;
}
