#include "http/dashboard/dashboard.h"

#include <algorithm>
#include <chrono>

#include "base/strings.h"
#include "engine/gpu/inventory.h"
#include "engine/run_index.h"
#include "http/dashboard/assets.h"

namespace wfrun::dashboard {

namespace {

using nlohmann::json;

constexpr const char* kAppCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

/// A run id path segment: 1 to 18 digits.
std::int64_t parse_id(const std::string& s) {
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::atoll(s.c_str());
}

std::vector<std::string> segments(std::string_view path) {
  std::vector<std::string> out;
  for (const auto& s : split(path, '/'))
    if (!s.empty()) out.push_back(s);
  return out;
}

Response asset_response(const Asset& a) {
  Response r;
  r.type = a.type;
  r.body.assign(reinterpret_cast<const char*>(a.gz), a.gz_size);
  r.gzip = true;
  r.header("Cache-Control", a.immutable ? "public, max-age=31536000, immutable" : "no-store");
  r.header("X-Content-Type-Options", "nosniff");
  return r;
}

/// The dashboard's page (index.html) with the app's headers.
Response app_page(int status) {
  Response r = asset_response(index_html());
  r.status = status;
  r.header("Content-Security-Policy", kAppCsp);
  r.header("Referrer-Policy", "no-referrer");
  r.header("X-Frame-Options", "DENY");
  return r;
}

/// The run a key-holder's request is about: /runs/ID..., /api/runs/ID...
std::int64_t keyed_run(const std::vector<std::string>& seg) {
  if (seg.size() >= 2 && seg[0] == "runs") return parse_id(seg[1]);
  if (seg.size() >= 3 && seg[0] == "api" && seg[1] == "runs") return parse_id(seg[2]);
  return 0;
}

}  // namespace

Response json_response(int status, const json& body) {
  Response r;
  r.status = status;
  r.type = "application/json";
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  r.header("Cache-Control", "no-store");
  r.header("X-Content-Type-Options", "nosniff");
  return r;
}

Response error_response(int status, const std::string& message) {
  return json_response(status, {{"error", message}});
}

Result<RunQuery> run_query(const Request& req) {
  RunQuery q;
  q.status = req.param("status");
  q.workflow = req.param("workflow");
  q.repo = req.param("repo");
  q.branch = req.param("branch");
  q.trigger = req.param("trigger");
  auto number = [&](const char* name, long long lo, long long hi, long long& out) -> Status {
    if (!req.has_param(name)) return {};
    const std::string v = req.param(name);
    if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos ||
        std::atoll(v.c_str()) < lo || std::atoll(v.c_str()) > hi)
      return Error(std::string(name) + ": expected a number from " + std::to_string(lo) + " to " +
                   std::to_string(hi) + ", got '" + v + "'");
    out = std::atoll(v.c_str());
    return {};
  };
  long long limit = q.limit, before = 0, after = 0;
  if (auto s = number("limit", 1, 500, limit); !s) return s.error();
  if (auto s = number("before", 1, 999999999999999999LL, before); !s) return s.error();
  if (auto s = number("after", 1, 999999999999999999LL, after); !s) return s.error();
  if (before && after) return Error("before and after: give one of them, not both");
  q.limit = static_cast<int>(limit);
  q.before = before;
  q.after = after;
  return q;
}

Dashboard::Dashboard(Options options, RunSource& source, std::string state_dir)
    : opts_(std::move(options)), source_(source), state_dir_(std::move(state_dir)) {
  if (!opts_.log) opts_.log = [](const std::string&) {};
}

Dashboard::~Dashboard() = default;

engine::RunIndex* Dashboard::index() {
  std::lock_guard lock(mu_);
  if (!index_) {
    auto idx = engine::RunIndex::open(state_dir_);
    if (!idx) {
      opts_.log("dashboard: " + idx.error().str());
      return nullptr;
    }
    index_ = std::move(*idx);
  }
  return index_.get();
}

Dashboard::Caller Dashboard::identify(const Request& req) {
  Caller c;
  const std::string sid = cookie_value(req, kSessionCookie);
  if (!sid.empty()) {
    if (auto s = sessions_.find(sid)) {
      c.kind = Caller::kSession;
      c.csrf = s->csrf;
      return c;
    }
  }
  const std::string auth = req.header("authorization");
  if (opts_.api_token && starts_with(auth, "Bearer ")) {
    const std::string token(trim(std::string_view(auth).substr(7)));
    if (!token.empty() && opts_.api_token(token)) {
      c.kind = Caller::kToken;
      return c;
    }
  }
  if (opts_.run_key && req.method == "GET" && req.has_param("key")) {
    std::int64_t id = keyed_run(segments(req.path));
    // The run page asks who it is first: /api/session?run=ID&key=K.
    if (id == 0 && req.path == "/api/session") id = parse_id(req.param("run"));
    if (id > 0 && opts_.run_key(id, req.param("key"))) {
      c.kind = Caller::kRunKey;
      c.run_key = id;
    }
  }
  return c;
}

Response Dashboard::handle(const Request& req) {
  try {
    if (req.method == "GET" || req.method == "HEAD") {
      if (const Asset* a = find_asset(req.path); a && starts_with(req.path, "/assets/"))
        return asset_response(*a);
    }
    // DNS rebinding: a page of another site whose name now points here must not get the
    // cookie's rights or a sign-in. Bearer tokens and run keys are not sent by a browser on its
    // own, so scripts may use any name the server is reached by.
    const bool cookie = !cookie_value(req, kSessionCookie).empty();
    if ((cookie || req.has_param("token") || req.path == "/api/login") && !host_allowed(req, opts_.hosts))
      return error_response(403, "this dashboard does not answer to the host '" + request_host(req) +
                                     "' (see docs/dashboard.md, Access)");
    if (req.path == "/api/login" && req.method == "POST") return login(req);
    const Caller who = identify(req);
    // The app asks first whether it is signed in: "no" is an answer, not an error.
    if (req.path == "/api/session" && who.kind == Caller::kNobody && req.method == "GET")
      return json_response(200, {{"signed_in", false}, {"kind", source_.kind()}});
    if (starts_with(req.path, "/api/") || req.path == "/api") {
      if (who.kind == Caller::kNobody) {
        Response r = error_response(401, "unauthorized");
        r.header("WWW-Authenticate", "Bearer");
        return r;
      }
      if (req.method != "GET" && req.method != "HEAD") {
        if (!who.full()) return error_response(403, "a run link only reads; sign in to change things");
        // A cookie comes along on any request the browser makes: a change needs proof that
        // our own page sent it. A bearer token is never sent by a browser on its own.
        if (who.kind == Caller::kSession &&
            (!same_origin(req) || req.header("x-csrf-token").size() != who.csrf.size() ||
             req.header("x-csrf-token") != who.csrf))
          return error_response(403, "missing or wrong CSRF token: reload the page");
      }
      return api(req, who);
    }
    if (req.method != "GET" && req.method != "HEAD") return error_response(405, "method not allowed");
    return page(req, who);
  } catch (const std::exception& e) {
    opts_.log("dashboard: " + req.method + " " + req.path + ": internal error: " + e.what());
    return error_response(500, "internal error");
  }
}

Response Dashboard::page(const Request& req, const Caller& who) {
  // `?token=T` (the link `wfrun ui` prints): swapped once for a session cookie, then the same
  // page without the token in the address bar or the history.
  if (req.has_param("token")) {
    // A used or wrong token: the app, which shows the sign-in form.
    if (!sessions_.use_login_token(req.param("token"))) return app_page(200);
    Sessions::Session s = sessions_.create();
    if (opts_.on_signed_in) opts_.on_signed_in();
    Response r;
    r.status = 303;
    r.type = "text/plain; charset=utf-8";
    r.body = "signed in\n";
    // Back to the page that was asked for; a path with anything unusual in it goes to /.
    const bool plain = !req.path.empty() && req.path[0] == '/' &&
                       req.path.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789/_.-") == std::string::npos;
    r.header("Location", plain ? req.path : "/");
    r.header("Set-Cookie", session_cookie(s.id, req.tls));
    r.header("Cache-Control", "no-store");
    r.header("Referrer-Policy", "no-referrer");
    return r;
  }
  // The pages carry no data (the API does): anyone may load them; without a session they show
  // the sign-in form.
  return app_page(200);
}

Response Dashboard::login(const Request& req) {
  if (!same_origin(req)) return error_response(403, "sign in from the dashboard's own page");
  json b = json::parse(req.body, nullptr, false);
  if (!b.is_object() || !b.contains("token") || !b["token"].is_string())
    return error_response(400, "expected {\"token\": \"...\"}");
  const std::string token = b["token"].get<std::string>();
  const bool once = sessions_.use_login_token(token);
  if (!once && !(opts_.api_token && opts_.api_token(token)))
    return error_response(401, "that token is not valid (a link's token works once)");
  if (once && opts_.on_signed_in) opts_.on_signed_in();
  Sessions::Session s = sessions_.create();
  Response r = json_response(200, {{"ok", true}});
  r.header("Set-Cookie", session_cookie(s.id, req.tls));
  return r;
}

Response Dashboard::api(const Request& req, const Caller& who) {
  const std::vector<std::string> seg = segments(req.path);  // "api", ...
  const bool get = req.method == "GET" || req.method == "HEAD";
  if (seg.size() == 2 && seg[1] == "session" && get) {
    json s = {{"signed_in", true},
              {"kind", source_.kind()},
              {"access", who.full() ? "full" : "run"},
              {"workflows", static_cast<bool>(opts_.workflows)},
              {"version", WFRUN_VERSION}};
    if (who.kind == Caller::kSession) s["csrf"] = who.csrf;
    if (who.kind == Caller::kRunKey) s["run"] = who.run_key;
    return json_response(200, s);
  }
  if (seg.size() >= 3 && seg[1] == "runs" && seg[2] != "facets") {
    const std::int64_t id = parse_id(seg[2]);
    if (id == 0) return error_response(404, "no run '" + seg[2] + "'");
    if (who.kind == Caller::kRunKey && id != who.run_key) return error_response(401, "unauthorized");
    return run_api(req, who, id, std::vector<std::string>(seg.begin() + 3, seg.end()));
  }
  // Everything below is about more than one run: not for a run's key.
  if (!who.full()) return error_response(401, "unauthorized");
  if (seg.size() == 2 && seg[1] == "runs" && get) {
    auto q = run_query(req);
    if (!q) return error_response(400, q.error().str());
    auto page = source_.list(*q);
    if (!page) return error_response(500, page.error().str());
    return json_response(200, *page);
  }
  if (seg.size() == 2 && seg[1] == "runs" && req.method == "POST") {
    if (!opts_.start_run) return error_response(405, "this dashboard starts runs with Re-run only");
    json b = json::parse(req.body, nullptr, false);
    Reply r = opts_.start_run(b);
    return json_response(r.status, r.body);
  }
  if (seg.size() == 3 && seg[1] == "runs" && seg[2] == "facets" && get) {
    auto f = source_.facets();
    if (!f) return error_response(500, f.error().str());
    return json_response(200, *f);
  }
  if (seg.size() == 2 && seg[1] == "events" && get) return list_events(req);
  if (seg.size() == 2 && seg[1] == "gpus" && get) return gpus();
  if (seg.size() == 2 && seg[1] == "workflows" && get) {
    if (!opts_.workflows) return error_response(404, "no Workflows page here: it is wfrun serve's");
    auto w = opts_.workflows();
    if (!w) return error_response(502, w.error().str());
    return json_response(200, *w);
  }
  if (seg.size() == 2 && seg[1] == "logout" && req.method == "POST") {
    Response r = json_response(200, {{"ok", true}});
    r.header("Set-Cookie", std::string(kSessionCookie) + "=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict");
    return r;
  }
  return error_response(404, "not found");
}

Response Dashboard::run_api(const Request& req, const Caller& who, std::int64_t id,
                            const std::vector<std::string>& rest) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  if (rest.empty() && get) {
    auto r = source_.get(id);
    if (!r) return error_response(500, r.error().str());
    if (!*r) return error_response(404, "no run " + std::to_string(id));
    json j = std::move(**r);
    if (!who.full()) {
      j["can_cancel"] = false;
      j["can_rerun"] = false;
    }
    return json_response(200, j);
  }
  if (rest.size() == 1 && rest[0] == "cancel" && req.method == "POST") {
    Reply r = source_.cancel(id);
    return json_response(r.status, r.body);
  }
  if (rest.size() == 1 && rest[0] == "rerun" && req.method == "POST") {
    Reply r = source_.rerun(id);
    return json_response(r.status, r.body);
  }
  if (rest.size() == 1 && rest[0] == "events" && get) return run_events(req, id);
  if (rest.size() >= 2 && rest[0] == "jobs" && get)
    return job_api(req, id, rest[1], std::vector<std::string>(rest.begin() + 2, rest.end()));
  return error_response(404, "not found");
}

Response Dashboard::gpus() {
  json out;
  {
    std::lock_guard lock(mu_);
    const double now = now_seconds();
    // Discovery asks NVML or nvidia-smi: at most once every 2 s, whatever the number of pages.
    if (gpu_cache_.is_null() || now - gpu_cache_at_ > 2) {
      gpu::Discovery d = gpu::discover();
      gpu_cache_ = gpu::discovery_json(d);
      gpu_cache_at_ = now;
    }
    out = gpu_cache_;
  }
  // Which job holds each GPU: the running jobs of every run in the store, whichever process
  // runs them.
  std::vector<engine::GpuHolder> holders;
  if (engine::RunIndex* idx = index()) {
    auto h = idx->gpu_holders();
    if (h) holders = std::move(*h);
    else opts_.log("dashboard: " + h.error().str());
  }
  const bool serve = source_.kind() == "serve";
  if (out.contains("gpus") && out["gpus"].is_array()) {
    for (auto& g : out["gpus"]) {
      g["holder"] = nullptr;
      if (!g.contains("index") || !g["index"].is_number_integer()) continue;
      const int index = g["index"].get<int>();
      for (const auto& h : holders) {
        if (std::find(h.gpus.begin(), h.gpus.end(), index) == h.gpus.end()) continue;
        const std::int64_t page = serve ? h.parent : h.run_id;
        g["holder"] = {{"run_id", h.run_id},
                       {"job", h.job},
                       {"workflow", h.workflow},
                       {"started_at", h.started},
                       {"href", page > 0 ? json("/runs/" + std::to_string(page) + "?job=" + h.job)
                                         : json(nullptr)}};
      }
    }
  }
  return json_response(200, out);
}

}  // namespace wfrun::dashboard
