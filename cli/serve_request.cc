#include "cli/serve_request.h"

#include <algorithm>

#include "git/git.h"

namespace wfrun::cli {

using nlohmann::json;

namespace {

Error field_error(const std::string& field, const std::string& what) {
  return Error("request.json: field " + field + ": " + what);
}

std::string kind_of(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "a list";
    case json::value_t::object: return "an object";
    default: return "a number";
  }
}

/// A string field: absent or null is "" unless `required`.
Result<std::string> str_field(const json& j, const std::string& name, bool required) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (required) return field_error(name, "missing (it is required)");
    return std::string();
  }
  if (!it->is_string()) return field_error(name, "must be a string, got " + kind_of(*it));
  std::string v = it->get<std::string>();
  if (required && v.empty()) return field_error(name, "must not be empty");
  return v;
}

bool is_sha(const std::string& s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

Result<Request> parse_request(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return Error(std::string("request.json: not valid JSON: ") + e.what());
  }
  if (!j.is_object()) return Error("request.json: must be a JSON object, got " + kind_of(j));
  Request r;
  auto id = j.find("run_id");
  if (id == j.end() || id->is_null()) return field_error("run_id", "missing (it is required)");
  if (!id->is_number_integer() || id->get<std::int64_t>() <= 0)
    return field_error("run_id", "must be a positive integer, got " + id->dump());
  r.run_id = id->get<std::int64_t>();

  struct Str {
    const char* name;
    std::string* out;
    bool required;
  };
  for (const Str& f : {Str{"delivery", &r.delivery, false}, Str{"event", &r.event, true},
                       Str{"repo", &r.repo, true}, Str{"clone_url", &r.clone_url, true},
                       Str{"sha", &r.sha, false}, Str{"ref", &r.ref, false},
                       Str{"base_ref", &r.base_ref, false}, Str{"workflow", &r.workflow, false},
                       Str{"ca_file", &r.ca_file, false}, Str{"target_url", &r.target_url, false}}) {
    auto v = str_field(j, f.name, f.required);
    if (!v) return v.error();
    *f.out = std::move(*v);
  }
  auto api = str_field(j, "github_api", false);
  if (!api) return api.error();
  if (!api->empty()) r.github_api = *api;

  if (r.event != "push" && r.event != "pull_request" && r.event != "manual")
    return field_error("event", "must be push, pull_request or manual, got '" + r.event + "'");
  auto slash = r.repo.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == r.repo.size() ||
      r.repo.find('/', slash + 1) != std::string::npos)
    return field_error("repo", "must be OWNER/NAME, got '" + r.repo + "'");
  if (git::redact_url(r.clone_url) != r.clone_url)
    return field_error("clone_url",
                       "must not carry credentials; the token comes from $WFRUN_GIT_TOKEN");
  if (!r.sha.empty() && !is_sha(r.sha))
    return field_error("sha", "must be a full commit sha (40 lower-case hex digits), got '" +
                                  r.sha + "'");
  if (r.event != "manual" && r.sha.empty())
    return field_error("sha", "missing (it is required for " + r.event + " events)");
  if (r.ref.empty() && (r.event != "manual" || r.sha.empty()))
    return field_error("ref", r.event == "manual" ? "missing (a manual run needs a ref or a sha)"
                                                  : "missing (it is required)");
  if (r.event == "push" && !starts_with(r.ref, "refs/heads/") && !starts_with(r.ref, "refs/tags/"))
    return field_error("ref", "a push must be to refs/heads/NAME or refs/tags/NAME, got '" + r.ref +
                                  "'");
  // A ref is matched against `on:` filters and handed to git: no control bytes (a NUL once cut
  // "refs/heads/main\0x" down to a match for `only: main`).
  for (const auto& [name, v] :
       {std::pair<const char*, const std::string*>{"ref", &r.ref}, {"base_ref", &r.base_ref}})
    for (unsigned char c : *v)
      if (c < 0x20 || c == 0x7f) return field_error(name, "must not contain control characters");
  if (r.event == "pull_request" && r.base_ref.empty())
    return field_error("base_ref", "missing (it is required for pull_request events)");
  if (r.event != "manual" && !r.workflow.empty())
    return field_error("workflow", "only manual runs name a workflow");

  if (auto in = j.find("inputs"); in != j.end() && !in->is_null()) {
    if (!in->is_object()) return field_error("inputs", "must be an object, got " + kind_of(*in));
    for (const auto& [k, v] : in->items()) {
      if (!v.is_string())
        return field_error("inputs." + k, "must be a string, got " + kind_of(v));
      r.inputs[k] = v.get<std::string>();
    }
  }
  if (!r.inputs.empty() && r.event != "manual")
    return field_error("inputs", "only manual runs take inputs");
  return r;
}

namespace {

/// One line: newlines become spaces, so a message never breaks result.json readers' lines.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

std::string result_text(const Answer& a, const Redactor& redactor) {
  json wfs = json::array();
  for (const auto& o : a.workflows) {
    json w = {{"path", o.path}, {"name", o.name}, {"status", o.status}};
    w["run_id"] = o.run_id.empty() ? json(nullptr) : json(o.run_id);
    if (!o.message.empty()) w["message"] = redactor.redact(one_line(o.message));
    wfs.push_back(std::move(w));
  }
  json j = {{"status", a.status},
            {"message", redactor.redact(one_line(a.message))},
            {"workflows", std::move(wfs)}};
  if (!a.trigger.is_null()) j["trigger"] = a.trigger;
  // A message may quote bytes that are not UTF-8 (JSON parse errors do): they must not cost the
  // whole answer.
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace wfrun::cli
