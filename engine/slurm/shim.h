#pragma once
// `wfrun job-shim DIR`: what the batch script of a Slurm job runs on the node (it `exec`s the
// shim, so the shim is the batch shell that Slurm signals). DIR is the attempt's folder,
// written by the Slurm executor before sbatch:
//
//   job.json      argv, environment (no secret values), working folder, the job's log, the
//                 kill grace, the metrics interval, the container to kill on a stop
//   secrets.json  (mode 0600, may be absent) the secret variables and the values to mask in
//                 the log; the shim reads it and deletes it before the job starts
//
// and what the shim writes there:
//
//   started       {"host", "slurm_job_id", "gpus", "time"} once the job's process runs
//   metrics.jsonl one sample per line (the job's process tree; its GPUs on the node)
//   exit          {"code", "signal", "reason", "message"}, written whole (rename) after the
//                 job's log is closed. reason: "exited", "terminated" (the shim got SIGTERM,
//                 SIGINT or SIGHUP), "walltime" (SIGUSR1: Slurm's time limit is near),
//                 "error" (the job could not be started; message says why)
//
// The job's output goes, masked, to its log (the same file a local run writes), which the
// executor follows. The shim's own exit code is the job's (128 + signal when killed).

#include <string>

namespace wfrun::slurm {

/// Runs the attempt in `dir` to its end and returns the shim's exit code.
int run_job_shim(const std::string& dir);

}  // namespace wfrun::slurm
