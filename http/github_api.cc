// The GitHub operations wfrun uses, on top of GithubClient's generic calls.
#include <algorithm>

#include "base/strings.h"
#include "http/github_app.h"
#include "http/github_client.h"
#include "http/github_url.h"

namespace wfrun::http {

namespace {

using nlohmann::json;

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::int64_t num(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

Error missing(const std::string& what, const char* field) {
  return Error("GitHub's answer to " + what + " has no '" + field + "'");
}

// "refs/heads/x" and "heads/x" -> "heads/x"
std::string short_ref(const std::string& ref) {
  return starts_with(ref, "refs/") ? ref.substr(5) : ref;
}

PullRequest to_pull(const json& j) {
  PullRequest p;
  p.number = num(j, "number");
  p.html_url = str(j, "html_url");
  p.state = str(j, "state");
  if (j.contains("head") && j["head"].is_object()) {
    p.head_ref = str(j["head"], "ref");
    p.head_sha = str(j["head"], "sha");
  }
  if (j.contains("base") && j["base"].is_object()) p.base_ref = str(j["base"], "ref");
  return p;
}

Comment to_comment(const json& j) {
  return Comment{num(j, "id"), str(j, "body"), str(j, "html_url")};
}

ReleaseAsset to_asset(const json& j) {
  return ReleaseAsset{num(j, "id"), str(j, "name"), str(j, "label"), str(j, "browser_download_url"),
                      num(j, "size")};
}

json check_run_body(const CheckRun& run, bool create) {
  json b = json::object();
  if (!run.name.empty()) b["name"] = run.name;
  if (create) b["head_sha"] = run.head_sha;
  if (!run.status.empty()) b["status"] = run.status;
  if (!run.conclusion.empty()) b["conclusion"] = run.conclusion;
  if (!run.details_url.empty()) b["details_url"] = run.details_url;
  if (!run.title.empty() || !run.summary.empty()) {
    // GitHub caps the summary at 65535 characters.
    std::string summary = run.summary.substr(0, 65000);
    b["output"] = {{"title", run.title.empty() ? run.name : run.title}, {"summary", summary}};
  }
  return b;
}

std::string comments_path(const Repo& repo, const CommentTarget& t) {
  if (t.issue_number > 0) {
    return repo.path() + "/issues/" + std::to_string(t.issue_number) + "/comments";
  }
  return repo.path() + "/commits/" + encode_segment(t.commit_sha) + "/comments";
}

Result<void> check_target(const CommentTarget& t) {
  if (t.issue_number <= 0 && t.commit_sha.empty()) {
    return Error("a comment needs a pull request number or a commit");
  }
  return {};
}

}  // namespace

Result<std::int64_t> GithubClient::create_status(const Repo& repo, const std::string& sha,
                                                 const CommitStatus& s) {
  json b = {{"state", s.state}};
  if (!s.target_url.empty()) b["target_url"] = s.target_url;
  if (!s.description.empty()) {
    std::string d = s.description;
    if (d.size() > 140) d = d.substr(0, 137) + "...";
    b["description"] = d;
  }
  if (!s.context.empty()) b["context"] = s.context;
  auto r = post(repo.path() + "/statuses/" + encode_segment(sha), b);
  if (!r) return r.error();
  return num(*r, "id");
}

Result<std::string> GithubClient::combined_status(const Repo& repo, const std::string& ref) {
  auto r = get(repo.path() + "/commits/" + encode_path(ref) + "/status");
  if (!r) return r.error();
  std::string state = str(*r, "state");
  if (state.empty()) return missing("the combined status", "state");
  return state;
}

Result<std::int64_t> GithubClient::create_check_run(const Repo& repo, const CheckRun& run) {
  if (!is_app())
    return Error("check runs need GitHub App authentication (a token can set commit statuses)");
  auto r = post(repo.path() + "/check-runs", check_run_body(run, true));
  if (!r) return r.error();
  const auto id = num(*r, "id");
  if (!id) return missing("creating a check run", "id");
  return id;
}

Result<void> GithubClient::update_check_run(const Repo& repo, std::int64_t id,
                                            const CheckRun& run) {
  if (!is_app())
    return Error("check runs need GitHub App authentication (a token can set commit statuses)");
  auto r = patch(repo.path() + "/check-runs/" + std::to_string(id), check_run_body(run, false));
  if (!r) return r.error();
  return {};
}

Result<PullRequest> GithubClient::create_pull(const Repo& repo, const NewPullRequest& pr) {
  json b = {{"title", pr.title}, {"head", pr.head}, {"base", pr.base}};
  if (!pr.body.empty()) b["body"] = pr.body;
  if (pr.draft) b["draft"] = true;
  auto r = post(repo.path() + "/pulls", b);
  if (!r) return r.error();
  auto p = to_pull(*r);
  if (!p.number) return missing("creating a pull request", "number");
  return p;
}

Result<std::optional<PullRequest>> GithubClient::find_pull_by_head(const Repo& repo,
                                                                   const std::string& head) {
  const std::string qualified =
      head.find(':') == std::string::npos ? repo.owner + ":" + head : head;
  auto r = get_all(repo.path() + "/pulls?state=open&head=" + encode_query(qualified), 1);
  if (!r) return r.error();
  if (r->empty()) return std::optional<PullRequest>();
  return std::optional<PullRequest>(to_pull(r->front()));
}

Result<PullRequest> GithubClient::update_pull(const Repo& repo, std::int64_t number,
                                              const std::string& title, const std::string& body) {
  json b = json::object();
  if (!title.empty()) b["title"] = title;
  if (!body.empty()) b["body"] = body;
  if (b.empty())
    return Error("updating pull request #" + std::to_string(number) + " of " + repo.full_name() +
                 ": no title or body to set");
  auto r = patch(repo.path() + "/pulls/" + std::to_string(number), b);
  if (!r) return r.error();
  auto p = to_pull(*r);
  if (!p.number) return missing("updating a pull request", "number");
  return p;
}

Result<std::vector<Comment>> GithubClient::list_comments(const Repo& repo, const CommentTarget& t) {
  if (auto c = check_target(t); !c) return c.error();
  auto r = get_all(comments_path(repo, t) + "?per_page=100");
  if (!r) return r.error();
  std::vector<Comment> out;
  for (const auto& j : *r) out.push_back(to_comment(j));
  return out;
}

Result<Comment> GithubClient::create_comment(const Repo& repo, const CommentTarget& t,
                                             const std::string& body) {
  if (auto c = check_target(t); !c) return c.error();
  auto r = post(comments_path(repo, t), json{{"body", body}});
  if (!r) return r.error();
  return to_comment(*r);
}

Result<Comment> GithubClient::update_comment(const Repo& repo, const CommentTarget& t,
                                             std::int64_t id, const std::string& body) {
  const std::string path = t.issue_number > 0
                               ? repo.path() + "/issues/comments/" + std::to_string(id)
                               : repo.path() + "/comments/" + std::to_string(id);
  auto r = patch(path, json{{"body", body}});
  if (!r) return r.error();
  return to_comment(*r);
}

Result<Comment> GithubClient::upsert_comment(const Repo& repo, const CommentTarget& t,
                                             const std::string& marker, const std::string& body) {
  auto existing = list_comments(repo, t);
  if (!existing) return existing.error();
  const std::string full = body.find(marker) == std::string::npos ? marker + "\n" + body : body;
  for (const auto& c : *existing) {
    if (c.body.find(marker) != std::string::npos) {
      if (c.body == full) return c;  // unchanged: no edit, no notification
      return update_comment(repo, t, c.id, full);
    }
  }
  return create_comment(repo, t, full);
}

Result<std::string> GithubClient::get_file(const Repo& repo, const std::string& path,
                                           const std::string& ref) {
  std::string p = repo.path() + "/contents/" + encode_path(path);
  if (!ref.empty()) p += "?ref=" + encode_query(ref);
  RequestOptions ro;
  ro.accept = "application/vnd.github.raw+json";
  auto r = request("GET", p, "", ro);
  if (!r) return r.error();
  return std::move(r->body);
}

Result<FileCommit> GithubClient::put_file(const Repo& repo, const std::string& path,
                                          const std::string& content, const std::string& message,
                                          const std::string& branch, const std::string& sha) {
  json b = {{"message", message}, {"content", base64_encode(content)}};
  if (!branch.empty()) b["branch"] = branch;
  if (!sha.empty()) b["sha"] = sha;
  auto r = put(repo.path() + "/contents/" + encode_path(path), b);
  if (!r) return r.error();
  FileCommit fc;
  if (r->contains("content") && (*r)["content"].is_object())
    fc.content_sha = str((*r)["content"], "sha");
  if (r->contains("commit") && (*r)["commit"].is_object())
    fc.commit_sha = str((*r)["commit"], "sha");
  return fc;
}

Result<std::string> GithubClient::get_ref(const Repo& repo, const std::string& ref) {
  auto r = get(repo.path() + "/git/ref/" + encode_path(short_ref(ref)));
  if (!r) return r.error();
  if (!r->contains("object") || !(*r)["object"].is_object()) return missing("a ref", "object");
  return str((*r)["object"], "sha");
}

Result<std::vector<std::pair<std::string, std::string>>> GithubClient::list_refs(
    const Repo& repo, const std::string& prefix) {
  auto r = get_all(repo.path() + "/git/matching-refs/" + encode_path(short_ref(prefix)));
  if (!r) return r.error();
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& j : *r) {
    std::string sha;
    if (j.contains("object") && j["object"].is_object()) sha = str(j["object"], "sha");
    out.emplace_back(str(j, "ref"), sha);
  }
  return out;
}

Result<void> GithubClient::create_ref(const Repo& repo, const std::string& ref,
                                      const std::string& sha) {
  const std::string full = starts_with(ref, "refs/") ? ref : "refs/" + ref;
  auto r = post(repo.path() + "/git/refs", json{{"ref", full}, {"sha", sha}});
  if (!r) return r.error();
  return {};
}

Result<void> GithubClient::update_ref(const Repo& repo, const std::string& ref,
                                      const std::string& sha, bool force) {
  json b = {{"sha", sha}};
  if (force) b["force"] = true;
  auto r = patch(repo.path() + "/git/refs/" + encode_path(short_ref(ref)), b);
  if (!r) return r.error();
  return {};
}

Result<void> GithubClient::delete_ref(const Repo& repo, const std::string& ref) {
  return del(repo.path() + "/git/refs/" + encode_path(short_ref(ref)));
}

namespace {

Result<Release> to_release(const json& j) {
  Release rel{num(j, "id"), str(j, "tag_name"), str(j, "upload_url")};
  if (auto brace = rel.upload_url.find('{'); brace != std::string::npos) {
    rel.upload_url.resize(brace);  // drop the URI template: {?name,label}
  }
  if (!rel.id) return missing("a release", "id");
  if (rel.upload_url.empty()) return missing("a release", "upload_url");
  return rel;
}

}  // namespace

Result<Release> GithubClient::get_release_by_tag(const Repo& repo, const std::string& tag) {
  auto r = get(repo.path() + "/releases/tags/" + encode_segment(tag));
  if (!r) return r.error();
  return to_release(*r);
}

Result<std::optional<Release>> GithubClient::find_release_by_tag(const Repo& repo,
                                                                 const std::string& tag) {
  RequestOptions ro;
  ro.allow_not_found = true;
  auto r = request("GET", repo.path() + "/releases/tags/" + encode_segment(tag), "", ro);
  if (!r) return r.error();
  if (r->status == 404) return std::optional<Release>();
  auto j = r->json();
  if (!j) return j.error();
  auto rel = to_release(*j);
  if (!rel) return rel.error();
  return std::optional<Release>(*rel);
}

Result<Release> GithubClient::create_release(const Repo& repo, const std::string& tag,
                                             const std::string& name, const std::string& body) {
  json b = {{"tag_name", tag}};
  if (!name.empty()) b["name"] = name;
  if (!body.empty()) b["body"] = body;
  auto r = post(repo.path() + "/releases", b);
  if (!r) return r.error();
  return to_release(*r);
}

Result<ReleaseAsset> GithubClient::upload_asset(const Release& release, const std::string& name,
                                                const std::string& label, const std::string& data,
                                                RequestOptions ro) {
  std::string url = release.upload_url + "?name=" + encode_query(name);
  if (!label.empty()) url += "&label=" + encode_query(label);
  if (ro.content_type.empty()) ro.content_type = "application/octet-stream";
  auto r = request("POST", url, data, ro);
  if (!r) return r.error();
  auto j = r->json();
  if (!j) return j.error();
  return to_asset(*j);
}

Result<ReleaseAsset> GithubClient::upload_release_asset(const Release& release,
                                                        const std::string& name,
                                                        const std::string& content_type,
                                                        const std::string& data,
                                                        const std::string& label) {
  RequestOptions ro;
  ro.content_type = content_type;
  return upload_asset(release, name, label, data, ro);
}

Result<ReleaseAsset> GithubClient::upload_release_asset_file(const Release& release,
                                                             const std::string& name,
                                                             const std::string& content_type,
                                                             const std::string& path,
                                                             const std::string& label) {
  RequestOptions ro;
  ro.content_type = content_type;
  ro.body_file = path;
  return upload_asset(release, name, label, "", ro);
}

Result<std::vector<ReleaseAsset>> GithubClient::list_release_assets(const Repo& repo,
                                                                    std::int64_t release_id) {
  auto r = get_all(repo.path() + "/releases/" + std::to_string(release_id) + "/assets");
  if (!r) return r.error();
  std::vector<ReleaseAsset> out;
  for (const auto& j : *r) out.push_back(to_asset(j));
  return out;
}

Result<void> GithubClient::delete_release_asset(const Repo& repo, std::int64_t asset_id) {
  return del(repo.path() + "/releases/assets/" + std::to_string(asset_id));
}

}  // namespace wfrun::http
