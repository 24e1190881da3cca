#pragma once
// The GitHub REST client: auth (token or GitHub App), retries with backoff, rate limits,
// pagination, GitHub's error messages. <httplib.h> stays in http/*.cc: requests and responses
// cross this header as plain structs, and the transport is an interface tests can replace.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"

namespace wfrun::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

/// One HTTP request, as the client hands it to a Transport (absolute URL, all headers).
struct HttpRequest {
  std::string method;
  std::string url;
  Headers headers;
  std::string body;
  /// When set (and `body` is empty): the body is this file, streamed from disk with a
  /// Content-Length, never read whole into memory (release asset uploads).
  std::string body_file;
};

/// One HTTP response. Header names are compared case-insensitively.
struct HttpResponse {
  int status = 0;
  Headers headers;
  std::string body;

  /// The first value of header `name`, or "".
  std::string header(std::string_view name) const;
};

/// Connect/read/write limits for one request.
struct Timeouts {
  std::chrono::milliseconds connect{10'000};
  std::chrono::milliseconds read{30'000};
  std::chrono::milliseconds write{30'000};
};

/// Sends one request and returns the response, whatever its status. Only a transport
/// failure (no HTTP response at all) is an Error.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
};

/// The real transport: cpp-httplib over OpenSSL, certificates verified against the system
/// bundle (plus `ca_file` when given). Does not follow redirects (the client does).
std::unique_ptr<Transport> make_httplib_transport(const Timeouts& timeouts,
                                                  const std::string& ca_file = "");

/// A GitHub App: the client signs an RS256 JWT with the key and trades it for an
/// installation token, cached and renewed before it expires.
struct AppCredentials {
  std::string app_id;                // the App's id (or client id): the JWT's `iss`
  std::string private_key_pem;       // the App's private key (PEM, RSA)
  std::int64_t installation_id = 0;  // 0: looked up from `repo` (GET /repos/{o}/{r}/installation)
  std::string repo;                  // "owner/name", for that look-up
};

/// Who the client is. Exactly one of `token` and `app` should be set; neither is anonymous.
struct Auth {
  std::string token;                  // sent as `Authorization: Bearer TOKEN`
  std::optional<AppCredentials> app;  // GitHub App (check runs need this)
};

/// How hard the client tries.
struct RetryPolicy {
  int max_attempts = 4;                        // per request, for network errors and 5xx
  std::chrono::milliseconds base_delay{1000};  // first backoff; doubles each try, with jitter
  std::chrono::milliseconds max_delay{30'000};
  /// Longest single wait for a rate limit (`retry-after` or `x-ratelimit-reset`); a longer
  /// one fails at once, saying when the limit resets.
  std::chrono::milliseconds max_rate_limit_wait{std::chrono::minutes(5)};
  int max_rate_limit_waits = 3;  // per request
  /// Hand a rate-limited answer (403/429 with `retry-after` or `x-ratelimit-remaining: 0`)
  /// back instead of waiting or failing: for callers that schedule their own retry (polling).
  bool return_rate_limited = false;
};

/// One request as the client sent it (for tests: the OpenAPI check reads these).
struct SentRequest {
  std::string method;
  std::string url;
  std::string body;
  std::string followed_from;  // "" for URLs the client built, else "link" or "location"
};

/// Everything a GithubClient needs.
struct ClientOptions {
  /// `https://api.github.com`, GitHub Enterprise `https://HOST/api/v3`, or any base with a
  /// path prefix. No trailing slash needed.
  std::string base_url = "https://api.github.com";
  Auth auth;
  std::string api_version = "2022-11-28";  // X-GitHub-Api-Version
  std::string user_agent;                  // "" = "wfrun/VERSION"
  Timeouts timeouts;
  std::string ca_file;  // extra CA bundle (WFRUN_CA_FILE)
  RetryPolicy retry;

  // Seams for tests; empty means the real thing.
  std::shared_ptr<Transport> transport;
  std::function<std::chrono::system_clock::time_point()> now;
  std::function<void(std::chrono::milliseconds)> sleep;
  std::function<void(const SentRequest&)> on_request;  // called before each send
};

/// `wfrun/0.1.0 (+https://github.com/wfrun/wfrun)`.
std::string default_user_agent();

/// A repository: `owner/name`.
struct Repo {
  std::string owner;
  std::string name;
  /// Parses "owner/name"; anything else is an Error naming the text.
  static Result<Repo> parse(const std::string& full_name);
  std::string full_name() const { return owner + "/" + name; }
  /// "/repos/OWNER/NAME" with both parts percent-encoded.
  std::string path() const;
};

/// What a request may override.
struct RequestOptions {
  std::string accept;         // "" = application/vnd.github+json
  std::string content_type;   // "" = application/json when there is a body
  bool no_auth = false;       // send no Authorization (the client adds a JWT itself for App calls)
  std::string authorization;  // a specific Authorization value (a JWT)
  std::string body_file;      // stream the body from this file (see HttpRequest::body_file)
  bool allow_not_found = false;  // a 404 is an ApiResponse with status 404, not an Error
  Headers headers;               // sent as well (`If-None-Match` for conditional requests)
  bool any_status = false;       // every answer (304, 4xx, 5xx) is an ApiResponse, not an Error
};

/// A GitHub API response that succeeded (2xx).
struct ApiResponse {
  int status = 0;
  Headers headers;
  std::string body;
  std::string header(std::string_view name) const;
  /// The body parsed as JSON (null for an empty body); an Error for invalid JSON.
  Result<nlohmann::json> json() const;
};

// Plain views of the GitHub objects the operations return.

/// A commit status to set (`state`: pending, success, failure or error).
struct CommitStatus {
  std::string state;
  std::string context;
  std::string description;  // trimmed to GitHub's 140 characters
  std::string target_url;
};

/// A check run to create or update (`status`: queued, in_progress, completed;
/// `conclusion` when completed: success, failure, neutral, cancelled, skipped, timed_out, ...).
struct CheckRun {
  std::string name;
  std::string head_sha;  // create only
  std::string status;
  std::string conclusion;
  std::string details_url;
  std::string title;    // output.title
  std::string summary;  // output.summary (Markdown)
};

struct PullRequest {
  std::int64_t number = 0;
  std::string html_url;
  std::string head_ref;
  std::string head_sha;
  std::string base_ref;
  std::string state;
};

struct NewPullRequest {
  std::string title;
  std::string head;  // branch, or "owner:branch" from a fork
  std::string base;
  std::string body;
  bool draft = false;
};

/// An issue/PR comment or a commit comment.
struct Comment {
  std::int64_t id = 0;
  std::string body;
  std::string html_url;
};

/// Where a comment goes: a pull request (or issue) number, else a commit.
struct CommentTarget {
  std::int64_t issue_number = 0;
  std::string commit_sha;
};

struct Release {
  std::int64_t id = 0;
  std::string tag_name;
  std::string upload_url;  // without the `{?name,label}` template
};

struct ReleaseAsset {
  std::int64_t id = 0;
  std::string name;
  std::string label;
  std::string browser_download_url;
  std::int64_t size = 0;
};

/// A file written with put_file: the new blob's and commit's SHAs.
struct FileCommit {
  std::string content_sha;
  std::string commit_sha;
};

/// Talks to one GitHub API (github.com or an Enterprise server) as one identity. Not
/// thread-safe: use one per thread.
class GithubClient {
 public:
  explicit GithubClient(ClientOptions options);
  ~GithubClient();
  GithubClient(GithubClient&&) noexcept;
  GithubClient& operator=(GithubClient&&) noexcept;

  const ClientOptions& options() const { return opts_; }
  /// True when authenticated as a GitHub App (check runs are possible).
  bool is_app() const { return opts_.auth.app.has_value(); }

  // Generic calls. `path` is relative to the base URL (`/repos/o/r`) or an absolute URL on
  // the same host. A non-2xx answer is an Error with GitHub's message.
  Result<ApiResponse> request(const std::string& method, const std::string& path,
                              const std::string& body = "", const RequestOptions& ro = {});
  Result<nlohmann::json> get(const std::string& path);
  Result<nlohmann::json> post(const std::string& path, const nlohmann::json& body);
  Result<nlohmann::json> patch(const std::string& path, const nlohmann::json& body);
  Result<nlohmann::json> put(const std::string& path, const nlohmann::json& body);
  Result<void> del(const std::string& path);
  /// GETs `path` and every page after it (`Link: rel="next"`), concatenating the arrays.
  /// `max_items` stops early (0 = all).
  Result<std::vector<nlohmann::json>> get_all(const std::string& path, size_t max_items = 0);

  // Commit statuses.
  Result<std::int64_t> create_status(const Repo& repo, const std::string& sha,
                                     const CommitStatus& status);
  /// The combined state of `ref` (`GET .../commits/REF/status`): pending/success/failure.
  Result<std::string> combined_status(const Repo& repo, const std::string& ref);

  // Check runs (GitHub App auth only).
  Result<std::int64_t> create_check_run(const Repo& repo, const CheckRun& run);
  Result<void> update_check_run(const Repo& repo, std::int64_t id, const CheckRun& run);

  // Pull requests.
  Result<PullRequest> create_pull(const Repo& repo, const NewPullRequest& pr);
  /// The open pull request whose head is `head` (a branch of `repo`, or "owner:branch").
  Result<std::optional<PullRequest>> find_pull_by_head(const Repo& repo, const std::string& head);
  /// Sets an open pull request's title and body (`PATCH .../pulls/N`); an empty one is left
  /// as it is. Both empty is an Error (nothing to change).
  Result<PullRequest> update_pull(const Repo& repo, std::int64_t number, const std::string& title,
                                  const std::string& body);

  // Comments.
  Result<std::vector<Comment>> list_comments(const Repo& repo, const CommentTarget& target);
  Result<Comment> create_comment(const Repo& repo, const CommentTarget& target,
                                 const std::string& body);
  Result<Comment> update_comment(const Repo& repo, const CommentTarget& target, std::int64_t id,
                                 const std::string& body);
  /// Updates the first comment containing `marker` (an HTML comment such as
  /// `<!-- wfrun:ci -->`), or creates one: one comment per marker, edited in place.
  Result<Comment> upsert_comment(const Repo& repo, const CommentTarget& target,
                                 const std::string& marker, const std::string& body);

  // Contents.
  /// The raw bytes of `path` at `ref` ("" = the default branch).
  Result<std::string> get_file(const Repo& repo, const std::string& path,
                               const std::string& ref = "");
  /// Creates `path` (or updates it when `sha`, the current blob's, is given).
  Result<FileCommit> put_file(const Repo& repo, const std::string& path, const std::string& content,
                              const std::string& message, const std::string& branch = "",
                              const std::string& sha = "");

  // Git refs. `ref` is "heads/main" or "tags/v1" (a leading "refs/" is accepted).
  Result<std::string> get_ref(const Repo& repo, const std::string& ref);
  /// All refs starting with `prefix` ("heads", "tags/v1"): full ref name -> sha.
  Result<std::vector<std::pair<std::string, std::string>>> list_refs(const Repo& repo,
                                                                     const std::string& prefix);
  Result<void> create_ref(const Repo& repo, const std::string& ref, const std::string& sha);
  Result<void> update_ref(const Repo& repo, const std::string& ref, const std::string& sha,
                          bool force = false);
  Result<void> delete_ref(const Repo& repo, const std::string& ref);

  // Releases.
  Result<Release> get_release_by_tag(const Repo& repo, const std::string& tag);
  /// The release of `tag`, or nullopt when there is none (404).
  Result<std::optional<Release>> find_release_by_tag(const Repo& repo, const std::string& tag);
  /// Creates a release (and its tag, at the default branch's tip, when the tag is missing).
  Result<Release> create_release(const Repo& repo, const std::string& tag, const std::string& name,
                                 const std::string& body);
  Result<ReleaseAsset> upload_release_asset(const Release& release, const std::string& name,
                                            const std::string& content_type,
                                            const std::string& data, const std::string& label = "");
  /// Uploads the file at `path` as an asset, streamed from disk (memory stays flat whatever
  /// its size).
  Result<ReleaseAsset> upload_release_asset_file(const Release& release, const std::string& name,
                                                 const std::string& content_type,
                                                 const std::string& path,
                                                 const std::string& label = "");
  Result<std::vector<ReleaseAsset>> list_release_assets(const Repo& repo, std::int64_t release_id);
  Result<void> delete_release_asset(const Repo& repo, std::int64_t asset_id);

 private:
  struct State;
  Result<std::string> authorization();
  Result<std::string> app_installation_token();
  Result<HttpResponse> send_with_retries(HttpRequest req, const std::string& followed_from);
  Result<ApiResponse> send(const std::string& method, const std::string& url,
                           const std::string& body, const RequestOptions& ro,
                           const std::string& followed_from);
  Result<ReleaseAsset> upload_asset(const Release& release, const std::string& name,
                                    const std::string& label, const std::string& data,
                                    RequestOptions ro);
  Result<std::string> resolve(const std::string& path) const;

  ClientOptions opts_;
  std::unique_ptr<State> state_;
};

/// `METHOD URL: STATUS MESSAGE (DETAILS) - see DOCUMENTATION_URL` from a GitHub error body.
std::string github_error_message(const std::string& method, const std::string& url,
                                 const HttpResponse& response);

}  // namespace wfrun::http
