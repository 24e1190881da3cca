#include "http/serve/webhook.h"

#include <cstring>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "http/serve/json_text.h"
#include "http/serve/payload_fields.h"
#include "http/serve/signature.h"

namespace wfrun::serve {

namespace {

using nlohmann::json;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

WebhookDecision answer(int status, const std::string& result, json body) {
  WebhookDecision d;
  d.status = status;
  d.result = result;
  d.body = json_text(body);
  return d;
}

WebhookDecision ignored(const std::string& why) { return answer(202, "ignored", {{"ignored", why}}); }

bool zero_sha(const std::string& s) {
  return !s.empty() && s.find_first_not_of('0') == std::string::npos;
}

/// A header value wfrun records or matches on: printable ASCII, 1 to `max` characters.
bool printable_ascii(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (unsigned char c : s)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

/// A ref or branch name that git could hold (no control bytes, NUL included, no space, none of
/// git's reserved ~^:?*[\ and no ".."): what a filter matches and a run checks out.
bool sane_ref(const std::string& s) {
  if (s.empty() || s.size() > 1024 || s.find("..") != std::string::npos) return false;
  for (unsigned char c : s)
    if (c < 0x21 || c == 0x7f || std::strchr("~^:?*[\\", c)) return false;
  return true;
}

bool full_sha(const std::string& s) {
  return s.size() == 40 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

std::string form_value(const std::string& body, const std::string& name) {
  for (const auto& part : split(body, '&')) {
    auto eq = part.find('=');
    if (eq == std::string::npos) continue;
    if (url_decode(std::string_view(part).substr(0, eq)) == name)
      return url_decode(std::string_view(part).substr(eq + 1));
  }
  return "";
}

bool skip_requested(const std::string& message) {
  return message.find("[skip ci]") != std::string::npos ||
         message.find("[wfrun skip]") != std::string::npos;
}

WebhookDecision decide(const ServerConfig& config, const Delivery& d) {
  // Nothing is parsed before the signature is checked.
  if (config.webhook_secret.empty()) return answer(403, "no_webhooks", {{"error", kNoWebhooks}});
  if (d.signature.empty())
    return answer(401, "bad_signature", {{"error", "missing X-Hub-Signature-256"}});
  if (!verify_signature(config.webhook_secret, d.body, d.signature))
    return answer(401, "bad_signature", {{"error", "signature mismatch"}});
  if (d.event.empty()) return answer(400, "bad_request", {{"error", "missing X-GitHub-Event"}});
  // Both are recorded and matched on: refused before anything else happens (GitHub sends an
  // event name and a GUID).
  if (!printable_ascii(d.event, 64))
    return answer(400, "bad_request",
                  {{"error", "X-GitHub-Event: expected an event name (printable ASCII, at most 64 characters)"}});
  if (!d.id.empty() && !printable_ascii(d.id, 128))
    return answer(400, "bad_request",
                  {{"error", "X-GitHub-Delivery: expected a GUID (printable ASCII, at most 128 characters)"}});

  std::string text = d.body;
  std::string ct = d.content_type.substr(0, d.content_type.find(';'));
  if (trim(ct) == "application/x-www-form-urlencoded") {
    text = form_value(d.body, "payload");
    if (text.empty())
      return answer(400, "bad_request", {{"error", "form-encoded delivery without a payload field"}});
  }
  return decide_payload(config, d.event, d.id, std::move(text));
}

WebhookDecision decide_payload(const ServerConfig& config, const std::string& event,
                               const std::string& id, std::string text) {
  const Delivery d{event, id, "", "", ""};
  auto fields = PayloadFields::parse(text);
  if (!fields) return answer(400, "bad_request", {{"error", "the payload is not a JSON object"}});
  const PayloadFields& p = *fields;

  if (d.event == "ping") return answer(200, "ping", {{"pong", true}, {"zen", p.str("/zen")}});

  const std::string repo = p.str("/repository/full_name");
  if (d.event != "push" && d.event != "pull_request")
    return ignored("event '" + d.event + "' starts no runs");
  if (repo.empty()) return ignored("the payload names no repository");
  const RepoConfig* rc = config.repo(repo);
  if (!rc) {
    WebhookDecision w = answer(403, "forbidden", {{"error", "repository " + repo + " is not configured"}});
    return w;
  }

  RunRequest run;
  run.delivery = d.id;
  run.event = d.event;
  run.repo = rc->full_name;
  run.clone_url = rc->clone_url.empty() ? p.str("/repository/clone_url") : rc->clone_url;
  if (run.clone_url.empty()) run.clone_url = "https://github.com/" + repo + ".git";

  if (d.event == "push") {
    const std::string ref = p.str("/ref");
    const std::string after = p.str("/after");
    const json* deleted = p.get("/deleted");
    if ((deleted && *deleted == true) || zero_sha(after))
      return ignored("the push deleted " + ref);
    if (!starts_with(ref, "refs/heads/") && !starts_with(ref, "refs/tags/"))
      return ignored("the push is to " + ref + ", not a branch or tag");
    if (skip_requested(p.str("/head_commit/message")))
      return ignored("the head commit's message asks to skip ([skip ci] or [wfrun skip])");
    if (!sane_ref(ref))
      return answer(400, "bad_request", {{"error", "the payload's ref is not a valid git ref name"}});
    run.sha = after.empty() ? p.str("/head_commit/id") : after;
    run.ref = ref;
  } else {
    const std::string action = p.str("/action");
    if (action != "opened" && action != "synchronize" && action != "reopened")
      return ignored("pull_request action '" + action + "' starts no runs");
    const std::string head_repo = p.str("/pull_request/head/repo/full_name");
    const bool fork = head_repo.empty() || head_repo != p.str("/pull_request/base/repo/full_name");
    if (fork && !rc->allow_forks.value_or(config.allow_forks))
      return ignored("pull requests from forks are not allowed (allow-forks: false)");
    run.sha = p.str("/pull_request/head/sha");
    const json num = p.get("/number") ? *p.get("/number") : json();
    run.ref = num.is_number_integer() ? "refs/pull/" + std::to_string(num.get<std::int64_t>()) + "/head"
                                      : "refs/heads/" + p.str("/pull_request/head/ref");
    run.base_ref = "refs/heads/" + p.str("/pull_request/base/ref");
    if (!sane_ref(run.ref) || !sane_ref(run.base_ref))
      return answer(400, "bad_request",
                    {{"error", "the pull request's head or base ref is not a valid git ref name"}});
  }
  if (!full_sha(run.sha)) return answer(400, "bad_request", {{"error", "the payload has no commit SHA"}});
  run.payload = std::move(text);

  WebhookDecision w;
  w.status = 202;
  w.result = "queued";
  Report pending;
  if (!rc->token.empty() || rc->app) {
    pending.repo = rc->full_name;
    pending.sha = run.sha;
    pending.state = "pending";
    pending.description = "queued";
    pending.context = config.status_context;
    pending.target_url = config.base_url() + "/runs/";  // the queue appends the run id
  }
  w.runs.push_back(std::move(run));
  w.reports.push_back(std::move(pending));
  return w;
}

}  // namespace wfrun::serve
