#pragma once
// Private to git/*actions*.cc: what the git actions' command lines have in common.

#include <string>

#include "engine/actions.h"

namespace wfrun::git::detail {

/// `jobs.JOB.with.KEY` at the job.
Location field(const workflows::Job& job, const std::string& key);

/// The running binary, so the job's `wfrun git-...` is the same version as the engine.
std::string self_exe();

/// Adds `--url CLEAN [--username U] [--ca-file F]` to `cmd.argv` and the token to `cmd.env`.
/// Credentials in `url` are taken out of it (argv is visible to every user through `ps`); the
/// token is `password` (a resolved secret:NAME), else the GITHUB_TOKEN secret, the job's env
/// GITHUB_TOKEN, or wfrun's own GITHUB_TOKEN.
void add_remote(const engine::ActionContext& ctx, const std::string& url,
                engine::ActionCommand& cmd);

}  // namespace wfrun::git::detail
