#include "engine/run_types.h"

namespace wfrun::engine {

const char* job_state_name(JobState s) {
  switch (s) {
    case JobState::kPending:
      return "pending";
    case JobState::kRunning:
      return "running";
    case JobState::kSucceeded:
      return "succeeded";
    case JobState::kFailed:
      return "failed";
    case JobState::kSkipped:
      return "skipped";
    case JobState::kCancelled:
      return "cancelled";
    case JobState::kTimedOut:
      return "timed-out";
    case JobState::kInterrupted:
      return "interrupted";
  }
  return "?";
}

const char* run_state_name(RunState s) {
  switch (s) {
    case RunState::kQueued:
      return "queued";
    case RunState::kRunning:
      return "running";
    case RunState::kSucceeded:
      return "succeeded";
    case RunState::kFailed:
      return "failed";
    case RunState::kCancelled:
      return "cancelled";
    case RunState::kInterrupted:
      return "interrupted";
  }
  return "?";
}

}  // namespace wfrun::engine
