#pragma once
// Small file helpers the tests share.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace wfrun::testing {

/// The whole file ("" when it cannot be read).
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Writes `text` to `p`, creating its folders.
inline void write_file(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

}  // namespace wfrun::testing
