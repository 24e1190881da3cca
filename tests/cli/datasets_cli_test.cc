// `wfrun datasets` and `wfrun models` end to end: adding versions, reading them from workflows
// (`ref: NAME:VERSION`, Gradient dataset ids through aliases, Gradient's older `id:`), their
// immutability, removal, and models.

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/files.h"

namespace fs = std::filesystem;

namespace {

using wfrun::testing::slurp;
using wfrun::testing::write_file;

struct Output {
  int code = -1;
  std::string out, err;
};

class DatasetsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/wfrun-datasets-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    state_ = dir_ / "state";
  }
  void TearDown() override {
    // Versions are read-only: give the write bits back so that the folder can go.
    std::string cmd = "chmod -R u+w '" + dir_.string() + "' 2>/dev/null; rm -rf '" +
                      dir_.string() + "'";
    (void)!std::system(cmd.c_str());
  }
  Output wfrun(const std::string& args) {
    fs::path out = dir_ / "stdout", err = dir_ / "stderr";
    std::string cmd = "cd '" + dir_.string() + "' && WFRUN_HOME='" + state_.string() + "' " +
                      WFRUN_BIN + " " + args + " >'" + out.string() + "' 2>'" + err.string() +
                      "' </dev/null";
    int status = std::system(cmd.c_str());
    Output o;
    o.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    o.out = slurp(out);
    o.err = slurp(err);
    return o;
  }
  fs::path dir_, state_;
};

TEST_F(DatasetsCli, AddThenAWorkflowReadsTheVersion) {
  write_file(dir_ / "first/x.txt", "one\n");
  write_file(dir_ / "first/sub/y.txt", "why\n");
  write_file(dir_ / "second/x.txt", "two\n");
  Output o = wfrun("datasets add mnist first --message 'the first cut'");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "mnist:1\n");
  EXPECT_TRUE(fs::exists(dir_ / "first/x.txt")) << "add copies";
  o = wfrun("datasets add mnist second --move");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "mnist:2\n");
  EXPECT_FALSE(fs::exists(dir_ / "second")) << "--move moves";

  write_file(dir_ / "wf.yaml", R"(jobs:
  read:
    uses: script@v1
    inputs:
      old: {type: dataset, with: {ref: "mnist:1"}}
      new: {type: dataset, with: {ref: mnist}}
    with: {script: "cat /inputs/old/x.txt /inputs/old/sub/y.txt /inputs/new/x.txt"}
)");
  o = wfrun("run wf.yaml");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(slurp(state_ / "runs/1/jobs/read/log"), "one\nwhy\ntwo\n");

  o = wfrun("datasets versions mnist");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("VERSION  CREATED"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("added     the first cut\n"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("\n3 "), std::string::npos);

  o = wfrun("datasets list");
  EXPECT_NE(o.out.find("mnist                          2        2"), std::string::npos) << o.out;

  o = wfrun("datasets show mnist:1");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("dataset: mnist:1\npath:    " + (state_ / "datasets/mnist/1").string()),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("message: the first cut\n"), std::string::npos);
  EXPECT_NE(o.out.find("files:   2 (8 B)\n  sub/\n  sub/y.txt\n  x.txt\n"), std::string::npos)
      << o.out;

  o = wfrun("datasets show mnist --json");
  auto j = nlohmann::json::parse(o.out);
  EXPECT_EQ(j["ref"], "mnist:2");
  EXPECT_EQ(j["files"], 1);
}

TEST_F(DatasetsCli, GradientIdsMapToLocalNames) {
  write_file(dir_ / "data/train/a.txt", "vehicles\n");
  ASSERT_EQ(wfrun("datasets add vehicles data").code, 0);
  // Nuvoola's real workflow reads its data by Gradient id (tests/workflows/gradient).
  write_file(dir_ / "wf.yaml", R"(jobs:
  train:
    uses: script@v1
    inputs:
      vehciles_tdg_test2:
        type: dataset
        with:
          ref: dsrz5za640fptze
    with: {script: "cat /inputs/vehciles_tdg_test2/train/a.txt"}
)");
  Output o = wfrun("run wf.yaml");
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.err.find("wf.yaml:5:7: dataset 'dsrz5za640fptze' not found in " +
                       (state_ / "datasets").string() +
                       "; 'dsrz5za640fptze' looks like a Gradient dataset id: add the data with "
                       "`wfrun datasets add NAME FOLDER` and map the id to it with `wfrun "
                       "datasets alias dsrz5za640fptze NAME`"),
            std::string::npos)
      << o.err;

  o = wfrun("datasets alias dsrz5za640fptze vehicles");
  ASSERT_EQ(o.code, 0) << o.err;
  o = wfrun("run wf.yaml");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(slurp(state_ / "runs/1/jobs/train/log"), "vehicles\n");
  o = wfrun("datasets show dsrz5za640fptze");
  EXPECT_NE(o.out.find("dataset: vehicles:1\n"), std::string::npos) << o.out << o.err;
  EXPECT_NE(o.out.find("aliases: dsrz5za640fptze\n"), std::string::npos) << o.out;
  EXPECT_NE(wfrun("datasets list").out.find("  dsrz5za640fptze -> vehicles\n"), std::string::npos);

  // A datasets.yaml beside the workflow does the same for everyone who clones the repository;
  // a Gradient version of an id needs its own alias.
  write_file(dir_ / "datasets.yaml", "aliases:\n  dsaaaaaaaaaaaaa: vehicles:1\n");
  write_file(dir_ / "wf2.yaml", R"(jobs:
  a:
    uses: script@v1
    inputs: {d: {type: dataset, with: {ref: dsaaaaaaaaaaaaa}}}
    with: {script: "cat /inputs/d/train/a.txt"}
  b:
    uses: script@v1
    inputs: {d: {type: dataset, with: {ref: "dsrz5za640fptze:xk3a9"}}}
    with: {script: "true"}
)");
  o = wfrun("validate wf2.yaml");
  EXPECT_EQ(o.code, 0) << o.err;
  o = wfrun("run wf2.yaml");
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.err.find("wf2.yaml:8:14: dataset 'dsrz5za640fptze:xk3a9': version 'xk3a9' of "
                       "'dsrz5za640fptze' is a Gradient version with no local counterpart; "
                       "alias it too: wfrun datasets alias dsrz5za640fptze:xk3a9 vehicles:N"),
            std::string::npos)
      << o.err;
  ASSERT_EQ(wfrun("datasets alias dsrz5za640fptze:xk3a9 vehicles:1").code, 0);
  o = wfrun("run wf2.yaml");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(slurp(state_ / "runs/2/jobs/a/log"), "vehicles\n");
}

TEST_F(DatasetsCli, OlderIdSpellingAndImmutableVersions) {
  // Gradient's own spec page declares a dataset output as `with: {id: NAME}`.
  write_file(dir_ / "wf.yaml", R"(jobs:
  make:
    uses: script@v1
    outputs:
      data2:
        type: dataset
        with:
          id: test-two
    with: {script: "echo v > /outputs/data2/f.txt"}
)");
  Output o = wfrun("run wf.yaml");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(slurp(state_ / "datasets/test-two/1/f.txt"), "v\n");
  // What a job wrote is not writable afterwards.
  struct stat st;
  ASSERT_EQ(::stat((state_ / "datasets/test-two/1/f.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0222, 0u);

  // A job that would write a version that exists fails before anything runs.
  write_file(dir_ / "again.yaml", R"(jobs:
  make:
    uses: script@v1
    outputs:
      data2: {type: dataset, with: {ref: "test-two:1"}}
    with: {script: "echo w > /outputs/data2/f.txt"}
)");
  o = wfrun("run again.yaml");
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.err.find("again.yaml:5:7: output 'data2' of job 'make' would write test-two:1, "
                       "which exists: dataset versions are immutable; write 'ref: test-two' "
                       "to make the next version"),
            std::string::npos)
      << o.err;
  EXPECT_EQ(slurp(state_ / "datasets/test-two/1/f.txt"), "v\n");
  // A version that does not exist yet can be named.
  write_file(dir_ / "seven.yaml", R"(jobs:
  make:
    uses: script@v1
    outputs:
      data2: {type: dataset, with: {ref: "test-two:7"}}
    with: {script: "echo seven > /outputs/data2/f.txt"}
)");
  o = wfrun("run seven.yaml");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(slurp(state_ / "datasets/test-two/7/f.txt"), "seven\n");
  EXPECT_EQ(wfrun("run seven.yaml").code, 2) << "7 exists now";
}

TEST_F(DatasetsCli, RemoveVersionsAndModels) {
  write_file(dir_ / "m/weights.bin", "w");
  ASSERT_EQ(wfrun("datasets add net m").code, 0);
  ASSERT_EQ(wfrun("datasets add net m").code, 0);
  write_file(dir_ / "wf.yaml", R"(jobs:
  register:
    uses: create-model@v1
    inputs: {model: {type: dataset, with: {ref: "net:2"}}}
    with: {name: classifier, type: Custom}
)");
  Output o = wfrun("run wf.yaml");
  ASSERT_EQ(o.code, 0) << o.err;

  o = wfrun("datasets rm net");
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.err.find("give the version to remove: net:N"), std::string::npos) << o.err;
  o = wfrun("datasets rm net:2");
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.err.find("dataset net:2 holds the files of model mdl-1 (classifier); remove the "
                       "model first: wfrun models rm mdl-1"),
            std::string::npos)
      << o.err;
  o = wfrun("datasets rm net:1");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "removed net:1\n");
  EXPECT_FALSE(fs::exists(state_ / "datasets/net/1"));
  EXPECT_EQ(wfrun("datasets show net:1").code, 2);

  o = wfrun("models list");
  EXPECT_NE(o.out.find("mdl-1      classifier           Custom       net:2"), std::string::npos)
      << o.out;
  EXPECT_EQ(wfrun("models").out, o.out) << "plain `wfrun models` lists too";
  o = wfrun("models show classifier");
  EXPECT_NE(o.out.find("model:   mdl-1 (classifier)\ntype:    Custom\ndataset: net:2\n"),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("files:   1 (1 B)\n  weights.bin\n"), std::string::npos) << o.out;
  o = wfrun("models rm mdl-1");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "removed mdl-1 (classifier); its files stay in dataset net:2\n");
  EXPECT_EQ(wfrun("models show mdl-1").code, 2);
  EXPECT_EQ(wfrun("datasets rm net:2").code, 0);
}

TEST_F(DatasetsCli, BadNamesAndPathsAreRefused) {
  write_file(dir_ / "d/f", "x");
  Output o = wfrun("datasets add ../escape d");
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.err.find("dataset name '../escape' is not a valid name"), std::string::npos) << o.err;
  EXPECT_FALSE(fs::exists(state_ / "escape"));
  o = wfrun("datasets add 'a b' d");
  EXPECT_NE(o.err.find("dataset name 'a b' has ' '; use letters, digits"), std::string::npos);
  o = wfrun("datasets add good missing-folder");
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.err.find("'missing-folder' does not exist"), std::string::npos) << o.err;
  EXPECT_EQ(wfrun("datasets list").out.find("good"), std::string::npos);
  o = wfrun("datasets add good:3 d");
  EXPECT_NE(o.err.find("wfrun numbers the versions: give the name only (good)"), std::string::npos);
  // A workflow cannot write outside the data store either.
  write_file(dir_ / "wf.yaml", R"(jobs:
  a:
    uses: script@v1
    outputs: {o: {type: dataset, with: {ref: ../../etc}}}
    with: {script: "true"}
)");
  o = wfrun("run wf.yaml");
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.err.find("wf.yaml:4:15: dataset name '../../etc' has more than one '/'"),
            std::string::npos)
      << o.err;
}

}  // namespace
