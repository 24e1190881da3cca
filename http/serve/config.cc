#include "http/serve/config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/strings.h"
#include "workflows/duration.h"

extern char** environ;

namespace wfrun::serve {

namespace {

/// Reads one YAML document into a ServerConfig; the first error wins.
class ConfigReader {
 public:
  ConfigReader(std::string file, char** env) : file_(std::move(file)), env_(env ? env : environ) {
    auto slash = file_.rfind('/');
    dir_ = slash == std::string::npos ? "." : file_.substr(0, slash);
    if (dir_.empty()) dir_ = "/";
  }

  Result<ServerConfig> read(const std::string& text) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      return Error(Location{file_, e.mark.line + 1, e.mark.column + 1, ""}, e.msg);
    }
    ServerConfig c;
    c.file = file_;
    if (!root || root.IsNull()) return Error(Location{file_, 1, 1, ""}, "the file is empty: " + kNeedSecret);
    if (!root.IsMap()) return err(root, "expected a map of settings (listen:, webhook:, repositories:, ...)");
    std::optional<Location> webhook_at;
    for (auto it = root.begin(); it != root.end(); ++it) {
      const std::string key = it->first.as<std::string>("");
      const YAML::Node v = it->second;  // a copy: it-> is a proxy that dies with the statement
      Status s;
      if (key == "listen") s = listen(v, c);
      else if (key == "tls") s = tls(v, c);
      else if (key == "webhook") {
        webhook_at = loc(it->first);
        s = secret_map(v, "webhook", "secret", c.webhook_secret);
      } else if (key == "links") s = secret_map(v, "links", "secret", c.link_secret);
      else if (key == "api") s = api(v, c);
      else if (key == "state-dir") s = path(v, key, c.state_dir);
      else if (key == "public-url") s = url(v, key, c.public_url);
      else if (key == "github-api") s = url(v, key, c.github_api);
      else if (key == "ca-file") s = path(v, key, c.ca_file);
      else if (key == "status-context") s = string(v, key, c.status_context);
      else if (key == "allow-forks") s = boolean(v, key, c.allow_forks);
      else if (key == "requeue-interrupted") s = boolean(v, key, c.requeue_interrupted);
      else if (key == "max-concurrent") s = integer(v, key, 1, 256, c.max_concurrent);
      else if (key == "threads") s = integer(v, key, 1, 256, c.threads);
      else if (key == "shutdown-grace") s = duration(v, key, c.shutdown_grace);
      else if (key == "cancel-grace") s = duration(v, key, c.cancel_grace);
      else if (key == "read-timeout") s = duration(v, key, c.read_timeout);
      else if (key == "max-connections") s = integer(v, key, 1, 100000, c.max_connections);
      else if (key == "max-connections-per-address")
        s = integer(v, key, 1, 100000, c.max_connections_per_address);
      else if (key == "retention") s = retention(v, c);
      else if (key == "runner") s = string_list(v, key, c.runner);
      else if (key == "executor") {
        auto ex = workflows::read_executor_settings(v, file_);
        if (!ex) return ex.error();
        c.executor = std::move(*ex);
      }
      else if (key == "repositories") s = repositories(v, c);
      else
        s = err(it->first, "unknown setting '" + key + "'" + did_you_mean(key, kTopKeys) +
                               "; settings: " + join(kTopKeys, ", "));
      if (!s) return s.error();
    }
    if (c.repositories.empty())
      return Error(Location{file_, 1, 1, ""},
                   "no repositories: add `repositories: [{repo: OWNER/NAME, token-file: ...}]`");
    // Without a webhook secret the server takes no deliveries: only a server that polls every
    // repository runs anything then.
    if (c.webhook_secret.empty() && !webhook_at) {
      for (const auto& r : c.repositories)
        if (r.poll <= 0)
          return Error(Location{file_, 1, 1, ""},
                       kNeedSecret + "; or poll every repository (`poll: 1m`; " + r.full_name +
                           " has no `poll:`)");
    }
    if (c.read_timeout < 1) c.read_timeout = 1;
    c.secret_env_names = secret_env_names_;
    return c;
  }

 private:
  inline static const std::string kNeedSecret =
      "no webhook secret: add `webhook: {secret-file: FILE}` or `webhook: {secret-env: NAME}` "
      "(the secret you gave GitHub when you added the webhook)";
  inline static const std::vector<std::string> kTopKeys = {
      "listen",         "tls",        "webhook",        "api",          "state-dir",
      "public-url",     "github-api", "ca-file",        "status-context", "allow-forks",
      "requeue-interrupted", "max-concurrent", "threads", "shutdown-grace", "cancel-grace",
      "read-timeout",   "runner",     "repositories", "links", "max-connections",
      "max-connections-per-address", "executor", "retention"};

  Location loc(const YAML::Node& n) const {
    const auto m = n.Mark();
    if (m.line < 0) return Location{file_, 0, 0, ""};
    return Location{file_, m.line + 1, m.column + 1, ""};
  }
  Error err(const YAML::Node& n, const std::string& message) const { return Error(loc(n), message); }

  const char* getenv(const std::string& name) const {
    for (char** e = env_; e && *e; ++e)
      if (std::strncmp(*e, name.c_str(), name.size()) == 0 && (*e)[name.size()] == '=')
        return *e + name.size() + 1;
    return nullptr;
  }

  std::string resolve(const std::string& p) const {
    if (p.empty() || p[0] == '/') return p;
    return dir_ + "/" + p;
  }

  Status scalar(const YAML::Node& v, const std::string& key, std::string& out) {
    if (!v.IsScalar()) return err(v, key + ": expected a single value");
    out = v.Scalar();
    return {};
  }
  Status string(const YAML::Node& v, const std::string& key, std::string& out) {
    if (auto s = scalar(v, key, out); !s) return s;
    if (out.empty()) return err(v, key + ": must not be empty");
    return {};
  }
  Status path(const YAML::Node& v, const std::string& key, std::string& out) {
    if (auto s = string(v, key, out); !s) return s;
    out = resolve(out);
    return {};
  }
  /// `allow_file`: also file:///ABSOLUTE/PATH (a repository on this machine).
  Status url(const YAML::Node& v, const std::string& key, std::string& out, bool allow_file = false) {
    if (auto s = string(v, key, out); !s) return s;
    if (allow_file && starts_with(out, "file:///")) return {};
    if (!starts_with(out, "http://") && !starts_with(out, "https://"))
      return err(v, key + ": '" + out + "' is not an http:// or https:// URL" +
                        (allow_file ? " (or file:///PATH)" : ""));
    while (!out.empty() && out.back() == '/') out.pop_back();
    return {};
  }
  Status boolean(const YAML::Node& v, const std::string& key, bool& out) {
    std::string s;
    if (auto st = scalar(v, key, s); !st) return st;
    if (s == "true" || s == "yes" || s == "on") out = true;
    else if (s == "false" || s == "no" || s == "off") out = false;
    else return err(v, key + ": expected true or false, not '" + s + "'");
    return {};
  }
  Status integer(const YAML::Node& v, const std::string& key, int lo, int hi, int& out) {
    std::string s;
    if (auto st = scalar(v, key, s); !st) return st;
    char* end = nullptr;
    long n = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end || n < lo || n > hi)
      return err(v, key + ": expected a whole number from " + std::to_string(lo) + " to " +
                        std::to_string(hi) + ", not '" + s + "'");
    out = static_cast<int>(n);
    return {};
  }
  Status duration(const YAML::Node& v, const std::string& key, double& out) {
    std::string s;
    if (auto st = scalar(v, key, s); !st) return st;
    auto d = workflows::parse_duration(s);
    if (!d) return err(v, key + ": " + d.error().message());
    out = *d;
    return {};
  }
  /// `poll:` between kMinPoll and a day; GitHub's own pollers are told 60 s.
  Status poll_interval(const YAML::Node& v, const std::string& key, double& out) {
    if (auto st = duration(v, key, out); !st) return st;
    if (out < kMinPoll || out > 86400)
      return err(v, key + ": must be from 1s to 1d (e.g. `poll: 30s`), not '" + v.Scalar() + "'");
    return {};
  }
  static constexpr double kMinPoll = 1;
  Status string_list(const YAML::Node& v, const std::string& key, std::vector<std::string>& out) {
    out.clear();
    if (v.IsScalar()) {
      out.push_back(v.Scalar());
    } else if (v.IsSequence()) {
      for (const auto& item : v) {
        if (!item.IsScalar()) return err(item, key + ": expected a list of strings");
        out.push_back(item.Scalar());
      }
    } else {
      return err(v, key + ": expected a command as a list of strings");
    }
    if (out.empty() || out[0].empty()) return err(v, key + ": must not be empty");
    return {};
  }

  Status read_secret_file(const YAML::Node& v, const std::string& what, std::string& out) {
    std::string p = resolve(v.Scalar());
    std::ifstream in(p, std::ios::binary);
    if (!in) return err(v, what + ": cannot read '" + p + "': " + std::strerror(errno));
    std::stringstream ss;
    ss << in.rdbuf();
    out = std::string(trim(ss.str()));
    if (out.empty()) return err(v, what + ": '" + p + "' is empty");
    return {};
  }
  Status read_secret_env(const YAML::Node& v, const std::string& what, std::string& out) {
    secret_env_names_.push_back(v.Scalar());
    const char* val = getenv(v.Scalar());
    if (!val || !*val)
      return err(v, what + ": the environment variable " + v.Scalar() + " is not set");
    out = std::string(trim(val));
    return {};
  }

  /// `{NAME-file: F}` or `{NAME-env: VAR}`: exactly one.
  Status secret_map(const YAML::Node& v, const std::string& section, const std::string& name,
                    std::string& out) {
    if (!v.IsMap())
      return err(v, section + ": expected `" + name + "-file: FILE` or `" + name + "-env: NAME`");
    int found = 0;
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string key = it->first.as<std::string>("");
      const std::vector<std::string> allowed = {name + "-file", name + "-env"};
      if (key != allowed[0] && key != allowed[1])
        return err(it->first, section + ": unknown key '" + key + "'" + did_you_mean(key, allowed) +
                                  " (secrets never go in this file: use " + allowed[0] + " or " +
                                  allowed[1] + ")");
      if (!it->second.IsScalar() || it->second.Scalar().empty())
        return err(it->second, section + "." + key + ": expected a file name or variable name");
      if (++found > 1) return err(it->first, section + ": give " + allowed[0] + " or " + allowed[1] + ", not both");
      Status s = key == allowed[0] ? read_secret_file(it->second, section + "." + key, out)
                                   : read_secret_env(it->second, section + "." + key, out);
      if (!s) return s;
    }
    if (!found) return err(v, section + ": expected `" + name + "-file: FILE` or `" + name + "-env: NAME`");
    return {};
  }

  Status listen(const YAML::Node& v, ServerConfig& c) {
    std::string s;
    if (auto st = string(v, "listen", s); !st) return st;
    auto colon = s.rfind(':');
    std::string host = colon == std::string::npos ? s : s.substr(0, colon);
    std::string port = colon == std::string::npos ? "" : s.substr(colon + 1);
    if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    char* end = nullptr;
    long p = std::strtol(port.c_str(), &end, 10);
    if (host.empty() || port.empty() || *end || p < 0 || p > 65535)
      return err(v, "listen: expected HOST:PORT (e.g. 127.0.0.1:8080 or 0.0.0.0:443), not '" + s + "'");
    c.host = host;
    c.port = static_cast<int>(p);
    return {};
  }

  Status tls(const YAML::Node& v, ServerConfig& c) {
    if (!v.IsMap()) return err(v, "tls: expected `cert: FILE` and `key: FILE`");
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string key = it->first.as<std::string>("");
      if (key == "cert") {
        if (auto s = path(it->second, "tls.cert", c.tls_cert); !s) return s;
      } else if (key == "key") {
        if (auto s = path(it->second, "tls.key", c.tls_key); !s) return s;
      } else {
        return err(it->first, "tls: unknown key '" + key + "'" + did_you_mean(key, {"cert", "key"}));
      }
    }
    if (c.tls_cert.empty() || c.tls_key.empty()) return err(v, "tls: needs both cert and key");
    for (const auto* p : {&c.tls_cert, &c.tls_key})
      if (!std::ifstream(*p)) return err(v, "tls: cannot read '" + *p + "': " + std::strerror(errno));
    return {};
  }

  /// retention: {runs: {age: 90d, count: N}, deliveries: {age: 30d, count: N}}
  Status retention(const YAML::Node& v, ServerConfig& c) {
    const std::vector<std::string> kinds = {"runs", "deliveries"};
    if (!v.IsMap()) return err(v, "retention: expected `runs: {age: 90d, count: 10000}` and/or `deliveries: {age: 30d}`");
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string kind = it->first.as<std::string>("");
      const YAML::Node val = it->second;  // a copy (it-> is a temporary proxy)
      if (kind != "runs" && kind != "deliveries")
        return err(it->first, "retention: unknown key '" + kind + "'" + did_you_mean(kind, kinds) +
                                  "; keys: runs, deliveries");
      Retention& r = kind == "runs" ? c.keep_runs : c.keep_deliveries;
      r = Retention{};
      if (!val.IsMap()) return err(val, "retention." + kind + ": expected `age: DURATION` and/or `count: N`");
      for (auto f = val.begin(); f != val.end(); ++f) {
        const std::string key = f->first.as<std::string>("");
        const YAML::Node fv = f->second;
        Status s;
        if (key == "age") {
          s = duration(fv, "retention." + kind + ".age", r.age);
        } else if (key == "count") {
          int n = 0;
          s = integer(fv, "retention." + kind + ".count", 1, 1000000000, n);
          r.count = n;
        } else {
          s = err(f->first, "retention." + kind + ": unknown key '" + key + "'" +
                                did_you_mean(key, {"age", "count"}) + "; keys: age, count");
        }
        if (!s) return s;
      }
    }
    return {};
  }

  Status api(const YAML::Node& v, ServerConfig& c) {
    std::string text;
    if (auto s = secret_map(v, "api", "tokens", text); !s) return s;
    for (char& ch : text)
      if (ch == ',' || ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
    for (const auto& t : split(text, ' '))
      if (!trim(t).empty() && trim(t)[0] != '#') c.api_tokens.emplace_back(trim(t));
    if (c.api_tokens.empty()) return err(v, "api: no tokens found");
    return {};
  }

  Status app(const YAML::Node& v, const std::string& where, AppConfig& a) {
    if (!v.IsMap()) return err(v, where + ": expected `id: APP_ID` and `key-file: FILE`");
    bool have_key = false;
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string key = it->first.as<std::string>("");
      const YAML::Node val = it->second;  // a copy (it-> is a temporary proxy)
      if (key == "id") {
        if (auto s = string(val, where + ".id", a.app_id); !s) return s;
      } else if (key == "key-file") {
        if (!val.IsScalar() || val.Scalar().empty()) return err(val, where + ".key-file: expected a file name");
        if (auto s = read_secret_file(val, where + ".key-file", a.private_key_pem); !s) return s;
        have_key = true;
      } else if (key == "installation-id") {
        std::string s;
        if (auto st = scalar(val, where + ".installation-id", s); !st) return st;
        char* end = nullptr;
        a.installation_id = std::strtoll(s.c_str(), &end, 10);
        if (s.empty() || *end || a.installation_id <= 0)
          return err(val, where + ".installation-id: expected a positive number, not '" + s + "'");
      } else {
        return err(it->first, where + ": unknown key '" + key + "'" +
                                  did_you_mean(key, {"id", "key-file", "installation-id"}));
      }
    }
    if (a.app_id.empty() || !have_key) return err(v, where + ": needs both id and key-file");
    return {};
  }

  Status repositories(const YAML::Node& v, ServerConfig& c) {
    if (!v.IsSequence()) return err(v, "repositories: expected a list of `- repo: OWNER/NAME` entries");
    const std::vector<std::string> keys = {"repo", "token-file", "token-env", "app", "clone-url",
                                           "allow-forks", "poll"};
    int i = 0;
    for (const auto& item : v) {
      const std::string where = "repositories[" + std::to_string(i++) + "]";
      RepoConfig r;
      if (item.IsScalar()) {
        r.full_name = item.Scalar();
      } else if (item.IsMap()) {
        int tokens = 0;
        for (auto it = item.begin(); it != item.end(); ++it) {
          const std::string key = it->first.as<std::string>("");
          const YAML::Node val = it->second;  // a copy (it-> is a temporary proxy)
          Status s;
          if (key == "repo") s = string(val, where + ".repo", r.full_name);
          else if (key == "token-file" || key == "token-env") {
            if (!val.IsScalar() || val.Scalar().empty()) s = err(val, where + "." + key + ": expected a name");
            else if (++tokens > 1) s = err(it->first, where + ": give token-file or token-env, not both");
            else s = key == "token-file" ? read_secret_file(val, where + "." + key, r.token)
                                         : read_secret_env(val, where + "." + key, r.token);
          } else if (key == "app") {
            r.app.emplace();
            s = app(val, where + ".app", *r.app);
          } else if (key == "clone-url") {
            s = url(val, where + ".clone-url", r.clone_url, true);
          } else if (key == "allow-forks") {
            bool b = false;
            s = boolean(val, where + ".allow-forks", b);
            r.allow_forks = b;
          } else if (key == "poll") {
            s = poll_interval(val, where + ".poll", r.poll);
          } else {
            s = err(it->first, where + ": unknown key '" + key + "'" + did_you_mean(key, keys) +
                                   "; keys: " + join(keys, ", "));
          }
          if (!s) return s.error();
        }
        if (!r.token.empty() && r.app)
          return err(item, where + ": give a token or an app, not both");
      } else {
        return err(item, where + ": expected `repo: OWNER/NAME` (and token-file:, app:, ...)");
      }
      auto slash = r.full_name.find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == r.full_name.size() ||
          r.full_name.find('/', slash + 1) != std::string::npos)
        return err(item.IsMap() ? item["repo"] ? item["repo"] : item : item,
                   where + ": '" + r.full_name + "' is not OWNER/NAME");
      if (c.repo(r.full_name))
        return err(item, where + ": " + r.full_name + " is listed twice");
      c.repositories.push_back(std::move(r));
    }
    return {};
  }

  std::string file_;
  std::string dir_;
  char** env_;
  std::vector<std::string> secret_env_names_;
};

bool iequals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

const RepoConfig* ServerConfig::repo(const std::string& full_name) const {
  for (const auto& r : repositories)
    if (iequals(r.full_name, full_name)) return &r;
  return nullptr;
}

std::string ServerConfig::base_url() const {
  if (!public_url.empty()) return public_url;
  std::string h = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  return std::string(tls_cert.empty() ? "http://" : "https://") + h + ":" + std::to_string(port);
}

Result<ServerConfig> parse_config(const std::string& text, const std::string& file, char** env) {
  return ConfigReader(file, env).read(text);
}

Result<ServerConfig> load_config(const std::string& file, char** env) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error(file + ": cannot read the server configuration: " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  auto c = parse_config(ss.str(), file, env);
  if (!c) return c;
  // Paths relative to the file become absolute: runs start in their own folders.
  std::error_code ec;
  for (std::string* p : {&c->state_dir, &c->ca_file, &c->tls_cert, &c->tls_key})
    if (!p->empty()) *p = std::filesystem::absolute(*p, ec).lexically_normal().string();
  return c;
}

}  // namespace wfrun::serve
