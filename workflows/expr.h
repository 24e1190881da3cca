#pragma once
// `${{ ... }}` interpolation in `with:` and `env:` values.
//
// An expression is a plain reference, never code: `inputs.NAME` (a workflow input),
// `jobs.JOB.outputs.NAME` (a string output of a job this one needs), `run.id`, `run.number`,
// `env.NAME`, or any path below `github` (`github.sha`, `github.event.head_commit.message`).
// Whitespace inside the braces is ignored: `${{inputs.x}}` == `${{ inputs.x }}`.
// `$${{` is an escape: it stands for a literal `${{` and starts no expression.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace wfrun::workflows {

/// One `${{ path }}` found in a string.
struct ExprRef {
  std::string path;   // whitespace-free: "jobs.prep.outputs.n"
  size_t offset = 0;  // of the `$` of `${{` in the text
  size_t length = 0;  // of the whole `${{ ... }}`
};

/// Every expression in `text`, in order, checked for syntax and known roots. On error, the
/// offset of the bad `${{` is stored in `error_offset` when given.
Result<std::vector<ExprRef>> find_expressions(std::string_view text,
                                              size_t* error_offset = nullptr);

/// `text` with each expression replaced by lookup(path) and each `$${{` by `${{`. A lookup that
/// returns nullopt fails with "unknown value '${{ path }}'".
Result<std::string> interpolate(
    std::string_view text,
    const std::function<std::optional<std::string>(const std::string& path)>& lookup);

/// True if `text` holds at least one `${{` (escaped or not); a cheap pre-check.
bool has_expression(std::string_view text);

}  // namespace wfrun::workflows
