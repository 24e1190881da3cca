// Generic YAML helpers of WorkflowParser: locations, errors, typed scalars, duplicate keys.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "base/strings.h"
#include "workflows/expr.h"
#include "workflows/parse_internal.h"

namespace wfrun::workflows::internal {

bool is_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

bool is_env_name(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

namespace {

bool is_plain(const YAML::Node& n) { return n.Tag() == "?"; }

bool is_bool_text(const std::string& s) {
  return s == "true" || s == "false" || s == "True" || s == "False" || s == "TRUE" || s == "FALSE";
}

std::optional<long long> parse_int(const std::string& s) {
  if (s.empty()) return std::nullopt;
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i == s.size()) return std::nullopt;
  for (size_t j = i; j < s.size(); ++j) {
    if (!std::isdigit(static_cast<unsigned char>(s[j]))) return std::nullopt;
  }
  if (s.size() - i > 18) return std::nullopt;
  return std::stoll(s);
}

std::optional<double> parse_float(const std::string& s) {
  if (s.empty()) return std::nullopt;
  // Only decimal notation: no hex, inf or nan.
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '+' &&
        c != 'e' && c != 'E') {
      return std::nullopt;
    }
  }
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// "a string", "an integer", "a list", ... for "must be X, got Y".
std::string describe(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "an empty value";
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  if (!is_plain(n)) return "a string";
  const std::string& s = n.Scalar();
  if (is_bool_text(s)) return "a boolean";
  if (parse_int(s)) return "an integer";
  if (parse_float(s)) return "a number";
  return "a string";
}

std::string quote(const std::string& s) { return "'" + s + "'"; }

}  // namespace

// What to say about a key that GitHub Actions (or Gradient) users may try, or "".
std::string foreign_key_hint(const std::string& key, bool top) {
  const std::string q = "'" + key + "'";
  if (key == "name") {
    return top ? "'name' is not allowed at the top level (Gradient rejects it too); use a YAML "
                 "comment"
               : "'name' is not a job key (Gradient rejects it too); the job's key is its name";
  }
  if (top) {
    if (key == "env")
      return "'env' at the top level is GitHub Actions syntax; use 'defaults: env:'";
    if (key == "run-name" || key == "permissions" || key == "concurrency") {
      return q + " is GitHub Actions syntax; wfrun does not support it";
    }
    return "";
  }
  if (key == "steps" || key == "run") {
    return q + " is GitHub Actions syntax; wfrun uses Gradient's 'uses'/'with'";
  }
  if (key == "runs-on") {
    return "'runs-on' is GitHub Actions syntax; wfrun picks a machine with 'resources:' "
           "(instance-type, gpus, cpus, memory)";
  }
  if (key == "timeout-minutes")
    return "'timeout-minutes' is GitHub Actions syntax; use 'timeout: 30m'";
  if (key == "strategy") return "'strategy' is GitHub Actions syntax; wfrun has no matrix jobs";
  if (key == "container") {
    return "'container' is GitHub Actions syntax; use 'uses: container@v1' with 'with: image:'";
  }
  if (key == "services" || key == "permissions" || key == "environment" || key == "concurrency" ||
      key == "secrets" || key == "defaults") {
    return q + " is GitHub Actions syntax; wfrun does not support it in a job";
  }
  return "";
}

std::string describe_value(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "an empty value";
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  return "'" + n.Scalar() + "'";
}

WorkflowParser::WorkflowParser(std::string_view text, std::string file) : text_(text) {
  wf_.file = std::move(file);
  wf_.text = std::string(text);
  line_starts_.push_back(0);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') line_starts_.push_back(i + 1);
  }
}

void WorkflowParser::error(const Location& where, std::string message) {
  errors_.emplace_back(where, std::move(message));
}

Location WorkflowParser::loc(const YAML::Node& node) const {
  Location l;
  l.file = wf_.file;
  YAML::Mark m = node.Mark();
  if (m.line >= 0) {
    l.line = m.line + 1;
    l.column = m.column + 1;
  }
  return l;
}

Location WorkflowParser::key_loc(const Entry& e) const {
  Location l = loc(e.key_node);
  l.field = e.path;
  return l;
}

Location WorkflowParser::value_loc(const Entry& e) const {
  if (!e.value.IsDefined() || e.value.IsNull()) return key_loc(e);
  Location l = loc(e.value);
  l.field = e.path;
  return l;
}

Location WorkflowParser::offset_loc(const YAML::Node& node, std::string_view value,
                                    size_t offset) const {
  Location base = loc(node);
  if (base.line == 0) return base;
  // The expression is the k-th "${{" of the value; find the k-th "${{" of the source text from
  // the node's start (block and quoted scalars hold "${{" verbatim).
  size_t k = 0;
  for (size_t p = value.find("${{"); p != std::string_view::npos && p < offset;
       p = value.find("${{", p + 1)) {
    ++k;
  }
  size_t pos = line_starts_[base.line - 1] + base.column - 1;
  size_t found = text_.find("${{", pos);
  for (size_t i = 0; i < k && found != std::string_view::npos; ++i) {
    found = text_.find("${{", found + 1);
  }
  if (found == std::string_view::npos) return base;
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), found);
  size_t line = static_cast<size_t>(it - line_starts_.begin());  // 1-based
  base.line = static_cast<int>(line);
  base.column = static_cast<int>(found - line_starts_[line - 1] + 1);
  return base;
}

namespace {

// Flow depth ([ { minus ] }) and open quotes after `line`, outside comments; starts from the
// state the previous line left.
void scan_flow(std::string_view line, int& depth, char& quote) {
  char prev = 0;  // the last character before this one on the line that is not a space
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    // Read here, not in the loop's increment: an escape at the line's end moves i past it.
    const char before = prev;
    if (c != ' ') prev = c;
    if (quote == '\'') {
      if (c == '\'' && i + 1 < line.size() && line[i + 1] == '\'') ++i;
      else if (c == '\'') quote = 0;
    } else if (quote == '"') {
      if (c == '\\') ++i;
      else if (c == '"') quote = 0;
    } else if (c == '#' && (i == 0 || line[i - 1] == ' ')) {
      return;
    } else if ((c == '\'' || c == '"') && (i == 0 || std::string_view(" [{,:-").find(line[i - 1]) != std::string_view::npos)) {
      quote = c;
    } else if (c == '[' || c == '{') {
      // Outside a flow collection a bracket opens one only where a value starts (the line's
      // first character, or after `: `, `- `, `? `); elsewhere it is text of a plain scalar
      // (`run: echo ${{ x }}`).
      if (depth > 0 || before == 0 || ((before == ':' || before == '-' || before == '?') && line[i - 1] == ' '))
        ++depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
}

}  // namespace

void WorkflowParser::scan_tabs() {
  int block_parent = -1;  // indentation of the line that opened a block scalar (`key: |`)
  int depth = 0;          // open [ and { (flow collections may span lines)
  char quote = 0;         // an open quoted scalar that spans lines
  int root_indent = -1;   // indentation of the document's first content line
  for (size_t ln = 0; ln < line_starts_.size(); ++ln) {
    size_t start = line_starts_[ln];
    size_t end = ln + 1 < line_starts_.size() ? line_starts_[ln + 1] - 1 : text_.size();
    std::string_view line = text_.substr(start, end - start);
    // YAML allows no control character but tab, CR and LF (and yaml-cpp 0.7 loops, allocating
    // without end, on a NUL before a ','): refuse one before yaml-cpp sees the text.
    for (size_t i = 0; i < line.size(); ++i) {
      const auto b = static_cast<unsigned char>(line[i]);
      if ((b < 0x20 && b != '\t' && b != '\r') || b == 0x7F) {
        Location l;
        l.file = wf_.file;
        l.line = static_cast<int>(ln + 1);
        l.column = static_cast<int>(i + 1);
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02X", b);
        error(l, std::string("control character ") + hex +
                     " in the file (YAML allows none but tab and line ends; remove it)");
        yaml_unsafe_ = true;
        return;
      }
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t n = line.find_first_not_of(' ');
    if (n == std::string_view::npos) continue;
    std::string_view rest = trim(line);
    bool blank = rest.empty();
    if (block_parent >= 0) {
      if (blank || static_cast<int>(n) > block_parent) continue;  // block content: tabs are text
      block_parent = -1;
    }
    if (blank || (rest[0] == '#' && !quote)) continue;
    if (depth == 0 && !quote) {
      if (rest == "---" || rest.substr(0, 4) == "--- ") {
        root_indent = -1;
        continue;
      }
      // A ',' that begins a document's content or stands at or left of its root's column
      // (where no plain scalar may start with one). load_documents() would refuse it too
      // (yaml-cpp 0.7 sees a new document there), but only as "unexpected ','": this says
      // what is wrong with the line.
      if (line[n] == ',' && (root_indent < 0 || static_cast<int>(n) <= root_indent)) {
        Location l;
        l.file = wf_.file;
        l.line = static_cast<int>(ln + 1);
        l.column = static_cast<int>(n + 1);
        error(l, "unexpected ',' outside a [...] or {...} list (quote the value, or check the "
                 "indentation of this line)");
        yaml_unsafe_ = true;
        return;
      }
      if (root_indent < 0) root_indent = static_cast<int>(n);
    }
    const bool continued = quote || depth > 0;
    scan_flow(line, depth, quote);
    if (continued) continue;
    if (line[n] == '\t') {
      Location l;
      l.file = wf_.file;
      l.line = static_cast<int>(ln + 1);
      l.column = static_cast<int>(n + 1);
      error(l, "tabs are not allowed in YAML indentation; use spaces");
      return;
    }
    // Does this line open a block scalar? (`key: |`, `key: >-`, `- |`, with an optional comment)
    std::string_view body = rest;
    size_t hash = body.find(" #");
    if (hash != std::string_view::npos) body = trim(body.substr(0, hash));
    size_t ind = body.find_last_of("|>");
    if (ind == std::string_view::npos || ind == 0) continue;
    std::string_view after = body.substr(ind + 1);
    if (after.find_first_not_of("+-0123456789") != std::string_view::npos) continue;
    char before = body[ind - 1];
    if (before != ' ' && before != '\t') continue;
    std::string_view head = trim(body.substr(0, ind));
    if (head == "-" || (!head.empty() && head.back() == ':')) block_parent = static_cast<int>(n);
  }
}

Error WorkflowParser::yaml_error(const YAML::Exception& e) const {
  static const std::map<std::string, std::string> kFriendly = {
      {"illegal map value",
       "unexpected ':' (check the indentation; quote values that contain ': ')"},
      {"end of map not found", "unexpected text in a map (check the indentation of this line)"},
      {"end of sequence not found",
       "unexpected text in a list (check the indentation of this line)"},
      {"end of map flow not found", "a '{' is not closed by '}'"},
      {"end of sequence flow not found", "a '[' is not closed by ']'"},
      {"illegal block entry", "unexpected list item '-' (check the indentation)"},
      {"the referenced anchor is not defined",
       "this alias refers to an anchor that is not defined"},
      {"unknown token", "unexpected character (quote values that start with '@' or '`')"},
      {"illegal flow end", "unexpected '}' or ']' (no matching '{' or '[')"},
      {"illegal EOF in scalar", "a quoted string is not closed before the end of the file"},
  };
  Location l;
  l.file = wf_.file;
  if (e.mark.line >= 0) {
    l.line = e.mark.line + 1;
    l.column = e.mark.column + 1;
  }
  if (e.msg == "illegal tab when looking for indentation") {
    return Error(l, "tabs are not allowed in YAML indentation; use spaces");
  }
  auto it = kFriendly.find(e.msg);
  std::string msg = it != kFriendly.end() ? it->second : e.msg;
  if (starts_with(e.msg, "unknown escape character: ")) {
    // yaml-cpp appends the byte after the '\\': its end-of-text mark (0x04) when there is none,
    // the first byte only of a character outside ASCII.
    const unsigned char c = static_cast<unsigned char>(e.msg.back());
    if (c == 0x04)
      msg = "the text ends inside a double-quoted string, after a '\\' (close the string with "
            "'\"', or write a backslash as '\\\\')";
    else
      msg = std::string("unknown escape character") + (c > ' ' && c < 0x7f ? ": " + e.msg.substr(e.msg.size() - 1) : "") +
            " in a double-quoted string (use single quotes, or write '\\\\')";
  }
  return Error(l, "YAML syntax error: " + msg);
}

std::vector<Entry> WorkflowParser::entries(const YAML::Node& map, const std::string& path) {
  std::vector<Entry> out;
  if (!map.IsMap()) return out;
  std::map<std::string, int> first_line;
  for (auto it = map.begin(); it != map.end(); ++it) {
    Entry e;
    e.key_node = it->first;
    e.value = it->second;
    if (!e.key_node.IsScalar()) {
      Location l = loc(e.key_node);
      if (l.line == 0) l = loc(e.value);
      error(l, e.key_node.IsNull() ? std::string("a key is missing before ':'")
                                   : "keys must be plain names, got " + describe(e.key_node));
      continue;
    }
    e.key = e.key_node.Scalar();
    e.path = path.empty() ? e.key : path + "." + e.key;
    Location kl = loc(e.key_node);
    auto [seen, inserted] = first_line.emplace(e.key, kl.line);
    if (!inserted) {
      error(kl, "duplicate key '" + e.key + "' (first defined at line " +
                    std::to_string(seen->second) + ")");
      continue;
    }
    kl.field = e.path;
    wf_.locations[e.path] = kl;
    if (e.value.IsDefined() && !e.value.IsNull()) value_locs_[e.path] = loc(e.value);
    out.push_back(std::move(e));
  }
  return out;
}

void WorkflowParser::unknown_key(const Entry& e, const std::vector<std::string>& allowed,
                                 const std::string& context) {
  std::string hint = did_you_mean(e.key, allowed);
  std::string msg = context.empty() ? "unknown top-level key '" + e.key + "'"
                                    : "unknown key '" + e.key + "' in " + context;
  msg += hint.empty() ? "; expected one of: " + join(allowed, ", ") : hint;
  error(key_loc(e), msg);
}

bool WorkflowParser::expect_map(const Entry& e, const std::string& what) {
  if (e.value.IsMap()) return true;
  error(value_loc(e), what + " must be a map, got " + describe(e.value));
  return false;
}

std::optional<std::string> WorkflowParser::get_string(const Entry& e) {
  if (e.value.IsScalar()) return e.value.Scalar();
  error(value_loc(e), "'" + e.key + "' must be a string, got " + describe(e.value));
  return std::nullopt;
}

std::optional<long long> WorkflowParser::get_int(const Entry& e) {
  if (e.value.IsScalar() && is_plain(e.value)) {
    if (auto v = parse_int(e.value.Scalar())) return v;
  }
  error(value_loc(e), "'" + e.key + "' must be an integer, got " + describe(e.value));
  return std::nullopt;
}

std::optional<double> WorkflowParser::get_number(const Entry& e) {
  if (e.value.IsScalar() && is_plain(e.value)) {
    if (auto v = parse_float(e.value.Scalar())) return v;
  }
  error(value_loc(e), "'" + e.key + "' must be a number, got " + describe(e.value));
  return std::nullopt;
}

std::optional<bool> WorkflowParser::get_bool(const Entry& e) {
  if (e.value.IsScalar() && is_plain(e.value) && is_bool_text(e.value.Scalar())) {
    return e.value.Scalar()[0] == 't' || e.value.Scalar()[0] == 'T';
  }
  std::string got = e.value.IsScalar() ? quote(e.value.Scalar()) : describe(e.value);
  error(value_loc(e), "'" + e.key + "' must be true or false, got " + got);
  return std::nullopt;
}

std::optional<std::vector<std::string>> WorkflowParser::get_string_list(const Entry& e) {
  if (e.value.IsScalar()) return std::vector<std::string>{e.value.Scalar()};
  if (!e.value.IsSequence()) {
    error(value_loc(e),
          "'" + e.key + "' must be a string or a list of strings, got " + describe(e.value));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (size_t i = 0; i < e.value.size(); ++i) {
    YAML::Node item = e.value[i];
    std::string item_path = e.path + "[" + std::to_string(i) + "]";
    Location l = loc(item);
    l.field = item_path;
    wf_.locations[item_path] = l;
    value_locs_[item_path] = l;
    if (!item.IsScalar()) {
      error(l, "items of '" + e.key + "' must be strings, got " + describe(item));
      ok = false;
      continue;
    }
    out.push_back(item.Scalar());
  }
  if (!ok) return std::nullopt;
  return out;
}

Json WorkflowParser::to_json(const YAML::Node& node, const std::string& path, bool typed) {
  if (!node.IsDefined() || node.IsNull()) return nullptr;
  if (node.IsMap()) {
    Json out = Json::object();
    for (const Entry& e : entries(node, path)) out[e.key] = to_json(e.value, e.path, typed);
    return out;
  }
  if (node.IsSequence()) {
    Json out = Json::array();
    for (size_t i = 0; i < node.size(); ++i) {
      std::string item_path = path + "[" + std::to_string(i) + "]";
      Location l = loc(node[i]);
      l.field = item_path;
      wf_.locations[item_path] = l;
      value_locs_[item_path] = l;
      out.push_back(to_json(node[i], item_path, typed));
    }
    return out;
  }
  const std::string& s = node.Scalar();
  if (typed && is_plain(node)) {
    if (s == "null" || s == "~" || s == "Null" || s == "NULL") return nullptr;
    if (is_bool_text(s)) return s[0] == 't' || s[0] == 'T';
    if (auto i = parse_int(s)) return *i;
    if (auto f = parse_float(s)) return *f;
  }
  return s;
}

void WorkflowParser::check_value(const YAML::Node& node, const std::string& value,
                                 const std::string& job) {
  Location l = loc(node);
  if (starts_with(value, "secret:")) {
    std::string name = value.substr(7);
    if (name.empty()) {
      error(l, "'secret:' needs a name, e.g. secret:HF_TOKEN");
    } else if (name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789_-.") != std::string::npos) {
      error(l, "invalid secret name '" + name + "'; use letters, digits, '_', '-' and '.'");
    }
    return;
  }
  if (starts_with(value, "context.") && value.find_first_of(" \t\n") == std::string::npos) {
    std::vector<std::string> parts = split(value, '.');
    static const std::vector<std::string> kExpected = {"context", "event", "github"};
    std::string suggestion;
    bool bad = false;
    for (size_t i = 1; i < 3; ++i) {
      if (i < parts.size() && parts[i] == kExpected[i]) continue;
      bad = true;
      if (i < parts.size() && closest_match(parts[i], {kExpected[i]})) parts[i] = kExpected[i];
    }
    bool has_field = parts.size() >= 4;
    for (size_t i = 3; i < parts.size(); ++i) has_field = has_field && is_name(parts[i]);
    if (bad) {
      std::string fixed = join(parts, ".");
      std::string hint = fixed != value && has_field && starts_with(fixed, "context.event.github.")
                             ? " (did you mean '" + fixed + "'?)"
                             : "";
      error(l, "unknown reference '" + value + "'" + hint +
                   "; Gradient event values look like context.event.github.url or "
                   "context.event.github.ref");
    } else if (!has_field) {
      error(l, "'" + value + "' needs a field, e.g. context.event.github.url");
    }
    return;
  }
  if (!has_expression(value)) return;
  size_t off = 0;
  auto refs = find_expressions(value, &off);
  if (!refs) {
    error(offset_loc(node, value, off), refs.error().message());
    return;
  }
  for (const ExprRef& r : *refs) {
    exprs_.push_back(PendingExpr{job, r.path, offset_loc(node, value, r.offset)});
  }
}

}  // namespace wfrun::workflows::internal
