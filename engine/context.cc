#include "engine/context.h"

#include <cstdlib>

#include "base/strings.h"
#include "engine/process.h"
#include "workflows/expr.h"

namespace wfrun::engine {

namespace {

std::string json_text(const nlohmann::json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return "";
  return j.dump();
}

// a.b.0.c below `root`.
const nlohmann::json* json_path(const nlohmann::json& root, std::string_view path) {
  const nlohmann::json* cur = &root;
  for (const auto& part : split(path, '.')) {
    if (cur->is_object()) {
      auto it = cur->find(part);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array() && !part.empty() &&
               part.find_first_not_of("0123456789") == std::string::npos && part.size() < 9) {
      size_t i = std::stoul(part);
      if (i >= cur->size()) return nullptr;
      cur = &(*cur)[i];
    } else {
      return nullptr;
    }
  }
  return cur;
}

std::optional<std::string> git(const std::string& dir, std::vector<std::string> args) {
  ProcessSpec spec;
  spec.argv = {"git", "-C", dir.empty() ? "." : dir};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  for (const char* k : {"PATH", "HOME"})
    if (const char* v = std::getenv(k)) spec.env.push_back(std::string(k) + "=" + v);
  auto r = run_command(spec, 64 * 1024);
  if (!r || !r->status.success()) return std::nullopt;
  std::string out(trim(r->output));
  if (out.empty()) return std::nullopt;
  return out;
}

// "https://github.com/acme/proj.git", "git@github.com:acme/proj" -> "acme/proj".
std::string repository_from_url(std::string url) {
  if (url.size() > 4 && url.compare(url.size() - 4, 4, ".git") == 0) url.resize(url.size() - 4);
  while (!url.empty() && url.back() == '/') url.pop_back();
  size_t last = url.find_last_of("/:");
  if (last == std::string::npos) return url;
  size_t prev = url.find_last_of("/:", last - 1);
  return url.substr(prev == std::string::npos ? 0 : prev + 1);
}

}  // namespace

GithubInfo::GithubInfo(std::optional<nlohmann::json> event, std::string repo_dir)
    : event_(std::move(event)), repo_dir_(std::move(repo_dir)) {}

void GithubInfo::load() {
  if (loaded_) return;
  loaded_ = true;
  auto set = [&](const char* key, const nlohmann::json* v) {
    if (v && !v->is_null() && !(v->is_string() && v->get<std::string>().empty()))
      values_[key] = json_text(*v);
  };
  if (event_) {
    const nlohmann::json& e = *event_;
    set("sha", json_path(e, "after"));
    if (!values_.contains("sha")) set("sha", json_path(e, "pull_request.head.sha"));
    set("ref", json_path(e, "ref"));
    if (!values_.contains("ref")) {
      if (const auto* n = json_path(e, "pull_request.number"))
        values_["ref"] = "refs/pull/" + json_text(*n) + "/merge";
    }
    set("repository", json_path(e, "repository.full_name"));
    set("url", json_path(e, "repository.clone_url"));
    if (!values_.contains("url")) set("url", json_path(e, "repository.html_url"));
    // A pull request's ref names a merge commit GitHub makes; check out its head instead.
    if (json_path(e, "pull_request.head.sha"))
      set("checkout_ref", json_path(e, "pull_request.head.sha"));
    else if (values_.contains("ref"))
      values_["checkout_ref"] = values_["ref"];
    return;
  }
  if (auto sha = git(repo_dir_, {"rev-parse", "HEAD"})) values_["sha"] = *sha;
  if (auto ref = git(repo_dir_, {"symbolic-ref", "-q", "HEAD"}))
    values_["ref"] = *ref;
  else if (values_.contains("sha"))
    values_["ref"] = values_["sha"];
  if (auto url = git(repo_dir_, {"remote", "get-url", "origin"})) {
    values_["url"] = *url;
    values_["repository"] = repository_from_url(*url);
  }
  if (values_.contains("ref")) values_["checkout_ref"] = values_["ref"];
}

std::optional<std::string> GithubInfo::lookup(std::string_view path) {
  if (starts_with(path, "event.") || path == "event") {
    if (!event_) return std::nullopt;
    const nlohmann::json* v = path == "event" ? &*event_ : json_path(*event_, path.substr(6));
    if (!v) return std::nullopt;
    return json_text(*v);
  }
  load();
  if (path == "url" || path == "checkout_ref") return std::nullopt;  // internal keys
  auto it = values_.find(std::string(path));
  if (it == values_.end()) return std::nullopt;
  return json_text(*it);
}

std::optional<std::string> GithubInfo::url() {
  load();
  auto it = values_.find("url");
  return it == values_.end() ? std::nullopt : std::optional<std::string>(json_text(*it));
}

std::optional<std::string> GithubInfo::checkout_ref() {
  load();
  auto it = values_.find("checkout_ref");
  return it == values_.end() ? std::nullopt : std::optional<std::string>(json_text(*it));
}

std::optional<std::string> workflow_input_value(const workflows::Workflow& wf,
                                                const RunOptions& opts, const std::string& name) {
  if (auto it = opts.inputs.find(name); it != opts.inputs.end()) return it->second;
  const workflows::WorkflowInput* in = wf.input(name);
  if (!in) return std::nullopt;
  if (in->value) return in->value;
  if (in->ref) return in->ref;
  return std::nullopt;
}

Resolver::Resolver(const workflows::Workflow& wf, const RunOptions& opts, GithubInfo& github,
                   JobLookup jobs)
    : wf_(wf), opts_(opts), github_(github), jobs_(std::move(jobs)) {}

Result<std::string> Resolver::resolve(const workflows::Job& job, const std::string& field,
                                      const std::string& text,
                                      const std::map<std::string, std::string>* env) const {
  if (auto name = workflows::secret_name(text)) {
    auto it = opts_.secrets.find(*name);
    if (it == opts_.secrets.end()) return Error(field + ": unknown secret '" + *name + "'");
    return it->second;
  }
  if (text == "context.event.github.url" || text == "context.event.github.ref") {
    const std::string key = text.back() == 'l' ? "url" : "ref";
    // Without an event, the spec's own `context:` (a Gradient run spec) beats the checkout.
    if (auto it = wf_.github_context.find(key); !opts_.event && it != wf_.github_context.end())
      return it->second;
    auto v = key == "url" ? github_.url() : github_.checkout_ref();
    if (!v)
      return Error(field + ": cannot resolve '" + text +
                   "': no event and no git checkout with an 'origin' remote");
    return *v;
  }
  if (!workflows::has_expression(text)) return text;
  auto lookup = [&](const std::string& path) -> std::optional<std::string> {
    std::string_view p = path;
    if (starts_with(p, "inputs.")) return workflow_input_value(wf_, opts_, path.substr(7));
    if (starts_with(p, "env.")) {
      if (!env) return std::nullopt;
      auto it = env->find(path.substr(4));
      if (it == env->end()) return std::nullopt;
      return it->second;
    }
    if (p == "run.id") return std::to_string(run_id_);
    if (p == "run.number") return std::to_string(run_number_);
    if (starts_with(p, "github.")) return github_.lookup(p.substr(7));
    if (starts_with(p, "jobs.")) {
      // jobs.JOB.outputs.NAME; an output a finished job did not produce (it was skipped, say)
      // is the empty string, as in GitHub Actions.
      auto parts = split(p.substr(5), '.');
      if (parts.size() != 3 || parts[1] != "outputs") return std::nullopt;
      const workflows::Job* producer = wf_.job(parts[0]);
      if (!producer) return std::nullopt;
      const JobResult* r = jobs_ ? jobs_(parts[0]) : nullptr;
      if (r) {
        auto it = r->outputs.find(parts[2]);
        if (it != r->outputs.end()) return it->second;
      }
      return std::string();
    }
    return std::nullopt;
  };
  auto r = workflows::interpolate(text, lookup);
  if (!r) return Error(field + ": " + r.error().message());
  return *r;
}

Result<std::map<std::string, std::string>> Resolver::env(const workflows::Job& job) const {
  std::map<std::string, std::string> raw;
  for (const auto& [k, v] : job.env) {
    if (auto name = workflows::secret_name(v)) {
      auto it = opts_.secrets.find(*name);
      if (it == opts_.secrets.end())
        return Error("jobs." + job.name + ".env." + k + ": unknown secret '" + *name + "'");
      raw[k] = it->second;
    } else {
      raw[k] = v;
    }
  }
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : raw) {
    auto r = resolve(job, "jobs." + job.name + ".env." + k, v, &raw);
    if (!r) return r.error();
    out[k] = std::move(*r);
  }
  return out;
}

Status Resolver::resolve_json(const workflows::Job& job, const std::string& field,
                              workflows::Json& j,
                              const std::map<std::string, std::string>& env) const {
  if (j.is_string()) {
    auto r = resolve(job, field, j.get<std::string>(), &env);
    if (!r) return r.error();
    j = std::move(*r);
  } else if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it)
      if (auto s = resolve_json(job, field + "." + it.key(), it.value(), env); !s) return s;
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i)
      if (auto s = resolve_json(job, field + "[" + std::to_string(i) + "]", j[i], env); !s)
        return s;
  }
  return {};
}

Result<workflows::Json> Resolver::with(const workflows::Job& job,
                                       const std::map<std::string, std::string>& env) const {
  workflows::Json w = job.with;
  if (auto s = resolve_json(job, "jobs." + job.name + ".with", w, env); !s) return s.error();
  return w;
}

}  // namespace wfrun::engine
