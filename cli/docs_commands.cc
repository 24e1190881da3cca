#include "cli/docs_commands.h"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include <CLI/CLI.hpp>

#include "base/strings.h"

namespace wfrun::cli {
namespace {

namespace fs = std::filesystem;

// Hidden commands and options (the internal `serve-run`, `git-checkout`, ...) have no group.
std::vector<const CLI::App*> visible_subcommands(const CLI::App& app) {
  return app.get_subcommands(
      [](const CLI::App* s) { return !s->get_name().empty() && !s->get_group().empty(); });
}

std::vector<const CLI::Option*> visible_options(const CLI::App& app, bool positional) {
  return app.get_options([&](const CLI::Option* o) {
    return !o->get_group().empty() && o->get_positional() == positional && (positional || o->nonpositional());
  });
}

// Options of the top level that CLI11 also takes after a subcommand (the app falls through).
std::vector<const CLI::Option*> global_options(const CLI::App& top) {
  std::vector<const CLI::Option*> out;
  for (const auto* o : visible_options(top, false))
    if (o->get_single_name() != "help" && o->get_single_name() != "version") out.push_back(o);
  return out;
}

// Flags expect no value (CLI11 sets expected(0) on them).
bool takes_value(const CLI::Option* o) { return o->get_expected_max() > 0 && o->get_type_size_max() > 0; }
bool repeatable(const CLI::Option* o) { return o->get_items_expected_max() > 1; }

// "TEXT:{auto,namespace,rewrite}" -> {auto, namespace, rewrite}.
std::vector<std::string> choices(const CLI::Option* o) {
  std::string t = o->get_type_name();
  auto open = t.find('{'), close = t.find('}');
  if (open == std::string::npos || close == std::string::npos || close < open) return {};
  return split(t.substr(open + 1, close - open - 1), ',');
}

// What completes an option's value or a positional: the choices, a folder, a file or nothing.
enum class Value { kNone, kFile, kDir, kChoice };

// The option tables have no "this is a path" bit, so the names and descriptions say it: files,
// notebooks and folders complete; run ids, URLs, refs and NAME=VALUE pairs do not.
Value value_kind(const CLI::Option* o) {
  if (!choices(o).empty()) return Value::kChoice;
  std::string name = o->get_single_name(), desc = o->get_description(), type = o->get_type_name();
  for (const char* number : {"INT", "UINT", "FLOAT", "NUMBER"})
    if (starts_with(type, number)) return Value::kNone;
  auto says = [&](const char* word) {
    return name.find(word) != std::string::npos || desc.find(word) != std::string::npos;
  };
  if ((name.size() >= 3 && name.compare(name.size() - 3, 3, "dir") == 0) || says("folder"))
    return Value::kDir;
  for (const char* word : {"file", "notebook", "output", "config", "interpreter", "payload", "path"})
    if (says(word)) return Value::kFile;
  return Value::kNone;
}

// The placeholder `--help` prints (CLI11's type name), with choices spelled a|b.
std::string metavar(const CLI::Option* o) {
  auto c = choices(o);
  if (!c.empty()) return join(c, "|");
  std::string t = o->get_type_name();
  return t.substr(0, t.find(':'));
}

// The command path below `wfrun`: "" for the top, "datasets add" for a nested one.
std::string path_of(const CLI::App* app) {
  std::string path;
  for (const CLI::App* a = app; a && a->get_parent(); a = a->get_parent())
    path = path.empty() ? a->get_name() : a->get_name() + " " + path;
  return path;
}

// ---- roff --------------------------------------------------------------------------------

// Text for a roff line: backslashes and minus signs escaped (so `--jobs` copies as typed),
// `code` in bold, no line that starts like a request.
std::string roff(const std::string& text) {
  std::string out;
  bool bold = false;
  for (char c : text) {
    if (c == '\\') out += "\\e";
    else if (c == '-') out += "\\-";
    else if (c == '`') {
      out += bold ? "\\fR" : "\\fB";
      bold = !bold;
    } else out += c;
  }
  if (bold) out += "\\fR";
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out = "\\&" + out;
  return out;
}

std::string option_heading(const CLI::Option* o) {
  std::vector<std::string> names;
  for (const auto& s : o->get_snames()) names.push_back("\\fB\\-" + roff(s) + "\\fR");
  for (const auto& l : o->get_lnames()) names.push_back("\\fB\\-\\-" + roff(l) + "\\fR");
  std::string h = join(names, ", ");
  if (takes_value(o)) h += " \\fI" + roff(metavar(o)) + "\\fR";
  if (repeatable(o)) h += " ...";
  return h;
}

void option_list(std::string& out, const std::vector<const CLI::Option*>& opts) {
  for (const auto* o : opts) {
    out += ".TP\n" + option_heading(o) + "\n" + roff(o->get_description());
    if (!o->get_envname().empty()) out += " (environment: \\fB" + roff(o->get_envname()) + "\\fR)";
    out += "\n";
  }
}

std::string synopsis(const CLI::App* app) {
  std::string s = ".B wfrun " + roff(path_of(app)) + "\n";
  if (!visible_options(*app, false).empty()) s += "[\\fIOPTIONS\\fR]";
  for (const auto* p : visible_options(*app, true)) {
    std::string name = "\\fI" + roff(p->get_name(true)) + "\\fR" + (repeatable(p) ? " ..." : "");
    s += " " + (p->get_required() ? name : "[" + name + "]");
  }
  if (!visible_subcommands(*app).empty()) s += " \\fICOMMAND\\fR";
  return s + "\n";
}

void command_sections(std::string& out, const CLI::App* app, const std::string& level) {
  auto positionals = visible_options(*app, true);
  if (!positionals.empty()) {
    out += level + " ARGUMENTS\n";
    for (const auto* p : positionals) {
      out += ".TP\n\\fI" + roff(p->get_name(true)) + "\\fR" + (repeatable(p) ? " ..." : "") +
             "\n" + roff(p->get_description()) + (p->get_required() ? " (required)" : "") + "\n";
    }
  }
  auto opts = visible_options(*app, false);
  if (!opts.empty()) {
    out += level + " OPTIONS\n";
    option_list(out, opts);
  }
}

const char* const kExitStatus =
    ".SH EXIT STATUS\n"
    ".TP\n0\nsuccess\n"
    ".TP\n1\na job failed\n"
    ".TP\n2\nthe workflow, a file it names or the command line is invalid (the message says "
    "\\fIFILE\\fR:\\fILINE\\fR:\\fICOLUMN\\fR)\n"
    ".TP\n130\ninterrupted (Ctrl\\-C or SIGTERM: running jobs are cancelled and the run is "
    "recorded as cancelled)\n";

std::string title(const std::string& name) {
  std::string t;
  for (char c : name) t += c == '-' ? std::string("\\-") : std::string(1, static_cast<char>(std::toupper(c)));
  // No hyphenation, ragged right: option names and paths must read as typed.
  return ".TH " + t + " 1 \"\" \"wfrun " WFRUN_VERSION "\" \"wfrun manual\"\n.nh\n.ad l\n";
}

std::string see_also(const CLI::App& top, const CLI::App* except) {
  std::vector<std::string> refs;
  if (except) refs.push_back("\\fBwfrun\\fR(1)");
  for (const auto* s : visible_subcommands(top))
    if (s != except) refs.push_back("\\fBwfrun\\-" + roff(s->get_name()) + "\\fR(1)");
  return ".SH SEE ALSO\n" + join(refs, ",\n") +
         "\n.PP\nThe guides in \\fI/usr/share/doc/wfrun/\\fR (\\fIdocs/\\fR in the source): the "
         "workflow language, notebooks, GPUs, git, GitHub and \\fBwfrun serve\\fR.\n";
}

std::string top_page(const CLI::App& app) {
  std::string out = title("wfrun");
  std::string what = app.get_description();  // "wfrun — run ..." as --help prints it
  for (const char* lead : {"wfrun \u2014 ", "wfrun - "})
    if (starts_with(what, lead)) what = what.substr(std::string(lead).size());
  out += ".SH NAME\nwfrun \\- " + roff(what) + "\n";
  out += ".SH SYNOPSIS\n.B wfrun\n[\\fB\\-\\-state\\-dir\\fR \\fIDIR\\fR] \\fICOMMAND\\fR "
         "[\\fIARGS\\fR]\n.br\n.B wfrun\n\\fIWORKFLOW.yaml\\fR [\\fIOPTIONS\\fR]\n";
  out +=
      ".SH DESCRIPTION\nwfrun runs machine\\-learning workflows on this machine. A workflow is "
      "a YAML file in Paperspace Gradient's workflow language, plus wfrun's extensions; its jobs "
      "run as a graph, on the host or in podman or docker containers, and every run is recorded "
      "in SQLite. \\fBwfrun\\fR \\fIWORKFLOW.yaml\\fR is the same as \\fBwfrun run\\fR "
      "\\fIWORKFLOW.yaml\\fR.\n";
  out += ".SH COMMANDS\n";
  for (const auto* s : visible_subcommands(app)) {
    out += ".TP\n\\fBwfrun " + roff(s->get_name()) + "\\fR\n" + roff(s->get_description()) +
           " (\\fBwfrun\\-" + roff(s->get_name()) + "\\fR(1))\n";
  }
  out += ".SH OPTIONS\n";
  option_list(out, visible_options(app, false));
  out += kExitStatus;
  out +=
      ".SH ENVIRONMENT\n"
      ".TP\n\\fBWFRUN_HOME\\fR\nwhere runs are recorded when \\fB\\-\\-state\\-dir\\fR is not "
      "given (default \\fI~/.wfrun\\fR)\n"
      ".TP\n\\fBWFRUN_SECRET_\\fR\\fINAME\\fR\nthe secret \\fBsecret:\\fR\\fINAME\\fR of a "
      "workflow\n"
      ".TP\n\\fBGITHUB_TOKEN\\fR\nthe token for GitHub clones, pushes and API calls\n"
      ".TP\n\\fBWFRUN_CONTAINER_RUNTIME\\fR\nthe command for image jobs (default: podman, then "
      "docker)\n"
      ".TP\n\\fBWFRUN_CA_FILE\\fR\nan extra CA bundle for git and GitHub over HTTPS\n"
      ".TP\n\\fBWFRUN_DEBUG\\fR\n1: the debug log on standard error\n";
  out +=
      ".SH FILES\n"
      ".TP\n\\fI$WFRUN_HOME/wfrun.db\\fR\nthe run store (SQLite)\n"
      ".TP\n\\fI$WFRUN_HOME/runs/\\fR\\fIID\\fR\\fI/\\fR\na run's workflow, jobs' logs and "
      "outputs\n"
      ".TP\n\\fI/etc/wfrun/server.yaml\\fR\nthe configuration of the packaged "
      "\\fBwfrun\\-serve.service\\fR (state in \\fI/var/lib/wfrun\\fR)\n";
  out += see_also(app, nullptr);
  return out;
}

// ---- completions -------------------------------------------------------------------------

void each_command(const CLI::App* app, const std::function<void(const CLI::App*)>& fn) {
  fn(app);
  for (const auto* s : visible_subcommands(*app)) each_command(s, fn);
}

// Single-quoted for bash and zsh.
std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::vector<std::string> option_words(const CLI::Option* o) {
  std::vector<std::string> w;
  for (const auto& s : o->get_snames()) w.push_back("-" + s);
  for (const auto& l : o->get_lnames()) w.push_back("--" + l);
  return w;
}

std::string bash_script(const CLI::App& top) {
  auto globals = global_options(top);
  auto options_of = [&](const CLI::App* a) {
    auto opts = visible_options(*a, false);
    if (a != &top) opts.insert(opts.end(), globals.begin(), globals.end());
    return opts;
  };
  std::string subs, opts, values, positionals;
  each_command(&top, [&](const CLI::App* a) {
    std::string key = sh_quote(path_of(a));
    std::vector<std::string> names, words;
    for (const auto* s : visible_subcommands(*a)) names.push_back(s->get_name());
    if (!names.empty()) subs += "    " + key + ") echo " + sh_quote(join(names, " ")) + " ;;\n";
    for (const auto* o : options_of(a)) {
      auto w = option_words(o);
      words.insert(words.end(), w.begin(), w.end());
      if (!takes_value(o)) continue;
      std::string kind;
      switch (value_kind(o)) {
        case Value::kChoice: kind = "w:" + join(choices(o), " "); break;
        case Value::kDir: kind = "d"; break;
        case Value::kFile: kind = "f"; break;
        case Value::kNone: kind = "n"; break;
      }
      std::vector<std::string> keys;
      for (const auto& x : w) keys.push_back(sh_quote(path_of(a) + "|" + x));
      values += "    " + join(keys, "|") + ") echo " + sh_quote(kind) + " ;;\n";
    }
    opts += "    " + key + ") echo " + sh_quote(join(words, " ")) + " ;;\n";
    std::string kinds;
    for (const auto* p : visible_options(*a, true)) {
      Value v = value_kind(p);
      std::string k = v == Value::kFile ? "f" : v == Value::kDir ? "d" : "n";
      // A repeatable positional (`validate FILES...`) goes on for ever: its kind is the last.
      kinds += repeatable(p) ? k + "*" : k;
    }
    if (!kinds.empty()) positionals += "    " + key + ") echo " + sh_quote(kinds) + " ;;\n";
  });
  return "# bash completion for wfrun, generated from its option tables by `wfrun __completion bash`.\n"
         "\n"
         "_wfrun_subcommands() {\n  case $1 in\n" + subs + "  esac\n}\n"
         "_wfrun_options() {\n  case $1 in\n" + opts + "  esac\n}\n"
         "# What an option's value is: f a file, d a folder, n nothing to complete, w:WORDS one of them.\n"
         "_wfrun_value() {\n  case \"$1|$2\" in\n" + values + "    *) return 1 ;;\n  esac\n}\n"
         "# The positionals of a command, in order (a trailing * repeats the last).\n"
         "_wfrun_positionals() {\n  case $1 in\n" + positionals + "  esac\n}\n"
         R"BASH(_wfrun_compgen() {
  case $1 in
    f) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$2")) ;;
    d) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$2")) ;;
    w:*) COMPREPLY=($(compgen -W "${1#w:}" -- "$2")) ;;
    *) COMPREPLY=() ;;
  esac
}
_wfrun() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev='' path='' npos=0 i w skip=0 kind subs
  # Which command the words so far name, and how many positionals they gave it. `=` is a word
  # of its own for bash (COMP_WORDBREAKS): it joins the words either side.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    if [[ $w == = ]]; then skip=1; continue; fi
    if ((skip)); then skip=0; continue; fi
    if [[ $w == -* ]]; then
      _wfrun_value "$path" "$w" >/dev/null && skip=1
    elif ((npos == 0)) && [[ " $(_wfrun_subcommands "$path") " == *" $w "* ]]; then
      path=${path:+$path }$w
    elif [[ -z $path ]]; then
      path=run npos=1  # `wfrun FILE ...` is `wfrun run FILE ...`
    else
      npos=$((npos + 1))
    fi
  done
  if [[ $cur == = ]]; then prev=${COMP_WORDS[COMP_CWORD - 1]}; cur=''
  elif ((COMP_CWORD > 1)) && [[ ${COMP_WORDS[COMP_CWORD - 1]} == = ]]; then prev=${COMP_WORDS[COMP_CWORD - 2]}
  else prev=${COMP_WORDS[COMP_CWORD - 1]}; fi
  if [[ $prev == -* ]] && kind=$(_wfrun_value "$path" "$prev"); then
    _wfrun_compgen "$kind" "$cur"
    return
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_wfrun_options "$path")" -- "$cur"))
    return
  fi
  subs=$(_wfrun_subcommands "$path")
  if [[ -n $subs ]] && ((npos == 0)); then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    # `wfrun FILE` runs a workflow file.
    [[ -z $path ]] && COMPREPLY+=($(compgen -f -X '!*.y*ml' -- "$cur") $(compgen -d -- "$cur"))
    return
  fi
  kind=$(_wfrun_positionals "$path")
  if [[ $kind == *'*' ]]; then
    kind=${kind%'*'}
    ((npos >= ${#kind})) && npos=$((${#kind} - 1))
  fi
  _wfrun_compgen "${kind:npos:1}" "$cur"
}
complete -F _wfrun wfrun
)BASH";
}

// zsh's _arguments specs: `(-j --jobs)'{-j+,--jobs=}'[how many jobs]:jobs:` and friends.
std::string zsh_text(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '[' || c == ']' || c == '\\' || c == ':') out += '\\';
    out += c;
  }
  return out;
}

std::string zsh_action(const CLI::Option* o) {
  switch (value_kind(o)) {
    case Value::kChoice: return "(" + join(choices(o), " ") + ")";
    case Value::kDir: return "_files -/";
    case Value::kFile: return "_files";
    case Value::kNone: return " ";
  }
  return " ";
}

std::string zsh_option(const CLI::Option* o) {
  auto words = option_words(o);
  std::vector<std::string> forms;
  for (const auto& w : words) forms.push_back(takes_value(o) ? w + (w.size() == 2 ? "+" : "=") : w);
  std::string head;
  if (repeatable(o)) head = "'*'";
  else if (words.size() > 1) head = "'(" + join(words, " ") + ")'";
  head += forms.size() > 1 ? "{" + join(forms, ",") + "}" : sh_quote(forms[0]);
  std::string spec = "[" + zsh_text(o->get_description()) + "]";
  if (takes_value(o)) spec += ":" + zsh_text(o->get_single_name()) + ":" + zsh_action(o);
  return head + sh_quote(spec);
}

std::string zsh_function_name(const CLI::App* a) {
  std::string p = path_of(a);
  for (auto& c : p)
    if (c == ' ' || c == '-') c = '_';
  return p.empty() ? "_wfrun" : "_wfrun_" + p;
}

std::string zsh_script(const CLI::App& top) {
  auto globals = global_options(top);
  std::string functions;
  each_command(&top, [&](const CLI::App* a) {
    std::vector<std::string> specs;
    for (const auto* o : visible_options(*a, false)) specs.push_back(zsh_option(o));
    if (a != &top)
      for (const auto* o : globals) specs.push_back(zsh_option(o));
    auto subs = visible_subcommands(*a);
    std::string f = zsh_function_name(a) + "() {\n";
    if (subs.empty()) {
      for (const auto* p : visible_options(*a, true)) {
        std::string action = zsh_action(p);
        std::string msg = zsh_text(p->get_name(true));
        specs.push_back(sh_quote(std::string(repeatable(p) ? "*" : p->get_required() ? "" : ":") +
                               ":" + msg + ":" + action));
      }
      f += "  _arguments -s -S";
      for (const auto& s : specs) f += " \\\n    " + s;
      f += "\n}\n";
    } else {
      f += "  local curcontext=$curcontext state line ret=1\n  typeset -A opt_args\n";
      f += "  _arguments -C -s -S";
      for (const auto& s : specs) f += " \\\n    " + s;
      f += " \\\n    '1: :->command' \\\n    '*:: :->args' && ret=0\n";
      f += "  case $state in\n    command)\n      local -a commands\n      commands=(\n";
      for (const auto* s : subs)
        f += "        " + sh_quote(s->get_name() + ":" + s->get_description()) + "\n";
      f += "      )\n      _describe -t commands " +
           sh_quote(a == &top ? "wfrun command" : "wfrun " + path_of(a) + " command") +
           " commands && ret=0\n";
      if (a == &top) f += "      _files -g '*.(yaml|yml)(-.)' && ret=0  # wfrun FILE\n";
      f += "      ;;\n    args)\n      case $words[1] in\n";
      for (const auto* s : subs)
        f += "        " + sh_quote(s->get_name()) + ") " + zsh_function_name(s) + " && ret=0 ;;\n";
      if (a == &top) f += "        *) _wfrun_run && ret=0 ;;  # wfrun FILE ...\n";
      f += "      esac\n      ;;\n  esac\n  return ret\n}\n";
    }
    functions = f + functions;  // callees first, so the file reads top-down from _wfrun at the end
  });
  return "#compdef wfrun\n"
         "# zsh completion for wfrun, generated from its option tables by `wfrun __completion zsh`.\n\n" +
         functions + "\n_wfrun \"$@\"\n";
}

int write_man_pages(const CLI::App& app, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  // Pages of subcommands that no longer exist must not be installed.
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (starts_with(name, "wfrun") && e.path().extension() == ".1") fs::remove(e.path(), ec);
  }
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream out(fs::path(dir) / name, std::ios::binary);
    out << text;
    return static_cast<bool>(out);
  };
  if (!write("wfrun.1", man_page(app, nullptr))) {
    std::fprintf(stderr, "wfrun: cannot write %s/wfrun.1\n", dir.c_str());
    return 2;
  }
  for (const auto* s : visible_subcommands(app)) {
    if (!write("wfrun-" + s->get_name() + ".1", man_page(app, s))) {
      std::fprintf(stderr, "wfrun: cannot write %s/wfrun-%s.1\n", dir.c_str(), s->get_name().c_str());
      return 2;
    }
  }
  return 0;
}

}  // namespace

std::string man_page(const CLI::App& app, const CLI::App* sub) {
  if (!sub) return top_page(app);
  std::string name = "wfrun-" + sub->get_name();
  std::string out = title(name);
  out += ".SH NAME\n" + roff(name) + " \\- " + roff(sub->get_description()) + "\n";
  out += ".SH SYNOPSIS\n" + synopsis(sub);
  auto children = visible_subcommands(*sub);
  for (const auto* c : children) out += ".br\n" + synopsis(c);
  out += ".SH DESCRIPTION\n" + roff(sub->get_description()) + ".\n";
  if (!sub->get_footer().empty()) out += ".PP\n" + roff(sub->get_footer()) + "\n";
  command_sections(out, sub, ".SH");
  for (const auto* c : children) {
    out += ".SH \"WFRUN " + roff(path_of(c)) + "\"\n" + roff(c->get_description()) + ".\n";
    if (!c->get_footer().empty()) out += ".PP\n" + roff(c->get_footer()) + "\n";
    command_sections(out, c, ".SS");
  }
  auto globals = global_options(app);
  if (!globals.empty()) {
    out += ".SH GLOBAL OPTIONS\n";
    option_list(out, globals);
  }
  out += kExitStatus;
  out += see_also(app, sub);
  return out;
}

std::string completion_script(const CLI::App& app, const std::string& shell) {
  if (shell == "bash") return bash_script(app);
  if (shell == "zsh") return zsh_script(app);
  return "";
}

void add_docs_commands(CLI::App& app, int& exit_code) {
  static std::string man_dir, shell;
  auto* man = app.add_subcommand("__man", "write the man pages into DIR (for the build)");
  man->group("");
  man->add_option("dir", man_dir, "the folder")->required();
  man->callback([&] { exit_code = write_man_pages(app, man_dir); });

  auto* comp = app.add_subcommand("__completion", "print the completion script for SHELL");
  comp->group("");
  comp->add_option("shell", shell, "bash or zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));
  comp->callback([&] {
    std::fputs(completion_script(app, shell).c_str(), stdout);
    exit_code = 0;
  });
}

}  // namespace wfrun::cli
