#include "engine/run_json.h"

#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>

#include "engine/fs.h"

namespace wfrun::engine {

std::string iso_time(double t) {
  std::time_t secs = static_cast<std::time_t>(std::floor(t));
  int ms = static_cast<int>((t - std::floor(t)) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

namespace {

nlohmann::ordered_json time_or_null(double t) {
  return t > 0 ? nlohmann::ordered_json(iso_time(t)) : nlohmann::ordered_json(nullptr);
}

}  // namespace

std::string run_json_text(const RunResult& run, const std::string& workflow,
                          const Redactor& redactor) {
  nlohmann::ordered_json j;
  j["id"] = run.id;
  j["number"] = run.number;
  j["workflow"] = workflow;
  j["phase"] = run_state_name(run.state);
  j["started"] = time_or_null(run.started);
  j["finished"] = time_or_null(run.finished);
  auto& jobs = j["jobs"] = nlohmann::ordered_json::array();
  for (const auto& r : run.jobs) {
    nlohmann::ordered_json o;
    o["name"] = r.name;
    o["phase"] = job_state_name(r.state);
    o["started"] = time_or_null(r.started);
    o["finished"] = time_or_null(r.finished);
    o["exitCode"] = r.exit_code ? nlohmann::ordered_json(*r.exit_code) : nullptr;
    o["attempts"] = r.attempts;
    auto& outs = o["outputs"] = nlohmann::ordered_json::object();
    for (const auto& [k, v] : r.outputs) outs[k] = redactor.empty() ? v : redactor.redact(v);
    o["message"] = r.message;
    jobs.push_back(std::move(o));
  }
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

Status write_run_json(const RunResult& run, const std::string& workflow, const Redactor& redactor) {
  return write_file_atomic(run.dir + "/run.json", run_json_text(run, workflow, redactor));
}

}  // namespace wfrun::engine
