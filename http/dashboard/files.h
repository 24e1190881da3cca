#pragma once
// A job's output files for the dashboard: listing a volume or dataset folder, resolving a
// requested file strictly inside it, and an executed notebook rendered as a standalone HTML
// page (served in a sandbox: notebook outputs are untrusted).

#include <string>
#include <vector>

#include "base/error.h"

namespace wfrun::dashboard {

struct FileEntry {
  std::string path;  // relative to the folder, '/'-separated
  long long size = 0;
};

/// The regular files under `root`, sorted by path, at most `limit` (then `*truncated`). Symlinks
/// are not followed.
Result<std::vector<FileEntry>> list_files(const std::string& root, size_t limit, bool* truncated);

/// The real path of `root/rel` when it is a regular file inside `root` (after resolving every
/// symlink, `..` and so on); otherwise an Error that says "no such file".
Result<std::string> file_inside(const std::string& root, const std::string& rel);

/// An executed notebook as one HTML page: Markdown cells through CommonMark (raw HTML left
/// out), code cells with their outputs (text, images as data: URLs, HTML outputs as they are:
/// the page is served with `Content-Security-Policy: sandbox`, so nothing in it runs). Errors
/// name the JSON path that is wrong.
Result<std::string> notebook_html(const std::string& ipynb, const std::string& title);

}  // namespace wfrun::dashboard
