#include "http/dashboard/logs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "base/fd.h"

namespace wfrun::dashboard {

namespace {

constexpr size_t kChunk = 1 << 20;
constexpr size_t kMaxHitText = 2048;

Error io_error(const std::string& what, const std::string& path) {
  return Error(what + " " + path + ": " + std::strerror(errno));
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

Result<LogWindow> read_log_window(const std::string& path, long long from, long long to,
                                  size_t max_bytes, bool partial_end, bool align_start) {
  LogWindow w;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return w;
    return io_error("cannot open", path);
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return io_error("cannot read", path);
  const long long size = st.st_size;
  w.size = size;
  long long start = from < 0 ? std::max(0LL, size + from) : std::min(from, size);
  long long end = to < 0 ? size : std::min(to, size);
  if (end < start) end = start;
  if (end - start > static_cast<long long>(max_bytes)) start = end - static_cast<long long>(max_bytes);
  // One byte before the start tells whether it already is a line start.
  const long long read_from = start > 0 ? start - 1 : 0;
  std::string buf(static_cast<size_t>(end - read_from), '\0');
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::pread(fd.get(), buf.data() + got, buf.size() - got, read_from + static_cast<long long>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("cannot read", path);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  buf.resize(got);
  end = read_from + static_cast<long long>(got);
  // buf[0] is the byte before `start` (when start > 0): a newline there makes it a line start.
  size_t b = std::min<size_t>(start > 0 ? 1 : 0, buf.size());
  if (start > 0 && align_start && buf[0] != '\n') {
    const size_t nl = buf.find('\n');
    if (nl != std::string::npos) b = nl + 1;  // else: one line longer than the window, cut
  }
  size_t e = buf.size();
  if (!partial_end && e > b && buf[e - 1] != '\n') {
    const size_t nl = buf.rfind('\n');
    if (nl != std::string::npos && nl >= b) {
      e = nl + 1;
    } else if (e - b < max_bytes) {
      e = b;  // a half-written line: it comes with the next window
    }           // else: one line longer than a window, sent in pieces
  }
  w.start = read_from + static_cast<long long>(b);
  w.end = read_from + static_cast<long long>(e);
  w.text = buf.substr(b, e - b);
  return w;
}

Result<LogSearch> search_log(const std::string& path, const std::string& query, size_t limit,
                             double max_seconds) {
  LogSearch out;
  if (query.empty()) return out;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return out;
    return io_error("cannot open", path);
  }
  std::string q;
  for (char c : query) q += lower(c);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<long long>(max_seconds * 1000));
  // buf holds [base, base + buf.size()); a line cut by a chunk's end is carried to the next.
  std::string buf, low;
  long long base = 0, line = 1;  // line: the number of buf's first line
  std::vector<char> chunk(kChunk);
  bool eof = false;
  while (!eof) {
    ssize_t n = ::read(fd.get(), chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("cannot read", path);
    eof = n == 0;
    buf.append(chunk.data(), static_cast<size_t>(n));
    // Search whole lines only (all of buf at the end of the file).
    size_t usable = eof ? buf.size() : buf.rfind('\n');
    if (usable == std::string::npos) {
      if (buf.size() < 16 * kChunk) continue;
      usable = buf.size();  // a line over 16 MB: searched in pieces
    } else if (!eof) {
      usable += 1;
    }
    low.assign(buf, 0, usable);
    for (char& c : low) c = lower(c);
    size_t pos = 0, counted = 0;
    while (pos < usable) {
      const char* hit = static_cast<const char*>(
          ::memmem(low.data() + pos, usable - pos, q.data(), q.size()));
      if (!hit) break;
      size_t at = static_cast<size_t>(hit - low.data());
      size_t ls = low.rfind('\n', at);
      ls = ls == std::string::npos ? 0 : ls + 1;
      size_t le = low.find('\n', at);
      if (le == std::string::npos || le > usable) le = usable;
      line += std::count(buf.begin() + static_cast<long>(counted), buf.begin() + static_cast<long>(ls), '\n');
      counted = ls;
      if (out.hits.size() >= limit) {
        out.truncated = true;
        out.scanned = base + static_cast<long long>(at);
        return out;
      }
      LogHit h;
      h.line = line;
      h.offset = base + static_cast<long long>(ls);
      size_t from = ls, len = le - ls;
      if (len > kMaxHitText) {
        from = std::max(ls, at > kMaxHitText / 2 ? at - kMaxHitText / 2 : 0);
        len = std::min(kMaxHitText, le - from);
      }
      h.text = buf.substr(from, len);
      out.hits.push_back(std::move(h));
      pos = le + 1;
    }
    line += std::count(buf.begin() + static_cast<long>(counted), buf.begin() + static_cast<long>(usable), '\n');
    buf.erase(0, usable);
    base += static_cast<long long>(usable);
    out.scanned = base;
    if (std::chrono::steady_clock::now() > deadline) {
      out.truncated = !eof;
      return out;
    }
  }
  return out;
}

}  // namespace wfrun::dashboard
