// Fuzz target: the nbformat reader (engine/notebook/nbformat.cc: nbformat 3 and 4, the upgrade
// to 4) and, for a notebook it accepts, the kernel check, parameter injection and the whole
// conversion to a script. Any bytes in: a Notebook or an error naming the JSON path, never a
// crash.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/notebook/notebook.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace wfrun::notebook;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto nb = parse_notebook(text, "fuzz.ipynb");
  if (!nb) {
    (void)nb.error().str();
    return 0;
  }
  (void)check_python_kernel(*nb);
  for (const auto& cell : nb->cells()) {
    (void)cell_source(cell);
    (void)cell_tags(cell);
  }
  inject_parameters(*nb, {{"epochs", 3}, {"name", "ünï"}, {"rates", {0.1, 0.01}}});
  ConvertOptions o;
  o.unsupported = UnsupportedMagic::kRuntimeError;
  auto py = nb_to_py(*nb, o);
  if (!py) (void)py.error().str();
  return 0;
}
