#pragma once
// Reading what the command line points at: secrets, inputs, the state dir.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/error.h"

namespace wfrun::cli {

/// `NAME=VALUE` -> {NAME, VALUE}; `what` names the flag in errors ("--secret").
Result<std::pair<std::string, std::string>> parse_assignment(const std::string& text,
                                                             const std::string& what);

/// A secrets file: `NAME=VALUE` lines (blank lines and `#` comments allowed) or a YAML map.
Result<std::map<std::string, std::string>> load_secrets_file(const std::string& path);

/// Gradient's inputs file: `{"inputs": {"NAME": {"value": "..."} | {"ref": "..."} | {"id": "..."}}}`
/// as JSON or YAML. Returns NAME -> value or ref.
Result<std::map<std::string, std::string>> load_inputs_file(const std::string& path);

/// WFRUN_SECRET_NAME variables of our environment, as NAME -> VALUE.
std::map<std::string, std::string> secrets_from_environment();

/// A run id as the user typed it (`wfrun show 12`), or an error that says where ids come from.
Result<std::int64_t> parse_run_id(const std::string& text);

/// --state-dir, else $WFRUN_HOME, else ~/.wfrun.
std::string resolve_state_dir(const std::string& flag);

/// One-line check that `path` is a readable regular text file, for every command that takes one.
Result<std::string> read_text_file(const std::string& path);

}  // namespace wfrun::cli
