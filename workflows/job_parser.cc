// WorkflowParser: one job of `jobs:` -> Job (uses, with, needs, inputs, outputs, extensions).

#include <algorithm>
#include <set>

#include "base/strings.h"
#include "workflows/duration.h"
#include "workflows/expr.h"
#include "workflows/parse_internal.h"

namespace wfrun::workflows::internal {
namespace {

const std::vector<std::string> kJobKeys = {
    "uses", "with",      "needs",   "inputs",  "outputs",
    "env",  "resources", "timeout", "retries", "continue-on-error",
    "if",   "executor"};

std::string both_ref_and_id(const std::string& what) {
  return "the 'with' of " + what + " has both 'ref' and 'id'; 'id' is Gradient's older " +
         "spelling of 'ref': keep one";
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

void WorkflowParser::read_job(const Entry& e) {
  Job job;
  job.name = e.key;
  job.where = key_loc(e);
  const std::string what = "job '" + e.key + "'";
  if (e.key == "workflow") {
    error(key_loc(e),
          "job name 'workflow' is reserved (workflow.inputs.NAME names the "
          "workflow's inputs); rename the job");
  } else if (!is_name(e.key)) {
    error(key_loc(e), "job name '" + e.key + "' is not valid; use letters, digits, '-' and '_'");
  }
  if (!e.value.IsMap()) {
    if (!e.value.IsDefined() || e.value.IsNull()) {
      error(key_loc(e), what + " is empty; it needs 'uses:' (e.g. uses: script@v1)");
    } else {
      error(value_loc(e), what + " must be a map with 'uses:', got " + describe_value(e.value));
    }
    wf_.jobs.push_back(std::move(job));
    return;
  }
  std::vector<Entry> fields = entries(e.value, e.path);
  const Entry* with = nullptr;
  const Entry* uses = nullptr;
  for (const Entry& f : fields) {
    if (f.key == "uses") uses = &f, read_uses(job, f);
    if (f.key == "with") with = &f;
  }
  bool foreign = std::any_of(fields.begin(), fields.end(), [](const Entry& f) {
    return !foreign_key_hint(f.key, false).empty();
  });
  // A GitHub Actions job (steps:, runs-on:) gets the hint about those keys, not this.
  if (!uses && !foreign) error(key_loc(e), what + " needs 'uses:' (an action such as script@v1)");
  const ActionSpec* spec = specs_.count(job.name) ? specs_[job.name] : nullptr;
  for (const Entry& f : fields) {
    if (f.key == "uses") {
      continue;
    } else if (f.key == "with") {
      read_with(job, f);
    } else if (f.key == "needs") {
      read_needs(job, f);
    } else if (f.key == "inputs") {
      read_job_inputs(job, f);
    } else if (f.key == "outputs") {
      read_job_outputs(job, f);
    } else if (f.key == "env") {
      read_env(f, job.env, job.name);
    } else if (f.key == "resources") {
      read_resources(f, job.resources, false);
    } else if (f.key == "timeout") {
      if (!f.value.IsScalar()) {
        get_string(f);
        continue;
      }
      auto secs = parse_duration(f.value.Scalar());
      if (!secs) {
        error(value_loc(f), "invalid 'timeout': " + secs.error().message());
      } else if (*secs <= 0) {
        error(value_loc(f), "'timeout' must be more than 0");
      } else {
        job.timeout_seconds = *secs;
      }
    } else if (f.key == "retries") {
      if (auto n = get_int(f)) {
        if (*n < 0 || *n > 100) {
          error(value_loc(f), "'retries' must be between 0 and 100, got " + std::to_string(*n));
        } else {
          job.retries = static_cast<int>(*n);
        }
      }
    } else if (f.key == "continue-on-error") {
      if (auto b = get_bool(f)) job.continue_on_error = *b;
    } else if (f.key == "if") {
      read_condition(job, f);
    } else if (f.key == "executor") {
      read_executor(f, job.executor);
    } else if (std::string hint = foreign_key_hint(f.key, false); !hint.empty()) {
      error(key_loc(f), hint);
    } else {
      unknown_key(f, kJobKeys, what);
    }
  }
  if (spec && (!with || with->value.IsMap() || with->value.IsNull())) {
    std::set<std::string> written;  // keys present in `with:`, and typos of them
    if (with && with->value.IsMap()) {
      for (auto it = with->value.begin(); it != with->value.end(); ++it) {
        if (!it->first.IsScalar()) continue;
        written.insert(it->first.Scalar());
        if (auto m = closest_match(it->first.Scalar(), spec->arg_names())) written.insert(*m);
      }
    }
    for (const ActionArg& a : spec->args) {
      if (a.required && !written.count(a.name)) {
        error(with ? key_loc(*with) : key_loc(*uses),
              "action '" + spec->name + "' needs 'with." + a.name + "'");
      }
    }
    for (const ActionIo& io : spec->implicit_outputs) {
      const JobOutput* o = job.output(io.name);
      if (!o) {
        job.outputs.push_back(JobOutput{io.name, io.type, std::nullopt, job.where});
      } else if (o->type != io.type && !untyped_outputs_.count(job.name + "." + io.name)) {
        error(o->where, "output '" + io.name + "' of " + spec->name + " is always a " +
                            io_type_name(io.type) + ", not a " + io_type_name(o->type));
      }
    }
  }
  wf_.jobs.push_back(std::move(job));
}

void WorkflowParser::read_uses(Job& job, const Entry& e) {
  auto s = get_string(e);
  if (!s) return;
  job.uses = *s;
  if (const ActionSpec* spec = find_action(*s)) {
    specs_[job.name] = spec;
    return;
  }
  std::vector<std::string> names = action_names();
  std::string known = "; known actions: " + join(names, ", ");
  if (s->find('@') == std::string::npos) {
    for (const auto& n : names) {
      if (n.substr(0, n.find('@')) == *s) {
        error(value_loc(e), "action '" + *s + "' needs a version: uses: " + n);
        return;
      }
    }
  }
  if (s->find('/') != std::string::npos) {
    error(value_loc(e), "'" + *s +
                            "' is a GitHub Actions action; wfrun runs Gradient's "
                            "actions: " +
                            join(names, ", "));
    return;
  }
  std::string hint = did_you_mean(*s, names);
  error(value_loc(e), "unknown action '" + *s + "'" + (hint.empty() ? known : hint));
}

void WorkflowParser::read_with_arg(const Entry& e, const ActionSpec& spec, const ActionArg& arg,
                                   Json& out) {
  Entry named = e;  // messages say 'with.KEY'
  named.key = "with." + e.key;
  const std::string q = "'" + named.key + "'";
  switch (arg.kind) {
    case ArgKind::kString:
      if (auto s = get_string(named)) {
        if (!arg.choices.empty()) {
          bool ok = false;
          for (const auto& c : arg.choices) ok = ok || lower(c) == lower(*s);
          if (!ok) {
            error(value_loc(e), q + " of " + spec.name + " must be one of " +
                                    join(arg.choices, ", ") + ", got '" + *s + "'" +
                                    did_you_mean(*s, arg.choices));
            return;
          }
        }
        out = *s;
      }
      return;
    case ArgKind::kStringOrList:
    case ArgKind::kStringList:
      if (arg.kind == ArgKind::kStringList && !e.value.IsSequence()) {
        error(value_loc(e), q + " must be a list of strings, got " + describe_value(e.value) +
                                (e.value.IsScalar() ? "; write " + e.key + ": [...]" : ""));
        return;
      }
      if (auto v = get_string_list(named)) {
        out = e.value.IsScalar() ? Json(v->front()) : Json(*v);
      }
      return;
    case ArgKind::kMap:
      if (!e.value.IsMap()) {
        error(value_loc(e), q + " must be a map, got " + describe_value(e.value));
        return;
      }
      out = to_json(e.value, e.path, true);
      return;
    case ArgKind::kBool:
      if (auto b = get_bool(named)) out = *b;
      return;
    case ArgKind::kDuration: {
      auto s = get_string(named);
      if (!s) return;
      auto secs = parse_duration(*s);
      if (!secs) {
        error(value_loc(e), "invalid " + q + ": " + secs.error().message());
        return;
      }
      out = e.value.Tag() == "?" && s->find_first_not_of("0123456789.") == std::string::npos
                ? Json(*secs)
                : Json(*s);
      return;
    }
  }
}

void WorkflowParser::read_with(Job& job, const Entry& e) {
  if (!e.value.IsDefined() || e.value.IsNull()) return;
  if (!e.value.IsMap()) {
    error(value_loc(e), "'with' must be a map of action arguments, got " + describe_value(e.value));
    return;
  }
  const ActionSpec* spec = specs_.count(job.name) ? specs_[job.name] : nullptr;
  if (!spec) {  // unknown action: reported at 'uses'; keep the arguments as written
    job.with = to_json(e.value, e.path, true);
    check_strings(e.value, job.name);
    return;
  }
  for (const Entry& w : entries(e.value, e.path)) {
    const ActionArg* arg = spec->arg(w.key);
    if (!arg) {
      std::string hint = did_you_mean(w.key, spec->arg_names());
      error(key_loc(w), "action '" + spec->name + "' has no argument '" + w.key + "'" +
                            (hint.empty() ? "; it takes: " + join(spec->arg_names(), ", ") : hint));
      continue;
    }
    Json v;
    read_with_arg(w, *spec, *arg, v);
    if (!v.is_null()) job.with[w.key] = std::move(v);
    check_strings(w.value, job.name);
  }
}

void WorkflowParser::check_strings(const YAML::Node& node, const std::string& job) {
  if (node.IsScalar()) {
    check_value(node, node.Scalar(), job);
  } else if (node.IsSequence()) {
    for (const auto& item : node) check_strings(item, job);
  } else if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) check_strings(it->second, job);
  }
}

void WorkflowParser::read_needs(Job& job, const Entry& e) {
  if (!e.value.IsDefined() || e.value.IsNull()) return;  // `needs:` with nothing: none
  auto v = get_string_list(e);
  if (!v) return;
  for (size_t i = 0; i < v->size(); ++i) {
    const std::string& n = (*v)[i];
    if (std::find(job.needs.begin(), job.needs.end(), n) != job.needs.end()) {
      error(needs_loc(job, i), "job '" + job.name + "' lists '" + n + "' twice in needs");
      job.needs.push_back(n);  // keep indexes aligned with the file; check.cc skips repeats
      continue;
    }
    job.needs.push_back(n);
  }
}

Location WorkflowParser::needs_loc(const Job& job, size_t i) const {
  std::string base = "jobs." + job.name + ".needs";
  auto it = value_locs_.find(base + "[" + std::to_string(i) + "]");
  if (it == value_locs_.end()) it = value_locs_.find(base);
  if (it == value_locs_.end()) return job.where;
  return it->second;
}

void WorkflowParser::read_condition(Job& job, const Entry& e) {
  auto s = get_string(e);
  if (!s) return;
  std::string_view c = trim(*s);
  if (starts_with(c, "${{") && c.size() >= 5 && c.substr(c.size() - 2) == "}}") {
    c = trim(c.substr(3, c.size() - 5));
  }
  if (c == "success()") {
    job.condition = Condition::kSuccess;
  } else if (c == "failure()") {
    job.condition = Condition::kFailure;
  } else if (c == "always()") {
    job.condition = Condition::kAlways;
  } else {
    error(value_loc(e),
          "'if' must be success(), failure() or always() (optionally inside "
          "${{ }}), got '" +
              *s + "'" + did_you_mean(c, {"success()", "failure()", "always()"}));
  }
}

void WorkflowParser::read_job_inputs(Job& job, const Entry& e) {
  if (e.value.IsNull()) return;
  if (!expect_map(e, "'inputs'")) return;
  for (const Entry& ie : entries(e.value, e.path)) {
    JobInput in;
    in.name = ie.key;
    in.where = key_loc(ie);
    const std::string what = "input '" + ie.key + "' of job '" + job.name + "'";
    if (!is_name(ie.key)) {
      error(key_loc(ie),
            "input name '" + ie.key + "' is not valid; use letters, digits, '-' and '_'");
    }
    const std::string forms = "JOB.outputs.NAME, workflow.inputs.NAME or {type: ..., with: ...}";
    if (ie.value.IsScalar()) {
      const std::string& ref = ie.value.Scalar();
      std::vector<std::string> parts = split(ref, '.');
      if (has_expression(ref)) {
        error(value_loc(ie),
              "job inputs are wired with dotted references, not ${{ }}; write " + forms);
        continue;
      }
      if (parts.size() == 3 && parts[0] == "workflow" && parts[1] == "inputs" &&
          is_name(parts[2])) {
        in.source = JobInput::Source::kWorkflowInput;
        in.from = parts[2];
      } else if (parts.size() == 3 && parts[0] != "workflow" && parts[1] == "outputs" &&
                 is_name(parts[0]) && is_name(parts[2])) {
        in.source = JobInput::Source::kJobOutput;
        in.job = parts[0];
        in.from = parts[2];
      } else {
        std::string hint;
        if (parts.size() == 3) {
          std::string middle = parts[0] == "workflow" ? "inputs" : "outputs";
          if (closest_match(parts[1], {middle})) {
            hint = " (did you mean '" + parts[0] + "." + middle + "." + parts[2] + "'?)";
          }
        }
        error(value_loc(ie), what + " must be " + forms + ", got '" + ref + "'" + hint);
        continue;
      }
      job.inputs.push_back(in);
      continue;
    }
    if (!ie.value.IsMap()) {
      error(value_loc(ie), what + " must be " + forms + ", got " + describe_value(ie.value));
      continue;
    }
    in.source = JobInput::Source::kInline;
    std::vector<Entry> fields = entries(ie.value, ie.path);
    std::optional<IoType> type;
    const Entry* with = nullptr;
    for (const Entry& f : fields) {
      if (f.key == "type") {
        type = read_io_type(f);
      } else if (f.key == "with") {
        with = &f;
      } else {
        unknown_key(f, {"type", "with"}, what);
      }
    }
    bool has_type =
        std::any_of(fields.begin(), fields.end(), [](const Entry& f) { return f.key == "type"; });
    if (!has_type) error(key_loc(ie), what + " needs a 'type' (string, volume or dataset)");
    if (type) {
      in.type = *type;
    } else {
      untyped_job_inputs_.insert(job.name + "." + in.name);
    }
    if (with && with->value.IsDefined() && !with->value.IsNull() && expect_map(*with, "'with'")) {
      read_input_with(*with, type, in.value, in.ref, what);
    }
    if (type == IoType::kString && !in.value) {
      error(key_loc(ie), what + " is a string and needs 'with: value:'");
    } else if (type == IoType::kDataset && !in.ref) {
      error(key_loc(ie), what + " is a dataset and needs 'with: ref:' (NAME or NAME:VERSION)");
    }
    job.inputs.push_back(in);
  }
}

void WorkflowParser::read_job_outputs(Job& job, const Entry& e) {
  if (e.value.IsNull()) return;
  if (!expect_map(e, "'outputs'")) return;
  for (const Entry& oe : entries(e.value, e.path)) {
    JobOutput out;
    out.name = oe.key;
    out.where = key_loc(oe);
    const std::string what = "output '" + oe.key + "' of job '" + job.name + "'";
    if (!is_name(oe.key)) {
      error(key_loc(oe),
            "output name '" + oe.key + "' is not valid; use letters, digits, '-' and '_'");
    }
    if (!oe.value.IsMap()) {
      if (!oe.value.IsDefined() || oe.value.IsNull()) {
        error(key_loc(oe), what + " needs a type, e.g. {type: volume}");
      } else {
        error(value_loc(oe),
              what + " must be a map like {type: volume}, got " + describe_value(oe.value));
      }
      untyped_outputs_.insert(job.name + "." + oe.key);
      job.outputs.push_back(out);
      continue;
    }
    std::vector<Entry> fields = entries(oe.value, oe.path);
    bool has_type = false;
    std::optional<IoType> type;
    for (const Entry& f : fields) {
      if (f.key == "type") has_type = true, type = read_io_type(f);
    }
    if (!has_type) error(key_loc(oe), what + " needs a 'type' (volume, dataset or string)");
    if (type) {
      out.type = *type;
    } else {
      untyped_outputs_.insert(job.name + "." + oe.key);
    }
    for (const Entry& f : fields) {
      if (f.key == "type") continue;
      if (f.key != "with") {
        unknown_key(f, {"type", "with"}, what);
        continue;
      }
      if (f.value.IsNull() || !expect_map(f, "'with'")) continue;
      const Entry* ref = nullptr;
      for (const Entry& w : entries(f.value, f.path)) {
        // `id:` is Gradient's older spelling of `ref:` (its workflow-spec page still uses it).
        if (w.key != "ref" && w.key != "id") {
          unknown_key(w, {"ref", "id"}, "the 'with' of " + what);
        } else if (type && *type != IoType::kDataset) {
          error(key_loc(w), "only dataset outputs take 'with: " + w.key + ":'; " + what +
                                " is a " + io_type_name(*type));
        } else if (ref) {
          error(key_loc(w), both_ref_and_id(what));
        } else if (auto s = get_string(w)) {
          ref = &w;
          out.ref = *s;
        }
      }
    }
    job.outputs.push_back(out);
  }
}

// The `with:` of an input declaration (workflow-level or inline in a job): `value:` for a
// string, `ref:` (or Gradient's older `id:`) for a volume or dataset.
void WorkflowParser::read_input_with(const Entry& with, std::optional<IoType> type,
                                     std::optional<std::string>& value,
                                     std::optional<std::string>& ref, const std::string& what) {
  const Entry* ref_entry = nullptr;
  for (const Entry& w : entries(with.value, with.path)) {
    if (w.key == "value") {
      if (type && *type != IoType::kString) {
        error(key_loc(w), std::string("a ") + io_type_name(*type) +
                              " input takes 'with: ref:', not 'value:'");
      } else if (auto s = get_string(w)) {
        value = *s;
      }
    } else if (w.key == "ref" || w.key == "id") {  // `id:`: Gradient's older spelling
      if (type && *type == IoType::kString) {
        error(key_loc(w), "a string input takes 'with: value:', not '" + w.key + ":'");
      } else if (ref_entry) {
        error(key_loc(w), both_ref_and_id(what));
      } else if (auto s = get_string(w)) {
        ref_entry = &w;
        ref = *s;
      }
    } else {
      unknown_key(w, {"value", "ref", "id"}, "the 'with' of " + what);
    }
  }
}

}  // namespace wfrun::workflows::internal
