#include <algorithm>
#include <cstdlib>

#include "http/serve/json_text.h"
#include "http/serve/server.h"
#include "http/serve/server_context.h"
#include "http/serve/webhook.h"

namespace wfrun::serve {

namespace {

using nlohmann::json;

/// Header `name` whole: httplib's get_header_value() goes through a C string and stops at a NUL
/// (which its decoding of %00 can put there), so "ping%00push" would read as "ping".
std::string header(const httplib::Request& req, const char* name) {
  auto it = req.headers.find(name);
  return it == req.headers.end() ? std::string() : it->second;
}

void webhook(ServerContext& ctx, const httplib::Request& req, const std::string& body,
             httplib::Response& res) {
  Delivery d{header(req, "X-GitHub-Event"), header(req, "X-GitHub-Delivery"),
             header(req, "X-Hub-Signature-256"), header(req, "Content-Type"), body};
  ConfigPtr cfg = ctx.config.get();
  WebhookDecision w = decide(*cfg, d);
  if (w.status == 202 && !w.runs.empty()) {
    // Recorded (group commit) before the answer; a known skip decision records it unrun.
    auto got = ctx.queue->submit(Submission{d.id, d.event, std::move(w.runs), std::move(w.reports), true, "", {}});
    if (!got) {
      ctx.log("webhook: cannot record delivery " + d.id + ": " + got.error().str());
      ctx.metrics.delivery(d.event, "error");
      return reply(res, 503, {{"error", "cannot record the delivery; redeliver it later"}});
    }
    const bool duplicate = got->duplicate;
    json body = got->ignored.empty() ? json{{"runs", got->runs}} : json{{"ignored", got->ignored}};
    if (duplicate) body["duplicate"] = true;
    w.body = json_text(body);
    w.result = duplicate ? "duplicate" : !got->ignored.empty() ? "known_skip" : "queued";
    if (!duplicate && got->ignored.empty()) {
      ctx.dispatcher->wake();
      ctx.reporter->wake();
    }
  }
  ctx.metrics.delivery(d.event, w.result);
  res.status = w.status;
  res.set_content(w.body + "\n", "application/json");
}

}  // namespace

void add_webhook_routes(ServerContext& ctx, httplib::Server& http) {
  // Read through a ContentReader: httplib would refuse form-encoded bodies over 8 KB itself.
  http.Post("/webhook", [&ctx](const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader& reader) {
    std::string body;
    // The front end has the whole body already (its length checked): one allocation.
    body.reserve(std::min<size_t>(std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10),
                                  kMaxWebhookBody));
    bool too_big = false;
    const bool whole = reader([&](const char* data, size_t n) {
      if (body.size() + n > kMaxWebhookBody) return !(too_big = true);
      body.append(data, n);
      return true;
    });
    if (too_big) {
      res.set_header("Connection", "close");
      return reply(res, 413, {{"error", "the body is larger than 25 MB"}});
    }
    // A body that stopped short is never taken for the whole delivery.
    if (!whole) return reply(res, 400, {{"error", "the body did not arrive whole"}});
    webhook(ctx, req, body, res);
  });
}

}  // namespace wfrun::serve
