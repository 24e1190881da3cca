#include "workflows/actions.h"

namespace wfrun::workflows {

const char* arg_kind_name(ArgKind k) {
  switch (k) {
    case ArgKind::kString:
      return "a string";
    case ArgKind::kStringOrList:
      return "a string or a list of strings";
    case ArgKind::kStringList:
      return "a list of strings";
    case ArgKind::kMap:
      return "a map";
    case ArgKind::kBool:
      return "true or false";
    case ArgKind::kDuration:
      return "a duration";
  }
  return "?";
}

const ActionArg* ActionSpec::arg(std::string_view n) const {
  for (const auto& a : args) {
    if (a.name == n) return &a;
  }
  return nullptr;
}

std::vector<std::string> ActionSpec::arg_names() const {
  std::vector<std::string> out;
  for (const auto& a : args) out.push_back(a.name);
  return out;
}

namespace {

ActionSpec action(std::string name, std::vector<ActionArg> args) {
  ActionSpec s;
  s.name = std::move(name);
  s.args = std::move(args);
  return s;
}

ActionSpec unavailable(ActionSpec s, std::string reason) {
  s.available = false;
  s.unavailable_reason = std::move(reason);
  return s;
}

std::vector<ActionSpec> make_actions() {
  using K = ArgKind;
  std::vector<ActionSpec> out;
  out.push_back(action("script@v1", {{"script", K::kString, true, {}},
                                     {"image", K::kString, false, {}},
                                     {"network", K::kString, false, {}}}));
  out.push_back(action("container@v1", {{"image", K::kString, true, {}},
                                        {"args", K::kStringList, false, {}},
                                        {"command", K::kStringOrList, false, {}},
                                        {"network", K::kString, false, {}}}));
  out.push_back(action("notebook@v1", {{"notebook", K::kString, true, {}},
                                       {"parameters", K::kMap, false, {}},
                                       {"python", K::kString, false, {}},
                                       {"cwd", K::kString, false, {}},
                                       {"output", K::kString, false, {}},
                                       {"cell-timeout", K::kDuration, false, {}},
                                       {"allow-errors", K::kBool, false, {}},
                                       {"image", K::kString, false, {}},
                                       {"network", K::kString, false, {}}}));
  ActionSpec model =
      action("create-model@v1", {{"name", K::kString, true, {}},
                                 {"type", K::kString, true, {"Tensorflow", "ONNX", "Custom"}}});
  model.required_inputs = {{"model", IoType::kDataset}};
  model.implicit_outputs = {{"model-id", IoType::kString}};
  out.push_back(model);
  // Gradient's keys; `submodules` is ours.
  out.push_back(action("git-checkout@v1", {{"url", K::kString, true, {}},
                                           {"ref", K::kString, false, {}},
                                           {"path", K::kString, false, {}},
                                           {"username", K::kString, false, {}},
                                           {"password", K::kString, false, {}},
                                           {"insecure", K::kBool, false, {}},
                                           {"submodules", K::kBool, false, {}}}));
  // Ours: commit files from the job's inputs to a branch and push (git/commit_action.cc).
  out.push_back(action("git-commit@v1", {{"paths", K::kStringOrList, true, {}},
                                         {"dest", K::kString, false, {}},
                                         {"url", K::kString, false, {}},
                                         {"repo", K::kString, false, {}},
                                         {"branch", K::kString, true, {}},
                                         {"base", K::kString, false, {}},
                                         {"message", K::kString, false, {}},
                                         {"author", K::kString, false, {}},
                                         {"username", K::kString, false, {}},
                                         {"password", K::kString, false, {}},
                                         {"insecure", K::kBool, false, {}},
                                         {"pull-request", K::kMap, false, {}},
                                         {"large-files", K::kString, false, {"refuse", "release"}}}));
  out.push_back(unavailable(
      action("s3-download@v1", {{"url", K::kString, true, {}},
                                {"access-key", K::kString, false, {}},
                                {"secret-access-key", K::kString, false, {}},
                                {"region", K::kString, false, {}},
                                {"endpoint", K::kString, false, {}},
                                {"path", K::kString, false, {}}}),
      "action 's3-download@v1' is not supported off Gradient's cloud; use script@v1 with an S3 "
      "client (e.g. 'aws s3 cp') instead"));
  return out;
}

}  // namespace

const std::vector<ActionSpec>& all_actions() {
  static const std::vector<ActionSpec> kActions = make_actions();
  return kActions;
}

std::vector<std::string> action_names() {
  std::vector<std::string> out;
  for (const auto& a : all_actions()) out.push_back(a.name);
  return out;
}

const ActionSpec* find_action(std::string_view uses) {
  for (const auto& a : all_actions()) {
    if (a.name == uses) return &a;
  }
  return nullptr;
}

Status check_available(const Workflow& wf) {
  for (const auto& job : wf.jobs) {
    const ActionSpec* spec = find_action(job.uses);
    if (spec && !spec->available) {
      return Error(wf.where("jobs." + job.name + ".uses"), spec->unavailable_reason);
    }
  }
  return {};
}

}  // namespace wfrun::workflows
