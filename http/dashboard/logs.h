#pragma once
// Reading job logs in windows: the tail first (a pread of the end, so a 1 GB log costs what a
// small one does), earlier parts on request, every window cut at line ends; and a search over
// the whole file on the server.

#include <string>
#include <vector>

#include "base/error.h"

namespace wfrun::dashboard {

/// Bytes [start, end) of a log of `size` bytes.
struct LogWindow {
  long long start = 0, end = 0, size = 0;
  std::string text;
};

/// The bytes of `path` in [from, to), at most `max_bytes` of them (the last ones when the range
/// is larger). A negative `from` counts from the end (`-262144`: the last 256 KB); `to` < 0
/// means the end. The start moves forward to the next line start (unless the window holds no
/// newline at all: one line longer than the window is cut), and, unless `partial_end`, the end
/// moves back to just after the last newline, so a growing log's half-written line comes in
/// the next window. `align_start` false keeps the start where it is (a stream continuing from
/// where its last window ended). A file that does not exist (yet) is an empty log.
Result<LogWindow> read_log_window(const std::string& path, long long from, long long to,
                                  size_t max_bytes, bool partial_end, bool align_start = true);

struct LogHit {
  long long line = 0;    // 1-based
  long long offset = 0;  // of the line's first byte
  std::string text;      // the line (at most 2 KB of it, around the match)
};

struct LogSearch {
  std::vector<LogHit> hits;
  bool truncated = false;  // more hits than `limit`, or the time ran out
  long long scanned = 0;   // bytes searched
};

/// The lines of `path` that contain `query` (ASCII letters match either case), first to last.
Result<LogSearch> search_log(const std::string& path, const std::string& query, size_t limit,
                             double max_seconds = 10);

}  // namespace wfrun::dashboard
