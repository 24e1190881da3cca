#pragma once
// Waiting in tests for something another process does: one loop instead of one per test file.

#include <chrono>
#include <functional>
#include <thread>

namespace wfrun::testkit {

/// Checks `ok` every `step` until it holds or `seconds` have passed; whether it held (checked
/// once more at the end).
inline bool eventually(const std::function<bool()>& ok, double seconds,
                       std::chrono::milliseconds step = std::chrono::milliseconds(20)) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (ok()) return true;
    std::this_thread::sleep_for(step);
  }
  return ok();
}

}  // namespace wfrun::testkit
