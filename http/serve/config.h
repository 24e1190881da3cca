#pragma once
// `wfrun serve`'s configuration (server.yaml): where it listens, its secrets, the
// repositories it accepts and how it runs them. See docs/serve.md for the reference.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "workflows/executor_settings.h"

namespace wfrun::serve {

/// A GitHub App that authenticates for one repository.
struct AppConfig {
  std::string app_id;
  std::string private_key_pem;  // read from key-file
  std::int64_t installation_id = 0;  // 0: looked up from the repository
};

/// One repository the server accepts deliveries for.
struct RepoConfig {
  std::string full_name;  // OWNER/NAME, as configured
  std::string token;      // from token-file / token-env; may be empty (public repo, no statuses)
  std::optional<AppConfig> app;
  std::string clone_url;  // "" = the payload's clone_url (or https://github.com/OWNER/NAME.git)
  std::optional<bool> allow_forks;  // unset: the server-wide setting
  /// `poll: DURATION`: seconds between polls of GitHub for new heads (http/serve/poller.h);
  /// 0 = webhooks only.
  double poll = 0;
};

/// How long finished things are kept (`retention:`); 0 = no limit of that kind.
struct Retention {
  double age = 0;          // seconds since it finished (or was received)
  std::int64_t count = 0;  // the newest this many are kept
};

/// The whole server.yaml, with secrets read and paths resolved.
struct ServerConfig {
  std::string file;  // where it was read from ("" when built in code)
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string tls_cert, tls_key;  // both or neither
  /// "" only when every repository polls: then every delivery is refused (403).
  std::string webhook_secret;
  /// Keys the run links in commit statuses (`links: {secret-file|secret-env}`); "" = the
  /// webhook secret, or with neither a key kept in the state dir (Server::create).
  std::string link_secret;
  std::vector<std::string> api_tokens;
  std::string state_dir;  // "" = the CLI's default ($WFRUN_HOME or ~/.wfrun)
  std::string public_url;  // "" = http(s)://HOST:PORT
  std::string github_api = "https://api.github.com";
  std::string ca_file;  // extra CA bundle for GitHub and git (tests, GitHub Enterprise)
  std::string status_context = "wfrun";
  bool allow_forks = false;
  int max_concurrent = 2;
  bool requeue_interrupted = true;
  double shutdown_grace = 300;  // seconds the running runs get on SIGTERM
  double cancel_grace = 30;     // seconds a cancelled child gets before SIGKILL
  double read_timeout = 10;     // seconds a request (head and body) may take to arrive
  int threads = 8;              // HTTP worker threads
  int max_connections = 1000;   // open client connections
  int max_connections_per_address = 256;
  /// The command that runs one queued run (default: this wfrun's `serve-run`). The server adds
  /// `--state-dir STATE --dir RUN_FOLDER`. Meant for wrappers (nice, systemd-run) and tests.
  std::vector<std::string> runner;
  /// Finished runs (rows, statuses, folders) and deliveries answered without a run (from a
  /// skip decision), pruned by the dispatcher and by `wfrun serve --vacuum`.
  Retention keep_runs{90 * 86400.0, 0};
  Retention keep_deliveries{30 * 86400.0, 0};
  std::vector<RepoConfig> repositories;
  /// `executor:` (kind: slurm, partition, ...): where the runs' jobs run; unset = local.
  std::optional<workflows::ExecutorSettings> executor;
  /// `wfrun serve --catch-up`: the first poll of a repository runs its current heads instead of
  /// only recording them. Not in server.yaml.
  bool poll_catch_up = false;
  /// Environment variables the secrets came from: never passed on to runs.
  std::vector<std::string> secret_env_names;

  /// The repository named `full_name` (GitHub's names are case-insensitive), or null.
  const RepoConfig* repo(const std::string& full_name) const;
  /// http(s)://HOST:PORT or public_url, without a trailing slash.
  std::string base_url() const;
};

using ConfigPtr = std::shared_ptr<const ServerConfig>;

/// The current configuration, swapped whole on SIGHUP; readers keep the one they got.
class ConfigHolder {
 public:
  explicit ConfigHolder(ConfigPtr c) : c_(std::move(c)) {}
  ConfigPtr get() const {
    std::lock_guard lock(mu_);
    return c_;
  }
  void set(ConfigPtr c) {
    std::lock_guard lock(mu_);
    c_ = std::move(c);
  }

 private:
  mutable std::mutex mu_;
  ConfigPtr c_;
};

/// Parses server.yaml text. Errors read `server.yaml:LINE:COL: message`. Secrets named by
/// `*-file:` are read from files (relative to the config's folder) and `*-env:` from `env`.
Result<ServerConfig> parse_config(const std::string& text, const std::string& file,
                                  char** env = nullptr);
/// Reads and parses the file.
Result<ServerConfig> load_config(const std::string& file, char** env = nullptr);

}  // namespace wfrun::serve
