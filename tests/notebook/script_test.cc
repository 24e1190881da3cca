// `wfrun nb2py` scripts run under a plain `python3 -I` in which IPython cannot be imported: every
// fixture notebook that has no deliberate errors and does not import IPython itself.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "engine/notebook/notebook.h"
#include "tests/notebook/fixtures.h"

namespace wfrun::notebook {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Why the fixture's script cannot be expected to finish cleanly, or "".
std::string excluded(const Notebook& nb, const json& manifest) {
  if (manifest["execution"].value("allow_errors", false)) return "it raises errors on purpose";
  static const std::regex imports_ipython(R"((^|\n)\s*(from|import)\s+IPython\b)");
  for (const auto& c : nb.cells()) {
    if (c.value("cell_type", "") != "code") continue;
    auto tags = cell_tags(c);
    if (std::find(tags.begin(), tags.end(), "raises-exception") != tags.end())
      return "a cell is tagged raises-exception";
    if (std::regex_search(cell_source(c), imports_ipython))
      return "the notebook imports IPython itself";
  }
  return "";
}

// Runs `command` with /bin/sh; returns its exit status and sets `output` to what it printed.
int run_shell(const std::string& command, std::string& output) {
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  int st = ::pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

class Nb2pyScript : public ::testing::TestWithParam<testing::Fixture> {};

TEST_P(Nb2pyScript, RunsWithoutIPython) {
  WFRUN_REQUIRE_PYTHON_LIBS();
  const testing::Fixture& fx = GetParam();
  json manifest = json::parse(std::ifstream(fx.dir / "MANIFEST.json"));
  fs::path input = fx.dir / manifest["notebook"].get<std::string>();
  auto nb = read_notebook(input.string());
  ASSERT_TRUE(nb) << nb.error().str();
  if (std::string why = excluded(*nb, manifest); !why.empty()) GTEST_SKIP() << why;

  auto script = nb_to_py(*nb, ConvertOptions{});  // as `wfrun nb2py` converts by default
  ASSERT_TRUE(script) << script.error().str();
  char tmpl[] = "/tmp/wfrun-nbscript.XXXXXX";
  fs::path work = mkdtemp(tmpl);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{work};
  fs::copy(fx.dir / "input", work, fs::copy_options::recursive);
  fs::path py = work / "wfrun_nb2py_script.py";
  std::ofstream(py) << *script;

  // -I: no user site, no PYTHON* variables, nothing prepended to sys.path; IPython blocked in
  // sys.modules. The script's folder goes first on sys.path, as for `python3 script.py`.
  const std::string boot =
      "import os, runpy, sys; sys.modules['IPython'] = None; sys.path.insert(0, os.getcwd()); "
      "sys.argv = [sys.argv[1]]; runpy.run_path(sys.argv[0], run_name='__main__')";
  std::string cmd = "cd " + shell_quote(work.string()) + " && exec timeout 300 env -i PATH=" +
                    shell_quote("/usr/local/bin:/usr/bin:/bin") + " HOME=" +
                    shell_quote(work.string()) + " MPLBACKEND=Agg " + testing::kPython +
                    " -I -c " + shell_quote(boot) + " " + py.filename().string() +
                    " </dev/null";
  std::string output;
  int rc = run_shell(cmd, output);
  if (output.size() > 4000) output = "..." + output.substr(output.size() - 4000);
  EXPECT_EQ(rc, 0) << fx.id << ": the nb2py script failed under python3 -I without IPython:\n"
                   << output;
}

// IPython keeps each cell's value in `_`, `__`, `Out[N]` and `_N`; notebooks read them.
TEST(Nb2pyScriptValues, UnderscoreAndOutWork) {
  auto nb = parse_notebook(R"nb({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
      {"cell_type": "code", "id": "a", "metadata": {}, "outputs": [], "execution_count": null,
       "source": "1 + 1"},
      {"cell_type": "code", "id": "b", "metadata": {}, "outputs": [], "execution_count": null,
       "source": "print(_ * 3)\n'seven'"},
      {"cell_type": "code", "id": "c", "metadata": {}, "outputs": [], "execution_count": null,
       "source": "print(Out[1], _1, __, _, _2)\nNone"},
      {"cell_type": "code", "id": "d", "metadata": {}, "outputs": [], "execution_count": null,
       "source": "print(_, sorted(Out))"}]})nb", "values.ipynb");
  ASSERT_TRUE(nb) << nb.error().str();
  auto script = nb_to_py(*nb, ConvertOptions{});
  ASSERT_TRUE(script) << script.error().str();
  char tmpl[] = "/tmp/wfrun-nbvalues.XXXXXX";
  fs::path work = mkdtemp(tmpl);
  std::ofstream(work / "values.py") << *script;
  std::string output;
  int rc = run_shell("cd " + shell_quote(work.string()) + " && " + testing::kPython +
                         " -I values.py 2>&1",
                     output);
  fs::remove_all(work);
  EXPECT_EQ(rc, 0) << output;
  EXPECT_EQ(output, "6\n2 2 2 seven seven\nseven [1, 2]\n");
}


// A %%bash cell that exits non-zero stops the script, as IPython 8's CalledProcessError stops the
// notebook in Jupyter; `--no-raise-error` lets it go on.
TEST(Nb2pyScriptValues, FailingBashCellStopsTheScript) {
  auto script_output = [](const std::string& magic, int& rc) {
    json nb = {{"nbformat", 4}, {"nbformat_minor", 5}, {"metadata", json::object()},
               {"cells", json::array()}};
    for (const std::string& src : {magic + "\necho one\nexit 4", std::string("print('after')")})
      nb["cells"].push_back({{"cell_type", "code"}, {"id", "x"}, {"metadata", json::object()},
                             {"outputs", json::array()}, {"execution_count", nullptr},
                             {"source", src}});
    auto book = parse_notebook(nb.dump(), "bash.ipynb");
    EXPECT_TRUE(book) << book.error().str();
    auto script = nb_to_py(*book, ConvertOptions{});
    EXPECT_TRUE(script) << script.error().str();
    char tmpl[] = "/tmp/wfrun-nbbash.XXXXXX";
    fs::path work = mkdtemp(tmpl);
    std::ofstream(work / "bash.py") << *script;
    std::string output;
    rc = run_shell("cd " + shell_quote(work.string()) + " && " + testing::kPython +
                       " -I bash.py 2>&1",
                   output);
    fs::remove_all(work);
    return output;
  };
  int rc = 0;
  std::string out = script_output("%%bash", rc);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(out.substr(0, 4), "one\n");
  EXPECT_EQ(out.substr(out.rfind('\n', out.size() - 2) + 1),
            "subprocess.CalledProcessError: Command 'b'echo one\\nexit 4\\n'' returned non-zero "
            "exit status 4.\n");
  EXPECT_EQ(script_output("%%bash --no-raise-error", rc), "one\nafter\n");
  EXPECT_EQ(rc, 0);
}

// ci-expects: Nb2pyScript.RunsWithoutIPython/* one per tests/notebook/fixtures/*/MANIFEST.json
INSTANTIATE_TEST_SUITE_P(, Nb2pyScript, ::testing::ValuesIn(testing::find_fixtures()),
                         testing::fixture_name);

}  // namespace
}  // namespace wfrun::notebook
