#include "http/serve/server.h"

#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/strings.h"
#include "engine/fs.h"
#include "engine/store.h"
#include "http/serve/dispatcher.h"
#include "http/serve/metrics.h"
#include "http/serve/queue.h"
#include "http/serve/reporter.h"
#include "http/serve/run_page.h"
#include "http/serve/signature.h"
#include "http/serve/webhook.h"

namespace wfrun::serve {

namespace {

using nlohmann::json;
constexpr size_t kMaxApiBody = 1u << 20;

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump() + "\n", "application/json");
}

json run_json(const RunRow& r, const ServerConfig& config) {
  json j = {{"id", r.id},
            {"status", r.status},
            {"message", r.message},
            {"event", r.request.event},
            {"repo", r.request.repo},
            {"ref", r.request.ref},
            {"sha", r.request.sha},
            {"attempts", r.attempts},
            {"interruptions", r.interruptions},
            {"queued_at", r.queued},
            {"url", run_link(config, r.id)}};
  if (!r.request.delivery.empty()) j["delivery"] = r.request.delivery;
  if (!r.request.base_ref.empty()) j["base_ref"] = r.request.base_ref;
  if (!r.request.workflow.empty()) j["workflow"] = r.request.workflow;
  if (r.started > 0) j["started_at"] = r.started;
  if (r.finished > 0) {
    j["finished_at"] = r.finished;
    if (r.started > 0) j["duration_s"] = r.finished - r.started;
  }
  if (r.cancel_requested) j["cancel_requested"] = true;
  return j;
}

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

struct Server::Impl {
  explicit Impl(ConfigPtr c) : config(std::move(c)) {}
  ConfigHolder config;
  std::string state_dir;
  std::function<void(const std::string&)> log;
  std::unique_ptr<Queue> queue;
  Metrics metrics;
  std::unique_ptr<Reporter> reporter;
  std::unique_ptr<Dispatcher> dispatcher;
  std::unique_ptr<httplib::Server> http;
  int port = 0;
  std::atomic<bool> stopping{false};

  bool authorized(const httplib::Request& req) const {
    const std::string h = req.get_header_value("Authorization");
    if (!starts_with(h, "Bearer ")) return false;
    const std::string token(trim(std::string_view(h).substr(7)));
    bool ok = false;
    for (const auto& t : config.get()->api_tokens) ok |= constant_time_equal(t, token);
    return ok && !token.empty();
  }

  void routes();
  void webhook(const httplib::Request& req, const std::string& body, httplib::Response& res);
  void list_runs(const httplib::Request& req, httplib::Response& res);
  void get_run(std::int64_t id, httplib::Response& res);
  void run_page(std::int64_t id, httplib::Response& res);
  /// GET /runs/ID...?key=K: the run's capability link (see run_page.h), or a bearer token.
  bool link_authorized(const httplib::Request& req) const {
    if (authorized(req)) return true;
    const std::string& p = req.path;  // /runs/ID[/...]
    if (p.size() <= 6) return false;
    const size_t end = p.find('/', 6);
    const std::string digits = p.substr(6, end == std::string::npos ? std::string::npos : end - 6);
    if (digits.empty() || digits.size() > 18 ||
        digits.find_first_not_of("0123456789") != std::string::npos)
      return false;
    return run_key_ok(*config.get(), std::atoll(digits.c_str()), req.get_param_value("key"));
  }
  void post_run(const httplib::Request& req, httplib::Response& res);
  void cancel(std::int64_t id, httplib::Response& res);
  void log_stream(std::int64_t id, const std::string& job, const httplib::Request& req,
                  httplib::Response& res, bool allow_follow = true);
  json workflows_of(std::int64_t id);
};

void Server::Impl::webhook(const httplib::Request& req, const std::string& body,
                           httplib::Response& res) {
  Delivery d{req.get_header_value("X-GitHub-Event"), req.get_header_value("X-GitHub-Delivery"),
             req.get_header_value("X-Hub-Signature-256"), req.get_header_value("Content-Type"),
             body};
  ConfigPtr cfg = config.get();
  WebhookDecision w = decide(*cfg, d);
  if (w.status == 202 && !w.runs.empty()) {
    // Recorded (group commit) before the answer; a known skip decision records it unrun.
    auto got = queue->submit(Submission{d.id, d.event, std::move(w.runs), std::move(w.reports), true});
    if (!got) {
      log("webhook: cannot record delivery " + d.id + ": " + got.error().str());
      metrics.delivery(d.event, "error");
      return reply(res, 503, {{"error", "cannot record the delivery; redeliver it later"}});
    }
    const bool duplicate = got->duplicate;
    json body = got->ignored.empty() ? json{{"runs", got->runs}} : json{{"ignored", got->ignored}};
    if (duplicate) body["duplicate"] = true;
    w.body = body.dump();
    w.result = duplicate ? "duplicate" : !got->ignored.empty() ? "known_skip" : "queued";
    if (!duplicate && got->ignored.empty()) {
      dispatcher->wake();
      reporter->wake();
    }
  }
  metrics.delivery(d.event, w.result);
  res.status = w.status;
  res.set_content(w.body + "\n", "application/json");
}

json Server::Impl::workflows_of(std::int64_t id) {
  json out = json::array();
  json result = json::parse(read_small(run_dir(state_dir, id) + "/result.json"), nullptr, false);
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
        auto s = engine::RunStore::open(state_dir);
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

void Server::Impl::list_runs(const httplib::Request& req, httplib::Response& res) {
  RunFilter f;
  f.status = req.get_param_value("status");
  f.repo = req.get_param_value("repo");
  if (req.has_param("limit")) f.limit = std::atoi(req.get_param_value("limit").c_str());
  if (req.has_param("before")) f.before = std::atoll(req.get_param_value("before").c_str());
  if (f.limit < 1 || f.limit > 500) return reply(res, 400, {{"error", "limit: expected 1 to 500"}});
  auto rows = queue->list(f);
  if (!rows) return reply(res, 500, {{"error", rows.error().str()}});
  ConfigPtr cfg = config.get();
  json runs = json::array();
  for (const auto& r : *rows) runs.push_back(run_json(r, *cfg));
  json body = {{"runs", runs}};
  if (static_cast<int>(rows->size()) == f.limit && !rows->empty()) {
    std::string next = "/api/runs?limit=" + std::to_string(f.limit) + "&before=" + std::to_string(rows->back().id);
    if (!f.status.empty()) next += "&status=" + f.status;
    if (!f.repo.empty()) next += "&repo=" + f.repo;
    body["next"] = next;
  }
  reply(res, 200, body);
}

void Server::Impl::get_run(std::int64_t id, httplib::Response& res) {
  auto row = queue->get(id);
  if (!row) return reply(res, 500, {{"error", row.error().str()}});
  if (!*row) return reply(res, 404, {{"error", "no run " + std::to_string(id)}});
  json j = run_json(**row, *config.get());
  json inputs = json::object();
  for (const auto& [k, v] : (*row)->request.inputs) inputs[k] = v;
  j["inputs"] = inputs;
  j["workflows"] = workflows_of(id);
  j["log"] = "/api/runs/" + std::to_string(id) + "/log";
  json reports = json::array();
  if (auto rs = queue->reports_of(id)) {
    for (const Report& r : *rs) {
      json o = {{"state", r.state},       {"context", r.context},   {"description", r.description},
                {"outcome", r.outcome},   {"attempts", r.attempts},
                {"target_url", with_run_key(*config.get(), id, r.target_url)}};
      if (!r.last_error.empty()) o["last_error"] = r.last_error;
      if (r.outcome == "pending" && r.next_try > 0) o["next_try"] = r.next_try;
      reports.push_back(std::move(o));
    }
  }
  j["reports"] = std::move(reports);
  reply(res, 200, j);
}

void Server::Impl::run_page(std::int64_t id, httplib::Response& res) {
  auto row = queue->get(id);
  if (!row || !*row) {
    // Only a holder of the key (or a token) gets here: saying that the run is gone is fine.
    res.status = row ? 404 : 500;
    res.set_content(row ? "no such run\n" : "internal error\n", "text/plain; charset=utf-8");
    return;
  }
  ConfigPtr cfg = config.get();
  const std::string page = render_run_page(run_json(**row, *cfg), workflows_of(id), run_key(*cfg, id));
  res.status = 200;
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
  res.set_content(page, "text/html; charset=utf-8");
}

void Server::Impl::post_run(const httplib::Request& req, httplib::Response& res) {
  json b = json::parse(req.body, nullptr, false);
  if (!b.is_object()) return reply(res, 400, {{"error", "expected a JSON object: {\"repo\": \"OWNER/NAME\", \"ref\": \"main\", \"workflow\": \"PATH\", \"inputs\": {}}"}});
  auto field = [&](const char* k) -> std::string {
    return b.contains(k) && b[k].is_string() ? b[k].get<std::string>() : "";
  };
  for (const char* k : {"repo", "ref", "workflow", "sha"})
    if (b.contains(k) && !b[k].is_string()) return reply(res, 400, {{"error", std::string(k) + ": expected a string"}});
  ConfigPtr cfg = config.get();
  RunRequest r;
  r.event = "manual";
  r.repo = field("repo");
  if (r.repo.empty()) return reply(res, 400, {{"error", "repo: required (OWNER/NAME)"}});
  const RepoConfig* rc = cfg->repo(r.repo);
  if (!rc) return reply(res, 403, {{"error", "repository " + r.repo + " is not configured"}});
  r.repo = rc->full_name;
  r.ref = field("ref");
  r.sha = field("sha");
  if (r.ref.empty() && r.sha.empty()) return reply(res, 400, {{"error", "ref: required (a branch, tag or refs/...)"}});
  if (!r.ref.empty() && !starts_with(r.ref, "refs/")) r.ref = "refs/heads/" + r.ref;
  r.workflow = field("workflow");
  if (b.contains("inputs")) {
    if (!b["inputs"].is_object()) return reply(res, 400, {{"error", "inputs: expected an object of NAME: VALUE"}});
    for (auto it = b["inputs"].begin(); it != b["inputs"].end(); ++it) {
      if (it->is_string()) r.inputs[it.key()] = it->get<std::string>();
      else if (it->is_number() || it->is_boolean()) r.inputs[it.key()] = it->dump();
      else return reply(res, 400, {{"error", "inputs." + it.key() + ": expected a string"}});
    }
  }
  r.clone_url = rc->clone_url.empty() ? "https://github.com/" + rc->full_name + ".git" : rc->clone_url;
  bool dup = false;
  auto ids = queue->enqueue("", "manual", {r}, {}, &dup);
  if (!ids) return reply(res, 500, {{"error", ids.error().str()}});
  dispatcher->wake();
  reply(res, 202, {{"runs", *ids}});
}

void Server::Impl::cancel(std::int64_t id, httplib::Response& res) {
  auto st = queue->request_cancel(id);
  if (!st) {
    auto row = queue->get(id);
    if (row && !*row) return reply(res, 404, {{"error", "no run " + std::to_string(id)}});
    return reply(res, 409, {{"error", st.error().str()}});
  }
  dispatcher->wake();
  reply(res, 202, {{"id", id}, {"status", *st}});
}

void Server::Impl::log_stream(std::int64_t id, const std::string& job, const httplib::Request& req,
                              httplib::Response& res, bool allow_follow) {
  auto row = queue->get(id);
  if (!row) return reply(res, 500, {{"error", row.error().str()}});
  if (!*row) return reply(res, 404, {{"error", "no run " + std::to_string(id)}});
  std::string path = run_dir(state_dir, id) + "/log";
  bool filter = false;
  if (!job.empty()) {
    // A finished workflow's job: its own log, from the run store.
    std::string want_wf = req.get_param_value("workflow");
    std::string found;
    for (const auto& w : workflows_of(id)) {
      if (!want_wf.empty() && w.value("path", "") != want_wf) continue;
      if (!w.contains("jobs")) continue;
      for (const auto& j : w["jobs"])
        if (j.value("name", "") == job) found = j.value("log", "");
    }
    if (!found.empty()) {
      auto store = engine::RunStore::open(state_dir);
      std::string log_path;
      for (const auto& w : workflows_of(id)) {
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
  Queue* q = queue.get();
  std::atomic<bool>* stop = &stopping;
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

void Server::Impl::routes() {
  auto& s = *http;
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const bool webhook_path = req.path == "/webhook";
    if (req.has_header("Content-Length")) {
      const unsigned long long len = std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10);
      if (len > (webhook_path ? kMaxWebhookBody : kMaxApiBody)) {
        if (webhook_path) metrics.delivery(req.get_header_value("X-GitHub-Event"), "too_large");
        res.set_header("Connection", "close");
        reply(res, 413, {{"error", "the body is larger than " + std::to_string((webhook_path ? kMaxWebhookBody : kMaxApiBody) >> 20) + " MB"}});
        return httplib::Server::HandlerResponse::Handled;
      }
    } else if (req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos) {
      // The size limit needs a Content-Length; GitHub always sends one.
      res.set_header("Connection", "close");
      reply(res, 411, {{"error", "send the body with a Content-Length"}});
      return httplib::Server::HandlerResponse::Handled;
    }
    const bool guarded = starts_with(req.path, "/api/") || req.path == "/api" ||
                         req.path == "/metrics";
    const bool link = starts_with(req.path, "/runs/") || req.path == "/runs";
    if ((guarded && !authorized(req)) || (link && !link_authorized(req))) {
      res.set_header("WWW-Authenticate", "Bearer");
      reply(res, 401, {{"error", "unauthorized"}});
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Read through a ContentReader: httplib would refuse form-encoded bodies over 8 KB itself.
  s.Post("/webhook", [this](const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader& reader) {
    std::string body;
    bool too_big = false;
    reader([&](const char* data, size_t n) {
      if (body.size() + n > kMaxWebhookBody) return !(too_big = true);
      body.append(data, n);
      return true;
    });
    if (too_big) {
      res.set_header("Connection", "close");
      return reply(res, 413, {{"error", "the body is larger than 25 MB"}});
    }
    webhook(req, body, res);
  });
  s.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    reply(res, 200, {{"status", stopping ? "stopping" : "ok"}, {"running", dispatcher->running()}});
  });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    auto counts = queue->count_by_status();
    if (!counts) return reply(res, 500, {{"error", counts.error().str()}});
    res.set_content(metrics.render(*counts), "text/plain; version=0.0.4");
  });
  s.Get("/api/runs", [this](const httplib::Request& req, httplib::Response& res) { list_runs(req, res); });
  s.Post("/api/runs", [this](const httplib::Request& req, httplib::Response& res) { post_run(req, res); });
  s.Get(R"(/api/runs/(\d{1,18}))", [this](const httplib::Request& req, httplib::Response& res) {
    get_run(std::atoll(req.matches[1].str().c_str()), res);
  });
  // The run link (key or token): a read-only page and plain logs; no ?follow=1, which would
  // hold a worker thread for whoever has a link.
  s.Get(R"(/runs/(\d{1,18}))", [this](const httplib::Request& req, httplib::Response& res) {
    run_page(std::atoll(req.matches[1].str().c_str()), res);
  });
  s.Get(R"(/runs/(\d{1,18})/log)", [this](const httplib::Request& req, httplib::Response& res) {
    log_stream(std::atoll(req.matches[1].str().c_str()), "", req, res, false);
  });
  s.Get(R"(/runs/(\d{1,18})/jobs/([^/]+)/log)", [this](const httplib::Request& req, httplib::Response& res) {
    log_stream(std::atoll(req.matches[1].str().c_str()), req.matches[2].str(), req, res, false);
  });
  s.Post(R"(/api/runs/(\d{1,18})/cancel)", [this](const httplib::Request& req, httplib::Response& res) {
    cancel(std::atoll(req.matches[1].str().c_str()), res);
  });
  s.Get(R"(/api/runs/(\d{1,18})/log)", [this](const httplib::Request& req, httplib::Response& res) {
    log_stream(std::atoll(req.matches[1].str().c_str()), "", req, res);
  });
  s.Get(R"(/api/runs/(\d{1,18})/jobs/([^/]+)/log)", [this](const httplib::Request& req, httplib::Response& res) {
    log_stream(std::atoll(req.matches[1].str().c_str()), req.matches[2].str(), req, res);
  });
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) reply(res, 404, {{"error", "not found"}});
    else if (res.status == 413) reply(res, 413, {{"error", "the body is too large"}});
    else reply(res, res.status, {{"error", "HTTP " + std::to_string(res.status)}});
  });
  s.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log(req.method + " " + req.path + ": internal error: " + what);
    reply(res, 500, {{"error", "internal error"}});
  });
}

Result<std::unique_ptr<Server>> Server::create(ServerConfig config, std::string state_dir,
                                               std::function<void(const std::string&)> log) {
  std::unique_ptr<Server> srv(new Server);
  // Bind first, so that links (base_url) carry the real port when listen: asked for port 0.
  std::unique_ptr<httplib::Server> http;
  if (!config.tls_cert.empty()) {
    auto ssl = std::make_unique<httplib::SSLServer>(config.tls_cert.c_str(), config.tls_key.c_str());
    if (!ssl->is_valid())
      return Error(Location{config.file, 0, 0, "tls"},
                   "cannot load the TLS certificate '" + config.tls_cert + "' or key '" + config.tls_key + "'");
    http = std::move(ssl);
  } else {
    http = std::make_unique<httplib::Server>();
  }
  // httplib sends a response's headers and body in two writes: with Nagle's algorithm the body
  // waits for the client's delayed ACK (~40 ms on Linux) whenever the connection is kept alive.
  // Set on the listening socket, so every accepted one inherits it.
  http->set_tcp_nodelay(true);
  if (config.port == 0) {
    int port = http->bind_to_any_port(config.host);
    if (port < 0) return Error("cannot listen on " + config.host + ": " + std::strerror(errno));
    config.port = port;
  } else if (!http->bind_to_port(config.host, config.port)) {
    return Error("cannot listen on " + config.host + ":" + std::to_string(config.port) + ": " +
                 std::strerror(errno));
  }
  const ServerConfig cfg = config;
  srv->impl_ = std::make_unique<Impl>(std::make_shared<const ServerConfig>(std::move(config)));
  Impl& m = *srv->impl_;
  m.state_dir = state_dir;
  m.log = log ? std::move(log) : [](const std::string&) {};
  auto q = Queue::open(state_dir);
  if (!q) return q.error();
  m.queue = std::move(*q);

  // Runs a dead server left running: end any child that outlived it, then requeue once.
  auto rec = m.queue->recover_interrupted(cfg.requeue_interrupted);
  if (!rec) return rec.error();
  for (const auto& r : *rec) {
    Dispatcher::end_orphan(static_cast<pid_t>(r.pid), run_dir(state_dir, r.id), cfg.cancel_grace);
    m.log("run " + std::to_string(r.id) + ": interrupted by a server stop; " +
          (r.status == "queued" ? "queued again" : "not queued again"));
    if (r.status == "interrupted") {
      const RepoConfig* repo = cfg.repo(r.request.repo);
      if (repo && (!repo->token.empty() || repo->app) && !r.request.sha.empty()) {
        Report rep = Report::status(r.id, repo->full_name, r.request.sha, "error", "interrupted by a server stop",
                   run_link(cfg, r.id), cfg.status_context);
        (void)m.queue->finish(r.id, "interrupted", r.message, rep);
      }
    }
  }

  m.http = std::move(http);
  m.port = cfg.port;
  const int threads = cfg.threads;
  m.http->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  m.http->set_payload_max_length(kMaxWebhookBody);
  const auto rt = std::chrono::milliseconds(static_cast<long long>(cfg.read_timeout * 1000));
  m.http->set_read_timeout(rt);
  m.http->set_write_timeout(std::chrono::seconds(30));
  m.http->set_keep_alive_timeout(5);
  m.http->set_keep_alive_max_count(1000);
  m.routes();
  m.reporter = std::make_unique<Reporter>(*m.queue, m.config, m.metrics, m.log);
  m.dispatcher = std::make_unique<Dispatcher>(*m.queue, m.config, m.metrics, *m.reporter,
                                              state_dir, m.log);
  return srv;
}

Server::~Server() {
  if (impl_ && impl_->dispatcher) impl_->dispatcher->drain(0);
  if (impl_ && impl_->reporter) impl_->reporter->stop();
}

int Server::port() const { return impl_->port; }

Status Server::run() {
  Impl& m = *impl_;
  m.reporter->start();
  m.dispatcher->start();
  m.log("listening on " + m.config.get()->base_url() + " (port " + std::to_string(m.port) + ")");
  std::thread http([&] { m.http->listen_after_bind(); });
  // shutdown() stops the listener; then the runs drain.
  http.join();
  m.dispatcher->drain(m.config.get()->shutdown_grace);
  m.reporter->stop();
  m.log("stopped");
  return {};
}

void Server::reload(ServerConfig config) {
  Impl& m = *impl_;
  ConfigPtr old = m.config.get();
  if (config.host != old->host || config.port != old->port || config.tls_cert != old->tls_cert ||
      config.tls_key != old->tls_key || config.threads != old->threads)
    m.log("reload: listen, tls and threads changes take effect at the next start");
  config.host = old->host;
  config.port = old->port;
  config.tls_cert = old->tls_cert;
  config.tls_key = old->tls_key;
  config.threads = old->threads;
  m.config.set(std::make_shared<const ServerConfig>(std::move(config)));
  m.reporter->reset_clients();
  m.dispatcher->wake();
  m.log("reloaded the configuration");
}

void Server::shutdown() {
  Impl& m = *impl_;
  if (m.stopping.exchange(true)) return;
  m.log("shutting down: no new requests; running runs get " +
        format_duration(m.config.get()->shutdown_grace));
  m.http->stop();
}

}  // namespace wfrun::serve
