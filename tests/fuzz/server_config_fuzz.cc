// Fuzz target: `wfrun serve`'s server.yaml (http/serve/config.h). Any text in: a ServerConfig or
// `server.yaml:LINE:COL: message`, never a crash. Secrets come from two environment variables;
// relative `*-file:` names resolve in a folder that does not exist.

#include <cstddef>
#include <cstdint>
#include <string>

#include "http/serve/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace wfrun::serve;
  static char hook[] = "HOOK=fuzz-webhook-secret";
  static char tokens[] = "TOKENS=t1,t2";
  static char* env[] = {hook, tokens, nullptr};
  std::string text(reinterpret_cast<const char*>(data), size);
  auto c = parse_config(text, "/nonexistent/wfrun-fuzz/server.yaml", env);
  if (!c) {
    (void)c.error().str();
    return 0;
  }
  (void)c->base_url();
  for (const auto& r : c->repositories) (void)c->repo(r.full_name);
  (void)c->repo("Nobody/Nothing");
  return 0;
}
