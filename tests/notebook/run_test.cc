#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/notebook/notebook.h"

namespace wfrun::notebook {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class RunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists("/usr/bin/python3")) {
      if (const char* v = std::getenv("WFRUN_REQUIRE_PYTHON_LIBS"); v && std::string(v) == "1")
        FAIL() << "/usr/bin/python3 not found";
      GTEST_SKIP() << "/usr/bin/python3 not found";
    }
    char tmpl[] = "/tmp/wfrun-nbtest.XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write_nb(const std::vector<std::string>& cells, json first_tags = nullptr) {
    json nb = {{"nbformat", 4}, {"nbformat_minor", 4}, {"metadata", json::object()},
               {"cells", json::array()}};
    for (size_t i = 0; i < cells.size(); ++i) {
      json c = {{"cell_type", "code"}, {"metadata", json::object()}, {"source", cells[i]},
                {"outputs", json::array()}, {"execution_count", nullptr}};
      if (i == 0 && !first_tags.is_null()) c["metadata"]["tags"] = first_tags;
      nb["cells"].push_back(c);
    }
    std::string path = (dir_ / "train.ipynb").string();
    std::ofstream(path) << nb.dump();
    return path;
  }

  NbRunResult run(const std::string& path, bool allow_errors = false) {
    NbRunOptions o;
    o.notebook = path;
    o.output = (dir_ / "out.ipynb").string();
    o.python = "/usr/bin/python3";
    o.allow_errors = allow_errors;
    o.on_log = [this](std::string_view l) { log_.emplace_back(l); };
    auto r = run_notebook(o);
    EXPECT_TRUE(r) << r.error().str();
    return r ? *r : NbRunResult{};
  }

  fs::path dir_;
  std::vector<std::string> log_;
};

TEST_F(RunTest, FailingCellNamesLineAndWritesNotebook) {
  auto r = run(write_nb({"print('hi')", "x = 1\ny = 0\nx / y", "print('never')"}));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "train.ipynb: cell 2, line 3: ZeroDivisionError: division by zero");
  json out = json::parse(std::ifstream(dir_ / "out.ipynb"));
  ASSERT_EQ(out["cells"].size(), 5u);  // banner + anchor
  EXPECT_EQ(out["cells"][1]["outputs"][0]["text"][0], "hi\n");
  EXPECT_EQ(out["cells"][3]["outputs"][0]["ename"], "ZeroDivisionError");
  EXPECT_EQ(out["cells"][4]["execution_count"], nullptr);
  EXPECT_EQ(log_[0], "cell 1/3");
  EXPECT_EQ(log_[1], "hi");
}

TEST_F(RunTest, ProcessDeathIsReportedNotHung) {
  auto start = std::chrono::steady_clock::now();
  auto r = run(write_nb({"print('a')", "import os\nos._exit(3)", "print('b')"}));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error.substr(0, r.error.find('\n')),
            "train.ipynb: cell 2: the Python process died (exited with status 3)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  json out = json::parse(std::ifstream(dir_ / "out.ipynb"));
  EXPECT_EQ(out["cells"][1]["outputs"][0]["text"][0], "a\n");
}

TEST_F(RunTest, SegfaultReported) {
  auto r = run(write_nb({"import ctypes\nctypes.string_at(0)"}));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("the Python process died (killed by signal 11"), std::string::npos)
      << r.error;
}

TEST_F(RunTest, ParametersInjected) {
  std::string path = write_nb({"a = 1\nb = 'x'", "print(a, b)"}, json{"parameters"});
  NbRunOptions o;
  o.notebook = path;
  o.output = (dir_ / "out.ipynb").string();
  o.python = "/usr/bin/python3";
  o.params = {{"a", 5}, {"b", "hello"}};
  auto r = run_notebook(o);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->ok) << r->error;
  const auto& cells = r->executed["cells"];
  ASSERT_EQ(cells.size(), 3u);
  EXPECT_EQ(cells[1]["metadata"]["tags"][0], "injected-parameters");
  EXPECT_EQ(cells[1]["source"], "# Parameters\na = 5\nb = \"hello\"\n");
  EXPECT_EQ(cells[2]["outputs"][0]["text"][0], "5 hello\n");
}

TEST_F(RunTest, DisplayValuesLikeIPython) {
  auto r = run(write_nb({"list(range(30))", "x = 3;\nx;", "{'b', 'a'}", "int"}));
  ASSERT_TRUE(r.ok) << r.error;
  const auto& cells = r.executed["cells"];
  EXPECT_EQ(cells[0]["outputs"][0]["data"]["text/plain"][1], " 1,\n");
  EXPECT_TRUE(cells[1]["outputs"].empty());
  EXPECT_EQ(cells[2]["outputs"][0]["data"]["text/plain"][0], "{'a', 'b'}");
  EXPECT_EQ(cells[3]["outputs"][0]["data"]["text/plain"][0], "int");
}

// IPython's introspection magics, as Jupyter shows them (exact text from IPython 8).
TEST_F(RunTest, HistoryDebugAndLsmagic) {
  auto r = run(write_nb({"print('Hi')", "x?", "2 + 10", "%history -n 1-3", "%history -l 2",
                         "%debug", "def f(x):\n    return 1 / x\nf(0)", "%debug", "%lsmagic"}),
               /*allow_errors=*/true);
  const auto& cells = r.executed["cells"];
  auto text = [&](size_t c, size_t o) {
    std::string s;
    for (const auto& l : cells[c]["outputs"][o]["text"]) s += l.get<std::string>();
    return s;
  };
  EXPECT_EQ(text(3, 0), "   1: print('Hi')\n   2: x?\n   3: 2 + 10\n");
  EXPECT_EQ(text(4, 0), "2 + 10\n%history -n 1-3\n");
  EXPECT_EQ(cells[5]["outputs"][0]["name"], "stderr");
  EXPECT_EQ(text(5, 0), "ERROR:root:No traceback has been produced, nothing to debug.\n");
  // Post-mortem: where it stopped, then the prompt cannot read stdin (Jupyter's error).
  ASSERT_EQ(cells[7]["outputs"].size(), 2u);
  EXPECT_NE(text(7, 0).find("----> 2 \x1b[0m    return 1 / x\n"), std::string::npos) << text(7, 0);
  EXPECT_EQ(cells[7]["outputs"][1]["ename"], "StdinNotImplementedError");
  const auto& ls = cells[8]["outputs"][0]["data"];
  EXPECT_EQ(ls["application/json"]["line"]["history"], "HistoryMagics");
  EXPECT_EQ(ls["text/plain"][0], "Available line magics:\n");
}

// Messages sent the way ipykernel's own code does become outputs.
TEST_F(RunTest, KernelSessionSend) {
  auto r = run(write_nb(
      {"ip = get_ipython()\n"
       "def send(t, c):\n"
       "    ip.kernel.session.send(ip.kernel.iopub_socket, t, c, parent=ip.parent_header)\n"
       "send('display_data', {'data': {'text/plain': '1'}, 'metadata': {}, "
       "'transient': {'display_id': 'd'}})\n"
       "send('stream', {'name': 'stdout', 'text': 'hello\\n'})",
       "send('update_display_data', {'data': {'text/plain': '2'}, 'metadata': {}, "
       "'transient': {'display_id': 'd'}})\n"
       "ip.display_pub.publish({'text/plain': '3'})"}));
  ASSERT_TRUE(r.ok) << r.error;
  const auto& cells = r.executed["cells"];
  ASSERT_EQ(cells[0]["outputs"].size(), 2u);
  EXPECT_EQ(cells[0]["outputs"][0]["data"]["text/plain"][0], "2");  // updated in place
  EXPECT_EQ(cells[0]["outputs"][1]["text"][0], "hello\n");
  ASSERT_EQ(cells[1]["outputs"].size(), 1u);
  EXPECT_EQ(cells[1]["outputs"][0]["data"]["text/plain"][0], "3");
}


// IPython 8 raises CalledProcessError when a %%bash / %%sh / %%script cell exits non-zero, and
// Jupyter fails the notebook there. Texts as Jupyter 8.5 (Debian 12) shows them.
TEST_F(RunTest, FailingScriptCellFailsTheNotebook) {
  auto r = run(write_nb({"%%bash\necho out\necho err >&2\nexit 3", "print('never')"}));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error,
            "train.ipynb: cell 1, line 1: CalledProcessError: Command 'b'echo out\\necho err >&2"
            "\\nexit 3\\n'' returned non-zero exit status 3.");
  const auto& cells = r.executed["cells"];  // papermill's banner and anchor come first
  ASSERT_EQ(cells.size(), 4u);
  const auto& outs = cells[2]["outputs"];
  ASSERT_EQ(outs.size(), 3u) << outs.dump();
  EXPECT_EQ(outs[0]["text"][0], "out\n");
  EXPECT_EQ(outs[1]["name"], "stderr");
  EXPECT_EQ(outs[1]["text"][0], "err\n");
  EXPECT_EQ(outs[2]["ename"], "CalledProcessError");
  EXPECT_EQ(outs[2]["evalue"],
            "Command 'b'echo out\\necho err >&2\\nexit 3\\n'' returned non-zero exit status 3.");
  const auto& tb = outs[2]["traceback"];
  EXPECT_EQ(tb[0], std::string(75, '-'));
  EXPECT_EQ(tb[1], "CalledProcessError                        Traceback (most recent call last)");
  EXPECT_EQ(tb.back(), "CalledProcessError: " + outs[2]["evalue"].get<std::string>());
  EXPECT_TRUE(cells[3]["outputs"].empty()) << "the next cell must not run";

  // A usage error fails the cell too, shown on stderr as IPython shows it.
  r = run(write_nb({"%%bash --out\necho", "print('never')"}));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "train.ipynb: cell 1, line 1: UsageError: argument --out: expected one argument");
}

// The options IPython 8's %%script takes, with what Jupyter showed for each (IPython 8.5).
TEST_F(RunTest, ScriptCellOptionsLikeIPython) {
  auto r = run(write_nb({"%%bash --no-raise-error\necho hi\nexit 3",
                         "%%script false --no-raise-error # skip this cell\nprint('x')",
                         "%%bash --out x --err e\necho a\necho b\necho warn >&2\nexit 1",
                         "print(repr(x), repr(e))",
                         "%%sh\nkill -TERM $$",
                         "%%script wfrun-no-such-program\nhello",
                         "%%bash --out\necho",
                         "%%bash\necho out; sleep 0.3; echo err >&2; sleep 0.3; printf out2"}),
               /*allow_errors=*/true);
  const auto& cells = r.executed["cells"];
  ASSERT_EQ(cells.size(), 8u);
  auto kinds = [&](size_t c) {
    std::string s;
    for (const auto& o : cells[c]["outputs"]) {
      s += o["output_type"].get<std::string>() + ":";
      if (o.contains("name")) s += o["name"].get<std::string>() + ":" + o["text"].dump();
      if (o.contains("ename")) s += o["ename"].get<std::string>() + ":" + o["evalue"].dump();
      s += " ";
    }
    return s;
  };
  EXPECT_EQ(kinds(0), "stream:stdout:[\"hi\\n\"] ");
  EXPECT_EQ(kinds(1), "");
  EXPECT_EQ(kinds(2),
            "error:CalledProcessError:\"Command 'b'echo a\\\\necho b\\\\necho warn >&2\\\\nexit "
            "1\\\\n'' returned non-zero exit status 1.\" ");
  EXPECT_EQ(kinds(3), "stream:stdout:[\"'b\\\\n' 'warn\\\\n'\\n\"] ");  // the last line, as IPython 8
  EXPECT_EQ(kinds(4),
            "error:CalledProcessError:\"Command 'b'kill -TERM $$\\\\n'' died with "
            "<Signals.SIGTERM: 15>.\" ");
  EXPECT_EQ(kinds(5), "stream:stdout:[\"Couldn't find program: 'wfrun-no-such-program'\\n\"] ");
  // IPython shows a usage error on stderr, not as a traceback; the cell still fails.
  EXPECT_EQ(kinds(6), "stream:stderr:[\"UsageError: argument --out: expected one argument\\n\"] ");
  // Line by line as the program prints, not all of stdout then all of stderr.
  EXPECT_EQ(kinds(7),
            "stream:stdout:[\"out\\n\"] stream:stderr:[\"err\\n\"] stream:stdout:[\"out2\"] ");
}

// Input Python itself cannot take fails its own cell with Python's error; the run goes on.
TEST_F(RunTest, DeepAndLongInputFailsCleanly) {
  // The line (a 1 MB one runs in tests/cli/notebook_cli_test.cc).
  std::string data = "data = [";
  for (int i = 0; i < 6000; ++i) data += (i ? ", " : "") + std::to_string(i);
  data += "]";
  ASSERT_GT(data.size(), 30000u);
  auto r = run(write_nb({"x = " + std::string(100000, '(') + std::string(100000, ')'),
                         "1" + [] {
                           std::string s;
                           for (int i = 0; i < 100000; ++i) s += "+1";
                           return s;
                         }(),
                         "x = []\nfor i in range(100000):\n    x = [x]\nx",
                         data + "\nlen(data)"}),
               /*allow_errors=*/true);
  ASSERT_TRUE(r.ok) << r.error;
  const auto& cells = r.executed["cells"];
  EXPECT_EQ(cells[0]["outputs"][0]["ename"], "SyntaxError");
  EXPECT_EQ(cells[0]["outputs"][0]["evalue"], "too many nested parentheses (3025549744.py, line 1)");
  EXPECT_EQ(cells[1]["outputs"][0]["ename"], "RecursionError");
  EXPECT_EQ(cells[2]["outputs"][0]["ename"], "RecursionError");
  EXPECT_EQ(cells[3]["outputs"][0]["data"]["text/plain"][0], "6000");
}

}  // namespace
}  // namespace wfrun::notebook
