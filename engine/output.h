#pragma once
// A job's output on its way to the log file and the observer: written as it arrives, split
// into lines incrementally, redacted per line. Memory stays flat whatever the job prints.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "base/strings.h"

namespace wfrun::engine {

/// Size of the read buffer, and the longest line kept whole: longer lines reach the log and
/// the observer in pieces of this size.
inline constexpr size_t kMaxLine = 64 * 1024;

/// Takes chunks of one job's output, writes them to `log_fd` at once and hands each complete
/// line (without its newline) to `on_line`. With no secrets the log gets the bytes unchanged;
/// otherwise each line is redacted before it is written, so a secret split across two reads
/// is still masked, also in a line longer than kMaxLine (its pieces are cut between secrets).
class OutputSink {
 public:
  using LineFn = std::function<void(std::string_view line)>;
  OutputSink(int log_fd, const Redactor* redactor, LineFn on_line);

  void write(const char* data, size_t n);
  /// The last line if it had no newline.
  void finish();
  /// Writes one line of wfrun's own (e.g. an in-process action's message) as if printed.
  void line(std::string_view text);
  /// False once a write to the log failed (disk full): the job goes on, its log is short.
  bool log_ok() const { return log_ok_; }

 private:
  void emit(std::string_view line, bool newline);
  void write_log(const char* data, size_t n);

  int log_fd_;
  const Redactor* redactor_;  // null or empty: fast path
  LineFn on_line_;
  std::string partial_;  // start of a line whose newline has not arrived, < kMaxLine
  std::string out_;      // redacted text of one chunk, written with one write()
  bool log_ok_ = true;
};

}  // namespace wfrun::engine
