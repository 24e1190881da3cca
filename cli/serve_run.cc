// `wfrun serve-run`: one run of `wfrun serve`, in its own process. The request comes as files
// (RUNDIR/request.json, RUNDIR/payload.json), the tokens by environment (WFRUN_GIT_TOKEN,
// WFRUN_GITHUB_TOKEN), and the answer goes back as RUNDIR/result.json plus the exit code.

#include "cli/serve_run.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/strings.h"
#include "cli/options.h"
#include "cli/run_common.h"
#include "cli/terminal.h"
#include "git/clone_cache.h"
#include "git/git.h"
#include "workflows/parser.h"
#include "workflows/trigger.h"

namespace wfrun::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kExitOk = 0, kExitFailed = 1, kExitError = 2, kExitCancelled = 130;

/// RUNDIR/request.json, checked.
struct Request {
  std::int64_t run_id = 0;
  std::string delivery;
  std::string event;  // push, pull_request, manual
  std::string repo;   // OWNER/NAME
  std::string clone_url;
  std::string sha;  // 40 hex; "" only for manual runs (then `ref` is resolved)
  std::string ref;
  std::string base_ref;  // pull_request only
  std::string workflow;  // manual only: the one file to run ("" = match `on:` as a push of ref)
  std::map<std::string, std::string> inputs;
  std::string github_api = "https://api.github.com";
  std::string ca_file;
  std::string target_url;
};

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

/// What happened to one workflow file of the commit.
struct Outcome {
  std::string path;  // relative to the checkout
  std::string name;
  std::string run_id;  // "" = no run was created
  std::string status;  // success, failure, cancelled, error
  std::string message;
};

/// The whole run's answer.
struct Answer {
  std::string status;
  std::string message;
  std::vector<Outcome> workflows;
  /// `skipped` because no workflow's `on:` matched: the event, ref, base ref and sha that
  /// decision depends on (and nothing else), written as result.json's `trigger` so that
  /// `wfrun serve` can answer the same push again without a run. Null otherwise.
  json trigger;
};

int exit_code_of(const std::string& status) {
  if (status == "success" || status == "skipped") return kExitOk;
  if (status == "failure") return kExitFailed;
  if (status == "cancelled") return kExitCancelled;
  return kExitError;
}

/// One line: newlines become spaces, so a message never breaks result.json readers' lines.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

/// Writes RUNDIR/result.json through a temporary file and a rename, so a reader never sees
/// half of it.
Status write_result(const std::string& rundir, const Answer& a, const Redactor& redactor) {
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
  std::string path = rundir + "/result.json", tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << j.dump(2) << "\n";
    out.flush();
    if (!out) return Error("cannot write " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Error("cannot rename " + tmp + " to " + path + ": " + ec.message());
  return {};
}

/// `.wfrun/workflows/*.yaml` then `.gradient/workflows/*.yaml` (`.yml` too), each sorted by
/// name, as paths relative to `checkout`.
std::vector<std::string> find_workflows(const std::string& checkout) {
  std::vector<std::string> out;
  for (const char* dir : {".wfrun/workflows", ".gradient/workflows"}) {
    std::vector<std::string> here;
    std::error_code ec;
    for (auto it = fs::directory_iterator(fs::path(checkout) / dir, ec);
         !ec && it != fs::directory_iterator(); it.increment(ec)) {
      const auto ext = it->path().extension();
      if ((ext == ".yaml" || ext == ".yml") && it->is_regular_file(ec))
        here.push_back(std::string(dir) + "/" + it->path().filename().string());
    }
    std::sort(here.begin(), here.end());
    out.insert(out.end(), here.begin(), here.end());
  }
  return out;
}

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

/// The event description for log lines and messages: `push to refs/heads/main`.
std::string describe(const Request& r) {
  if (r.event == "pull_request") return "pull request into " + r.base_ref;
  if (r.event == "manual")
    return "manual run" + (r.workflow.empty() ? "" : " of " + r.workflow) + " at " +
           (r.ref.empty() ? r.sha : r.ref);
  return "push to " + r.ref;
}

/// The pull request's head ref (refs/pull/N/head) from the request or the payload, or "".
std::string pull_head_ref(const Request& r, const json& payload) {
  std::string n;
  auto parts = split(r.ref, '/');
  if (parts.size() == 4 && parts[0] == "refs" && parts[1] == "pull") n = parts[2];
  if (n.empty() && payload.is_object()) {
    auto pr = payload.find("pull_request");
    if (pr != payload.end() && pr->is_object()) {
      auto num = pr->find("number");
      if (num != pr->end() && num->is_number_integer()) n = std::to_string(num->get<std::int64_t>());
    }
  }
  return n.empty() ? "" : "refs/pull/" + n + "/head";
}

class ServeRun {
 public:
  ServeRun(std::string state_dir, std::string rundir)
      : state_dir_(std::move(state_dir)), rundir_(std::move(rundir)) {
    git_token_ = env_or_empty("WFRUN_GIT_TOKEN");
    github_token_ = env_or_empty("WFRUN_GITHUB_TOKEN");
    if (!git_token_.empty()) redactor_.add(git_token_);
    if (!github_token_.empty()) redactor_.add(github_token_);
  }

  int run() {
    std::error_code ec;
    if (!fs::is_directory(rundir_, ec)) {
      std::fprintf(stderr, "wfrun: serve-run: --dir %s is not a folder\n", rundir_.c_str());
      return kExitError;
    }
    cancel_fd_ = install_signal_pipe();
    Answer a = execute();
    say("result: " + a.status + ": " + a.message);
    if (auto s = write_result(rundir_, a, redactor_); !s) {
      std::fprintf(stderr, "wfrun: serve-run: %s\n", redactor_.redact(s.error().str()).c_str());
      return kExitError;
    }
    return exit_code_of(a.status);
  }

 private:
  void say(const std::string& line) {
    std::printf("serve-run: %s\n", redactor_.redact(line).c_str());
    std::fflush(stdout);
  }
  Answer error(const std::string& message) { return {"error", message, {}, nullptr}; }
  Answer cancelled(std::vector<Outcome> done) {
    return {"cancelled", "cancelled by a signal", std::move(done), nullptr};
  }

  Answer execute() {
    auto text = read_text_file(rundir_ + "/request.json");
    if (!text) return error("request.json: " + text.error().message());
    auto req = parse_request(*text);
    if (!req) return error(req.error().str());
    req_ = std::move(*req);
    auto ptext = read_text_file(rundir_ + "/payload.json");
    if (!ptext) return error("payload.json: " + ptext.error().message());
    try {
      payload_ = json::parse(*ptext);
    } catch (const json::exception& e) {
      return error(std::string("payload.json: not valid JSON: ") + e.what());
    }
    if (!payload_.is_object()) return error("payload.json: must be a JSON object");
    say("run " + std::to_string(req_.run_id) + ": " + describe(req_) + " of " + req_.repo +
        (req_.sha.empty() ? "" : " at " + req_.sha));

    if (auto s = checkout(); !s) return error(s.error().str());
    if (interrupted()) return cancelled({});
    return run_workflows();
  }

  /// Fetches the commit into the clone cache and checks it out into RUNDIR/checkout; sets
  /// req_.sha when the request named only a ref.
  Status checkout() {
    git::RemoteOptions ropts;
    if (!git_token_.empty()) ropts.creds = git::Credentials::from_token(git_token_);
    ropts.ca_file = req_.ca_file.empty() ? env_or_empty("WFRUN_CA_FILE") : req_.ca_file;
    checkout_dir_ = rundir_ + "/checkout";
    std::error_code ec;
    fs::remove_all(checkout_dir_, ec);  // a run queued again after a crash starts clean
    say("fetching " + req_.clone_url);
    auto repo = git::cached_clone(state_dir_ + "/git-cache", req_.clone_url, checkout_dir_, ropts);
    if (!repo) return Error("fetching " + req_.clone_url + ": " + repo.error().str());
    if (req_.event == "pull_request") {
      // The head of a pull request from a fork is on no branch of this repository: fetch it.
      std::string pull = pull_head_ref(req_, payload_);
      if (!pull.empty()) {
        if (auto r = repo->resolve(pull, ropts); !r)
          say("note: " + pull + ": " + r.error().str() + "; trying the sha");
      }
    }
    std::string want = req_.sha.empty() ? req_.ref : req_.sha;
    if (auto r = repo->checkout(want, ropts); !r)
      return Error("checking out " + want + " of " + req_.clone_url + ": " + r.error().str());
    auto head = repo->head_sha();
    if (!head) return head.error();
    if (!req_.sha.empty() && *head != req_.sha)
      return Error("checked out " + *head + " but the request names " + req_.sha);
    req_.sha = *head;
    say("checked out " + req_.sha + " into " + checkout_dir_);
    return {};
  }

  /// The event as the jobs see it (github.*): the payload; for a manual run, the payload with
  /// the ref, sha and repository filled in where it has none.
  json event() const {
    json e = payload_;
    if (req_.event != "manual") return e;
    if (!e.contains("ref")) e["ref"] = req_.ref.empty() ? req_.sha : req_.ref;
    if (!e.contains("after")) e["after"] = req_.sha;
    if (!e.contains("repository") || !e["repository"].is_object()) e["repository"] = json::object();
    if (!e["repository"].contains("full_name")) e["repository"]["full_name"] = req_.repo;
    if (!e["repository"].contains("clone_url")) e["repository"]["clone_url"] = req_.clone_url;
    return e;
  }

  std::optional<workflows::TriggerEvent> trigger_event() const {
    workflows::TriggerEvent ev;
    if (req_.event == "pull_request") {
      ev.kind = workflows::TriggerEvent::Kind::kPullRequest;
      ev.base_ref = req_.base_ref;
    } else {
      ev.kind = workflows::TriggerEvent::Kind::kPush;
      ev.ref = req_.ref;
    }
    return ev;
  }

  Answer run_workflows() {
    std::vector<std::string> files = find_workflows(checkout_dir_);
    if (!req_.workflow.empty()) {
      if (std::find(files.begin(), files.end(), req_.workflow) == files.end()) {
        std::string found;
        for (const auto& f : files) found += (found.empty() ? "" : ", ") + f;
        return error("request.json: field workflow: '" + req_.workflow + "' is not in commit " +
                     req_.sha + " (workflows there: " + (found.empty() ? "none" : found) + ")");
      }
      files = {req_.workflow};
    }
    say("workflows in the commit: " + std::to_string(files.size()));

    std::vector<Outcome> outcomes;
    std::vector<std::pair<size_t, workflows::Workflow>> to_run;
    for (const auto& f : files) {
      Outcome o;
      o.path = f;
      o.name = fs::path(f).stem().string();
      auto text = read_text_file(checkout_dir_ + "/" + f);
      Result<workflows::Workflow> wf =
          text ? workflows::parse_workflow(*text, f) : Result<workflows::Workflow>(text.error());
      if (!wf) {
        o.status = "error";
        o.message = wf.error().str();
        say(f + ": invalid: " + o.message);
        outcomes.push_back(std::move(o));
        continue;
      }
      if (req_.workflow.empty()) {
        workflows::TriggerDecision d = workflows::match_trigger(wf->on, *trigger_event());
        say(f + ": " + (d.runs ? "runs: " : "not triggered: ") + d.reason);
        if (!d.runs) continue;
      }
      o.status = "pending";
      outcomes.push_back(std::move(o));
      to_run.emplace_back(outcomes.size() - 1, std::move(*wf));
    }
    if (to_run.empty()) {
      bool invalid = !outcomes.empty();
      std::string msg = describe(req_) + ": no workflow's 'on:' matched";
      if (files.empty()) msg = describe(req_) + ": the commit has no .wfrun/workflows/*.yaml or "
                                                ".gradient/workflows/*.yaml";
      if (invalid) return {"error", msg + ", and " + std::to_string(outcomes.size()) +
                                        " workflow(s) are invalid", std::move(outcomes), nullptr};
      Answer a{"skipped", msg, {}, nullptr};
      if (req_.event == "push" || req_.event == "pull_request")
        a.trigger = {{"event", req_.event}, {"ref", req_.ref}, {"base_ref", req_.base_ref},
                     {"sha", req_.sha}};
      return a;
    }

    for (auto& [index, wf] : to_run) {
      Outcome& o = outcomes[index];
      if (interrupted()) {
        o.status = "cancelled";
        o.message = "not started: the run was cancelled";
        continue;
      }
      run_one(wf, o);
    }
    return summarize(std::move(outcomes));
  }

  void run_one(const workflows::Workflow& wf, Outcome& o) {
    say("running " + o.path);
    engine::RunOptions opts = base_run_options(state_dir_);
    // The workflows' `github:` blocks and git actions use the GITHUB_TOKEN secret.
    if (!github_token_.empty() && !opts.secrets.count("GITHUB_TOKEN"))
      opts.secrets["GITHUB_TOKEN"] = github_token_;
    opts.workflow_dir = checkout_dir_;
    opts.event = event();
    opts.cancel_fd = cancel_fd_;
    std::string url = git::redact_url(req_.clone_url);
    std::string ref = req_.ref.empty() ? req_.sha : req_.ref;
    opts.env = {{"WFRUN_GIT_SHA", req_.sha},
                {"WFRUN_GIT_REF", ref},
                {"WFRUN_GIT_REPO_URL", url},
                {"PS_GRADIENT_CI_GIT_SHA", req_.sha},
                {"PS_GRADIENT_CI_GIT_REF", ref},
                {"PS_GRADIENT_CI_GIT_REPO_URL", url}};
    for (const auto& [k, v] : req_.inputs) {
      if (!wf.input(k)) {
        o.status = "error";
        o.message = "request.json: field inputs." + k + ": the workflow " + o.path +
                    " declares no input '" + k + "'";
        say(o.message);
        return;
      }
      opts.inputs[k] = v;
    }
    GithubReportSettings gh{req_.github_api, req_.ca_file, req_.target_url};
    TerminalPrinter printer(stdout, false);
    auto result = run_checked(wf, opts, printer, gh);
    std::fflush(stdout);
    if (!result) {
      o.status = "error";
      o.message = result.error().str();
      say(o.path + ": " + o.message);
      return;
    }
    o.run_id = std::to_string(result->id);
    switch (result->state) {
      case engine::RunState::kSucceeded: o.status = "success"; break;
      case engine::RunState::kCancelled:
      case engine::RunState::kInterrupted: o.status = "cancelled"; break;
      default: o.status = interrupted() ? "cancelled" : "failure";
    }
    for (const auto& j : result->jobs) {
      if (j.state == engine::JobState::kFailed || j.state == engine::JobState::kTimedOut) {
        o.message = "job " + j.name + " " + engine::job_state_name(j.state) +
                    (j.message.empty() ? "" : ": " + j.message);
        break;
      }
    }
    say(o.path + ": " + o.status + " (run " + o.run_id + ")");
  }

  /// cancelled beats error beats failure beats success.
  Answer summarize(std::vector<Outcome> outcomes) {
    int n_cancel = 0, n_error = 0, n_fail = 0, n_ok = 0;
    for (const auto& o : outcomes) {
      if (o.status == "cancelled") ++n_cancel;
      else if (o.status == "error") ++n_error;
      else if (o.status == "failure") ++n_fail;
      else ++n_ok;
    }
    auto first = [&](const std::string& status) -> const Outcome& {
      return *std::find_if(outcomes.begin(), outcomes.end(),
                           [&](const Outcome& o) { return o.status == status; });
    };
    Answer a;
    if (n_cancel) {
      a.status = "cancelled";
      a.message = "cancelled by a signal";
    } else if (n_error) {
      a.status = "error";
      const Outcome& o = first("error");
      a.message = o.path + ": " + o.message;
    } else if (n_fail) {
      a.status = "failure";
      const Outcome& o = first("failure");
      a.message = o.path + " failed" + (o.message.empty() ? "" : ": " + o.message);
    } else {
      a.status = "success";
      a.message = std::to_string(n_ok) + " workflow" + (n_ok == 1 ? "" : "s") + " succeeded";
    }
    if (outcomes.size() > 1 && a.status != "success")
      a.message += " (" + std::to_string(n_ok) + " of " + std::to_string(outcomes.size()) +
                   " workflows succeeded)";
    a.workflows = std::move(outcomes);
    return a;
  }

  std::string state_dir_, rundir_, checkout_dir_;
  std::string git_token_, github_token_;
  Redactor redactor_;
  Request req_;
  json payload_;
  int cancel_fd_ = -1;
};

}  // namespace

void add_serve_run_command(CLI::App& app, const std::string& state_dir, int& exit_code) {
  auto rundir = std::make_shared<std::string>();
  auto* sc = app.add_subcommand("serve-run", "run one queued webhook run (started by wfrun serve)");
  sc->group("");  // internal: not in --help
  sc->add_option("--dir", *rundir, "the run's folder: request.json, payload.json")->required();
  sc->callback([rundir, &state_dir, &exit_code] {
    // stdout is the run's log file, which `GET .../log?follow=1` streams: a line at a time.
    std::fflush(stdout);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    std::error_code ec;
    std::string dir = fs::absolute(*rundir, ec).string();
    std::string state = fs::absolute(resolve_state_dir(state_dir), ec).string();
    exit_code = ServeRun(state, dir).run();
  });
}

}  // namespace wfrun::cli
