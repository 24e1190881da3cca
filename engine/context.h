#pragma once
// What `${{ }}`, `secret:NAME` and Gradient's `context.event.github.*` resolve to for a job.

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "engine/run.h"
#include "workflows/workflow.h"

namespace wfrun::engine {

/// github.*: from the triggering event when there is one (github.sha = after or
/// pull_request.head.sha, github.ref = ref or refs/pull/N/merge, github.repository =
/// repository.full_name, github.event.* = the payload), else from the git checkout at
/// `repo_dir` (rev-parse HEAD, symbolic-ref HEAD, remote get-url origin), asked once, lazily.
class GithubInfo {
 public:
  GithubInfo(std::optional<nlohmann::json> event, std::string repo_dir);
  /// `path` below "github.": "sha", "ref", "repository", "event.head_commit.id", ...
  std::optional<std::string> lookup(std::string_view path);
  /// Gradient's context.event.github.url: the repository's clone URL.
  std::optional<std::string> url();
  /// Gradient's context.event.github.ref: the ref (for pull requests, the head commit).
  std::optional<std::string> checkout_ref();

 private:
  void load();

  std::optional<nlohmann::json> event_;
  std::string repo_dir_;
  bool loaded_ = false;
  nlohmann::json values_ = nlohmann::json::object();  // sha, ref, repository, url, checkout_ref
};

/// A workflow input's value: --input, else its default (`value:` or `ref:`).
std::optional<std::string> workflow_input_value(const workflows::Workflow& wf,
                                                const RunOptions& opts, const std::string& name);

/// Resolves a job's `env` and `with` for one attempt.
class Resolver {
 public:
  using JobLookup = std::function<const JobResult*(const std::string& job)>;
  Resolver(const workflows::Workflow& wf, const RunOptions& opts, GithubInfo& github,
           JobLookup jobs);
  void set_run(std::int64_t id, std::int64_t number) {
    run_id_ = id;
    run_number_ = number;
  }

  /// The job's env: `secret:NAME` values filled in, then `${{ }}` interpolated (where
  /// env.NAME means the job's env before interpolation).
  Result<std::map<std::string, std::string>> env(const workflows::Job& job) const;
  /// The job's `with`, every string resolved like env values; a string that is exactly
  /// `context.event.github.url` or `context.event.github.ref` becomes the repository's URL/ref.
  Result<workflows::Json> with(const workflows::Job& job,
                               const std::map<std::string, std::string>& env) const;

 private:
  Result<std::string> resolve(const workflows::Job& job, const std::string& field,
                              const std::string& text,
                              const std::map<std::string, std::string>* env) const;
  Status resolve_json(const workflows::Job& job, const std::string& field, workflows::Json& j,
                      const std::map<std::string, std::string>& env) const;

  const workflows::Workflow& wf_;
  const RunOptions& opts_;
  GithubInfo& github_;
  JobLookup jobs_;
  std::int64_t run_id_ = 0, run_number_ = 0;
};

}  // namespace wfrun::engine
