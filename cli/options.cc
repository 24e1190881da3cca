#include "cli/options.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "base/strings.h"

extern char** environ;

namespace wfrun::cli {

namespace {

bool valid_name(const std::string& n) {
  if (n.empty()) return false;
  for (char c : n) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return false;
  }
  return true;
}

}  // namespace

Result<std::pair<std::string, std::string>> parse_assignment(const std::string& text,
                                                             const std::string& what) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    // Never echo the text: it may be a secret value.
    return Error(what + " expects NAME=VALUE");
  }
  std::string name = text.substr(0, eq);
  if (!valid_name(name)) return Error(what + ": '" + name + "' is not a valid name");
  return std::make_pair(name, text.substr(eq + 1));
}

Result<std::string> read_text_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Error(path + ": no such file");
    return Error(path + ": " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) return Error(path + ": is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(path + ": cannot be read: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.find('\0') != std::string::npos) return Error(path + ": not a text file");
  return text;
}

Result<std::map<std::string, std::string>> load_secrets_file(const std::string& path) {
  auto text = read_text_file(path);
  if (!text) return text.error();
  std::map<std::string, std::string> out;
  std::string_view t = trim(*text);
  // A YAML map when the first meaningful line looks like `NAME: value`.
  bool yaml = false;
  for (const auto& line : split(*text, '\n')) {
    std::string_view l = trim(line);
    if (l.empty() || l[0] == '#') continue;
    size_t colon = l.find(':'), eq = l.find('=');
    yaml = colon != std::string_view::npos && (eq == std::string_view::npos || colon < eq);
    break;
  }
  if (yaml || (!t.empty() && t[0] == '{')) {
    try {
      YAML::Node root = YAML::Load(*text);
      if (!root.IsMap()) return Error(path + ": expected a map of NAME: VALUE");
      for (const auto& kv : root) {
        std::string name = kv.first.as<std::string>();
        if (!kv.second.IsScalar()) {
          return Error(path + ":" + std::to_string(kv.second.Mark().line + 1) + ":" +
                       std::to_string(kv.second.Mark().column + 1) + ": secret '" + name +
                       "' must be a string");
        }
        out[name] = kv.second.as<std::string>();
      }
    } catch (const YAML::Exception& e) {
      // The message of a YAML error may quote the file's text (a secret): give only where.
      return Error(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                   std::to_string(e.mark.column + 1) + ": not a valid secrets file (" +
                   "expected NAME=VALUE lines or a YAML map)");
    }
    return out;
  }
  int n = 0;
  for (const auto& raw : split(*text, '\n')) {
    ++n;
    std::string line(trim(raw));
    if (line.empty() || line[0] == '#') continue;
    if (starts_with(line, "export ")) line = std::string(trim(line.substr(7)));
    size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Error(path + ":" + std::to_string(n) + ": expected NAME=VALUE");
    }
    std::string name(trim(line.substr(0, eq)));
    std::string value(trim(line.substr(eq + 1)));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    if (!valid_name(name)) {
      return Error(path + ":" + std::to_string(n) + ": '" + name + "' is not a valid secret name");
    }
    out[name] = value;
  }
  return out;
}

Result<std::map<std::string, std::string>> load_inputs_file(const std::string& path) {
  auto text = read_text_file(path);
  if (!text) return text.error();
  std::map<std::string, std::string> out;
  auto at = [&](const YAML::Node& n) {
    return path + ":" + std::to_string(n.Mark().line + 1) + ":" +
           std::to_string(n.Mark().column + 1) + ": ";
  };
  try {
    YAML::Node root = YAML::Load(*text);
    YAML::Node inputs = root.IsMap() ? root["inputs"] : YAML::Node();
    if (!inputs || !inputs.IsMap()) {
      return Error(path + ": expected {\"inputs\": {NAME: {\"value\": ...}}} (Gradient's inputs file)");
    }
    for (const auto& kv : inputs) {
      std::string name = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      if (v.IsScalar()) {
        out[name] = v.as<std::string>();
        continue;
      }
      if (!v.IsMap()) return Error(at(v) + "input '" + name + "' must be a map");
      bool found = false;
      for (const char* key : {"value", "ref", "id"}) {
        if (v[key]) {
          if (!v[key].IsScalar()) return Error(at(v[key]) + "'" + key + "' must be a string");
          out[name] = v[key].as<std::string>();
          found = true;
          break;
        }
      }
      if (!found) {
        return Error(at(v) + "input '" + name + "' needs 'value' (string) or 'ref'/'id' (dataset)");
      }
    }
  } catch (const YAML::Exception& e) {
    return Error(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                 std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  return out;
}

std::map<std::string, std::string> secrets_from_environment() {
  std::map<std::string, std::string> out;
  static const std::string kPrefix = "WFRUN_SECRET_";
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    if (!starts_with(kv, kPrefix)) continue;
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == kPrefix.size()) continue;
    out[kv.substr(kPrefix.size(), eq - kPrefix.size())] = kv.substr(eq + 1);
  }
  return out;
}

Result<std::int64_t> parse_run_id(const std::string& text) {
  try {
    size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used == text.size() && v > 0) return static_cast<std::int64_t>(v);
  } catch (...) {
  }
  return Error("'" + text + "' is not a run id (see `wfrun runs`)");
}

std::string resolve_state_dir(const std::string& flag) {
  std::string dir;
  if (!flag.empty()) {
    dir = flag;
  } else if (const char* h = std::getenv("WFRUN_HOME"); h && *h) {
    dir = h;
  } else {
    const char* home = std::getenv("HOME");
    dir = std::string(home && *home ? home : ".") + "/.wfrun";
  }
  // Absolute: a relative folder means another one to a job started elsewhere (a Slurm node
  // starts it in its own folder) and to a later wfrun run from another directory. Not
  // normalized: `link/..` must stay what the kernel makes of it.
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(dir, ec);
  if (ec) return dir;
  std::string out = abs.string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

}  // namespace wfrun::cli
