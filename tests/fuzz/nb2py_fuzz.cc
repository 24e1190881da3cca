// Fuzz target: nb2py's cell translation (IPython syntax -> plain Python, translate_cell): magics,
// `!cmd`, `?` help, line continuations, any bytes. Both ways of treating an unknown magic.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/notebook/notebook.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace wfrun::notebook;
  std::string_view source(reinterpret_cast<const char*>(data), size);
  for (auto unsupported : {UnsupportedMagic::kFail, UnsupportedMagic::kRuntimeError}) {
    ConvertOptions o;
    o.unsupported = unsupported;
    o.keep_results = unsupported == UnsupportedMagic::kRuntimeError;
    auto py = translate_cell(source, o, "fuzz.ipynb", 1);
    if (!py) (void)py.error().str();
  }
  return 0;
}
