#pragma once
// The one error type of wfrun, and Result<T>, an expected-style value-or-error.

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace wfrun {

/// Where an error applies: a file with a 1-based line and column, and/or a field path
/// such as `jobs.train.with.notebook`. Any part may be empty/zero.
struct Location {
  std::string file;
  int line = 0;    // 1-based; 0 = unknown
  int column = 0;  // 1-based; 0 = unknown
  std::string field;

  bool empty() const { return file.empty() && line == 0 && field.empty(); }
  /// `file:line:col` (or the parts that are known), or the field path when no file is known.
  std::string str() const;
};

/// An error a user sees: a message and where it applies.
class Error {
 public:
  Error() = default;
  explicit Error(std::string message) : message_(std::move(message)) {}
  Error(Location where, std::string message)
      : where_(std::move(where)), message_(std::move(message)) {}

  const std::string& message() const { return message_; }
  const Location& where() const { return where_; }
  /// `workflow.yaml:12:5: job 'train' needs unknown job 'prepar' (did you mean 'prepare'?)`
  std::string str() const;

  /// Prefixes the message with context: `Error("x").context("reading a.yaml")` -> "reading a.yaml: x".
  Error context(const std::string& what) const;

 private:
  Location where_;
  std::string message_;
};

/// A value or an Error. `if (!r) return r.error();` ... `*r` / `r->`.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

/// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { assert(!ok_); return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

/// An Error for a failed C call: `what: strerror(errno)`.
Error errno_error(const std::string& what, int err);

}  // namespace wfrun
