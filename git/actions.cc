#include "git/actions.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>

#include "base/self_exe.h"
#include "engine/store.h"
#include "git/action_util.h"
#include "git/clone_cache.h"
#include "git/lg2.h"
#include "engine/output.h"

namespace wfrun::git {
namespace {

namespace fs = std::filesystem;

std::string env_or(const char* name, const std::string& fallback = "") {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// The job's volume outputs.
std::vector<std::string> volume_outputs(const workflows::Job& job) {
  std::vector<std::string> out;
  for (const auto& o : job.outputs)
    if (o.type == workflows::IoType::kVolume) out.push_back(o.name);
  return out;
}

// The token for a remote when no `password` is given: the GITHUB_TOKEN secret, the job's env
// GITHUB_TOKEN, or wfrun's own GITHUB_TOKEN.
std::string default_token(const engine::ActionContext& ctx) {
  if (ctx.secrets) {
    if (auto it = ctx.secrets->find("GITHUB_TOKEN");
        it != ctx.secrets->end() && !it->second.empty())
      return it->second;
  }
  if (auto it = ctx.env.find("GITHUB_TOKEN"); it != ctx.env.end() && !it->second.empty())
    return it->second;
  return env_or("GITHUB_TOKEN");
}

bool truthy(const workflows::Json& with, const std::string& key) {
  if (!with.contains(key)) return false;
  const auto& v = with[key];
  return v.is_boolean() ? v.get<bool>() : (v.is_string() && v.get<std::string>() == "true");
}

bool plain_http(const std::string& url) {
  if (url.size() < 7) return false;
  std::string scheme = url.substr(0, 7);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return scheme == "http://";
}

// Whether `url` carries credentials of its own (https://user:password@host or TOKEN@host).
bool url_has_credentials(const std::string& url) {
  Credentials c;
  lg2::take_url_credentials(url, c);
  return !c.token.empty();
}

Error plain_http_error(const workflows::Job& job, const std::string& key) {
  return Error(detail::field(job, key),
               job.uses + " refuses to send " +
                   (key == "password" ? "`password`" : "the credentials in `url`") +
                   " over plain http://: HTTP Basic authentication carries it unencrypted, "
                   "readable by anyone on the network path. Use an https:// URL, or set "
                   "`insecure: true` if you accept that");
}

}  // namespace

namespace detail {

Location field(const workflows::Job& job, const std::string& key) {
  Location loc = job.where;
  loc.field = "jobs." + job.name + ".with." + key;
  return loc;
}

Status check_plain_http(const workflows::Job& job) {
  const auto& w = job.with;
  if (!w.contains("url") || !w["url"].is_string() || truthy(w, "insecure")) return {};
  const std::string url = w["url"].get<std::string>();
  if (!plain_http(url)) return {};
  if (w.contains("password") && !(w["password"].is_string() && w["password"].get<std::string>().empty()))
    return plain_http_error(job, "password");
  if (url_has_credentials(url)) return plain_http_error(job, "url");
  return {};
}

Status add_remote(const engine::ActionContext& ctx, const std::string& url,
                  engine::ActionCommand& cmd) {
  Credentials creds;
  creds.username = ctx.arg("username");
  std::string password = ctx.arg("password");
  // Gradient's docs pass it as the job's env GIT_PASSWORD (`env: {GIT_PASSWORD: secret:N}`).
  if (auto it = ctx.env.find("GIT_PASSWORD"); password.empty() && it != ctx.env.end())
    password = it->second;
  const std::string fallback = password.empty() ? default_token(ctx) : "";
  creds.token = password.empty() ? fallback : password;
  std::string clean = lg2::take_url_credentials(url, creds);
  if (plain_http(clean) && !creds.token.empty() && !truthy(ctx.with, "insecure")) {
    if (!password.empty()) return plain_http_error(ctx.job, "password");
    if (fallback.empty()) return plain_http_error(ctx.job, "url");
    // Nobody asked for this token to go to that server: do not offer it.
    creds = Credentials{};
    creds.username = ctx.arg("username");
    if (ctx.output)
      ctx.output->line("wfrun: not offering GITHUB_TOKEN to a plain http:// server (set "
                       "`insecure: true` to send it unencrypted)");
  }
  cmd.argv.insert(cmd.argv.end(), {"--url", clean});
  if (!creds.username.empty()) cmd.argv.insert(cmd.argv.end(), {"--username", creds.username});
  if (!creds.token.empty()) cmd.env[kTokenEnv] = creds.token;
  if (std::string ca = env_or("WFRUN_CA_FILE"); !ca.empty())
    cmd.argv.insert(cmd.argv.end(), {"--ca-file", ca});
  return {};
}

}  // namespace detail

using detail::field;

Status GitCheckoutAction::check(const workflows::Job& job) const {
  const auto& w = job.with;
  if (!w.contains("url") || !w["url"].is_string() || w["url"].get<std::string>().empty())
    return Error(field(job, "url"), "git-checkout@v1 needs `url:` (the repository to clone)");
  if (!w.contains("path")) {
    auto vols = volume_outputs(job);
    if (vols.size() != 1)
      return Error(field(job, "path"),
                   "git-checkout@v1 clones into the job's volume output, and job '" + job.name +
                       "' has " + std::to_string(vols.size()) +
                       ": declare one (outputs: {src: {type: volume}}) or give `path:`");
  }
  return detail::check_plain_http(job);
}

Result<engine::ActionCommand> GitCheckoutAction::command(const engine::ActionContext& ctx) const {
  std::string url = ctx.arg("url");
  if (url.empty()) return Error(field(ctx.job, "url"), "git-checkout@v1 needs `url:`");
  std::string dest = ctx.arg("path");
  if (dest.empty()) {
    auto vols = volume_outputs(ctx.job);
    if (vols.size() != 1) return check(ctx.job).error();
    dest = ctx.dirs.outputs + "/" + vols[0];
  } else if (dest[0] != '/') {
    dest = ctx.dirs.outputs + "/" + dest;  // a folder of /outputs
  }
  std::string state = ctx.store ? ctx.store->state_dir() : ctx.dirs.dir;
  engine::ActionCommand cmd;
  cmd.argv = {self_exe(), "git-checkout"};
  if (auto s = detail::add_remote(ctx, url, cmd); !s) return s.error();
  cmd.argv.insert(cmd.argv.end(), {"--dest", dest, "--cache", state + "/git-cache"});
  if (std::string ref = ctx.arg("ref"); !ref.empty())
    cmd.argv.insert(cmd.argv.end(), {"--ref", ref});
  if (truthy(ctx.with, "submodules")) cmd.argv.push_back("--submodules");
  return cmd;
}

void register_git_actions(engine::ActionRegistry& registry) {
  registry.add("git-checkout@v1", std::make_shared<GitCheckoutAction>());
  registry.add("git-commit@v1", std::make_shared<GitCommitAction>());
}

Result<std::string> run_checkout(const CheckoutRequest& req, const RemoteOptions& opts) {
  std::error_code ec;
  fs::create_directories(req.dest, ec);
  if (ec) return Error("cannot create " + req.dest + ": " + ec.message());
  auto repo = cached_clone(req.cache_dir, req.url, req.dest, opts);
  if (!repo) return repo.error();
  if (!req.ref.empty()) {
    if (auto r = repo->checkout(req.ref, opts); !r) return r.error();
  }
  if (req.submodules) {
    if (auto r = repo->update_submodules(opts); !r) return r.error();
  }
  return repo->head_sha();
}

}  // namespace wfrun::git
