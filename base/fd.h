#pragma once
// Owners for file descriptors and C handles.

#include <unistd.h>

#include <memory>
#include <utility>

namespace wfrun {

/// Owns one file descriptor; closes it on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

/// Deleter for C handles: `std::unique_ptr<sqlite3, Deleter<sqlite3_close_v2>>`.
template <auto Fn>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    if (p) Fn(p);
  }
};

template <class T, auto Fn>
using Handle = std::unique_ptr<T, Deleter<Fn>>;

}  // namespace wfrun
