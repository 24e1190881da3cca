#pragma once
// A stand-in for the few GitHub REST calls `wfrun serve` polling makes (GET
// .../git/matching-refs/heads|tags, .../pulls?state=open, .../git/commits/SHA,
// .../git/tags/SHA), answered from a real bare git repository per repository: branches and
// tags are its refs/heads and refs/tags, open pull requests its refs/pull/N/head (what GitHub
// itself keeps). A fake, because @octokit/fixtures-server replays fixed exchanges in order and
// cannot answer "whatever the repository holds now", with ETags, to a client polling on its
// own schedule. To keep it honest:
// - every request is checked against GitHub's OpenAPI description (method, path, query), and
//   every 200 answer against the operation's response schema; bodies are built from the
//   description's own examples with the repository's values filled in;
// - answers carry an ETag; a request whose If-None-Match matches gets a 304 with no body and
//   does not count against the rate limit, as on GitHub;
// - a wrong token gets 401 Bad credentials, and a repository can be made rate-limited (403,
//   x-ratelimit-remaining: 0, x-ratelimit-reset), GitHub's documented answers (synthetic: no
//   recording of them exists in @octokit/fixtures).
// What the repository shows is a snapshot taken by sync(): "GitHub has received the pushes".

#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/http/openapi_check.h"

namespace wfrun::serve::testing {

class GithubStandIn {
 public:
  struct Request {
    std::string repo, path, if_none_match;
    int status = 0;
    std::chrono::steady_clock::time_point at;
  };

  explicit GithubStandIn(const http::testing::OpenApiSpec& spec) : spec_(spec) {
    srv_.Get(".*", [this](const httplib::Request& req, httplib::Response& res) { answer(req, res); });
    port_ = srv_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { srv_.listen_after_bind(); });
    // httplib 0.11 has no wait_until_ready(): the socket is bound, so connections queue.
  }
  ~GithubStandIn() {
    srv_.stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  /// Serves OWNER/NAME from the bare repository `git_dir`, for `token`.
  void add_repo(const std::string& full_name, const std::string& git_dir, const std::string& token) {
    std::lock_guard lock(mu_);
    Repo& r = repos_[full_name];
    r.git_dir = git_dir;
    r.token = token;
    sync_locked(full_name);
  }
  /// Takes a new snapshot of the repository's refs (GitHub has seen the pushes).
  void sync(const std::string& full_name) {
    std::lock_guard lock(mu_);
    sync_locked(full_name);
  }
  void set_token(const std::string& full_name, const std::string& token) {
    std::lock_guard lock(mu_);
    repos_[full_name].token = token;
  }
  /// Every request for the repository answers 403 rate-limited until `seconds` from now.
  void rate_limit(const std::string& full_name, int seconds) {
    std::lock_guard lock(mu_);
    repos_[full_name].limited_until = std::time(nullptr) + seconds;
  }
  std::vector<Request> requests(const std::string& full_name = "") const {
    std::lock_guard lock(mu_);
    std::vector<Request> out;
    for (const auto& r : log_)
      if (full_name.empty() || r.repo == full_name) out.push_back(r);
    return out;
  }
  /// Requests that counted against the rate limit (everything but 304s).
  int counted(const std::string& full_name) const {
    int n = 0;
    for (const auto& r : requests(full_name)) n += r.status != 304;
    return n;
  }
  /// Problems found with requests or answers (empty when all fit GitHub's description).
  std::vector<std::string> problems() const {
    std::lock_guard lock(mu_);
    return problems_;
  }

 private:
  struct Repo {
    std::string git_dir, token;
    std::time_t limited_until = 0;
    std::vector<std::string> heads, tags, pulls;  // "REF SHA TYPE"
  };

  static std::string run(const std::string& cmd) {
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
      ::pclose(p);
    }
    return out;
  }
  static std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> out;
    size_t at = 0;
    while (at < s.size()) {
      size_t nl = s.find('\n', at);
      if (nl == std::string::npos) nl = s.size();
      if (nl > at) out.push_back(s.substr(at, nl - at));
      at = nl + 1;
    }
    return out;
  }
  void sync_locked(const std::string& name) {
    Repo& r = repos_[name];
    auto refs = [&](const char* ns) {
      return lines(run("git --git-dir='" + r.git_dir +
                       "' for-each-ref --format='%(refname) %(objectname) %(objecttype)' " + ns));
    };
    r.heads = refs("refs/heads");
    r.tags = refs("refs/tags");
    r.pulls = refs("refs/pull");
  }

  static std::string etag_of(const std::string& body) {
    return "W/\"" + std::to_string(std::hash<std::string>()(body)) + "\"";
  }

  nlohmann::json ref_object(const std::string& base, const std::string& line) const {
    char ref[512], sha[64], type[32];
    if (std::sscanf(line.c_str(), "%511s %63s %31s", ref, sha, type) != 3) return nullptr;
    return {{"ref", ref},
            {"node_id", "MDM6UmVmcmVmcy9oZWFkcy9mZWF0dXJlQQ=="},
            {"url", base + "/git/" + ref},
            {"object", {{"type", type}, {"sha", sha}, {"url", base + "/git/commits/" + sha}}}};
  }

  nlohmann::json pull_object(const std::string& full_name, const std::string& base,
                             const std::string& line) const {
    char ref[512], sha[64], type[32];
    if (std::sscanf(line.c_str(), "%511s %63s %31s", ref, sha, type) != 3) return nullptr;
    int number = 0;
    if (std::sscanf(ref, "refs/pull/%d/head", &number) != 1) return nullptr;
    nlohmann::json p = spec_.example("pull-request-simple-items")[0];
    // The description's own example breaks its schema here (a team without `type`).
    p["requested_teams"] = nlohmann::json::array();
    p["number"] = number;
    p["url"] = base + "/pulls/" + std::to_string(number);
    p["state"] = "open";
    p["head"]["sha"] = sha;
    p["head"]["ref"] = "feature-" + std::to_string(number);
    p["head"]["label"] = full_name.substr(0, full_name.find('/')) + ":feature-" + std::to_string(number);
    p["head"]["repo"]["full_name"] = full_name;
    p["base"]["ref"] = "main";
    p["base"]["repo"]["full_name"] = full_name;
    return p;
  }

  nlohmann::json object_json(const Repo& r, const std::string& base, const std::string& kind,
                             const std::string& sha) const {
    const std::string gd = "git --git-dir='" + r.git_dir + "' ";
    if (run(gd + "cat-file -t " + sha + " 2>/dev/null") != kind + "\n") return nullptr;
    if (kind == "tag") {
      nlohmann::json t = spec_.example("git-tag");
      t["sha"] = sha;
      t["url"] = base + "/git/tags/" + sha;
      std::string tag_name = run(gd + "cat-file tag " + sha);
      tag_name = tag_name.substr(tag_name.find("\ntag ") + 5);
      t["tag"] = tag_name.substr(0, tag_name.find('\n'));
      const std::string target = run(gd + "rev-parse " + sha + "^{}");
      t["object"] = {{"sha", target.substr(0, 40)}, {"type", "commit"}, {"url", base + "/git/commits/" + target.substr(0, 40)}};
      return t;
    }
    nlohmann::json c = spec_.example("git-commit-2");
    c["sha"] = sha;
    c["url"] = base + "/git/commits/" + sha;
    std::string message = run(gd + "log -1 --format=%B " + sha);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    c["message"] = message;
    c["tree"]["sha"] = run(gd + "rev-parse " + sha + "^{tree}").substr(0, 40);
    return c;
  }

  void answer(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    const std::string target = req.target;
    // /repos/OWNER/NAME/...
    static const std::regex kRepo("^/repos/([^/]+/[^/]+)(/[^?]*)");
    std::smatch m;
    Request rec{"", req.path, req.get_header_value("If-None-Match"), 0, std::chrono::steady_clock::now()};
    auto done = [&](int status, const std::string& body, const std::string& etag = "") {
      rec.status = status;
      res.status = status;
      if (!etag.empty()) res.set_header("ETag", etag);
      res.set_header("X-RateLimit-Limit", "5000");
      res.set_header("X-RateLimit-Remaining", "4999");
      res.set_header("X-RateLimit-Reset", std::to_string(std::time(nullptr) + 3600));
      if (!body.empty()) res.set_content(body, "application/json; charset=utf-8");
      if (status == 200)
        for (auto& e : spec_.check_response("GET", req.path, status, body)) problems_.push_back(e);
      log_.push_back(rec);
    };
    for (auto& e : spec_.check("GET", target, "")) problems_.push_back("GET " + target + ": " + e);
    if (req.get_header_value("Accept") != "application/vnd.github+json")
      problems_.push_back("GET " + target + ": Accept is '" + req.get_header_value("Accept") + "'");
    if (!std::regex_search(req.path, m, kRepo) || !repos_.count(m[1].str()))
      return done(404, R"({"message":"Not Found","documentation_url":"https://docs.github.com/rest"})");
    const std::string name = m[1].str(), rest = m[2].str();
    rec.repo = name;
    Repo& r = repos_[name];
    if (req.get_header_value("Authorization") != "Bearer " + r.token)
      return done(401, R"({"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"})");
    if (std::time(nullptr) < r.limited_until) {
      rec.status = 403;
      res.status = 403;
      res.set_header("X-RateLimit-Limit", "5000");
      res.set_header("X-RateLimit-Remaining", "0");
      res.set_header("X-RateLimit-Reset", std::to_string(r.limited_until));
      res.set_content(R"({"message":"API rate limit exceeded for user ID 1.","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"})",
                      "application/json; charset=utf-8");
      log_.push_back(rec);
      return;
    }
    const std::string base = url() + "/repos/" + name;
    nlohmann::json body;
    if (rest == "/git/matching-refs/heads" || rest == "/git/matching-refs/tags") {
      body = nlohmann::json::array();
      for (const auto& l : rest.ends_with("heads") ? r.heads : r.tags) body.push_back(ref_object(base, l));
    } else if (rest == "/pulls") {
      body = nlohmann::json::array();
      for (const auto& l : r.pulls) {
        auto p = pull_object(name, base, l);
        if (!p.is_null()) body.push_back(p);
      }
    } else if (rest.starts_with("/git/commits/") || rest.starts_with("/git/tags/")) {
      const bool tag = rest.starts_with("/git/tags/");
      body = object_json(r, base, tag ? "tag" : "commit", rest.substr(rest.rfind('/') + 1));
      if (body.is_null()) return done(404, R"({"message":"Not Found","documentation_url":"https://docs.github.com/rest"})");
    } else {
      return done(404, R"({"message":"Not Found","documentation_url":"https://docs.github.com/rest"})");
    }
    const std::string text = body.dump();
    const std::string etag = etag_of(text);
    if (rec.if_none_match == etag) return done(304, "", etag);
    done(200, text, etag);
  }

  const http::testing::OpenApiSpec& spec_;
  httplib::Server srv_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::map<std::string, Repo> repos_;
  std::vector<Request> log_;
  std::vector<std::string> problems_;
};

}  // namespace wfrun::serve::testing
