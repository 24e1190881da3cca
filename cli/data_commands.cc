#include "cli/data_commands.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "cli/options.h"
#include "engine/datasets.h"
#include "engine/store.h"

namespace wfrun::cli {
namespace {

using nlohmann::json;

std::string when(double t) {
  if (t <= 0) return "-";
  std::time_t s = static_cast<std::time_t>(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&s));
  return buf;
}

std::string bytes_text(std::uint64_t b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1000 && u < 4) v /= 1000, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

// Where a version came from: the run that wrote it, or `datasets add`.
std::string origin(const engine::DatasetVersion& d) {
  if (d.run_id > 0) return "run " + std::to_string(d.run_id);
  return d.created > 0 ? "added" : "by hand";
}

// `files: N (SIZE)` and the first paths.
void print_contents(const engine::DatasetContents& c) {
  std::printf("files:   %llu (%s)\n", static_cast<unsigned long long>(c.files),
              bytes_text(c.bytes).c_str());
  for (const auto& f : c.listing) std::printf("  %s\n", f.c_str());
  if (c.more) std::printf("  ...\n");
}

int fail(const Error& e) {
  std::fprintf(stderr, "wfrun: %s\n", e.str().c_str());
  return 2;
}

Result<engine::RunStore> open_store(const std::string& flag) {
  return engine::RunStore::open(resolve_state_dir(flag));
}

json version_json(const engine::DatasetVersion& d) {
  return {{"name", d.name},         {"version", d.version},  {"ref", d.name + ":" + std::to_string(d.version)},
          {"path", d.path},         {"run_id", d.run_id},    {"created", d.created},
          {"message", d.message}};
}

// `NAME:VERSION` with the version required (rm), or optional (show).
Result<engine::DatasetRef> read_ref(const std::string& text, bool need_version) {
  engine::DatasetRef r = engine::parse_dataset_ref(text);
  if (auto s = engine::check_dataset_name(r.name); !s) return s.error();
  if (need_version && !r.version)
    return Error("give the version to remove: " + r.name + ":N (wfrun datasets versions " +
                 r.name + " lists them)");
  return r;
}

int cmd_list(const std::string& state, bool as_json) {
  auto store = open_store(state);
  if (!store) return fail(store.error());
  auto all = store->list_datasets();
  if (!all) return fail(all.error());
  auto aliases = engine::DatasetAliases::load({store->state_dir() + "/datasets.yaml"});
  if (!aliases) return fail(aliases.error());
  struct Row {
    int versions = 0;
    const engine::DatasetVersion* latest = nullptr;
  };
  std::map<std::string, Row> rows;
  for (const auto& d : *all) {
    Row& r = rows[d.name];
    ++r.versions;
    r.latest = &d;  // sorted by version
  }
  if (as_json) {
    json arr = json::array();
    for (const auto& [name, r] : rows)
      arr.push_back({{"name", name}, {"versions", r.versions}, {"latest", version_json(*r.latest)}});
    json out = {{"datasets", arr}, {"aliases", aliases->entries()}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (rows.empty()) {
    std::printf("no datasets yet in %s/datasets (wfrun datasets add NAME FOLDER adds one)\n",
                store->state_dir().c_str());
  } else {
    std::printf("%-30s %-8s %-7s %-19s %s\n", "NAME", "VERSIONS", "LATEST", "CREATED", "FROM");
    for (const auto& [name, r] : rows)
      std::printf("%-30s %-8d %-7d %-19s %s\n", name.c_str(), r.versions, r.latest->version,
                  when(r.latest->created).c_str(), origin(*r.latest).c_str());
  }
  if (!aliases->entries().empty()) {
    std::printf("\naliases (%s/datasets.yaml):\n", store->state_dir().c_str());
    for (const auto& [id, name] : aliases->entries())
      std::printf("  %s -> %s\n", id.c_str(), name.c_str());
  }
  return 0;
}

int cmd_versions(const std::string& state, const std::string& name, bool as_json) {
  if (auto s = engine::check_dataset_name(name); !s) return fail(s.error());
  auto store = open_store(state);
  if (!store) return fail(store.error());
  auto all = store->list_datasets(name);
  if (!all) return fail(all.error());
  if (all->empty())
    return fail(Error("no dataset '" + name + "' in " + store->state_dir() +
                      "/datasets (wfrun datasets list shows the datasets)"));
  if (as_json) {
    json arr = json::array();
    for (const auto& d : *all) arr.push_back(version_json(d));
    std::printf("%s\n", arr.dump(2).c_str());
    return 0;
  }
  std::printf("%-8s %-19s %-9s %s\n", "VERSION", "CREATED", "FROM", "MESSAGE");
  for (const auto& d : *all)
    std::printf("%-8d %-19s %-9s %s\n", d.version, when(d.created).c_str(), origin(d).c_str(),
                d.message.c_str());
  return 0;
}

int cmd_add(const std::string& state, const std::string& name, const std::string& path,
            const std::string& message, bool move) {
  engine::DatasetRef r = engine::parse_dataset_ref(name);
  if (r.version)
    return fail(Error("wfrun numbers the versions: give the name only (" + r.name +
                      "); the new version is printed"));
  auto store = open_store(state);
  if (!store) return fail(store.error());
  auto d = engine::add_dataset_version(*store, name, path, message, move);
  if (!d) return fail(d.error());
  std::printf("%s:%d\n", d->name.c_str(), d->version);
  return 0;
}

int cmd_show(const std::string& state, const std::string& text, bool as_json) {
  auto store = open_store(state);
  if (!store) return fail(store.error());
  auto aliases = engine::DatasetAliases::load({store->state_dir() + "/datasets.yaml"});
  if (!aliases) return fail(aliases.error());
  auto resolved = aliases->resolve(text);
  if (!resolved) return fail(resolved.error());
  auto ref = read_ref(resolved->str(), false);
  if (!ref) return fail(ref.error());
  auto d = store->find_dataset(ref->name, ref->version);
  if (!d) return fail(d.error());
  constexpr size_t kList = 20;
  auto c = engine::dataset_contents(d->path, kList);
  if (!c) return fail(c.error());
  std::vector<std::string> names;  // aliases that stand for it
  for (const auto& [id, target] : aliases->entries()) {
    engine::DatasetRef t = engine::parse_dataset_ref(target);
    if (t.name == d->name && (!t.version || *t.version == d->version)) names.push_back(id);
  }
  if (as_json) {
    json j = version_json(*d);
    j["files"] = c->files;
    j["bytes"] = c->bytes;
    j["listing"] = c->listing;
    j["aliases"] = names;
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("dataset: %s:%d\npath:    %s\ncreated: %s\nfrom:    %s\n", d->name.c_str(),
              d->version, d->path.c_str(), when(d->created).c_str(), origin(*d).c_str());
  if (!d->message.empty()) std::printf("message: %s\n", d->message.c_str());
  if (!names.empty()) std::printf("aliases: %s\n", join(names, ", ").c_str());
  print_contents(*c);
  return 0;
}

int cmd_rm(const std::string& state, const std::string& text) {
  auto ref = read_ref(text, true);
  if (!ref) return fail(ref.error());
  auto store = open_store(state);
  if (!store) return fail(store.error());
  if (auto s = engine::remove_dataset_version(*store, ref->name, *ref->version); !s)
    return fail(s.error());
  std::printf("removed %s\n", ref->str().c_str());
  return 0;
}

int cmd_alias(const std::string& state, const std::string& id, const std::string& name) {
  if (id.empty() || id.find_first_of(" \t\n") != std::string::npos)
    return fail(Error("'" + id + "' is not a dataset id"));
  engine::DatasetRef target = engine::parse_dataset_ref(name);
  if (auto s = engine::check_dataset_name(target.name); !s) return fail(s.error());
  std::string file = resolve_state_dir(state) + "/datasets.yaml";
  if (auto s = engine::write_dataset_alias(file, id, name); !s) return fail(s.error());
  std::printf("%s -> %s (%s)\n", id.c_str(), name.c_str(), file.c_str());
  return 0;
}

int cmd_models(const std::string& state, bool as_json) {
  auto store = open_store(state);
  if (!store) return fail(store.error());
  auto models = store->list_models();
  if (!models) return fail(models.error());
  if (as_json) {
    json arr = json::array();
    for (const auto& m : *models)
      arr.push_back({{"id", m.id},           {"name", m.name},
                     {"type", m.type},       {"dataset", m.dataset + ":" + std::to_string(m.dataset_version)},
                     {"path", m.path},       {"run_id", m.run_id},
                     {"created", m.created}});
    std::printf("%s\n", arr.dump(2).c_str());
    return 0;
  }
  if (models->empty()) {
    std::printf("no models registered yet (create-model@v1 registers them)\n");
    return 0;
  }
  std::printf("%-10s %-20s %-12s %-24s %-6s %s\n", "ID", "NAME", "TYPE", "DATASET", "RUN",
              "CREATED");
  for (const auto& m : *models) {
    std::string ds = m.dataset + ":" + std::to_string(m.dataset_version);
    std::printf("%-10s %-20s %-12s %-24s %-6lld %s\n", m.id.c_str(), m.name.c_str(),
                m.type.c_str(), ds.c_str(), static_cast<long long>(m.run_id),
                when(m.created).c_str());
  }
  return 0;
}

// A model by id (mdl-3) or, when unambiguous, by name (the newest with that name).
Result<engine::ModelRecord> find_model(engine::RunStore& store, const std::string& key) {
  auto models = store.list_models();
  if (!models) return models.error();
  const engine::ModelRecord* found = nullptr;
  for (const auto& m : *models)
    if (m.id == key) return m;
  for (const auto& m : *models)
    if (m.name == key) found = &m;
  if (found) return *found;
  std::vector<std::string> ids;
  for (const auto& m : *models) ids.push_back(m.id);
  return Error("no model '" + key + "'" + did_you_mean(key, ids) +
               (ids.empty() ? "; none is registered" : "; wfrun models list shows them"));
}

int cmd_model_show(const std::string& state, const std::string& key, bool as_json) {
  auto store = open_store(state);
  if (!store) return fail(store.error());
  auto m = find_model(*store, key);
  if (!m) return fail(m.error());
  auto c = engine::dataset_contents(m->path, 20);
  std::string ds = m->dataset + ":" + std::to_string(m->dataset_version);
  if (as_json) {
    json j = {{"id", m->id},     {"name", m->name},   {"type", m->type},      {"dataset", ds},
              {"path", m->path}, {"run_id", m->run_id}, {"created", m->created}};
    if (c) j["files"] = c->files, j["bytes"] = c->bytes, j["listing"] = c->listing;
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("model:   %s (%s)\ntype:    %s\ndataset: %s\npath:    %s\ncreated: %s\nrun:     %lld\n",
              m->id.c_str(), m->name.c_str(), m->type.c_str(), ds.c_str(), m->path.c_str(),
              when(m->created).c_str(), static_cast<long long>(m->run_id));
  if (!c) {
    std::printf("files:   missing (%s)\n", c.error().message().c_str());
    return 0;
  }
  print_contents(*c);
  return 0;
}

int cmd_model_rm(const std::string& state, const std::string& key) {
  auto store = open_store(state);
  if (!store) return fail(store.error());
  auto m = find_model(*store, key);
  if (!m) return fail(m.error());
  if (auto s = store->remove_model(m->id); !s) return fail(s.error());
  std::printf("removed %s (%s); its files stay in dataset %s:%d\n", m->id.c_str(),
              m->name.c_str(), m->dataset.c_str(), m->dataset_version);
  return 0;
}

}  // namespace

void add_data_commands(CLI::App& app, std::string& state_dir, int& exit_code) {
  static bool json_out = false, move = false;
  static std::string name, path, message, ref, id;

  auto* ds = app.add_subcommand("datasets", "the local data store: list, add, show, remove");
  ds->require_subcommand(1);
  auto* list = ds->add_subcommand("list", "every dataset, its number of versions and the newest");
  list->add_flag("--json", json_out, "print JSON");
  list->callback([&] { exit_code = cmd_list(state_dir, json_out); });

  auto* versions = ds->add_subcommand("versions", "the versions of one dataset");
  versions->add_option("name", name, "the dataset")->required();
  versions->add_flag("--json", json_out, "print JSON");
  versions->callback([&] { exit_code = cmd_versions(state_dir, name, json_out); });

  auto* add = ds->add_subcommand("add", "copy a folder (or file) in as the next version; prints NAME:VERSION");
  add->add_option("name", name, "the dataset (created when new)")->required();
  add->add_option("path", path, "the folder or file to add")->required();
  add->add_option("-m,--message", message, "a note kept with the version");
  add->add_flag("--move", move, "move the folder in instead of copying it");
  add->callback([&] { exit_code = cmd_add(state_dir, name, path, message, move); });

  auto* show = ds->add_subcommand("show", "one version (the newest by default): where, what, how big");
  show->add_option("ref", ref, "NAME or NAME:VERSION (or an aliased Gradient id)")->required();
  show->add_flag("--json", json_out, "print JSON");
  show->callback([&] { exit_code = cmd_show(state_dir, ref, json_out); });

  auto* rm = ds->add_subcommand("rm", "delete one version (NAME:VERSION)");
  rm->add_option("ref", ref, "NAME:VERSION")->required();
  rm->callback([&] { exit_code = cmd_rm(state_dir, ref); });

  auto* alias = ds->add_subcommand(
      "alias", "let a Gradient dataset id (or ID:VERSION) in workflows stand for a local dataset");
  alias->add_option("id", id, "the Gradient dataset id, e.g. dsrz5za640fptze")->required();
  alias->add_option("name", name, "the local dataset: NAME or NAME:VERSION")->required();
  alias->callback([&] { exit_code = cmd_alias(state_dir, id, name); });

  auto* models = app.add_subcommand("models", "the models registered by create-model@v1");
  models->add_flag("--json", json_out, "print JSON");
  models->callback([&, models] {
    if (models->get_subcommands().empty()) exit_code = cmd_models(state_dir, json_out);
  });
  auto* mlist = models->add_subcommand("list", "every registered model");
  mlist->add_flag("--json", json_out, "print JSON");
  mlist->callback([&] { exit_code = cmd_models(state_dir, json_out); });
  auto* mshow = models->add_subcommand("show", "one model: its dataset version and files");
  mshow->add_option("model", id, "the model's id (mdl-3) or name")->required();
  mshow->add_flag("--json", json_out, "print JSON");
  mshow->callback([&] { exit_code = cmd_model_show(state_dir, id, json_out); });
  auto* mrm = models->add_subcommand("rm", "forget a model (its dataset version stays)");
  mrm->add_option("model", id, "the model's id (mdl-3) or name")->required();
  mrm->callback([&] { exit_code = cmd_model_rm(state_dir, id); });
}

}  // namespace wfrun::cli
