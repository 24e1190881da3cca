#pragma once
// Durations (`timeout: 1h30m`) and memory sizes (`memory: 16Gi`) as written in workflow files.

#include <string_view>

#include "base/error.h"

namespace wfrun::workflows {

/// Seconds from `45s`, `90m`, `1h30m`, `1.5h`, `2d`, `1d2h3m4s`, or a plain number of seconds.
/// Units are d, h, m, s, each at most once and in that order; no spaces inside. The result is
/// never negative.
Result<double> parse_duration(std::string_view text);

/// Bytes from `512Mi`, `16G`, `4GB`, `1.5Ti`, `2048` (plain bytes). Units follow Kubernetes:
/// K/M/G/T/P (and KB, MB, ...) are powers of 1000, Ki/Mi/Gi/Ti/Pi (and KiB, ...) powers of 1024.
/// Unit letters are case-insensitive; a trailing B alone means bytes.
Result<long long> parse_memory(std::string_view text);

}  // namespace wfrun::workflows
