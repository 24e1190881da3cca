#include "http/dashboard/local_source.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "engine/fs.h"

namespace wfrun::dashboard {

namespace {

using nlohmann::json;

bool active(engine::RunState s) {
  return s == engine::RunState::kQueued || s == engine::RunState::kRunning;
}

engine::RunFilter filter_of(const RunQuery& q) {
  engine::RunFilter f;
  f.status = q.status;
  f.workflow = q.workflow;
  f.repo = q.repo;
  f.branch = q.branch;
  f.trigger = q.trigger;
  f.limit = q.limit;
  f.before = q.before;
  f.after = q.after;
  return f;
}

/// RUN/invocation.json, or null when the run has none (recorded by an older wfrun).
json invocation(const engine::RunRecord& r) {
  auto text = engine::read_file(r.dir + "/invocation.json", 1 << 20);
  if (!text) return nullptr;
  json j = json::parse(*text, nullptr, false);
  return j.is_object() ? j : json(nullptr);
}

}  // namespace

json store_run_summary(const engine::RunRow& row) {
  const engine::RunRecord& r = row.run;
  json j = {{"id", r.id},
            {"status", engine::run_state_name(r.state)},
            {"workflow", r.workflow},
            {"workflow_name", r.workflow},
            {"number", r.number},
            {"trigger", r.trigger.event},
            {"repo", r.trigger.repo},
            {"ref", r.trigger.ref},
            {"branch", branch_of(r.trigger.ref)},
            {"sha", r.trigger.sha},
            {"started_at", time_or_null(r.started)},
            {"finished_at", time_or_null(r.finished)},
            {"gpu_seconds", row.gpu_seconds},
            {"jobs", row.jobs},
            {"jobs_done", row.jobs_done}};
  const long pr = pull_number(r.trigger.ref);
  j["pull_request"] = pr > 0 ? json(pr) : json(nullptr);
  // Only what does not change by itself: a page computes a running run's duration from
  // started_at, so live updates are sent when something happened, not every second.
  if (r.started > 0 && r.finished > 0) j["duration_s"] = std::max(0.0, r.finished - r.started);
  else j["duration_s"] = nullptr;
  if (r.trigger.parent > 0) j["parent"] = r.trigger.parent;
  return j;
}

Result<json> page_json(engine::RunIndex& index, const engine::RunFilter& filter, json runs,
                       std::int64_t newest, std::int64_t oldest) {
  json page = {{"runs", std::move(runs)}, {"newer", nullptr}, {"older", nullptr}};
  if (newest > 0) {
    auto n = index.any_beyond(filter, newest, true);
    if (!n) return n.error();
    if (*n) page["newer"] = newest;
    auto o = index.any_beyond(filter, oldest, false);
    if (!o) return o.error();
    if (*o) page["older"] = oldest;
  }
  return page;
}

Result<json> LocalRunSource::list(const RunQuery& q) {
  const engine::RunFilter f = filter_of(q);
  auto rows = index_->list(f);
  if (!rows) return rows.error();
  json runs = json::array();
  for (const auto& row : *rows) runs.push_back(store_run_summary(row));
  if (rows->empty()) return page_json(*index_, f, std::move(runs), 0, 0);
  return page_json(*index_, f, std::move(runs), rows->front().run.id, rows->back().run.id);
}

Result<json> LocalRunSource::facets() {
  auto f = index_->facets();
  if (!f) return f.error();
  return json{{"status", f->statuses}, {"workflow", f->workflows}, {"repo", f->repos},
              {"branch", f->branches}, {"trigger", f->triggers}};
}

Result<std::optional<json>> LocalRunSource::get(std::int64_t id) {
  auto r = index_->get(id);
  if (!r) return r.error();
  if (!*r) return std::optional<json>();
  const engine::RunRecord& run = **r;
  engine::RunRow row{run, 0, static_cast<int>(run.jobs.size()), 0};
  for (const auto& j : run.jobs) {
    if (j.state != engine::JobState::kPending && j.state != engine::JobState::kRunning) ++row.jobs_done;
    if (!j.gpus.empty() && j.started > 0 && j.finished > 0)
      row.gpu_seconds += static_cast<double>(j.gpus.size()) * (j.finished - j.started);
  }
  json j = store_run_summary(row);
  const json inv = invocation(run);
  j["inputs"] = inv.is_object() && inv.contains("inputs") ? inv["inputs"] : json::object();
  j["workflow_file"] = run.workflow_file;
  j["links"] = github_links("https://github.com", run.trigger.repo, run.trigger.ref, run.trigger.sha);
  struct stat st{};
  const bool cancelling = ::stat((run.dir + "/" + engine::kCancelFile).c_str(), &st) == 0;
  j["can_cancel"] = active(run.state) && !cancelling;
  if (cancelling && active(run.state)) j["cancel_requested"] = true;
  j["can_rerun"] = inv.is_object() && inv.contains("workflow_file");
  j["message"] = "";
  j["workflows"] = json::array({workflow_json(run, *shapes_.get(run), index_->state_dir())});
  return std::optional<json>(std::move(j));
}

Result<std::optional<JobRef>> LocalRunSource::job(std::int64_t id, const std::string&,
                                                  const std::string& job) {
  auto r = index_->get(id);
  if (!r) return r.error();
  if (!*r) return std::optional<JobRef>();
  auto ref = job_ref(**r, *shapes_.get(**r), job, index_->state_dir());
  if (ref && !active((*r)->state)) ref->running = false;
  return ref;
}

Reply LocalRunSource::cancel(std::int64_t id) {
  auto r = index_->get(id);
  if (!r) return {500, {{"error", r.error().str()}}};
  if (!*r) return {404, {{"error", "no run " + std::to_string(id)}}};
  const engine::RunRecord& run = **r;
  if (!active(run.state))
    return {409, {{"error", "run " + std::to_string(id) + " already ended (" +
                                engine::run_state_name(run.state) + ")"}}};
  // The engine running it (another process) checks for this file once a second.
  if (auto s = engine::write_file(run.dir + "/" + engine::kCancelFile, ""); !s)
    return {500, {{"error", s.error().str()}}};
  return {202, {{"id", id}, {"status", "cancelling"}}};
}

Reply LocalRunSource::rerun(std::int64_t id) {
  auto r = index_->get(id);
  if (!r) return {500, {{"error", r.error().str()}}};
  if (!*r) return {404, {{"error", "no run " + std::to_string(id)}}};
  const json inv = invocation(**r);
  if (!inv.is_object() || !inv.contains("workflow_file") || !inv["workflow_file"].is_string())
    return {409, {{"error", "run " + std::to_string(id) +
                                " has no invocation.json (an older wfrun recorded it): run its "
                                "workflow again from the command line"}}};
  const std::string file = inv["workflow_file"].get<std::string>();
  if (::access(file.c_str(), R_OK) != 0)
    return {409, {{"error", "the workflow file " + file + " is gone; run " + std::to_string(id) +
                                " cannot be run again"}}};
  std::map<std::string, std::string> inputs;
  if (inv.contains("inputs") && inv["inputs"].is_object())
    for (auto it = inv["inputs"].begin(); it != inv["inputs"].end(); ++it)
      if (it->is_string()) inputs[it.key()] = it->get<std::string>();
  if (!launcher_) return {501, {{"error", "this dashboard cannot start runs"}}};
  auto newest = index_->list(engine::RunFilter{});
  const std::int64_t before = newest && !newest->empty() ? newest->front().run.id : 0;
  if (auto s = launcher_(file, inputs); !s) return {500, {{"error", s.error().str()}}};
  // The new run shows up once its `wfrun run` has checked the workflow: wait a little for it,
  // so the page can open it.
  engine::RunFilter f;
  f.workflow = (*r)->workflow;
  f.after = before;
  for (int i = 0; i < 50; ++i) {
    auto rows = index_->list(f);
    if (rows && !rows->empty()) return {202, {{"id", rows->back().run.id}, {"rerun_of", id}}};
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return {202, {{"id", nullptr}, {"rerun_of", id}}};
}

}  // namespace wfrun::dashboard
