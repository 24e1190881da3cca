#pragma once
// `large-files: release` for git-commit@v1: files too big for a git push to GitHub go to a
// release as assets, and a Markdown manifest with their links is committed in their place.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/error.h"
#include "http/github_client.h"

namespace wfrun::http {

/// The release that holds the assets (created, with its tag, on first use).
inline constexpr const char* kLargeFilesTag = "wfrun-assets";

/// The description of that release when wfrun creates it (its name is "wfrun large files").
std::string large_files_release_body();

/// A file to upload instead of committing it.
struct LargeFile {
  std::string path;       // on this machine
  std::string repo_path;  // where it would have been committed
  std::uint64_t size = 0;
};

/// A file that is now an asset.
struct PublishedFile {
  std::string repo_path;
  std::string asset_name;  // SHA256[0:12]-NAME: the same content reuses the same asset
  std::string url;         // browser_download_url
  std::uint64_t size = 0;
  std::string sha256;     // hex
  bool uploaded = false;  // false: an asset with that name and size was already there
};

/// The SHA-256 of a file (hex), read in blocks: memory stays flat whatever its size.
Result<std::string> sha256_file(const std::string& path);

/// The asset's content type, from the file name's extension (application/octet-stream when
/// nothing better is known).
std::string asset_content_type(const std::string& name);

/// Uploads `files` as assets of the release `tag` of `repo` (created when missing). Each one
/// is streamed from disk. An asset already there with the same name (which holds the content's
/// hash) and size is reused. `log` gets one line per file.
Result<std::vector<PublishedFile>> publish_large_files(
    GithubClient& client, const Repo& repo, const std::string& tag,
    const std::vector<LargeFile>& files, const std::function<void(const std::string&)>& log = {});

/// The Markdown manifest committed in the files' place: one row per file with its path, size,
/// SHA-256 and download link.
std::string large_files_manifest(const Repo& repo, const std::string& tag,
                                 const std::vector<PublishedFile>& files);

}  // namespace wfrun::http
