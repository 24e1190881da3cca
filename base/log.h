#pragma once
// The debug log: off by default, on with WFRUN_DEBUG=1. Never give it tokens, signatures,
// webhook bodies or URLs with credentials.

#include <string_view>

namespace wfrun {

bool debug_enabled();
void debug_log(std::string_view component, std::string_view message);

}  // namespace wfrun
