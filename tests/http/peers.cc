#include "tests/http/peers.h"

#include <fcntl.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>

#include "base/fd.h"
#include "base/strings.h"
#include "http/github_url.h"

namespace wfrun::http::testing {

namespace fs = std::filesystem;
using nlohmann::json;

// The recorded scenarios the tests replay (issue 4's list).
const char* const kStockScenarios[] = {"create-status", "git-refs",        "create-file",
                                       "get-content",   "paginate-issues", "errors",
                                       "release-assets"};

bool npm_required() {
  const char* v = std::getenv("WFRUN_REQUIRE_NPM");
  return v && std::string(v) == "1";
}

namespace {

/// The fixtures server's process; its destructor ends the process group and reaps it.
class NodeProcess {
 public:
  NodeProcess(pid_t pid, UniqueFd in) : pid_(pid), stdin_(std::move(in)) {}
  ~NodeProcess() {
    stdin_.reset();
    ::kill(-pid_, SIGTERM);
    int st;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
  }

 private:
  pid_t pid_;
  UniqueFd stdin_;
};

struct Started {
  Peers peers;
  std::unique_ptr<NodeProcess> process;
  std::string dir;
  ~Started() {
    process.reset();
    if (!dir.empty()) {
      std::error_code ec;
      if (!std::getenv("WFRUN_KEEP_FIXTURES")) fs::remove_all(dir, ec);
    }
  }
};

std::string find_node_modules() {
  if (const char* v = std::getenv("WFRUN_NODE_MODULES")) return v;
  return std::string(WFRUN_SOURCE_DIR) + "/node_modules";
}

bool have_node() { return std::system("node --version >/dev/null 2>&1") == 0; }

Result<int> start_node(const std::string& script, const std::string& dir,
                       std::unique_ptr<NodeProcess>* out) {
  int in[2], outp[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(outp, O_CLOEXEC) != 0) return Error("pipe failed");
  const pid_t pid = fork();
  if (pid < 0) return Error("fork failed");
  if (pid == 0) {
    setpgid(0, 0);
    dup2(in[0], 0);
    dup2(outp[1], 1);
    execlp("node", "node", script.c_str(), dir.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(pid, pid);
  ::close(in[0]);
  ::close(outp[1]);
  UniqueFd out_r(outp[0]);
  *out = std::make_unique<NodeProcess>(pid, UniqueFd(in[1]));
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (line.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Error("the fixtures server did not start within 30 s");
    pollfd p{out_r.get(), POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[256];
    const ssize_t n = read(out_r.get(), buf, sizeof buf);
    if (n <= 0) return Error("the fixtures server exited before it listened (see stderr)");
    line.append(buf, static_cast<size_t>(n));
  }
  std::smatch m;
  if (!std::regex_search(line, m, std::regex("PORT ([0-9]+)"))) {
    return Error("unexpected output from the fixtures server: " + line);
  }
  return std::stoi(m[1]);
}

Started* start() {
  auto s = new Started;  // lives for the process; its destructor runs at exit
  static std::unique_ptr<Started> keep(s);
  Peers& p = s->peers;
  p.node_modules = find_node_modules();
  const std::string stock = p.node_modules + "/@octokit/fixtures/scenarios/api.github.com";
  const std::string spec_path = p.node_modules + "/@octokit/openapi/generated/api.github.com.json";
  if (!have_node()) {
    p.skip_reason = "node is not on PATH (the GitHub tests need it; see docs/github.md)";
    return s;
  }
  for (const auto& need : {stock, spec_path, p.node_modules + "/@octokit/fixtures-server"}) {
    if (!fs::exists(need)) {
      p.skip_reason = need + " is missing: run `npm ci` in the repository root";
      return s;
    }
  }
  std::string why;
  p.spec = OpenApiSpec::load(spec_path, &why);
  if (!p.spec) {
    p.skip_reason = "cannot load GitHub's OpenAPI description: " + why;
    return s;
  }
  char tmpl[] = "/tmp/wfrun-fixtures-XXXXXX";
  if (!mkdtemp(tmpl)) {
    p.skip_reason = "mkdtemp failed";
    return s;
  }
  s->dir = tmpl;
  for (const char* name : kStockScenarios) {
    std::ifstream in(stock + "/" + name + "/normalized-fixture.json");
    json f = json::parse(in);
    std::ofstream(s->dir + "/" + name + ".json") << adapt_stock_scenario(f, name).dump(2);
  }
  const json custom = custom_scenarios(*p.spec);
  for (const auto& [name, f] : custom.items()) {
    std::ofstream(s->dir + "/" + name + ".json") << f.dump(2);
  }
  auto port =
      start_node(std::string(WFRUN_TESTS_HTTP_DIR) + "/serve-fixtures.mjs", s->dir, &s->process);
  if (!port) {
    // Node and the modules are there: a failure to start is a real failure, not a skip.
    p.failure = "starting @octokit/fixtures-server: " + port.error().message();
    return s;
  }
  p.port = *port;
  return s;
}

}  // namespace

const Peers& peers() {
  static Started* s = start();
  return s->peers;
}

std::string test_private_key_pem() {
  static const std::string pem = [] {
    Handle<EVP_PKEY, EVP_PKEY_free> key(EVP_RSA_gen(2048));
    Handle<BIO, BIO_free_all> bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(n));
  }();
  return pem;
}

Result<std::string> load_scenario(const std::string& name) {
  httplib::Client c(peers().origin());
  auto r = c.Post("/fixtures", json{{"scenario", name}}.dump(), "application/json");
  if (!r) return Error("POST /fixtures: " + httplib::to_string(r.error()));
  if (r->status != 201) return Error("POST /fixtures " + name + ": " + r->body);
  return json::parse(r->body)["url"].get<std::string>();
}

Result<void> scenario_done(const std::string& base_url) {
  auto u = parse_url(base_url);
  httplib::Client c(u->origin());
  auto r = c.Get(u->target + "/__done__", {{"Accept", "application/vnd.github+json"}});
  if (!r) return Error("GET __done__: " + httplib::to_string(r.error()));
  if (r->body.find("not found") != std::string::npos &&
      r->body.find("Fixture") != std::string::npos) {
    return {};
  }
  return Error("requests still pending: " + r->body);
}

std::string rewritten(const std::string& base_url, const std::string& url) {
  // base: http://127.0.0.1:P/api.github.com/ID
  const size_t id_at = base_url.rfind('/');
  const std::string id = base_url.substr(id_at + 1);
  const std::string origin = base_url.substr(0, base_url.find('/', 8));
  std::smatch m;
  if (!std::regex_match(url, m, std::regex("https?://([^/]+)/(.*)"))) return url;
  return origin + "/" + m[1].str() + "/" + id + "/" + m[2].str();
}

json adapt_stock_scenario(const json& fixture, const std::string& name) {
  json out = json::array();
  for (json f : fixture) {
    json& h = f["reqheaders"];
    // Recorded in 2017-2022 with the v3 media types and `token` auth; wfrun sends today's.
    if (h.contains("accept")) {
      std::string a = h["accept"];
      if (a == "application/vnd.github.v3+json") a = "application/vnd.github+json";
      if (a == "application/vnd.github.v3.raw") a = "application/vnd.github.raw+json";
      h["accept"] = a;
    }
    if (h.contains("authorization")) {
      std::string a = h["authorization"];
      if (starts_with(a, "token ")) a = "Bearer " + a.substr(6);
      h["authorization"] = a;
    }
    if (h.contains("content-type") && h["content-type"] == "application/json; charset=utf-8") {
      h["content-type"] = "application/json";
    }
    // JSON bodies are compared parsed; our key order differs, so the length is not pinned.
    h.erase("content-length");
    h.erase("accept-encoding");
    const std::string path = f["path"];
    // Legacy `GET git/refs/` (list all refs) is not in today's API: the same answer comes
    // from `git/matching-refs/heads` (the recorded refs are all branches).
    if (name == "git-refs" && f["method"] == "get" && path.size() > 10 &&
        path.substr(path.size() - 10) == "/git/refs/") {
      f["path"] = path.substr(0, path.size() - 10) + "/git/matching-refs/heads";
    }
    // `GET contents/` (a directory listing with an empty path) is not an operation of today's
    // spec and wfrun only reads files: the step is dropped.
    if (name == "get-content" && path.size() > 10 &&
        path.substr(path.size() - 10) == "/contents/") {
      continue;
    }
    out.push_back(f);
  }
  return out;
}

}  // namespace wfrun::http::testing
