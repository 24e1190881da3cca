#include "cli/gpu_commands.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "cli/options.h"
#include "engine/gpu/inventory.h"
#include "engine/gpu/metrics.h"

namespace wfrun::cli {
namespace {

int print_error(const Error& e) {
  std::fprintf(stderr, "wfrun: %s\n", e.str().c_str());
  return 2;
}

int cmd_gpus(bool json) {
  gpu::Discovery d = gpu::discover();
  for (const auto& w : d.warnings) std::fprintf(stderr, "wfrun: warning: %s\n", w.c_str());
  if (json) {
    std::printf("%s\n", gpu::discovery_json(d).dump(2).c_str());
    return 0;
  }
  if (d.gpus.empty()) {
    std::printf("no NVIDIA GPU found\n");
    return 0;
  }
  std::fputs(gpu::gpu_table(d.gpus).c_str(), stdout);
  return 0;
}

int cmd_metrics(const std::string& state_flag, const std::string& run, const std::string& job,
                bool json, bool csv) {
  auto id = parse_run_id(run);
  if (!id) return print_error(id.error());
  auto store = gpu::MetricsStore::open(resolve_state_dir(state_flag));
  if (!store) return print_error(store.error());
  auto jobs = store->jobs(*id);
  if (!jobs) return print_error(jobs.error());
  if (jobs->empty()) return print_error(Error("run " + run + " has no metrics"));
  if (!job.empty() && std::find(jobs->begin(), jobs->end(), job) == jobs->end()) {
    return print_error(
        Error("run " + run + " has no metrics for job '" + job + "'" + did_you_mean(job, *jobs)));
  }
  auto rows = store->rows(*id, job);
  if (!rows) return print_error(rows.error());
  if (csv) {
    std::fputs(gpu::metrics_csv(*rows).c_str(), stdout);
  } else if (json) {
    auto m = gpu::metrics_json(*rows);
    nlohmann::ordered_json j = {{"run", *id}, {"summary", m["summary"]}, {"samples", m["samples"]}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::fputs(gpu::summary_table(gpu::summarize(*rows)).c_str(), stdout);
  }
  return 0;
}

}  // namespace

void add_gpu_commands(CLI::App& app, std::string& state_dir, int& exit_code) {
  static bool gpus_json = false, metrics_json = false, metrics_csv = false;
  static std::string metrics_run, metrics_job;

  auto* gpus =
      app.add_subcommand("gpus", "list this machine's NVIDIA GPUs (NVML, else nvidia-smi)");
  gpus->add_flag("--json", gpus_json, "print JSON");
  gpus->callback([&] { exit_code = cmd_gpus(gpus_json); });

  auto* metrics = app.add_subcommand(
      "metrics", "a run's recorded GPU, CPU and memory use: per-job summary, or every sample");
  metrics->add_option("run", metrics_run, "the run id")->required();
  metrics->add_option("job", metrics_job, "one job's metrics");
  auto* j = metrics->add_flag("--json", metrics_json, "print the summary and every sample as JSON");
  auto* c = metrics->add_flag("--csv", metrics_csv, "print every sample as CSV");
  j->excludes(c);
  metrics->callback([&] {
    exit_code = cmd_metrics(state_dir, metrics_run, metrics_job, metrics_json, metrics_csv);
  });
}

}  // namespace wfrun::cli
