#pragma once
// A per-URL cache of bare mirrors, so a second run only fetches (libgit2 1.5 has no shallow
// clone, so a fresh clone always downloads the whole history).

#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "git/git.h"

namespace wfrun::git {

/// The mirror folder for `url` under `cache_root`: `NAME-HASH.git`, HASH from the URL without
/// credentials, so the same repo with another token shares one mirror.
std::string cache_path(const std::string& cache_root, const std::string& url);

/// Creates or fetches the mirror of `url` under `cache_root` (locked against concurrent runs),
/// then clones `dest_dir` from it locally. The new clone's origin is `url` (credential-free),
/// so later fetches and on-demand refs (refs/pull/N/head) go to the real remote.
Result<Repository> cached_clone(const std::string& cache_root, const std::string& url,
                                const std::string& dest_dir, const RemoteOptions& opts);

/// Files of a repository at one commit, read from the cache's mirror without a checkout.
struct FilesAtRef {
  std::string ref;  // refs/heads/main (the remote's default branch unless one was asked for)
  std::string sha;
  std::vector<std::pair<std::string, std::string>> files;  // path -> content
};

/// Creates or fetches the mirror of `url` (as cached_clone does) and reads, at `ref` (""
/// for the remote's default branch), the files directly inside each of `dirs` whose names end
/// with one of `suffixes` (files over 1 MB are left out). A folder that is not there is no
/// error.
Result<FilesAtRef> files_at_ref(const std::string& cache_root, const std::string& url,
                                const std::string& ref, const std::vector<std::string>& dirs,
                                const std::vector<std::string>& suffixes,
                                const RemoteOptions& opts);

}  // namespace wfrun::git
