// Jobs in containers, with podman and a busybox+bash image built locally (no registry here).
// Without podman these tests skip, unless WFRUN_REQUIRE_PODMAN=1 (CI) makes that a failure.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "engine/fs.h"
#include "engine/process.h"
#include "tests/engine/helpers.h"

namespace wfrun::engine {
namespace {

using testing::job;
using testing::read_text;
using testing::run_yaml;
using testing::TempDir;

constexpr const char* kImage = "localhost/wfrun-test-bb:1";

class Containers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* path = std::getenv("PATH");
    const std::string p = path ? path : "";
    const bool have_runc =
        !find_program("runc", p).empty() || !find_program("runc", "/usr/sbin:/sbin").empty();
    if (find_program("podman", p).empty() || !have_runc) {
      skip_ = "podman (with runc) is not installed";
      return;
    }
    dir_ = new TempDir;
    // The sandbox refuses rlimit and cgroup changes: runc plus this configuration works.
    std::string conf = *dir_ / "containers.conf";
    (void)write_file(conf, "[containers]\ndefault_ulimits = []\npids_limit = 0\n");
    ::setenv("CONTAINERS_CONF", conf.c_str(), 1);
    std::string script =
        "set -e; podman image exists " + std::string(kImage) +
        " && exit 0; "
        "r=" +
        dir_->path() +
        "/rootfs; mkdir -p $r/bin $r/lib/x86_64-linux-gnu $r/lib64 $r/tmp; "
        "cp $(command -v busybox) $r/bin/busybox; "
        "for a in sh echo cat ls sleep mkdir test env touch; do ln -s busybox $r/bin/$a; done; "
        "cp /bin/bash $r/bin/bash; "
        "for l in $(ldd /bin/bash | grep -o '/[^ ]*'); do mkdir -p $r$(dirname $l); cp -L $l $r$l; "
        "done; "
        "tar -C $r -cf " +
        dir_->path() +
        "/img.tar .; "
        "podman import -q " +
        dir_->path() + "/img.tar " + kImage + " >/dev/null";
    ProcessSpec build{
        {"bash", "-c", script},
        {"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "CONTAINERS_CONF=" + conf},
        "",
        nullptr};
    auto r = run_command(build);
    if (!r || !r->status.success())
      skip_ = "could not build the test image with podman: " + (r ? r->output : r.error().str());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (skip_.empty()) return;
    const char* req = std::getenv("WFRUN_REQUIRE_PODMAN");
    if (req && std::string(req) == "1") FAIL() << skip_;
    GTEST_SKIP() << skip_;
  }
  RunOptions opts() {
    RunOptions o = testing::options(tmp_);
    o.container_runtime = "podman --runtime runc";
    return o;
  }

  static inline TempDir* dir_ = nullptr;
  static inline std::string skip_;
  TempDir tmp_;
};

TEST_F(Containers, ScriptInImageWithInputsOutputsEnvAndSecrets) {
  RunOptions o = opts();
  o.secrets = {{"pw", "pa55word"}};
  RunResult run = run_yaml(R"YAML(
jobs:
  host:
    uses: script@v1
    outputs: {vol: {type: volume}}
    with: {script: "echo from-host > /outputs/vol/f.txt"}
  boxed:
    needs: host
    uses: script@v1
    inputs:
      vol: host.outputs.vol
      word: {type: string, with: {value: bird}}
    outputs:
      said: {type: string}
      data: {type: dataset, with: {ref: boxed-data}}
    env: {GREETING: "hello ${{ run.number }}", PW: "secret:pw"}
    with:
      image: localhost/wfrun-test-bb:1
      script: |
        echo "$GREETING $(cat /inputs/word) $(cat /inputs/vol/f.txt) $WFRUN_INPUTS $WFRUN_JOB"
        echo "pw=$PW"
        test -z "$HOME_LEAK"
        if touch /inputs/vol/x 2>/dev/null; then echo writable; else echo read-only; fi
        echo said-it > /outputs/said
        echo payload > /outputs/data/p.txt
  after:
    needs: boxed
    uses: script@v1
    inputs: {data: boxed.outputs.data}
    with: {script: "cat /inputs/data/p.txt; echo ${{ jobs.boxed.outputs.said }}"}
)YAML",
                           o);
  ASSERT_EQ(run.state, RunState::kSucceeded)
      << job(run, "boxed").message << read_text(run.dir + "/jobs/boxed/log");
  EXPECT_EQ(read_text(job(run, "boxed").log_path),
            "hello 1 bird from-host /inputs boxed\npw=***\nread-only\n");
  EXPECT_EQ(job(run, "boxed").outputs.at("data"), "boxed-data:1");
  EXPECT_EQ(read_text(job(run, "after").log_path), "payload\nsaid-it\n");
}

TEST_F(Containers, ContainerActionCommandAndArgs) {
  RunResult run = run_yaml(R"YAML(
jobs:
  echo:
    uses: container@v1
    with: {image: "localhost/wfrun-test-bb:1", command: echo, args: [hello, "two words"]}
  shell:
    uses: container@v1
    with:
      image: localhost/wfrun-test-bb:1
      command: [sh, -c]
      args: ["echo in-shell; exit 4"]
)YAML",
                           opts());
  EXPECT_EQ(read_text(job(run, "echo").log_path), "hello two words\n");
  EXPECT_EQ(job(run, "shell").state, JobState::kFailed);
  EXPECT_EQ(job(run, "shell").exit_code, 4);
  EXPECT_EQ(read_text(job(run, "shell").log_path), "in-shell\n");
}

TEST_F(Containers, TimeoutKillsTheContainer) {
  RunResult run = run_yaml(R"YAML(
jobs:
  stuck:
    uses: container@v1
    timeout: 2
    with:
      image: localhost/wfrun-test-bb:1
      command: [sh, -c]
      args: ["trap '' TERM; echo started; while true; do sleep 1; done"]
)YAML",
                           opts());
  EXPECT_EQ(job(run, "stuck").state, JobState::kTimedOut);
  auto ps =
      run_command(ProcessSpec{{"podman", "ps", "-a", "--format", "{{.Names}}"},
                              {"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                               std::string("CONTAINERS_CONF=") + std::getenv("CONTAINERS_CONF")},
                              "",
                              nullptr});
  ASSERT_TRUE(ps);
  // Give conmon's cleanup a moment, then no container of this run is left. The name is this
  // run's own (run, job, attempt, pid): a container left by an earlier aborted test is not it.
  const std::string name = "wfrun-" + std::to_string(run.id) + "-stuck-1-" + std::to_string(::getpid());
  for (int i = 0; i < 50 && ps->output.find(name) != std::string::npos; ++i) {
    ::usleep(100000);
    ps = run_command(ProcessSpec{{"podman", "ps", "-a", "--format", "{{.Names}}"},
                                 {"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                                  std::string("CONTAINERS_CONF=") + std::getenv("CONTAINERS_CONF")},
                                 "",
                                 nullptr});
  }
  EXPECT_EQ(ps->output.find(name), std::string::npos) << ps->output;
}

// `kill -9` of wfrun while a container job runs: the podman client dies with wfrun, and the
// run's guard has the runtime kill the container (conmon would otherwise keep it running).
TEST_F(Containers, ContainerDiesWithAKilledWfrun) {
  RunOptions o = opts();
  const std::string ready = tmp_ / "ready";
  pid_t wfrun = ::fork();
  ASSERT_GE(wfrun, 0);
  if (wfrun == 0) {
    (void)run_yaml(R"YAML(
jobs:
  boxed:
    uses: container@v1
    with:
      image: localhost/wfrun-test-bb:1
      command: [sh, -c]
      args: ["echo started; sleep 600"]
)YAML",
                   o);
    ::_exit(0);
  }
  // The container's name carries the pid of the wfrun that started it.
  const std::string name = "wfrun-1-boxed-1-" + std::to_string(wfrun);
  auto names = [] {
    auto ps = run_command(ProcessSpec{{"podman", "ps", "-a", "--format", "{{.Names}}"},
                                      {"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                                       std::string("CONTAINERS_CONF=") +
                                           std::getenv("CONTAINERS_CONF")},
                                      "",
                                      nullptr});
    return ps ? ps->output : std::string();
  };
  bool up = false;
  for (int i = 0; i < 300 && !up; ++i) {
    up = names().find(name) != std::string::npos &&
         read_text(tmp_ / "state/runs/1/jobs/boxed/log").find("started") != std::string::npos;
    if (!up) ::usleep(100000);
  }
  ASSERT_TRUE(up) << names();
  ::kill(wfrun, SIGKILL);
  int st = 0;
  ::waitpid(wfrun, &st, 0);
  bool gone = false;
  for (int i = 0; i < 300 && !gone; ++i) {
    gone = names().find(name) == std::string::npos;
    if (!gone) ::usleep(100000);
  }
  EXPECT_TRUE(gone) << "the container outlived wfrun: " << names();
}

}  // namespace
}  // namespace wfrun::engine
