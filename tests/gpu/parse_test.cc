// The nvidia-smi parsers on output captured on an H100 (fixtures/README.md).

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "engine/gpu/smi_parse.h"

namespace wfrun::gpu {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(GPU_FIXTURES) + "/" + name);
  EXPECT_TRUE(in) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(SmiNumber, UnitsAndMissingValues) {
  EXPECT_EQ(parse_smi_number("81559 MiB"), 81559);
  EXPECT_EQ(parse_smi_number(" 72.98 W"), 72.98);
  EXPECT_EQ(parse_smi_number("0 %"), 0);
  EXPECT_EQ(parse_smi_number("40"), 40);
  EXPECT_EQ(parse_smi_number("40 C"), 40);
  EXPECT_EQ(parse_smi_number("[N/A]"), std::nullopt);
  EXPECT_EQ(parse_smi_number("N/A"), std::nullopt);
  EXPECT_EQ(parse_smi_number("[Not Supported]"), std::nullopt);
  EXPECT_EQ(parse_smi_number(""), std::nullopt);
  EXPECT_EQ(parse_smi_number("-"), std::nullopt);
  EXPECT_EQ(parse_smi_number("GPU-0d1e"), std::nullopt);
}

TEST(QueryCsv, IdleWithHeaderUnitsAndNoUnits) {
  // Header + a line with units, then a noheader,nounits line of the same query.
  auto r = parse_query_gpu_csv(fixture("query-gpu-idle.csv"));
  ASSERT_TRUE(r) << r.error().str();
  ASSERT_EQ(r->size(), 2u);
  for (const auto& g : *r) {
    EXPECT_EQ(g.index, 0);
    EXPECT_EQ(g.uuid, "GPU-0d1e76f1-0e4f-1f45-cb8a-2af6db44694a");
    EXPECT_EQ(g.name, "NVIDIA H100 80GB HBM3");
    EXPECT_EQ(g.memory_total_mib, 81559);
    EXPECT_EQ(g.memory_used_mib, 0);
    EXPECT_EQ(g.utilization_pct, 0);
    EXPECT_DOUBLE_EQ(g.power_limit_w, 700.0);
    EXPECT_EQ(g.temperature_c, 40);
  }
  EXPECT_DOUBLE_EQ((*r)[0].power_w, 128.74);
  EXPECT_DOUBLE_EQ((*r)[1].power_w, 128.75);
}

TEST(QueryCsv, NoHeaderNoUnitsUsesTheQueryFields) {
  std::string idle = fixture("query-gpu-idle.csv");
  std::string last = idle.substr(idle.rfind("0, GPU-"));
  auto r = parse_query_gpu_csv(last);
  ASSERT_TRUE(r) << r.error().str();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ((*r)[0].memory_total_mib, 81559);
  EXPECT_DOUBLE_EQ((*r)[0].power_w, 128.75);
  EXPECT_EQ((*r)[0].temperature_c, 40);
}

TEST(QueryCsv, LoadStream) {
  auto r = parse_query_gpu_csv(fixture("query-gpu-load.csv"));
  ASSERT_TRUE(r) << r.error().str();
  ASSERT_EQ(r->size(), 10u);
  EXPECT_EQ((*r)[0].utilization_pct, 0);
  EXPECT_EQ((*r)[3].memory_used_mib, 1011);
  EXPECT_EQ((*r)[3].utilization_pct, 2);
  EXPECT_EQ((*r)[5].utilization_pct, 100);
  EXPECT_DOUBLE_EQ((*r)[5].power_w, 703.42);
  EXPECT_EQ((*r)[6].temperature_c, 65);
}

TEST(QueryCsv, NotAvailableValuesAreMinusOne) {
  auto r = parse_query_gpu_csv(
      "1, GPU-x, Tesla T4, 00000000:00:04.0, 535.1, 15360, [N/A], 15000, [N/A], [N/A], "
      "[N/A], [Not Supported], 33, 300, 5000\n");
  ASSERT_TRUE(r) << r.error().str();
  ASSERT_EQ(r->size(), 1u);
  const GpuInfo& g = (*r)[0];
  EXPECT_EQ(g.index, 1);
  EXPECT_EQ(g.memory_used_mib, -1);
  EXPECT_EQ(g.utilization_pct, -1);
  EXPECT_EQ(g.power_w, -1);
  EXPECT_EQ(g.power_limit_w, -1);
  EXPECT_EQ(g.temperature_c, 33);
}

TEST(QueryCsv, WrongColumnCountIsAnError) {
  auto r = parse_query_gpu_csv("0, GPU-x, Tesla T4\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "nvidia-smi output line 1 has 3 values, expected 15: 0, GPU-x, Tesla T4");
}

TEST(QueryCsv, EmptyOutputIsNoGpu) {
  auto r = parse_query_gpu_csv("");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
}

TEST(QueryCsv, AppsQueryIsHeaderOnly) {
  // In a container, --query-compute-apps lists nothing even under load: usage is tied to jobs
  // through their assigned GPUs, never through PIDs.
  auto r = parse_query_gpu_csv(fixture("query-apps-load.csv"), "pid,process_name,gpu_uuid");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
}

TEST(SmiXml, H100) {
  auto r = parse_smi_xml(fixture("nvidia-smi-q.xml"));
  ASSERT_TRUE(r) << r.error().str();
  ASSERT_EQ(r->size(), 1u);
  const GpuInfo& g = (*r)[0];
  EXPECT_EQ(g.index, 0);
  EXPECT_EQ(g.name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(g.uuid, "GPU-0d1e76f1-0e4f-1f45-cb8a-2af6db44694a");
  EXPECT_EQ(g.memory_total_mib, 81559);  // fb_memory_usage, not bar1 (131072)
  EXPECT_EQ(g.memory_used_mib, 0);
  EXPECT_EQ(g.utilization_pct, 0);
  EXPECT_EQ(g.temperature_c, 40);
  EXPECT_DOUBLE_EQ(g.power_w, 128.38);  // instant_power_draw
  EXPECT_DOUBLE_EQ(g.power_limit_w, 700.0);
}

TEST(SmiXml, OlderDriversPowerReadings) {
  auto r = parse_smi_xml(
      "<nvidia_smi_log><gpu id=\"1\"><product_name>Tesla V100-SXM2-16GB</product_name>"
      "<uuid>GPU-v</uuid><fb_memory_usage><total>16160 MiB</total><used>3 MiB</used>"
      "</fb_memory_usage><utilization><gpu_util>7 %</gpu_util></utilization>"
      "<temperature><gpu_temp>31 C</gpu_temp></temperature><power_readings>"
      "<power_draw>41.20 W</power_draw><power_limit>300.00 W</power_limit>"
      "<enforced_power_limit>250.00 W</enforced_power_limit></power_readings></gpu>"
      "<gpu id=\"2\"><product_name>A &amp; B</product_name></gpu></nvidia_smi_log>");
  ASSERT_TRUE(r) << r.error().str();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].name, "Tesla V100-SXM2-16GB");
  EXPECT_EQ((*r)[0].memory_used_mib, 3);
  EXPECT_EQ((*r)[0].utilization_pct, 7);
  EXPECT_DOUBLE_EQ((*r)[0].power_w, 41.2);
  EXPECT_DOUBLE_EQ((*r)[0].power_limit_w, 250.0);
  EXPECT_EQ((*r)[1].index, 1);
  EXPECT_EQ((*r)[1].name, "A & B");
  EXPECT_EQ((*r)[1].memory_total_mib, -1);
}

TEST(SmiXml, NotXml) {
  auto r = parse_smi_xml("No devices were found");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "not nvidia-smi -q -x output (no <nvidia_smi_log>)");
}

TEST(Dmon, LoadCapture) {
  auto v = parse_dmon(fixture("dmon-load.txt"));
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].index, 0);
  EXPECT_DOUBLE_EQ(v[0].power_w, 71);
  EXPECT_EQ(v[0].temperature_c, 39);
  EXPECT_EQ(v[0].utilization_pct, 0);
  EXPECT_EQ(v[0].memory_used_mib, -1);  // the default columns have no fb
  EXPECT_DOUBLE_EQ(v[2].power_w, 700);
  EXPECT_EQ(v[2].utilization_pct, 100);
  EXPECT_EQ(v[3].temperature_c, 61);
}

TEST(Dmon, ColumnsFollowTheHeader) {
  DmonParser p;
  EXPECT_FALSE(p.feed("# gpu     fb   bar1   ccpm     sm    mem    pwr  gtemp"));
  EXPECT_FALSE(p.feed("# Idx     MB     MB     MB      %      %      W      C"));
  auto g = p.feed("    1   1011      5      0     97     30    650     66");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->index, 1);
  EXPECT_EQ(g->memory_used_mib, 1011);
  EXPECT_EQ(g->utilization_pct, 97);
  EXPECT_DOUBLE_EQ(g->power_w, 650);
  EXPECT_EQ(g->temperature_c, 66);
  g = p.feed("    2      -      -      -      -      -      -      -");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->utilization_pct, -1);
  EXPECT_FALSE(p.feed(""));
}

}  // namespace
}  // namespace wfrun::gpu
