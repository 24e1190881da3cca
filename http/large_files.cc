#include "http/large_files.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

#include "base/fd.h"

namespace wfrun::http {

namespace {

std::string megabytes(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

std::string base_name(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string lower_extension(const std::string& name) {
  auto dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0) return "";
  std::string ext = name.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

// GitHub renames characters it does not keep in asset names; ours are predictable instead, so
// the next run finds (and reuses) the same asset.
std::string asset_name(const std::string& sha256, const std::string& repo_path) {
  std::string name = sha256.substr(0, 12) + "-";
  for (char c : base_name(repo_path)) {
    bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
    name += keep ? c : '_';
  }
  return name;
}

// A Markdown table cell: no pipes or newlines.
std::string cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n' || c == '\r')
      out += ' ';
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string large_files_release_body() {
  return "Files over 50 MB that wfrun's git-commit@v1 uploaded here instead of committing them "
         "(`large-files: release`). Each commit that refers to one has a `large-files.md` "
         "manifest with its link, size and SHA-256.";
}

Result<std::string> sha256_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error("cannot read " + path + ": " + std::strerror(errno));
  Handle<EVP_MD_CTX, EVP_MD_CTX_free> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    return Error("OpenSSL cannot compute SHA-256");
  std::vector<char> buf(1 << 20);
  while (true) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error("cannot read " + path + ": " + std::strerror(errno));
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string asset_content_type(const std::string& name) {
  static const std::map<std::string, std::string> types = {
      {"zip", "application/zip"},
      {"gz", "application/gzip"},
      {"tgz", "application/gzip"},
      {"tar", "application/x-tar"},
      {"json", "application/json"},
      {"csv", "text/csv"},
      {"txt", "text/plain"},
      {"md", "text/markdown"},
      {"html", "text/html"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"svg", "image/svg+xml"},
      {"pdf", "application/pdf"},
      {"ipynb", "application/x-ipynb+json"},
      {"parquet", "application/vnd.apache.parquet"}};
  auto it = types.find(lower_extension(name));
  return it == types.end() ? "application/octet-stream" : it->second;
}

Result<std::vector<PublishedFile>> publish_large_files(
    GithubClient& client, const Repo& repo, const std::string& tag,
    const std::vector<LargeFile>& files, const std::function<void(const std::string&)>& log) {
  std::vector<PublishedFile> out;
  if (files.empty()) return out;
  auto where = [&] { return "the release " + tag + " of " + repo.full_name(); };
  auto found = client.find_release_by_tag(repo, tag);
  if (!found) return found.error().context("looking for " + where());
  Release release;
  std::vector<ReleaseAsset> assets;
  if (*found) {
    release = **found;
    auto listed = client.list_release_assets(repo, release.id);
    if (!listed) return listed.error().context("listing the assets of " + where());
    assets = std::move(*listed);
  } else {
    auto made = client.create_release(repo, tag, "wfrun large files", large_files_release_body());
    if (!made) return made.error().context("creating " + where());
    release = *made;
    if (log) log("created " + where());
  }
  for (const auto& f : files) {
    PublishedFile p;
    p.repo_path = f.repo_path;
    p.size = f.size;
    auto sum = sha256_file(f.path);
    if (!sum) return sum.error();
    p.sha256 = *sum;
    p.asset_name = asset_name(p.sha256, f.repo_path);
    const ReleaseAsset* same = nullptr;
    for (const auto& a : assets)
      if (a.name == p.asset_name && static_cast<std::uint64_t>(a.size) == f.size) same = &a;
    if (same) {
      p.url = same->browser_download_url;
      if (log)
        log("large file " + f.repo_path + " (" + megabytes(f.size) + ") is already " + where() +
            "'s asset " + p.asset_name);
    } else {
      auto up = client.upload_release_asset_file(release, p.asset_name,
                                                 asset_content_type(f.repo_path), f.path);
      if (!up) return up.error().context("uploading " + f.repo_path + " to " + where());
      p.url = up->browser_download_url;
      p.uploaded = true;
      if (log)
        log("uploaded large file " + f.repo_path + " (" + megabytes(f.size) + ") to " + where() +
            " as " + p.asset_name);
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::string large_files_manifest(const Repo& repo, const std::string& tag,
                                 const std::vector<PublishedFile>& files) {
  std::string md =
      "# Large files\n\n"
      "These files are over 50 MB, so wfrun uploaded them as assets of the release `" +
      tag + "` of " + repo.full_name() +
      " instead of committing them (GitHub refuses files over 100 MB in a push).\n\n"
      "| file | size | SHA-256 | download |\n|---|---|---|---|\n";
  for (const auto& f : files) {
    md += "| `" + cell(f.repo_path) + "` | " + megabytes(f.size) + " (" + std::to_string(f.size) +
          " bytes) | `" + f.sha256 + "` | [" + cell(f.asset_name) + "](" + f.url + ") |\n";
  }
  md +=
      "\nFetch one back with `curl -L -o FILE URL` (for a private repository: `gh release "
      "download " +
      tag + " -R " + repo.full_name() +
      " -p ASSET`), and check it with "
      "`sha256sum FILE`.\n";
  return md;
}

}  // namespace wfrun::http
