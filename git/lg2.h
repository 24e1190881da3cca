#pragma once
// Private to git/*.cc: libgit2 handle owners, error conversion and the remote callbacks.
// This is the only header that includes <git2.h>; never include it from a public header.

#include <git2.h>

#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "git/git.h"

namespace wfrun::git::lg2 {

using RepoHandle = Handle<git_repository, git_repository_free>;
using RemoteHandle = Handle<git_remote, git_remote_free>;
using CommitHandle = Handle<git_commit, git_commit_free>;
using TreeHandle = Handle<git_tree, git_tree_free>;
using IndexHandle = Handle<git_index, git_index_free>;
using ObjectHandle = Handle<git_object, git_object_free>;
using ReferenceHandle = Handle<git_reference, git_reference_free>;
using SignatureHandle = Handle<git_signature, git_signature_free>;
using SubmoduleHandle = Handle<git_submodule, git_submodule_free>;

/// Calls git_libgit2_init() once per process.
void init();

/// libgit2's last error message (git_error_last() may be null), or "error N".
std::string last_message(int rc);

/// rc < 0 -> Error("what: libgit2 message").
Result<void> check(int rc, const std::string& what);

std::string oid_hex(const git_oid& oid);

/// Makes libgit2 trust the system CAs plus `ca_file` ("" = system only). Process-wide.
Result<void> apply_ca_file(const std::string& ca_file);

/// Per-operation state behind libgit2's remote callbacks (payload). Owns the credential
/// retry policy (give up after one rejection) and collects push rejections.
struct RemoteSession {
  RemoteSession(std::string url, const RemoteOptions& opts);

  /// Installs credentials, certificate, sideband and push-report callbacks.
  void install(git_remote_callbacks& cb);
  /// Applies the CA bundle (a process-wide libgit2 setting) for this operation.
  Result<void> prepare();

  /// The user-facing error for a failed remote operation: authentication, missing
  /// credentials and certificate failures get their own wording; everything else is
  /// "what URL: libgit2 message". Any token is masked.
  Error error(int rc, const std::string& what) const;
  /// Masks the token (and the password from the URL) in `text`.
  std::string redact(const std::string& text) const;

  std::string url;  // credential-free
  Credentials creds;
  std::string ca_file;
  int userpass_calls = 0;
  int ssh_calls = 0;
  bool auth_failed = false;
  bool no_credentials = false;
  std::string remote_text;                                    // sideband ("remote: ...") text
  std::vector<std::pair<std::string, std::string>> rejected;  // (ref, status) from the server
};

/// Credentials embedded in `url` (user:password@) split off: returns the clean URL and fills
/// `creds` from them when `creds` is empty.
std::string take_url_credentials(const std::string& url, Credentials& creds);

/// The repo's origin URL, or "".
std::string origin_url(git_repository* repo);

/// Fetches `refspecs` (empty: configured ones) from origin with `session`'s callbacks.
Result<void> fetch_origin(git_repository* repo, RemoteSession& session,
                          const std::vector<std::string>& refspecs,
                          git_fetch_prune_t prune = GIT_FETCH_PRUNE_UNSPECIFIED);

/// Push outcome: landed, lost a race (retry after fetching), or refused for good.
enum class PushOutcome { kOk, kRace, kRejected };
struct PushReport {
  PushOutcome outcome = PushOutcome::kOk;
  Error error;  // set unless kOk
};
PushReport push_branch(git_repository* repo, const std::string& branch, const RemoteOptions& opts,
                       bool force);

/// Finds `ref` (branch, tag, full/short sha, refs/...) locally, peeled to a commit. Returns
/// false when it is not there; `branch` gets the branch name when `ref` names a branch.
Result<bool> resolve_local(git_repository* repo, const std::string& ref, git_oid* out,
                           std::string* branch = nullptr);

/// `ref` as a pull request ref (`refs/pull/N/head` or `pull/N/head`) -> `refs/pull/N/head`.
bool is_pull_ref(const std::string& ref, std::string* full = nullptr);

/// One prepared file: its blob is already written to the object database.
struct Change {
  std::string path;
  git_oid blob;
  git_filemode_t mode;
};
/// Checks sizes (all over-limit files named in one error), writes the blobs.
Result<std::vector<Change>> prepare_changes(git_repository* repo,
                                            const std::vector<FileToCommit>& files);
/// Writes a commit of `parent` (may be null) + `changes`; returns {sha, changed}.
Result<CommitResult> build_commit(git_repository* repo, const git_oid* parent,
                                  const std::vector<Change>& changes, const std::string& message,
                                  const std::string& author);

}  // namespace wfrun::git::lg2
