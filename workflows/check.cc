// WorkflowParser: checks across fields, once the whole model is read: needs, cycles,
// references between jobs, action inputs, `${{ }}` references.

#include <algorithm>
#include <functional>

#include "base/strings.h"
#include "workflows/parse_internal.h"

namespace wfrun::workflows::internal {
namespace {

std::vector<std::string> job_names(const Workflow& wf, const std::string& except = "") {
  std::vector<std::string> out;
  for (const auto& j : wf.jobs) {
    if (j.name != except) out.push_back(j.name);
  }
  return out;
}

std::vector<std::string> input_names(const Workflow& wf) {
  std::vector<std::string> out;
  for (const auto& i : wf.inputs) out.push_back(i.name);
  return out;
}

std::vector<std::string> output_names(const Job& job) {
  std::vector<std::string> out;
  for (const auto& o : job.outputs) out.push_back(o.name);
  return out;
}

// The needs of a job without repeats, self-needs or unknown jobs.
std::vector<std::string> known_needs(const Workflow& wf, const Job& job) {
  std::vector<std::string> out;
  for (const auto& n : job.needs) {
    if (n == job.name || !wf.job(n)) continue;
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  }
  return out;
}

}  // namespace

void WorkflowParser::check_model() {
  check_needs();
  check_cycles();
  // Every job's transitive needs, memoized as bitsets over job indices:
  // ancestors(j) = needs(j) | ancestors(each need). (Cycles are reported above; the walk
  // stops at them.) A 200-job DAG with 20 needs a job is checked in microseconds.
  const size_t n = wf_.jobs.size(), words = (n + 63) / 64;
  job_index_.clear();
  for (size_t i = 0; i < n; ++i) job_index_.emplace(wf_.jobs[i].name, i);
  ancestors_.assign(n, std::vector<uint64_t>(words, 0));
  std::vector<int> state(n, 0);  // 0 new, 1 in progress, 2 done
  std::function<void(size_t)> visit = [&](size_t i) {
    state[i] = 1;
    for (const auto& need : wf_.jobs[i].needs) {
      auto it = job_index_.find(need);
      if (it == job_index_.end() || it->second == i) continue;
      size_t k = it->second;
      ancestors_[i][k / 64] |= uint64_t{1} << (k % 64);
      if (state[k] == 0) visit(k);
      if (state[k] == 2) {
        for (size_t w = 0; w < words; ++w) ancestors_[i][w] |= ancestors_[k][w];
      }
    }
    state[i] = 2;
  };
  for (size_t i = 0; i < n; ++i) {
    if (state[i] == 0) visit(i);
  }
  resolve_legacy_volumes();
  check_job_inputs();
  check_action_io();
  check_expressions();
}

bool WorkflowParser::needs_transitively(const std::string& job, const std::string& dep) const {
  auto j = job_index_.find(job), d = job_index_.find(dep);
  if (j == job_index_.end() || d == job_index_.end()) return false;
  return (ancestors_[j->second][d->second / 64] >> (d->second % 64)) & 1;
}

void WorkflowParser::check_needs() {
  for (const Job& job : wf_.jobs) {
    for (size_t i = 0; i < job.needs.size(); ++i) {
      const std::string& n = job.needs[i];
      if (std::find(job.needs.begin(), job.needs.begin() + i, n) != job.needs.begin() + i) {
        continue;  // a repeat, reported by read_needs
      }
      if (n == job.name) {
        error(needs_loc(job, i), "job '" + job.name + "' needs itself");
      } else if (!wf_.job(n)) {
        error(needs_loc(job, i), "job '" + job.name + "' needs unknown job '" + n + "'" +
                                     did_you_mean(n, job_names(wf_, job.name)));
      }
    }
  }
}

void WorkflowParser::check_cycles() {
  std::map<std::string, int> color;  // 0 new, 1 on the stack, 2 done
  std::vector<std::string> stack;
  std::vector<std::string> cycle;
  std::function<bool(const std::string&)> visit = [&](const std::string& name) {
    color[name] = 1;
    stack.push_back(name);
    for (const auto& n : known_needs(wf_, *wf_.job(name))) {
      if (color[n] == 1) {
        auto from = std::find(stack.begin(), stack.end(), n);
        cycle.assign(from, stack.end());
        return true;
      }
      if (color[n] == 0 && visit(n)) return true;
    }
    stack.pop_back();
    color[name] = 2;
    return false;
  };
  for (const Job& job : wf_.jobs) {
    if (color[job.name] == 0 && visit(job.name)) break;
  }
  if (cycle.empty()) return;
  // Start the cycle at the job that comes first in the file.
  auto index = [&](const std::string& n) {
    for (size_t i = 0; i < wf_.jobs.size(); ++i) {
      if (wf_.jobs[i].name == n) return i;
    }
    return wf_.jobs.size();
  };
  auto first = std::min_element(cycle.begin(), cycle.end(),
                                [&](const auto& a, const auto& b) { return index(a) < index(b); });
  std::rotate(cycle.begin(), first, cycle.end());
  const Job& start = *wf_.job(cycle[0]);
  const std::string& next = cycle.size() > 1 ? cycle[1] : cycle[0];
  size_t at = std::find(start.needs.begin(), start.needs.end(), next) - start.needs.begin();
  cycle.push_back(cycle[0]);
  error(needs_loc(start, at), "dependency cycle: " + join(cycle, " -> "));
}

// Gradient's first workflow syntax (still in its docs and in early .gradient/workflows files)
// named volumes instead of wiring them: `git-checkout@v1` declared the volume it fills as an
// input `{type: volume}`, and later jobs declared the same `{type: volume}` input to read it.
// Such a checkout input becomes the job's volume output, and such a reader's input the output
// of that name of a job it needs (directly or not; it then needs that job directly too).
void WorkflowParser::resolve_legacy_volumes() {
  auto bare_volume = [](const JobInput& in) {
    return in.source == JobInput::Source::kInline && in.type == IoType::kVolume && !in.ref;
  };
  for (Job& job : wf_.jobs) {
    if (job.uses != "git-checkout@v1") continue;
    for (auto it = job.inputs.begin(); it != job.inputs.end();) {
      if (!bare_volume(*it) || job.output(it->name)) {
        ++it;
        continue;
      }
      JobOutput out;
      out.name = it->name;
      out.type = IoType::kVolume;
      out.where = it->where;
      job.outputs.push_back(out);
      it = job.inputs.erase(it);
    }
  }
  for (Job& job : wf_.jobs) {
    for (JobInput& in : job.inputs) {
      if (!bare_volume(in)) continue;
      std::vector<std::string> producers;
      for (const Job& other : wf_.jobs) {
        const JobOutput* out = other.output(in.name);
        if (&other != &job && out && out->type == IoType::kVolume &&
            needs_transitively(job.name, other.name))
          producers.push_back(other.name);
      }
      if (producers.size() == 1) {
        in.source = JobInput::Source::kJobOutput;
        in.job = producers[0];
        in.from = in.name;
        // The volume was the workflow's, not one job's: a job needed only indirectly counts.
        if (std::find(job.needs.begin(), job.needs.end(), in.job) == job.needs.end())
          job.needs.push_back(in.job);
        continue;
      }
      const std::string what = "input '" + in.name + "' of job '" + job.name + "'";
      if (producers.empty()) {
        error(in.where, what + " is a volume with no source: read a volume that a job it needs "
                               "writes (" + in.name + ": JOB.outputs.NAME), or give a folder "
                               "with 'with: ref: PATH'");
      } else {
        error(in.where, what + " could be the volume '" + in.name + "' of " +
                            join(producers, " or ") + ": say which (" + in.name + ": " +
                            producers[0] + ".outputs." + in.name + ")");
      }
    }
  }
}

void WorkflowParser::check_job_inputs() {
  for (Job& job : wf_.jobs) {
    for (JobInput& in : job.inputs) {
      Location l = in.where;
      auto v = value_locs_.find("jobs." + job.name + ".inputs." + in.name);
      if (v != value_locs_.end()) l = v->second;
      const std::string reads = "job '" + job.name + "' reads ";
      const std::string untyped = job.name + "." + in.name;
      if (in.source == JobInput::Source::kWorkflowInput) {
        const WorkflowInput* wi = wf_.input(in.from);
        if (!wi) {
          std::string hint = did_you_mean(in.from, input_names(wf_));
          error(l, reads + "workflow.inputs." + in.from + ", but the workflow declares no input '" +
                       in.from + "'" +
                       (hint.empty() ? "; declare it under the top-level 'inputs:'" : hint));
          untyped_job_inputs_.insert(untyped);
          continue;
        }
        in.type = wi->type;
        if (untyped_inputs_.count(wi->name)) untyped_job_inputs_.insert(untyped);
      } else if (in.source == JobInput::Source::kJobOutput) {
        const std::string ref = in.job + ".outputs." + in.from;
        untyped_job_inputs_.insert(untyped);  // until resolved below
        const Job* producer = wf_.job(in.job);
        if (!producer) {
          error(l, reads + ref + ", but there is no job '" + in.job + "'" +
                       did_you_mean(in.job, job_names(wf_, job.name)));
          continue;
        }
        if (producer == &job) {
          error(l, reads + "its own output " + ref + "; outputs are read by later jobs");
          continue;
        }
        const JobOutput* out = producer->output(in.from);
        if (!out) {
          error(l, reads + ref + ", but job '" + in.job + "' declares no output '" + in.from + "'" +
                       did_you_mean(in.from, output_names(*producer)));
          continue;
        }
        if (std::find(job.needs.begin(), job.needs.end(), in.job) == job.needs.end()) {
          error(l, reads + ref + " but does not list '" + in.job + "' in needs");
          continue;
        }
        in.type = out->type;
        if (!untyped_outputs_.count(in.job + "." + in.from)) untyped_job_inputs_.erase(untyped);
      }
    }
  }
}

void WorkflowParser::check_action_io() {
  for (const Job& job : wf_.jobs) {
    auto s = specs_.find(job.name);
    if (s == specs_.end()) continue;
    const ActionSpec& spec = *s->second;
    for (const ActionIo& io : spec.required_inputs) {
      const JobInput* in = job.input(io.name);
      const std::string type = io_type_name(io.type);
      if (!in) {
        auto l = wf_.locations.find("jobs." + job.name + ".inputs");
        error(l != wf_.locations.end() ? l->second : job.where,
              "action '" + spec.name + "' needs a " + type + " input named '" + io.name +
                  "' (e.g. inputs: {" + io.name + ": JOB.outputs.NAME})");
      } else if (in->type != io.type && !untyped_job_inputs_.count(job.name + "." + in->name)) {
        error(in->where, "input '" + io.name + "' of job '" + job.name + "' must be a " + type +
                             " for " + spec.name + ", got a " + io_type_name(in->type));
      }
    }
  }
}

void WorkflowParser::check_expressions() {
  for (const PendingExpr& x : exprs_) {
    std::vector<std::string> parts = split(x.path, '.');
    const std::string shown = "'${{ " + x.path + " }}'";
    if (parts[0] == "inputs") {
      if (!wf_.input(parts[1])) {
        std::string hint = did_you_mean(parts[1], input_names(wf_));
        error(x.where, "unknown input '" + parts[1] + "' in " + shown +
                           (hint.empty() ? "; declare it under the top-level 'inputs:'" : hint));
      }
    } else if (parts[0] == "jobs") {
      const std::string& dep = parts[1];
      const std::string& name = parts[3];
      if (x.job.empty()) {
        error(x.where, shown +
                           " cannot be used in defaults.env; set it in the env of a job "
                           "that needs '" +
                           dep + "'");
        continue;
      }
      const Job* producer = wf_.job(dep);
      if (!producer) {
        error(x.where,
              "unknown job '" + dep + "' in " + shown + did_you_mean(dep, job_names(wf_, x.job)));
        continue;
      }
      if (dep == x.job) {
        error(x.where, "job '" + x.job + "' cannot read its own output in " + shown);
        continue;
      }
      if (!needs_transitively(x.job, dep)) {
        error(x.where, "job '" + x.job + "' reads " + shown + " but does not need '" + dep +
                           "' (add it to needs)");
        continue;
      }
      const JobOutput* out = producer->output(name);
      if (!out) {
        error(x.where, shown + ": job '" + dep + "' declares no output '" + name + "'" +
                           did_you_mean(name, output_names(*producer)));
      } else if (out->type != IoType::kString && !untyped_outputs_.count(dep + "." + name)) {
        error(x.where, shown + " reads output '" + name + "' of job '" + dep + "', which is a " +
                           io_type_name(out->type) + "; only string outputs can be used in ${{ }}");
      }
    }
  }
}

}  // namespace wfrun::workflows::internal
