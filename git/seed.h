#pragma once
// `wfrun seed URL [DIR]`: a notebook workspace from a GitHub URL (Gradient's "Workspace URL"
// and its "Run on Gradient" badge).

#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "git/git.h"

namespace wfrun::git {

/// What a seed URL names, before the remote is asked.
struct SeedUrl {
  std::string clone_url;          // credential-free
  std::string repo_name;          // the default folder name
  std::vector<std::string> rest;  // after /tree/ or /blob/: REF segments, then PATH segments
  bool tree = false;              // .../tree/REF[/PATH]
  bool blob = false;              // .../blob/REF/PATH
  bool clone = false;             // `?clone=true` (the "Run on Gradient" badge): as --clone
};

/// Parses `https://github.com/OWNER/REPO[.git]`, `.../tree/REF[/PATH]`, `.../blob/REF/PATH`,
/// `git@github.com:OWNER/REPO.git`, or any other git URL (taken as is). A github.com URL's
/// query may say `clone=true` (or `clone=1`), which asks for the whole repository, as --clone
/// does; other query parameters and a #fragment are ignored. github.com URLs map
/// onto $WFRUN_GITHUB_URL when it is set (tests, GitHub Enterprise).
Result<SeedUrl> parse_seed_url(const std::string& url);

/// The remote's refs (`git ls-remote`): full name -> sha, plus `HEAD` -> the default branch's
/// full name (when the server says).
Result<std::vector<std::pair<std::string, std::string>>> list_remote_refs(
    const std::string& url, const RemoteOptions& opts);

/// Splits REF/PATH segments: the longest prefix that is a branch or tag of `refs` (so
/// `feature/x/notebooks` finds branch `feature/x`), else a commit sha in the first segment.
/// Returns {ref, path}.
Result<std::pair<std::string, std::string>> split_ref_and_path(
    const std::vector<std::string>& segments,
    const std::vector<std::pair<std::string, std::string>>& refs, const std::string& url);

/// What to seed.
struct SeedRequest {
  std::string url;
  std::string dir;     // "" = the repository's name
  std::string ref;     // --ref ("" = from the URL, else the default branch)
  bool clone = false;  // --clone: a blob URL gets the whole repository
  std::string now;     // ISO 8601 time for workspace.json ("" = now)
};

/// What was seeded.
struct SeedResult {
  std::string dir;     // the workspace
  std::string origin;  // credential-free URL
  std::string ref;     // the ref checked out (the default branch's name when none was given)
  std::string commit;
  std::string path;      // the tree path or notebook in the repository ("" = whole repo)
  std::string notebook;  // the notebook in the workspace (blob URLs), relative to `dir`
};

/// Makes the workspace and writes DIR/.wfrun/workspace.json (origin, ref, commit, path, time).
/// Errors: a URL that is not a repository, a ref or path that does not exist, a private
/// repository without a token, an existing non-empty DIR.
Result<SeedResult> seed_workspace(const SeedRequest& req, const RemoteOptions& opts);

}  // namespace wfrun::git
