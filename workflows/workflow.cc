#include "workflows/workflow.h"

#include <algorithm>
#include <tuple>

#include "base/strings.h"

namespace wfrun::workflows {

const char* io_type_name(IoType t) {
  switch (t) {
    case IoType::kString:
      return "string";
    case IoType::kVolume:
      return "volume";
    case IoType::kDataset:
      return "dataset";
  }
  return "?";
}

const JobInput* Job::input(const std::string& n) const {
  for (const auto& i : inputs) {
    if (i.name == n) return &i;
  }
  return nullptr;
}

const JobOutput* Job::output(const std::string& n) const {
  for (const auto& o : outputs) {
    if (o.name == n) return &o;
  }
  return nullptr;
}

const Job* Workflow::job(const std::string& name) const {
  for (const auto& j : jobs) {
    if (j.name == name) return &j;
  }
  return nullptr;
}

const WorkflowInput* Workflow::input(const std::string& name) const {
  for (const auto& i : inputs) {
    if (i.name == name) return &i;
  }
  return nullptr;
}

Location Workflow::where(const std::string& field) const {
  std::string f = field;
  while (!f.empty()) {
    auto it = locations.find(f);
    if (it != locations.end()) {
      Location l = it->second;
      l.field = field;
      return l;
    }
    // Drop the last component: "a.b[2]" -> "a.b" -> "a".
    size_t cut = f.find_last_of(".[");
    if (cut == std::string::npos) break;
    f.resize(cut);
  }
  Location l;
  l.file = file;
  l.field = field;
  return l;
}

namespace {

void collect_json_secrets(const Json& j, const std::string& path,
                          std::vector<std::pair<std::string, std::string>>& out) {
  if (j.is_string()) {
    if (auto s = secret_name(j.get<std::string>())) out.emplace_back(*s, path);
  } else if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      collect_json_secrets(it.value(), path + "." + it.key(), out);
    }
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) {
      collect_json_secrets(j[i], path + "[" + std::to_string(i) + "]", out);
    }
  }
}

}  // namespace

std::vector<std::pair<std::string, std::string>> Workflow::secret_uses() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, v] : default_env) {
    if (auto s = secret_name(v)) out.emplace_back(*s, "defaults.env." + k);
  }
  for (const auto& job : jobs) {
    for (const auto& [k, v] : job.env) {
      std::string path = "jobs." + job.name + ".env." + k;
      // Inherited from defaults.env (the job does not set it): listed there already.
      if (!locations.count(path) && default_env.count(k)) continue;
      if (auto s = secret_name(v)) out.emplace_back(*s, path);
    }
    collect_json_secrets(job.with, "jobs." + job.name + ".with", out);
  }
  if (github) {
    if (auto s = secret_name(github->token)) out.emplace_back(*s, "github.token");
    if (auto s = secret_name(github->app_key)) out.emplace_back(*s, "github.app.key");
  }
  // File order; uses without a known line keep their relative order at the end.
  auto key = [this](const std::pair<std::string, std::string>& u) {
    Location l = where(u.second);
    return std::make_tuple(l.line == 0 ? 1 << 30 : l.line, l.column);
  };
  std::stable_sort(out.begin(), out.end(),
                   [&](const auto& a, const auto& b) { return key(a) < key(b); });
  return out;
}

std::map<std::string, std::string> Workflow::secrets() const {
  std::map<std::string, std::string> out;
  for (auto& [name, path] : secret_uses()) out.emplace(name, path);
  return out;
}

std::optional<std::string> secret_name(const std::string& value) {
  static constexpr std::string_view kPrefix = "secret:";
  if (!starts_with(value, kPrefix) || value.size() == kPrefix.size()) return std::nullopt;
  return value.substr(kPrefix.size());
}

}  // namespace wfrun::workflows
