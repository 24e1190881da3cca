// Fuzz target: nvidia-smi dmon (engine/gpu/smi_parse.h), whole and fed line by line as the
// sampler does.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/gpu/smi_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace wfrun::gpu;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)parse_dmon(text);
  DmonParser p;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    (void)p.feed(text.substr(pos, eol - pos));
    pos = eol + 1;
  }
  return 0;
}
