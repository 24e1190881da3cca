#include "engine/job_io.h"

#include <algorithm>
#include <filesystem>

#include "engine/context.h"
#include "engine/fs.h"
#include "engine/store.h"

namespace wfrun::engine {

using workflows::IoType;
using workflows::JobInput;

Result<std::vector<ResolvedInput>> resolve_inputs(
    const workflows::Workflow& wf, const workflows::Job& job, const RunOptions& opts,
    RunStore* store, const std::function<const JobResult*(const std::string&)>& jobs) {
  std::vector<ResolvedInput> out;
  for (const JobInput& in : job.inputs) {
    ResolvedInput r;
    r.name = in.name;
    r.type = in.type;
    std::string what = "input '" + in.name + "'";
    std::optional<std::string> v;
    switch (in.source) {
      case JobInput::Source::kWorkflowInput:
        v = workflow_input_value(wf, opts, in.from);
        if (!v) return Error(what + ": workflow input '" + in.from + "' has no value");
        break;
      case JobInput::Source::kJobOutput: {
        const JobResult* producer = jobs ? jobs(in.job) : nullptr;
        if (producer) {
          auto it = producer->outputs.find(in.from);
          if (it != producer->outputs.end()) v = it->second;
        }
        if (!v)
          return Error(what + ": job '" + in.job + "' did not produce output '" + in.from + "'");
        break;
      }
      case JobInput::Source::kInline:
        v = in.type == IoType::kString ? in.value : in.ref;
        if (!v) v = in.value ? in.value : in.ref;
        if (!v) return Error(what + " has no value");
        break;
    }
    switch (in.type) {
      case IoType::kString:
        r.value = *v;
        break;
      case IoType::kVolume: {
        std::error_code ec;
        // A relative volume path is relative to the workflow file's folder.
        std::filesystem::path path(*v);
        if (path.is_relative() && !opts.workflow_dir.empty()) path = opts.workflow_dir / path;
        r.source = std::filesystem::absolute(path, ec).lexically_normal().string();
        if (ec || !exists(r.source)) return Error(what + ": volume '" + *v + "' does not exist");
        break;
      }
      case IoType::kDataset: {
        if (!store) return Error(what + ": no run store to find dataset '" + *v + "' in");
        DatasetRef ref = parse_dataset_ref(*v);
        auto d = store->find_dataset(ref.name, ref.version);
        if (!d) return Error(what + ": " + d.error().message());
        r.source = d->path;
        r.dataset = d->name;
        r.version = d->version;
        break;
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::map<std::string, std::string>> collect_outputs(const workflows::Job& job,
                                                           const JobDirs& dirs, RunStore* store,
                                                           std::int64_t run_id) {
  std::map<std::string, std::string> values;
  // Strings first: a missing one fails the job before any dataset version is made.
  for (const auto& out : job.outputs) {
    std::string path = dirs.outputs + "/" + out.name;
    if (out.type != IoType::kString) {
      if (!is_dir(path))
        return Error("output '" + out.name + "' is not a folder at /outputs/" + out.name);
      continue;
    }
    if (!exists(path))
      return Error("output '" + out.name + "' was not written to /outputs/" + out.name);
    auto text = read_file(path, kMaxStringOutput);
    if (!text) return Error("output '" + out.name + "': " + text.error().message());
    std::string v = std::move(*text);
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
    values[out.name] = std::move(v);
  }
  for (const auto& out : job.outputs) {
    std::string path = dirs.outputs + "/" + out.name;
    if (out.type == IoType::kVolume) values[out.name] = path;
    if (out.type != IoType::kDataset) continue;
    if (!store) return Error("output '" + out.name + "': no run store to keep the dataset in");
    DatasetRef ref = out.ref ? parse_dataset_ref(*out.ref) : DatasetRef{out.name, {}};
    auto d = store->commit_dataset_version(ref.name, path, run_id, "", ref.version);
    if (!d) return Error("output '" + out.name + "': " + d.error().message());
    (void)set_read_only(d->path, true);
    values[out.name] = ref.name + ":" + std::to_string(d->version);
  }
  return values;
}

}  // namespace wfrun::engine
