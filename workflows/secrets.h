#pragma once
// Checks that every `secret:NAME` a workflow uses can be resolved.

#include <functional>
#include <string>

#include "base/error.h"
#include "workflows/workflow.h"

namespace wfrun::workflows {

/// The first use (in file order) of a secret that `known` does not know, as
/// `FILE:L:C: unknown secret 'HF_TOKEN' in jobs.train.env.TOKEN; pass --secret HF_TOKEN=..., ...`.
Status check_secrets(const Workflow& wf, const std::function<bool(const std::string&)>& known);

}  // namespace wfrun::workflows
