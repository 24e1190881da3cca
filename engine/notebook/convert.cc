// IPython syntax -> plain Python, and whole notebooks -> percent-format scripts (nb2py).

#include <cctype>
#include <optional>
#include <set>
#include <sstream>

#include "base/strings.h"
#include "engine/notebook/embedded.h"
#include "engine/notebook/notebook.h"
#include "engine/notebook/scan.h"

namespace wfrun::notebook {
namespace {

const std::set<std::string>& supported_line_magics() {
  static const std::set<std::string> k = {
      "cd", "env", "set_env", "pwd", "time", "timeit", "matplotlib", "pylab", "pip", "conda",
      "run", "load_ext", "reload_ext", "autoreload", "aimport", "config", "xmode", "precision",
      "qtconsole", "who", "lsmagic", "connect_info", "debug", "tb"};
  // Not here: %history (a converted script has no cells to remember; nbrun has it).
  return k;
}

// IPython's default aliases: `ls dir` runs the shell's ls.
const std::set<std::string>& shell_aliases() {
  static const std::set<std::string> k = {"ls", "ll", "lf", "lk", "ldir", "lx", "mkdir",
                                          "rmdir", "mv", "rm", "cp", "cat"};
  return k;
}

// Magics IPython runs without the % (automagic) when followed by arguments.
const std::set<std::string>& automagics() {
  static const std::set<std::string> k = {"cd", "pip", "conda", "env", "load_ext", "matplotlib",
                                          "timeit", "time", "run", "xmode", "autoreload", "pwd"};
  return k;
}

const std::set<std::string>& supported_cell_magics() {
  static const std::set<std::string> k = {
      "bash", "sh", "script", "perl", "ruby", "python", "python2", "python3", "pypy", "writefile",
      "file", "capture",
      "time", "timeit", "html", "HTML", "markdown", "latex", "svg", "javascript", "js"};
  return k;
}

// Magics that only open IPython's pager: no output in a notebook, so nothing to run.
const std::set<std::string>& pager_magics() {
  static const std::set<std::string> k = {"pinfo", "pinfo2", "psearch", "pdoc", "pdef",
                                          "psource", "pfile", "quickref", "magic"};
  return k;
}

// A Python string literal on one line.
std::string py_str(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
  return out + "\"";
}

std::vector<std::string> split_lines(std::string_view s) {
  std::vector<std::string> lines;
  std::string cur;
  for (char c : s) {
    if (c == '\n') {
      lines.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  lines.push_back(cur);
  return lines;
}

// Tracks whether each physical line starts a new logical Python line (not inside a string,
// brackets, or a backslash continuation).
class LogicalLines {
 public:
  bool at_start() const { return depth_ == 0 && quote_.empty() && !continued_; }

  void feed(const std::string& line) {
    continued_ = false;
    size_t i = 0;
    while (i < line.size()) {
      char c = line[i];
      if (!quote_.empty()) {
        if (c == '\\') {
          i += 2;
          continue;
        }
        if (line.compare(i, quote_.size(), quote_) == 0) {
          i += quote_.size();
          quote_.clear();
          continue;
        }
        ++i;
        continue;
      }
      if (c == '#') break;
      if (c == '"' || c == '\'') {
        std::string triple(3, c);
        quote_ = line.compare(i, 3, triple) == 0 ? triple : std::string(1, c);
        i += quote_.size();
        continue;
      }
      if (c == '(' || c == '[' || c == '{') ++depth_;
      if ((c == ')' || c == ']' || c == '}') && depth_ > 0) --depth_;
      ++i;
    }
    if (quote_.size() == 1) quote_.clear();  // unterminated one-line string: a syntax error
    std::string_view t = line;
    if (quote_.empty() && !t.empty() && t.back() == '\\') continued_ = true;
  }

 private:
  int depth_ = 0;
  std::string quote_;
  bool continued_ = false;
};

bool is_blank(std::string_view s) { return trim(s).empty(); }

// IPython strips `>>> ` / `... ` and `In [1]: ` / `   ...: ` prompts from pasted code.
void strip_prompts(std::vector<std::string>& lines) {
  for (auto prompt : {&scan::classic_prompt, &scan::ipython_prompt}) {
    if (lines.empty()) return;
    if (prompt(lines[0], true) > 0 || (lines.size() > 1 && prompt(lines[1], false) > 0)) {
      for (auto& l : lines) l.erase(0, prompt(l, false));
      return;
    }
  }
}

struct Translator {
  const ConvertOptions& options;
  const std::string& file;
  int cell_no;

  Error unsupported(int line, const std::string& what) const {
    return Error(file + ": cell " + std::to_string(cell_no) + ", line " + std::to_string(line) +
                 ": unsupported magic " + what);
  }

  // `%name args` at logical-line start; returns the Python expression, or an Error.
  Result<std::string> line_magic(const std::string& name, const std::string& args, int line) {
    if (shell_aliases().count(name))
      return "_wf.alias(" + py_str(name) + ", " + py_str(args) + ")";
    if (!supported_line_magics().count(name) &&
        options.unsupported == UnsupportedMagic::kFail)
      return unsupported(line, "%" + name);
    return "_wf.line_magic(" + py_str(name) + ", " + py_str(args) + ")";
  }
};

// `ls dir`, `cd ..`, `pip install x`: an alias or magic name used without %, followed by
// arguments that cannot continue a Python expression.
std::optional<std::string> automagic_call(std::string_view rest) {
  auto word = scan::command_word(rest);
  if (!word) return std::nullopt;
  std::string name(word->name), args(word->args);
  bool alias = shell_aliases().count(name) > 0;
  if (!alias && !automagics().count(name)) return std::nullopt;
  if (args.empty()) {
    if (!alias || name != "ls") return std::nullopt;
  } else {
    char c = args[0];
    bool dots = (name == "cd" && starts_with(args, "..")) ||
                (c == '-' && args.size() > 1 && std::isalpha(static_cast<unsigned char>(args[1])));
    if (!dots && std::string("=([.,+-*/%<>!&|^~:;'\"@").find(c) != std::string::npos)
      return std::nullopt;
    if (starts_with(args, "in ") || starts_with(args, "is ") || starts_with(args, "and ") ||
        starts_with(args, "or ") || starts_with(args, "if ") || starts_with(args, "not "))
      return std::nullopt;
  }
  if (alias) return "_wf.alias(" + py_str(name) + ", " + py_str(args) + ")";
  return "_wf.line_magic(" + py_str(name) + ", " + py_str(args) + ")";
}

bool is_help_line(std::string_view s) {
  s = trim(s);
  if (s.empty()) return false;
  if (s.front() == '?') return true;
  if (s.back() != '?') return false;
  // `x?`, `x??`, `*int*?`, `obj.attr?`, `%run?` - but not a comment ending in `?`.
  return scan::is_help_suffix(s);
}

// Whether a top-level statement (its lines, already translated) is an expression whose value
// IPython would keep in `_` and `Out`: not a keyword statement, an assignment or an annotation,
// and not silenced by a trailing `;`. Calls to print() and display() are left alone (None).
bool is_kept_expression(const std::vector<std::string>& stmt) {
  static const std::set<std::string> kStatements = {
      "assert", "async", "break", "class", "continue", "def", "del", "elif", "else",
      "except", "finally", "for", "from", "global", "if", "import", "nonlocal", "pass",
      "raise", "return", "try", "while", "with", "yield"};
  std::string_view first = trim(stmt.front());
  size_t w = 0;
  while (w < first.size() && (std::isalnum(static_cast<unsigned char>(first[w])) || first[w] == '_'))
    ++w;
  std::string word(first.substr(0, w));
  if (kStatements.count(word) || first.front() == '@' || starts_with(first, "_wf.") ||
      starts_with(first, "print(") || starts_with(first, "display("))
    return false;
  int depth = 0;
  std::string quote;
  char last_code = 0;
  for (const std::string& line : stmt) {
    for (size_t i = 0; i < line.size(); ++i) {
      char c = line[i];
      if (!quote.empty()) {
        if (c == '\\') {
          ++i;
        } else if (line.compare(i, quote.size(), quote) == 0) {
          i += quote.size() - 1;
          quote.clear();
        }
        continue;
      }
      if (c == '#') break;
      if (c == ' ' || c == '\t' || c == '\r') continue;
      if (c == '"' || c == '\'') {
        std::string triple(3, c);
        quote = line.compare(i, 3, triple) == 0 ? triple : std::string(1, c);
        i += quote.size() - 1;
        last_code = c;
        continue;
      }
      if (c == '(' || c == '[' || c == '{') ++depth;
      if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
      if (depth == 0) {
        if (c == '=' && i + 1 < line.size() && line[i + 1] == '=') {
          ++i;
        } else if (c == '=' && (i == 0 || std::string_view("=!<>").find(line[i - 1]) ==
                                              std::string_view::npos)) {
          return false;  // an assignment, plain or augmented
        } else if (c == ':' && word != "lambda") {
          return false;  // an annotation, or a compound statement
        } else if (c == ';' ) {
          last_code = c;
          continue;
        }
      }
      if (last_code == ';') return false;  // two statements on one line
      last_code = c;
    }
  }
  return last_code != ';' && last_code != 0;
}

}  // namespace

Result<std::string> translate_cell(std::string_view source, const ConvertOptions& options,
                                   const std::string& file, int cell_no) {
  Translator tr{options, file, cell_no};
  std::vector<std::string> lines = split_lines(source);
  strip_prompts(lines);

  // A cell magic: the first non-blank line starts with %%.
  size_t first = 0;
  while (first < lines.size() && is_blank(lines[first])) ++first;
  if (first < lines.size() && starts_with(lines[first], "%%")) {
    std::string head = lines[first].substr(2);
    while (!head.empty() && (head.back() == ' ' || head.back() == '\r')) head.pop_back();
    auto sp = head.find_first_of(" \t");
    std::string name = head.substr(0, sp);
    std::string args = sp == std::string::npos ? "" : std::string(trim(head.substr(sp + 1)));
    if (!supported_cell_magics().count(name) && options.unsupported == UnsupportedMagic::kFail)
      return tr.unsupported(static_cast<int>(first) + 1, "%%" + name);
    std::string out;
    for (size_t i = 0; i < first; ++i) out += "\n";
    std::string call = "_wf.cell_magic(" + py_str(name) + ", " + py_str(args) + ", ";
    if (first + 1 >= lines.size()) return out + call + "\"\")";
    // The body as a triple-quoted string, one source line per line. IPython passes the
    // body with a final newline.
    out += call + "\"\"\"\\\n";
    bool ends_with_newline = lines.back().empty();
    for (size_t i = first + 1; i < lines.size(); ++i) {
      bool last = i + 1 == lines.size();
      if (last && ends_with_newline) {
        out += "\"\"\")";
        break;
      }
      std::string esc;
      for (char c : lines[i]) {
        if (c == '\\' || c == '"') esc += '\\';
        esc += c;
      }
      out += esc;
      out += last ? "\\n\"\"\")" : "\n";
    }
    return out;
  }

  std::vector<std::string> out_lines;
  size_t last_top = std::string::npos;  // where the cell's last top-level statement starts
  LogicalLines logical;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& raw = lines[i];
    std::string line = raw;
    int lineno = static_cast<int>(i) + 1;
    if (logical.at_start()) {
      // A notebook saved with CRLF line ends keeps the CR in its source lines: IPython's line
      // splitting drops it, and so do we before looking for magics.
      std::string_view text = raw;
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      size_t ind = text.find_first_not_of(" \t");
      std::string indent(ind == std::string::npos ? text : text.substr(0, ind));
      std::string rest(ind == std::string::npos ? "" : text.substr(ind));
      if (starts_with(rest, "!!")) {
        line = indent + "_wf.getoutput(" + py_str(rest.substr(2)) + ")";
      } else if (starts_with(rest, "!")) {
        line = indent + "_wf.system(" + py_str(rest.substr(1)) + ")";
      } else if (auto sys = scan::system_assignment(text)) {
        line = std::string(sys->targets) + " = _wf.getoutput(" + py_str(sys->command) + ")";
      } else if (auto assign = scan::magic_assignment(text)) {
        auto call = tr.line_magic(std::string(assign->name), std::string(assign->args), lineno);
        if (!call) return call.error();
        line = std::string(assign->targets) + " = " + *call;
      } else if (auto magic = scan::line_magic(text)) {
        std::string name(magic->name);
        if (pager_magics().count(name)) {
          line = indent + "pass  # " + rest;
        } else {
          auto call = tr.line_magic(name, std::string(magic->args), lineno);
          if (!call) return call.error();
          line = indent + *call;
        }
      } else if (starts_with(rest, "%%")) {
        return tr.unsupported(lineno, rest.substr(0, rest.find_first_of(" \t")) +
                                          " (a cell magic must be the cell's first line)");
      } else if (auto call = automagic_call(rest)) {
        line = indent + *call;
      } else if (is_help_line(rest)) {
        // IPython opens its pager for `obj?`: a notebook shows nothing.
        line = indent + "pass  # " + rest;
      }
    }
    if (logical.at_start() && !is_blank(raw) && raw[0] != ' ' && raw[0] != '\t' && raw[0] != '#')
      last_top = i;
    logical.feed(raw);
    out_lines.push_back(line);
  }
  if (options.keep_results && last_top != std::string::npos &&
      is_kept_expression({out_lines.begin() + static_cast<long>(last_top), out_lines.end()})) {
    // The closing parenthesis goes on a line of its own: the last line may end in a comment.
    while (!out_lines.empty() && is_blank(out_lines.back())) out_lines.pop_back();
    out_lines[last_top] = "_wf.result(" + std::to_string(cell_no) + ", " + out_lines[last_top];
    out_lines.push_back(")");
  }
  return join(out_lines, "\n");
}

Result<std::string> nb_to_py(const Notebook& nb, const ConvertOptions& options) {
  std::ostringstream body;
  bool needs_support = false;
  std::string future;
  int code_no = 0;
  bool first = true;
  // `_`, `__`, `___`, `Out`, `_oh` and `_N` read a cell's value: keep the values then.
  ConvertOptions opts = options;
  for (const auto& cell : nb.cells())
    if (cell.value("cell_type", "") == "code" && scan::reads_cell_values(cell_source(cell)))
      opts.keep_results = true;
  for (const auto& cell : nb.cells()) {
    std::string type = cell.value("cell_type", "");
    std::string src = cell_source(cell);
    if (!first) body << "\n";
    first = false;
    auto tags = cell_tags(cell);
    std::string tag_attr;
    if (!tags.empty()) {
      tag_attr = " tags=[";
      for (size_t i = 0; i < tags.size(); ++i) tag_attr += (i ? ", " : "") + py_str(tags[i]);
      tag_attr += "]";
    }
    if (type == "code") {
      if (!trim(src).empty()) ++code_no;
      auto code = translate_cell(src, opts, nb.path, code_no);
      if (!code) return code.error();
      // get_ipython() is what support.py defines for notebooks that call it themselves.
      if (code->find("_wf.") != std::string::npos ||
          code->find("get_ipython") != std::string::npos)
        needs_support = true;
      // `from __future__` must open the file: move it up, keeping the line count.
      auto lines = split_lines(*code);
      for (auto& l : lines)
        if (starts_with(l, "from __future__ import")) {
          future += l + "\n";
          l = "pass  # " + l + " (moved to the top)";
        }
      body << "# %%" << tag_attr << "\n" << join(lines, "\n") << "\n";
    } else {
      body << "# %% [" << (type == "raw" ? "raw" : "markdown") << "]" << tag_attr << "\n";
      for (const auto& l : split_lines(src)) body << (l.empty() ? "#" : "# " + l) << "\n";
    }
  }
  std::string out = "#!/usr/bin/env python3\n# Converted from " + nb.path +
                    " by wfrun nb2py (percent format; runs under plain python3).\n\n";
  out += future;
  if (needs_support && options.include_support) {
    out += "# %% [markdown]\n# wfrun support code: what IPython syntax in this notebook became.\n\n";
    out += "# %%\n";
    out += std::string(support_py());
    out += "\n";
  }
  return out + body.str();
}

}  // namespace wfrun::notebook
