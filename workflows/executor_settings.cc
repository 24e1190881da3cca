#include "workflows/executor_settings.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "base/strings.h"
#include "workflows/duration.h"

namespace wfrun::workflows {

namespace {

const std::vector<std::string> kKeys = {
    "kind",        "partition",       "account",         "qos",
    "constraint",  "sbatch-args",     "wfrun-path",      "gpu-model",
    "squeue-interval", "squeue-max-interval", "exit-grace", "max-submitted",
    "probe"};

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  Location loc(const YAML::Node& n) const {
    const auto m = n.Mark();
    if (m.line < 0) return Location{file_, 0, 0, ""};
    return Location{file_, m.line + 1, m.column + 1, ""};
  }
  Error err(const YAML::Node& n, const std::string& message) const {
    return Error(loc(n), "executor: " + message);
  }

  Result<std::string> text(const YAML::Node& v, const std::string& key) const {
    if (!v.IsScalar() || v.Scalar().empty()) return err(v, key + ": expected a non-empty value");
    return v.Scalar();
  }
  Result<double> seconds(const YAML::Node& v, const std::string& key) const {
    auto t = text(v, key);
    if (!t) return t.error();
    auto d = parse_duration(*t);
    if (!d) return err(v, key + ": " + d.error().message());
    if (*d <= 0) return err(v, key + ": must be more than 0");
    return *d;
  }

  Result<ExecutorSettings> read(const YAML::Node& node, ExecutorSettings s) const {
    if (!node.IsMap())
      return err(node, "expected a map (kind: slurm, partition: ..., ...)");
    SlurmSettings& sl = s.slurm;
    SlurmPlacement& p = sl.placement;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.as<std::string>("");
      const YAML::Node v = it->second;  // a copy: it-> is a proxy that dies with the statement
      if (key == "kind") {
        auto t = text(v, key);
        if (!t) return t.error();
        const auto& kinds = executor_kinds();
        if (std::find(kinds.begin(), kinds.end(), *t) == kinds.end())
          return err(v, "unknown kind '" + *t + "'" + did_you_mean(*t, kinds) +
                            "; kinds: " + join(kinds, ", "));
        s.kind = *t;
      } else if (key == "partition" || key == "account" || key == "qos" ||
                 key == "constraint") {
        auto t = text(v, key);
        if (!t) return t.error();
        (key == "partition" ? p.partition
         : key == "account" ? p.account
         : key == "qos"     ? p.qos
                            : p.constraint) = *t;
      } else if (key == "sbatch-args") {
        if (v.IsScalar()) {
          p.sbatch_args = split_words(v.Scalar());
        } else if (v.IsSequence()) {
          p.sbatch_args.clear();
          for (const auto& a : v) {
            if (!a.IsScalar()) return err(a, "sbatch-args: expected a list of arguments");
            p.sbatch_args.push_back(a.Scalar());
          }
        } else {
          return err(v, "sbatch-args: expected a list of arguments");
        }
      } else if (key == "wfrun-path") {
        auto t = text(v, key);
        if (!t) return t.error();
        if ((*t)[0] != '/') return err(v, "wfrun-path: must be an absolute path, got '" + *t + "'");
        sl.wfrun_path = *t;
      } else if (key == "gpu-model") {
        auto t = text(v, key);
        if (!t) return t.error();
        if (*t == "gres")
          sl.gpu_model = SlurmSettings::GpuModel::kGres;
        else if (*t == "constraint")
          sl.gpu_model = SlurmSettings::GpuModel::kConstraint;
        else
          return err(v, "gpu-model: expected gres or constraint, got '" + *t + "'");
      } else if (key == "squeue-interval" || key == "squeue-max-interval" ||
                 key == "exit-grace") {
        auto d = seconds(v, key);
        if (!d) return d.error();
        (key == "squeue-interval"       ? sl.squeue_interval
         : key == "squeue-max-interval" ? sl.squeue_max_interval
                                        : sl.exit_grace) = *d;
      } else if (key == "max-submitted") {
        long long n = 0;
        if (!v.IsScalar() || !YAML::convert<long long>::decode(v, n) || n < 1 || n > 100000)
          return err(v, "max-submitted: expected a number from 1 to 100000");
        sl.max_submitted = static_cast<int>(n);
      } else if (key == "probe") {
        bool b = true;
        if (!v.IsScalar() || !YAML::convert<bool>::decode(v, b))
          return err(v, "probe: expected true or false");
        sl.probe = b;
      } else {
        return err(it->first, "unknown key '" + key + "'" + did_you_mean(key, kKeys) +
                                  "; keys: " + join(kKeys, ", "));
      }
    }
    if (sl.squeue_max_interval < sl.squeue_interval) sl.squeue_max_interval = sl.squeue_interval;
    return s;
  }

 private:
  static std::vector<std::string> split_words(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string w; in >> w;) out.push_back(w);
    return out;
  }

  std::string file_;
};

}  // namespace

void SlurmPlacement::merge(const SlurmPlacement& over) {
  if (over.partition) partition = over.partition;
  if (over.account) account = over.account;
  if (over.qos) qos = over.qos;
  if (over.constraint) constraint = over.constraint;
  sbatch_args.insert(sbatch_args.end(), over.sbatch_args.begin(), over.sbatch_args.end());
}

const std::vector<std::string>& executor_kinds() {
  static const std::vector<std::string> kinds = {"local", "slurm"};
  return kinds;
}

Result<ExecutorSettings> read_executor_settings(const YAML::Node& node, const std::string& file,
                                                ExecutorSettings defaults) {
  return Reader(file).read(node, std::move(defaults));
}

Result<ExecutorSettings> load_executor_settings(const std::string& file) {
  std::ifstream in(file);
  if (!in) return Error(file + ": cannot read the executor settings");
  std::stringstream buf;
  buf << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(buf.str());
  } catch (const YAML::Exception& e) {
    return Error(Location{file, e.mark.line + 1, e.mark.column + 1, ""}, e.msg);
  }
  if (!root || root.IsNull())
    return Error(Location{file, 1, 1, ""}, "the file is empty; write `executor: {kind: slurm}`");
  // A file of its own, or one that has an `executor:` block among other settings (server.yaml).
  if (root.IsMap() && root["executor"]) return read_executor_settings(root["executor"], file);
  return read_executor_settings(root, file);
}

}  // namespace wfrun::workflows
