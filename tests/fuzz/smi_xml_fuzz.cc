// Fuzz target: nvidia-smi -q -x (engine/gpu/smi_parse.h).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/gpu/smi_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto r = wfrun::gpu::parse_smi_xml(text); !r) (void)r.error().str();
  return 0;
}
