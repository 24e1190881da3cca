#include "http/serve/webhook.h"

#include <nlohmann/json.hpp>

#include "base/strings.h"
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
  d.body = body.dump();
  return d;
}

WebhookDecision ignored(const std::string& why) { return answer(202, "ignored", {{"ignored", why}}); }

std::string str(const json& j, const json::json_pointer& p) {
  if (!j.contains(p)) return "";
  const json& v = j.at(p);
  return v.is_string() ? v.get<std::string>() : "";
}

bool zero_sha(const std::string& s) {
  return !s.empty() && s.find_first_not_of('0') == std::string::npos;
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
  if (d.signature.empty())
    return answer(401, "bad_signature", {{"error", "missing X-Hub-Signature-256"}});
  if (!verify_signature(config.webhook_secret, d.body, d.signature))
    return answer(401, "bad_signature", {{"error", "signature mismatch"}});
  if (d.event.empty()) return answer(400, "bad_request", {{"error", "missing X-GitHub-Event"}});

  std::string text = d.body;
  std::string ct = d.content_type.substr(0, d.content_type.find(';'));
  if (trim(ct) == "application/x-www-form-urlencoded") {
    text = form_value(d.body, "payload");
    if (text.empty())
      return answer(400, "bad_request", {{"error", "form-encoded delivery without a payload field"}});
  }
  json p = json::parse(text, nullptr, false);
  if (p.is_discarded() || !p.is_object())
    return answer(400, "bad_request", {{"error", "the payload is not a JSON object"}});

  if (d.event == "ping") return answer(200, "ping", {{"pong", true}, {"zen", str(p, "/zen"_json_pointer)}});

  const std::string repo = str(p, "/repository/full_name"_json_pointer);
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
  run.clone_url = rc->clone_url.empty() ? str(p, "/repository/clone_url"_json_pointer) : rc->clone_url;
  if (run.clone_url.empty()) run.clone_url = "https://github.com/" + repo + ".git";

  if (d.event == "push") {
    const std::string ref = str(p, "/ref"_json_pointer);
    const std::string after = str(p, "/after"_json_pointer);
    if ((p.contains("deleted") && p["deleted"] == true) || zero_sha(after))
      return ignored("the push deleted " + ref);
    if (!starts_with(ref, "refs/heads/") && !starts_with(ref, "refs/tags/"))
      return ignored("the push is to " + ref + ", not a branch or tag");
    if (skip_requested(str(p, "/head_commit/message"_json_pointer)))
      return ignored("the head commit's message asks to skip ([skip ci] or [wfrun skip])");
    run.sha = after.empty() ? str(p, "/head_commit/id"_json_pointer) : after;
    run.ref = ref;
  } else {
    const std::string action = str(p, "/action"_json_pointer);
    if (action != "opened" && action != "synchronize" && action != "reopened")
      return ignored("pull_request action '" + action + "' starts no runs");
    const std::string head_repo = str(p, "/pull_request/head/repo/full_name"_json_pointer);
    const bool fork = head_repo.empty() || head_repo != str(p, "/pull_request/base/repo/full_name"_json_pointer);
    if (fork && !rc->allow_forks.value_or(config.allow_forks))
      return ignored("pull requests from forks are not allowed (allow-forks: false)");
    run.sha = str(p, "/pull_request/head/sha"_json_pointer);
    const json& num = p.contains("number") ? p["number"] : json();
    run.ref = num.is_number_integer() ? "refs/pull/" + std::to_string(num.get<std::int64_t>()) + "/head"
                                      : "refs/heads/" + str(p, "/pull_request/head/ref"_json_pointer);
    run.base_ref = "refs/heads/" + str(p, "/pull_request/base/ref"_json_pointer);
  }
  if (run.sha.size() != 40) return answer(400, "bad_request", {{"error", "the payload has no commit SHA"}});
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
