// `wfrun seed`: URL forms, ls-remote, and making the workspace.

#include "git/seed.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "git/actions.h"
#include "git/lg2.h"

namespace wfrun::git {

using namespace lg2;
namespace fs = std::filesystem;

namespace {

std::string strip_dot_git(std::string s) {
  if (s.size() > 4 && s.compare(s.size() - 4, 4, ".git") == 0) s.resize(s.size() - 4);
  return s;
}

// "https://github.com/" or "http://github.com/" or "https://www.github.com/".
bool github_https(const std::string& url, std::string* path) {
  for (const char* p : {"https://github.com/", "http://github.com/", "https://www.github.com/"}) {
    if (starts_with(url, p)) {
      *path = url.substr(std::string(p).size());
      return true;
    }
  }
  return false;
}

bool is_hex(const std::string& s) {
  return s.size() >= 7 && s.size() <= 40 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c));
         });
}

std::string iso_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<void> copy_tree(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to, ec);
  for (const auto& e : fs::directory_iterator(from, ec)) {
    if (e.path().filename() == ".git") continue;
    fs::copy(e.path(), to / e.path().filename(),
             fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
    if (ec) return Error("copying " + e.path().string() + ": " + ec.message());
  }
  if (ec) return Error("reading " + from.string() + ": " + ec.message());
  return {};
}

}  // namespace

Result<SeedUrl> parse_seed_url(const std::string& raw) {
  SeedUrl out;
  std::string url(trim(raw));
  if (url.empty()) return Error("no URL given");
  std::string path;
  bool github = false;
  if (github_https(url, &path)) {
    github = true;
    size_t cut = path.find_first_of("?#");
    if (cut != std::string::npos) {
      if (path[cut] == '?') {
        std::string query = path.substr(cut + 1);
        query.resize(std::min(query.size(), query.find('#')));
        for (const auto& kv : split(query, '&'))
          if (kv == "clone=true" || kv == "clone=1") out.clone = true;
      }
      path.resize(cut);
    }
  } else if (starts_with(url, "git@github.com:")) {
    github = true;
    path = url.substr(std::string("git@github.com:").size());
  }
  if (!github) {
    // Any other git URL (or a local path): taken as is.
    std::string clean = redact_url(url);
    while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
    out.clone_url = url;
    out.repo_name = strip_dot_git(clean.substr(clean.find_last_of("/:") + 1));
    if (out.repo_name.empty()) out.repo_name = "workspace";
    return out;
  }
  std::vector<std::string> parts;
  for (const auto& p : split(path, '/'))
    if (!p.empty()) parts.push_back(p);
  if (parts.size() < 2)
    return Error(url + " is not a repository URL (expected https://github.com/OWNER/REPO)");
  std::string owner = parts[0], repo = strip_dot_git(parts[1]);
  out.repo_name = repo;
  // ssh stays ssh, unless a base URL override points github.com somewhere else.
  if (starts_with(url, "git@") && !std::getenv("WFRUN_GITHUB_URL"))
    out.clone_url = "git@github.com:" + owner + "/" + repo + ".git";
  else
    out.clone_url = github_base_url() + "/" + owner + "/" + repo + ".git";
  if (parts.size() == 2) return out;
  const std::string& kind = parts[2];
  if (kind != "tree" && kind != "blob")
    return Error(url + " is not a repository, folder or notebook URL (expected .../tree/REF or " +
                 ".../blob/REF/PATH after OWNER/REPO)");
  out.tree = kind == "tree";
  out.blob = kind == "blob";
  out.rest.assign(parts.begin() + 3, parts.end());
  if (out.rest.empty()) return Error(url + " names no ref after /" + kind + "/");
  if (out.blob && out.rest.size() < 2) return Error(url + " names no file after the ref");
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> list_remote_refs(
    const std::string& url, const RemoteOptions& opts) {
  init();
  RemoteOptions eff = opts;
  std::string clean = take_url_credentials(url, eff.creds);
  RemoteSession s(clean, eff);
  if (auto r = s.prepare(); !r) return r.error();
  git_remote* raw = nullptr;
  if (auto r = check(git_remote_create_anonymous(&raw, nullptr, clean.c_str()), "reading " + s.url);
      !r)
    return r.error();
  RemoteHandle remote(raw);
  git_remote_callbacks cb = GIT_REMOTE_CALLBACKS_INIT;
  s.install(cb);
  int rc = git_remote_connect(remote.get(), GIT_DIRECTION_FETCH, &cb, nullptr, nullptr);
  if (rc < 0) return s.error(rc, "reading");
  const git_remote_head** heads = nullptr;
  size_t n = 0;
  if (int r2 = git_remote_ls(&heads, &n, remote.get()); r2 < 0) return s.error(r2, "reading");
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < n; ++i) {
    std::string name = heads[i]->name;
    if (name == "HEAD") {
      if (heads[i]->symref_target) out.emplace_back("HEAD", heads[i]->symref_target);
      continue;
    }
    out.emplace_back(name, oid_hex(heads[i]->oid));
  }
  git_remote_disconnect(remote.get());
  return out;
}

Result<std::pair<std::string, std::string>> split_ref_and_path(
    const std::vector<std::string>& segments,
    const std::vector<std::pair<std::string, std::string>>& refs, const std::string& url) {
  auto known = [&](const std::string& name) {
    for (const auto& [full, _] : refs)
      if (full == "refs/heads/" + name || full == "refs/tags/" + name) return true;
    return false;
  };
  for (size_t n = segments.size(); n >= 1; --n) {
    std::vector<std::string> ref(segments.begin(), segments.begin() + n);
    std::vector<std::string> path(segments.begin() + n, segments.end());
    if (known(join(ref, "/"))) return std::make_pair(join(ref, "/"), join(path, "/"));
  }
  if (is_hex(segments[0])) {
    std::vector<std::string> path(segments.begin() + 1, segments.end());
    return std::make_pair(segments[0], join(path, "/"));
  }
  return Error("no branch or tag of " + redact_url(url) + " matches '" + join(segments, "/") + "'");
}

Result<SeedResult> seed_workspace(const SeedRequest& req, const RemoteOptions& opts) {
  auto url = parse_seed_url(req.url);
  if (!url) return url.error();
  SeedResult out;
  out.origin = redact_url(url->clone_url);
  out.dir = req.dir.empty() ? url->repo_name : req.dir;
  std::error_code ec;
  if (fs::exists(out.dir, ec)) {
    if (!fs::is_directory(out.dir, ec)) return Error(out.dir + " exists and is not a folder");
    if (!fs::is_empty(out.dir, ec))
      return Error(out.dir + " exists and is not empty (give another folder as DIR)");
  }
  if (!req.ref.empty() && (url->tree || url->blob))
    return Error("give the ref in the URL or with --ref, not both");

  // The ref and path: REF segments with slashes are matched against the remote's refs.
  std::string ref = req.ref, path;
  auto refs = list_remote_refs(url->clone_url, opts);
  if (!refs) return refs.error();
  if (url->tree || url->blob) {
    auto split = split_ref_and_path(url->rest, *refs, url->clone_url);
    if (!split) return split.error();
    ref = split->first;
    path = split->second;
    if (url->blob && path.empty()) return Error(req.url + " names no file after the ref");
  }
  if (ref.empty()) {
    for (const auto& [name, target] : *refs)
      if (name == "HEAD" && starts_with(target, "refs/heads/")) ref = target.substr(11);
  }
  const bool clone = req.clone || url->clone;
  if (url->blob && !url->tree && fs::path(path).extension() != ".ipynb" && !clone)
    return Error(req.url +
                 " is not a notebook (.ipynb); use a /tree/ URL for a folder, or --clone");

  // Whole repository into DIR; a folder or a single notebook via a clone beside it.
  const bool whole = path.empty() || (url->blob && clone);
  fs::path target = fs::absolute(out.dir, ec);
  fs::path clone_dir = whole ? target : target / ".wfrun" / "clone";
  fs::create_directories(target, ec);
  // On failure, leave no half-made workspace behind (DIR was empty or absent).
  auto fail = [&](Error e) -> Result<SeedResult> {
    for (const auto& entry : fs::directory_iterator(target, ec)) fs::remove_all(entry.path(), ec);
    return e;
  };
  auto repo = Repository::clone(url->clone_url, clone_dir.string(), opts);
  if (!repo) return fail(repo.error());
  if (!ref.empty()) {
    if (auto r = repo->checkout(ref, opts); !r) return fail(r.error());
  }
  auto sha = repo->head_sha();
  if (!sha) return fail(sha.error());
  out.commit = *sha;
  out.ref = ref.empty() ? out.commit : ref;
  out.path = path;
  if (!path.empty()) {
    fs::path src = clone_dir / path;
    if (!fs::exists(src, ec))
      return fail(Error("path '" + path + "' does not exist in " + out.origin + " at " + out.ref));
    if (url->blob) {
      if (fs::is_directory(src, ec))
        return fail(
            Error("path '" + path + "' in " + out.origin + " is a folder; use a /tree/ URL"));
      out.notebook = whole ? path : src.filename().string();
      if (!whole) {
        fs::copy_file(src, target / out.notebook, fs::copy_options::overwrite_existing, ec);
        if (ec) return fail(Error("copying " + path + ": " + ec.message()));
      }
    } else {
      if (!fs::is_directory(src, ec))
        return fail(Error("path '" + path + "' in " + out.origin + " is a file; use a /blob/ URL"));
      if (auto r = copy_tree(src, target); !r) return r.error();
    }
    if (!whole) {
      { Repository closing = std::move(*repo); }
      fs::remove_all(clone_dir, ec);
    }
  }
  nlohmann::json ws = {{"origin", out.origin},
                       {"ref", out.ref},
                       {"commit", out.commit},
                       {"path", out.path},
                       {"time", req.now.empty() ? iso_now() : req.now}};
  if (!out.notebook.empty()) ws["notebook"] = out.notebook;
  fs::create_directories(target / ".wfrun", ec);
  std::ofstream f(target / ".wfrun" / "workspace.json", std::ios::trunc);
  f << ws.dump(2) << "\n";
  if (!f) return Error("cannot write " + (target / ".wfrun/workspace.json").string());
  return out;
}

}  // namespace wfrun::git
