// One-pass matchers for IPython syntax (see scan.h). Each comment gives the pattern it stands
// for, as std::regex (ECMAScript) would read it; the scanners differ from those patterns only in
// never recursing.

#include "engine/notebook/scan.h"

namespace wfrun::notebook::scan {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

size_t skip_spaces(std::string_view s, size_t i) {
  while (i < s.size() && is_space(s[i])) ++i;
  return i;
}

size_t skip_words(std::string_view s, size_t i) {
  while (i < s.size() && is_word(s[i])) ++i;
  return i;
}

// `.*$`: the rest of the line, which `.` matches only when it holds no line terminator.
bool plain_tail(std::string_view s) {
  return s.find_first_of("\r\n") == std::string_view::npos;
}

// `\s*[\w\.]+(\s*,\s*[\w\.]+)*`: the targets of an assignment. Returns where they end, or 0.
size_t targets_end(std::string_view s) {
  auto dotted = [&](size_t i) {
    while (i < s.size() && (is_word(s[i]) || s[i] == '.')) ++i;
    return i;
  };
  size_t i = skip_spaces(s, 0);
  size_t end = dotted(i);
  if (end == i) return 0;
  while (true) {
    size_t j = skip_spaces(s, end);
    if (j >= s.size() || s[j] != ',') break;
    j = skip_spaces(s, j + 1);
    size_t next = dotted(j);
    if (next == j) break;
    end = next;
  }
  return end;
}

// `\s*=\s*` then `c`: returns the position after `c`, or npos.
size_t after_assign(std::string_view s, size_t i, char c) {
  i = skip_spaces(s, i);
  if (i >= s.size() || s[i] != '=') return std::string_view::npos;
  i = skip_spaces(s, i + 1);
  if (i >= s.size() || s[i] != c) return std::string_view::npos;
  return i + 1;
}

}  // namespace

bool is_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// `^>>>( |$)`, and `^(>>>|\.\.\.)( |$)` for later lines.
size_t classic_prompt(std::string_view line, bool first) {
  if (line.substr(0, 3) != ">>>" && (first || line.substr(0, 3) != "...")) return 0;
  if (line.size() == 3) return 3;
  return line[3] == ' ' ? 4 : 0;
}

// `^In \[\d+\]: `, and `^(In \[\d+\]: |\s*\.\.\.+: ?)` for later lines.
size_t ipython_prompt(std::string_view line, bool first) {
  if (line.substr(0, 4) == "In [") {
    size_t i = 4;
    while (i < line.size() && is_digit(line[i])) ++i;
    if (i > 4 && line.substr(i, 3) == "]: ") return i + 3;
  }
  if (first) return 0;
  size_t i = skip_spaces(line, 0);
  size_t dots = i;
  while (dots < line.size() && line[dots] == '.') ++dots;
  if (dots - i < 3 || dots >= line.size() || line[dots] != ':') return 0;
  return dots + 1 < line.size() && line[dots + 1] == ' ' ? dots + 2 : dots + 1;
}

// `^(\s*[\w\.]+(\s*,\s*[\w\.]+)*)\s*=\s*!\s*(.*)$`
std::optional<SystemAssignment> system_assignment(std::string_view line) {
  size_t end = targets_end(line);
  if (end == 0) return std::nullopt;
  size_t bang = after_assign(line, end, '!');
  if (bang == std::string_view::npos) return std::nullopt;
  std::string_view command = line.substr(skip_spaces(line, bang));
  if (!plain_tail(command)) return std::nullopt;
  return SystemAssignment{line.substr(0, end), command};
}

// `^(\s*[\w\.]+(\s*,\s*[\w\.]+)*)\s*=\s*%(\w+)\s*(.*)$`
std::optional<MagicAssignment> magic_assignment(std::string_view line) {
  size_t end = targets_end(line);
  if (end == 0) return std::nullopt;
  size_t pct = after_assign(line, end, '%');
  if (pct == std::string_view::npos) return std::nullopt;
  size_t name_end = skip_words(line, pct);
  if (name_end == pct) return std::nullopt;
  std::string_view args = line.substr(skip_spaces(line, name_end));
  if (!plain_tail(args)) return std::nullopt;
  return MagicAssignment{line.substr(0, end), line.substr(pct, name_end - pct), args};
}

// `^(\s*)%(\w+)(\s+(.*))?$`
std::optional<LineMagic> line_magic(std::string_view line) {
  size_t pct = skip_spaces(line, 0);
  if (pct >= line.size() || line[pct] != '%') return std::nullopt;
  size_t name_end = skip_words(line, pct + 1);
  if (name_end == pct + 1) return std::nullopt;
  LineMagic m{line.substr(0, pct), line.substr(pct + 1, name_end - pct - 1), {}};
  if (name_end == line.size()) return m;
  if (!is_space(line[name_end])) return std::nullopt;
  m.args = line.substr(skip_spaces(line, name_end));
  if (!plain_tail(m.args)) return std::nullopt;
  return m;
}

// `^([A-Za-z_]\w*)(\s+(.*))?$`
std::optional<Command> command_word(std::string_view rest) {
  if (rest.empty() || !is_word(rest[0]) || is_digit(rest[0])) return std::nullopt;
  size_t name_end = skip_words(rest, 1);
  Command c{rest.substr(0, name_end), {}};
  if (name_end == rest.size()) return c;
  if (!is_space(rest[name_end])) return std::nullopt;
  c.args = rest.substr(skip_spaces(rest, name_end));
  if (!plain_tail(c.args)) return std::nullopt;
  return c;
}

// `^%{0,2}[\w\.\*\[\]\(\)'"]*\?\??$`
bool is_help_suffix(std::string_view s) {
  size_t i = 0;
  while (i < 2 && i < s.size() && s[i] == '%') ++i;
  while (i < s.size() && (is_word(s[i]) || std::string_view(".*[]()'\"").find(s[i]) !=
                                                 std::string_view::npos))
    ++i;
  std::string_view tail = s.substr(i);
  return tail == "?" || tail == "??";
}

// `(^|[^\w.'"])(_{1,3}|Out|_oh|_\d+)([^\w]|$)`, searched anywhere: a whole word (a run of \w)
// that is one of those names and does not follow `.` or a quote.
bool reads_cell_values(std::string_view source) {
  size_t i = 0;
  while (i < source.size()) {
    if (!is_word(source[i])) {
      ++i;
      continue;
    }
    size_t end = skip_words(source, i);
    char before = i > 0 ? source[i - 1] : ' ';
    if (before != '.' && before != '\'' && before != '"') {
      std::string_view w = source.substr(i, end - i);
      if (w == "_" || w == "__" || w == "___" || w == "Out" || w == "_oh") return true;
      if (w.size() > 1 && w[0] == '_' &&
          w.substr(1).find_first_not_of("0123456789") == std::string_view::npos)
        return true;
    }
    i = end;
  }
  return false;
}

}  // namespace wfrun::notebook::scan
