#pragma once
// A per-URL cache of bare mirrors, so a second run only fetches (libgit2 1.5 has no shallow
// clone, so a fresh clone always downloads the whole history).

#include <string>

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

}  // namespace wfrun::git
