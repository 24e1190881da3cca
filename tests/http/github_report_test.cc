#include "http/github_report.h"

#include <gtest/gtest.h>

#include "tests/http/peers.h"

namespace wfrun::http {
namespace {

TEST(GithubReport, RendersTheRunAsMarkdown) {
  EXPECT_EQ(
      render_run_report(testing::sample_run()),
      "### ❌ wfrun: train failed in 4m05s\n"
      "\n"
      "Run [r-42](https://ci.example.com/runs/42) · 3 jobs (1 success, 1 failure, 1 skipped)\n"
      "\n"
      "| Job | Status | Duration |\n"
      "| --- | --- | --- |\n"
      "| prepare | ✅ success | 12.3s |\n"
      "| fit | ❌ failure | 3m52s |\n"
      "| publish | ⏭️ skipped | – |\n"
      "\n"
      "#### Outputs\n"
      "\n"
      "| Job | Output | Value |\n"
      "| --- | --- | --- |\n"
      "| prepare | <code>rows</code> | <code>1000</code> |\n"
      "| prepare | <code>path</code> | <code>data/a&#124;b.csv</code> |\n");
}

TEST(GithubReport, RunningRunHasNoDurationAndNoOutputs) {
  EXPECT_EQ(render_run_report(testing::sample_start_run()),
            "### 🔄 wfrun: train is running\n"
            "\n"
            "Run [r-42](https://ci.example.com/runs/42) · 3 jobs (3 pending)\n"
            "\n"
            "| Job | Status | Duration |\n"
            "| --- | --- | --- |\n"
            "| prepare | ⏳ pending | – |\n"
            "| fit | ⏳ pending | – |\n"
            "| publish | ⏳ pending | – |\n");
}

TEST(GithubReport, CellsCannotBreakTheTable) {
  RunReport r;
  r.workflow = "w";
  r.state = "success";
  r.jobs = {{"a|b<script>", "success", 1, {{"k", "line1\nline2 " + std::string(300, 'x')}}}};
  const std::string md = render_run_report(r);
  EXPECT_NE(md.find("| a&#124;b&lt;script&gt; | ✅ success | 1.0s |"), std::string::npos) << md;
  EXPECT_NE(md.find("<code>line1 line2 xxx"), std::string::npos) << md;
  EXPECT_NE(md.find("</code> (cut) |"), std::string::npos) << md;
}

TEST(GithubReport, HugeOutputsStayUnderGithubsLimit) {
  RunReport r;
  r.workflow = "w";
  r.state = "success";
  JobReport j{"big", "success", 1, {}};
  for (int i = 0; i < 2000; ++i)
    j.outputs.emplace_back("o" + std::to_string(i), std::string(150, 'v'));
  r.jobs = {j};
  const std::string md = render_run_report(r);
  EXPECT_LT(md.size(), 65536u);
  EXPECT_NE(md.find("more outputs not shown."), std::string::npos);
}

TEST(GithubReport, StatusDescriptions) {
  EXPECT_EQ(status_description(testing::sample_run()), "job fit failed after 4m05s");
  EXPECT_EQ(status_description(testing::sample_start_run()), "running 3 jobs");
  RunReport ok = testing::sample_run();
  ok.state = "success";
  EXPECT_EQ(status_description(ok), "3 jobs succeeded in 4m05s");
  RunReport two = testing::sample_run();
  two.jobs[2].state = "failure";
  EXPECT_EQ(status_description(two), "2 jobs failed: fit, publish");
}

TEST(GithubReport, Marker) {
  GithubReportConfig c;
  EXPECT_EQ(report_marker(c), "<!-- wfrun-report: wfrun -->");
  c.status = "wfrun/ci";
  EXPECT_EQ(report_marker(c), "<!-- wfrun-report: wfrun/ci -->");
}

}  // namespace
}  // namespace wfrun::http
