#pragma once
// The real Slurm the Slurm tests run against (tests/slurm/slurm.sh: munged, slurmctld and
// slurmd under a temporary folder, two fake GPUs), started once per test process, and the
// wfrun binary run as a user runs it.
//
// Without Slurm's daemons (Debian: slurm-wlm, munge) the tests skip, unless
// WFRUN_REQUIRE_SLURM=1 (CI) makes that a failure.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

#include <gtest/gtest.h>
#include "tests/support/files.h"

namespace wfrun::slurmtest {

namespace fs = std::filesystem;

/// What a finished command printed.
struct Output {
  int code = -1;
  std::string out, err;
};

using wfrun::testing::slurp;
using wfrun::testing::write_file;
/// Runs `cmd` with sh (SLURM_CONF set) and returns its stdout (stderr dropped).
std::string sh(const std::string& cmd);

/// The cluster of this test process; empty conf() when none could be started (why()).
class Cluster {
 public:
  static Cluster& get();
  const std::string& conf() const { return conf_; }
  const std::string& why() const { return why_; }
  const std::string& dir() const { return dir_; }
  void stop();
  ~Cluster() { stop(); }  // at the test process's exit

 private:
  Cluster();
  std::string dir_, conf_, why_;
};

/// A test's own folder and WFRUN_HOME; the cluster must be there.
class SlurmTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  fs::path file(const std::string& name, const std::string& text);
  /// `wfrun ARGS` run to its end (a shell fragment), with the test's WFRUN_HOME and SLURM_CONF.
  Output wfrun(const std::string& args, const std::string& env = "");
  /// `wfrun ARGS` started in the background; its output goes to out_path() and err_path().
  pid_t spawn(const std::string& args, const std::string& env = "");
  /// Waits for a spawned wfrun; its exit code (128 + signal when killed).
  int wait(pid_t pid);
  fs::path out_path() const { return dir_ / "spawn.out"; }
  fs::path err_path() const { return dir_ / "spawn.err"; }
  /// Polls `ok` every 50 ms for up to `seconds`; true when it held.
  static bool wait_for(const std::function<bool()>& ok, double seconds = 60);
  /// RUN/jobs/JOB/slurm-ATTEMPT of run 1.
  fs::path attempt_dir(const std::string& job, int attempt = 1, int run = 1) const;
  /// The Slurm job id of that attempt (0 while there is none).
  long long slurm_id(const std::string& job, int attempt = 1, int run = 1) const;
  /// `scontrol show job -o ID`, once the job has ended (waits up to 20 s for that).
  std::string scontrol(long long id) const;

  fs::path dir_, state_;
};

}  // namespace wfrun::slurmtest
