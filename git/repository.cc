// Repository: clone, open, fetch, resolve, checkout, submodules, push.

#include <cctype>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/strings.h"
#include "git/lg2.h"

namespace wfrun::git {

using namespace lg2;

void Repository::Free::operator()(git_repository* r) const {
  if (r) git_repository_free(r);
}

Repository::Repository(git_repository* r) : repo_(r) {}
Repository::Repository(Repository&&) noexcept = default;
Repository& Repository::operator=(Repository&&) noexcept = default;
Repository::~Repository() = default;

Result<Repository> Repository::clone(const std::string& url, const std::string& dir,
                                     const RemoteOptions& opts, bool bare) {
  init();
  RemoteOptions eff = opts;
  // Credentials in the URL go to the callback; the URL libgit2 sees (and saves) is clean.
  std::string clean = take_url_credentials(url, eff.creds);
  RemoteSession s(clean, eff);
  if (auto r = s.prepare(); !r) return r.error();
  git_clone_options co = GIT_CLONE_OPTIONS_INIT;
  co.bare = bare ? 1 : 0;
  s.install(co.fetch_opts.callbacks);
  git_repository* raw = nullptr;
  debug_log("git", "clone " + s.url + " into " + dir);
  int rc = git_clone(&raw, clean.c_str(), dir.c_str(), &co);
  if (rc < 0) return s.error(rc, "cloning");
  return Repository(raw);
}

Result<Repository> Repository::open(const std::string& dir) {
  init();
  git_repository* raw = nullptr;
  int rc = git_repository_open_ext(&raw, dir.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr);
  if (rc < 0) return Error("opening the git repository " + dir + ": " + last_message(rc));
  return Repository(raw);
}

std::string Repository::path() const {
  const char* wd = git_repository_workdir(repo_.get());
  std::string p = wd ? wd : git_repository_path(repo_.get());
  if (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

bool Repository::bare() const { return git_repository_is_bare(repo_.get()) == 1; }

std::string Repository::origin_url() const { return lg2::origin_url(repo_.get()); }

Result<void> Repository::fetch(const RemoteOptions& opts,
                               const std::vector<std::string>& refspecs) {
  RemoteSession s(origin_url(), opts);
  return fetch_origin(repo_.get(), s, refspecs);
}

namespace lg2 {

bool is_pull_ref(const std::string& ref, std::string* full) {
  std::string r = starts_with(ref, "refs/") ? ref.substr(5) : ref;
  auto parts = split(r, '/');
  if (parts.size() != 3 || parts[0] != "pull" || parts[2] != "head" || parts[1].empty())
    return false;
  for (char c : parts[1])
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  if (full) *full = "refs/pull/" + parts[1] + "/head";
  return true;
}

namespace {

bool is_hex(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// 1 found, 0 missing, <0 error.
int lookup_ref_commit(git_repository* repo, const std::string& name, git_oid* out) {
  git_reference* raw = nullptr;
  int rc = git_reference_lookup(&raw, repo, name.c_str());
  if (rc == GIT_ENOTFOUND || rc == GIT_EINVALIDSPEC) return 0;
  if (rc < 0) return rc;
  ReferenceHandle ref(raw);
  git_object* obj = nullptr;
  rc = git_reference_peel(&obj, ref.get(), GIT_OBJECT_COMMIT);
  if (rc < 0) return rc;
  ObjectHandle o(obj);
  git_oid_cpy(out, git_object_id(o.get()));
  return 1;
}

}  // namespace

Result<bool> resolve_local(git_repository* repo, const std::string& ref, git_oid* out,
                           std::string* branch) {
  struct Candidate {
    std::string ref;
    std::string branch;  // set when the candidate is a branch
  };
  std::vector<Candidate> cands;
  std::string pull;
  if (is_pull_ref(ref, &pull)) {
    cands.push_back({"refs/remotes/origin/" + pull.substr(5), ""});
    cands.push_back({pull, ""});
  } else if (starts_with(ref, "refs/heads/")) {
    std::string name = ref.substr(11);
    cands.push_back({"refs/remotes/origin/" + name, name});
    cands.push_back({ref, name});
  } else if (starts_with(ref, "refs/")) {
    cands.push_back({ref, ""});
  } else {
    cands.push_back({"refs/remotes/origin/" + ref, ref});
    cands.push_back({"refs/heads/" + ref, ref});
    cands.push_back({"refs/tags/" + ref, ""});
  }
  for (const auto& c : cands) {
    int rc = lookup_ref_commit(repo, c.ref, out);
    if (rc < 0) return Error("resolving '" + ref + "': " + last_message(rc));
    if (rc == 1) {
      if (branch) *branch = c.branch;
      return true;
    }
  }
  if (ref.size() >= 4 && ref.size() <= GIT_OID_HEXSZ && is_hex(ref)) {
    git_object* obj = nullptr;
    int rc = git_revparse_single(&obj, repo, ref.c_str());
    if (rc == GIT_EAMBIGUOUS) return Error("the short sha '" + ref + "' is ambiguous");
    if (rc == GIT_ENOTFOUND) return false;
    if (rc < 0) return Error("resolving '" + ref + "': " + last_message(rc));
    ObjectHandle o(obj);
    git_object* peeled = nullptr;
    if (git_object_peel(&peeled, o.get(), GIT_OBJECT_COMMIT) < 0) return false;
    ObjectHandle p(peeled);
    git_oid_cpy(out, git_object_id(p.get()));
    if (branch) branch->clear();
    return true;
  }
  return false;
}

}  // namespace lg2

namespace {

struct Resolved {
  git_oid oid;
  std::string branch;
};

Result<Resolved> resolve_ex(git_repository* repo, const std::string& ref,
                            const RemoteOptions& opts) {
  if (ref.empty()) return Error("empty ref");
  Resolved out{};
  auto found = resolve_local(repo, ref, &out.oid, &out.branch);
  if (!found) return found.error();
  if (*found) return out;
  std::string where = lg2::origin_url(repo);
  if (where.empty()) {
    const char* wd = git_repository_workdir(repo);
    return Error("ref '" + ref + "' not found in " + (wd ? wd : git_repository_path(repo)));
  }
  // Not here: fetch once. A pull request's head is not in the default refspec.
  RemoteSession s(where, opts);
  std::string pull;
  std::vector<std::string> specs;
  if (is_pull_ref(ref, &pull)) {
    specs.push_back("+" + pull + ":refs/remotes/origin/" + pull.substr(5));
  } else {
    specs.push_back("+refs/heads/*:refs/remotes/origin/*");
    specs.push_back("+refs/tags/*:refs/tags/*");
  }
  if (auto r = fetch_origin(repo, s, specs); !r) {
    if (s.auth_failed || s.no_credentials || pull.empty()) return r.error();
    // A missing pull ref can make the fetch itself fail: that is "not found".
  }
  found = resolve_local(repo, ref, &out.oid, &out.branch);
  if (!found) return found.error();
  if (*found) return out;
  return Error("ref '" + ref + "' not found in " + where);
}

}  // namespace

Result<std::string> Repository::resolve(const std::string& ref, const RemoteOptions& opts) {
  auto r = resolve_ex(repo_.get(), ref, opts);
  if (!r) return r.error();
  return oid_hex(r->oid);
}

Result<void> Repository::checkout(const std::string& ref, const RemoteOptions& opts) {
  if (bare()) return Error("cannot check out '" + ref + "' in the bare repository " + path());
  auto r = resolve_ex(repo_.get(), ref, opts);
  if (!r) return r.error();
  git_commit* rawc = nullptr;
  if (auto c = check(git_commit_lookup(&rawc, repo_.get(), &r->oid), "checking out " + ref); !c)
    return c;
  CommitHandle commit(rawc);
  git_checkout_options co = GIT_CHECKOUT_OPTIONS_INIT;
  co.checkout_strategy = GIT_CHECKOUT_FORCE;
  if (auto c = check(git_checkout_tree(repo_.get(), reinterpret_cast<git_object*>(rawc), &co),
                     "checking out " + ref);
      !c)
    return c;
  if (!r->branch.empty()) {
    std::string local = "refs/heads/" + r->branch;
    git_reference* raw = nullptr;
    if (auto c = check(
            git_reference_create(&raw, repo_.get(), local.c_str(), &r->oid, 1, "wfrun: checkout"),
            "checking out " + ref);
        !c)
      return c;
    ReferenceHandle keep(raw);
    return check(git_repository_set_head(repo_.get(), local.c_str()), "checking out " + ref);
  }
  return check(git_repository_set_head_detached(repo_.get(), &r->oid), "checking out " + ref);
}

Result<void> Repository::update_submodules(const RemoteOptions& opts) {
  std::vector<std::string> names;
  auto collect = [](git_submodule* sm, const char* name, void* payload) -> int {
    static_cast<std::vector<std::string>*>(payload)->push_back(name);
    return 0;
  };
  if (auto c = check(git_submodule_foreach(repo_.get(), collect, &names), "listing submodules"); !c)
    return c;
  for (const auto& name : names) {
    git_submodule* raw = nullptr;
    if (auto c = check(git_submodule_lookup(&raw, repo_.get(), name.c_str()), "submodule " + name);
        !c)
      return c;
    SubmoduleHandle sm(raw);
    const char* u = git_submodule_url(sm.get());
    RemoteSession s(u ? u : name, opts);
    if (auto p = s.prepare(); !p) return p;
    git_submodule_update_options uo = GIT_SUBMODULE_UPDATE_OPTIONS_INIT;
    s.install(uo.fetch_opts.callbacks);
    debug_log("git", "submodule " + name + " from " + s.url);
    int rc = git_submodule_update(sm.get(), 1, &uo);
    if (rc < 0) return s.error(rc, "updating submodule " + name + " from");
    git_repository* subraw = nullptr;
    if (auto c = check(git_submodule_open(&subraw, sm.get()), "opening submodule " + name); !c)
      return c;
    Repository sub(subraw);
    if (auto c = sub.update_submodules(opts); !c) return c;
  }
  return {};
}

Result<std::string> Repository::head_sha() const {
  git_oid oid;
  if (auto c = check(git_reference_name_to_id(&oid, repo_.get(), "HEAD"), "reading HEAD"); !c)
    return c.error();
  return oid_hex(oid);
}

Result<void> Repository::push(const std::string& branch, const RemoteOptions& opts, bool force) {
  PushReport rep = push_branch(repo_.get(), branch, opts, force);
  if (rep.outcome != PushOutcome::kOk) return rep.error;
  return {};
}

}  // namespace wfrun::git
