// Every fixture notebook through run_notebook, compared cell by cell with what Jupyter's
// nbclient produced (the oracle), volatile cells excepted. One test per fixture folder found at
// run time (`Oracle.FixturesMatchJupyter/ipython4_beyond_plain_python`), so ctest runs them in
// parallel and reports each notebook.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "engine/notebook/notebook.h"
#include "tests/notebook/fixtures.h"

namespace wfrun::notebook {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string text_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  std::string s;
  if (v.is_array())
    for (const auto& x : v) s += x.get<std::string>();
  return s;
}

// nbclient stores each stream message as its own output and ipykernel's flush timing decides
// where one message ends; consecutive writes to one stream are one text either way.
json merged_outputs(const json& outs) {
  json r = json::array();
  for (const auto& o : outs) {
    if (o.value("output_type", "") == "stream" && !r.empty() &&
        r.back().value("output_type", "") == "stream" && r.back()["name"] == o["name"]) {
      r.back()["text"] = text_of(r.back()["text"]) + text_of(o["text"]);
      continue;
    }
    json c = o;
    if (c.contains("text")) c["text"] = text_of(c["text"]);
    r.push_back(c);
  }
  return r;
}

std::string brief(const std::string& s) {
  std::string t = s.size() > 300 ? s.substr(0, 300) + "..." : s;
  return json(t).dump();
}

// Differences between one cell's outputs and the oracle's, or "".
std::string compare_cell(const json& ours_raw, const json& want_raw) {
  json ours = merged_outputs(ours_raw), want = merged_outputs(want_raw);
  std::string diff;
  auto kinds = [](const json& outs) {
    std::string s;
    for (const auto& o : outs) {
      s += o.value("output_type", "?");
      if (o.contains("name")) s += ":" + o["name"].get<std::string>();
      s += " ";
    }
    return s;
  };
  if (ours.size() != want.size()) return "outputs [" + kinds(ours) + "] want [" + kinds(want) + "]";
  for (size_t i = 0; i < want.size(); ++i) {
    const json &a = ours[i], &b = want[i];
    std::string ta = a.value("output_type", ""), tb = b.value("output_type", "");
    if (ta != tb) return "output " + std::to_string(i) + " is " + ta + ", want " + tb;
    if (tb == "stream") {
      if (a["name"] != b["name"]) return "stream name differs";
      if (text_of(a["text"]) != text_of(b["text"]))
        return "stream " + b["name"].get<std::string>() + " text " + brief(text_of(a["text"])) +
               " want " + brief(text_of(b["text"]));
    } else if (tb == "error") {
      if (a["ename"] != b["ename"] || a["evalue"] != b["evalue"])
        return "error " + a["ename"].dump() + ": " + a["evalue"].dump() + " want " +
               b["ename"].dump() + ": " + b["evalue"].dump();
    } else {
      const json& da = a["data"];
      const json& db = b["data"];
      for (const auto& [mime, v] : db.items()) {
        if (!da.contains(mime)) return tb + " lacks " + mime + " (has " + da.dump().substr(0, 200) + ")";
      }
      if (db.contains("text/plain") && text_of(da["text/plain"]) != text_of(db["text/plain"]))
        return tb + " text/plain " + brief(text_of(da["text/plain"])) + " want " +
               brief(text_of(db["text/plain"]));
    }
  }
  return diff;
}

// A cell whose output depends on the machine or the day it runs on (`datetime.now()`, `df -h`),
// named in its fixture's MANIFEST under `host_dependent_cells` (wfrun's addition to the
// manifests; fixtures/README.md): {"cell": N, "source": TEXT, "mask": REGEX, "reason": WHY}. Every
// match of `mask` in that cell's stream text, `text/plain` and error value is replaced, in our
// outputs and in the oracle's alike, before they are compared; the rest of the text must still
// match. The entry is checked against the oracle so that it cannot drift: the cell must be a code
// cell whose source contains `source`, and `mask` must match somewhere in its oracle outputs.
struct HostDependence {
  int cell = -1;
  std::string source, reason;
  std::string mask_text;
  std::regex mask;
};

// The manifest's `host_dependent_cells`; a malformed entry is a problem, not a silent skip.
std::map<int, HostDependence> host_dependences(const json& manifest,
                                               std::vector<std::string>& problems) {
  std::map<int, HostDependence> out;
  for (const auto& e : manifest.value("host_dependent_cells", json::array())) {
    HostDependence h;
    try {
      h.cell = e.at("cell").get<int>();
      h.source = e.at("source").get<std::string>();
      h.reason = e.at("reason").get<std::string>();
      h.mask_text = e.at("mask").get<std::string>();
      h.mask = std::regex(h.mask_text);
    } catch (const std::exception& ex) {
      problems.push_back("MANIFEST host_dependent_cells entry " + e.dump() + ": " + ex.what());
      continue;
    }
    out[h.cell] = std::move(h);
  }
  return out;
}

// `outs` (merged) with every match of `mask` in the compared texts replaced; `hits` counts them.
json masked(json outs, const std::regex& mask, size_t& hits) {
  auto apply = [&](json& v) {
    std::string t = text_of(v);
    auto n = static_cast<size_t>(
        std::distance(std::sregex_iterator(t.begin(), t.end(), mask), std::sregex_iterator()));
    hits += n;
    if (n) v = std::regex_replace(t, mask, "<host-dependent>");
  };
  for (auto& o : outs) {
    if (o.contains("text")) apply(o["text"]);
    if (o.contains("evalue")) apply(o["evalue"]);
    if (o.contains("data") && o["data"].contains("text/plain")) apply(o["data"]["text/plain"]);
  }
  return outs;
}

// What differs from the oracle; empty when the fixture passes.
std::vector<std::string> run_fixture(const testing::Fixture& fx) {
  std::vector<std::string> problems;
  const fs::path& dir = fx.dir;
  json manifest = json::parse(std::ifstream(dir / "MANIFEST.json"));
  fs::path input = dir / manifest["notebook"].get<std::string>();
  fs::path oracle_path = dir / manifest["oracle"].get<std::string>();
  std::set<int> volatile_cells;
  for (const auto& v : manifest.value("volatile_cells", json::array()))
    volatile_cells.insert(v["cell"].get<int>());
  std::map<int, HostDependence> host = host_dependences(manifest, problems);
  // A fresh temporary copy of input/, like the oracle's run.
  char tmpl[] = "/tmp/work.XXXXXX";
  fs::path work = mkdtemp(tmpl);
  fs::copy(dir / "input", work, fs::copy_options::recursive);
  fs::path nb_in = work / input.filename();
  NbRunOptions o;
  o.notebook = nb_in.string();
  char out_tmpl[] = "/tmp/wfrun-oracle-out.XXXXXX";
  fs::path out_dir = mkdtemp(out_tmpl);  // outside the working copy: `!ls` must not see it
  o.output = (out_dir / input.filename()).string();
  o.python = testing::kPython;
  o.allow_errors = manifest["execution"].value("allow_errors", false);
  o.cell_timeout = std::chrono::seconds(120);
  o.extra_env["PYTHONHASHSEED"] = "0";
  // `!cmd` runs under $SHELL, as in IPython; the oracles were made with bash as the user's
  // shell (their error lines read "/bin/bash: line 1: ..."). CI may have no SHELL at all.
  o.extra_env["SHELL"] = "/bin/bash";
  auto r = run_notebook(o);
  struct Cleanup {
    fs::path a, b;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(a, ec);
      fs::remove_all(b, ec);
    }
  } cleanup{work, out_dir};
  if (!r) {
    problems.push_back("run failed: " + r.error().str());
    return problems;
  }
  if (!r->ok) problems.push_back("run reported failure: " + r->error);
  json oracle = json::parse(std::ifstream(oracle_path));
  const json& want_cells = oracle["cells"];
  const json& our_cells = r->executed["cells"];
  if (want_cells.size() != our_cells.size()) {
    problems.push_back("cell count " + std::to_string(our_cells.size()) + " want " +
                       std::to_string(want_cells.size()));
    return problems;
  }
  for (size_t i = 0; i < want_cells.size(); ++i) {
    int idx = static_cast<int>(i);
    if (want_cells[i].value("cell_type", "") != "code") continue;
    if (volatile_cells.count(idx)) continue;
    const json& ours = our_cells[i].value("outputs", json::array());
    const json& want = want_cells[i].value("outputs", json::array());
    if (auto h = host.find(idx); h != host.end()) {
      const HostDependence& hd = h->second;
      size_t oracle_hits = 0, our_hits = 0;
      json want_masked = masked(merged_outputs(want), hd.mask, oracle_hits);
      json ours_masked = masked(merged_outputs(ours), hd.mask, our_hits);
      if (cell_source(want_cells[i]).find(hd.source) == std::string::npos)
        problems.push_back("cell " + std::to_string(i) + ": MANIFEST host_dependent_cells expects '" +
                           hd.source + "' in this cell's source; update the manifest");
      else if (oracle_hits == 0)
        problems.push_back("cell " + std::to_string(i) + ": MANIFEST host_dependent_cells mask " +
                           json(hd.mask_text).dump() +
                           " matches nothing in the oracle's outputs; update the manifest");
      else if (std::string d = compare_cell(ours_masked, want_masked); !d.empty())
        problems.push_back("cell " + std::to_string(i) + " (host-dependent, masked): " + d);
      continue;
    }
    std::string d = compare_cell(ours, want);
    if (!d.empty()) problems.push_back("cell " + std::to_string(i) + ": " + d);
  }
  for (const auto& [cell, h] : host)
    if (cell < 0 || cell >= static_cast<int>(want_cells.size()) ||
        want_cells[static_cast<size_t>(cell)].value("cell_type", "") != "code")
      problems.push_back("MANIFEST host_dependent_cells names cell " + std::to_string(cell) +
                         ", which is not a code cell of " + fx.id);
  return problems;
}

class Oracle : public ::testing::TestWithParam<testing::Fixture> {};

TEST_P(Oracle, FixturesMatchJupyter) {
  WFRUN_REQUIRE_PYTHON_LIBS();
  const testing::Fixture& fx = GetParam();
  std::vector<std::string> problems = run_fixture(fx);
  std::string report;
  for (const auto& p : problems) report += "\n    " + p;
  EXPECT_TRUE(problems.empty()) << fx.id << " differs from Jupyter's oracle:" << report;
}

// ci-expects: Oracle.FixturesMatchJupyter/* one per tests/notebook/fixtures/*/MANIFEST.json
INSTANTIATE_TEST_SUITE_P(, Oracle, ::testing::ValuesIn(testing::find_fixtures()),
                         testing::fixture_name);

// The fixtures are part of the repository: none found is a broken checkout, never a skip.
TEST(OracleFixtures, Present) {
  EXPECT_FALSE(testing::find_fixtures().empty()) << "no fixtures in " << testing::fixtures_root();
}

}  // namespace
}  // namespace wfrun::notebook
