#pragma once
// Matchers for the bits of IPython syntax nb2py recognises in a line of a code cell. Each is one
// left-to-right pass over its input with no backtracking and no recursion, so a line of any
// length (a 1 MB `data = [0, 1, ...]`) costs time in proportion to its length and no stack.
// (std::regex recursed once per character and overflowed the stack on a 30 kB line.)

#include <optional>
#include <string_view>

namespace wfrun::notebook::scan {

/// [A-Za-z0-9_], as `\w` in the C locale.
bool is_word(char c);
/// Space, \t, \n, \v, \f, \r, as `\s`.
bool is_space(char c);

/// The length of a pasted-code prompt at the start of `line`, or 0 when there is none.
/// Classic: `>>> ` (and `... ` unless `first`); a bare `>>>` / `...` counts too.
size_t classic_prompt(std::string_view line, bool first);
/// IPython: `In [12]: ` (and, unless `first`, the continuation `   ...: `).
size_t ipython_prompt(std::string_view line, bool first);

/// `files, n = !ls -l`: the assignment targets (from the line's start, indentation included)
/// and the command after the `!`.
struct SystemAssignment {
  std::string_view targets;
  std::string_view command;
};
std::optional<SystemAssignment> system_assignment(std::string_view line);

/// `t = %timeit -o f()`: the targets, the magic's name and its arguments.
struct MagicAssignment {
  std::string_view targets;
  std::string_view name;
  std::string_view args;
};
std::optional<MagicAssignment> magic_assignment(std::string_view line);

/// `    %cd /tmp`: the indentation, the magic's name and its arguments.
struct LineMagic {
  std::string_view indent;
  std::string_view name;
  std::string_view args;
};
std::optional<LineMagic> line_magic(std::string_view line);

/// `ls -l`: a leading identifier and what follows the space after it ("" when nothing does).
struct Command {
  std::string_view name;
  std::string_view args;
};
std::optional<Command> command_word(std::string_view rest);

/// `obj?`, `obj.attr??`, `%run?`, `*int*?`: IPython's help syntax (`s` already trimmed).
bool is_help_suffix(std::string_view s);

/// Whether Python source reads a kept cell value: `_`, `__`, `___`, `Out`, `_oh` or `_N` as a
/// name of its own (not an attribute, not right after a quote).
bool reads_cell_values(std::string_view source);

}  // namespace wfrun::notebook::scan
