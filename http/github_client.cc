#include "http/github_client.h"

#include <algorithm>
#include <cctype>
#include <thread>

#include "base/strings.h"
#include "http/github_client_state.h"
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
    for (const auto& h : ro.headers) req.headers.push_back(h);
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
    if ((s == 404 && ro.allow_not_found) || ro.any_status)
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
