// Talking to remotes: the credentials policy, user-facing errors, fetch and push.

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>

#include "base/log.h"
#include "base/strings.h"
#include "git/lg2.h"

namespace wfrun::git::lg2 {

namespace {

bool is_ssh_url(const std::string& url) {
  if (starts_with(url, "ssh://") || starts_with(url, "git+ssh://") ||
      starts_with(url, "ssh+git://"))
    return true;
  // scp-like user@host:path (no scheme, a colon before any slash)
  size_t colon = url.find(':');
  size_t slash = url.find('/');
  return url.find("://") == std::string::npos && colon != std::string::npos &&
         (slash == std::string::npos || colon < slash) && colon > 1;
}

// Exceptions never cross into libgit2: every callback body is wrapped.
template <class F>
int guarded(F&& f) {
  try {
    return f();
  } catch (...) {
    git_error_set_str(GIT_ERROR_CALLBACK, "internal error in a wfrun callback");
    return GIT_EUSER;
  }
}

int credentials_cb(git_credential** out, const char* /*url*/, const char* user_from_url,
                   unsigned int allowed, void* payload) {
  return guarded([&]() -> int {
    auto* s = static_cast<RemoteSession*>(payload);
    const Credentials& c = s->creds;
    if (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) {
      if (c.token.empty()) {
        s->no_credentials = true;
        git_error_set_str(GIT_ERROR_HTTP, "no credentials");
        return GIT_EAUTH;
      }
      // libgit2 calls again after every 401 (15 times): one rejection is final.
      if (++s->userpass_calls > 1) {
        s->auth_failed = true;
        git_error_set_str(GIT_ERROR_HTTP, "authentication failed");
        return GIT_EAUTH;
      }
      std::string user = c.username.empty() ? "x-access-token" : c.username;
      return git_credential_userpass_plaintext_new(out, user.c_str(), c.token.c_str());
    }
    std::string user = user_from_url && *user_from_url ? user_from_url
                       : c.username.empty()            ? "git"
                                                       : c.username;
    if (allowed & GIT_CREDENTIAL_SSH_KEY) {
      int tries = (c.ssh_agent ? 1 : 0) + (c.ssh_key_file.empty() ? 0 : 1);
      if (tries == 0) {
        s->no_credentials = true;
        git_error_set_str(GIT_ERROR_SSH, "no credentials");
        return GIT_EAUTH;
      }
      int attempt = ++s->ssh_calls;
      if (attempt > tries) {
        s->auth_failed = true;
        git_error_set_str(GIT_ERROR_SSH, "authentication failed");
        return GIT_EAUTH;
      }
      if (c.ssh_agent && attempt == 1) return git_credential_ssh_key_from_agent(out, user.c_str());
      std::string pub = c.ssh_key_file + ".pub";
      bool has_pub = ::access(pub.c_str(), R_OK) == 0;
      return git_credential_ssh_key_new(out, user.c_str(), has_pub ? pub.c_str() : nullptr,
                                        c.ssh_key_file.c_str(), nullptr);
    }
    if (allowed & GIT_CREDENTIAL_USERNAME) return git_credential_username_new(out, user.c_str());
    s->no_credentials = true;
    git_error_set_str(GIT_ERROR_HTTP, "no usable credential type");
    return GIT_EAUTH;
  });
}

int sideband_cb(const char* str, int len, void* payload) {
  return guarded([&]() -> int {
    auto* s = static_cast<RemoteSession*>(payload);
    if (s->remote_text.size() < 16384) s->remote_text.append(str, static_cast<size_t>(len));
    return 0;
  });
}

// Required: without it, a ref the server refuses is silently ignored by git_remote_push.
int push_update_reference_cb(const char* ref, const char* status, void* payload) {
  return guarded([&]() -> int {
    auto* s = static_cast<RemoteSession*>(payload);
    if (status) s->rejected.emplace_back(ref ? ref : "", status);
    return 0;
  });
}

// The server's own words, minus progress chatter: "line; line".
std::string remote_lines(const std::string& text) {
  std::vector<std::string> keep;
  std::string cur;
  auto flush = [&] {
    std::string line(trim(cur));
    cur.clear();
    std::string_view t = line;
    if (t.empty()) return;
    for (const char* noise : {"Resolving deltas", "Counting objects", "Compressing objects",
                              "Writing objects", "Total ", "Enumerating objects"})
      if (starts_with(t, noise)) return;
    if (std::find(keep.begin(), keep.end(), line) == keep.end()) keep.push_back(line);
  };
  for (char ch : text) {
    if (ch == '\n' || ch == '\r') {
      flush();
    } else {
      cur += ch;
    }
  }
  flush();
  return join(keep, "; ");
}

}  // namespace

RemoteSession::RemoteSession(std::string u, const RemoteOptions& opts)
    : url(redact_url(u)), creds(opts.creds), ca_file(opts.ca_file) {}

void RemoteSession::install(git_remote_callbacks& cb) {
  cb.credentials = credentials_cb;
  cb.sideband_progress = sideband_cb;
  cb.push_update_reference = push_update_reference_cb;
  cb.payload = this;
}

Result<void> RemoteSession::prepare() {
  init();
  return apply_ca_file(ca_file);
}

std::string RemoteSession::redact(const std::string& text) const {
  Redactor r;
  r.add(creds.token);
  return r.redact(text);
}

Error RemoteSession::error(int rc, const std::string& what) const {
  bool ssh = is_ssh_url(url);
  if (auth_failed) {
    return Error("authentication failed for " + url +
                 (ssh ? " (check the SSH key or agent)" : " (check the token and its scopes)"));
  }
  if (no_credentials) {
    return Error("authentication required for " + url + ": no credentials were given" +
                 (ssh ? " (give an SSH key file or use the SSH agent)"
                      : " (pass a token as secret:NAME or set GITHUB_TOKEN)"));
  }
  const git_error* e = git_error_last();
  std::string msg = redact(last_message(rc));
  // Only a failed verification is about trust: an SSL error mid-transfer (the server hung
  // up during a large push) is not, and the CA-file advice would send people the wrong way.
  std::string lower = msg;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (rc == GIT_ECERTIFICATE || (e && e->klass == GIT_ERROR_SSL &&
                                 (lower.find("certificate") != std::string::npos ||
                                  lower.find("verif") != std::string::npos))) {
    return Error("the TLS certificate of " + url + " is not trusted: " + msg +
                 " (if a proxy or a private CA signs it, pass that CA bundle with --ca-file or "
                 "WFRUN_CA_FILE)");
  }
  if (msg.find("status code: 404") != std::string::npos) {
    return Error(what + " " + url + ": repository not found (or the token cannot see it)");
  }
  return Error(what + " " + url + ": " + msg);
}

std::string origin_url(git_repository* repo) {
  git_remote* raw = nullptr;
  if (git_remote_lookup(&raw, repo, "origin") < 0) return "";
  RemoteHandle remote(raw);
  const char* u = git_remote_url(remote.get());
  return u ? redact_url(u) : "";
}

Result<void> fetch_origin(git_repository* repo, RemoteSession& session,
                          const std::vector<std::string>& refspecs, git_fetch_prune_t prune) {
  if (auto r = session.prepare(); !r) return r;
  git_remote* raw = nullptr;
  if (git_remote_lookup(&raw, repo, "origin") < 0)
    return Error("fetching: the repository has no remote 'origin'");
  RemoteHandle remote(raw);
  git_fetch_options fo = GIT_FETCH_OPTIONS_INIT;
  session.install(fo.callbacks);
  fo.prune = prune;
  std::vector<char*> specs;
  for (const auto& s : refspecs) specs.push_back(const_cast<char*>(s.c_str()));
  git_strarray arr{specs.data(), specs.size()};
  debug_log("git", "fetch " + session.url);
  int rc = git_remote_fetch(remote.get(), specs.empty() ? nullptr : &arr, &fo, nullptr);
  if (rc < 0) return session.error(rc, "fetching");
  return {};
}

PushReport push_branch(git_repository* repo, const std::string& branch, const RemoteOptions& opts,
                       bool force) {
  PushReport rep;
  auto fail = [&](PushOutcome o, Error e) {
    rep.outcome = o;
    rep.error = std::move(e);
    return rep;
  };
  RemoteSession s(origin_url(repo), opts);
  if (auto r = s.prepare(); !r) return fail(PushOutcome::kRejected, r.error());
  git_remote* raw = nullptr;
  if (git_remote_lookup(&raw, repo, "origin") < 0)
    return fail(PushOutcome::kRejected, Error("pushing: the repository has no remote 'origin'"));
  RemoteHandle remote(raw);
  git_push_options po = GIT_PUSH_OPTIONS_INIT;
  po.pb_parallelism = 0;  // the delta search (when there is one) on every core, not one
  s.install(po.callbacks);
  std::string spec = (force ? "+" : "") + ("refs/heads/" + branch) + ":refs/heads/" + branch;
  char* specp = spec.data();
  git_strarray arr{&specp, 1};
  debug_log("git", "push " + branch + " to " + s.url);
  int rc = git_remote_push(remote.get(), &arr, &po);
  std::string prefix = "the server rejected the push to " + branch + ": ";
  if (rc == GIT_ENONFASTFORWARD) {
    // libgit2 checks this before sending: the branch moved on since our last fetch.
    return fail(PushOutcome::kRace,
                Error(prefix + "non-fast-forward (the branch moved on; fetch first)"));
  }
  if (rc < 0) return fail(PushOutcome::kRejected, s.error(rc, "pushing to"));
  if (s.rejected.empty()) return rep;
  const std::string& status = s.rejected.front().second;
  std::string reason = s.redact(status);
  std::string remote_said = s.redact(remote_lines(s.remote_text));
  if (!remote_said.empty()) reason += " (remote: " + remote_said + ")";
  // Statuses git receive-pack gives when another push updated the ref first.
  bool race = !force &&
              (status == "fetch first" || status == "non-fast-forward" || status == "stale info" ||
               status == "failed to update ref" || starts_with(status, "cannot lock ref") ||
               status.find("failed to lock") != std::string::npos);
  return fail(race ? PushOutcome::kRace : PushOutcome::kRejected, Error(prefix + reason));
}

}  // namespace wfrun::git::lg2
