// Live updates by server-sent events: one stream per open page. The runs page's stream sends
// its page of runs whenever it changes; a run page's stream sends the run when it changes and
// the followed job's new log lines. Each stream ends after `stream_seconds` (the browser
// reconnects with Last-Event-ID = the log offset), which frees the server thread it holds and
// notices clients that went away.
#include <algorithm>
#include <chrono>
#include <thread>

#include "http/dashboard/dashboard.h"
#include "http/dashboard/logs.h"

namespace wfrun::dashboard {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kLogBatch = 256u << 10;        // per event
constexpr long long kMaxBehind = 8ll << 20;     // further behind than this: skip to the tail
constexpr long long kSkipTo = 64ll << 10;       // ... and start that far before the end
constexpr auto kHeartbeat = std::chrono::seconds(10);

std::string sse(const char* event, const json& data, const std::string& id = "") {
  std::string out;
  if (!id.empty()) out += "id: " + id + "\n";
  out += std::string("event: ") + event + "\n";
  out += "data: " + data.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
  return out;
}

Response stream_response(std::function<void(StreamSink&)> body) {
  Response r;
  r.type = "text/event-stream";
  r.header("Cache-Control", "no-store");
  r.header("X-Accel-Buffering", "no");  // a proxy in front must not hold the events back
  r.header("X-Content-Type-Options", "nosniff");
  r.stream = std::move(body);
  return r;
}

/// Sleeps `total` in steps of at most `step`; false as soon as the client is gone.
bool nap(StreamSink& sink, Clock::duration total, Clock::duration step) {
  const auto until = Clock::now() + total;
  for (;;) {
    if (!sink.alive()) return false;
    const auto now = Clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(std::min<Clock::duration>(std::max<Clock::duration>(step, std::chrono::milliseconds(10)), until - now));
  }
}

Response too_many_streams() {
  Response r = error_response(503, "too many live pages open; this one updates when another closes");
  r.header("Retry-After", "5");
  return r;
}

}  // namespace

std::shared_ptr<void> Dashboard::stream_slot() {
  auto counter = streams_;
  if (counter->fetch_add(1) >= opts_.max_streams) {
    counter->fetch_sub(1);
    return nullptr;
  }
  // Not null (a null shared_ptr tests false); the deleter gives the slot back.
  return std::shared_ptr<void>(counter.get(), [counter](std::atomic<int>* c) { c->fetch_sub(1); });
}

Response Dashboard::list_events(const Request& req) {
  auto q = run_query(req);
  if (!q) return error_response(400, q.error().str());
  auto slot = stream_slot();
  if (!slot) return too_many_streams();
  RunSource* source = &source_;
  const Options opts = opts_;
  return stream_response([slot, source, q = *q, opts](StreamSink& sink) {
    const auto end = Clock::now() + std::chrono::milliseconds(static_cast<long long>(opts.stream_seconds * 1000));
    auto beat = Clock::now() + kHeartbeat;
    std::string last;
    if (!sink.write("retry: 1000\n\n")) return;
    while (Clock::now() < end) {
      auto page = source->list(q);
      if (page) {
        std::string now = page->dump(-1, ' ', false, json::error_handler_t::replace);
        if (now != last) {
          if (!sink.write("event: runs\ndata: " + now + "\n\n")) return;
          last = std::move(now);
          beat = Clock::now() + kHeartbeat;
        }
      }
      if (Clock::now() > beat) {
        if (!sink.write(": ping\n\n")) return;
        beat = Clock::now() + kHeartbeat;
      }
      if (!nap(sink, std::chrono::seconds(1),
               std::chrono::milliseconds(static_cast<long long>(opts.stream_poll_seconds * 1000))))
        return;
    }
  });
}

Response Dashboard::run_events(const Request& req, std::int64_t id) {
  const auto address = job_address(req.param("job"), req.param("workflow"));
  const std::string workflow = address.first, job = address.second;
  long long offset = -1;  // -1: no log wanted
  const std::string last_id = req.header("last-event-id");
  const std::string from = !last_id.empty() ? last_id : req.param("log");
  if (!job.empty() && !from.empty()) {
    if (from.size() > 18 || from.find_first_not_of("0123456789") != std::string::npos)
      return error_response(400, "log: expected the byte offset to follow the log from");
    offset = std::atoll(from.c_str());
  }
  auto slot = stream_slot();
  if (!slot) return too_many_streams();
  RunSource* source = &source_;
  const Options opts = opts_;
  return stream_response([slot, source, opts, id, job, workflow, offset](StreamSink& sink) mutable {
    const auto end = Clock::now() + std::chrono::milliseconds(static_cast<long long>(opts.stream_seconds * 1000));
    const auto poll = std::chrono::milliseconds(static_cast<long long>(opts.stream_poll_seconds * 1000));
    auto beat = Clock::now() + kHeartbeat;
    auto next_run = Clock::now();
    std::string last_run;
    bool run_active = true;
    std::optional<JobRef> ref;
    if (!sink.write("retry: 1000\n\n")) return;
    while (Clock::now() < end) {
      if (Clock::now() >= next_run) {
        next_run = Clock::now() + std::chrono::seconds(1);
        auto r = source->get(id);
        if (r && *r) {
          const json& run = **r;
          const std::string status = run.contains("status") && run["status"].is_string()
                                         ? run["status"].get<std::string>() : "";
          run_active = status == "queued" || status == "running" || status == "cancelling";
          std::string now = run.dump(-1, ' ', false, json::error_handler_t::replace);
          if (now != last_run) {
            if (!sink.write("event: run\ndata: " + now + "\n\n")) return;
            last_run = std::move(now);
            beat = Clock::now() + kHeartbeat;
          }
        }
        if (!job.empty() && offset >= 0) {
          auto j = source->job(id, workflow, job);
          if (j && *j) ref = std::move(*j);
        }
      }
      bool drained = true;
      if (ref && offset >= 0) {
        auto w = read_log_window(ref->log_path, offset, -1, kLogBatch, !ref->running, false);
        if (w && w->size - offset > kMaxBehind) {
          // The job prints faster than this page reads: jump to the tail and say so.
          // From the first line start in the last kSkipTo bytes.
          const long long from = offset;
          w = read_log_window(ref->log_path, std::max(0LL, w->size - kSkipTo), -1, kLogBatch,
                              !ref->running, true);
          offset = w ? w->start : from;
          if (!sink.write(sse("skip", {{"from", from}, {"to", offset}}, std::to_string(offset)))) return;
        }
        if (w && w->end > offset) {
          json data = {{"start", w->start}, {"end", w->end}, {"size", w->size}, {"text", w->text}};
          if (!sink.write(sse("log", data, std::to_string(w->end)))) return;
          offset = w->end;
          beat = Clock::now() + kHeartbeat;
        }
        drained = !w || w->end >= w->size;
        if (w && !drained) continue;  // more is waiting: no sleep
      }
      if (!run_active && drained && !last_run.empty()) {
        sink.write("event: end\ndata: {}\n\n");
        return;
      }
      if (Clock::now() > beat) {
        if (!sink.write(": ping\n\n")) return;
        beat = Clock::now() + kHeartbeat;
      }
      if (!nap(sink, poll, poll)) return;
    }
  });
}

}  // namespace wfrun::dashboard
