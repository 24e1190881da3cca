#include "http/github_report.h"

#include "base/strings.h"

namespace wfrun::http {

namespace {

constexpr size_t kMaxValueChars = 200;
constexpr size_t kMaxCommentChars = 60000;  // GitHub's limit is 65536

std::string icon(const std::string& state) {
  if (state == "success") return "✅";
  if (state == "failure") return "❌";
  if (state == "cancelled") return "⏹️";
  if (state == "skipped") return "⏭️";
  if (state == "running") return "🔄";
  if (state == "pending") return "⏳";
  return "❔";
}

std::string verb(const std::string& state) {
  if (state == "success") return "succeeded";
  if (state == "failure") return "failed";
  if (state == "cancelled") return "was cancelled";
  if (state == "running") return "is running";
  if (state == "pending") return "is pending";
  return state;
}

// Text for a GFM table cell: no line breaks, `|` escaped, HTML kept inert.
std::string cell(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '|':
        out += "&#124;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '\n':
        out += ' ';
        break;
      case '\r':
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string code_cell(std::string_view s) {
  std::string v(s);
  bool cut = false;
  if (v.size() > kMaxValueChars) {
    v.resize(kMaxValueChars);
    // Do not cut a UTF-8 sequence in half.
    while (!v.empty() && (static_cast<unsigned char>(v.back()) & 0xC0) == 0x80) v.pop_back();
    if (!v.empty() && (static_cast<unsigned char>(v.back()) & 0x80)) v.pop_back();
    cut = true;
  }
  return "<code>" + cell(v) + "</code>" + (cut ? " (cut)" : "");
}

int count(const RunReport& run, const std::string& state) {
  int n = 0;
  for (const auto& j : run.jobs) n += j.state == state;
  return n;
}

std::string plural(int n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

std::string report_marker(const GithubReportConfig& config) {
  return "<!-- wfrun-report: " + (config.status.empty() ? std::string("wfrun") : config.status) +
         " -->";
}

std::string status_description(const RunReport& run) {
  const int total = static_cast<int>(run.jobs.size());
  const std::string d = format_duration(run.duration_s);
  if (run.state == "pending" || run.state == "running") return "running " + plural(total, "job");
  if (run.state == "success") return plural(total, "job") + " succeeded in " + d;
  std::vector<std::string> failed;
  for (const auto& j : run.jobs) {
    if (j.state == "failure") failed.push_back(j.name);
  }
  if (run.state == "failure" && failed.size() == 1) {
    return "job " + failed[0] + " failed after " + d;
  }
  if (run.state == "failure" && !failed.empty()) {
    return plural(static_cast<int>(failed.size()), "job") + " failed: " + join(failed, ", ");
  }
  return "run " + verb(run.state) + " after " + d;
}

std::string render_run_report(const RunReport& run) {
  std::string out =
      "### " + icon(run.state) + " wfrun: " + cell(run.workflow) + " " + verb(run.state);
  if (run.state != "running" && run.state != "pending") {
    out += " in " + format_duration(run.duration_s);
  }
  out += "\n\n";
  std::vector<std::string> facts;
  if (!run.run_id.empty()) {
    facts.push_back(run.url.empty() ? "Run `" + run.run_id + "`"
                                    : "Run [" + cell(run.run_id) + "](" + run.url + ")");
  } else if (!run.url.empty()) {
    facts.push_back("[Run](" + run.url + ")");
  }
  std::vector<std::string> counts;
  for (const char* s : {"success", "failure", "cancelled", "skipped", "running", "pending"}) {
    if (int n = count(run, s)) counts.push_back(std::to_string(n) + " " + s);
  }
  facts.push_back(plural(static_cast<int>(run.jobs.size()), "job") +
                  (counts.empty() ? "" : " (" + join(counts, ", ") + ")"));
  out += join(facts, " · ") + "\n";
  if (!run.jobs.empty()) {
    out += "\n| Job | Status | Duration |\n| --- | --- | --- |\n";
    for (const auto& j : run.jobs) {
      out += "| " + cell(j.name) + " | " + icon(j.state) + " " + cell(j.state) + " | " +
             (j.state == "skipped" || j.state == "pending" ? std::string("–")
                                                           : format_duration(j.duration_s)) +
             " |\n";
    }
  }
  bool any_outputs = false;
  for (const auto& j : run.jobs) any_outputs |= !j.outputs.empty();
  if (any_outputs) {
    out += "\n#### Outputs\n\n| Job | Output | Value |\n| --- | --- | --- |\n";
    size_t omitted = 0;
    for (const auto& j : run.jobs) {
      for (const auto& [k, v] : j.outputs) {
        std::string row =
            "| " + cell(j.name) + " | " + code_cell(k) + " | " + code_cell(v) + " |\n";
        if (out.size() + row.size() > kMaxCommentChars) {
          ++omitted;
          continue;
        }
        out += row;
      }
    }
    if (omitted) out += "\n" + plural(static_cast<int>(omitted), "more output") + " not shown.\n";
  }
  return out;
}

GithubClient make_report_client(const GithubReportConfig& config, ClientOptions base) {
  base.base_url = config.api_url.empty() ? "https://api.github.com" : config.api_url;
  base.auth = Auth{config.token, config.app};
  if (base.auth.app && base.auth.app->repo.empty()) base.auth.app->repo = config.repo;
  return GithubClient(std::move(base));
}

namespace {

std::string status_state(const std::string& run_state) {
  if (run_state == "success") return "success";
  if (run_state == "failure") return "failure";
  if (run_state == "pending" || run_state == "running") return "pending";
  return "error";  // cancelled and anything unexpected: statuses know no other state
}

std::string conclusion(const std::string& run_state) {
  if (run_state == "success" || run_state == "failure" || run_state == "cancelled" ||
      run_state == "skipped") {
    return run_state;
  }
  return "neutral";
}

Result<void> need_sha(const ReportTarget& t) {
  if (t.sha.empty())
    return Error("github: the run's commit is unknown, so there is nothing to report on");
  return {};
}

}  // namespace

Result<ReportState> report_run_start(GithubClient& client, const GithubReportConfig& config,
                                     const ReportTarget& target, const RunReport& run) {
  ReportState st;
  if (config.status.empty()) return st;
  if (auto s = need_sha(target); !s) return s.error();
  auto repo = Repo::parse(config.repo);
  if (!repo) return repo.error().context("github.repo");
  if (client.is_app()) {
    CheckRun cr;
    cr.name = config.status;
    cr.head_sha = target.sha;
    cr.status = "in_progress";
    cr.details_url = run.url;
    cr.title = "wfrun: " + status_description(run);
    cr.summary = render_run_report(run);
    auto id = client.create_check_run(*repo, cr);
    if (!id) return id.error().context("github: starting check run '" + config.status + "'");
    st.check_run_id = *id;
    return st;
  }
  CommitStatus s{"pending", config.status, status_description(run), run.url};
  auto r = client.create_status(*repo, target.sha, s);
  if (!r) return r.error().context("github: setting status '" + config.status + "'");
  return st;
}

Result<void> report_run_finish(GithubClient& client, const GithubReportConfig& config,
                               const ReportTarget& target, const RunReport& run,
                               const ReportState& state) {
  auto repo = Repo::parse(config.repo);
  if (!repo) return repo.error().context("github.repo");
  const std::string report = render_run_report(run);
  if (!config.status.empty()) {
    if (auto s = need_sha(target); !s) return s.error();
    if (client.is_app()) {
      CheckRun cr;
      cr.name = config.status;
      cr.head_sha = target.sha;
      cr.status = "completed";
      cr.conclusion = conclusion(run.state);
      cr.details_url = run.url;
      cr.title = "wfrun: " + status_description(run);
      cr.summary = report;
      if (state.check_run_id) {
        auto r = client.update_check_run(*repo, state.check_run_id, cr);
        if (!r) return r.error().context("github: completing check run '" + config.status + "'");
      } else {
        auto r = client.create_check_run(*repo, cr);
        if (!r) return r.error().context("github: creating check run '" + config.status + "'");
      }
    } else {
      CommitStatus s{status_state(run.state), config.status, status_description(run), run.url};
      auto r = client.create_status(*repo, target.sha, s);
      if (!r) return r.error().context("github: setting status '" + config.status + "'");
    }
  }
  if (config.comment) {
    CommentTarget ct;
    ct.issue_number = target.pull_request;
    if (!ct.issue_number && !target.branch.empty()) {
      auto pr = client.find_pull_by_head(*repo, target.branch);
      if (!pr) return pr.error().context("github: finding the pull request for " + target.branch);
      if (*pr) ct.issue_number = (*pr)->number;
    }
    if (!ct.issue_number) {
      if (auto s = need_sha(target); !s) return s.error();
      ct.commit_sha = target.sha;
    }
    auto c = client.upsert_comment(*repo, ct, report_marker(config), report);
    if (!c) return c.error().context("github: posting the run report");
  }
  return {};
}

}  // namespace wfrun::http
