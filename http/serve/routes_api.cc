#include "base/strings.h"
#include "http/serve/run_page.h"
#include "http/serve/server_context.h"

namespace wfrun::serve {

namespace {

using nlohmann::json;

void list_runs(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  RunFilter f;
  f.status = req.get_param_value("status");
  f.repo = req.get_param_value("repo");
  if (req.has_param("limit")) f.limit = std::atoi(req.get_param_value("limit").c_str());
  if (req.has_param("before")) f.before = std::atoll(req.get_param_value("before").c_str());
  if (f.limit < 1 || f.limit > 500) return reply(res, 400, {{"error", "limit: expected 1 to 500"}});
  auto rows = ctx.queue->list(f);
  if (!rows) return reply(res, 500, {{"error", rows.error().str()}});
  ConfigPtr cfg = ctx.config.get();
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

void get_run(ServerContext& ctx, std::int64_t id, httplib::Response& res) {
  auto row = ctx.queue->get(id);
  if (!row) return reply(res, 500, {{"error", row.error().str()}});
  if (!*row) return reply(res, 404, {{"error", "no run " + std::to_string(id)}});
  json j = run_json(**row, *ctx.config.get());
  json inputs = json::object();
  for (const auto& [k, v] : (*row)->request.inputs) inputs[k] = v;
  j["inputs"] = inputs;
  j["workflows"] = workflows_of(ctx, id);
  j["log"] = "/api/runs/" + std::to_string(id) + "/log";
  json reports = json::array();
  if (auto rs = ctx.queue->reports_of(id)) {
    for (const Report& r : *rs) {
      json o = {{"state", r.state},       {"context", r.context},   {"description", r.description},
                {"outcome", r.outcome},   {"attempts", r.attempts},
                {"target_url", with_run_key(*ctx.config.get(), id, r.target_url)}};
      if (!r.last_error.empty()) o["last_error"] = r.last_error;
      if (r.outcome == "pending" && r.next_try > 0) o["next_try"] = r.next_try;
      reports.push_back(std::move(o));
    }
  }
  j["reports"] = std::move(reports);
  reply(res, 200, j);
}

void post_run(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  json b = json::parse(req.body, nullptr, false);
  if (!b.is_object()) return reply(res, 400, {{"error", "expected a JSON object: {\"repo\": \"OWNER/NAME\", \"ref\": \"main\", \"workflow\": \"PATH\", \"inputs\": {}}"}});
  auto field = [&](const char* k) -> std::string {
    return b.contains(k) && b[k].is_string() ? b[k].get<std::string>() : "";
  };
  for (const char* k : {"repo", "ref", "workflow", "sha"})
    if (b.contains(k) && !b[k].is_string()) return reply(res, 400, {{"error", std::string(k) + ": expected a string"}});
  ConfigPtr cfg = ctx.config.get();
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
  auto ids = ctx.queue->enqueue("", "manual", {r}, {}, &dup);
  if (!ids) return reply(res, 500, {{"error", ids.error().str()}});
  ctx.dispatcher->wake();
  reply(res, 202, {{"runs", *ids}});
}

void cancel(ServerContext& ctx, std::int64_t id, httplib::Response& res) {
  auto st = ctx.queue->request_cancel(id);
  if (!st) {
    auto row = ctx.queue->get(id);
    if (row && !*row) return reply(res, 404, {{"error", "no run " + std::to_string(id)}});
    return reply(res, 409, {{"error", st.error().str()}});
  }
  ctx.dispatcher->wake();
  reply(res, 202, {{"id", id}, {"status", *st}});
}

}  // namespace

void add_health_routes(ServerContext& ctx, httplib::Server& http) {
  http.Get("/healthz", [&ctx](const httplib::Request&, httplib::Response& res) {
    reply(res, 200, {{"status", ctx.stopping ? "stopping" : "ok"}, {"running", ctx.dispatcher->running()}});
  });
  http.Get("/metrics", [&ctx](const httplib::Request&, httplib::Response& res) {
    auto counts = ctx.queue->count_by_status();
    if (!counts) return reply(res, 500, {{"error", counts.error().str()}});
    res.set_content(ctx.metrics.render(*counts), "text/plain; version=0.0.4");
  });
}

void add_api_routes(ServerContext& ctx, httplib::Server& http) {
  http.Get("/api/runs", [&ctx](const httplib::Request& req, httplib::Response& res) { list_runs(ctx, req, res); });
  http.Post("/api/runs", [&ctx](const httplib::Request& req, httplib::Response& res) { post_run(ctx, req, res); });
  http.Get(R"(/api/runs/(\d{1,18}))", [&ctx](const httplib::Request& req, httplib::Response& res) {
    get_run(ctx, std::atoll(req.matches[1].str().c_str()), res);
  });
  http.Post(R"(/api/runs/(\d{1,18})/cancel)", [&ctx](const httplib::Request& req, httplib::Response& res) {
    cancel(ctx, std::atoll(req.matches[1].str().c_str()), res);
  });
  http.Get(R"(/api/runs/(\d{1,18})/log)", [&ctx](const httplib::Request& req, httplib::Response& res) {
    log_stream(ctx, std::atoll(req.matches[1].str().c_str()), "", req, res, true);
  });
  http.Get(R"(/api/runs/(\d{1,18})/jobs/([^/]+)/log)", [&ctx](const httplib::Request& req, httplib::Response& res) {
    log_stream(ctx, std::atoll(req.matches[1].str().c_str()), req.matches[2].str(), req, res, true);
  });
}

}  // namespace wfrun::serve
