#include "engine/actions.h"

#include <cstdlib>

#include "base/strings.h"
#include "engine/fs.h"
#include "engine/process.h"
#include "engine/store.h"

namespace wfrun::engine {

const ResolvedInput* ActionContext::input(const std::string& name) const {
  for (const auto& in : inputs)
    if (in.name == name) return &in;
  return nullptr;
}

std::string ActionContext::arg(const std::string& key) const {
  auto it = with.find(key);
  if (it == with.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

Result<ActionCommand> Action::command(const ActionContext& ctx) const {
  return Error("action '" + ctx.job.uses + "' does not start a process");
}

Result<std::map<std::string, std::string>> Action::run(const ActionContext& ctx) const {
  return Error("action '" + ctx.job.uses + "' does not run in-process");
}

void ActionRegistry::add(const std::string& uses, std::shared_ptr<const Action> action) {
  actions_[uses] = std::move(action);
}

const Action* ActionRegistry::find(const std::string& uses) const {
  auto it = actions_.find(uses);
  return it == actions_.end() ? nullptr : it->second.get();
}

std::vector<std::string> ActionRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : actions_) out.push_back(name);
  return out;
}

ActionRegistry ActionRegistry::with_builtins() {
  ActionRegistry r;
  r.add("script@v1", std::make_shared<ScriptAction>());
  r.add("container@v1", std::make_shared<ContainerAction>());
  r.add("create-model@v1", std::make_shared<CreateModelAction>());
  return r;
}

ActionRegistry& default_actions() {
  static ActionRegistry registry = ActionRegistry::with_builtins();
  return registry;
}

namespace {

std::string raw_arg(const workflows::Job& job, const char* key) {
  auto it = job.with.find(key);
  return it != job.with.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

std::string ScriptAction::image(const workflows::Job& job) const { return raw_arg(job, "image"); }

std::optional<std::vector<std::string>> simple_command(std::string_view script,
                                                       const std::string& path) {
  // Shell builtins and keywords: these need bash even when they look like plain words.
  static const char* const kShellWords[] = {
      "!",       ".",        ":",        "[[",        "]]",       "{",        "}",       "alias",
      "bg",      "bind",     "break",    "builtin",   "caller",   "case",     "cd",      "command",
      "compgen", "complete", "continue", "coproc",    "declare",  "dirs",     "disown",  "do",
      "done",    "elif",     "else",     "enable",    "esac",     "eval",     "exec",    "exit",
      "export",  "fc",       "fg",       "fi",        "for",      "function", "getopts", "hash",
      "help",    "history",  "if",       "jobs",      "let",      "local",    "logout",  "mapfile",
      "popd",    "pushd",    "read",     "readarray", "readonly", "return",   "select",  "set",
      "shift",   "shopt",    "source",   "suspend",   "then",     "time",     "times",   "trap",
      "type",    "typeset",  "ulimit",   "umask",     "unalias",  "unset",    "until",   "wait",
      "while"};
  script = trim(script);
  if (script.empty()) return std::nullopt;
  for (char c : script) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == ' ' || c == '\t' || c == '_' || c == '-' || c == '.' || c == '/' ||
                 c == ',' || c == ':' || c == '+' || c == '@' || c == '=';
    if (!plain) return std::nullopt;
  }
  std::vector<std::string> argv;
  for (auto& w : split(script, ' '))
    for (auto& part : split(w, '\t'))
      if (!part.empty()) argv.push_back(part);
  if (argv.empty() || argv[0].find('=') != std::string::npos) return std::nullopt;  // VAR=x cmd
  for (const char* w : kShellWords)
    if (argv[0] == w) return std::nullopt;
  if (find_program(argv[0], path).empty()) return std::nullopt;  // let bash say "not found"
  return argv;
}

Result<ActionCommand> ScriptAction::command(const ActionContext& ctx) const {
  ActionCommand c;
  c.image = ctx.arg("image");
  c.network = ctx.arg("network");
  std::string script = ctx.arg("script");
  if (c.image.empty()) {
    // Like make, run a script that is one plain command without a shell: the result is the
    // same (bash would exec it too) and a job starts several milliseconds sooner.
    auto it = ctx.env.find("PATH");
    const char* path = it != ctx.env.end() ? it->second.c_str() : std::getenv("PATH");
    if (auto argv = simple_command(script, path ? path : "/usr/bin:/bin")) {
      c.argv = std::move(*argv);
      return c;
    }
  }
  c.argv = {"bash", "-e", "-c", script};
  return c;
}

std::string ContainerAction::image(const workflows::Job& job) const {
  return raw_arg(job, "image");
}

Result<ActionCommand> ContainerAction::command(const ActionContext& ctx) const {
  ActionCommand c;
  c.image = ctx.arg("image");
  c.network = ctx.arg("network");
  if (c.image.empty()) return Error("container@v1 needs an image");
  std::vector<std::string> command;
  if (auto it = ctx.with.find("command"); it != ctx.with.end()) {
    if (it->is_string()) {
      for (auto& w : split(it->get<std::string>(), ' '))
        if (!w.empty()) command.push_back(w);
    } else if (it->is_array()) {
      for (const auto& w : *it) command.push_back(w.is_string() ? w.get<std::string>() : w.dump());
    }
  }
  if (!command.empty()) {
    c.entrypoint = command.front();
    c.argv.assign(command.begin() + 1, command.end());
  }
  if (auto it = ctx.with.find("args"); it != ctx.with.end() && it->is_array())
    for (const auto& a : *it) c.argv.push_back(a.is_string() ? a.get<std::string>() : a.dump());
  return c;
}

Result<std::map<std::string, std::string>> CreateModelAction::run(const ActionContext& ctx) const {
  const ResolvedInput* in = ctx.input("model");
  if (!in || in->type != workflows::IoType::kDataset)
    return Error("create-model@v1 needs a dataset input named 'model'");
  if (!ctx.store) return Error("create-model@v1 needs the run store");
  ModelRecord m;
  m.name = ctx.arg("name");
  m.type = ctx.arg("type");
  m.dataset = in->dataset;
  m.dataset_version = in->version;
  m.path = in->source;
  m.run_id = ctx.run_id;
  auto added = ctx.store->add_model(m);
  if (!added) return added.error();
  if (auto s = write_file(ctx.dirs.outputs + "/model-id", added->id + "\n"); !s) return s.error();
  if (ctx.output)
    ctx.output->line("registered model " + added->id + " '" + m.name + "' (" + m.type +
                     ") from dataset " + m.dataset + ":" + std::to_string(m.dataset_version));
  return std::map<std::string, std::string>{{"model-id", added->id}};
}

}  // namespace wfrun::engine
