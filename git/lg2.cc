// libgit2 setup and error conversion.

#include "git/lg2.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

namespace wfrun::git::lg2 {

namespace {
// libgit2's built-in CA bundle on Debian; also what we restore when no --ca-file is given.
constexpr const char* kSystemBundle = "/etc/ssl/certs/ca-certificates.crt";
}  // namespace

void init() {
  static std::once_flag once;
  std::call_once(once, [] { git_libgit2_init(); });
}

std::string last_message(int rc) {
  const git_error* e = git_error_last();
  if (e && e->message && *e->message) return e->message;
  return "error " + std::to_string(rc);
}

Result<void> check(int rc, const std::string& what) {
  if (rc >= 0) return {};
  return Error(what + ": " + last_message(rc));
}

std::string oid_hex(const git_oid& oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, &oid);
  return buf;
}

namespace {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errno_error("cannot read " + path, errno);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// libgit2's CA setting replaces the system bundle; ours adds to it. So we write the system
// bundle plus the user's CA into one file (named by a hash of the content) and use that.
Result<std::string> combined_bundle(const std::string& ca_file) {
  auto extra = read_file(ca_file);
  if (!extra) return Error("cannot read the CA file " + ca_file + " (--ca-file / WFRUN_CA_FILE)");
  if (extra->find("-----BEGIN CERTIFICATE-----") == std::string::npos)
    return Error("the CA file " + ca_file +
                 " has no PEM certificate in it (--ca-file / WFRUN_CA_FILE)");
  std::string system;
  if (auto s = read_file(kSystemBundle)) system = *s;
  std::string all = system + "\n" + *extra + "\n";
  git_oid id;
  if (auto r = check(git_odb_hash(&id, all.data(), all.size(), GIT_OBJECT_BLOB), "hashing"); !r)
    return r.error();
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = fs::temp_directory_path(ec);
  if (ec) dir = "/tmp";
  fs::path out = dir / ("wfrun-ca-" + std::to_string(::getuid()) + "-" + oid_hex(id) + ".pem");
  if (!fs::exists(out, ec)) {
    fs::path tmp = out;
    tmp += "." + std::to_string(::getpid()) + ".tmp";
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      f << all;
      if (!f) return errno_error("writing " + tmp.string(), errno);
    }
    fs::rename(tmp, out, ec);
    if (ec) return Error("writing " + out.string() + ": " + ec.message());
  }
  return out.string();
}

}  // namespace

Result<void> apply_ca_file(const std::string& ca_file) {
  // A process-wide libgit2 setting: change it only when it differs, under a lock.
  static std::mutex mu;
  static std::string applied;  // "" = libgit2's default (the system bundle)
  std::lock_guard<std::mutex> lock(mu);
  std::string want;
  if (!ca_file.empty()) {
    auto b = combined_bundle(ca_file);
    if (!b) return b.error();
    want = *b;
  }
  if (want == applied) return {};
  const char* file = want.empty() ? kSystemBundle : want.c_str();
  if (auto r = check(git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, file, nullptr),
                     "loading the CA bundle " + (ca_file.empty() ? file : ca_file));
      !r)
    return r;
  applied = want;
  return {};
}

}  // namespace wfrun::git::lg2
