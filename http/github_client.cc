#include "http/github_client.h"

#include <algorithm>
#include <cctype>
#include <random>
#include <thread>

#include "base/log.h"
#include "base/strings.h"
#include "http/github_app.h"
#include "http/github_url.h"

#ifndef WFRUN_VERSION
#define WFRUN_VERSION "0.0.0"
#endif

namespace wfrun::http {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string find_header(const Headers& h, std::string_view name) {
  for (const auto& [k, v] : h) {
    if (iequals(k, name)) return v;
  }
  return "";
}

std::string short_duration(milliseconds ms) {
  return format_duration(static_cast<double>(ms.count()) / 1000.0);
}

// Installation tokens are renewed this long before GitHub says they expire.
constexpr auto kTokenRenewMargin = std::chrono::minutes(5);

}  // namespace

std::string HttpResponse::header(std::string_view name) const { return find_header(headers, name); }
std::string ApiResponse::header(std::string_view name) const { return find_header(headers, name); }

Result<nlohmann::json> ApiResponse::json() const {
  if (trim(body).empty()) return nlohmann::json();
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    return Error(std::string("GitHub sent invalid JSON: ") + e.what());
  }
}

std::string default_user_agent() {
  return std::string("wfrun/") + WFRUN_VERSION + " (+https://github.com/wfrun/wfrun)";
}

Result<Repo> Repo::parse(const std::string& full_name) {
  const auto parts = split(full_name, '/');
  if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
    return Error("'" + full_name + "' is not a GitHub repository (expected OWNER/NAME)");
  }
  return Repo{parts[0], parts[1]};
}

std::string Repo::path() const {
  return "/repos/" + encode_segment(owner) + "/" + encode_segment(name);
}

std::string github_error_message(const std::string& method, const std::string& url,
                                 const HttpResponse& r) {
  std::string out = method + " " + redact_url(url) + ": " + std::to_string(r.status);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(r.body);
  } catch (const nlohmann::json::exception&) {
  }
  if (j.is_object() && j.contains("message") && j["message"].is_string()) {
    out += " " + j["message"].get<std::string>();
    if (j.contains("errors") && j["errors"].is_array()) {
      std::vector<std::string> details;
      for (const auto& e : j["errors"]) {
        if (e.is_string()) {
          details.push_back(e.get<std::string>());
        } else if (e.is_object()) {
          if (e.contains("message") && e["message"].is_string()) {
            details.push_back(e["message"].get<std::string>());
          } else {
            std::string d = e.value("resource", "");
            const std::string field = e.value("field", "");
            if (!field.empty()) d += (d.empty() ? "" : ".") + field;
            const std::string code = e.value("code", "");
            if (!code.empty()) d += (d.empty() ? "" : " ") + code;
            if (!d.empty()) details.push_back(d);
          }
        }
      }
      if (!details.empty()) out += " (" + join(details, "; ") + ")";
    }
    if (j.contains("documentation_url") && j["documentation_url"].is_string()) {
      out += "; see " + j["documentation_url"].get<std::string>();
    }
  } else {
    std::string body(trim(r.body));
    if (body.size() > 200) body = body.substr(0, 200) + "...";
    if (!body.empty()) out += " " + body;
  }
  if (r.status == 401) out += " (check the token or the App's key, and that it has not expired)";
  return out;
}

struct GithubClient::State {
  std::shared_ptr<Transport> transport;
  std::mt19937_64 rng{std::random_device{}()};
  std::string installation_token;
  std::chrono::system_clock::time_point installation_expires{};
  std::int64_t installation_id = 0;
  std::vector<std::string> origins;  // where the client may send its credentials
  std::string base;                  // base URL without a trailing slash
};

GithubClient::GithubClient(ClientOptions o)
    : opts_(std::move(o)), state_(std::make_unique<State>()) {
  if (!opts_.now) opts_.now = [] { return std::chrono::system_clock::now(); };
  if (!opts_.sleep) opts_.sleep = [](milliseconds d) { std::this_thread::sleep_for(d); };
  if (opts_.user_agent.empty()) opts_.user_agent = default_user_agent();
  state_->transport =
      opts_.transport
          ? opts_.transport
          : std::shared_ptr<Transport>(make_httplib_transport(opts_.timeouts, opts_.ca_file));
  state_->base = opts_.base_url;
  while (!state_->base.empty() && state_->base.back() == '/') state_->base.pop_back();
  if (auto u = parse_url(state_->base)) {
    state_->origins.push_back(u->origin());
    // github.com serves uploads from another host; Enterprise from its own (/api/uploads).
    if (u->host == "api.github.com") state_->origins.push_back("https://uploads.github.com");
  }
  if (opts_.auth.app) state_->installation_id = opts_.auth.app->installation_id;
}

GithubClient::~GithubClient() = default;
GithubClient::GithubClient(GithubClient&&) noexcept = default;
GithubClient& GithubClient::operator=(GithubClient&&) noexcept = default;

Result<std::string> GithubClient::resolve(const std::string& path) const {
  if (starts_with(path, "http://") || starts_with(path, "https://")) {
    auto u = parse_url(path);
    if (!u) return Error("invalid URL: " + redact_url(path));
    // Never hand our credentials to another host, whatever a Link or Location says.
    if (std::find(state_->origins.begin(), state_->origins.end(), u->origin()) ==
        state_->origins.end()) {
      return Error("refusing to send GitHub credentials to " + u->origin() + " (not " +
                   (state_->origins.empty() ? opts_.base_url : state_->origins[0]) + ")");
    }
    return path;
  }
  if (!parse_url(state_->base))
    return Error("invalid GitHub API URL: " + redact_url(opts_.base_url));
  return state_->base + (starts_with(path, "/") ? "" : "/") + path;
}

Result<std::string> GithubClient::authorization() {
  if (opts_.auth.app) {
    auto tok = app_installation_token();
    if (!tok) return tok.error();
    return "Bearer " + *tok;
  }
  if (!opts_.auth.token.empty()) return "Bearer " + opts_.auth.token;
  return std::string();
}

Result<std::string> GithubClient::app_installation_token() {
  const auto now = opts_.now();
  if (!state_->installation_token.empty() &&
      now + kTokenRenewMargin < state_->installation_expires) {
    return state_->installation_token;
  }
  const AppCredentials& app = *opts_.auth.app;
  auto jwt = make_app_jwt(app.app_id, app.private_key_pem, now);
  if (!jwt) return jwt.error();
  RequestOptions ro;
  ro.authorization = "Bearer " + *jwt;
  if (state_->installation_id == 0) {
    auto repo = Repo::parse(app.repo);
    if (!repo) {
      return Error("the GitHub App needs an installation id or a repository to find it: " +
                   repo.error().message());
    }
    auto r = send("GET", state_->base + repo->path() + "/installation", "", ro, "");
    if (!r) {
      return r.error().context("finding the GitHub App's installation on " + repo->full_name() +
                               " (is the App installed there?)");
    }
    auto j = r->json();
    if (!j) return j.error();
    if (!j->contains("id") || !(*j)["id"].is_number_integer()) {
      return Error("GitHub's installation answer has no id");
    }
    state_->installation_id = (*j)["id"].get<std::int64_t>();
  }
  auto r = send("POST",
                state_->base + "/app/installations/" + std::to_string(state_->installation_id) +
                    "/access_tokens",
                "", ro, "");
  if (!r) return r.error().context("getting a GitHub App installation token");
  auto j = r->json();
  if (!j) return j.error();
  if (!j->is_object() || !j->contains("token") || !(*j)["token"].is_string()) {
    return Error("GitHub's installation token answer has no token");
  }
  state_->installation_token = (*j)["token"].get<std::string>();
  auto exp = parse_github_time(j->value("expires_at", ""));
  // Without a readable expiry, assume GitHub's documented hour.
  state_->installation_expires = exp ? *exp : now + std::chrono::hours(1);
  return state_->installation_token;
}

Result<HttpResponse> GithubClient::send_with_retries(HttpRequest req,
                                                     const std::string& followed_from) {
  const RetryPolicy& p = opts_.retry;
  int attempt = 0;
  int rate_waits = 0;
  while (true) {
    ++attempt;
    if (opts_.on_request)
      opts_.on_request(SentRequest{req.method, req.url, req.body, followed_from});
    const auto t0 = std::chrono::steady_clock::now();
    auto res = state_->transport->send(req);
    if (debug_enabled()) {
      const auto ms =
          std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
      debug_log("github", req.method + " " + redact_url(req.url) + " -> " +
                              (res ? std::to_string(res->status) : res.error().message()) + " (" +
                              std::to_string(ms.count()) + " ms)");
    }
    auto backoff = [&]() {
      auto d = p.base_delay * (1LL << std::min(attempt - 1, 20));
      if (d > p.max_delay) d = p.max_delay;
      // Full jitter over the upper half: clients that failed together do not retry together.
      std::uniform_int_distribution<long long> dist(d.count() / 2, d.count());
      return milliseconds(dist(state_->rng));
    };
    if (!res) {
      if (attempt >= p.max_attempts) {
        return Error(res.error().message() + " (after " + std::to_string(attempt) +
                     (attempt == 1 ? " attempt)" : " attempts)"));
      }
      opts_.sleep(backoff());
      continue;
    }
    const int status = res->status;
    if (status >= 500) {
      if (attempt >= p.max_attempts) return res;
      opts_.sleep(backoff());
      continue;
    }
    if (status == 403 || status == 429) {
      const std::string retry_after = res->header("retry-after");
      const std::string remaining = res->header("x-ratelimit-remaining");
      std::optional<milliseconds> wait;
      std::string resets;
      if (!retry_after.empty() && std::all_of(retry_after.begin(), retry_after.end(), ::isdigit)) {
        wait = seconds(std::stoll(retry_after));
      } else if (remaining == "0") {
        const std::string reset = res->header("x-ratelimit-reset");
        const auto now = opts_.now();
        if (!reset.empty() && std::all_of(reset.begin(), reset.end(), ::isdigit)) {
          const auto at = std::chrono::system_clock::time_point(seconds(std::stoll(reset)));
          resets = format_github_time(at);
          // One second more: the reset time is rounded down.
          wait = std::max(milliseconds(0),
                          std::chrono::duration_cast<milliseconds>(at - now) + seconds(1));
        } else {
          wait = seconds(60);
        }
      } else if (status == 429) {
        wait = seconds(60);  // GitHub: wait at least a minute when it says nothing else
      }
      if (wait) {
        if (*wait <= p.max_rate_limit_wait && rate_waits < p.max_rate_limit_waits) {
          ++rate_waits;
          debug_log("github", "rate limited; waiting " + short_duration(*wait));
          opts_.sleep(*wait);
          continue;
        }
        std::string msg =
            github_error_message(req.method, req.url, *res) + ": GitHub's rate limit is exhausted";
        if (!resets.empty()) {
          msg += "; it resets at " + resets + " (in " + short_duration(*wait) + ")";
        } else {
          msg += "; GitHub asked to wait " + short_duration(*wait);
        }
        if (*wait > p.max_rate_limit_wait) {
          msg += ", longer than the " + short_duration(p.max_rate_limit_wait) + " wfrun waits";
        } else {
          msg += " (gave up after " + std::to_string(rate_waits) + " waits)";
        }
        return Error(msg);
      }
    }
    return res;
  }
}

Result<ApiResponse> GithubClient::send(const std::string& method, const std::string& url_in,
                                       const std::string& body, const RequestOptions& ro,
                                       const std::string& followed_from_in) {
  std::string url = url_in;
  std::string m = method;
  std::string b = body;
  std::string followed_from = followed_from_in;
  for (int hops = 0;; ++hops) {
    HttpRequest req;
    req.method = m;
    req.url = url;
    req.body = b;
    if (b.empty()) req.body_file = ro.body_file;
    req.headers.emplace_back("Accept",
                             ro.accept.empty() ? "application/vnd.github+json" : ro.accept);
    if (!ro.no_auth) {
      std::string auth = ro.authorization;
      if (auth.empty()) {
        auto a = authorization();
        if (!a) return a.error();
        auth = *a;
      }
      if (!auth.empty()) req.headers.emplace_back("Authorization", auth);
    }
    req.headers.emplace_back("User-Agent", opts_.user_agent);
    req.headers.emplace_back("X-GitHub-Api-Version", opts_.api_version);
    if (!req.body.empty() || !req.body_file.empty()) {
      req.headers.emplace_back("Content-Type",
                               ro.content_type.empty() ? "application/json" : ro.content_type);
    }
    auto res = send_with_retries(std::move(req), followed_from);
    if (!res) return res.error();
    const int s = res->status;
    if ((s == 301 || s == 302 || s == 303 || s == 307 || s == 308) &&
        !res->header("location").empty()) {
      if (hops >= 5) return Error(m + " " + redact_url(url_in) + ": too many redirects");
      auto next = resolve(res->header("location"));
      if (!next) return next.error().context(m + " " + redact_url(url) + " redirected");
      url = *next;
      followed_from = "location";
      if (s == 303) {
        m = "GET";
        b.clear();
      }
      continue;
    }
    if (s == 404 && ro.allow_not_found)
      return ApiResponse{s, std::move(res->headers), std::move(res->body)};
    if (s < 200 || s > 299) return Error(github_error_message(m, url, *res));
    return ApiResponse{s, std::move(res->headers), std::move(res->body)};
  }
}

Result<ApiResponse> GithubClient::request(const std::string& method, const std::string& path,
                                          const std::string& body, const RequestOptions& ro) {
  auto url = resolve(path);
  if (!url) return url.error();
  return send(method, *url, body, ro, "");
}

namespace {

Result<nlohmann::json> json_of(Result<ApiResponse> r) {
  if (!r) return r.error();
  return r->json();
}

}  // namespace

Result<nlohmann::json> GithubClient::get(const std::string& path) {
  return json_of(request("GET", path));
}
Result<nlohmann::json> GithubClient::post(const std::string& path, const nlohmann::json& body) {
  return json_of(request("POST", path, body.dump()));
}
Result<nlohmann::json> GithubClient::patch(const std::string& path, const nlohmann::json& body) {
  return json_of(request("PATCH", path, body.dump()));
}
Result<nlohmann::json> GithubClient::put(const std::string& path, const nlohmann::json& body) {
  return json_of(request("PUT", path, body.dump()));
}
Result<void> GithubClient::del(const std::string& path) {
  auto r = request("DELETE", path);
  if (!r) return r.error();
  return {};
}

Result<std::vector<nlohmann::json>> GithubClient::get_all(const std::string& path,
                                                          size_t max_items) {
  std::vector<nlohmann::json> out;
  auto url = resolve(path);
  if (!url) return url.error();
  std::string followed;
  for (int page = 0; page < 1000; ++page) {
    auto r = send("GET", *url, "", {}, followed);
    if (!r) return r.error();
    auto j = r->json();
    if (!j) return j.error();
    const nlohmann::json* items = &*j;
    if (j->is_object()) {
      // Some lists come wrapped: {"total_count": 2, "check_runs": [...]}.
      items = nullptr;
      for (const auto& [k, v] : j->items()) {
        if (v.is_array()) {
          items = &v;
          break;
        }
      }
    }
    if (!items || !items->is_array()) {
      return Error("GET " + redact_url(*url) + ": expected a list from GitHub");
    }
    for (const auto& item : *items) {
      out.push_back(item);
      if (max_items && out.size() >= max_items) return out;
    }
    auto next = link_rel(r->header("link"), "next");
    if (!next) return out;
    url = resolve(*next);
    if (!url) return url.error();
    followed = "link";
  }
  return Error("GET " + redact_url(path) + ": more than 1000 pages");
}

}  // namespace wfrun::http
