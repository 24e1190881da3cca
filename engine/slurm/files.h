#pragma once
// The files the Slurm executor and the job shim exchange in an attempt's folder (shim.h lists
// them), as C++ values and JSON.

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/gpu/metrics.h"
#include "engine/process.h"

namespace wfrun::slurm {

inline constexpr const char* kJobFile = "job.json";
inline constexpr const char* kSecretsFile = "secrets.json";
inline constexpr const char* kStartedFile = "started";
inline constexpr const char* kExitFile = "exit";
inline constexpr const char* kMetricsFile = "metrics.jsonl";
inline constexpr const char* kSlurmOutFile = "slurm.out";
inline constexpr const char* kSlurmIdFile = "slurm_id";

/// job.json: what the shim runs. No secret values (those are in secrets.json).
struct ShimJob {
  std::string job;  // the job's name (metrics rows)
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::string cwd;
  std::string log;   // the job's log file
  std::string self;  // the submitting wfrun's path: argv[0] equal to it becomes the node's wfrun
  double kill_grace = 5;
  double metrics_interval = 0;  // 0: no metrics
  int gpus = 0;                 // GPUs the job asked for
  std::string container;        // the container's name when it runs in one
  std::string container_runtime;  // its runtime's command line ("podman --runtime runc")
  /// GPU discovery settings of the submitting wfrun (WFRUN_FAKE_GPUS, ...), for the sampler.
  struct {
    std::string fake, nvidia_smi, nvml_lib;
  } discover;
};
std::string shim_job_json(const ShimJob& j);
Result<ShimJob> parse_shim_job(const std::string& text);

/// secrets.json: secret variables, the argv when it holds a secret, and the values to mask.
struct ShimSecrets {
  std::map<std::string, std::string> env;
  std::vector<std::string> argv;  // empty: job.json's
  std::vector<std::string> redact;
};
std::string shim_secrets_json(const ShimSecrets& s);
Result<ShimSecrets> parse_shim_secrets(const std::string& text);

/// `exit`: how the job ended on the node.
struct ShimExit {
  engine::ExitStatus status;
  std::string reason;  // exited, terminated, walltime, error
  std::string message;
};
Result<ShimExit> parse_shim_exit(const std::string& text);

/// `started`.
struct ShimStarted {
  std::string host;
  std::string slurm_job_id;
  std::vector<int> gpus;
};
Result<ShimStarted> parse_shim_started(const std::string& text);

/// One line of metrics.jsonl.
nlohmann::json metric_row_json(const gpu::MetricRow& r);
std::optional<gpu::MetricRow> parse_metric_row(const std::string& line);

}  // namespace wfrun::slurm
