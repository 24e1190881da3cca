#include "http/github_app.h"
#include "http/github_client.h"
#include "http/github_client_state.h"

namespace wfrun::http {

namespace {

// Installation tokens are renewed this long before GitHub says they expire.
constexpr auto kTokenRenewMargin = std::chrono::minutes(5);

}  // namespace

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

}  // namespace wfrun::http
