#pragma once
// The Python sources shipped inside the wfrun binary.

#include <string_view>

namespace wfrun::notebook {

/// support.py + introspection.py: what IPython syntax is translated to; the prelude of
/// `wfrun nb2py` scripts.
std::string_view support_py();
/// runner.py: the cell runner used by `wfrun nbrun` (run after support.py).
std::string_view runner_py();

}  // namespace wfrun::notebook
