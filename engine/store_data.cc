// The run store's datasets and models tables (the local data store behind dataset inputs and
// outputs, and create-model@v1).
#include <stdio.h>  // rename

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>

#include "engine/fs.h"
#include "engine/store.h"
#include "engine/store_sql.h"

namespace wfrun::engine {

namespace {

namespace fs = std::filesystem;

// The highest version folder of a dataset on disk (folders created by hand count too).
int max_version_on_disk(const std::string& dir) {
  int best = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.empty() || n.size() > 9 || !std::all_of(n.begin(), n.end(), ::isdigit)) continue;
    if (e.is_directory(ec)) best = std::max(best, std::stoi(n));
  }
  return best;
}

Result<int> next_dataset_version(StoreImpl& impl, const std::string& name) {
  Query q(impl, "SELECT COALESCE(MAX(version), 0) FROM datasets WHERE name = ?");
  if (!q.ok()) return q.error();
  q.bind(1, name);
  if (!q.step()) return q.error();
  int in_db = static_cast<int>(q.i64(0));
  return std::max(in_db, max_version_on_disk(impl.state_dir + "/datasets/" + name)) + 1;
}

Result<DatasetVersion> insert_dataset(StoreImpl& impl, const std::string& name, int version,
                                      const std::string& path, std::int64_t run_id,
                                      const std::string& message = "") {
  DatasetVersion d{name, version, path, run_id, store_now(), message};
  Query ins(impl,
            "INSERT INTO datasets(name, version, path, run_id, created, message) "
            "VALUES (?,?,?,?,?,?)");
  if (!ins.ok()) return ins.error();
  ins.bind(1, name).bind(2, version).bind(3, path).bind(4, run_id).bind(5, d.created).bind(6,
                                                                                          message);
  ins.step();
  if (ins.failed()) return ins.error();
  return d;
}

}  // namespace

std::string RunStore::dataset_dir(const std::string& name, int version) const {
  return impl_->state_dir + "/datasets/" + name + "/" + std::to_string(version);
}

Result<DatasetVersion> RunStore::add_dataset_version(const std::string& name,
                                                     const std::string& path, std::int64_t run_id) {
  Transaction t(*impl_);
  if (!t.begun()) return t.begun().error();
  auto v = next_dataset_version(*impl_, name);
  if (!v) return v.error();
  auto d = insert_dataset(*impl_, name, *v, path, run_id);
  if (!d) return d.error();
  if (auto s = t.commit(); !s) return s.error();
  return d;
}

Result<DatasetVersion> RunStore::commit_dataset_version(const std::string& name,
                                                        const std::string& from,
                                                        std::int64_t run_id,
                                                        const std::string& message,
                                                        std::optional<int> version) {
  // The rename happens inside the write transaction, so two processes committing versions
  // of one dataset at once get distinct numbers and never see a half-recorded version.
  Transaction t(*impl_);
  if (!t.begun()) return t.begun().error();
  auto v = next_dataset_version(*impl_, name);
  if (!v) return v.error();
  if (version) {
    Query q(*impl_, "SELECT 1 FROM datasets WHERE name = ? AND version = ?");
    if (!q.ok()) return q.error();
    q.bind(1, name).bind(2, *version);
    bool recorded = q.step();
    if (q.failed()) return q.error();
    if (recorded || exists(dataset_dir(name, *version)))
      return Error("dataset version " + name + ":" + std::to_string(*version) +
                   " exists already, and versions are immutable; write a new version " +
                   "(ref: " + name + ")");
    v = *version;
  }
  std::string dir = dataset_dir(name, *v);
  if (auto s = make_dirs(impl_->state_dir + "/datasets/" + name); !s) return s.error();
  if (::rename(from.c_str(), dir.c_str()) != 0)
    return errno_error("moving '" + from + "' to '" + dir + "'", errno);
  auto d = insert_dataset(*impl_, name, *v, dir, run_id, message);
  if (!d) {
    (void)::rename(dir.c_str(), from.c_str());
    return d.error();
  }
  if (auto s = t.commit(); !s) return s.error();
  return d;
}

Result<DatasetVersion> RunStore::find_dataset(const std::string& name, std::optional<int> version) {
  std::string label = version ? name + ":" + std::to_string(*version) : name;
  Query q(*impl_,
          version ? "SELECT version, path, run_id, created, message FROM datasets WHERE "
                    "name = ? AND version = ?"
                  : "SELECT version, path, run_id, created, message FROM datasets WHERE "
                    "name = ? ORDER BY version DESC LIMIT 1");
  if (!q.ok()) return q.error();
  q.bind(1, name);
  if (version) q.bind(2, *version);
  DatasetVersion d;
  d.name = name;
  bool found = q.step();
  if (q.failed()) return q.error();
  if (found) {
    d.version = static_cast<int>(q.i64(0));
    d.path = q.text(1);
    d.run_id = q.i64(2);
    d.created = q.real(3);
    d.message = q.text(4);
  }
  // A version folder made by hand under datasets/NAME/ counts as well.
  int on_disk = version ? 0 : max_version_on_disk(impl_->state_dir + "/datasets/" + name);
  if (version && !found && is_dir(dataset_dir(name, *version))) on_disk = *version;
  if (on_disk > d.version) {
    d.version = on_disk;
    d.path = dataset_dir(name, on_disk);
    d.run_id = 0;
    d.created = 0;
    d.message.clear();
    found = true;
  }
  if (!found)
    return Error("dataset '" + label + "' not found in " + impl_->state_dir + "/datasets");
  return d;
}

Result<std::vector<DatasetVersion>> RunStore::list_datasets(const std::string& name) {
  Query q(*impl_, name.empty() ? "SELECT name, version, path, run_id, created, message FROM "
                                 "datasets"
                               : "SELECT name, version, path, run_id, created, message FROM "
                                 "datasets WHERE name = ?");
  if (!q.ok()) return q.error();
  if (!name.empty()) q.bind(1, name);
  std::map<std::pair<std::string, int>, DatasetVersion> all;
  while (q.step()) {
    DatasetVersion d{q.text(0), static_cast<int>(q.i64(1)), q.text(2), q.i64(3), q.real(4),
                     q.text(5)};
    all[{d.name, d.version}] = std::move(d);
  }
  if (q.failed()) return q.error();
  // Version folders made by hand count too (NAME/N, and NAMESPACE/NAME/N).
  std::error_code ec;
  std::string root = impl_->state_dir + "/datasets";
  auto scan = [&](const std::string& ds) {
    std::error_code e;
    for (const auto& v : fs::directory_iterator(root + "/" + ds, e)) {
      const std::string n = v.path().filename().string();
      if (n.empty() || n.size() > 9 || !std::all_of(n.begin(), n.end(), ::isdigit) ||
          !v.is_directory(e))
        continue;
      auto key = std::make_pair(ds, std::stoi(n));
      if (!all.count(key)) all[key] = DatasetVersion{ds, key.second, v.path().string(), 0, 0, ""};
    }
  };
  if (!name.empty()) {
    scan(name);
  } else {
    for (const auto& e : fs::directory_iterator(root, ec)) {
      if (!e.is_directory(ec) || e.path().filename().string()[0] == '.') continue;
      std::string ds = e.path().filename().string();
      scan(ds);
      for (const auto& inner : fs::directory_iterator(e.path(), ec)) {
        std::string n = inner.path().filename().string();
        if (inner.is_directory(ec) && n[0] != '.' && !std::all_of(n.begin(), n.end(), ::isdigit))
          scan(ds + "/" + n);
      }
    }
  }
  std::vector<DatasetVersion> out;
  for (auto& [_, d] : all) out.push_back(std::move(d));
  return out;
}

Result<void> RunStore::forget_dataset_version(const std::string& name, int version) {
  Query q(*impl_, "DELETE FROM datasets WHERE name = ? AND version = ?");
  if (!q.ok()) return q.error();
  q.bind(1, name).bind(2, version);
  q.step();
  if (q.failed()) return q.error();
  return {};
}

Result<void> RunStore::remove_model(const std::string& id) {
  Query q(*impl_, "DELETE FROM models WHERE id = ?");
  if (!q.ok()) return q.error();
  q.bind(1, id);
  q.step();
  if (q.failed()) return q.error();
  if (sqlite3_changes(impl_->db.get()) == 0) return Error("no model '" + id + "'");
  return {};
}

Result<ModelRecord> RunStore::add_model(const ModelRecord& m) {
  ModelRecord out = m;
  if (out.created == 0) out.created = store_now();
  Transaction t(*impl_);
  if (!t.begun()) return t.begun().error();
  Query ins(*impl_,
            "INSERT INTO models(name, type, dataset, dataset_version, path, run_id, created) "
            "VALUES (?,?,?,?,?,?,?)");
  if (!ins.ok()) return ins.error();
  ins.bind(1, out.name)
      .bind(2, out.type)
      .bind(3, out.dataset)
      .bind(4, out.dataset_version)
      .bind(5, out.path)
      .bind(6, out.run_id)
      .bind(7, out.created);
  ins.step();
  if (ins.failed()) return ins.error();
  out.id = "mdl-" + std::to_string(sqlite3_last_insert_rowid(impl_->db.get()));
  Query upd(*impl_, "UPDATE models SET id = ? WHERE seq = ?");
  if (!upd.ok()) return upd.error();
  upd.bind(1, out.id).bind(2,
                           static_cast<std::int64_t>(sqlite3_last_insert_rowid(impl_->db.get())));
  upd.step();
  if (upd.failed()) return upd.error();
  if (auto s = t.commit(); !s) return s.error();
  return out;
}

Result<std::vector<ModelRecord>> RunStore::list_models() {
  Query q(*impl_,
          "SELECT id, name, type, dataset, dataset_version, path, run_id, created FROM models "
          "ORDER BY seq");
  if (!q.ok()) return q.error();
  std::vector<ModelRecord> out;
  while (q.step()) {
    ModelRecord m;
    m.id = q.text(0);
    m.name = q.text(1);
    m.type = q.text(2);
    m.dataset = q.text(3);
    m.dataset_version = static_cast<int>(q.i64(4));
    m.path = q.text(5);
    m.run_id = q.i64(6);
    m.created = q.real(7);
    out.push_back(std::move(m));
  }
  if (q.failed()) return q.error();
  return out;
}

}  // namespace wfrun::engine
