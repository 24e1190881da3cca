#pragma once
// git-commit's engine: commit files to a branch and push, retrying when another push wins.

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "git/git.h"

namespace wfrun::git {

/// What to commit where. `work_dir` is a local (bare) clone that is reused when it exists and
/// kept when the push fails, so the commit is never lost.
struct CommitPushRequest {
  std::string url;
  std::string work_dir;
  std::string branch;
  std::string base;  // where a missing `branch` starts (branch, tag or sha)
  std::vector<FileToCommit> files;
  std::string message = kDefaultCommitMessage;
  std::string author = kDefaultAuthor;
  int max_attempts = 6;  // pushes tried before giving up on a busy branch
  /// Above this many bytes of files, the push packs them without searching for deltas:
  /// libgit2 does that search after it has opened the upload, and a long one stalls the
  /// request until the server drops it (see commit.cc, set_delta_search).
  std::uint64_t delta_search_max_bytes = 64ull * 1000 * 1000;
};

/// What landed.
struct CommitPushResult {
  std::string sha;       // the pushed commit (or the unchanged tip when !changed)
  bool changed = false;  // false: nothing to commit, nothing pushed
  int attempts = 0;      // pushes tried
};

/// Commits `req.files` to `req.branch` and pushes. When another push got there first, fetches,
/// rebuilds the commit (the same file changes on the new tip; not a merge) and pushes again,
/// up to `max_attempts` times with a small jittered backoff. On failure the error ends with
/// `; the commit SHA is kept in DIR; push it by hand with: COMMAND` (no token in it).
Result<CommitPushResult> commit_and_push(const CommitPushRequest& req, const RemoteOptions& opts);

/// `git -C 'DIR' push origin refs/heads/BRANCH:refs/heads/BRANCH`: pushes a kept commit.
std::string manual_push_command(const std::string& dir, const std::string& branch);

}  // namespace wfrun::git
