#pragma once
// The executed notebook as a run's events arrive (executor.cc): outputs in nbformat's shape,
// display ids updated where they were shown, papermill's and nbclient's timings, and writes
// to disk at most about once a second.

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"

namespace wfrun::notebook::internal {

/// Now, as nbclient writes times: 2024-01-31T12:34:56.789012Z.
std::string iso_now();
/// Seconds from time `a` to time `b`, both as iso_now writes them.
double seconds_between(const std::string& a, const std::string& b);
/// Writes `text` to a temporary file beside `path` and renames it over `path`.
Status write_atomic(const std::string& path, const std::string& text);
/// A runner output event as an nbformat output: text split into lines as Jupyter stores it.
nlohmann::json to_nbformat(nlohmann::json out);
/// A MIME bundle's text values split into lines, as nbformat stores them.
void split_bundle(nlohmann::json& data);

/// The executed notebook as events arrive. It is written to disk within about a second of each
/// change (so a killed run loses at most its last second), but not after every event: a dump of
/// the whole notebook per cell made a run quadratic in its number of cells.
class Assembler {
  using json = nlohmann::json;
  using Clock = std::chrono::steady_clock;

 public:
  Assembler(json doc, std::string out_path) : doc_(std::move(doc)), path_(std::move(out_path)) {}

  /// The longest a change waits before it is written.
  static constexpr std::chrono::milliseconds kWriteInterval{1000};

  json& doc() { return doc_; }
  json& cell(int i) { return doc_["cells"][static_cast<size_t>(i)]; }

  void start(int i, int count, const std::string& time) {
    current_ = i;
    pending_clear_ = false;
    json& c = cell(i);
    c["execution_count"] = count;
    c["outputs"] = json::array();
    auto& pm = c["metadata"]["papermill"];
    pm["start_time"] = time;
    pm["status"] = "running";
    // Timings are ours to record, as nbclient does: a notebook's own value gives way.
    json& ex = c["metadata"]["execution"];
    if (!ex.is_object()) ex = json::object();
    ex["iopub.execute_input"] = time;
    ex["iopub.status.busy"] = time;
    dirty_ = true;
  }

  void output(json out, const std::string& display_id) {
    if (current_ < 0) return;
    json& outs = cell(current_)["outputs"];
    if (pending_clear_) {
      outs = json::array();
      pending_clear_ = false;
    }
    json o = to_nbformat(std::move(out));
    if (!display_id.empty()) {
      // A new display with a known id also updates the earlier ones (nbclient).
      update(display_id, o["data"], o.value("metadata", json::object()));
      ids_[display_id].push_back({current_, outs.size()});
    }
    outs.push_back(std::move(o));
    dirty_ = true;
  }

  void update(const std::string& display_id, const json& data, const json& metadata) {
    auto it = ids_.find(display_id);
    if (it == ids_.end()) return;
    json d = data;
    split_bundle(d);
    for (auto [ci, oi] : it->second) {
      json& outs = cell(ci)["outputs"];
      if (oi < outs.size()) {
        outs[oi]["data"] = d;
        outs[oi]["metadata"] = metadata;
      }
    }
    dirty_ = true;
  }

  void clear(bool wait) {
    if (current_ < 0) return;
    if (wait) {
      pending_clear_ = true;
      return;
    }
    cell(current_)["outputs"] = json::array();
    // Forget display ids pointing into the cleared outputs.
    for (auto& [id, v] : ids_)
      std::erase_if(v, [&](const auto& p) { return p.first == current_; });
    dirty_ = true;
  }

  void end(const std::string& status, const std::string& time) {
    if (current_ < 0) return;
    json& c = cell(current_);
    auto& pm = c["metadata"]["papermill"];
    pm["end_time"] = time;
    pm["duration"] = seconds_between(pm.value("start_time", time), time);
    pm["status"] = status == "ok" ? "completed" : "failed";
    pm["exception"] = status != "ok";
    c["metadata"]["execution"]["iopub.status.idle"] = time;
    c["metadata"]["execution"]["shell.execute_reply"] = time;
    current_ = -1;
    dirty_ = true;
  }

  int current() const { return current_; }

  /// Writes the notebook now.
  Status write() {
    dirty_ = false;
    if (path_.empty()) return {};
    auto started = Clock::now();
    auto st = write_atomic(path_, doc_.dump(1, ' ', false, json::error_handler_t::replace) + "\n");
    last_write_ = Clock::now();
    // A notebook so large that writing it takes a good part of a second is written less often,
    // so that writing never takes more than a fifth of the run.
    interval_ = std::max<Clock::duration>(kWriteInterval, 4 * (last_write_ - started));
    return st;
  }
  /// Writes the notebook if it changed since the last write and that write is old enough.
  void write_if_due() {
    if (dirty_ && Clock::now() - last_write_ >= interval_) (void)write();
  }
  /// How long until write_if_due would write (zero when it would now; a long time when clean).
  std::chrono::milliseconds due_in() const {
    if (!dirty_) return std::chrono::hours(1);
    auto left = last_write_ + interval_ - Clock::now();
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::ceil<std::chrono::milliseconds>(left));
  }

 private:
  json doc_;
  std::string path_;
  int current_ = -1;
  bool pending_clear_ = false;
  bool dirty_ = false;
  Clock::time_point last_write_{};  // long ago: the first change is written at once
  Clock::duration interval_ = kWriteInterval;
  std::map<std::string, std::vector<std::pair<int, size_t>>> ids_;
};

}  // namespace wfrun::notebook::internal
