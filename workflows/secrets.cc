#include "workflows/secrets.h"

namespace wfrun::workflows {

Status check_secrets(const Workflow& wf, const std::function<bool(const std::string&)>& known) {
  for (const auto& [name, field] : wf.secret_uses()) {
    if (known(name)) continue;
    return Error(wf.where(field),
                 "unknown secret '" + name + "' in " + field + "; pass --secret " + name +
                     "=..., put it in --secrets-file, or set WFRUN_SECRET_" + name);
  }
  return {};
}

}  // namespace wfrun::workflows
