#include <fstream>
#include <optional>
#include <thread>

#include "base/strings.h"
#include "engine/fs.h"
#include "engine/store.h"
#include "http/serve/server_context.h"

namespace wfrun::serve {

namespace {

using nlohmann::json;

std::string read_small(const std::string& path) {
  auto t = engine::read_file(path, 16u << 20);
  return t ? *t : "";
}

/// True when `line` is job `job`'s output as the terminal printer prefixes it (`job   | ...`).
bool job_line(std::string_view line, const std::string& job) {
  if (!starts_with(line, job)) return false;
  size_t i = job.size();
  while (i < line.size() && line[i] == ' ') ++i;
  return i < line.size() && line[i] == '|';
}

}  // namespace

json workflows_of(const ServerContext& ctx, std::int64_t id) {
  json out = json::array();
  json result = json::parse(read_small(run_dir(ctx.state_dir, id) + "/result.json"), nullptr, false);
  if (!result.is_object() || !result.contains("workflows") || !result["workflows"].is_array())
    return out;
  std::optional<engine::RunStore> store;
  for (const auto& w : result["workflows"]) {
    if (!w.is_object()) continue;
    json o = w;
    std::int64_t store_id = 0;
    if (w.contains("run_id") && w["run_id"].is_string()) store_id = std::atoll(w["run_id"].get<std::string>().c_str());
    if (w.contains("run_id") && w["run_id"].is_number_integer()) store_id = w["run_id"].get<std::int64_t>();
    if (store_id > 0) {
      if (!store) {
        auto s = engine::RunStore::open(ctx.state_dir);
        if (s) store.emplace(std::move(*s));
      }
      if (store) {
        if (auto r = store->get_run(store_id)) {
          json jobs = json::array();
          for (const auto& jr : r->jobs) {
            json j = {{"name", jr.name},
                      {"state", engine::job_state_name(jr.state)},
                      {"started_at", jr.started},
                      {"finished_at", jr.finished},
                      {"log", "/api/runs/" + std::to_string(id) + "/jobs/" + jr.name + "/log"}};
            if (jr.exit_code) j["exit_code"] = *jr.exit_code;
            if (!jr.message.empty()) j["message"] = jr.message;
            jobs.push_back(std::move(j));
          }
          o["jobs"] = std::move(jobs);
        }
      }
    }
    out.push_back(std::move(o));
  }
  return out;
}

void log_stream(ServerContext& ctx, std::int64_t id, const std::string& job,
                const httplib::Request& req, httplib::Response& res, bool allow_follow) {
  auto row = ctx.queue->get(id);
  if (!row) return reply(res, 500, {{"error", row.error().str()}});
  if (!*row) return reply(res, 404, {{"error", "no run " + std::to_string(id)}});
  std::string path = run_dir(ctx.state_dir, id) + "/log";
  bool filter = false;
  if (!job.empty()) {
    // A finished workflow's job: its own log, from the run store.
    std::string want_wf = req.get_param_value("workflow");
    std::string found;
    for (const auto& w : workflows_of(ctx, id)) {
      if (!want_wf.empty() && w.value("path", "") != want_wf) continue;
      if (!w.contains("jobs")) continue;
      for (const auto& j : w["jobs"])
        if (j.value("name", "") == job) found = j.value("log", "");
    }
    if (!found.empty()) {
      auto store = engine::RunStore::open(ctx.state_dir);
      std::string log_path;
      for (const auto& w : workflows_of(ctx, id)) {
        if (!want_wf.empty() && w.value("path", "") != want_wf) continue;
        std::int64_t sid = 0;
        if (w.contains("run_id") && w["run_id"].is_string()) sid = std::atoll(w["run_id"].get<std::string>().c_str());
        if (store && sid > 0)
          if (auto r = store->get_run(sid))
            for (const auto& jr : r->jobs)
              if (jr.name == job) log_path = jr.log_path;
      }
      if (!log_path.empty()) path = log_path;
    } else if (is_final_status((*row)->status)) {
      return reply(res, 404, {{"error", "run " + std::to_string(id) + " has no job '" + job + "'"}});
    } else {
      // Still running: the job's lines as serve-run prints them (`JOB | line`).
      filter = true;
    }
  }
  const bool follow = allow_follow && req.get_param_value("follow") == "1";
  if (!follow) {
    std::string text = read_small(path);
    if (filter) {
      std::string out;
      for (const auto& line : split(text, '\n'))
        if (job_line(line, job)) out += line + "\n";
      text = out;
    }
    res.status = 200;
    res.set_content(text, "text/plain; charset=utf-8");
    return;
  }
  // ?follow=1: stream what is there, then what is appended, until the run ends.
  auto pos = std::make_shared<std::streamoff>(0);
  auto pending = std::make_shared<std::string>();
  auto ended = std::make_shared<bool>(false);
  Queue* q = ctx.queue.get();
  std::atomic<bool>* stop = &ctx.stopping;
  res.set_chunked_content_provider(
      "text/plain; charset=utf-8",
      [path, pos, pending, ended, q, stop, id, filter, job](size_t, httplib::DataSink& sink) {
        std::ifstream in(path, std::ios::binary);
        std::string chunk;
        if (in) {
          in.seekg(*pos);
          char buf[16384];
          in.read(buf, sizeof buf);
          chunk.assign(buf, static_cast<size_t>(in.gcount()));
          *pos += static_cast<std::streamoff>(chunk.size());
        }
        if (!chunk.empty()) {
          if (filter) {
            *pending += chunk;
            std::string out;
            size_t start = 0, nl;
            while ((nl = pending->find('\n', start)) != std::string::npos) {
              std::string_view line(pending->data() + start, nl - start);
              if (job_line(line, job)) out.append(line).append("\n");
              start = nl + 1;
            }
            pending->erase(0, start);
            chunk = out;
          }
          if (!chunk.empty() && !sink.write(chunk.data(), chunk.size())) return false;
          return true;
        }
        if (*ended) {
          sink.done();
          return true;
        }
        auto row = q->get(id);
        if (!row || !*row || is_final_status((*row)->status) || stop->load()) {
          // One more read: the child's last lines may have come after the read above.
          *ended = true;
          return true;
        }
        if (!sink.is_writable()) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        return true;
      });
}

}  // namespace wfrun::serve
