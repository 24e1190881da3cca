// The one-pass scanners of engine/notebook/scan.cc: the same answers as the std::regex patterns
// they replaced on every short line built from the pieces that matter (std::regex is fine on
// short lines), and megabyte lines translated in milliseconds (std::regex overflowed the stack
// on a 30 kB line).

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <regex>

#include "engine/notebook/notebook.h"
#include "engine/notebook/scan.h"

namespace wfrun::notebook {
namespace {

using nlohmann::json;

std::string quoted(const std::string& s) {
  std::string q = "\"";
  for (char c : s) q += c == '\t' ? std::string("\\t") : c == '\r' ? std::string("\\r") : std::string(1, c);
  return q + "\"";
}

// Lines of up to seven pieces, each a character or a bit of syntax the patterns look for.
std::vector<std::string> sample_lines() {
  static const std::vector<std::string> kPieces = {
      " ", "\t", "\r", "%", "%%", "!", "=", "==", ",", ".", "...", ">>>", "In [", "12", "]: ",
      ":", "a", "_", "__", "Out", "_oh", "_7", "x1", "?", "??", "*", "[", "]", "(", ")", "'",
      "\"", "#", "\\", "-", "ls", " = %t", " = !", "a ="};
  std::mt19937 rng(20261203);
  std::vector<std::string> lines = {"", ">>>", ">>> ", "...", "In [1]: x", "   ...: x", " ...:",
                                    "x = !ls", "a, b.c = !ls -l", "t = %timeit -o f()",
                                    "%cd /tmp", "  %matplotlib inline", "ls -l", "x?", "%%run?"};
  for (int i = 0; i < 150000; ++i) {
    std::string s;
    for (size_t n = rng() % 8; n > 0; --n) s += kPieces[rng() % kPieces.size()];
    lines.push_back(s);
  }
  return lines;
}

TEST(ScanTest, MatchesTheRegexesItReplaced) {
  const std::regex classic_first(R"(^>>>( |$))");
  const std::regex classic(R"(^(>>>|\.\.\.)( |$))");
  const std::regex ipy_first(R"(^In \[\d+\]: )");
  const std::regex ipy(R"(^(In \[\d+\]: |\s*\.\.\.+: ?))");
  const std::regex word(R"(^([A-Za-z_]\w*)(\s+(.*))?$)");
  const std::regex help(R"(^%{0,2}[\w\.\*\[\]\(\)'"]*\?\??$)");
  const std::regex assign_sys(R"(^(\s*[\w\.]+(\s*,\s*[\w\.]+)*)\s*=\s*!\s*(.*)$)");
  const std::regex assign_magic(R"(^(\s*[\w\.]+(\s*,\s*[\w\.]+)*)\s*=\s*%(\w+)\s*(.*)$)");
  const std::regex magic(R"(^(\s*)%(\w+)(\s+(.*))?$)");
  const std::regex reads_results(R"((^|[^\w.'"])(_{1,3}|Out|_oh|_\d+)([^\w]|$))");
  auto prefix = [](const std::string& s, const std::regex& re) -> size_t {
    std::smatch m;
    return std::regex_search(s, m, re) ? static_cast<size_t>(m.length(0)) : 0;
  };
  std::map<std::string, int> matched;
  for (const std::string& s : sample_lines()) {
    SCOPED_TRACE("line: " + quoted(s));
    EXPECT_EQ(scan::classic_prompt(s, true), prefix(s, classic_first));
    EXPECT_EQ(scan::classic_prompt(s, false), prefix(s, classic));
    EXPECT_EQ(scan::ipython_prompt(s, true), prefix(s, ipy_first));
    EXPECT_EQ(scan::ipython_prompt(s, false), prefix(s, ipy));
    std::smatch m;
    auto cw = scan::command_word(s);
    ASSERT_EQ(cw.has_value(), std::regex_match(s, m, word));
    if (cw) {
      ++matched["command_word"];
      EXPECT_EQ(std::string(cw->name) + "|" + std::string(cw->args), m[1].str() + "|" + m[3].str());
    }
    EXPECT_EQ(scan::is_help_suffix(s), std::regex_match(s, help));
    auto sa = scan::system_assignment(s);
    ASSERT_EQ(sa.has_value(), std::regex_match(s, m, assign_sys));
    if (sa) {
      ++matched["system_assignment"];
      EXPECT_EQ(std::string(sa->targets) + "|" + std::string(sa->command),
                m[1].str() + "|" + m[3].str());
    }
    auto ma = scan::magic_assignment(s);
    ASSERT_EQ(ma.has_value(), std::regex_match(s, m, assign_magic));
    if (ma) {
      ++matched["magic_assignment"];
      EXPECT_EQ(std::string(ma->targets) + "|" + std::string(ma->name) + "|" + std::string(ma->args),
                m[1].str() + "|" + m[3].str() + "|" + m[4].str());
    }
    auto lm = scan::line_magic(s);
    ASSERT_EQ(lm.has_value(), std::regex_match(s, m, magic));
    if (lm) {
      ++matched["line_magic"];
      EXPECT_EQ(std::string(lm->indent) + "|" + std::string(lm->name) + "|" + std::string(lm->args),
                m[1].str() + "|" + m[2].str() + "|" + m[4].str());
    }
    bool reads = scan::reads_cell_values(s);
    EXPECT_EQ(reads, std::regex_search(s, reads_results));
    matched["reads_cell_values"] += reads;
    matched["prompts"] += scan::classic_prompt(s, false) + scan::ipython_prompt(s, false) > 0;
    matched["is_help_suffix"] += scan::is_help_suffix(s);
  }
  // The sample reaches every pattern often enough to mean something.
  for (const char* f : {"command_word", "system_assignment", "magic_assignment", "line_magic",
                        "reads_cell_values", "prompts", "is_help_suffix"})
    EXPECT_GE(matched[f], 10) << f;
}

// `data = [0, 1, 2, ..., n-1]`: one line of Python, about 1 MB for n = 150,000.
std::string long_list_line(int n) {
  std::string s = "data = [";
  for (int i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(i);
  return s + "]";
}

std::string tr(std::string_view src, bool keep_results = false) {
  ConvertOptions o;
  o.keep_results = keep_results;
  auto r = translate_cell(src, o, "big.ipynb", 1);
  return r ? *r : "ERROR: " + r.error().str();
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// std::regex recursed once per character: a 30 kB line overflowed the stack.
TEST(ScanTest, MegabyteLinesTranslate) {
  const std::string line = long_list_line(150000);
  ASSERT_GT(line.size(), 1000000u);
  const std::string mb(1 << 20, 'a');
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(tr(line), line);
  EXPECT_EQ(tr("x = 1\n" + line + "\nlen(data)", true),
            "x = 1\n" + line + "\n_wf.result(1, len(data)\n)");
  EXPECT_EQ(tr(line.substr(7), true), "_wf.result(1, " + line.substr(7) + "\n)");
  EXPECT_EQ(tr("!echo " + mb), "_wf.system(\"echo " + mb + "\")");
  EXPECT_EQ(tr("out = !echo " + mb), "out = _wf.getoutput(\"echo " + mb + "\")");
  EXPECT_EQ(tr("t = %timeit " + mb), "t = _wf.line_magic(\"timeit\", \"" + mb + "\")");
  EXPECT_EQ(tr("%timeit " + mb), "_wf.line_magic(\"timeit\", \"" + mb + "\")");
  EXPECT_EQ(tr("ls " + mb), "_wf.alias(\"ls\", \"" + mb + "\")");
  EXPECT_EQ(tr(mb + "?"), "pass  # " + mb + "?");
  EXPECT_EQ(tr("a" + std::string(1 << 20, ',') + " = !ls"), "a" + std::string(1 << 20, ',') + " = !ls");
  EXPECT_EQ(tr(">>> " + line + "\n>>> len(data)"), line + "\nlen(data)");
  EXPECT_EQ(tr("In [1]: " + line + "\n   ...: "), line + "\n");
  EXPECT_EQ(tr("%%bash\necho " + mb), "_wf.cell_magic(\"bash\", \"\", \"\"\"\\\necho " + mb + "\\n\"\"\")");
  EXPECT_EQ(tr(std::string(1 << 20, '(') + "1" + std::string(1 << 20, ')')),
            std::string(1 << 20, '(') + "1" + std::string(1 << 20, ')'));
  EXPECT_EQ(tr("s = '" + std::string(1 << 20, '\\') + "'"), "s = '" + std::string(1 << 20, '\\') + "'");
  // A whole notebook of such cells, `_` read by a megabyte cell (the scan for kept values).
  json nb = {{"nbformat", 4}, {"nbformat_minor", 5}, {"metadata", json::object()},
             {"cells", json::array()}};
  for (const std::string& src : {line.substr(7), std::string(1 << 20, ' ') + "print(_)"})
    nb["cells"].push_back({{"cell_type", "code"}, {"metadata", json::object()}, {"source", src},
                           {"outputs", json::array()}, {"execution_count", nullptr}});
  auto book = parse_notebook(nb.dump(), "big.ipynb");
  ASSERT_TRUE(book) << book.error().str();
  auto py = nb_to_py(*book, ConvertOptions{});
  ASSERT_TRUE(py) << py.error().str();
  EXPECT_NE(py->find("_wf.result(1, " + line.substr(7)), std::string::npos) << "keeps `_`";
  // Linear: a few megabytes take milliseconds; generous for a loaded machine and a Debug build.
  EXPECT_LT(seconds_since(t0), 20.0);
}

}  // namespace
}  // namespace wfrun::notebook
