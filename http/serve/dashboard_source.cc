#include "http/serve/dashboard_source.h"

#include <algorithm>

#include "base/strings.h"
#include "engine/fs.h"
#include "http/serve/run_page.h"
#include "http/serve/server_context.h"

namespace wfrun::serve {

namespace {

using nlohmann::json;
using dashboard::Reply;

json result_workflows(const std::string& state_dir, std::int64_t id) {
  auto text = engine::read_file(run_dir(state_dir, id) + "/result.json", 16u << 20);
  if (!text) return json::array();
  json r = json::parse(*text, nullptr, false);
  if (!r.is_object() || !r.contains("workflows") || !r["workflows"].is_array()) return json::array();
  return r["workflows"];
}

std::int64_t store_id(const json& w) {
  if (!w.contains("run_id")) return 0;
  if (w["run_id"].is_string()) return std::atoll(w["run_id"].get<std::string>().c_str());
  if (w["run_id"].is_number_integer()) return w["run_id"].get<std::int64_t>();
  return 0;
}

bool active(const std::string& status) { return status == "queued" || status == "running"; }

/// The dashboard's fields for a queue row, beside run_json's (kept as they were).
json summary(const RunRow& r, const ServerConfig& cfg, engine::RunIndex* index) {
  json j = run_json(r, cfg);
  j["trigger"] = r.request.event;
  j["branch"] = dashboard::branch_of(r.request.ref);
  const long pr = dashboard::pull_number(r.request.ref);
  j["pull_request"] = pr > 0 ? json(pr) : json(nullptr);
  if (!j.contains("started_at")) j["started_at"] = nullptr;
  if (!j.contains("finished_at")) j["finished_at"] = nullptr;
  if (!j.contains("duration_s")) j["duration_s"] = nullptr;
  double gpu = 0;
  int jobs = 0, done = 0;
  std::vector<std::string> names;
  if (index) {
    engine::RunFilter f;
    f.parent = r.id;
    f.limit = 100;
    if (auto kids = index->list(f)) {
      for (auto it = kids->rbegin(); it != kids->rend(); ++it) {
        gpu += it->gpu_seconds;
        jobs += it->jobs;
        done += it->jobs_done;
        if (std::find(names.begin(), names.end(), it->run.workflow) == names.end())
          names.push_back(it->run.workflow);
      }
    }
  }
  std::string name = join(names, ", ");
  if (name.empty() && !r.request.workflow.empty()) name = engine::file_stem(r.request.workflow);
  j["workflow_name"] = name;
  j["gpu_seconds"] = gpu;
  j["jobs"] = jobs;
  j["jobs_done"] = done;
  return j;
}

/// A store job in the shape GET /api/runs/ID had (numbers for times, `log`), with the
/// dashboard's fields added.
json compat_job(json j, std::int64_t id, const std::string& job_path) {
  for (const char* t : {"started_at", "finished_at"})
    if (j[t].is_null()) j[t] = 0;
  if (j["exit_code"].is_null()) j.erase("exit_code");
  if (j.contains("message") && j["message"].is_string() && j["message"].get<std::string>().empty())
    j.erase("message");
  j["log"] = "/api/runs/" + std::to_string(id) + "/jobs/" + job_path + "/log";
  return j;
}

}  // namespace

Reply manual_request(const ServerConfig& cfg, const json& b, RunRequest& r) {
  if (!b.is_object())
    return {400, {{"error", "expected a JSON object: {\"repo\": \"OWNER/NAME\", \"ref\": \"main\", \"workflow\": \"PATH\", \"inputs\": {}}"}}};
  auto field = [&](const char* k) -> std::string {
    return b.contains(k) && b[k].is_string() ? b[k].get<std::string>() : "";
  };
  for (const char* k : {"repo", "ref", "workflow", "sha"})
    if (b.contains(k) && !b[k].is_string()) return {400, {{"error", std::string(k) + ": expected a string"}}};
  r.event = "manual";
  r.repo = field("repo");
  if (r.repo.empty()) return {400, {{"error", "repo: required (OWNER/NAME)"}}};
  const RepoConfig* rc = cfg.repo(r.repo);
  if (!rc) return {403, {{"error", "repository " + r.repo + " is not configured"}}};
  r.repo = rc->full_name;
  r.ref = field("ref");
  r.sha = field("sha");
  if (r.ref.empty() && r.sha.empty()) return {400, {{"error", "ref: required (a branch, tag or refs/...)"}}};
  if (!r.ref.empty() && !starts_with(r.ref, "refs/")) r.ref = "refs/heads/" + r.ref;
  r.workflow = field("workflow");
  if (b.contains("inputs")) {
    if (!b["inputs"].is_object()) return {400, {{"error", "inputs: expected an object of NAME: VALUE"}}};
    for (auto it = b["inputs"].begin(); it != b["inputs"].end(); ++it) {
      if (it->is_string()) r.inputs[it.key()] = it->get<std::string>();
      else if (it->is_number() || it->is_boolean()) r.inputs[it.key()] = it->dump();
      else return {400, {{"error", "inputs." + it.key() + ": expected a string"}}};
    }
  }
  r.clone_url = rc->clone_url.empty() ? "https://github.com/" + rc->full_name + ".git" : rc->clone_url;
  return {0, nullptr};
}

Result<engine::RunIndex*> ServeRunSource::index() {
  std::lock_guard lock(mu_);
  if (!index_) {
    auto idx = engine::RunIndex::open(state_dir_);
    if (!idx) return idx.error();
    index_ = std::move(*idx);
  }
  return index_.get();
}

Result<json> ServeRunSource::list(const dashboard::RunQuery& q) {
  RunFilter f;
  f.status = q.status;
  f.repo = q.repo;
  f.event = q.trigger;
  if (!q.branch.empty()) f.refs = {q.branch, "refs/heads/" + q.branch};
  f.limit = q.limit;
  f.before = q.before;
  f.after = q.after;
  auto idx = index();
  if (!idx) return idx.error();
  if (!q.workflow.empty()) {
    // The server runs whose children ran that workflow.
    engine::RunFilter wf;
    wf.workflow = q.workflow;
    wf.limit = 500;
    f.ids.emplace();
    if (auto kids = (*idx)->list(wf))
      for (const auto& k : *kids)
        if (k.run.trigger.parent > 0) f.ids->push_back(k.run.trigger.parent);
  }
  auto rows = queue_.list(f);
  if (!rows) return rows.error();
  ConfigPtr cfg = config_.get();
  json runs = json::array();
  for (const auto& r : *rows) runs.push_back(summary(r, *cfg, *idx));
  json page = {{"runs", std::move(runs)}, {"newer", nullptr}, {"older", nullptr}};
  if (!rows->empty()) {
    const std::int64_t newest = rows->front().id, oldest = rows->back().id;
    RunFilter probe = f;
    probe.limit = 1;
    probe.before = 0;
    probe.after = newest;
    if (auto n = queue_.list(probe); n && !n->empty()) page["newer"] = newest;
    probe.after = 0;
    probe.before = oldest;
    if (auto o = queue_.list(probe); o && !o->empty()) {
      page["older"] = oldest;
      // What GET /api/runs answered before the dashboard: the next page's URL.
      std::string next = "/api/runs?limit=" + std::to_string(f.limit) + "&before=" + std::to_string(oldest);
      if (!f.status.empty()) next += "&status=" + f.status;
      if (!f.repo.empty()) next += "&repo=" + f.repo;
      page["next"] = next;
    }
  }
  return page;
}

Result<json> ServeRunSource::facets() {
  auto idx = index();
  if (!idx) return idx.error();
  auto f = (*idx)->facets();
  if (!f) return f.error();
  ConfigPtr cfg = config_.get();
  std::vector<std::string> repos;
  for (const auto& r : cfg->repositories) repos.push_back(r.full_name);
  return json{{"status", {"queued", "running", "success", "failure", "error", "skipped", "cancelled", "interrupted"}},
              {"workflow", f->workflows},
              {"repo", repos},
              {"branch", f->branches},
              {"trigger", {"push", "pull_request", "manual"}}};
}

json ServeRunSource::workflows(const RunRow& row) {
  std::vector<engine::RunRecord> kids;
  if (auto idx = index())
    if (auto k = (*idx)->children(row.id)) kids = std::move(*k);
  const std::string checkout = run_dir(state_dir_, row.id) + "/checkout/";
  auto rel = [&](const std::string& p) { return starts_with(p, checkout) ? p.substr(checkout.size()) : p; };
  json entries = result_workflows(state_dir_, row.id);
  std::vector<bool> used(kids.size(), false);
  json out = json::array();
  auto with_jobs = [&](json o, const engine::RunRecord& kid, size_t index) {
    json w = dashboard::workflow_json(kid, *shapes_.get(kid), state_dir_);
    json jobs = json::array();
    for (auto& j : w["jobs"]) {
      const std::string name = j["name"].get<std::string>();
      jobs.push_back(compat_job(j, row.id, index == 0 ? name : std::to_string(index) + "." + name));
    }
    o["jobs"] = std::move(jobs);
    o["number"] = w["number"];
    if (!o.contains("status")) o["status"] = w["status"];
    return o;
  };
  for (const auto& e : entries) {
    if (!e.is_object()) continue;
    json o = e;
    const std::int64_t sid = store_id(e);
    for (size_t k = 0; k < kids.size(); ++k) {
      if (kids[k].id != sid) continue;
      used[k] = true;
      o = with_jobs(std::move(o), kids[k], out.size());
    }
    out.push_back(std::move(o));
  }
  // While the run runs (no result.json yet): its child's store runs so far.
  for (size_t k = 0; k < kids.size(); ++k) {
    if (used[k]) continue;
    json o = {{"path", rel(kids[k].workflow_file)},
              {"name", kids[k].workflow},
              {"run_id", std::to_string(kids[k].id)},
              {"status", engine::run_state_name(kids[k].state)}};
    out.push_back(with_jobs(std::move(o), kids[k], out.size()));
  }
  return out;
}

Result<std::optional<json>> ServeRunSource::get(std::int64_t id) {
  ConfigPtr cfg = config_.get();
  // The reports before the row: finish() records a run's end and its final report in one
  // transaction, so a final report seen here means the row read next has ended too.
  json reports = json::array();
  if (auto rs = queue_.reports_of(id)) {
    for (const Report& r : *rs) {
      json o = {{"state", r.state},     {"context", r.context},   {"description", r.description},
                {"outcome", r.outcome}, {"attempts", r.attempts},
                {"target_url", with_run_key(*cfg, id, r.target_url)}};
      if (!r.last_error.empty()) o["last_error"] = r.last_error;
      if (r.outcome == "pending" && r.next_try > 0) o["next_try"] = r.next_try;
      reports.push_back(std::move(o));
    }
  }
  auto row = queue_.get(id);
  if (!row) return row.error();
  if (!*row) return std::optional<json>();
  auto idx = index();
  json j = summary(**row, *cfg, idx ? *idx : nullptr);
  json inputs = json::object();
  for (const auto& [k, v] : (*row)->request.inputs) inputs[k] = v;
  j["inputs"] = inputs;
  j["workflows"] = workflows(**row);
  j["log"] = "/api/runs/" + std::to_string(id) + "/log";
  j["reports"] = std::move(reports);
  // Web links: github.com, or the GitHub Enterprise host of github-api (https://HOST/api/v3).
  std::string web = "https://github.com";
  if (cfg->github_api != "https://api.github.com") {
    const size_t api = cfg->github_api.find("/api/");
    if (api != std::string::npos) web = cfg->github_api.substr(0, api);
  }
  j["links"] = dashboard::github_links(web, (*row)->request.repo, (*row)->request.ref, (*row)->request.sha);
  j["can_cancel"] = active((*row)->status) && !(*row)->cancel_requested;
  j["can_rerun"] = !active((*row)->status);
  return std::optional<json>(std::move(j));
}

Result<std::optional<dashboard::JobRef>> ServeRunSource::job(std::int64_t id, const std::string& workflow,
                                                            const std::string& job) {
  auto row = queue_.get(id);
  if (!row) return row.error();
  if (!*row) return std::optional<dashboard::JobRef>();
  auto idx = index();
  if (!idx) return idx.error();
  auto kids = (*idx)->children(id);
  if (!kids) return kids.error();
  const json ws = workflows(**row);
  for (size_t n = 0; n < ws.size(); ++n) {
    const std::string path = ws[n].contains("path") && ws[n]["path"].is_string() ? ws[n]["path"].get<std::string>() : "";
    if (!workflow.empty() && workflow != "#" + std::to_string(n) && workflow != path) continue;
    const std::int64_t sid = store_id(ws[n]);
    for (const auto& kid : *kids) {
      if (kid.id != sid) continue;
      auto ref = dashboard::job_ref(kid, *shapes_.get(kid), job, state_dir_);
      if (!ref) continue;
      if (!active((*row)->status)) ref->running = false;
      return ref;
    }
  }
  return std::optional<dashboard::JobRef>();
}

Reply ServeRunSource::cancel(std::int64_t id) {
  auto st = queue_.request_cancel(id);
  if (!st) {
    auto row = queue_.get(id);
    if (row && !*row) return {404, {{"error", "no run " + std::to_string(id)}}};
    return {409, {{"error", st.error().str()}}};
  }
  wake_();
  return {202, {{"id", id}, {"status", *st}}};
}

Reply ServeRunSource::rerun(std::int64_t id) {
  auto row = queue_.get(id);
  if (!row) return {500, {{"error", row.error().str()}}};
  if (!*row) return {404, {{"error", "no run " + std::to_string(id)}}};
  // The same repository, commit and workflow, as a manual run (its `on:` filters as a push of
  // the ref would, unless the run named one workflow).
  RunRequest r = (*row)->request;
  r.delivery.clear();
  r.event = "manual";
  r.base_ref.clear();
  r.payload = "{}";
  bool dup = false;
  auto ids = queue_.enqueue("", "manual", {r}, {}, &dup);
  if (!ids) return {500, {{"error", ids.error().str()}}};
  wake_();
  return {202, {{"id", ids->empty() ? json(nullptr) : json(ids->front())}, {"rerun_of", id}, {"runs", *ids}}};
}

Reply ServeRunSource::start(const json& body) {
  RunRequest r;
  Reply bad = manual_request(*config_.get(), body, r);
  if (bad.status != 0) return bad;
  bool dup = false;
  auto ids = queue_.enqueue("", "manual", {r}, {}, &dup);
  if (!ids) return {500, {{"error", ids.error().str()}}};
  wake_();
  return {202, {{"runs", *ids}}};
}

}  // namespace wfrun::serve
