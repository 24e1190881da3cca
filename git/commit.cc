// Committing host files into a repository, and commit_and_push with its retry-on-race loop.

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "base/log.h"
#include "base/strings.h"
#include "git/commit_push.h"
#include "git/lg2.h"

namespace wfrun::git {

using namespace lg2;
namespace fs = std::filesystem;

namespace {

struct HostFile {
  std::string src;   // host path
  std::string dest;  // path in the repo
  bool executable = false;
  std::uintmax_t size = 0;
};

// "a/./b/" -> "a/b"; refuses paths that leave the repo or touch .git.
Result<std::string> clean_dest(const std::string& dest) {
  std::vector<std::string> parts;
  for (const auto& p : split(dest, '/')) {
    if (p.empty() || p == ".") continue;
    if (p == ".." || p == ".git")
      return Error("the destination '" + dest + "' is outside the repository");
    parts.push_back(p);
  }
  return join(parts, "/");
}

std::string megabytes(std::uintmax_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

// Expands directories, checks destinations and sizes (naming every file over the limit).
Result<std::vector<HostFile>> collect_files(const std::vector<FileToCommit>& files) {
  std::vector<HostFile> out;
  std::vector<std::string> too_big;
  auto add = [&](const fs::path& src, const std::string& dest) -> Result<void> {
    std::error_code ec;
    auto size = fs::file_size(src, ec);
    if (ec) return Error("cannot read '" + src.string() + "': " + ec.message());
    if (size > kMaxFileBytes) too_big.push_back(src.string() + " (" + megabytes(size) + ")");
    auto d = clean_dest(dest);
    if (!d) return d.error();
    if (d->empty()) return Error("no destination path for '" + src.string() + "'");
    struct stat st {};
    bool exec = ::stat(src.c_str(), &st) == 0 && (st.st_mode & S_IXUSR);
    out.push_back({src.string(), *d, exec, size});
    return {};
  };
  for (const auto& f : files) {
    std::error_code ec;
    fs::path src(f.src);
    auto st = fs::status(src, ec);
    if (ec || !fs::exists(st))
      return Error("cannot read '" + f.src +
                   "': " + (ec ? ec.message() : std::string("No such file or directory")));
    std::string dest = f.dest;
    if (fs::is_directory(st)) {
      std::vector<fs::path> found;
      for (auto it = fs::recursive_directory_iterator(src, ec); !ec && it != fs::end(it);
           it.increment(ec)) {
        if (it->is_regular_file()) found.push_back(it->path());
      }
      if (ec) return Error("cannot read '" + f.src + "': " + ec.message());
      std::sort(found.begin(), found.end());
      for (const auto& p : found) {
        if (auto r = add(p, dest + "/" + fs::relative(p, src).generic_string()); !r)
          return r.error();
      }
    } else {
      if (dest.empty() || dest.back() == '/') dest += src.filename().string();
      if (auto r = add(src, dest); !r) return r.error();
    }
  }
  if (!too_big.empty())
    return Error("refusing to commit files over 50 MB (GitHub rejects files over 100 MB): " +
                 join(too_big, ", "));
  return out;
}

Result<std::vector<Change>> write_blobs(git_repository* repo, const std::vector<HostFile>& in) {
  std::vector<Change> out;
  for (const auto& f : in) {
    Change c{f.dest, {}, f.executable ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB};
    if (auto r = check(git_blob_create_from_disk(&c.blob, repo, f.src.c_str()), "adding " + f.src);
        !r)
      return r.error();
    out.push_back(std::move(c));
  }
  return out;
}

// libgit2 opens a push's POST and sends the ref updates first, and only then searches for
// deltas among the objects it packs (git_packbuilder_foreach prepares the pack), sending
// nothing meanwhile. Over hundreds of MB that search takes minutes on one core, and servers drop
// a request body that stalls that long (lighttpd after 60 s, its server.max-read-idle). So above
// a size the search is skipped: objects over the pack's "big file threshold" are never
// deltified, and a threshold of 0 covers them all. libgit2 1.5's packbuilder_config reads that
// threshold from pack.deltaCacheSize (a slip in its code); pack.bigFileThreshold is git's own
// name for it, set too so the git CLI agrees when the kept clone is pushed by hand.
Status set_delta_search(git_repository* repo, bool search) {
  git_config* raw = nullptr;
  if (auto r = check(git_repository_config(&raw, repo), "reading the clone's config"); !r)
    return r.error();
  Handle<git_config, git_config_free> cfg(raw);
  for (const char* key : {"pack.bigFileThreshold", "pack.deltaCacheSize"}) {
    int rc =
        search ? git_config_delete_entry(cfg.get(), key) : git_config_set_int64(cfg.get(), key, 0);
    if (rc == GIT_ENOTFOUND) continue;
    if (auto r = check(rc, std::string("setting ") + key); !r) return r.error();
  }
  return {};
}

// "Name <email>" -> (Name, email).
std::pair<std::string, std::string> parse_author(const std::string& author) {
  std::string a(trim(author.empty() ? std::string(kDefaultAuthor) : author));
  size_t lt = a.find('<'), gt = a.rfind('>');
  if (lt == std::string::npos || gt == std::string::npos || gt < lt) return {a, ""};
  return {std::string(trim(a.substr(0, lt))), a.substr(lt + 1, gt - lt - 1)};
}

// The commit a new commit on `branch` goes on: origin's tip, the local branch when it is
// ahead of origin, else `base`; nullopt-like `*root = true` for an empty repository.
Result<git_oid> pick_parent(git_repository* repo, const std::string& branch,
                            const std::string& base, bool prefer_local, bool* root) {
  *root = false;
  git_oid origin{}, local{};
  auto o = resolve_local(repo, "refs/remotes/origin/" + branch, &origin);
  if (!o) return o.error();
  bool have_local = false;
  if (prefer_local) {
    git_reference* raw = nullptr;
    if (git_reference_lookup(&raw, repo, ("refs/heads/" + branch).c_str()) == 0) {
      ReferenceHandle ref(raw);
      if (const git_oid* id = git_reference_target(ref.get())) {
        git_oid_cpy(&local, id);
        have_local = true;
      }
    }
  }
  if (*o) {
    if (have_local && !git_oid_equal(&local, &origin) &&
        git_graph_descendant_of(repo, &local, &origin) == 1)
      return local;
    return origin;
  }
  if (have_local) return local;
  std::string where = lg2::origin_url(repo);
  if (where.empty()) where = git_repository_path(repo);
  if (!base.empty()) {
    git_oid b{};
    auto r = resolve_local(repo, base, &b);
    if (!r) return r.error();
    if (*r) return b;
    if (git_repository_is_empty(repo) != 1)
      return Error("ref '" + base + "' not found in " + where);
  }
  if (git_repository_is_empty(repo) == 1) {
    *root = true;
    return git_oid{};
  }
  return Error("branch '" + branch + "' not found in " + where + " and no base was given");
}

Result<void> set_branch(git_repository* repo, const std::string& branch, const std::string& sha) {
  git_oid oid;
  git_oid_fromstr(&oid, sha.c_str());
  git_reference* raw = nullptr;
  std::string name = "refs/heads/" + branch;
  auto r = check(git_reference_create(&raw, repo, name.c_str(), &oid, 1, "wfrun: commit"),
                 "updating " + name);
  ReferenceHandle keep(raw);
  return r;
}

}  // namespace

namespace lg2 {

Result<std::vector<Change>> prepare_changes(git_repository* repo,
                                            const std::vector<FileToCommit>& files) {
  auto host = collect_files(files);
  if (!host) return host.error();
  return write_blobs(repo, *host);
}

Result<CommitResult> build_commit(git_repository* repo, const git_oid* parent,
                                  const std::vector<Change>& changes, const std::string& message,
                                  const std::string& author) {
  CommitResult out;
  git_index* rawi = nullptr;
  if (auto r = check(git_index_new(&rawi), "committing"); !r) return r.error();
  IndexHandle index(rawi);
  CommitHandle parent_commit;
  if (parent) {
    git_commit* rawc = nullptr;
    if (auto r = check(git_commit_lookup(&rawc, repo, parent), "committing"); !r) return r.error();
    parent_commit.reset(rawc);
    git_tree* rawt = nullptr;
    if (auto r = check(git_commit_tree(&rawt, rawc), "committing"); !r) return r.error();
    TreeHandle tree(rawt);
    if (auto r = check(git_index_read_tree(index.get(), tree.get()), "committing"); !r)
      return r.error();
    out.parent = oid_hex(*parent);
  }
  for (const auto& c : changes) {
    git_index_entry e{};
    e.mode = c.mode;
    e.id = c.blob;
    e.path = c.path.c_str();
    if (auto r = check(git_index_add(index.get(), &e), "adding " + c.path); !r) return r.error();
  }
  git_oid tree_oid;
  if (auto r = check(git_index_write_tree_to(&tree_oid, index.get(), repo), "committing"); !r)
    return r.error();
  if (parent_commit && git_oid_equal(&tree_oid, git_commit_tree_id(parent_commit.get()))) {
    out.sha = out.parent;
    out.changed = false;
    return out;
  }
  git_tree* rawt = nullptr;
  if (auto r = check(git_tree_lookup(&rawt, repo, &tree_oid), "committing"); !r) return r.error();
  TreeHandle tree(rawt);
  auto [name, email] = parse_author(author);
  git_signature* raws = nullptr;
  if (auto r = check(git_signature_now(&raws, name.c_str(), email.c_str()),
                     "the author '" + author + "'");
      !r)
    return r.error();
  SignatureHandle sig(raws);
  const git_commit* parents[1] = {parent_commit.get()};
  git_oid commit_oid;
  const std::string& msg = message.empty() ? std::string(kDefaultCommitMessage) : message;
  if (auto r = check(git_commit_create(&commit_oid, repo, nullptr, sig.get(), sig.get(), nullptr,
                                       msg.c_str(), tree.get(), parent_commit ? 1 : 0, parents),
                     "committing");
      !r)
    return r.error();
  out.sha = oid_hex(commit_oid);
  out.changed = true;
  return out;
}

}  // namespace lg2

Result<CommitResult> Repository::commit_paths(const std::string& branch, const std::string& base,
                                              const std::vector<FileToCommit>& files,
                                              const std::string& message,
                                              const std::string& author) {
  if (branch.empty()) return Error("committing: no branch given");
  auto changes = prepare_changes(repo_.get(), files);
  if (!changes) return changes.error();
  bool root = false;
  auto parent = pick_parent(repo_.get(), branch, base, /*prefer_local=*/true, &root);
  if (!parent) return parent.error();
  auto res = build_commit(repo_.get(), root ? nullptr : &*parent, *changes, message, author);
  if (!res) return res.error();
  if (!res->changed) return res;
  if (auto r = set_branch(repo_.get(), branch, res->sha); !r) return r.error();
  // The branch is checked out: bring the committed files into the work tree and index.
  if (!bare()) {
    git_reference* rawh = nullptr;
    if (git_reference_lookup(&rawh, repo_.get(), "HEAD") == 0) {
      ReferenceHandle head(rawh);
      const char* target = git_reference_symbolic_target(head.get());
      if (target && target == "refs/heads/" + branch) {
        std::vector<char*> paths;
        for (const auto& c : *changes) paths.push_back(const_cast<char*>(c.path.c_str()));
        git_checkout_options co = GIT_CHECKOUT_OPTIONS_INIT;
        co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
        co.paths = {paths.data(), paths.size()};
        if (auto r = check(git_checkout_head(repo_.get(), &co), "updating the work tree"); !r)
          return r.error();
      }
    }
  }
  return res;
}

std::string manual_push_command(const std::string& dir, const std::string& branch) {
  auto quote = [](const std::string& s) {
    bool plain = !s.empty();
    for (char c : s)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || std::strchr("_./:@%+=,-", c)))
        plain = false;
    if (plain) return s;
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  };
  std::string spec = "refs/heads/" + branch + ":refs/heads/" + branch;
  return "git -C " + quote(dir) + " push origin " + quote(spec);
}

Result<CommitPushResult> commit_and_push(const CommitPushRequest& req, const RemoteOptions& opts) {
  if (req.branch.empty()) return Error("git-commit: no branch given");
  if (req.work_dir.empty()) return Error("git-commit: no work folder given");
  RemoteOptions eff = opts;
  std::string url = take_url_credentials(req.url, eff.creds);
  // Refuse big or missing files before touching the network.
  auto host = collect_files(req.files);
  if (!host) return host.error();

  std::error_code ec;
  bool reuse = fs::exists(fs::path(req.work_dir) / "HEAD", ec) ||
               fs::exists(fs::path(req.work_dir) / ".git", ec);
  Result<Repository> repo = reuse ? Repository::open(req.work_dir)
                                  : Repository::clone(url, req.work_dir, eff, /*bare=*/true);
  if (!repo) return repo.error();
  git_repository* raw = repo->raw();
  if (reuse) {
    if (repo->origin_url() != redact_url(url))
      return Error(req.work_dir + " is a clone of " + repo->origin_url() + ", not " +
                   redact_url(url));
  }
  auto changes = write_blobs(raw, *host);
  if (!changes) return changes.error();
  std::uintmax_t bytes = 0;
  for (const auto& f : *host) bytes += f.size;
  const bool search = bytes <= req.delta_search_max_bytes;
  if (!search)
    debug_log("git", megabytes(bytes) + " to push: no delta search (over " +
                         megabytes(req.delta_search_max_bytes) + ")");
  if (auto r = set_delta_search(raw, search); !r) return r.error();

  std::mt19937 rng(std::random_device{}());
  const int max_attempts = std::max(1, req.max_attempts);
  PushReport last;
  std::string sha;
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
    if (reuse || attempt > 1) {
      RemoteSession s(url, eff);
      if (auto r = fetch_origin(raw, s, {"+refs/heads/*:refs/remotes/origin/*"}); !r)
        return r.error();
    }
    bool root = false;
    // Always on origin's tip: a retry rebuilds the same changes on what won the race.
    auto parent = pick_parent(raw, req.branch, req.base, /*prefer_local=*/false, &root);
    if (!parent) return parent.error();
    auto res = build_commit(raw, root ? nullptr : &*parent, *changes, req.message, req.author);
    if (!res) return res.error();
    if (!res->changed) return CommitPushResult{res->sha, false, attempt - 1};
    sha = res->sha;
    if (auto r = set_branch(raw, req.branch, sha); !r) return r.error();
    last = push_branch(raw, req.branch, eff, /*force=*/false);
    if (last.outcome == PushOutcome::kOk) return CommitPushResult{sha, true, attempt};
    debug_log("git", "push attempt " + std::to_string(attempt) + ": " + last.error.message());
    if (last.outcome == PushOutcome::kRejected) break;
    if (attempt < max_attempts) {
      // 50 ms, 100 ms, ... up to 800 ms, times 0.5-1.5 so racing pushers spread out.
      std::uniform_real_distribution<double> jitter(0.5, 1.5);
      auto ms = static_cast<int>((50 << std::min(attempt - 1, 4)) * jitter(rng));
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    }
  }
  std::string dir = repo->path();
  std::string kept = "; the commit " + sha.substr(0, 12) + " is kept in " + dir +
                     "; push it by hand with: " + manual_push_command(dir, req.branch);
  if (last.outcome == PushOutcome::kRace)
    return Error("could not push to " + req.branch + " after " + std::to_string(max_attempts) +
                 " attempts: other pushes kept landing first" + kept);
  return Error(last.error.message() + kept);
}

}  // namespace wfrun::git
