#pragma once
// A stored run as the RunResult that printers and observers take.

#include "engine/store.h"

namespace wfrun::engine {

RunResult to_result(const RunRecord& r);

}  // namespace wfrun::engine
