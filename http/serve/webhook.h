#pragma once
// POST /webhook without a socket: a delivery (headers and raw body) in, the answer and the
// runs to queue out. The signature is checked before anything is parsed.

#include <cstdint>
#include <string>
#include <vector>

#include "http/serve/config.h"
#include "http/serve/queue.h"

namespace wfrun::serve {

/// One delivery as received.
struct Delivery {
  std::string event;         // X-GitHub-Event
  std::string id;            // X-GitHub-Delivery
  std::string signature;     // X-Hub-Signature-256
  std::string content_type;  // application/json or application/x-www-form-urlencoded
  std::string body;          // raw, as signed
};

/// What to do with it.
struct WebhookDecision {
  int status = 202;
  std::string body;    // JSON answer (or the final one once runs are queued)
  std::string result;  // for /metrics: queued, ignored, ping, bad_signature, bad_request, forbidden, no_webhooks
  std::vector<RunRequest> runs;  // to queue (status 202)
  std::vector<Report> reports;   // their pending statuses
};

/// The answer (403) to every delivery when the server has no webhook secret (every repository
/// polls instead; config.h).
inline constexpr const char* kNoWebhooks =
    "this server takes no webhooks: it has no webhook secret (every repository is polled); "
    "add `webhook: {secret-file: FILE}` to server.yaml to take deliveries";

/// Verifies, parses and classifies a delivery. Runs are not queued here (see Queue::enqueue).
WebhookDecision decide(const ServerConfig& config, const Delivery& delivery);
/// decide() after the signature check: the JSON payload `text` of event `event` (delivery
/// `id`). Polling (poller.h) hands its synthetic payloads to this.
WebhookDecision decide_payload(const ServerConfig& config, const std::string& event,
                               const std::string& id, std::string text);

/// The value of `name` in an application/x-www-form-urlencoded body, decoded ("" if absent).
std::string form_value(const std::string& body, const std::string& name);

/// True when a commit message asks wfrun not to run: `[skip ci]` or `[wfrun skip]`.
bool skip_requested(const std::string& message);

}  // namespace wfrun::serve
