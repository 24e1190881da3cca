// notebook@v1 with `image:`: the wfrun binary runs the notebook's Python in a podman container
// (runc, --network none) built in the test from this machine's Python (tests/cli/python-image.sh:
// Python 3.8 from pyenv when the machine has it, else Debian's). Without podman these tests skip,
// unless WFRUN_REQUIRE_PODMAN=1 (CI) makes that a failure. Also: the runner refuses a Python
// older than 3.8 clearly, and its source uses no syntax newer than 3.8.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/files.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using wfrun::testing::slurp;
using wfrun::testing::write_file;

struct Output {
  int code = -1;
  std::string out;
};

// `sh -c CMD` with stdout and stderr together.
Output shell(const std::string& cmd) {
  Output o;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return o;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) o.out.append(buf, n);
  int st = ::pclose(p);
  o.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return o;
}

// A notebook from code cells (a cell is tagged `parameters` when it starts with "# parameters").
std::string notebook(const std::vector<std::string>& cells) {
  json nb = {{"nbformat", 4},
             {"nbformat_minor", 5},
             {"metadata", {{"kernelspec", {{"name", "python3"}, {"language", "python"}}}}},
             {"cells", json::array()}};
  int id = 0;
  for (const auto& src : cells) {
    json c = {{"cell_type", "code"}, {"id", "c" + std::to_string(++id)}, {"metadata", json::object()},
              {"source", src},       {"outputs", json::array()},          {"execution_count", nullptr}};
    if (src.rfind("# parameters", 0) == 0) c["metadata"]["tags"] = {"parameters"};
    nb["cells"].push_back(c);
  }
  return nb.dump(1);
}

std::string first_python(std::initializer_list<const char*> candidates) {
  for (const char* c : candidates)
    if (::access(c, X_OK) == 0) return c;
  return "";
}

std::string pyenv(const std::string& version) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/root/.pyenv/versions", ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind(version + ".", 0) == 0) {
      std::string exe = (e.path() / "bin" / ("python" + version)).string();
      if (::access(exe.c_str(), X_OK) == 0) return exe;
    }
  }
  return "";
}

class NotebookImage : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (shell("command -v podman && (command -v runc || test -x /usr/sbin/runc)").code != 0) {
      skip_ = "podman (with runc) is not installed";
      return;
    }
    conf_dir_ = new fs::path(fs::temp_directory_path() / ("wfrun-nbimage-" + std::to_string(::getpid())));
    fs::create_directories(*conf_dir_);
    // The sandbox refuses rlimit and cgroup changes: runc plus this configuration works.
    write_file(*conf_dir_ / "containers.conf", "[containers]\ndefault_ulimits = []\npids_limit = 0\n");
    ::setenv("CONTAINERS_CONF", (*conf_dir_ / "containers.conf").c_str(), 1);
    python_ = pyenv("3.8");
    if (python_.empty()) python_ = first_python({"/usr/bin/python3"});
    Output o = shell(std::string(WFRUN_SOURCE_DIR) + "/tests/cli/python-image.sh " + python_);
    while (!o.out.empty() && o.out.back() == '\n') o.out.pop_back();
    if (o.code != 0 || o.out.find("localhost/") != 0) {
      skip_ = "could not build the Python test image: " + o.out;
      return;
    }
    image_ = o.out;
  }
  static void TearDownTestSuite() {
    if (conf_dir_) fs::remove_all(*conf_dir_);
    delete conf_dir_;
    conf_dir_ = nullptr;
  }
  void SetUp() override {
    if (!skip_.empty()) {
      const char* req = std::getenv("WFRUN_REQUIRE_PODMAN");
      if (req && std::string(req) == "1") FAIL() << skip_;
      GTEST_SKIP() << skip_;
    }
    char tmpl[] = "/tmp/wfrun-nbimg-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    state_ = dir_ / "state";
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  std::string command(const std::string& args) {
    return "cd '" + dir_.string() + "' && WFRUN_HOME='" + state_.string() + "' exec " +
           WFRUN_BIN + " " + args + " --container-runtime 'podman --runtime runc' </dev/null";
  }
  Output wfrun(const std::string& args) { return shell(command(args)); }
  std::string log(int run, const std::string& job) {
    return slurp(state_ / "runs" / std::to_string(run) / "jobs" / job / "log");
  }
  static std::string python_version() {
    return python_.find("3.8") != std::string::npos ? "(3, 8)" : "(3, ";
  }

  static inline fs::path* conf_dir_ = nullptr;
  static inline std::string skip_, image_, python_;
  fs::path dir_, state_;
};

TEST_F(NotebookImage, RunsInTheImageWithParametersLiveOutputAndOutputs) {
  write_file(dir_ / "nb.ipynb",
             notebook({"# parameters\nepochs = 1\nname = 'default'",
                       "import os, sys\nprint('python', tuple(sys.version_info[:2]), 'epochs', "
                       "epochs, name)\nprint('cwd', os.getcwd(), 'in', os.environ['WFRUN_JOB'])",
                       "os.makedirs('/outputs/result', exist_ok=True)\n"
                       "open('/outputs/result/model.txt', 'w').write('trained %d\\n' % epochs)\n"
                       "epochs * 2"}));
  write_file(dir_ / "wf.yaml", R"(jobs:
  prep:
    uses: script@v1
    outputs: {repo: {type: volume}}
    with: {script: "cp nb.ipynb /outputs/repo/"}
  train:
    needs: [prep]
    uses: notebook@v1
    inputs: {repo: prep.outputs.repo}
    outputs: {result: {type: dataset, with: {ref: results}}}
    with:
      image: )" + image_ + R"(
      notebook: /inputs/repo/nb.ipynb
      parameters: {epochs: 3, name: from yaml}
)");
  Output o = wfrun("run wf.yaml");
  ASSERT_EQ(o.code, 0) << o.out << log(1, "train");
  std::string l = log(1, "train");
  // The live log: cell i/N as each cell starts, then its output, as on the host.
  EXPECT_NE(l.find("cell 1/4\n"), std::string::npos) << l;
  EXPECT_NE(l.find("cell 3/4\npython " + python_version()), std::string::npos) << l;
  EXPECT_NE(l.find("epochs 3 from yaml\ncwd /inputs/repo in train\ncell 4/4\n"), std::string::npos)
      << l;
  // The executed notebook, written outside the container, with the injected parameters and
  // the last cell's value.
  std::string executed = slurp(state_ / "runs/1/jobs/train/outputs/train/nb.ipynb");
  ASSERT_FALSE(executed.empty()) << l;
  json nb = json::parse(executed);
  ASSERT_EQ(nb["cells"].size(), 4u);
  EXPECT_EQ(nb["cells"][1]["metadata"]["tags"][0], "injected-parameters");
  EXPECT_EQ(nb["cells"][3]["outputs"][0]["data"]["text/plain"][0], "6");
  EXPECT_EQ(nb["metadata"]["papermill"]["parameters"]["epochs"], 3);
  // What the notebook wrote to /outputs became the dataset version.
  EXPECT_EQ(slurp(state_ / "datasets/results/1/model.txt"), "trained 3\n");
}

TEST_F(NotebookImage, ANotebookBesideTheWorkflowAndAnErrorInACell) {
  write_file(dir_ / "nbs/bad.ipynb",
             notebook({"import os\nprint('in', os.getcwd())\nopen('note.txt', 'w').write('x')",
                       "x = 1\ny = x / 0\nprint('never')", "print('not reached')"}));
  write_file(dir_ / "wf.yaml", "jobs:\n  nb:\n    uses: notebook@v1\n    with:\n      image: " +
                                   image_ + "\n      notebook: nbs/bad.ipynb\n");
  Output o = wfrun("run wf.yaml");
  EXPECT_EQ(o.code, 1) << o.out;
  std::string l = log(1, "nb");
  // The notebook's folder is mounted at its own path and is the working folder.
  EXPECT_NE(l.find("in " + fs::canonical(dir_ / "nbs").string() + "\n"), std::string::npos) << l;
  EXPECT_EQ(slurp(dir_ / "nbs/note.txt"), "x");
  EXPECT_NE(l.find("wfrun: bad.ipynb: cell 2, line 2: ZeroDivisionError: division by zero\n"),
            std::string::npos)
      << l;
  EXPECT_EQ(l.find("not reached"), std::string::npos);
  json nb = json::parse(slurp(state_ / "runs/1/jobs/nb/outputs/nb/bad.ipynb"));
  bool found = false;
  for (const auto& c : nb["cells"])
    for (const auto& out : c.value("outputs", json::array()))
      if (out.value("ename", "") == "ZeroDivisionError") found = true;
  EXPECT_TRUE(found) << nb.dump(1);
}

TEST_F(NotebookImage, ControlCStopsTheContainer) {
  write_file(dir_ / "nap.ipynb",
             notebook({"import time\nprint('napping', flush=True)\ntime.sleep(120)"}));
  write_file(dir_ / "wf.yaml", "jobs:\n  nap:\n    uses: notebook@v1\n    with:\n      image: " +
                                   image_ + "\n      notebook: nap.ipynb\n");
  fs::path out = dir_ / "out.txt";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string cmd = command("run wf.yaml") + " >'" + out.string() + "' 2>&1";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (log(1, "nap").find("napping") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_NE(log(1, "nap").find("napping"), std::string::npos) << slurp(out);
  auto interrupted = std::chrono::steady_clock::now();
  ::kill(pid, SIGINT);
  int status = 0;
  pid_t r = 0;
  while ((r = ::waitpid(pid, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < interrupted + std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(r, pid) << "wfrun did not stop after Ctrl-C: " << slurp(out);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - interrupted).count();
  EXPECT_EQ(WEXITSTATUS(status), 130) << slurp(out);
  EXPECT_LT(took, 20) << "a Ctrl-C should not wait out the notebook";
  EXPECT_NE(log(1, "nap").find("cancelled"), std::string::npos) << log(1, "nap");
  // No container of this run is left, running or stopped.
  Output ps = shell("podman --runtime runc ps -a --format '{{.Names}}'");
  EXPECT_EQ(ps.out.find("wfrun-1-nap-"), std::string::npos) << ps.out;
}

TEST_F(NotebookImage, NoSuchPythonInTheImageIsAClearError) {
  write_file(dir_ / "nb.ipynb", notebook({"print(1)"}));
  write_file(dir_ / "wf.yaml", "jobs:\n  nb:\n    uses: notebook@v1\n    with:\n      image: " +
                                   image_ + "\n      notebook: nb.ipynb\n      python: python9\n");
  Output o = wfrun("run wf.yaml");
  EXPECT_EQ(o.code, 1) << o.out;
  std::string l = log(1, "nb");
  EXPECT_NE(l.find("wfrun: cannot run notebook nb.ipynb in image " + image_ + " with python9: "),
            std::string::npos)
      << l;
  EXPECT_NE(l.find("python9"), l.rfind("python9")) << "the runtime's own message follows: " << l;
}

// The runner itself (no container): a Python older than 3.8 is refused with a message that
// says so, and the runner's source parses as Python 3.8.
TEST(NotebookRunnerPython, OlderThan38IsRefusedClearly) {
  std::string old = pyenv("3.7");
  if (old.empty()) old = pyenv("3.6");
  if (old.empty()) GTEST_SKIP() << "no Python 3.6 or 3.7 on this machine (pyenv)";
  char tmpl[] = "/tmp/wfrun-nbold-XXXXXX";
  fs::path dir = ::mkdtemp(tmpl);
  write_file(dir / "nb.ipynb", notebook({"print(1)"}));
  Output o = shell(std::string(WFRUN_BIN) + " nbrun " + (dir / "nb.ipynb").string() +
                   " --python " + old);
  fs::remove_all(dir);
  EXPECT_EQ(o.code, 2) << o.out;
  EXPECT_NE(o.out.find("exited with status 3\nwfrun: the notebook runner needs Python 3.8 or "
                       "newer; " +
                       old + " is Python 3."),
            std::string::npos)
      << o.out;
}

TEST(NotebookRunnerPython, SourceIsPython38) {
  std::string src = std::string(WFRUN_SOURCE_DIR) + "/engine/notebook/";
  std::string check =
      "import ast, sys\n"
      "for f in sys.argv[1:]:\n"
      "    ast.parse(open(f).read(), f, feature_version=(3, 8))\n"
      "print('ok')\n";
  Output o = shell("/usr/bin/python3 -c \"" + check + "\" " + src + "support.py " + src +
                   "introspection.py " + src + "runner.py");
  EXPECT_EQ(o.out, "ok\n");
  // And it really runs on 3.8 where the machine has it (the image test above uses it too).
  std::string py38 = pyenv("3.8");
  if (py38.empty()) return;
  char tmpl[] = "/tmp/wfrun-nb38-XXXXXX";
  fs::path dir = ::mkdtemp(tmpl);
  write_file(dir / "nb.ipynb",
             notebook({"import sys\nprint(sys.version_info[:2])", "%time x = sum(range(10))\nx"}));
  o = shell(std::string(WFRUN_BIN) + " nbrun " + (dir / "nb.ipynb").string() + " --python " + py38);
  fs::remove_all(dir);
  EXPECT_EQ(o.code, 0) << o.out;
  EXPECT_NE(o.out.find("(3, 8)\n"), std::string::npos) << o.out;
}

}  // namespace
