#include "base/error.h"

#include <cstring>

namespace wfrun {

std::string Location::str() const {
  std::string out;
  if (!file.empty()) {
    out = file;
    if (line > 0) {
      out += ":" + std::to_string(line);
      if (column > 0) out += ":" + std::to_string(column);
    }
    return out;
  }
  return field;
}

std::string Error::str() const {
  std::string where = where_.str();
  if (where.empty()) return message_;
  return where + ": " + message_;
}

Error Error::context(const std::string& what) const {
  return Error(where_, what + ": " + message_);
}

Error errno_error(const std::string& what, int err) {
  return Error(what + ": " + std::strerror(err));
}

}  // namespace wfrun
