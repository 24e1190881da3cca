#include "base/log.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace wfrun {

bool debug_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("WFRUN_DEBUG");
    return v && *v && std::strcmp(v, "0") != 0;
  }();
  return on;
}

void debug_log(std::string_view component, std::string_view message) {
  if (!debug_enabled()) return;
  std::fprintf(stderr, "[wfrun %.*s] %.*s\n", static_cast<int>(component.size()),
               component.data(), static_cast<int>(message.size()), message.data());
}

}  // namespace wfrun
