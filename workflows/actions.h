#pragma once
// The actions a job can `uses:`, and the `with:` arguments each one takes. Adding an action to
// the language is one entry in the table in actions.cc; running it is the engine's business.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "workflows/workflow.h"

namespace wfrun::workflows {

/// What a `with:` argument must hold.
enum class ArgKind {
  kString,        // a scalar, kept as the string written
  kStringOrList,  // a scalar or a list of scalars (e.g. container@v1 `command`)
  kStringList,    // a list of scalars, kept as strings (a lone scalar is refused)
  kMap,           // a map; plain scalars inside keep their YAML type (papermill parameters)
  kBool,          // true / false
  kDuration,      // a duration ("30m") or a number of seconds
};
const char* arg_kind_name(ArgKind k);

/// One `with:` argument of an action.
struct ActionArg {
  std::string name;
  ArgKind kind = ArgKind::kString;
  bool required = false;
  std::vector<std::string>
      choices;  // if not empty: the allowed values, compared case-insensitively
};

/// An input or output an action needs or makes by itself (create-model@v1: input `model`).
struct ActionIo {
  std::string name;
  IoType type = IoType::kString;
};

/// One known action: its `uses:` name, its arguments, and whether this wfrun can run it.
struct ActionSpec {
  std::string name;  // "script@v1"
  std::vector<ActionArg> args;
  std::vector<ActionIo> required_inputs;   // the job must declare these inputs, of this type
  std::vector<ActionIo> implicit_outputs;  // outputs the action always makes (may be declared)
  bool available = true;
  std::string unavailable_reason;  // when !available: the whole message users see

  const ActionArg* arg(std::string_view n) const;
  std::vector<std::string> arg_names() const;
};

/// Every known action, in a stable order.
const std::vector<ActionSpec>& all_actions();
/// The names of all_actions(), for "did you mean".
std::vector<std::string> action_names();
/// The action named by `uses`, or nullptr.
const ActionSpec* find_action(std::string_view uses);

/// The first job (in file order) whose action is known but not available in this wfrun, as
/// `FILE:L:C: action 'git-checkout@v1' is not available yet ...` at its `uses:`. parse_workflow()
/// accepts such workflows (so `check`, `graph` and Gradient's own examples work); call this
/// before running one.
Status check_available(const Workflow& wf);

}  // namespace wfrun::workflows
