// The sampler (/proc and GPU rows), the metrics table, the summary, CSV/JSON and the SVG.

#include "engine/gpu/metrics.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace wfrun::gpu {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/wfrun-gpu-test.XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A /proc/PID/stat line with the fields the sampler reads.
void write_stat(const std::string& root, int pid, const std::string& comm, int ppid, int pgrp,
                int utime, int stime, int cutime, int rss_pages) {
  fs::create_directories(root + "/" + std::to_string(pid));
  std::ofstream(root + "/" + std::to_string(pid) + "/stat")
      << pid << " (" << comm << ") S " << ppid << " " << pgrp << " " << pgrp
      << " 0 -1 4194304 100 0 0 0 " << utime << " " << stime << " " << cutime
      << " 0 20 0 1 0 12345 1000000 " << rss_pages << " 18446744073709551615 0 0 0\n";
}

TEST(ProcessSampler, ProcessTreeFromFakeProc) {
  TempDir proc;
  const std::string& r = proc.path();
  long tick = sysconf(_SC_CLK_TCK);
  long page_kb = sysconf(_SC_PAGESIZE) / 1024;
  write_stat(r, 100, "bash", 1, 100, 0, 0, 0, 100);
  write_stat(r, 101, "python (train) x", 100, 100, 0, 0, 0, 1000);  // odd name
  write_stat(r, 102, "daemon", 101, 102, 0, 0, 0, 10);              // setsid() child
  write_stat(r, 200, "other", 1, 200, 500, 0, 0, 99999);
  fs::create_directories(r + "/self");  // not a pid: ignored
  ProcessSampler s(r, 1);
  JobProcesses job{"train", 100, {}, {}};
  auto u1 = s.sample({job}, 10.0);
  EXPECT_EQ(u1["train"].processes, 3);
  EXPECT_EQ(u1["train"].rss_kb, 1110 * page_kb);
  EXPECT_FALSE(u1["train"].cpu_pct);  // first sample

  // 2 seconds later the tree used 3 CPU-seconds (150%).
  write_stat(r, 101, "python (train) x", 100, 100, 2 * tick, tick, 0, 2000);
  auto u2 = s.sample({job}, 12.0);
  ASSERT_TRUE(u2["train"].cpu_pct);
  EXPECT_NEAR(*u2["train"].cpu_pct, 150.0, 1e-9);
  EXPECT_EQ(u2["train"].rss_kb, 2110 * page_kb);

  // 101 exits and 100 reaps it: its time moves to 100's cutime, the total stays continuous.
  fs::remove_all(r + "/101");
  write_stat(r, 102, "daemon", 1, 102, 0, 0, 0, 10);  // reparented, now outside the tree
  write_stat(r, 100, "bash", 1, 100, 0, 0, 3 * tick, 100);
  auto u3 = s.sample({job}, 13.0);
  EXPECT_EQ(u3["train"].processes, 1);
  EXPECT_NEAR(*u3["train"].cpu_pct, 0.0, 1e-9);

  // A job given by pid (no group) counts that process and its descendants.
  JobProcesses by_pid{"other", 0, {200}, {}};
  auto u4 = s.sample({by_pid}, 14.0);
  EXPECT_EQ(u4["other"].processes, 1);
  EXPECT_EQ(u4["other"].rss_kb, 99999 * page_kb);
}

TEST(ProcessSampler, NewProcessesAreFoundByTheNextFullScan) {
  TempDir proc;
  const std::string& r = proc.path();
  write_stat(r, 100, "bash", 1, 100, 0, 0, 0, 1);
  write_stat(r, 101, "child", 100, 100, 0, 0, 0, 1);
  ProcessSampler s(r, 2);
  JobProcesses job{"j", 100, {100}, {}};
  EXPECT_EQ(s.sample({job}, 1)["j"].processes, 2);  // full
  write_stat(r, 102, "late", 101, 100, 0, 0, 0, 1);
  EXPECT_EQ(s.sample({job}, 2)["j"].processes, 2);  // known processes only
  EXPECT_EQ(s.sample({job}, 3)["j"].processes, 3);  // full
  fs::remove_all(r + "/101");
  EXPECT_EQ(s.sample({job}, 4)["j"].processes, 2);  // 102 is still in the group
}

TEST(ProcessSampler, RealProcessGroup) {
  pid_t pid;
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  const char* argv[] = {"/bin/sh", "-c", "sleep 30 & sleep 30; wait", nullptr};
  ASSERT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, &attr, const_cast<char**>(argv), environ), 0);
  posix_spawnattr_destroy(&attr);
  usleep(200 * 1000);
  ProcessSampler s;
  auto u = s.sample({JobProcesses{"job", pid, {pid}, {}}}, 1.0);
  kill(-pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  EXPECT_EQ(u["job"].processes, 3);  // sh and two sleeps
  EXPECT_GT(u["job"].rss_kb, 0);
}

TEST(Sampler, SamplesJobsGpusAndStores) {
  TempDir state;
  auto store = MetricsStore::open(state.path());
  ASSERT_TRUE(store) << store.error().str();
  SimulatedProvider gpus(
      {simulated_gpu("H100", 0), simulated_gpu("H100", 1), simulated_gpu("H100", 2)});
  Sampler sampler(&gpus, &*store, 7, SamplerOptions{0.5, "/proc"});
  EXPECT_LE(sampler.next_due(), Sampler::Clock::now());
  EXPECT_EQ(sampler.poll_timeout_ms(), 0);

  std::vector<JobProcesses> jobs = {{"train", getpgrp(), {}, {1, 2}}, {"prep", 0, {}, {}}};
  auto rows = sampler.sample_now(jobs);
  ASSERT_TRUE(rows) << rows.error().str();
  ASSERT_EQ(rows->size(), 4u);  // train: process + 2 GPUs; prep: process
  EXPECT_EQ((*rows)[0].job, "train");
  EXPECT_FALSE((*rows)[0].gpu);
  EXPECT_GT(*(*rows)[0].rss_kb, 0);
  EXPECT_EQ((*rows)[1].gpu, 1);
  EXPECT_EQ((*rows)[1].util, 0);
  EXPECT_EQ((*rows)[1].power_w, 70.0);
  EXPECT_EQ((*rows)[2].gpu, 2);
  EXPECT_EQ((*rows)[3].job, "prep");
  EXPECT_EQ((*rows)[3].rss_kb, 0);
  int timeout = sampler.poll_timeout_ms();
  EXPECT_GT(timeout, 400);
  EXPECT_LE(timeout, 501);

  GpuInfo busy = simulated_gpu("H100", 2);
  busy.utilization_pct = 100;
  busy.memory_used_mib = 1011;
  busy.power_w = -1;  // not reported: NULL
  gpus.set_state(busy);
  rows = sampler.sample_now(jobs);
  ASSERT_TRUE(rows);
  EXPECT_EQ((*rows)[2].util, 100);
  EXPECT_FALSE((*rows)[2].power_w);
  EXPECT_TRUE((*rows)[0].cpu_pct);  // second sample: a rate

  auto stored = store->rows(7);
  ASSERT_TRUE(stored) << stored.error().str();
  EXPECT_EQ(stored->size(), 8u);
  auto train = store->rows(7, "train");
  ASSERT_TRUE(train);
  EXPECT_EQ(train->size(), 6u);
  EXPECT_EQ(train->back().util, 100);
  EXPECT_EQ(train->back().mem_mib, 1011);
  EXPECT_FALSE(train->back().power_w);
  EXPECT_EQ(*store->jobs(7), (std::vector<std::string>{"prep", "train"}));
  EXPECT_TRUE(store->rows(8)->empty());

  // The table sits in the run store's database, next to the engine's tables.
  EXPECT_TRUE(fs::exists(state.path() + "/wfrun.db"));
}

TEST(Sampler, NoJobsNoRows) {
  Sampler sampler(nullptr, nullptr, 1);
  auto rows = sampler.sample_now({});
  ASSERT_TRUE(rows);
  EXPECT_TRUE(rows->empty());
  EXPECT_GT(sampler.poll_timeout_ms(), 900);
}

std::vector<MetricRow> sample_rows() {
  std::vector<MetricRow> rows;
  auto gpu = [&](double t, int g, int util, long long mem, double w) {
    MetricRow r;
    r.job = "train";
    r.t = t;
    r.gpu = g;
    r.util = util;
    r.mem_mib = mem;
    r.power_w = w;
    r.temp_c = 50;
    rows.push_back(r);
  };
  auto proc = [&](const std::string& job, double t, std::optional<double> cpu, long long rss) {
    MetricRow r;
    r.job = job;
    r.t = t;
    r.cpu_pct = cpu;
    r.rss_kb = rss;
    rows.push_back(r);
  };
  proc("train", 1000, std::nullopt, 1000);
  gpu(1000, 0, 0, 0, 100);
  gpu(1000, 1, 20, 500, 100);
  proc("prep", 1000, std::nullopt, 300);
  proc("train", 1010, 100, 2048);
  gpu(1010, 0, 100, 1000, 300);
  gpu(1010, 1, 80, 700, 300);
  proc("prep", 1010, 50, 200);
  proc("train", 1020, 200, 1500);
  gpu(1020, 0, 100, 1000, 300);
  gpu(1020, 1, 100, 900, 300);
  return rows;
}

TEST(Summary, PerJob) {
  auto s = summarize(sample_rows());
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].job, "train");
  EXPECT_EQ(s[0].gpus, (std::vector<int>{0, 1}));
  EXPECT_DOUBLE_EQ(*s[0].util_mean, 400.0 / 6);
  EXPECT_EQ(*s[0].util_peak, 100);
  EXPECT_EQ(*s[0].mem_peak_mib, 1900);  // at t=1020, summed over both GPUs
  // Each GPU: trapezoids (100+300)/2*10 + 300*10 = 5000 J; both: 10000 J.
  EXPECT_NEAR(*s[0].energy_wh, 10000.0 / 3600, 1e-9);
  EXPECT_DOUBLE_EQ(*s[0].cpu_mean, 150);
  EXPECT_EQ(*s[0].rss_peak_kb, 2048);
  EXPECT_EQ(s[0].samples, 3);
  EXPECT_EQ(s[0].first, 1000);
  EXPECT_EQ(s[0].last, 1020);
  EXPECT_EQ(s[1].job, "prep");
  EXPECT_TRUE(s[1].gpus.empty());
  EXPECT_FALSE(s[1].util_mean);
  EXPECT_FALSE(s[1].energy_wh);
  EXPECT_EQ(*s[1].rss_peak_kb, 300);
}

TEST(Summary, Table) {
  EXPECT_EQ(
      summary_table(summarize(sample_rows())),
      "JOB    GPUS  UTIL MEAN  UTIL PEAK  GPU MEM PEAK  ENERGY   CPU MEAN  RSS PEAK  SAMPLES\n"
      "train  0,1   67%        100%       1.9 GiB       2.78 Wh  150%      2 MiB     3\n"
      "prep   -     -          -          -             -        50%       300 KiB   2\n");
}

TEST(Export, Csv) {
  auto rows = sample_rows();
  rows.resize(4);
  rows[2].power_w.reset();
  EXPECT_EQ(metrics_csv(rows),
            "job,t,gpu,util,mem_mib,power_w,temp_c,cpu_pct,rss_kb\n"
            "train,1000.000,,,,,,,1000\n"
            "train,1000.000,0,0,0,100.00,50,,\n"
            "train,1000.000,1,20,500,,50,,\n"
            "prep,1000.000,,,,,,,300\n");
}

TEST(Export, Json) {
  auto j = metrics_json(sample_rows());
  ASSERT_EQ(j["summary"].size(), 2u);
  EXPECT_EQ(j["summary"][0]["job"], "train");
  EXPECT_EQ(j["summary"][0]["util_peak_pct"], 100);
  EXPECT_EQ(j["summary"][0]["gpu_mem_peak_mib"], 1900);
  EXPECT_EQ(j["summary"][1]["energy_wh"], nullptr);
  ASSERT_EQ(j["samples"].size(), 11u);
  EXPECT_EQ(j["samples"][0]["gpu"], nullptr);
  EXPECT_EQ(j["samples"][1]["power_w"], 100.0);
}

TEST(Chart, Svg) {
  std::string svg = render_svg("train", sample_rows());
  EXPECT_EQ(
      svg.rfind(
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"",
          0),
      0u);
  EXPECT_NE(svg.find("Utilisation (%)"), std::string::npos);
  EXPECT_NE(svg.find("Memory (MiB)"), std::string::npos);
  EXPECT_NE(svg.find("Power (W)"), std::string::npos);
  EXPECT_NE(svg.find(">GPU 0</text>"), std::string::npos);
  EXPECT_NE(svg.find(">GPU 1</text>"), std::string::npos);
  EXPECT_NE(svg.find(">CPU (process tree)</text>"), std::string::npos);
  EXPECT_NE(svg.find(">20s</text>"), std::string::npos);  // the time axis
  // 3 GPU series per GPU + CPU + RSS.
  size_t lines = 0;
  for (size_t p = 0; (p = svg.find("<polyline", p)) != std::string::npos; ++p) ++lines;
  EXPECT_EQ(lines, 8u);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");

  std::string cpu_only = render_svg("prep", sample_rows());
  EXPECT_NE(cpu_only.find(">no data</text>"), std::string::npos);  // the power panel
  std::string escaped = render_svg("a<b&c", {});
  EXPECT_NE(escaped.find("Job a&lt;b&amp;c"), std::string::npos);
}

TEST(Chart, LongSeriesAreThinned) {
  std::vector<MetricRow> rows;
  for (int i = 0; i < 36000; ++i) {
    MetricRow r;
    r.job = "long";
    r.t = i;
    r.gpu = 0;
    r.util = i % 100;
    rows.push_back(r);
  }
  std::string svg = render_svg("long", rows);
  EXPECT_LT(svg.size(), 100000u);
  EXPECT_NE(svg.find(">10h00m</text>"), std::string::npos);
}

TEST(Chart, WriteJobCharts) {
  TempDir run;
  ASSERT_TRUE(write_job_charts(run.path(), sample_rows()));
  EXPECT_TRUE(fs::exists(run.path() + "/jobs/train/metrics.svg"));
  EXPECT_TRUE(fs::exists(run.path() + "/jobs/prep/metrics.svg"));
  MetricRow bad;
  bad.job = "../x";
  auto e = write_job_charts(run.path(), {bad});
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(), "job name '../x' cannot name a folder");
}

}  // namespace
}  // namespace wfrun::gpu
