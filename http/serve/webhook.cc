#include "http/serve/webhook.h"

#include <map>
#include <optional>
#include <set>

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

// The few payload fields a delivery's decision reads, pulled out by a SAX pass: nothing else
// of a push payload (commits, users, URLs: kilobytes) is allocated. Paths are JSON pointers;
// values inside arrays are never wanted.
class PayloadFields : public nlohmann::json_sax<json> {
 public:
  static std::optional<PayloadFields> parse(const std::string& text) {
    PayloadFields f;
    if (!json::sax_parse(text, &f) || !f.top_object_) return std::nullopt;
    return f;
  }

  std::string str(const std::string& path) const {
    auto it = got_.find(path);
    return it != got_.end() && it->second.is_string() ? it->second.get<std::string>() : "";
  }
  const json* get(const std::string& path) const {
    auto it = got_.find(path);
    return it == got_.end() ? nullptr : &it->second;
  }

  bool null() override { return keep(json()); }
  bool boolean(bool v) override { return keep(v); }
  bool number_integer(number_integer_t v) override { return keep(v); }
  bool number_unsigned(number_unsigned_t v) override { return keep(v); }
  bool number_float(number_float_t v, const string_t&) override { return keep(v); }
  bool string(string_t& v) override { return keep(v); }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    if (frames_.empty()) top_object_ = true;
    frames_.push_back({false, path_.size()});
    return true;
  }
  bool key(string_t& k) override {
    path_.resize(frames_.back().base);
    path_ += '/';
    path_ += k;
    return true;
  }
  bool end_object() override { return pop(); }
  bool start_array(std::size_t) override {
    frames_.push_back({true, path_.size()});
    return true;
  }
  bool end_array() override { return pop(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  struct Frame {
    bool array;
    size_t base;  // path_'s length where this container started
  };
  static bool wanted(const std::string& path) {
    static const std::set<std::string, std::less<>> kWanted = {
        "/zen", "/ref", "/after", "/deleted", "/action", "/number",
        "/head_commit/id", "/head_commit/message",
        "/repository/full_name", "/repository/clone_url",
        "/pull_request/head/sha", "/pull_request/head/ref", "/pull_request/head/repo/full_name",
        "/pull_request/base/ref", "/pull_request/base/repo/full_name"};
    return kWanted.count(path) > 0;
  }
  template <typename T>
  bool keep(T&& v) {
    if (!frames_.empty() && !frames_.back().array && wanted(path_)) got_[path_] = std::forward<T>(v);
    return true;
  }
  bool pop() {
    path_.resize(frames_.back().base);
    frames_.pop_back();
    return true;
  }

  std::string path_;
  std::vector<Frame> frames_;
  std::map<std::string, json> got_;
  bool top_object_ = false;
};


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
