#include "engine/executors.h"

#include <map>
#include <mutex>

#include "base/strings.h"
#include "engine/local_executor.h"

namespace wfrun::engine {

namespace {

class LocalKind : public ExecutorKind {
 public:
  bool on_host() const override { return true; }
  std::unique_ptr<Executor> make(const RunSetup& setup, const RunResult&,
                                 RunMetrics* metrics) const override {
    return make_local_executor(setup, metrics);
  }
};

struct Registry {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<const ExecutorKind>> kinds = {
      {"local", std::make_shared<LocalKind>()}};
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

void register_executor_kind(const std::string& name, std::shared_ptr<const ExecutorKind> kind) {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  r.kinds[name] = std::move(kind);
}

const ExecutorKind* find_executor_kind(const std::string& name) {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.kinds.find(name);
  return it == r.kinds.end() ? nullptr : it->second.get();
}

Result<std::vector<std::string>> job_executors(const workflows::Workflow& wf,
                                               const RunOptions& opts) {
  std::string run_kind = !opts.executor_kind.empty()    ? opts.executor_kind
                         : !wf.default_executor.empty() ? wf.default_executor
                                                        : opts.executor.kind;
  std::vector<std::string> out;
  for (const auto& job : wf.jobs) {
    const std::string& kind = job.executor.empty() ? run_kind : job.executor;
    if (!find_executor_kind(kind)) {
      std::string field = !job.executor.empty()        ? "jobs." + job.name + ".executor"
                          : opts.executor_kind.empty() && !wf.default_executor.empty()
                              ? "defaults.executor"
                              : "";
      std::string msg = "executor '" + kind + "' is not available in this wfrun";
      if (field.empty()) return Error(msg);
      return Error(wf.where(field), msg);
    }
    out.push_back(kind);
  }
  return out;
}

Executors make_executors(const RunSetup& setup, const RunResult& run, RunMetrics* metrics) {
  Executors e;
  std::map<std::string, Executor*> by_kind;
  for (const auto& kind : setup.executor_of) {
    Executor*& ex = by_kind[kind];
    if (!ex) {
      e.all.push_back(find_executor_kind(kind)->make(setup, run, metrics));
      ex = e.all.back().get();
    }
    e.of_job.push_back(ex);
  }
  return e;
}

}  // namespace wfrun::engine
