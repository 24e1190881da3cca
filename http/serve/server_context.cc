#include "http/serve/server_context.h"

#include "base/strings.h"
#include "http/serve/json_text.h"
#include "http/serve/run_page.h"
#include "http/serve/signature.h"

namespace wfrun::serve {

using nlohmann::json;

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(json_text(body) + "\n", "application/json");
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
  if (r.request.delivery.rfind("poll:", 0) == 0) j["polled"] = true;  // found by polling
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

bool ServerContext::authorized(const httplib::Request& req) const {
  const std::string h = req.get_header_value("Authorization");
  if (!starts_with(h, "Bearer ")) return false;
  const std::string token(trim(std::string_view(h).substr(7)));
  bool ok = false;
  for (const auto& t : config.get()->api_tokens) ok |= constant_time_equal(t, token);
  return ok && !token.empty();
}

bool ServerContext::link_authorized(const httplib::Request& req) const {
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

}  // namespace wfrun::serve
