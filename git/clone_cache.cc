// The per-URL mirror cache.

#include "git/clone_cache.h"

#include <fcntl.h>
#include <sys/file.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <filesystem>

#include "base/fd.h"
#include "base/log.h"
#include "git/lg2.h"

namespace wfrun::git {

using namespace lg2;
namespace fs = std::filesystem;

namespace {

// Branches and tags map onto themselves: the mirror looks like the remote.
int create_mirror_remote(git_remote** out, git_repository* repo, const char* name, const char* url,
                         void*) {
  int rc = git_remote_create_with_fetchspec(out, repo, name, url, "+refs/heads/*:refs/heads/*");
  if (rc < 0) return rc;
  rc = git_remote_add_fetch(repo, name, "+refs/tags/*:refs/tags/*");
  if (rc < 0) return rc;
  git_remote_free(*out);
  return git_remote_lookup(out, repo, name);
}

// Fetches all branches and tags (pruning), and points HEAD at the remote's default branch,
// on one connection.
Result<void> fetch_mirror(git_repository* repo, const std::string& url, const RemoteOptions& opts) {
  RemoteSession s(url, opts);
  if (auto r = s.prepare(); !r) return r;
  git_remote* raw = nullptr;
  if (auto r = check(git_remote_lookup(&raw, repo, "origin"), "opening the cached mirror"); !r)
    return r;
  RemoteHandle remote(raw);
  git_remote_callbacks cb = GIT_REMOTE_CALLBACKS_INIT;
  s.install(cb);
  debug_log("git", "mirror fetch " + s.url);
  int rc = git_remote_connect(remote.get(), GIT_DIRECTION_FETCH, &cb, nullptr, nullptr);
  if (rc < 0) return s.error(rc, "fetching");
  std::string head;
  git_buf buf = GIT_BUF_INIT;
  if (git_remote_default_branch(&buf, remote.get()) == 0 && buf.ptr) head = buf.ptr;
  git_buf_dispose(&buf);
  git_fetch_options fo = GIT_FETCH_OPTIONS_INIT;
  s.install(fo.callbacks);
  fo.prune = GIT_FETCH_PRUNE;
  rc = git_remote_fetch(remote.get(), nullptr, &fo, nullptr);  // reuses the connection
  if (rc < 0) return s.error(rc, "fetching");
  if (!head.empty())
    return check(git_repository_set_head(repo, head.c_str()), "setting the mirror's HEAD");
  return {};
}

Result<void> update_mirror(const std::string& mirror, const std::string& url,
                           const RemoteOptions& opts) {
  std::error_code ec;
  if (fs::exists(fs::path(mirror) / "HEAD", ec)) {
    git_repository* raw = nullptr;
    if (int rc = git_repository_open_bare(&raw, mirror.c_str()); rc < 0)
      return Error("opening the cached mirror " + mirror + ": " + last_message(rc));
    RepoHandle repo(raw);
    return fetch_mirror(repo.get(), url, opts);
  }
  // Built next to the mirror and renamed into place, so a failed first fetch leaves nothing.
  std::string tmp = mirror + ".tmp";
  fs::remove_all(tmp, ec);
  {
    git_repository* raw = nullptr;
    if (auto r = check(git_repository_init(&raw, tmp.c_str(), 1), "creating " + tmp); !r) return r;
    RepoHandle repo(raw);
    git_remote* rawr = nullptr;
    if (auto r = check(create_mirror_remote(&rawr, repo.get(), "origin", url.c_str(), nullptr),
                       "creating " + tmp);
        !r)
      return r;
    RemoteHandle keep(rawr);
    if (auto r = fetch_mirror(repo.get(), url, opts); !r) {
      repo.reset();
      fs::remove_all(tmp, ec);
      return r;
    }
  }
  fs::rename(tmp, mirror, ec);
  if (ec) return Error("moving the mirror into " + mirror + ": " + ec.message());
  return {};
}

}  // namespace

std::string cache_path(const std::string& cache_root, const std::string& url) {
  init();
  Credentials ignored;
  std::string clean = take_url_credentials(url, ignored);
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  git_oid id;
  git_odb_hash(&id, clean.data(), clean.size(), GIT_OBJECT_BLOB);
  std::string name = clean.substr(clean.find_last_of("/:") + 1);
  if (name.size() > 4 && name.compare(name.size() - 4, 4, ".git") == 0)
    name.resize(name.size() - 4);
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  if (name.empty() || name[0] == '.') name = "repo" + name;
  return (fs::path(cache_root) / (name + "-" + oid_hex(id).substr(0, 16) + ".git")).string();
}

/// Creates or fetches the mirror of `url` and returns its lock, held: one writer per mirror
/// (concurrent runs of the same repo wait for each other here). Sets the URL without
/// credentials and the mirror's folder.
static Result<UniqueFd> fresh_mirror(const std::string& cache_root, const std::string& url,
                              const RemoteOptions& opts, std::string& clean, std::string& mirror) {
  init();
  RemoteOptions eff = opts;
  clean = take_url_credentials(url, eff.creds);
  std::error_code ec;
  fs::create_directories(cache_root, ec);
  if (ec) return Error("creating the clone cache " + cache_root + ": " + ec.message());
  mirror = cache_path(cache_root, clean);
  const std::string lock_path = mirror + ".lock";
  UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock) return errno_error("opening " + lock_path, errno);
  int rc;
  do rc = ::flock(lock.get(), LOCK_EX);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return errno_error("locking " + lock_path, errno);
  if (auto r = update_mirror(mirror, clean, eff); !r) return r.error();
  return lock;
}

Result<Repository> cached_clone(const std::string& cache_root, const std::string& url,
                                const std::string& dest_dir, const RemoteOptions& opts) {
  std::string clean, mirror;
  auto lock = fresh_mirror(cache_root, url, opts, clean, mirror);
  if (!lock) return lock.error();
  auto repo = Repository::clone(mirror, dest_dir, RemoteOptions{});
  if (!repo) return repo.error();
  // Later fetches (and refs fetched on demand) go to the real remote, never with a token.
  if (auto r = check(git_remote_set_url(repo->raw(), "origin", clean.c_str()),
                     "setting origin of " + dest_dir);
      !r)
    return r.error();
  return repo;
}

Result<FilesAtRef> files_at_ref(const std::string& cache_root, const std::string& url,
                                const std::string& ref, const std::vector<std::string>& dirs,
                                const std::vector<std::string>& suffixes,
                                const RemoteOptions& opts) {
  std::string clean, mirror;
  auto lock = fresh_mirror(cache_root, url, opts, clean, mirror);
  if (!lock) return lock.error();

  git_repository* raw = nullptr;
  if (int e = git_repository_open_bare(&raw, mirror.c_str()); e < 0)
    return Error("opening the cached mirror " + mirror + ": " + last_message(e));
  RepoHandle repo(raw);
  FilesAtRef out;
  out.ref = ref;
  if (out.ref.empty()) {
    git_reference* head = nullptr;
    if (git_reference_lookup(&head, repo.get(), "HEAD") == 0) {
      ReferenceHandle h(head);
      if (git_reference_type(head) == GIT_REFERENCE_SYMBOLIC) out.ref = git_reference_symbolic_target(head);
    }
    if (out.ref.empty()) return Error(clean + " does not say which branch is its default");
  }
  git_object* obj = nullptr;
  if (auto r = check(git_revparse_single(&obj, repo.get(), (out.ref + "^{commit}").c_str()),
                     "finding " + out.ref + " in " + clean);
      !r)
    return r.error();
  ObjectHandle commit(obj);
  out.sha = oid_hex(*git_object_id(obj));
  git_tree* rawtree = nullptr;
  if (auto r = check(git_commit_tree(&rawtree, reinterpret_cast<git_commit*>(obj)), "reading " + out.ref); !r)
    return r.error();
  TreeHandle tree(rawtree);
  for (const auto& dir : dirs) {
    git_tree_entry* entry = nullptr;
    if (git_tree_entry_bypath(&entry, tree.get(), dir.c_str()) != 0) continue;  // no such folder
    std::unique_ptr<git_tree_entry, decltype(&git_tree_entry_free)> e(entry, &git_tree_entry_free);
    if (git_tree_entry_type(entry) != GIT_OBJECT_TREE) continue;
    git_tree* rawsub = nullptr;
    if (git_tree_lookup(&rawsub, repo.get(), git_tree_entry_id(entry)) != 0) continue;
    TreeHandle sub(rawsub);
    for (size_t i = 0; i < git_tree_entrycount(sub.get()); ++i) {
      const git_tree_entry* f = git_tree_entry_byindex(sub.get(), i);
      if (git_tree_entry_type(f) != GIT_OBJECT_BLOB) continue;
      const std::string name = git_tree_entry_name(f);
      bool wanted = false;
      for (const auto& suf : suffixes)
        wanted |= name.size() > suf.size() && name.compare(name.size() - suf.size(), suf.size(), suf) == 0;
      if (!wanted) continue;
      git_blob* blob = nullptr;
      if (git_blob_lookup(&blob, repo.get(), git_tree_entry_id(f)) != 0) continue;
      std::unique_ptr<git_blob, decltype(&git_blob_free)> b(blob, &git_blob_free);
      const auto size = git_blob_rawsize(blob);
      if (size > (1 << 20)) continue;
      out.files.emplace_back(dir + "/" + name,
                             std::string(static_cast<const char*>(git_blob_rawcontent(blob)), static_cast<size_t>(size)));
    }
  }
  std::sort(out.files.begin(), out.files.end());
  return out;
}

}  // namespace wfrun::git
