#include "cli/store_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "base/fd.h"
#include "base/strings.h"
#include "cli/options.h"
#include "cli/terminal.h"
#include "engine/run_result.h"
#include "engine/store.h"

namespace wfrun::cli {
namespace {

std::string format_time(double t) {
  if (t <= 0) return "-";
  std::time_t s = static_cast<std::time_t>(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&s));
  return buf;
}

bool terminal_state(engine::RunState s) {
  return s != engine::RunState::kQueued && s != engine::RunState::kRunning;
}

Result<engine::RunStore> open_store(const std::string& flag) {
  return engine::RunStore::open(resolve_state_dir(flag));
}

Result<engine::RunRecord> find_run(engine::RunStore& store, const std::string& text) {
  auto id = parse_run_id(text);
  if (!id) return id.error();
  return store.get_run(*id);
}

int print_error(const Error& e) {
  std::fprintf(stderr, "wfrun: %s\n", e.str().c_str());
  return 2;
}

int cmd_runs(const std::string& state, int limit, bool json) {
  auto store = open_store(state);
  if (!store) return print_error(store.error());
  auto runs = store->list_runs(limit);
  if (!runs) return print_error(runs.error());
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& r : *runs) {
      arr.push_back({{"id", r.id}, {"number", r.number}, {"workflow", r.workflow},
                     {"state", engine::run_state_name(r.state)}, {"started", r.started},
                     {"finished", r.finished}, {"dir", r.dir}});
    }
    std::printf("%s\n", arr.dump(2).c_str());
    return 0;
  }
  if (runs->empty()) {
    std::printf("no runs yet in %s\n", store->state_dir().c_str());
    return 0;
  }
  std::printf("%-6s %-20s %-5s %-11s %-19s %s\n", "ID", "WORKFLOW", "#", "STATE", "STARTED",
              "DURATION");
  for (const auto& r : *runs) {
    std::string dur = r.finished > r.started && r.started > 0 ? format_duration(r.finished - r.started)
                                                               : "-";
    std::printf("%-6lld %-20s %-5lld %-11s %-19s %s\n", static_cast<long long>(r.id),
                r.workflow.c_str(), static_cast<long long>(r.number),
                engine::run_state_name(r.state), format_time(r.started).c_str(), dur.c_str());
  }
  return 0;
}

int cmd_show(const std::string& state, const std::string& run_text, bool json) {
  auto store = open_store(state);
  if (!store) return print_error(store.error());
  auto run = find_run(*store, run_text);
  if (!run) return print_error(run.error());
  if (json) {
    auto text = read_text_file(run->dir + "/run.json");
    if (!text) return print_error(text.error());
    std::fputs(text->c_str(), stdout);
    return 0;
  }
  std::printf("run %lld: %s #%lld (%s)\nworkflow: %s\nstarted:  %s\nfinished: %s\n",
              static_cast<long long>(run->id), run->workflow.c_str(),
              static_cast<long long>(run->number), engine::run_state_name(run->state),
              run->workflow_file.c_str(), format_time(run->started).c_str(),
              format_time(run->finished).c_str());
  if (!terminal_state(run->state) && run->owner.pid > 0)
    std::printf("run by:   wfrun (pid %d on %s)\n", static_cast<int>(run->owner.pid),
                run->owner.host.c_str());
  std::fputs(summary_table(engine::to_result(*run)).c_str(), stdout);
  bool any = false;
  for (const auto& j : run->jobs) {
    for (const auto& [name, value] : j.outputs) {
      if (!any) std::printf("\noutputs:\n");
      any = true;
      std::printf("  %s.%s = %s\n", j.name.c_str(), name.c_str(), value.c_str());
    }
    if (!j.message.empty() && j.state != engine::JobState::kSucceeded) {
      std::printf("  %s: %s\n", j.name.c_str(), j.message.c_str());
    }
  }
  return 0;
}

// Copies what `fd` holds from `offset` on to stdout, with an optional prefix per line.
void pump(int fd, off_t& offset, const std::string& prefix, bool& at_line_start) {
  char buf[65536];
  while (true) {
    ssize_t n = ::pread(fd, buf, sizeof buf, offset);
    if (n <= 0) break;
    offset += n;
    if (prefix.empty()) {
      std::fwrite(buf, 1, static_cast<size_t>(n), stdout);
      continue;
    }
    for (ssize_t i = 0; i < n; ++i) {
      if (at_line_start) std::fputs(prefix.c_str(), stdout);
      std::fputc(buf[i], stdout);
      at_line_start = buf[i] == '\n';
    }
  }
  std::fflush(stdout);
}

int cmd_logs(const std::string& state, const std::string& run_text, const std::string& job,
             bool follow) {
  auto store = open_store(state);
  if (!store) return print_error(store.error());
  auto run = find_run(*store, run_text);
  if (!run) return print_error(run.error());
  std::vector<std::string> jobs;
  std::vector<std::string> all;
  for (const auto& j : run->jobs) all.push_back(j.name);
  if (!job.empty()) {
    if (std::find(all.begin(), all.end(), job) == all.end()) {
      return print_error(Error("run " + run_text + " has no job '" + job + "'" +
                               did_you_mean(job, all) + "; its jobs: " + join(all, ", ")));
    }
    jobs.push_back(job);
  } else {
    jobs = all;
  }
  size_t width = 0;
  for (const auto& j : jobs) width = std::max(width, j.size());
  struct Tail {
    std::string prefix;
    std::string path;
    UniqueFd fd;
    off_t offset = 0;
    bool at_line_start = true;
  };
  std::vector<Tail> tails;
  for (const auto& j : jobs) {
    Tail t;
    if (jobs.size() > 1) t.prefix = j + std::string(width - j.size(), ' ') + " | ";
    t.path = run->dir + "/jobs/" + j + "/log";
    tails.push_back(std::move(t));
  }
  while (true) {
    for (auto& t : tails) {
      if (!t.fd) t.fd.reset(::open(t.path.c_str(), O_RDONLY | O_CLOEXEC));
      if (t.fd) pump(t.fd.get(), t.offset, t.prefix, t.at_line_start);
    }
    if (!follow || terminal_state(run->state)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    // A run whose wfrun was killed would be "running" forever: the store notices the owner
    // is gone and ends it, and so this loop.
    (void)store->mark_interrupted();
    auto again = store->get_run(run->id);
    if (!again) return print_error(again.error());
    // One last pump after the run ends, so nothing printed at the very end is missed.
    run->state = again->state;
  }
  return 0;
}

}  // namespace

void add_store_commands(CLI::App& app, std::string& state_dir, int& exit_code) {
  static int limit = 50;
  static bool runs_json = false, show_json = false, follow = false;
  static std::string show_run, logs_run, logs_job;

  auto* runs = app.add_subcommand("runs", "list recorded runs, newest first");
  runs->add_option("-n,--limit", limit, "how many runs to list")->check(CLI::PositiveNumber);
  runs->add_flag("--json", runs_json, "print JSON");
  runs->callback([&] { exit_code = cmd_runs(state_dir, limit, runs_json); });

  auto* show = app.add_subcommand("show", "show one run: jobs, status, durations, outputs");
  show->add_option("run", show_run, "the run id")->required();
  show->add_flag("--json", show_json, "print the run record (run.json)");
  show->callback([&] { exit_code = cmd_show(state_dir, show_run, show_json); });

  auto* logs = app.add_subcommand("logs", "print a run's logs (all jobs, or one)");
  logs->add_option("run", logs_run, "the run id")->required();
  logs->add_option("job", logs_job, "one job's log");
  logs->add_flag("-f,--follow", follow, "keep printing as the jobs print, until the run ends");
  logs->callback([&] { exit_code = cmd_logs(state_dir, logs_run, logs_job, follow); });

}

}  // namespace wfrun::cli
