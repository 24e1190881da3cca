#include "engine/datasets.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iterator>
#include <set>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "base/strings.h"
#include "engine/fs.h"
#include "engine/store.h"

namespace wfrun::engine {
namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() <= 9 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The version part of a ref: a number, `vN`, or `latest` (no version).
struct Version {
  bool ok = false;             // it is one of those
  std::optional<int> number;  // none for `latest`
};
Version read_version(std::string_view v) {
  if (v == "latest") return {true, std::nullopt};
  if (v.size() > 1 && v[0] == 'v' && all_digits(v.substr(1))) v.remove_prefix(1);
  if (all_digits(v)) return {true, std::stoi(std::string(v))};
  return {};
}

}  // namespace

std::string DatasetRef::str() const {
  return version ? name + ":" + std::to_string(*version) : name;
}

DatasetRef parse_dataset_ref(const std::string& ref) {
  DatasetRef r;
  r.name = ref;
  size_t colon = ref.rfind(':');
  if (colon == std::string::npos) return r;
  if (Version v = read_version(std::string_view(ref).substr(colon + 1)); v.ok) {
    r.name = ref.substr(0, colon);
    r.version = v.number;
  }
  return r;
}

Status check_dataset_name(const std::string& name) {
  const std::string what = "dataset name '" + name + "'";
  if (name.empty()) return Error("a dataset needs a name");
  if (name.size() > 200) return Error(what.substr(0, 40) + "...' is longer than 200 characters");
  auto parts = split(name, '/');
  if (parts.size() > 2)
    return Error(what + " has more than one '/'; a name is NAME or NAMESPACE/NAME");
  for (const auto& p : parts) {
    if (p.empty() || p == "." || p == "..")
      return Error(what + " is not a valid name; use letters, digits, '-', '_' and '.'");
    for (char c : p)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
        if (c == ':')
          return Error(what + " has a version that is not a number; write NAME:3, NAME:v3 or "
                              "NAME:latest (a Gradient version id needs an alias: wfrun "
                              "datasets alias ID:VERSION NAME:N)");
        return Error(what + " has '" + std::string(1, c) +
                     "'; use letters, digits, '-', '_' and '.'");
      }
  }
  return {};
}

Result<DatasetAliases> DatasetAliases::load(const std::vector<std::string>& files) {
  DatasetAliases a;
  for (const auto& file : files) {
    if (!exists(file)) continue;
    try {
      YAML::Node root = YAML::LoadFile(file);
      if (root.IsNull()) continue;
      auto where = [&](const YAML::Node& n) {
        return file + ":" + std::to_string(n.Mark().line + 1) + ":" +
               std::to_string(n.Mark().column + 1);
      };
      if (!root.IsMap() || (root["aliases"] && !root["aliases"].IsMap() &&
                            !root["aliases"].IsNull()))
        return Error(where(root) + ": a datasets file is a map `aliases: {GRADIENT_ID: NAME}`");
      for (const auto& top : root) {
        std::string key = top.first.as<std::string>("");
        if (key != "aliases")
          return Error(where(top.first) + ": unknown key '" + key + "'; expected 'aliases'");
      }
      for (const auto& kv : root["aliases"]) {
        if (!kv.second.IsScalar())
          return Error(where(kv.second) + ": alias '" + kv.first.as<std::string>("") +
                       "' must name a local dataset (NAME or NAME:VERSION)");
        std::string value = kv.second.as<std::string>();
        DatasetRef target = parse_dataset_ref(value);
        if (auto s = check_dataset_name(target.name); !s)
          return Error(where(kv.second) + ": " + s.error().message());
        a.add(kv.first.as<std::string>(), value, file);
      }
    } catch (const YAML::Exception& e) {
      return Error(file + ":" + std::to_string(e.mark.line + 1) + ":" +
                   std::to_string(e.mark.column + 1) + ": " + e.msg);
    }
  }
  return a;
}

void DatasetAliases::add(const std::string& key, const std::string& value,
                         const std::string& file) {
  map_[key] = value;
  from_[key] = file;
}

std::string DatasetAliases::source(const std::string& key) const {
  auto it = from_.find(key);
  return it == from_.end() ? "" : it->second;
}

Result<DatasetRef> DatasetAliases::resolve(const std::string& ref) const {
  if (auto it = map_.find(ref); it != map_.end()) return parse_dataset_ref(it->second);
  size_t colon = ref.rfind(':');
  std::string id = colon == std::string::npos ? ref : ref.substr(0, colon);
  auto it = map_.find(id);
  if (it == map_.end()) return parse_dataset_ref(ref);
  DatasetRef target = parse_dataset_ref(it->second);
  if (colon == std::string::npos) return target;
  Version version = read_version(std::string_view(ref).substr(colon + 1));
  if (!version.ok)
    return Error("dataset '" + ref + "': version '" + ref.substr(colon + 1) + "' of '" + id +
                 "' is a Gradient version with no local counterpart; alias it too: wfrun "
                 "datasets alias " + ref + " " + target.name + ":N");
  if (version.number && target.version && *version.number != *target.version)
    return Error("dataset '" + ref + "': '" + id + "' stands for " + it->second + " (" +
                 source(id) + "), which has no version " + std::to_string(*version.number));
  if (version.number) target.version = version.number;
  return target;
}

std::vector<std::string> dataset_alias_files(const std::string& state_dir,
                                             const std::string& workflow_dir) {
  std::vector<std::string> out;
  if (!state_dir.empty()) out.push_back(state_dir + "/datasets.yaml");
  if (!workflow_dir.empty()) out.push_back(workflow_dir + "/datasets.yaml");
  return out;
}

Status write_dataset_alias(const std::string& file, const std::string& id,
                           const std::string& name) {
  YAML::Node root;
  if (exists(file)) {
    try {
      root = YAML::LoadFile(file);
    } catch (const YAML::Exception& e) {
      return Error(file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
  }
  if (!root.IsMap()) root = YAML::Node(YAML::NodeType::Map);
  if (!root["aliases"] || !root["aliases"].IsMap())
    root["aliases"] = YAML::Node(YAML::NodeType::Map);
  root["aliases"][id] = name;
  YAML::Emitter out;
  out << YAML::Comment("Gradient dataset ids -> local datasets (wfrun datasets alias ID NAME)");
  out << YAML::Newline << root;
  return write_file_atomic(file, std::string(out.c_str()) + "\n");
}

bool looks_like_gradient_dataset_id(const std::string& name) {
  return name.size() == 15 && name.rfind("ds", 0) == 0 &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
         });
}

Status localize_datasets(workflows::Workflow& wf, std::map<std::string, std::string>& inputs,
                         const DatasetAliases& aliases) {
  using workflows::IoType;
  auto fix = [&](std::string& ref, const Location& where) -> Status {
    auto r = aliases.resolve(ref);
    if (!r) return Error(where, r.error().message());
    if (auto s = check_dataset_name(r->name); !s) return Error(where, s.error().message());
    ref = r->str();
    return {};
  };
  for (auto& in : wf.inputs) {
    if (in.type != IoType::kDataset) continue;
    if (auto it = inputs.find(in.name); it != inputs.end()) {
      Location l;
      l.field = "--input " + in.name;
      if (auto s = fix(it->second, l); !s) return s;
    }
    if (in.ref)
      if (auto s = fix(*in.ref, wf.where("inputs." + in.name)); !s) return s;
  }
  for (auto& job : wf.jobs) {
    for (auto& in : job.inputs)
      if (in.type == IoType::kDataset && in.ref &&
          in.source == workflows::JobInput::Source::kInline)
        if (auto s = fix(*in.ref, wf.where("jobs." + job.name + ".inputs." + in.name)); !s)
          return s;
    for (auto& out : job.outputs)
      if (out.type == IoType::kDataset && out.ref)
        if (auto s = fix(*out.ref, wf.where("jobs." + job.name + ".outputs." + out.name)); !s)
          return s;
  }
  return {};
}

namespace {

namespace fs = std::filesystem;

// A staging folder beside the versions (same file system: the commit is a rename).
Result<std::string> staging_dir(RunStore& store, const std::string& name) {
  std::string parent = store.state_dir() + "/datasets/" + name;
  if (auto s = make_dirs(parent); !s) return s.error();
  std::string tmpl = parent + "/.add-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) return errno_error("cannot create a folder in " + parent, errno);
  return std::string(buf.data());
}

}  // namespace

Status set_read_only(const std::string& path, bool read_only) {
  std::error_code ec;
  auto apply = [&](const fs::path& p) {
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0 || S_ISLNK(st.st_mode)) return;
    mode_t m = read_only ? st.st_mode & ~(S_IWUSR | S_IWGRP | S_IWOTH) : st.st_mode | S_IWUSR;
    ::chmod(p.c_str(), m & 07777);
  };
  if (!read_only) apply(path);  // a folder must be writable before its entries can change
  for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec))
    apply(it->path());
  if (read_only) apply(path);
  if (ec) return Error("cannot change the permissions under " + path + ": " + ec.message());
  return {};
}

Result<DatasetVersion> add_dataset_version(RunStore& store, const std::string& name,
                                           const std::string& path, const std::string& message,
                                           bool move) {
  if (auto s = check_dataset_name(name); !s) return s.error();
  std::error_code ec;
  auto st = fs::symlink_status(path, ec);
  if (ec || !fs::exists(st)) return Error("'" + path + "' does not exist");
  const bool folder = fs::is_directory(fs::status(path, ec));
  auto staging = staging_dir(store, name);
  if (!staging) return staging.error();
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      if (dir.empty()) return;
      (void)set_read_only(dir, false);
      std::error_code e;
      fs::remove_all(dir, e);
    }
  } cleanup{*staging};
  // A file becomes the one file of the version; a folder's contents become the version.
  std::string target = folder ? *staging : *staging + "/" + fs::path(path).filename().string();
  bool moved = false;
  if (move) {
    if (folder) (void)::rmdir(staging->c_str());
    moved = ::rename(path.c_str(), target.c_str()) == 0;
    int err = moved ? 0 : errno;
    if (folder && !moved && ::mkdir(staging->c_str(), 0755) != 0)
      return errno_error("cannot recreate " + *staging, errno);
    if (!moved && err != EXDEV) return errno_error("cannot move '" + path + "'", err);
  }
  if (!moved) {
    // Another file system (or a copy was asked for): copy, keeping symlinks as they are.
    fs::copy(path, target,
             fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
    if (ec) return Error("cannot copy '" + path + "' into the data store: " + ec.message());
  }
  ::chmod(staging->c_str(), 0755);
  auto d = store.commit_dataset_version(name, *staging, 0, message);
  if (!d) return d.error();
  cleanup.dir.clear();
  if (move && !moved) {
    (void)set_read_only(path, false);
    fs::remove_all(path, ec);
  }
  (void)set_read_only(d->path, true);
  return d;
}

Status remove_dataset_version(RunStore& store, const std::string& name, int version) {
  auto d = store.find_dataset(name, version);
  if (!d) return d.error();
  auto models = store.list_models();
  if (!models) return models.error();
  for (const auto& m : *models)
    if (m.dataset == name && m.dataset_version == version)
      return Error("dataset " + name + ":" + std::to_string(version) + " holds the files of model " +
                   m.id + " (" + m.name + "); remove the model first: wfrun models rm " + m.id);
  if (auto s = set_read_only(d->path, false); !s) return s;
  std::error_code ec;
  fs::remove_all(d->path, ec);
  if (ec) return Error("cannot delete " + d->path + ": " + ec.message());
  return store.forget_dataset_version(name, version);
}

Result<DatasetContents> dataset_contents(const std::string& path, size_t list) {
  DatasetContents c;
  std::error_code ec;
  std::set<std::string> first;  // the `list` + 1 smallest paths seen so far
  fs::path root(path);
  if (!fs::is_directory(root, ec)) return Error("'" + path + "' is not a folder");
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code e2;
    std::string rel = fs::relative(it->path(), root, e2).string();
    if (it->is_directory(e2) && !it->is_symlink(e2)) {
      rel += "/";
    } else {
      ++c.files;
      if (it->is_regular_file(e2)) c.bytes += it->file_size(e2);
    }
    first.insert(std::move(rel));
    if (first.size() > list + 1) first.erase(std::prev(first.end()));
  }
  if (ec) return Error("cannot read " + path + ": " + ec.message());
  c.more = first.size() > list;
  if (c.more) first.erase(std::prev(first.end()));
  c.listing.assign(first.begin(), first.end());
  return c;
}

}  // namespace wfrun::engine
