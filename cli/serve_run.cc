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
#include "cli/serve_request.h"
#include "cli/terminal.h"
#include "engine/resume.h"
#include "engine/store.h"
#include "git/clone_cache.h"
#include "git/git.h"
#include "workflows/parser.h"
#include "workflows/trigger.h"

namespace wfrun::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kExitOk = 0, kExitFailed = 1, kExitError = 2, kExitCancelled = 130;

int exit_code_of(const std::string& status) {
  if (status == "success" || status == "skipped") return kExitOk;
  if (status == "failure") return kExitFailed;
  if (status == "cancelled") return kExitCancelled;
  return kExitError;
}

/// Writes RUNDIR/result.json through a temporary file and a rename, so a reader never sees
/// half of it.
Status write_result(const std::string& rundir, const Answer& a, const Redactor& redactor) {
  std::string path = rundir + "/result.json", tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << result_text(a, redactor) << "\n";
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
  ServeRun(std::string state_dir, std::string rundir, workflows::ExecutorSettings executor)
      : state_dir_(std::move(state_dir)), rundir_(std::move(rundir)), executor_(std::move(executor)) {
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

  // The server queued this run again after it stopped mid-run: the workflow's earlier run for
  // it, interrupted, is resumed as `wfrun run --resume` would. Its jobs that succeeded are
  // taken as they finished, and attempts still running on a cluster (Slurm jobs outlive
  // wfrun) are followed instead of submitted again.
  void resume_earlier(const workflows::Workflow& wf, const std::string& path, engine::RunOptions& opts) {
    if (req_.run_id <= 0) return;
    auto store = engine::RunStore::open(state_dir_);
    if (!store) return;
    auto earlier = store->last_run_of(req_.run_id, path);
    if (!earlier || *earlier == 0) return;
    auto rec = store->get_run(*earlier);
    if (!rec || rec->state != engine::RunState::kInterrupted) return;
    auto plan = engine::plan_resume(*store, *earlier, wf);
    if (!plan) {
      say(path + ": starting over: " + plan.error().message());
      return;
    }
    say(path + ": resuming run " + std::to_string(*earlier) + ", which the server's stop interrupted");
    resume_into(std::move(*plan), opts, [this](const std::string& line) { say(line); });
  }

  void run_one(const workflows::Workflow& wf, Outcome& o) {
    say("running " + o.path);
    engine::RunOptions opts = base_run_options(state_dir_);
    opts.executor = executor_;
    // The workflows' `github:` blocks and git actions use the GITHUB_TOKEN secret.
    if (!github_token_.empty() && !opts.secrets.count("GITHUB_TOKEN"))
      opts.secrets["GITHUB_TOKEN"] = github_token_;
    opts.workflow_dir = checkout_dir_;
    opts.event = event();
    opts.cancel_fd = cancel_fd_;
    opts.trigger = {req_.event, req_.repo, req_.ref, req_.sha, req_.run_id};
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
    resume_earlier(wf, o.path, opts);
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
  workflows::ExecutorSettings executor_;
  std::string git_token_, github_token_;
  Redactor redactor_;
  Request req_;
  json payload_;
  int cancel_fd_ = -1;
};

}  // namespace

void add_serve_run_command(CLI::App& app, const std::string& state_dir, int& exit_code) {
  auto rundir = std::make_shared<std::string>();
  auto executor_config = std::make_shared<std::string>();
  auto* sc = app.add_subcommand("serve-run", "run one queued webhook run (started by wfrun serve)");
  sc->group("");  // internal: not in --help
  sc->add_option("--dir", *rundir, "the run's folder: request.json, payload.json")->required();
  sc->add_option("--executor-config", *executor_config, "server.yaml, for its executor: block");
  sc->callback([rundir, executor_config, &state_dir, &exit_code] {
    // stdout is the run's log file, which `GET .../log?follow=1` streams: a line at a time.
    std::fflush(stdout);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    std::error_code ec;
    std::string dir = fs::absolute(*rundir, ec).string();
    std::string state = fs::absolute(resolve_state_dir(state_dir), ec).string();
    workflows::ExecutorSettings executor;
    if (!executor_config->empty()) {
      auto ex = workflows::load_executor_settings(*executor_config);
      if (!ex) {
        std::fprintf(stderr, "wfrun: serve-run: %s\n", ex.error().str().c_str());
        exit_code = 2;
        return;
      }
      executor = std::move(*ex);
    }
    exit_code = ServeRun(state, dir, std::move(executor)).run();
  });
}

}  // namespace wfrun::cli
