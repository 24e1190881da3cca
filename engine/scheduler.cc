#include "engine/scheduler.h"

#include <queue>

namespace wfrun::engine {

using workflows::Condition;

Scheduler::Scheduler(const workflows::Workflow& wf) {
  nodes_.resize(wf.jobs.size());
  for (size_t i = 0; i < wf.jobs.size(); ++i) {
    nodes_[i].job = &wf.jobs[i];
    index_.emplace(wf.jobs[i].name, i);
  }
  for (size_t i = 0; i < wf.jobs.size(); ++i) {
    for (const auto& n : wf.jobs[i].needs) {
      size_t d = index(n);
      if (d == size()) continue;  // the parser refuses unknown needs
      nodes_[i].needs.push_back(d);
      nodes_[d].dependents.push_back(i);
    }
    nodes_[i].waiting = nodes_[i].needs.size();
  }
}

size_t Scheduler::index(const std::string& job) const {
  auto it = index_.find(job);
  return it == index_.end() ? size() : it->second;
}

std::vector<size_t> Scheduler::start_order() const {
  std::vector<size_t> waiting(nodes_.size());
  std::priority_queue<size_t, std::vector<size_t>, std::greater<>> ready;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    waiting[i] = nodes_[i].needs.size();
    if (waiting[i] == 0) ready.push(i);
  }
  std::vector<size_t> order;
  while (!ready.empty()) {
    size_t i = ready.top();
    ready.pop();
    order.push_back(i);
    for (size_t d : nodes_[i].dependents)
      if (--waiting[d] == 0) ready.push(d);
  }
  return order;
}

namespace {

bool failed(JobState s) { return s == JobState::kFailed || s == JobState::kTimedOut; }

std::string why_not(const std::string& name, JobState s) {
  switch (s) {
    case JobState::kFailed:
      return "skipped because '" + name + "' failed";
    case JobState::kTimedOut:
      return "skipped because '" + name + "' timed out";
    case JobState::kSkipped:
      return "skipped because '" + name + "' was skipped";
    case JobState::kCancelled:
      return "skipped because '" + name + "' was cancelled";
    default:
      return "skipped because '" + name + "' did not succeed";
  }
}

}  // namespace

Scheduler::Decision Scheduler::decide(size_t i) {
  Node& n = nodes_[i];
  n.decided = true;
  Decision d{i, true, ""};
  bool any_failed = false;
  for (size_t k : n.needs) {
    const Node& need = nodes_[k];
    if ((failed(need.state) && !need.job->continue_on_error) || need.failed_upstream)
      any_failed = true;
  }
  n.failed_upstream = any_failed;
  switch (n.job->condition) {
    case Condition::kAlways:
      break;
    case Condition::kFailure:
      if (!any_failed) {
        d.run = false;
        d.message = "skipped because no job it needs failed";
      }
      break;
    case Condition::kSuccess:
      for (size_t k : n.needs) {
        const Node& need = nodes_[k];
        bool ok = need.state == JobState::kSucceeded ||
                  (failed(need.state) && need.job->continue_on_error);
        if (!ok) {
          d.run = false;
          d.message = why_not(need.job->name, need.state);
          break;
        }
      }
      break;
  }
  return d;
}

void Scheduler::settle(size_t i, JobState state, std::vector<Decision>& out) {
  nodes_[i].state = state;
  if (failed(state) && !nodes_[i].job->continue_on_error) nodes_[i].failed_upstream = true;
  for (size_t d : nodes_[i].dependents) {
    if (--nodes_[d].waiting != 0 || nodes_[d].decided) continue;
    Decision dec = decide(d);
    bool skipped = !dec.run;
    out.push_back(std::move(dec));
    if (skipped) settle(d, JobState::kSkipped, out);
  }
}

std::vector<Scheduler::Decision> Scheduler::start() {
  std::vector<Decision> out;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].waiting == 0 && !nodes_[i].decided) {
      Decision d = decide(i);
      bool skipped = !d.run;
      out.push_back(std::move(d));
      if (skipped) settle(i, JobState::kSkipped, out);
    }
  return out;
}

std::vector<Scheduler::Decision> Scheduler::finish(size_t i, JobState state) {
  std::vector<Decision> out;
  settle(i, state, out);
  return out;
}

std::vector<size_t> Scheduler::undecided() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (!nodes_[i].decided) out.push_back(i);
  return out;
}

}  // namespace wfrun::engine
