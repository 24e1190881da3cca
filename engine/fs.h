#pragma once
// Small file-system helpers for the engine: errors as Error, no exceptions.

#include <string>
#include <string_view>

#include "base/error.h"

namespace wfrun::engine {

/// mkdir -p.
Status make_dirs(const std::string& path);
bool is_dir(const std::string& path);
bool exists(const std::string& path);
/// Writes `data` to `path` (created or truncated).
Status write_file(const std::string& path, std::string_view data);
/// Writes `data` to a temporary file next to `path` and renames it over `path`, so readers
/// see the old or the new content, never a partial one.
Status write_file_atomic(const std::string& path, std::string_view data);
/// The whole file; fails if it holds more than `max_bytes`.
Result<std::string> read_file(const std::string& path, size_t max_bytes = 1 << 20);
/// rm -rf (a missing path is fine).
Status remove_tree(const std::string& path);
/// write() until done, retrying on EINTR and short writes.
bool write_all(int fd, const char* data, size_t n);
/// "a/b/c.yaml" -> "a/b"; "c.yaml" -> "".
std::string dir_name(const std::string& path);
/// "a/b/c.yaml" -> "c".
std::string file_stem(const std::string& path);

}  // namespace wfrun::engine
