// The Slurm command lines wfrun writes and the answers it reads (engine/slurm/commands.h),
// on text the Slurm 22.05 commands printed on this machine kind.

#include "engine/slurm/commands.h"

#include <gtest/gtest.h>

#include "engine/slurm/files.h"

namespace wfrun::slurm {
namespace {

using engine::AttemptEnd;

TEST(SlurmCommands, JobNamesAreUniquePerRunJobAndAttemptAndSafe) {
  EXPECT_EQ(job_name(12, "train", 1), "wfrun-12-train-1");
  EXPECT_EQ(job_name(12, "train", 2), "wfrun-12-train-2");
  EXPECT_EQ(job_name(3, "a b/c$", 1), "wfrun-3-a_b_c_-1");
  EXPECT_EQ(job_name(1, std::string(500, 'x'), 1).size(), 200u);
}

TEST(SlurmCommands, SbatchArgumentsCarryTheJobsResources) {
  Request r;
  r.name = "wfrun-4-train-1";
  r.dir = "/shared/runs/4/jobs/train/slurm-1";
  r.gpus = 2;
  r.cpus = 3.5;
  r.memory_bytes = 1536LL << 20;
  r.timeout_seconds = 90 * 60;
  r.kill_grace_seconds = 5;
  r.placement.partition = "gpu";
  r.placement.account = "lab";
  r.placement.qos = "normal";
  r.placement.sbatch_args = {"--exclusive"};
  std::vector<std::string> want = {"--parsable",
                                   "--job-name=wfrun-4-train-1",
                                   "--chdir=/shared/runs/4/jobs/train/slurm-1",
                                   "--output=/shared/runs/4/jobs/train/slurm-1/slurm.out",
                                   "--open-mode=append",
                                   "--no-requeue",
                                   "--export=ALL",
                                   "--cpus-per-task=4",
                                   "--mem=1536M",
                                   "--time=92",  // 90m + 5s + 60s, rounded up to minutes
                                   "--signal=B:USR1@30",
                                   "--gres=gpu:2",
                                   "--partition=gpu",
                                   "--account=lab",
                                   "--qos=normal",
                                   "--exclusive"};
  EXPECT_EQ(sbatch_args(r), want);
}

TEST(SlurmCommands, GpuModelAsGresTypeOrConstraint) {
  Request r;
  r.gpus = 8;
  r.gpu_model = "A100-80G";
  auto has = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  EXPECT_TRUE(has(sbatch_args(r), "--gres=gpu:a100-80g:8"));
  r.gpu_model_as = workflows::SlurmSettings::GpuModel::kConstraint;
  r.placement.constraint = "ib";
  auto a = sbatch_args(r);
  EXPECT_TRUE(has(a, "--gres=gpu:8"));
  EXPECT_TRUE(has(a, "--constraint=ib&A100-80G"));
}

TEST(SlurmCommands, BatchScriptOnlyExecsTheShim) {
  EXPECT_EQ(batch_script("/opt/wfrun/bin/wfrun", "/shared/it's/slurm-1"),
            "#!/bin/sh\nexec '/opt/wfrun/bin/wfrun' job-shim '/shared/it'\\''s/slurm-1'\n");
}

TEST(SlurmCommands, JobIdFromSbatch) {
  EXPECT_EQ(parse_job_id("12\n"), 12);
  EXPECT_EQ(parse_job_id("1234;cluster\n"), 1234);
  EXPECT_EQ(parse_job_id("Submitted batch job 77\n"), 77);
  EXPECT_EQ(parse_job_id("sbatch: warning: something\n88\n"), 88);
  EXPECT_EQ(parse_job_id("sbatch: error: Batch job submission failed: Invalid partition\n"),
            std::nullopt);
}

TEST(SlurmCommands, JobFoundByNameAndFolder) {
  const char* out = "31|/other/state/runs/1/jobs/a/slurm-1\n32|/state/runs/1/jobs/a/slurm-1\n";
  EXPECT_EQ(job_in_dir(out, "/state/runs/1/jobs/a/slurm-1"), 32);
  EXPECT_EQ(job_in_dir(out, "/state/runs/2/jobs/a/slurm-1"), std::nullopt);
}

TEST(SlurmCommands, QueueLines) {
  auto q = parse_squeue(
      "1|wfrun-1-a-1|COMPLETED|None\n2|wfrun-1-b-1|PENDING|Resources\n"
      "5_3|array|RUNNING|None\ngarbage\n3|j|NODE_FAIL|NodeDown\n");
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[1].id, 2);
  EXPECT_EQ(q[1].name, "wfrun-1-b-1");
  EXPECT_EQ(q[1].state, "PENDING");
  EXPECT_EQ(q[1].reason, "Resources");
  EXPECT_EQ(q[2].state, "NODE_FAIL");
}

TEST(SlurmCommands, ScontrolAndSacctRecords) {
  auto r = parse_scontrol(
      "JobId=2 JobName=j2.sh UserId=root(0) JobState=NODE_FAIL Reason=NodeDown Dependency=(null) "
      "ExitCode=143:0 RunTime=00:00:01");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, "NODE_FAIL");
  EXPECT_EQ(r->reason, "NodeDown");
  EXPECT_EQ(r->exit_code, 143);
  auto c = parse_scontrol("JobId=5 JobState=CANCELLED Reason=None ExitCode=0:15");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->signal, 15);
  EXPECT_FALSE(c->exit_code);
  EXPECT_FALSE(parse_scontrol("slurm_load_jobs error: Invalid job id specified"));
  auto s = parse_sacct("7|FAILED|3:0\n8|CANCELLED by 0|0:15\n", 8);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->state, "CANCELLED");
  EXPECT_EQ(s->signal, 15);
  EXPECT_FALSE(parse_sacct("7|FAILED|3:0\n", 9));
}

TEST(SlurmCommands, StatesMapToWhatWfrunReports) {
  auto end = [](const char* state, std::optional<int> code = 0) {
    JobRecord r;
    r.state = state;
    r.exit_code = code;
    return end_from_state(r);
  };
  EXPECT_EQ(end("COMPLETED").reason, AttemptEnd::Reason::kExited);
  EXPECT_EQ(end("FAILED", 2).reason, AttemptEnd::Reason::kExited);
  EXPECT_EQ(end("FAILED", 2).status.code, 2);
  EXPECT_EQ(end("TIMEOUT").reason, AttemptEnd::Reason::kTimedOut);
  EXPECT_EQ(end("DEADLINE").reason, AttemptEnd::Reason::kTimedOut);
  EXPECT_EQ(end("CANCELLED").reason, AttemptEnd::Reason::kCancelled);
  EXPECT_EQ(end("NODE_FAIL").reason, AttemptEnd::Reason::kLost);
  EXPECT_EQ(end("PREEMPTED").reason, AttemptEnd::Reason::kLost);
  EXPECT_EQ(end("BOOT_FAIL").reason, AttemptEnd::Reason::kLost);
  auto oom = end("OUT_OF_MEMORY", 0);
  EXPECT_EQ(oom.reason, AttemptEnd::Reason::kOutOfMemory);
  EXPECT_NE(oom.message.find("out of memory"), std::string::npos);
  EXPECT_EQ(end("SOMETHING_NEW").reason, AttemptEnd::Reason::kLost);
  EXPECT_TRUE(terminal_state("COMPLETED"));
  EXPECT_FALSE(terminal_state("COMPLETING"));
  EXPECT_FALSE(terminal_state("PENDING"));
}

TEST(SlurmCommands, TransientSbatchErrors) {
  EXPECT_TRUE(transient_error(
      "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation"));
  EXPECT_FALSE(transient_error(
      "sbatch: error: Batch job submission failed: Requested node configuration is not available"));
}

TEST(SlurmFiles, ShimFilesRoundTrip) {
  ShimJob j;
  j.job = "train";
  j.argv = {"bash", "-c", "echo hi"};
  j.env = {{"A", "1"}};
  j.cwd = "/w";
  j.log = "/r/log";
  j.gpus = 2;
  auto back = parse_shim_job(shim_job_json(j));
  ASSERT_TRUE(back) << back.error().str();
  EXPECT_EQ(back->argv, j.argv);
  EXPECT_EQ(back->env, j.env);
  EXPECT_EQ(back->gpus, 2);
  auto x = parse_shim_exit(R"({"code":null,"signal":9,"reason":"terminated","message":""})");
  ASSERT_TRUE(x);
  EXPECT_EQ(x->status.signal, 9);
  EXPECT_EQ(x->reason, "terminated");
  // A broken secrets file never quotes its content in the error.
  auto s = parse_shim_secrets("{\"env\": {\"T\": \"hunter2\"");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message().find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace wfrun::slurm
