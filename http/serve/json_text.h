#pragma once
// JSON text that never throws: nlohmann's dump() throws type_error 316 on bytes that are not
// UTF-8, and such bytes reach the server from headers, old database rows and run messages.

#include <nlohmann/json.hpp>
#include <string>

namespace wfrun::serve {

/// `j` as JSON text (`indent` as dump()); bytes that are not UTF-8 become U+FFFD.
inline std::string json_text(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace wfrun::serve
