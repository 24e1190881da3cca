// What a poll's listing means: which heads changed (diff_heads) and the synthetic payloads
// that stand in for GitHub's push and pull_request deliveries.

#include <set>

#include "base/strings.h"
#include "http/serve/poller.h"

namespace wfrun::serve {

namespace {

using nlohmann::json;

const std::string kZeroSha(40, '0');

std::string pull_closed_ref(const std::string& head_ref) {
  // refs/pull/N/head -> refs/pull/N/closed
  return head_ref.substr(0, head_ref.size() - 4) + "closed";
}

/// https://github.com for api.github.com; https://HOST for Enterprise's https://HOST/api/v3.
std::string web_base(const std::string& api) {
  std::string b = api;
  while (!b.empty() && b.back() == '/') b.pop_back();
  if (b == "https://api.github.com") return "https://github.com";
  if (b.ends_with("/api/v3")) return b.substr(0, b.size() - 7);
  return b;
}

json repository(const RepoConfig& repo, const ServerConfig& config) {
  const auto slash = repo.full_name.find('/');
  const std::string web = web_base(config.github_api) + "/" + repo.full_name;
  return {{"full_name", repo.full_name},
          {"name", repo.full_name.substr(slash + 1)},
          {"owner", {{"login", repo.full_name.substr(0, slash)}, {"name", repo.full_name.substr(0, slash)}}},
          {"html_url", web},
          {"clone_url", repo.clone_url.empty() ? web + ".git" : repo.clone_url}};
}

json person(const json& commit, const char* who) {
  if (!commit.is_object() || !commit.contains(who) || !commit[who].is_object()) return json::object();
  const json& p = commit[who];
  json out = json::object();
  for (const char* k : {"name", "email"})
    if (p.contains(k) && p[k].is_string()) out[k] = p[k];
  return out;
}

std::string str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

}  // namespace

std::vector<HeadChange> diff_heads(const std::string& prefix, const std::vector<PolledHead>& now,
                                   const std::map<std::string, std::string>& seen) {
  const bool pulls = prefix == "refs/pull/";
  std::vector<HeadChange> out;
  std::set<std::string> listed;
  for (const PolledHead& h : now) {
    listed.insert(h.ref);
    auto it = seen.find(h.ref);
    if (it != seen.end() && it->second == h.sha) continue;
    HeadChange c;
    c.ref = h.ref;
    c.after = h.sha;
    c.head = &h;
    if (it != seen.end()) {
      c.before = it->second;
      c.action = "synchronize";
    } else {
      c.action = pulls && seen.count(pull_closed_ref(h.ref)) ? "reopened" : "opened";
    }
    out.push_back(std::move(c));
  }
  for (const auto& [ref, sha] : seen) {
    if (!starts_with(ref, prefix) || listed.count(ref)) continue;
    if (pulls && !ref.ends_with("/head")) continue;  // refs/pull/N/closed
    HeadChange c;
    c.ref = ref;
    c.before = sha;
    c.action = "closed";
    out.push_back(std::move(c));
  }
  return out;
}

json push_payload(const RepoConfig& repo, const ServerConfig& config, const HeadChange& c,
                  const std::string& commit_sha, const json& commit) {
  json head = {{"id", commit_sha},
               {"message", str(commit, "message")},
               {"timestamp", str(commit.is_object() && commit.contains("committer") ? commit["committer"] : json(), "date")},
               {"author", person(commit, "author")},
               {"committer", person(commit, "committer")}};
  if (commit.is_object() && commit.contains("tree") && commit["tree"].is_object())
    head["tree_id"] = str(commit["tree"], "sha");
  return {{"ref", c.ref},
          {"before", c.before.empty() ? kZeroSha : c.before},
          // A tag's run checks out the commit it names (GitHub's own `after` for an annotated
          // tag is the tag object, which has no commit statuses).
          {"after", commit_sha},
          {"created", c.before.empty()},
          {"deleted", false},
          {"head_commit", head},
          {"commits", json::array()},
          {"repository", repository(repo, config)},
          {"wfrun_polled", true}};
}

json pull_payload(const RepoConfig& repo, const ServerConfig& config, const HeadChange& c) {
  json pr = c.head ? c.head->pull : json::object();
  json p = {{"action", c.action},
            {"number", pr.is_object() && pr.contains("number") ? pr["number"] : json()},
            {"pull_request", pr},
            {"repository", repository(repo, config)},
            {"wfrun_polled", true}};
  if (c.action == "synchronize") {
    p["before"] = c.before;
    p["after"] = c.after;
  }
  return p;
}

}  // namespace wfrun::serve
