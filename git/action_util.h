#pragma once
// Private to git/*actions*.cc: what the git actions' command lines have in common.

#include <string>

#include "engine/actions.h"

namespace wfrun::git::detail {

/// `jobs.JOB.with.KEY` at the job.
Location field(const workflows::Job& job, const std::string& key);

/// Adds `--url CLEAN [--username U] [--ca-file F]` to `cmd.argv` and the token to `cmd.env`.
/// Credentials in `url` are taken out of it (argv is visible to every user through `ps`); the
/// token is `password` (a resolved secret:NAME) or the job's env GIT_PASSWORD (Gradient's docs),
/// else the GITHUB_TOKEN secret, the job's env GITHUB_TOKEN, or wfrun's own GITHUB_TOKEN, else
/// the URL's credentials.
/// Over plain http:// a password (or credentials in the URL) is an error unless the job says
/// `insecure: true`: HTTP Basic would carry it readable to anyone on the way. A GITHUB_TOKEN
/// found by default is then not offered at all (the job's log says so).
Status add_remote(const engine::ActionContext& ctx, const std::string& url,
                  engine::ActionCommand& cmd);

/// The check before the run of what add_remote() refuses, where `url:` is written out.
Status check_plain_http(const workflows::Job& job);

}  // namespace wfrun::git::detail
