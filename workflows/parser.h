#pragma once
// Reading workflow files: YAML text in, a checked Workflow (workflow.h) or the first error in
// file order out, as `FILE:LINE:COL: message`.
//
// What is accepted (Gradient's workflow language, plus wfrun extensions marked *):
//   defaults:  env (map of scalars), resources, clusterId (Gradient; accepted and ignored)
//   inputs:    NAME: {type: string|volume|dataset, with: {value: V} | {ref: R}}
//   on:        github: {branches: {only, ignore}, tags: {only, ignore},
//                       pull_request*: {branches: {only, ignore}}}  (a scalar = a 1-item list)
//   jobs:      NAME (letters, digits, '-', '_'; not 'workflow'):
//     uses:      an action of actions.h (required)
//     with:      the action's arguments, checked against its table entry
//     needs:     a job name or a list of them
//     inputs:    NAME: JOB.outputs.OUT | workflow.inputs.IN | {type, with: {value|ref}}
//     outputs:   NAME: {type: volume|string|dataset, with: {ref: DATASET}}
//     env:       NAME (an identifier): scalar, kept as written; defaults.env merged in
//     resources: instance-type, gpus* (int >= 0), cpus* (> 0), memory* (512Mi, 16G, bytes);
//                defaults.resources (also: container-registries, ignored) merged in
//     timeout*: 90m | 1h30m | 45s | seconds; retries*: 0..100; continue-on-error*: bool;
//     if*: success() | failure() | always(), optionally inside ${{ }}
// Values in `with` and `env` may be `secret:NAME`, a Gradient event value
// `context.event.github.FIELD` (left for the engine), or hold `${{ }}` expressions (expr.h):
// inputs.NAME, jobs.JOB.outputs.NAME (a string output of a job needed directly or
// transitively), run.id, run.number, env.NAME, github.*.
// Rejected with a precise message: YAML syntax errors, tabs in indentation, duplicate keys,
// unknown keys (with "did you mean", and hints for GitHub Actions keys such as `steps`),
// wrong types, unknown or self needs, cycles, references to undeclared inputs/outputs or to jobs
// not in needs, unknown actions and `with:` arguments, missing required arguments, bad
// durations and sizes, bad `${{ }}`. Known but unavailable actions (git-checkout@v1,
// s3-download@v1) parse; check_available() (actions.h) refuses them before a run.

#include <string>
#include <string_view>

#include "base/error.h"
#include "workflows/workflow.h"

namespace wfrun::workflows {

/// Parses and checks a workflow; `file` is used in error locations and kept in Workflow::file.
Result<Workflow> parse_workflow(std::string_view text, const std::string& file);

/// Reads `path` and parses it. File errors are one line: `PATH: no such file`,
/// `PATH: is a directory, expected a workflow file`,
/// `PATH: the file is empty; a workflow needs a 'jobs:' map`, `PATH: not a text file`.
Result<Workflow> load_workflow(const std::string& path);

}  // namespace wfrun::workflows
