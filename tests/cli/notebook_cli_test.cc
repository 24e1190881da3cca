// `wfrun nb2py` and `wfrun nbrun` end to end: many notebooks in one call, malformed notebooks
// refused with exit 2 (never an internal error or a crash), megabyte lines, and a killed nbrun
// that keeps what ran until its last second.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include "tests/support/files.h"

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

const char* kPython = "/usr/bin/python3";

struct Output {
  int code = -1;
  std::string out, err;
};

using wfrun::testing::slurp;

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

json notebook(const std::vector<std::string>& cells) {
  json nb = {{"nbformat", 4}, {"nbformat_minor", 5},
             {"metadata", {{"kernelspec", {{"name", "python3"}, {"language", "python"},
                                           {"display_name", "Python 3"}}}}},
             {"cells", json::array()}};
  for (size_t i = 0; i < cells.size(); ++i)
    nb["cells"].push_back({{"cell_type", "code"}, {"id", "c" + std::to_string(i)},
                           {"metadata", json::object()}, {"source", cells[i]},
                           {"outputs", json::array()}, {"execution_count", nullptr}});
  return nb;
}

class NotebookCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/wfrun-nbcli-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Runs `wfrun ARGS` (a shell fragment) in `cwd` (default: the test's folder).
  Output wfrun(const std::string& args, const fs::path& cwd = {}) {
    fs::path out = dir_ / ".stdout", err = dir_ / ".stderr";
    std::string cmd = "cd " + quote((cwd.empty() ? dir_ : cwd).string()) + " && " + WFRUN_BIN +
                      " " + args + " >" + quote(out.string()) + " 2>" + quote(err.string()) +
                      " </dev/null";
    int status = std::system(cmd.c_str());
    Output o;
    o.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    o.out = slurp(out);
    o.err = slurp(err);
    return o;
  }

  fs::path write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

  fs::path dir_;
};

TEST_F(NotebookCliTest, Nb2pyConvertsManyNotebooksInOneCall) {
  write("a.ipynb", notebook({"print('a')"}).dump());
  write("sub/c.ipynb", notebook({"!echo c"}).dump());
  auto o = wfrun("nb2py a.ipynb sub/c.ipynb -d out");
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.err, "");
  EXPECT_NE(slurp(dir_ / "out/a.py").find("\nprint('a')\n"), std::string::npos);
  EXPECT_NE(slurp(dir_ / "out/c.py").find("\n_wf.system(\"echo c\")\n"), std::string::npos);

  // One bad notebook fails alone: the others are still converted, and the exit code says so.
  write("b.ipynb", R"({"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": 3},
                      "cells": []})");
  fs::remove_all(dir_ / "out");
  o = wfrun("nb2py a.ipynb b.ipynb sub/c.ipynb -d out");
  EXPECT_EQ(o.code, 2);
  EXPECT_EQ(o.err,
            "wfrun: b.ipynb: metadata.kernelspec: must be an object, not the number 3\n"
            "wfrun: nb2py: 1 of 3 notebooks failed\n");
  EXPECT_TRUE(fs::exists(dir_ / "out/a.py"));
  EXPECT_TRUE(fs::exists(dir_ / "out/c.py"));
  EXPECT_FALSE(fs::exists(dir_ / "out/b.py"));

  // Two notebooks with one name would write one script.
  write("sub/a.ipynb", notebook({"print('other a')"}).dump());
  o = wfrun("nb2py a.ipynb sub/a.ipynb -d out");
  EXPECT_EQ(o.code, 2);
  EXPECT_EQ(o.err,
            "wfrun: sub/a.ipynb: not converted: its script out/a.py is a.ipynb's\n"
            "wfrun: nb2py: 1 of 2 notebooks failed\n");
  EXPECT_NE(slurp(dir_ / "out/a.py").find("\nprint('a')\n"), std::string::npos);

  o = wfrun("nb2py a.ipynb sub/c.ipynb");
  EXPECT_EQ(o.code, 2);
  EXPECT_EQ(o.err, "wfrun: nb2py: 2 notebooks need -d DIR (the folder for their scripts)\n");
  o = wfrun("nb2py a.ipynb -o x.py -d out");
  EXPECT_EQ(o.code, 2);
  EXPECT_EQ(o.err, "wfrun: nb2py: give -o FILE or -d DIR, not both\n");
  o = wfrun("nb2py missing.ipynb");
  EXPECT_EQ(o.code, 2);
  EXPECT_EQ(o.err, "wfrun: cannot read notebook missing.ipynb: No such file or directory\n");
}

// Every notebook of the malformed corpus, in one nb2py call: exit 2 and each file's message, in
// the order given (the messages themselves are pinned in tests/notebook/robustness_test.cc).
TEST_F(NotebookCliTest, MalformedNotebooksExitTwoWithTheirPlace) {
  fs::path corpus = fs::path(WFRUN_SOURCE_DIR) / "tests/notebook/malformed";
  std::map<std::string, std::string> want;
  std::istringstream lines(slurp(corpus / "errors.txt"));
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && line[0] != '#') want[line.substr(0, line.find(".ipynb") + 6)] = line;
  std::string args, expected;
  for (const auto& [name, message] : want) {
    args += " " + quote(name);
    expected += "wfrun: " + message + "\n";
  }
  auto o = wfrun("nb2py" + args + " -d " + quote((dir_ / "out").string()), corpus);
  EXPECT_EQ(o.code, 2);
  EXPECT_EQ(o.err, expected + "wfrun: nb2py: " + std::to_string(want.size()) + " of " +
                       std::to_string(want.size()) + " notebooks failed\n");
  for (const char* name : {"kernelspec-language-number.ipynb", "number-overflow.ipynb",
                           "v3-heading-level-huge.ipynb", "language-info-name-list.ipynb"}) {
    o = wfrun(std::string("nbrun -q --python ") + kPython + " " + name + " -o " +
                  quote((dir_ / "x.ipynb").string()),
              corpus);
    EXPECT_EQ(o.code, 2) << name;
    EXPECT_EQ(o.err, "wfrun: " + want[name] + "\n");
  }
}

// A 1 MB line converts and runs; JSON nested 100,000 deep is refused with its place (both
// crashed wfrun: std::regex and nlohmann's recursive copy and dump overflowed the stack).
TEST_F(NotebookCliTest, MegabyteLineAndDeepNesting) {
  std::string data = "data = [";
  for (int i = 0; i < 150000; ++i) data += (i ? ", " : "") + std::to_string(i);
  data += "]";
  write("long.ipynb", notebook({data, "print(len(data))"}).dump());
  auto o = wfrun("nb2py long.ipynb -o long.py");
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_NE(slurp(dir_ / "long.py").find("\n" + data + "\n"), std::string::npos);
  o = wfrun(std::string("nbrun --python ") + kPython + " long.ipynb -o long.out.ipynb");
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.err, "cell 1/2\ncell 2/2\n150000\nwfrun: executed notebook: long.out.ipynb\n");

  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  write("deep3.ipynb", "{\"nbformat\": 3, \"nbformat_minor\": 0, \"worksheets\": [],\n\"metadata\": {\"x\": " +
                           deep + "}}");
  for (const char* cmd : {"nb2py deep3.ipynb", "nbrun deep3.ipynb"}) {
    o = wfrun(cmd);
    EXPECT_EQ(o.code, 2) << cmd;
    EXPECT_EQ(o.err,
              "wfrun: deep3.ipynb:2:1017: lists and objects nested more than 1000 deep; wfrun "
              "reads at most 1000 levels\n")
        << cmd;
  }
}

// `--no-raise-error` keeps a %%bash cell's failure from failing the run; without it nbrun exits 1
// with IPython's CalledProcessError.
TEST_F(NotebookCliTest, FailingBashCellFailsNbrun) {
  write("bash.ipynb", notebook({"%%bash\necho fetching\nexit 7", "print('after')"}).dump());
  auto o = wfrun(std::string("nbrun -q --python ") + kPython + " bash.ipynb -o out.ipynb");
  EXPECT_EQ(o.code, 1);
  EXPECT_EQ(o.err,
            "wfrun: bash.ipynb: cell 1, line 1: CalledProcessError: Command 'b'echo fetching\\n"
            "exit 7\\n'' returned non-zero exit status 7.\n"
            "wfrun: executed notebook: out.ipynb\n");
  write("ok.ipynb",
        notebook({"%%bash --no-raise-error\necho fetching\nexit 7", "print('after')"}).dump());
  o = wfrun(std::string("nbrun --python ") + kPython + " ok.ipynb -o out.ipynb");
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.err, "cell 1/2\nfetching\ncell 2/2\nafter\nwfrun: executed notebook: out.ipynb\n");
}

// The executed notebook is written within a second of each change, not after every cell (which
// made runs quadratic) and not only when a cell ends (which lost a long cell's output).
TEST_F(NotebookCliTest, KilledNbrunLosesAtMostTheLastSecond) {
  write("ticks.ipynb",
        notebook({"import time", "for i in range(600):\n    print('tick', i, flush=True)\n"
                                 "    time.sleep(0.02)"})
            .dump());
  int err_pipe[2];
  ASSERT_EQ(::pipe2(err_pipe, O_CLOEXEC), 0);
  std::string out_path = (dir_ / "out.ipynb").string();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(err_pipe[1], 2);
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    if (::chdir(dir_.c_str()) != 0) ::_exit(126);
    ::execl(WFRUN_BIN, WFRUN_BIN, "nbrun", "--python", kPython, "ticks.ipynb", "-o",
            out_path.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(err_pipe[1]);
  // Read the progress lines ("tick N", printed as wfrun takes them in), noting when each came.
  std::map<int, Clock::time_point> seen;
  std::string buf;
  auto start = Clock::now();
  Clock::time_point kill_at{};
  while (Clock::now() - start < std::chrono::seconds(60)) {
    struct pollfd p = {err_pipe[0], POLLIN, 0};
    ::poll(&p, 1, 20);
    char chunk[4096];
    ssize_t n = (p.revents & (POLLIN | POLLHUP)) ? ::read(err_pipe[0], chunk, sizeof chunk) : -1;
    if (n == 0) break;
    if (n > 0) buf.append(chunk, static_cast<size_t>(n));
    for (size_t nl; (nl = buf.find('\n')) != std::string::npos; buf.erase(0, nl + 1))
      if (buf.compare(0, 5, "tick ") == 0) seen.emplace(std::stoi(buf.substr(5, nl - 5)), Clock::now());
    if (kill_at == Clock::time_point{} && seen.count(100)) kill_at = Clock::now() + std::chrono::seconds(2);
    if (kill_at != Clock::time_point{} && Clock::now() >= kill_at) break;
  }
  ASSERT_TRUE(seen.count(100)) << "nbrun printed no ticks: " << buf;
  // The Python runner is nbrun's child in a process group of its own: find it before the kill.
  pid_t runner = -1;
  std::ifstream(("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children")) >>
      runner;
  auto killed = Clock::now();
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (runner > 0) ::kill(-runner, SIGKILL);
  ::close(err_pipe[0]);

  // Every tick wfrun had at least a second (plus a margin for a loaded machine) before the kill.
  int must_have = -1;
  for (const auto& [tick, when] : seen)
    if (killed - when >= std::chrono::milliseconds(1800)) must_have = tick;
  ASSERT_GE(must_have, 50);
  json out = json::parse(slurp(out_path));  // whole: written by rename, never half
  const auto& cells = out["cells"];
  EXPECT_EQ(cells[0]["metadata"]["papermill"]["status"], "completed");
  int last = -1;
  for (const auto& o : cells[1]["outputs"])
    for (const auto& line : o["text"]) {
      std::string s = line.get<std::string>();
      if (s.compare(0, 5, "tick ") == 0) last = std::max(last, std::stoi(s.substr(5)));
    }
  EXPECT_GE(last, must_have) << "ticks in the file after the kill: up to " << last;
}

}  // namespace
