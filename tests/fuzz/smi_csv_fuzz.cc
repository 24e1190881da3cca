// Fuzz target: nvidia-smi --query-gpu CSV (engine/gpu/smi_parse.h), with the header that
// places the columns or with wfrun's own field list, and the number parser on each field.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/gpu/smi_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace wfrun::gpu;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto r = parse_query_gpu_csv(text); !r) (void)r.error().str();
  if (auto r = parse_query_gpu_csv(text, "index,uuid,memory.used"); !r) (void)r.error().str();
  (void)parse_smi_number(text);
  return 0;
}
