// WorkflowParser: YAML -> Workflow, with the checks that need only one field at a time.

#include "workflows/parser.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "base/strings.h"
#include "workflows/duration.h"
#include "workflows/expr.h"
#include "workflows/parse_internal.h"
#include "workflows/trigger.h"

namespace wfrun::workflows {
namespace internal {
namespace {

const std::vector<std::string> kTopKeys = {"context", "defaults", "github", "inputs", "jobs", "on"};
const std::vector<std::string> kResourceKeys = {"instance-type", "gpus", "cpus", "memory",
                                                "slurm"};

}  // namespace

Result<Workflow> WorkflowParser::first_error() const {
  // The first error in file order; errors without a line come first (they are about the file).
  auto it = std::min_element(errors_.begin(), errors_.end(), [](const Error& a, const Error& b) {
    return std::make_pair(a.where().line, a.where().column) <
           std::make_pair(b.where().line, b.where().column);
  });
  return *it;
}

Result<Workflow> WorkflowParser::parse() {
  Location file_loc;
  file_loc.file = wf_.file;
  if (text_.empty()) return Error(file_loc, "the file is empty; a workflow needs a 'jobs:' map");
  scan_tabs();
  if (yaml_unsafe_) return first_error();
  std::vector<YAML::Node> docs;
  try {
    docs = load_documents();
  } catch (const YAML::Exception& e) {
    errors_.push_back(yaml_error(e));
    return first_error();
  }
  if (yaml_unsafe_) return first_error();
  try {
    if (docs.empty() || (docs.size() == 1 && docs[0].IsNull())) {
      if (!errors_.empty()) return first_error();
      return Error(file_loc,
                   "the workflow is empty (only comments or blank lines); it needs a 'jobs:' map");
    }
    if (docs.size() > 1) {
      Location l;
      l.file = wf_.file;
      l.line = second_document_.line + 1;
      l.column = second_document_.column + 1;
      error(l, "a workflow file holds one YAML document; remove the second '---'");
    }
    read_root(docs[0]);
    merge_defaults();
    check_model();
  } catch (const YAML::Exception& e) {
    errors_.push_back(yaml_error(e));
  }
  if (!errors_.empty()) return first_error();
  return std::move(wf_);
}

namespace {

// Where each document starts, and nothing else.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

}  // namespace

// The first document, and a null node standing for the second if there is one. Not
// YAML::LoadAll: in yaml-cpp 0.7 it loops without end, allocating a null document per turn,
// when the parser stops on a token that no document consumes (`,` or `&*,.s` at a document's
// start; fixed upstream by yaml-cpp PR 1319, not in Debian 12). Here the parser is asked for at
// most three documents, and one that starts where the previous one did is a syntax error at
// that place, whatever the input.
std::vector<YAML::Node> WorkflowParser::load_documents() {
  const std::string text(text_);
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts marks;
  while (marks.starts.size() < 3 && parser.HandleNextDocument(marks)) {
    const size_t n = marks.starts.size();
    if (n >= 2 && marks.starts[n - 1].pos == marks.starts[n - 2].pos) {
      const YAML::Mark& m = marks.starts[n - 1];
      Location l;
      l.file = wf_.file;
      l.line = m.line + 1;
      l.column = m.column + 1;
      std::string what = m.pos >= 0 && static_cast<size_t>(m.pos) < text.size()
                             ? "unexpected '" + std::string(1, text[m.pos]) + "'"
                             : "unexpected text";
      error(l, "YAML syntax error: " + what +
                   " where a value should start (quote the value, or check the indentation of "
                   "this line)");
      yaml_unsafe_ = true;
      return {};
    }
  }
  std::vector<YAML::Node> docs;
  if (marks.starts.empty()) return docs;
  docs.push_back(YAML::Load(text));
  if (marks.starts.size() > 1) {
    docs.emplace_back();  // stands for the second document, which is an error wherever it is
    second_document_ = marks.starts[1];
  }
  return docs;
}

void WorkflowParser::read_root(const YAML::Node& root) {
  if (!root.IsMap()) {
    Location l = loc(root);
    if (l.line == 0) l.line = l.column = 1;
    error(l, "a workflow must be a map with a 'jobs:' key, got " + describe_value(root));
    return;
  }
  bool has_jobs = false;
  size_t errors_before = errors_.size();
  for (const Entry& e : entries(root, "")) {
    if (e.key == "defaults") {
      read_defaults(e);
    } else if (e.key == "inputs") {
      read_workflow_inputs(e);
    } else if (e.key == "jobs") {
      has_jobs = true;
      read_jobs(e);
    } else if (e.key == "on") {
      read_on(e);
    } else if (e.key == "github") {
      read_github(e);
    } else if (e.key == "context") {
      read_context(e);
    } else if (std::string hint = foreign_key_hint(e.key, true); !hint.empty()) {
      error(key_loc(e), hint);
    } else {
      unknown_key(e, kTopKeys, "");
    }
  }
  // Reported only alone: a misspelt 'jobs' key says more than "no jobs".
  if (!has_jobs && errors_.size() == errors_before) {
    Location l = loc(root);
    l.line = l.column = 1;
    error(l, "the workflow has no 'jobs:' map; a workflow needs at least one job");
  }
}

// `context: {event: {github: {ref: SHA, url: URL}}}`: a Gradient run spec's own record of
// what triggered it. Only scalar fields under event.github.
void WorkflowParser::read_context(const Entry& e) {
  if (e.value.IsNull() || !expect_map(e, "'context'")) return;
  for (const Entry& ev : entries(e.value, e.path)) {
    if (ev.key != "event") {
      unknown_key(ev, {"event"}, "context");
      continue;
    }
    if (ev.value.IsNull() || !expect_map(ev, "'context.event'")) continue;
    for (const Entry& gh : entries(ev.value, ev.path)) {
      if (gh.key != "github") {
        unknown_key(gh, {"github"}, "context.event");
        continue;
      }
      if (gh.value.IsNull() || !expect_map(gh, "'context.event.github'")) continue;
      for (const Entry& f : entries(gh.value, gh.path))
        if (auto s = get_string(f)) wf_.github_context[f.key] = *s;
    }
  }
}

void WorkflowParser::read_defaults(const Entry& e) {
  if (e.value.IsNull()) return;
  if (!expect_map(e, "'defaults'")) return;
  for (const Entry& d : entries(e.value, e.path)) {
    if (d.key == "env") {
      read_env(d, wf_.default_env, "");
    } else if (d.key == "resources") {
      read_resources(d, wf_.default_resources, true);
    } else if (d.key == "clusterId") {
      get_string(d);  // Gradient's cluster: accepted and ignored, wfrun runs here
    } else if (d.key == "executor") {
      read_executor(d, wf_.default_executor);
    } else {
      unknown_key(d, {"env", "resources", "clusterId", "executor"}, "defaults");
    }
  }
}

void WorkflowParser::read_resources(const Entry& e, Resources& out, bool defaults) {
  if (e.value.IsNull()) return;
  if (!expect_map(e, "'resources'")) return;
  std::vector<std::string> keys = kResourceKeys;
  if (defaults) keys.push_back("container-registries");
  for (const Entry& r : entries(e.value, e.path)) {
    out.where[r.key] = key_loc(r);
    if (r.key == "instance-type") {
      if (auto s = get_string(r)) out.instance_type = *s;
    } else if (r.key == "gpus") {
      if (auto n = get_int(r)) {
        if (*n < 0 || *n > 1024) {
          error(value_loc(r), "'gpus' must be 0 or more, got " + std::to_string(*n));
        } else {
          out.gpus = static_cast<int>(*n);
        }
      }
    } else if (r.key == "cpus") {
      if (auto n = get_number(r)) {
        if (*n <= 0) {
          error(value_loc(r), "'cpus' must be more than 0, got " + r.value.Scalar());
        } else {
          out.cpus = *n;
        }
      }
    } else if (r.key == "memory") {
      if (auto s = get_string(r)) {
        auto bytes = parse_memory(*s);
        if (!bytes) {
          error(value_loc(r), "'memory': " + bytes.error().message());
        } else if (*bytes < 1024 * 1024) {
          error(value_loc(r), "'memory' is only " + std::to_string(*bytes) +
                                  " bytes; write a unit, e.g. 16Gi or 512Mi");
        } else {
          out.memory_bytes = *bytes;
        }
      }
    } else if (r.key == "slurm") {
      read_slurm(r, out.slurm);
    } else if (r.key == "container-registries" && defaults) {
      get_string_list(r);  // Gradient's registry names: accepted and ignored
    } else {
      unknown_key(r, keys, e.path);
    }
  }
}

void WorkflowParser::read_executor(const Entry& e, std::string& out) {
  auto s = get_string(e);
  if (!s) return;
  const auto& kinds = executor_kinds();
  if (std::find(kinds.begin(), kinds.end(), *s) == kinds.end()) {
    error(value_loc(e), "unknown executor '" + *s + "'" + did_you_mean(*s, kinds) +
                            "; executors: " + join(kinds, ", "));
    return;
  }
  out = *s;
}

void WorkflowParser::read_slurm(const Entry& e, SlurmPlacement& out) {
  if (e.value.IsNull()) return;
  if (!expect_map(e, "'slurm'")) return;
  const std::vector<std::string> keys = {"partition", "account", "qos", "constraint",
                                         "sbatch-args"};
  for (const Entry& f : entries(e.value, e.path)) {
    if (f.key == "sbatch-args") {
      if (auto l = get_string_list(f)) out.sbatch_args = *l;
    } else if (f.key == "partition" || f.key == "account" || f.key == "qos" ||
               f.key == "constraint") {
      auto s = get_string(f);
      if (!s) continue;
      if (s->empty()) {
        error(value_loc(f), "'" + f.key + "' must not be empty");
        continue;
      }
      (f.key == "partition" ? out.partition
       : f.key == "account" ? out.account
       : f.key == "qos"     ? out.qos
                            : out.constraint) = *s;
    } else {
      unknown_key(f, keys, "resources.slurm");
    }
  }
}

void WorkflowParser::read_env(const Entry& e, std::map<std::string, std::string>& out,
                              const std::string& job) {
  if (e.value.IsNull()) return;
  if (!expect_map(e, "'env'")) return;
  for (const Entry& v : entries(e.value, e.path)) {
    if (!is_env_name(v.key)) {
      error(key_loc(v),
            "env name '" + v.key +
                "' is not valid; use letters, digits and '_', not starting with a digit");
      continue;
    }
    if (!v.value.IsDefined() || v.value.IsNull()) {
      error(key_loc(v),
            "env '" + v.key + "' has no value; write " + v.key + ": \"\" for an empty string");
      continue;
    }
    if (!v.value.IsScalar()) {
      error(value_loc(v), "env '" + v.key + "' must be a string, number or boolean, got " +
                              describe_value(v.value));
      continue;
    }
    out[v.key] = v.value.Scalar();
    check_value(v.value, v.value.Scalar(), job);
  }
}

std::optional<IoType> WorkflowParser::read_io_type(const Entry& e) {
  auto s = get_string(e);
  if (!s) return std::nullopt;
  if (*s == "string") return IoType::kString;
  if (*s == "volume") return IoType::kVolume;
  if (*s == "dataset") return IoType::kDataset;
  error(value_loc(e), "type must be one of string, volume, dataset, got '" + *s + "'" +
                          did_you_mean(*s, {"string", "volume", "dataset"}));
  return std::nullopt;
}

void WorkflowParser::read_workflow_inputs(const Entry& e) {
  if (e.value.IsNull()) return;
  if (!expect_map(e, "'inputs'")) return;
  for (const Entry& ie : entries(e.value, e.path)) {
    WorkflowInput in;
    in.name = ie.key;
    in.where = key_loc(ie);
    const std::string what = "input '" + ie.key + "'";
    if (!is_name(ie.key)) {
      error(key_loc(ie),
            "input name '" + ie.key + "' is not valid; use letters, digits, '-' and '_'");
    }
    if (!ie.value.IsMap()) {
      error(value_loc(ie), what + " must be a map like {type: string, with: {value: ...}}, got " +
                               describe_value(ie.value));
      untyped_inputs_.insert(in.name);
      wf_.inputs.push_back(in);
      continue;
    }
    std::vector<Entry> fields = entries(ie.value, ie.path);
    std::optional<IoType> type;
    bool has_type = false;
    for (const Entry& f : fields) {
      if (f.key == "type") {
        has_type = true;
        type = read_io_type(f);
      }
    }
    if (!has_type) error(key_loc(ie), what + " needs a 'type' (string, volume or dataset)");
    if (type) {
      in.type = *type;
    } else {
      untyped_inputs_.insert(in.name);
    }
    for (const Entry& f : fields) {
      if (f.key == "type") continue;
      if (f.key != "with") {
        unknown_key(f, {"type", "with"}, what);
        continue;
      }
      if (f.value.IsNull()) continue;
      if (!expect_map(f, "'with'")) continue;
      read_input_with(f, type, in.value, in.ref, what);
    }
    wf_.inputs.push_back(in);
  }
}

void WorkflowParser::read_filter(const Entry& e, RefFilter& out) {
  out.present = true;
  if (e.value.IsNull()) return;
  if (!e.value.IsMap()) {
    error(value_loc(e), "'" + e.key + "' must be a map with 'only:' and/or 'ignore:', got " +
                            describe_value(e.value) + "; write " + e.key + ": {only: main}");
    return;
  }
  for (const Entry& f : entries(e.value, e.path)) {
    if (f.key == "only" || f.key == "ignore") {
      auto v = get_string_list(f);
      if (!v) continue;
      // Each name is a POSIX extended regex (as in GradientCI): reject one that cannot match.
      for (size_t i = 0; i < v->size(); ++i) {
        if (auto why = ref_pattern_error((*v)[i])) {
          Location l = f.value.IsSequence() ? wf_.where(f.path + "[" + std::to_string(i) + "]")
                                            : value_loc(f);
          error(l, "'" + (*v)[i] + "' in '" + f.path + "' is not a valid regular expression (" +
                       *why + "); names are POSIX regexes that match the whole name, e.g. 'release/.*'");
        }
      }
      (f.key == "only" ? out.only : out.ignore) = *v;
    } else {
      unknown_key(f, {"only", "ignore"}, e.path);
    }
  }
}

void WorkflowParser::read_on(const Entry& e) {
  const std::string gradient_on = "wfrun uses Gradient's 'on: github: branches: only: BRANCH'";
  if (e.value.IsNull()) return;  // `on:` with nothing: no trigger
  if (!e.value.IsMap()) {
    error(value_loc(e), "'on: " + (e.value.IsScalar() ? e.value.Scalar() : std::string("[...]")) +
                            "' is GitHub Actions syntax; " + gradient_on);
    return;
  }
  Trigger t;
  t.where = key_loc(e);
  for (const Entry& g : entries(e.value, e.path)) {
    if (g.key != "github") {
      static const std::vector<std::string> kGha = {
          "push",     "pull_request", "workflow_dispatch",
          "schedule", "release",      "pull_request_target"};
      if (std::find(kGha.begin(), kGha.end(), g.key) != kGha.end()) {
        error(key_loc(g), "'on: " + g.key + "' is GitHub Actions syntax; " + gradient_on);
      } else {
        unknown_key(g, {"github"}, "on");
      }
      continue;
    }
    if (g.value.IsNull()) continue;
    if (!expect_map(g, "'on.github'")) continue;
    for (const Entry& f : entries(g.value, g.path)) {
      if (f.key == "branches") {
        read_filter(f, t.branches);
      } else if (f.key == "tags") {
        read_filter(f, t.tags);
      } else if (f.key == "pull_request") {
        t.pull_request.present = true;
        if (f.value.IsNull()) continue;
        if (!expect_map(f, "'pull_request'")) continue;
        for (const Entry& p : entries(f.value, f.path)) {
          if (p.key == "branches") {
            read_filter(p, t.pull_request);
          } else {
            unknown_key(p, {"branches"}, f.path);
          }
        }
      } else {
        unknown_key(f, {"branches", "tags", "pull_request"}, g.path);
      }
    }
  }
  wf_.on = t;
}

void WorkflowParser::read_jobs(const Entry& e) {
  if (e.value.IsSequence()) {
    error(value_loc(e), "'jobs' must be a map from job names to jobs, got a list");
    return;
  }
  if (!e.value.IsMap() || e.value.size() == 0) {
    if (e.value.IsScalar()) {
      error(value_loc(e),
            "'jobs' must be a map from job names to jobs, got " + describe_value(e.value));
    } else {
      error(key_loc(e), "'jobs' is empty; a workflow needs at least one job");
    }
    return;
  }
  for (const Entry& j : entries(e.value, e.path)) read_job(j);
}

void WorkflowParser::merge_defaults() {
  const Resources& d = wf_.default_resources;
  for (Job& job : wf_.jobs) {
    for (const auto& [k, v] : wf_.default_env) job.env.emplace(k, v);  // the job's value wins
    Resources& r = job.resources;
    if (r.instance_type.empty()) r.instance_type = d.instance_type;
    if (!r.gpus) r.gpus = d.gpus;
    if (!r.cpus) r.cpus = d.cpus;
    if (!r.memory_bytes) r.memory_bytes = d.memory_bytes;
    SlurmPlacement slurm = d.slurm;  // the job's own settings win
    slurm.merge(r.slurm);
    slurm.sbatch_args = r.slurm.sbatch_args.empty() ? d.slurm.sbatch_args : r.slurm.sbatch_args;
    r.slurm = std::move(slurm);
    for (const auto& [k, l] : d.where) r.where.emplace(k, l);
  }
}

}  // namespace internal

Result<Workflow> parse_workflow(std::string_view text, const std::string& file) {
  return internal::WorkflowParser(text, file).parse();
}

namespace {

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0) return false;
    size_t n;
    unsigned int cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr unsigned int kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace

Result<Workflow> load_workflow(const std::string& path) {
  Location where;
  where.file = path;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return Error(where, "no such file");
    return Error(where, std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) return Error(where, "is a directory, expected a workflow file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(where, std::strerror(errno ? errno : EIO));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Error(where, "read failed");
  std::string text = buf.str();
  if (text.empty()) return Error(where, "the file is empty; a workflow needs a 'jobs:' map");
  if (!valid_utf8(text)) return Error(where, "not a text file");
  return parse_workflow(text, path);
}

}  // namespace wfrun::workflows
