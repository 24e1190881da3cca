#pragma once
// JSON text to nlohmann::json, for notebooks and the runner's events: errors with a place, and a
// bound on nesting.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace wfrun::notebook {

/// The deepest nesting of lists and objects wfrun reads. nlohmann::json copies, compares and
/// dumps a value by recursing once per level, so a document nested 100,000 deep would overflow
/// the stack long after it was read; Jupyter's own reader (Python's json) stops near 1,000 too.
inline constexpr size_t kMaxJsonDepth = 1000;

/// Parses `text`. An error names `file:line:column`, the JSON path where reading stopped and what
/// is wrong: `a.ipynb:3:17: cells[0].source: ...`. Numbers too large for a double (1e999) and
/// nesting deeper than `max_depth` are errors.
Result<nlohmann::json> parse_json(std::string_view text, const std::string& file,
                                  size_t max_depth = kMaxJsonDepth);

/// `path.key`, or `path["odd key"]` for a key that is not a plain word: a JSON path one level on.
std::string json_path_key(const std::string& path, std::string_view key);

/// "a string", "the number 4.0", "a list", "an object", "true", "false" or "null": what a value
/// is, for messages that say what was expected instead.
std::string json_kind(const nlohmann::json& value);

}  // namespace wfrun::notebook
