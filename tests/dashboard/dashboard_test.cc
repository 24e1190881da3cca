// The dashboard's handlers without a socket: access (token -> cookie, CSRF, Host, run keys),
// the runs API over a real run store, log windows and search, output files and notebooks.
#include "http/dashboard/dashboard.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/fs.h"
#include "engine/run_index.h"
#include "engine/store.h"
#include "http/dashboard/files.h"
#include "http/dashboard/local_source.h"
#include "http/dashboard/logs.h"

namespace wfrun::dashboard {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/wfrun-dash-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

/// A store with `n` finished runs (workflow "train" or "eval", alternating), each with jobs
/// a -> b.
std::int64_t fill(const std::string& state, int n) {
  auto store = engine::RunStore::open(state);
  EXPECT_TRUE(store) << store.error().str();
  std::int64_t last = 0;
  for (int i = 0; i < n; ++i) {
    const std::string wf = i % 2 ? "eval" : "train";
    engine::RunTrigger trig;
    if (i % 2) trig = {"push", "acme/ml", "refs/heads/dev", std::string(40, 'c'), 0};
    auto r = store->create_run(wf, "/w/" + wf + ".yaml", trig);
    EXPECT_TRUE(r);
    // What `wfrun run` records for Re-run: the workflow file (here beside the state dir).
    const std::string file = fs::path(state).parent_path().string() + "/" + wf + ".yaml";
    write(file, "jobs: {}\n");
    write(r->dir + "/invocation.json",
          json({{"workflow_file", file}, {"inputs", {{"rows", "10"}}}}).dump());
    write(r->dir + "/workflow.yaml",
          "jobs:\n  a: {uses: script@v1, with: {script: \"true\"}}\n"
          "  b: {uses: script@v1, needs: a, with: {script: \"true\"}, outputs: {model: {type: volume}}}\n");
    engine::JobResult a, b;
    a.name = "a";
    a.state = engine::JobState::kSucceeded;
    a.started = 100;
    a.finished = 110;
    a.gpus = {0};
    a.log_path = r->dir + "/jobs/a/log";
    write(a.log_path, "hello from a\n");
    b.name = "b";
    b.state = engine::JobState::kFailed;
    b.exit_code = 3;
    b.log_path = r->dir + "/jobs/b/log";
    write(b.log_path, "");
    write(r->dir + "/jobs/b/outputs/model/weights.bin", "0123");
    EXPECT_TRUE(store->update_jobs(r->id, {&a, &b}));
    engine::RunRecord rec = *r;
    rec.state = engine::RunState::kFailed;
    rec.started = 100;
    rec.finished = 130;
    EXPECT_TRUE(store->update_run(rec));
    last = r->id;
  }
  return last;
}

struct Fixture {
  TempDir dir;
  std::unique_ptr<LocalRunSource> source;
  std::unique_ptr<Dashboard> dash;
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> launched;

  explicit Fixture(int runs, Options opts = {}) {
    fill(dir / "state", runs);
    auto idx = engine::RunIndex::open(dir / "state");
    EXPECT_TRUE(idx);
    source = std::make_unique<LocalRunSource>(std::move(*idx), [this](const std::string& f, const auto& in) {
      launched.emplace_back(f, in);
      return Status();
    });
    dash = std::make_unique<Dashboard>(std::move(opts), *source, dir / "state");
  }

  Request req(std::string method, std::string path, std::map<std::string, std::string> params = {}) {
    Request r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.params = std::move(params);
    r.headers["host"] = "127.0.0.1:8765";
    return r;
  }
  /// A signed-in session's cookie and CSRF token.
  std::pair<std::string, std::string> sign_in() {
    const std::string token = dash->sessions().new_login_token();
    Response r = dash->handle(req("GET", "/", {{"token", token}}));
    EXPECT_EQ(r.status, 303);
    std::string cookie;
    for (const auto& [k, v] : r.headers)
      if (k == "Set-Cookie") cookie = v.substr(0, v.find(';'));
    Request s = req("GET", "/api/session");
    s.headers["cookie"] = cookie;
    Response sr = dash->handle(s);
    EXPECT_EQ(sr.status, 200) << sr.body;
    return {cookie, json::parse(sr.body).value("csrf", "")};
  }
  Response as(const std::pair<std::string, std::string>& who, Request r) {
    r.headers["cookie"] = who.first;
    return dash->handle(r);
  }
};

std::string header(const Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

TEST(DashboardAccess, WithoutASessionOnlyTheSignInPage) {
  Fixture f(1);
  Response page = f.dash->handle(f.req("GET", "/runs/1"));
  EXPECT_EQ(page.status, 200);
  EXPECT_TRUE(page.gzip);  // the app (no data in it), which shows the sign-in form
  EXPECT_NE(header(page, "Content-Security-Policy").find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(f.dash->handle(f.req("GET", "/api/session")).body, "{\"kind\":\"ui\",\"signed_in\":false}\n");
  for (const char* p : {"/api/runs", "/api/runs/1", "/api/runs/1/jobs/a/log", "/api/gpus", "/api/runs/facets",
                        "/api/events", "/api/runs/1/events", "/api/runs/1/jobs/b/outputs/model"}) {
    Response r = f.dash->handle(f.req("GET", p));
    EXPECT_EQ(r.status, 401) << p;
    EXPECT_EQ(r.body, "{\"error\":\"unauthorized\"}\n") << p;
  }
}

TEST(DashboardAccess, TheLinkTokenBecomesAnHttpOnlyCookieOnce) {
  Fixture f(1);
  const std::string token = f.dash->sessions().new_login_token();
  Response r = f.dash->handle(f.req("GET", "/runs/1", {{"token", token}}));
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(header(r, "Location"), "/runs/1");
  const std::string cookie = header(r, "Set-Cookie");
  EXPECT_EQ(cookie.rfind("wfrun_session=", 0), 0u);
  EXPECT_NE(cookie.find("; HttpOnly; SameSite=Strict; Path=/"), std::string::npos);
  EXPECT_EQ(cookie.find("Secure"), std::string::npos);
  // Used up: the same link again signs nobody in (it gets the sign-in page, and no cookie).
  Response again = f.dash->handle(f.req("GET", "/", {{"token", token}}));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(header(again, "Set-Cookie"), "");
  Request api = f.req("GET", "/api/runs");
  api.headers["cookie"] = "theme=dark; " + cookie.substr(0, cookie.find(';'));
  EXPECT_EQ(f.dash->handle(api).status, 200);
}

TEST(DashboardAccess, ChangesNeedTheCsrfTokenAndOurOrigin) {
  Fixture f(1);
  auto who = f.sign_in();
  Request post = f.req("POST", "/api/runs/1/rerun");
  EXPECT_EQ(f.as(who, post).status, 403);  // no token, no origin
  post.headers["x-csrf-token"] = who.second;
  post.headers["origin"] = "http://evil.example:8765";
  EXPECT_EQ(f.as(who, post).status, 403);
  post.headers["origin"] = "http://127.0.0.1:3000";  // same site, another origin
  EXPECT_EQ(f.as(who, post).status, 403);
  post.headers["origin"] = "http://127.0.0.1:8765";
  post.headers["x-csrf-token"] = std::string(who.second.size(), 'x');
  EXPECT_EQ(f.as(who, post).status, 403);
  post.headers["x-csrf-token"] = who.second;
  Response ok = f.as(who, post);
  EXPECT_EQ(ok.status, 202) << ok.body;
  ASSERT_EQ(f.launched.size(), 1u);
  EXPECT_EQ(f.launched[0].first, f.dir / "train.yaml");
  EXPECT_EQ(f.launched[0].second, (std::map<std::string, std::string>{{"rows", "10"}}));
}

TEST(DashboardAccess, OtherHostsAreRefused) {
  Fixture f(1);
  auto who = f.sign_in();
  Request r = f.req("GET", "/api/runs");
  r.headers["host"] = "attacker.example:8765";  // DNS rebinding: our port, their name
  EXPECT_EQ(f.as(who, r).status, 403);
  r.headers["host"] = "localhost:8765";
  EXPECT_EQ(f.as(who, r).status, 200);
  r.headers["host"] = "[::1]:8765";
  EXPECT_EQ(f.as(who, r).status, 200);
  // A sign-in through another name is refused too.
  Request link = f.req("GET", "/", {{"token", f.dash->sessions().new_login_token()}});
  link.headers["host"] = "attacker.example:8765";
  EXPECT_EQ(f.dash->handle(link).status, 403);
}

TEST(DashboardAccess, ARunKeyReadsThatRunOnly) {
  Options o;
  o.run_key = [](std::int64_t id, std::string_view key) { return id == 2 && key == "k2"; };
  Fixture f(3, o);
  EXPECT_EQ(f.dash->handle(f.req("GET", "/api/runs/2", {{"key", "k2"}})).status, 200);
  json who = json::parse(f.dash->handle(f.req("GET", "/api/session", {{"key", "k2"}, {"run", "2"}})).body);
  EXPECT_EQ(who["access"], "run");
  EXPECT_EQ(who["run"], 2);
  EXPECT_EQ(json::parse(f.dash->handle(f.req("GET", "/api/session", {{"key", "k2"}, {"run", "3"}})).body)["signed_in"], false);
  Response page = f.dash->handle(f.req("GET", "/runs/2", {{"key", "k2"}}));
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(f.dash->handle(f.req("GET", "/api/runs/2/jobs/a/log", {{"key", "k2"}, {"from", "-100"}})).status, 200);
  json run = json::parse(f.dash->handle(f.req("GET", "/api/runs/2", {{"key", "k2"}})).body);
  EXPECT_EQ(run["can_rerun"], false);
  EXPECT_EQ(f.dash->handle(f.req("GET", "/api/runs/3", {{"key", "k2"}})).status, 401);
  EXPECT_EQ(f.dash->handle(f.req("GET", "/api/runs", {{"key", "k2"}})).status, 401);
  EXPECT_EQ(f.dash->handle(f.req("GET", "/api/runs/2", {{"key", "k3"}})).status, 401);
  Response cancel = f.dash->handle(f.req("POST", "/api/runs/2/cancel", {{"key", "k2"}}));
  EXPECT_EQ(cancel.status, 401);
}

TEST(DashboardApi, RunsPageFiltersAndKeysetPaging) {
  Fixture f(7);
  auto who = f.sign_in();
  json p = json::parse(f.as(who, f.req("GET", "/api/runs", {{"limit", "3"}})).body);
  ASSERT_EQ(p["runs"].size(), 3u);
  EXPECT_EQ(p["runs"][0]["id"], 7);
  EXPECT_EQ(p["newer"], nullptr);
  EXPECT_EQ(p["older"], 5);
  json older = json::parse(f.as(who, f.req("GET", "/api/runs", {{"limit", "3"}, {"before", "5"}})).body);
  EXPECT_EQ(older["runs"][0]["id"], 4);
  EXPECT_EQ(older["newer"], 4);
  json newer = json::parse(f.as(who, f.req("GET", "/api/runs", {{"limit", "3"}, {"after", "4"}})).body);
  EXPECT_EQ(newer["runs"][0]["id"], 7);
  EXPECT_EQ(newer["runs"][2]["id"], 5);

  json evals = json::parse(f.as(who, f.req("GET", "/api/runs", {{"workflow", "eval"}})).body);
  ASSERT_EQ(evals["runs"].size(), 3u);
  const json& e = evals["runs"][0];
  EXPECT_EQ(e["trigger"], "push");
  EXPECT_EQ(e["repo"], "acme/ml");
  EXPECT_EQ(e["branch"], "dev");
  EXPECT_EQ(e["status"], "failed");
  EXPECT_EQ(e["duration_s"], 30);
  EXPECT_EQ(e["gpu_seconds"], 10);
  EXPECT_EQ(e["jobs"], 2);
  EXPECT_EQ(json::parse(f.as(who, f.req("GET", "/api/runs", {{"branch", "dev"}, {"trigger", "push"}})).body)["runs"].size(), 3u);
  EXPECT_EQ(json::parse(f.as(who, f.req("GET", "/api/runs", {{"branch", "main"}})).body)["runs"].size(), 0u);
  EXPECT_EQ(json::parse(f.as(who, f.req("GET", "/api/runs", {{"status", "succeeded"}})).body)["runs"].size(), 0u);

  Response bad = f.as(who, f.req("GET", "/api/runs", {{"limit", "0"}}));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["error"], "limit: expected a number from 1 to 500, got '0'");

  json facets = json::parse(f.as(who, f.req("GET", "/api/runs/facets")).body);
  EXPECT_EQ(facets["workflow"], json({"train", "eval"}));
  EXPECT_EQ(facets["branch"], json({"dev"}));
}

TEST(DashboardApi, ARunWithItsDagOutputsAndFiles) {
  Fixture f(1);
  auto who = f.sign_in();
  json run = json::parse(f.as(who, f.req("GET", "/api/runs/1")).body);
  ASSERT_EQ(run["workflows"].size(), 1u);
  const json& jobs = run["workflows"][0]["jobs"];
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[1]["name"], "b");
  EXPECT_EQ(jobs[1]["needs"], json({"a"}));
  EXPECT_EQ(jobs[1]["exit_code"], 3);
  EXPECT_EQ(jobs[0]["gpus"], json({0}));
  EXPECT_EQ(jobs[0]["log_size"], 13);
  EXPECT_EQ(jobs[1]["outputs"][0], json({{"name", "model"}, {"type", "volume"}, {"files", true}, {"value", nullptr}}));
  EXPECT_EQ(run["can_cancel"], false);

  json files = json::parse(f.as(who, f.req("GET", "/api/runs/1/jobs/b/outputs/model")).body);
  EXPECT_EQ(files["files"], json::parse(R"([{"path": "weights.bin", "size": 4}])"));
  Response dl = f.as(who, f.req("GET", "/api/runs/1/jobs/b/outputs/model/file", {{"path", "weights.bin"}}));
  EXPECT_EQ(dl.status, 200);
  EXPECT_EQ(dl.stream_length, 4);
  EXPECT_EQ(header(dl, "Content-Disposition"), "attachment; filename=\"weights.bin\"");
  EXPECT_EQ(f.as(who, f.req("GET", "/api/runs/1/jobs/b/outputs/model/file", {{"path", "../../a/log"}})).status, 404);
  EXPECT_EQ(f.as(who, f.req("GET", "/api/runs/1/jobs/zz/log")).status, 404);
  EXPECT_EQ(f.as(who, f.req("GET", "/api/runs/9")).status, 404);

  Response cancel = f.as(who, [&] {
    Request r = f.req("POST", "/api/runs/1/cancel");
    r.headers["origin"] = "http://127.0.0.1:8765";
    r.headers["x-csrf-token"] = who.second;
    return r;
  }());
  EXPECT_EQ(cancel.status, 409);
  EXPECT_EQ(json::parse(cancel.body)["error"], "run 1 already ended (failed)");
}

TEST(DashboardApi, CancelOfARunningRunAsksItsEngine) {
  Fixture f(1);
  auto store = engine::RunStore::open(f.dir / "state");
  auto r = store->create_run("live", "/w/live.yaml");
  engine::RunRecord rec = *r;
  rec.state = engine::RunState::kRunning;
  ASSERT_TRUE(store->update_run(rec));
  auto who = f.sign_in();
  Request c = f.req("POST", "/api/runs/2/cancel");
  c.headers["origin"] = "http://127.0.0.1:8765";
  c.headers["x-csrf-token"] = who.second;
  Response res = f.as(who, c);
  EXPECT_EQ(res.status, 202) << res.body;
  EXPECT_TRUE(fs::exists(r->dir + "/cancel"));
  EXPECT_EQ(json::parse(f.as(who, f.req("GET", "/api/runs/2")).body)["cancel_requested"], true);
}

/// Collects what a streamed response writes.
class Collect : public StreamSink {
 public:
  bool write(std::string_view d) override {
    out.append(d);
    return true;
  }
  std::string out;
};

TEST(DashboardEvents, StreamsAreCappedAndGiveTheirSlotBack) {
  Options o;
  o.max_streams = 1;
  o.stream_seconds = 0.3;
  Fixture f(2, o);
  auto who = f.sign_in();
  std::optional<Response> first = f.as(who, f.req("GET", "/api/events"));
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->type, "text/event-stream");
  Response second = f.as(who, f.req("GET", "/api/events"));
  EXPECT_EQ(second.status, 503);
  EXPECT_EQ(header(second, "Retry-After"), "5");
  Collect sink;
  first->stream(sink);  // runs until stream_seconds have passed
  EXPECT_NE(sink.out.find("retry: 1000\n\nevent: runs\ndata: {\"newer\":null,\"older\":null,\"runs\":[{"),
            std::string::npos)
      << sink.out;
  first.reset();
  EXPECT_EQ(f.as(who, f.req("GET", "/api/events")).status, 200);
}

TEST(DashboardEvents, ARunStreamSendsTheRunThenTheLogFromAnOffset) {
  Options o;
  o.stream_seconds = 2;
  Fixture f(1, o);
  auto who = f.sign_in();
  // "hello from a\n": from byte 6 on.
  Response r = f.as(who, f.req("GET", "/api/runs/1/events", {{"job", "a"}, {"log", "6"}}));
  ASSERT_EQ(r.status, 200);
  Collect sink;
  r.stream(sink);  // the run has ended: the stream says so and stops
  EXPECT_NE(sink.out.find("event: run\ndata: {"), std::string::npos) << sink.out;
  EXPECT_NE(sink.out.find("id: 13\nevent: log\ndata: {\"end\":13,\"size\":13,\"start\":6,\"text\":\"from a\\n\"}"),
            std::string::npos)
      << sink.out;
  EXPECT_NE(sink.out.find("event: end\n"), std::string::npos) << sink.out;
}

TEST(DashboardApi, JobAddresses) {
  EXPECT_EQ(job_address("train", ""), std::make_pair(std::string(""), std::string("train")));
  EXPECT_EQ(job_address("1.train", ""), std::make_pair(std::string("#1"), std::string("train")));
  EXPECT_EQ(job_address("train", "a.yaml"), std::make_pair(std::string("a.yaml"), std::string("train")));
  // Names from a store no parser checked (dots and all) are names.
  EXPECT_EQ(job_address("x=window.y", ""), std::make_pair(std::string(""), std::string("x=window.y")));
  EXPECT_EQ(job_address("1234.a", ""), std::make_pair(std::string(""), std::string("1234.a")));
}

TEST(DashboardLogs, TailWindowsEndAtLineEnds) {
  TempDir d;
  const std::string p = d / "log";
  std::string text;
  for (int i = 1; i <= 1000; ++i) text += "line " + std::to_string(i) + "\n";
  write(p, text + "half");
  auto tail = read_log_window(p, -100, -1, 1 << 20, false);
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail->size, static_cast<long long>(text.size() + 4));
  EXPECT_EQ(tail->text.substr(0, 5), "line ");  // starts at a line start
  EXPECT_EQ(tail->text.back(), '\n');            // the half-written line waits
  EXPECT_EQ(tail->end, static_cast<long long>(text.size()));
  auto done = read_log_window(p, -100, -1, 1 << 20, true);
  EXPECT_EQ(done->text.substr(done->text.size() - 4), "half");
  auto head = read_log_window(p, 0, 30, 1 << 20, false);
  EXPECT_EQ(head->text, "line 1\nline 2\nline 3\nline 4\n");
  auto capped = read_log_window(p, 0, -1, 64, false);
  EXPECT_LE(capped->text.size(), 64u);
  EXPECT_EQ(capped->end, static_cast<long long>(text.size()));
  auto missing = read_log_window(d / "nope", -10, -1, 100, false);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->size, 0);
}

TEST(DashboardLogs, SearchFindsLinesWithTheirNumbers) {
  TempDir d;
  std::string text;
  for (int i = 1; i <= 200000; ++i) text += (i % 50000 == 0 ? "Epoch DONE " : "step ") + std::to_string(i) + "\n";
  write(d / "log", text);
  auto s = search_log(d / "log", "epoch done", 10);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->hits.size(), 4u);
  EXPECT_EQ(s->hits[0].line, 50000);
  EXPECT_EQ(s->hits[0].text, "Epoch DONE 50000");
  EXPECT_EQ(s->hits[3].line, 200000);
  EXPECT_EQ(text.substr(static_cast<size_t>(s->hits[1].offset), 16), "Epoch DONE 10000");
  EXPECT_FALSE(s->truncated);
  auto few = search_log(d / "log", "step 1", 3);
  EXPECT_EQ(few->hits.size(), 3u);
  EXPECT_TRUE(few->truncated);
}

TEST(DashboardFiles, NothingOutsideTheOutputFolder) {
  TempDir d;
  write(d / "out/a.txt", "a");
  write(d / "secret", "s");
  fs::create_symlink(d / "secret", d / "out/link");
  EXPECT_TRUE(file_inside(d / "out", "a.txt"));
  EXPECT_FALSE(file_inside(d / "out", "../secret"));
  EXPECT_FALSE(file_inside(d / "out", "link"));
  EXPECT_FALSE(file_inside(d / "out", "/etc/passwd"));
  EXPECT_FALSE(file_inside(d / "out", ""));
  bool truncated = false;
  auto list = list_files(d / "out", 10, &truncated);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);  // the symlink is not listed
}

TEST(DashboardFiles, NotebookHtmlEscapesCodeAndDropsRawHtmlInMarkdown) {
  const std::string nb = R"NB({"cells": [
    {"cell_type": "markdown", "source": ["# Title\n", "<script>alert(1)</script>\n", "\n", "*ok* <b>bold</b>"]},
    {"cell_type": "code", "execution_count": 3, "source": "print('<b>')",
     "outputs": [{"output_type": "stream", "name": "stdout", "text": ["<b>\n"]},
                 {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo=\n"}},
                 {"output_type": "error", "ename": "E", "evalue": "v", "traceback": ["\u001b[31mE\u001b[0m: <v>"]}]},
    {"cell_type": 7}, "not a cell"]})NB";
  auto html = notebook_html(nb, "n<1>.ipynb");
  ASSERT_TRUE(html) << html.error().str();
  EXPECT_NE(html->find("<h1>Title</h1>"), std::string::npos);
  EXPECT_EQ(html->find("<script>"), std::string::npos);
  EXPECT_NE(html->find("<em>ok</em> <!-- raw HTML omitted -->bold"), std::string::npos) << *html;
  EXPECT_NE(html->find("print(&#39;&lt;b&gt;&#39;)"), std::string::npos);
  EXPECT_NE(html->find("In [3]:"), std::string::npos);
  EXPECT_NE(html->find("src=\"data:image/png;base64,iVBORw0KGgo=\""), std::string::npos);
  EXPECT_NE(html->find("E: &lt;v&gt;"), std::string::npos);
  EXPECT_NE(html->find("<title>n&lt;1&gt;.ipynb</title>"), std::string::npos);
  EXPECT_FALSE(notebook_html("[1]", "x"));
  EXPECT_EQ(notebook_html("{}", "x").error().message(),
            "not a notebook this page can show: no `cells` array (nbformat 4)");
}

}  // namespace
}  // namespace wfrun::dashboard
