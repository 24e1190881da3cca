#pragma once
// libgit2 behind a small C++ API: clone, fetch, resolve/check out refs, commit files, push.
// <git2.h> stays in git/*.cc; callers see only these types.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"

struct git_repository;  // libgit2's handle; owned by Repository

namespace wfrun::git {

/// How to authenticate to a remote. A token is sent as HTTPS basic auth through libgit2's
/// credentials callback; it is never put in a URL, the repo config, a log or an error.
struct Credentials {
  std::string username;      // basic-auth user; "x-access-token" when empty and a token is set
  std::string token;         // HTTPS password / GitHub token
  std::string ssh_key_file;  // private key for ssh:// remotes ("<key>.pub" is used when present)
  bool ssh_agent = false;    // try the SSH agent for ssh:// remotes

  bool empty() const { return token.empty() && ssh_key_file.empty() && !ssh_agent; }
  /// Token credentials; the user name defaults to "x-access-token" (what GitHub expects).
  static Credentials from_token(std::string token);
};

/// Everything an operation that talks to a remote needs.
struct RemoteOptions {
  Credentials creds;
  std::string ca_file;  // extra PEM CA bundle, added to the system one (--ca-file / WFRUN_CA_FILE)

  /// Token from GITHUB_TOKEN and CA bundle from WFRUN_CA_FILE (either may be unset).
  static RemoteOptions from_env();
};

/// A URL without credentials (`https://user:tok@host/x` -> `https://host/x`), safe to show.
/// ssh:// keeps its user name (it is not a secret); scp-like `git@host:x` is unchanged.
std::string redact_url(const std::string& url);

/// One host file (or directory, copied recursively) to commit at `dest` (a path in the repo).
struct FileToCommit {
  std::string src;
  std::string dest;
};

/// GitHub rejects files over 100 MB; we refuse anything over this before committing.
inline constexpr std::uint64_t kMaxFileBytes = 50ull * 1000 * 1000;
inline constexpr const char* kDefaultCommitMessage = "Update files from wfrun [skip ci]";
inline constexpr const char* kDefaultAuthor = "wfrun <wfrun@users.noreply.github.com>";

/// What commit_paths made.
struct CommitResult {
  std::string sha;       // the new commit, or the unchanged tip when `changed` is false
  std::string parent;    // the commit it was built on ("" for a root commit)
  bool changed = false;  // false: the files were already there, no commit was made
};

/// An open repository (owns the libgit2 handle). Move-only.
class Repository {
 public:
  /// Clones `url` (https, ssh, file://, or a local path) into `dir`. Credentials embedded in
  /// the URL are used (when `opts` has none) and stripped: the remote is saved without them.
  static Result<Repository> clone(const std::string& url, const std::string& dir,
                                  const RemoteOptions& opts, bool bare = false);
  static Result<Repository> open(const std::string& dir);

  Repository(Repository&&) noexcept;
  Repository& operator=(Repository&&) noexcept;
  ~Repository();

  /// The working directory (or the git dir of a bare repository).
  std::string path() const;
  bool bare() const;
  /// origin's URL ("" when there is no origin); never contains credentials.
  std::string origin_url() const;

  /// Fetches from origin. Empty `refspecs` uses the configured ones (all branches, tags).
  Result<void> fetch(const RemoteOptions& opts, const std::vector<std::string>& refspecs = {});

  /// The commit sha of a branch, tag, full or short sha, or `refs/pull/N/head`. Looks locally
  /// first, then fetches from origin once (a pull request's ref is fetched on demand).
  /// Unknown: `ref 'x' not found in URL`.
  Result<std::string> resolve(const std::string& ref, const RemoteOptions& opts);
  /// Checks out `ref` (forcefully: local changes to tracked files are dropped). A branch
  /// becomes a local branch at origin's tip; anything else detaches HEAD.
  Result<void> checkout(const std::string& ref, const RemoteOptions& opts);
  /// Initialises and updates all submodules (recursively), with the same credentials.
  Result<void> update_submodules(const RemoteOptions& opts);
  Result<std::string> head_sha() const;

  /// Commits `files` to `branch`: on origin's tip of `branch` if known, else the local
  /// branch, else `base` (branch/tag/sha). Builds the tree in memory (the work tree is not
  /// needed), moves refs/heads/BRANCH, and refreshes the checked-out files when HEAD is on
  /// BRANCH. Files over kMaxFileBytes are refused, naming them. Does not push.
  Result<CommitResult> commit_paths(const std::string& branch, const std::string& base,
                                    const std::vector<FileToCommit>& files,
                                    const std::string& message = kDefaultCommitMessage,
                                    const std::string& author = kDefaultAuthor);

  /// Pushes refs/heads/BRANCH to origin. A rejection is an error:
  /// `the server rejected the push to BRANCH: REASON`.
  Result<void> push(const std::string& branch, const RemoteOptions& opts, bool force = false);

  /// For git/ internals; useless without <git2.h>.
  git_repository* raw() const { return repo_.get(); }

 private:
  struct Free {
    void operator()(git_repository* r) const;
  };
  explicit Repository(git_repository* r);
  std::unique_ptr<git_repository, Free> repo_;
};

}  // namespace wfrun::git
