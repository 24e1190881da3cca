#pragma once
// Preparing one attempt of a job: its env, `with` and inputs resolved, its inputs/ and
// outputs/ folders filled, its action asked for the command, and that turned into the process
// an executor starts. In-process actions (create-model@v1) run here and are done at once.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/context.h"
#include "engine/executor.h"
#include "engine/run_setup.h"

namespace wfrun::engine {

class OutputSink;

/// Builds the attempts of one run's jobs.
class AttemptBuilder {
 public:
  using JobLookup = Resolver::JobLookup;
  /// `jobs` gives the results of the run's jobs so far (for `needs` outputs and `${{ }}`).
  AttemptBuilder(const RunSetup& setup, const RunResult& run, JobLookup jobs);

  /// What build() made: a process to start, or the outputs of an in-process action that
  /// already ran.
  struct Built {
    std::optional<AttemptSpec> spec;
    std::map<std::string, std::string> outputs;
  };
  /// Attempt `attempt` of job `job`, which holds `gpus`; `output` takes the job's lines. An
  /// Error fails the attempt before anything ran.
  Result<Built> build(size_t job, int attempt, const std::vector<int>& gpus, OutputSink* output);

 private:
  const RunSetup& setup_;
  const workflows::Workflow& wf_;
  const RunOptions& opts_;
  const RunResult& run_;
  JobLookup jobs_;
  GithubInfo github_;
  Resolver resolver_;
};

}  // namespace wfrun::engine
