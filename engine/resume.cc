#include "engine/resume.h"

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "base/strings.h"
#include "engine/fs.h"
#include "engine/job_io.h"
#include "engine/paths.h"
#include "engine/owner.h"
#include "engine/scheduler.h"
#include "engine/store.h"

namespace wfrun::engine {
namespace {

// Deeper than any workflow: nodes nested more deeply count as changed.
constexpr int kMaxDepth = 64;

// Whether YAML reads a plain scalar as something other than a string: null, a bool, a number.
bool typed_plain(const std::string& s) {
  static const std::set<std::string> kWords = {"",     "~",     "null",  "Null", "NULL",
                                               "true", "True",  "TRUE",  "false", "False",
                                               "FALSE", ".inf", ".Inf", "-.inf", ".nan", ".NaN"};
  if (kWords.count(s)) return true;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() || s.rfind("0x", 0) == 0 || s.rfind("0o", 0) == 0;
}

// A text for `n` that is the same for the same data however it is written (block or flow
// style, quoting, order of map keys); false when it is nested too deeply to tell.
bool canonical(const YAML::Node& n, std::string& out, int depth) {
  if (depth > kMaxDepth) return false;
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out += "~";
      return true;
    case YAML::NodeType::Scalar:
      // A quoted "1" and a plain 1 differ (a string and a number), a quoted "x" and a plain x
      // do not; the text is length-prefixed.
      out += (n.Tag() == "?" && typed_plain(n.Scalar()) ? "p" : "s") +
             std::to_string(n.Scalar().size()) + ":" + n.Scalar();
      return true;
    case YAML::NodeType::Sequence:
      out += "[";
      for (const auto& item : n) {
        if (!canonical(item, out, depth + 1)) return false;
        out += ",";
      }
      out += "]";
      return true;
    case YAML::NodeType::Map: {
      std::vector<std::pair<std::string, std::string>> entries;
      for (const auto& kv : n) {
        std::string k, v;
        if (!canonical(kv.first, k, depth + 1) || !canonical(kv.second, v, depth + 1)) return false;
        entries.emplace_back(std::move(k), std::move(v));
      }
      std::sort(entries.begin(), entries.end());
      out += "{";
      for (const auto& [k, v] : entries) out += k + "=" + v + ",";
      out += "}";
      return true;
    }
  }
  return false;
}

// Top-level key -> canonical text (jobs excluded), and job name -> canonical text.
struct Parts {
  std::map<std::string, std::string> top, jobs;
};

Result<Parts> parts_of(const std::string& text, const char* which) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Error(std::string(which) + " is not YAML: " + e.what());
  }
  Parts p;
  if (!root.IsMap()) return p;
  auto text_of = [&](const YAML::Node& n) {
    std::string s;
    // Two nodes too deep to compare never compare equal: the marker names the side.
    if (!canonical(n, s, 0)) s = std::string("\x01too deep in ") + which;
    return s;
  };
  for (const auto& kv : root) {
    if (!kv.first.IsScalar()) continue;
    const std::string key = kv.first.Scalar();
    if (key == "jobs" && kv.second.IsMap()) {
      for (const auto& job : kv.second)
        if (job.first.IsScalar()) p.jobs[job.first.Scalar()] = text_of(job.second);
    } else {
      p.top[key] = text_of(kv.second);
    }
  }
  return p;
}

}  // namespace

Result<WorkflowChanges> workflow_changes(const std::string& before, const std::string& after) {
  auto a = parts_of(before, "the workflow as it was");
  if (!a) return a.error();
  auto b = parts_of(after, "the workflow as it is");
  if (!b) return b.error();
  WorkflowChanges c;
  std::set<std::string> keys;
  for (const auto& [k, _] : a->top) keys.insert(k);
  for (const auto& [k, _] : b->top) keys.insert(k);
  for (const auto& k : keys) {
    auto x = a->top.find(k), y = b->top.find(k);
    if (x == a->top.end() || y == b->top.end() || x->second != y->second) c.outside_jobs.push_back(k);
  }
  for (const auto& [name, text] : b->jobs) {
    auto x = a->jobs.find(name);
    if (x == a->jobs.end())
      c.added_jobs.push_back(name);
    else if (x->second != text)
      c.changed_jobs.push_back(name);
  }
  for (const auto& [name, _] : a->jobs)
    if (!b->jobs.count(name)) c.removed_jobs.push_back(name);
  return c;
}

Result<ResumePlan> plan_resume(RunStore& store, std::int64_t id, const workflows::Workflow& wf) {
  const std::string what = "run " + std::to_string(id);
  auto rec = store.get_run(id);
  if (!rec) return Error("cannot resume " + what + ": " + rec.error().message() + " (see `wfrun runs`)");
  switch (rec->state) {
    case RunState::kQueued:
    case RunState::kRunning: {
      std::string by = rec->owner.pid > 0 ? " by wfrun process " + std::to_string(rec->owner.pid) : "";
      return Error("cannot resume " + what + ": it is still running" + by +
                   "; wait for it to end, or stop it (Ctrl-C in its terminal" +
                   (rec->owner.pid > 0 ? ", or kill " + std::to_string(rec->owner.pid) : "") +
                   ") and resume it then");
    }
    case RunState::kSucceeded:
      return Error("cannot resume " + what + ": it succeeded, so nothing is left to run; run the "
                   "workflow again with `wfrun run " + rec->workflow_file + "`");
    default:
      break;
  }

  ResumePlan plan;
  plan.from = id;
  plan.dir = rec->dir;
  if (auto text = read_file(rec->dir + "/invocation.json", 1 << 20)) {
    auto inv = nlohmann::json::parse(*text, nullptr, false);
    if (inv.is_object()) {
      if (inv.contains("executor") && inv["executor"].is_string()) plan.executor_kind = inv["executor"];
      if (inv.contains("executor_config") && inv["executor_config"].is_string())
        plan.executor_config_file = inv["executor_config"];
      if (inv.contains("executors") && inv["executors"].is_object())
        for (const auto& [job, kind] : inv["executors"].items())
          if (kind.is_string()) plan.executor_of[job] = kind.get<std::string>();
    }
  }
  auto before = read_file(rec->dir + "/workflow.yaml");
  if (!before)
    return Error("cannot resume " + what + ": its copy of the workflow is missing (" +
                 before.error().message() + "); run the workflow afresh with `wfrun run FILE`");
  auto changes = workflow_changes(*before, wf.text);
  if (!changes) return Error("cannot resume " + what + ": " + changes.error().message());
  if (!changes->outside_jobs.empty()) {
    std::vector<std::string> q;
    for (const auto& k : changes->outside_jobs) q.push_back("'" + k + "'");
    return Error(
        wf.file + ": cannot resume " + what + ": " + join(q, ", ") +
        (q.size() == 1 ? " has" : " have") +
        " changed since it ran, which may change what any of its jobs did; undo the change to "
        "resume (the run's workflow is " + rec->dir + "/workflow.yaml), or run the workflow "
        "afresh with `wfrun run " + wf.file + "`");
  }
  std::set<std::string> changed(changes->changed_jobs.begin(), changes->changed_jobs.end());
  for (const auto& n : changes->changed_jobs)
    plan.notes.push_back("job '" + n + "' changed since run " + std::to_string(id) +
                         ": it runs again, as it is now");
  for (const auto& n : changes->added_jobs)
    plan.notes.push_back("job '" + n + "' is new since run " + std::to_string(id));
  for (const auto& n : changes->removed_jobs)
    plan.notes.push_back("job '" + n + "' of run " + std::to_string(id) +
                         " is no longer in the workflow");

  std::map<std::string, const JobResult*> old;
  for (const auto& j : rec->jobs) {
    old[j.name] = &j;
    if (j.state == JobState::kInterrupted || j.state == JobState::kRunning) plan.unfinished.insert(j.name);
  }
  // In an order where a job's needs come first: a job is reused when it succeeded, did not
  // change, and every job it needs is reused.
  Scheduler sched(wf);
  for (size_t i : sched.start_order()) {
    const workflows::Job& job = wf.jobs[i];
    auto it = old.find(job.name);
    if (it == old.end() || changed.count(job.name)) continue;
    bool needs_reused = std::all_of(job.needs.begin(), job.needs.end(),
                                    [&](const std::string& n) { return plan.reuse.count(n) > 0; });
    if (!needs_reused) continue;
    if (it->second->state == JobState::kInterrupted || it->second->state == JobState::kRunning) {
      plan.adopt.insert(job.name);
      continue;
    }
    if (it->second->state != JobState::kSucceeded) continue;
    JobResult r = *it->second;
    r.message = "reused from run " + std::to_string(id);
    // The store keeps string outputs masked; the jobs that need them get what the job wrote.
    const JobDirs dirs = job_dirs(rec->dir, job.name);
    for (const auto& out : job.outputs) {
      if (out.type != workflows::IoType::kString) continue;
      auto text = read_file(dirs.outputs + "/" + out.name, kMaxStringOutput);
      if (!text) continue;
      std::string v = std::move(*text);
      while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
      r.outputs[out.name] = std::move(v);
    }
    plan.reuse[job.name] = std::move(r);
  }
  return plan;
}

std::vector<std::string> ResumePlan::left_behind(const std::string& executor_kind) const {
  std::vector<std::string> out;
  for (const auto& name : unfinished) {
    auto kind = executor_of.find(name);
    if (!adopt.count(name) && kind != executor_of.end() && kind->second == executor_kind)
      out.push_back(name);
  }
  return out;
}

void resume_with(ResumePlan plan, RunOptions& opts) {
  opts.reuse = std::move(plan.reuse);
  opts.resumed_run = plan.from;
  opts.resumed_dir = std::move(plan.dir);
  opts.adopt = std::move(plan.adopt);
}

}  // namespace wfrun::engine
