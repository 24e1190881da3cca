#include "engine/output.h"

#include <cstring>

#include "engine/fs.h"

namespace wfrun::engine {

OutputSink::OutputSink(int log_fd, const Redactor* redactor, LineFn on_line)
    : log_fd_(log_fd),
      redactor_(redactor && !redactor->empty() ? redactor : nullptr),
      on_line_(std::move(on_line)) {}

void OutputSink::write_log(const char* data, size_t n) {
  if (log_fd_ >= 0 && log_ok_ && n > 0 && !write_all(log_fd_, data, n)) log_ok_ = false;
}

// One line (or a piece of an overlong one, or the unterminated last line).
void OutputSink::emit(std::string_view line, bool newline) {
  if (!redactor_) {
    if (on_line_) on_line_(line);
    return;
  }
  std::string masked = redactor_->redact(line);
  out_ += masked;
  if (newline) out_ += '\n';
  if (on_line_) on_line_(masked);
}

void OutputSink::write(const char* data, size_t n) {
  // Without secrets the log is the bytes as they came: one write() per chunk.
  if (!redactor_) write_log(data, n);
  const char* p = data;
  const char* end = data + n;
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    size_t len = static_cast<size_t>((nl ? nl : end) - p);
    // A line longer than kMaxLine goes out in pieces of kMaxLine. With secrets, a piece ends
    // where no secret can straddle it; the rest starts the next piece.
    while (redactor_ && partial_.size() + len > kMaxLine) {
      size_t take = kMaxLine - partial_.size();
      partial_.append(p, take);
      p += take;
      len -= take;
      size_t cut = redactor_->split_point(partial_);
      if (cut == 0) cut = partial_.size();  // a secret near kMaxLine long: cannot hold it back
      emit(std::string_view(partial_).substr(0, cut), false);
      partial_.erase(0, cut);
    }
    while (partial_.size() + len > kMaxLine) {
      size_t take = kMaxLine - partial_.size();
      if (partial_.empty()) {
        emit(std::string_view(p, take), false);
      } else {
        partial_.append(p, take);
        emit(partial_, false);
        partial_.clear();
      }
      p += take;
      len -= take;
    }
    if (!nl) {
      partial_.append(p, len);
      break;
    }
    if (partial_.empty()) {
      emit(std::string_view(p, len), true);
    } else {
      partial_.append(p, len);
      emit(partial_, true);
      partial_.clear();
    }
    p = nl + 1;
  }
  if (redactor_) {
    write_log(out_.data(), out_.size());
    out_.clear();
  }
}

void OutputSink::finish() {
  if (!partial_.empty()) {
    emit(partial_, false);
    partial_.clear();
  }
  if (redactor_) {
    write_log(out_.data(), out_.size());
    out_.clear();
  }
}

void OutputSink::line(std::string_view text) {
  finish();
  std::string l(text);
  l += '\n';
  write(l.data(), l.size());
}

}  // namespace wfrun::engine
