#include "workflows/parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "workflows/actions.h"
#include "workflows/secrets.h"

namespace wfrun::workflows {
namespace {

Workflow parse_ok(std::string_view text) {
  auto r = parse_workflow(text, "w.yaml");
  EXPECT_TRUE(r.ok()) << r.error().str();
  return r.ok() ? *r : Workflow{};
}

std::string parse_error(std::string_view text) {
  auto r = parse_workflow(text, "w.yaml");
  return r.ok() ? "parsed" : r.error().str();
}

constexpr std::string_view kGradientExample = R"(on: {github: {branches: {only: main}}}
jobs:
  Fetch:
    uses: git-checkout@v1
    with: {url: https://github.com/acme/proj}
    outputs: {src: {type: volume}}
  Train:
    needs: [Fetch]
    inputs: {src: Fetch.outputs.src}
    outputs: {model: {type: dataset, with: {ref: proj-model}}}
    resources: {instance-type: P4000}
    env: {TOKEN: secret:hf_token}
    uses: script@v1
    with:
      image: pytorch/pytorch:latest
      script: |-
        cp -R /inputs/src /w && cd /w
        python train.py --out /outputs/model
)";

TEST(Parser, GradientExample) {
  Workflow wf = parse_ok(kGradientExample);
  EXPECT_EQ(wf.file, "w.yaml");
  EXPECT_EQ(wf.text, kGradientExample);
  ASSERT_TRUE(wf.on.has_value());
  EXPECT_TRUE(wf.on->branches.present);
  EXPECT_EQ(wf.on->branches.only, std::vector<std::string>{"main"});
  EXPECT_FALSE(wf.on->tags.present);
  ASSERT_EQ(wf.jobs.size(), 2u);
  const Job& fetch = wf.jobs[0];
  EXPECT_EQ(fetch.name, "Fetch");
  EXPECT_EQ(fetch.uses, "git-checkout@v1");
  EXPECT_EQ(fetch.with, Json({{"url", "https://github.com/acme/proj"}}));
  EXPECT_EQ(fetch.where.line, 3);
  EXPECT_EQ(fetch.where.column, 3);
  const Job* train = wf.job("Train");
  ASSERT_NE(train, nullptr);
  EXPECT_EQ(train->needs, std::vector<std::string>{"Fetch"});
  ASSERT_EQ(train->inputs.size(), 1u);
  EXPECT_EQ(train->inputs[0].source, JobInput::Source::kJobOutput);
  EXPECT_EQ(train->inputs[0].job, "Fetch");
  EXPECT_EQ(train->inputs[0].from, "src");
  EXPECT_EQ(train->inputs[0].type, IoType::kVolume);
  const JobOutput* model = train->output("model");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->type, IoType::kDataset);
  EXPECT_EQ(model->ref, "proj-model");
  EXPECT_EQ(train->resources.instance_type, "P4000");
  EXPECT_EQ(train->env.at("TOKEN"), "secret:hf_token");
  EXPECT_EQ(train->with["script"],
            "cp -R /inputs/src /w && cd /w\npython train.py --out /outputs/model");
  EXPECT_EQ(train->condition, Condition::kSuccess);
  EXPECT_EQ(train->retries, 0);
  EXPECT_FALSE(train->timeout_seconds.has_value());
}

TEST(Parser, UnavailableActionsParseButAreRefusedBeforeRunning) {
  // git-checkout@v1 runs now (git/actions.cc); s3-download@v1 stays refused.
  EXPECT_TRUE(check_available(parse_ok(kGradientExample)).ok());
  Workflow s3 = parse_ok("jobs:\n  get:\n    uses: s3-download@v1\n    with: {url: s3://b/k}\n");
  EXPECT_EQ(check_available(s3).error().str(),
            "w.yaml:3:5: action 's3-download@v1' is not supported off Gradient's cloud; use "
            "script@v1 with an S3 client (e.g. 'aws s3 cp') instead");
  EXPECT_TRUE(check_available(parse_ok("jobs: {a: {uses: script@v1, with: {script: x}}}")).ok());
}

TEST(Parser, DefaultsMergeIntoJobs) {
  Workflow wf = parse_ok(R"(defaults:
  env: {A: 1, B: two, C: "3"}
  resources: {instance-type: C5, memory: 8Gi, gpus: 0}
jobs:
  a:
    uses: script@v1
    with: {script: env}
    env: {B: mine, D: true}
    resources: {gpus: 2, cpus: 1.5}
  b:
    uses: script@v1
    with: {script: env}
)");
  EXPECT_EQ(wf.default_env.size(), 3u);
  const Job& a = *wf.job("a");
  std::map<std::string, std::string> env_a = {{"A", "1"}, {"B", "mine"}, {"C", "3"}, {"D", "true"}};
  EXPECT_EQ(a.env, env_a);
  EXPECT_EQ(a.resources.instance_type, "C5");
  EXPECT_EQ(a.resources.gpus, 2);
  EXPECT_EQ(a.resources.cpus, 1.5);
  EXPECT_EQ(a.resources.memory_bytes, 8LL << 30);
  EXPECT_EQ(a.resources.where.at("gpus").line, 9);
  EXPECT_EQ(a.resources.where.at("memory").line, 3);
  const Job& b = *wf.job("b");
  EXPECT_EQ(b.env, wf.default_env);
  EXPECT_EQ(b.resources.gpus, 0);
  EXPECT_FALSE(b.resources.cpus.has_value());
}

TEST(Parser, InputsAndOutputsResolveTypes) {
  Workflow wf = parse_ok(R"(inputs:
  data: {type: dataset, with: {ref: "mnist:2"}}
  greeting: {type: string, with: {value: hi}}
  cache: {type: volume}
jobs:
  prep:
    uses: script@v1
    with: {script: x}
    inputs:
      raw: workflow.inputs.data
      hello: workflow.inputs.greeting
      extra: {type: dataset, with: {ref: extra}}
      note: {type: string, with: {value: "n"}}
    outputs:
      clean: {type: dataset}
      count: {type: string}
      tmp: {type: volume}
  train:
    needs: prep
    uses: create-model@v1
    with: {name: m, type: tensorflow}
    inputs:
      model: prep.outputs.clean
      n: prep.outputs.count
)");
  ASSERT_EQ(wf.inputs.size(), 3u);
  EXPECT_EQ(wf.input("data")->type, IoType::kDataset);
  EXPECT_EQ(wf.input("data")->ref, "mnist:2");
  EXPECT_EQ(wf.input("greeting")->value, "hi");
  EXPECT_EQ(wf.input("cache")->type, IoType::kVolume);
  EXPECT_FALSE(wf.input("cache")->ref.has_value());
  const Job& prep = *wf.job("prep");
  EXPECT_EQ(prep.input("raw")->source, JobInput::Source::kWorkflowInput);
  EXPECT_EQ(prep.input("raw")->from, "data");
  EXPECT_EQ(prep.input("raw")->type, IoType::kDataset);
  EXPECT_EQ(prep.input("hello")->type, IoType::kString);
  EXPECT_EQ(prep.input("extra")->source, JobInput::Source::kInline);
  EXPECT_EQ(prep.input("extra")->ref, "extra");
  EXPECT_EQ(prep.input("note")->value, "n");
  EXPECT_EQ(prep.output("clean")->type, IoType::kDataset);
  EXPECT_FALSE(prep.output("clean")->ref.has_value());
  const Job& train = *wf.job("train");
  EXPECT_EQ(train.input("model")->type, IoType::kDataset);
  EXPECT_EQ(train.input("n")->type, IoType::kString);
  // create-model@v1 makes a string output model-id without it being declared.
  ASSERT_NE(train.output("model-id"), nullptr);
  EXPECT_EQ(train.output("model-id")->type, IoType::kString);
}

TEST(Parser, WithArgumentsKeepTheirTypes) {
  Workflow wf = parse_ok(R"(jobs:
  c:
    uses: container@v1
    with: {image: "python:3.10", args: [run, 42, true], command: sh}
  n:
    uses: notebook@v1
    with:
      notebook: a.ipynb
      parameters: {epochs: 3, lr: 0.5, name: x, quoted: "7", on: true, none: null, list: [1, a]}
      cell-timeout: 30m
      allow-errors: true
  n2:
    uses: notebook@v1
    with: {notebook: b.ipynb, cell-timeout: 90}
)");
  const Job& c = *wf.job("c");
  EXPECT_EQ(c.with["image"], "python:3.10");
  EXPECT_EQ(c.with["args"], Json::array({"run", "42", "true"}));
  EXPECT_EQ(c.with["command"], "sh");
  const Job& n = *wf.job("n");
  EXPECT_EQ(
      n.with["parameters"].dump(),
      R"({"epochs":3,"lr":0.5,"name":"x","quoted":"7","on":true,"none":null,"list":[1,"a"]})");
  EXPECT_EQ(n.with["cell-timeout"], "30m");
  EXPECT_EQ(n.with["allow-errors"], true);
  EXPECT_EQ(wf.job("n2")->with["cell-timeout"], 90.0);
}

TEST(Parser, Extensions) {
  Workflow wf = parse_ok(R"(jobs:
  a:
    uses: script@v1
    with: {script: x}
    timeout: 1h30m
    retries: 3
    continue-on-error: true
  b:
    needs: a
    if: ${{ always() }}
    uses: script@v1
    with: {script: x}
  c:
    needs: [a, b]
    if: failure()
    uses: script@v1
    with: {script: x}
)");
  const Job& a = *wf.job("a");
  EXPECT_EQ(a.timeout_seconds, 5400.0);
  EXPECT_EQ(a.retries, 3);
  EXPECT_TRUE(a.continue_on_error);
  EXPECT_EQ(wf.job("b")->condition, Condition::kAlways);
  EXPECT_EQ(wf.job("b")->needs, std::vector<std::string>{"a"});
  EXPECT_EQ(wf.job("c")->condition, Condition::kFailure);
}

TEST(Parser, EmptyOptionalSectionsMeanNone) {
  Workflow wf = parse_ok(R"(defaults:
on:
inputs:
jobs:
  a:
    uses: script@v1
    with: {script: x}
    needs:
    env:
    inputs:
    outputs:
    resources:
)");
  EXPECT_FALSE(wf.on.has_value());
  EXPECT_TRUE(wf.job("a")->needs.empty());
  EXPECT_TRUE(wf.job("a")->env.empty());
}

TEST(Parser, TriggerFilters) {
  Workflow wf = parse_ok(R"(on:
  github:
    branches: {only: [main, dev], ignore: wip}
    tags: {only: "v.*"}
    pull_request: {branches: {only: main}}
jobs: {a: {uses: script@v1, with: {script: x}}}
)");
  ASSERT_TRUE(wf.on);
  EXPECT_EQ(wf.on->branches.only, (std::vector<std::string>{"main", "dev"}));
  EXPECT_EQ(wf.on->branches.ignore, std::vector<std::string>{"wip"});
  EXPECT_EQ(wf.on->tags.only, std::vector<std::string>{"v.*"});
  EXPECT_TRUE(wf.on->pull_request.present);
  EXPECT_EQ(wf.on->pull_request.only, std::vector<std::string>{"main"});
  EXPECT_EQ(wf.on->where.line, 1);
}

TEST(Parser, LocationsOfKeys) {
  Workflow wf = parse_ok(kGradientExample);
  EXPECT_EQ(wf.locations.at("jobs.Train.with.script").str(), "w.yaml:16:7");
  EXPECT_EQ(wf.locations.at("jobs.Train.needs[0]").str(), "w.yaml:8:13");
  EXPECT_EQ(wf.where("jobs.Train.env.TOKEN").str(), "w.yaml:12:11");
  // No entry: the closest enclosing field that has one.
  Location l = wf.where("jobs.Train.with.nope[3]");
  EXPECT_EQ(l.line, 14);
  EXPECT_EQ(l.field, "jobs.Train.with.nope[3]");
  EXPECT_EQ(wf.where("nothing").str(), "w.yaml");
}

TEST(Parser, Secrets) {
  Workflow wf = parse_ok(R"(defaults:
  env: {SHARED: "secret:shared", PLAIN: value}
jobs:
  a:
    uses: script@v1
    env: {TOKEN: secret:HF_TOKEN}
    with: {script: x}
  b:
    uses: container@v1
    with:
      image: alpine
      args: [--password, secret:db_pass, "secret:HF_TOKEN"]
)");
  std::map<std::string, std::string> want = {{"HF_TOKEN", "jobs.a.env.TOKEN"},
                                             {"db_pass", "jobs.b.with.args[1]"},
                                             {"shared", "defaults.env.SHARED"}};
  EXPECT_EQ(wf.secrets(), want);
  std::vector<std::pair<std::string, std::string>> uses = {{"shared", "defaults.env.SHARED"},
                                                           {"HF_TOKEN", "jobs.a.env.TOKEN"},
                                                           {"db_pass", "jobs.b.with.args[1]"},
                                                           {"HF_TOKEN", "jobs.b.with.args[2]"}};
  EXPECT_EQ(wf.secret_uses(), uses);

  EXPECT_TRUE(check_secrets(wf, [](const std::string&) { return true; }).ok());
  Status st = check_secrets(wf, [](const std::string& n) { return n == "shared"; });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().str(),
            "w.yaml:6:11: unknown secret 'HF_TOKEN' in jobs.a.env.TOKEN; pass --secret "
            "HF_TOKEN=..., put it in --secrets-file, or set WFRUN_SECRET_HF_TOKEN");
  st = check_secrets(wf, [](const std::string& n) { return n != "db_pass"; });
  EXPECT_EQ(st.error().str(),
            "w.yaml:12:26: unknown secret 'db_pass' in jobs.b.with.args[1]; pass --secret "
            "db_pass=..., put it in --secrets-file, or set WFRUN_SECRET_db_pass");
}

TEST(Parser, SecretName) {
  EXPECT_EQ(secret_name("secret:X"), "X");
  EXPECT_EQ(secret_name("secret:"), std::nullopt);
  EXPECT_EQ(secret_name("Secret:X"), std::nullopt);
  EXPECT_EQ(secret_name("a secret:X"), std::nullopt);
}

TEST(Parser, GradientEventValuesStayInPlace) {
  Workflow wf = parse_ok(R"(jobs:
  a:
    uses: script@v1
    with: {script: echo, image: context.event.github.url}
    env: {REF: context.event.github.ref}
)");
  EXPECT_EQ(wf.job("a")->with["image"], "context.event.github.url");
  EXPECT_EQ(wf.job("a")->env.at("REF"), "context.event.github.ref");
  EXPECT_EQ(parse_error("jobs: {a: {uses: script@v1, with: {script: context.event.github}}}"),
            "w.yaml:1:44: 'context.event.github' needs a field, e.g. context.event.github.url");
}

TEST(Parser, ExpressionsNeedTransitiveNeedsAndStringOutputs) {
  parse_ok(R"(jobs:
  a:
    uses: script@v1
    with: {script: x}
    outputs: {n: {type: string}}
  b:
    needs: a
    uses: script@v1
    with: {script: x}
  c:
    needs: b
    uses: script@v1
    with: {script: "echo ${{ jobs.a.outputs.n }}"}
)");
  EXPECT_EQ(
      parse_error(
          "jobs:\n  a:\n    uses: script@v1\n    with: {script: \"${{ jobs.b.outputs.x }}\"}\n"),
      "w.yaml:4:21: unknown job 'b' in '${{ jobs.b.outputs.x }}'");
}

TEST(Parser, CreateModelOutputMustBeAString) {
  EXPECT_EQ(parse_error(R"(jobs:
  t:
    uses: script@v1
    with: {script: x}
    outputs: {m: {type: dataset}}
  r:
    needs: t
    uses: create-model@v1
    inputs: {model: t.outputs.m}
    outputs: {model-id: {type: volume}}
    with: {name: m, type: Custom}
)"),
            "w.yaml:10:15: output 'model-id' of create-model@v1 is always a string, not a volume");
}

TEST(Parser, TabsInsideBlockScalarsAreText) {
  parse_ok(
      "jobs:\n  a:\n    uses: script@v1\n    with:\n      script: |\n        make\n        "
      "\tindented\n");
  EXPECT_EQ(parse_error("jobs:\n  a:\n    uses: script@v1\n    with:\n      script: |\n        "
                        "make\n\tindented\n"),
            "w.yaml:7:1: tabs are not allowed in YAML indentation; use spaces");
  EXPECT_EQ(parse_error("jobs:\n  a:\n  \t uses: script@v1\n"),
            "w.yaml:3:3: tabs are not allowed in YAML indentation; use spaces");
}

// Found by the 30-minute fuzz run: a backslash inside a double-quoted scalar as the text's last
// byte made the line scan read one byte past the end. A buffer of exactly the text's size lets
// the sanitizer build see such a read (a std::string's terminator would hide it).
TEST(Parser, AnEscapeAtTheVeryEndOfTheTextIsNotReadPast) {
  for (const std::string text : {"conte\x88\x8e:\n\nn, \"r\\", "a: \"\\", "jobs: {a: \"x\\"}) {
    std::unique_ptr<char[]> exact(new char[text.size()]);
    std::copy(text.begin(), text.end(), exact.get());
    auto r = parse_workflow(std::string_view(exact.get(), text.size()), "w.yaml");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().str().rfind("w.yaml:", 0), 0u) << r.error().str();
  }
  EXPECT_EQ(parse_error("a: \"\\"),
            "w.yaml:1:7: YAML syntax error: the text ends inside a double-quoted string, after a "
            "'\\' (close the string with '\"', or write a backslash as '\\\\')");
  // yaml-cpp names one byte of a character outside ASCII: not repeated, half a character.
  EXPECT_EQ(parse_error("a: \"\\\xc3\xa9\""),
            "w.yaml:1:7: YAML syntax error: unknown escape character in a double-quoted string "
            "(use single quotes, or write '\\\\')");
}

TEST(Parser, EmptyText) {
  EXPECT_EQ(parse_error(""), "w.yaml: the file is empty; a workflow needs a 'jobs:' map");
  EXPECT_EQ(parse_error("\n\n"),
            "w.yaml: the workflow is empty (only comments or blank lines); it needs a 'jobs:' map");
}

class LoadWorkflow : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("wfrun_workflows_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& content) {
    std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  std::filesystem::path dir_;
};

TEST_F(LoadWorkflow, FileErrors) {
  std::string missing = (dir_ / "missing.yaml").string();
  EXPECT_EQ(load_workflow(missing).error().str(), missing + ": no such file");
  EXPECT_EQ(load_workflow(dir_.string()).error().str(),
            dir_.string() + ": is a directory, expected a workflow file");
  std::string empty = write("empty.yaml", "");
  EXPECT_EQ(load_workflow(empty).error().str(),
            empty + ": the file is empty; a workflow needs a 'jobs:' map");
  std::string nul = write("nul.yaml", std::string("jobs:\0\n", 7));
  EXPECT_EQ(load_workflow(nul).error().str(), nul + ": not a text file");
  std::string latin1 =
      write("latin1.yaml", "jobs: {a: {uses: script@v1, with: {script: caf\xe9}}}\n");
  EXPECT_EQ(load_workflow(latin1).error().str(), latin1 + ": not a text file");
  std::string utf8 =
      write("utf8.yaml", "jobs: {a: {uses: script@v1, with: {script: caf\xc3\xa9}}}\n");
  auto ok = load_workflow(utf8);
  ASSERT_TRUE(ok.ok()) << ok.error().str();
  EXPECT_EQ(ok->file, utf8);
  EXPECT_EQ(ok->job("a")->with["script"], "caf\xc3\xa9");
}

TEST(Parser, GithubBlock) {
  Workflow wf = parse_ok(R"(github:
  repo: acme/proj
  token: secret:gh_token
  status: wfrun/ci
  comment: true
jobs:
  a: {uses: script@v1, with: {script: echo}}
)");
  ASSERT_TRUE(wf.github.has_value());
  EXPECT_EQ(wf.github->repo, "acme/proj");
  EXPECT_EQ(wf.github->token, "secret:gh_token");
  EXPECT_EQ(wf.github->status, "wfrun/ci");
  EXPECT_TRUE(wf.github->comment);
  EXPECT_EQ(wf.github->where.line, 1);
  // The token is a secret like any other: check_secrets() sees it.
  EXPECT_EQ(wf.secrets().at("gh_token"), "github.token");

  Workflow app = parse_ok(R"(github:
  app: {id: 42, key: secret:app_pem, installation: 7}
  status: true
jobs:
  a: {uses: script@v1, with: {script: echo}}
)");
  EXPECT_EQ(app.github->app_id, "42");
  EXPECT_EQ(app.github->app_key, "secret:app_pem");
  EXPECT_EQ(app.github->app_installation, 7);
  EXPECT_EQ(app.github->status, "wfrun");
  EXPECT_FALSE(app.github->comment);
  EXPECT_EQ(app.secrets().at("app_pem"), "github.app.key");

  EXPECT_EQ(parse_error("github: {token: secret:a, app: {id: 1, key: secret:b}, comment: true}\n"
                        "jobs: {a: {uses: script@v1, with: {script: x}}}\n"),
            "w.yaml:1:1: 'github' takes 'token' or 'app', not both");
  EXPECT_EQ(parse_error("github: {repo: a/b}\njobs: {a: {uses: script@v1, with: {script: x}}}\n"),
            "w.yaml:1:1: 'github' reports nothing: give 'status: CONTEXT' and/or 'comment: true'");
  EXPECT_FALSE(parse_ok("jobs: {a: {uses: script@v1, with: {script: x}}}\n").github.has_value());
}

TEST(Parser, GradientIdIsRefAndContextIsRead) {
  Workflow wf = parse_ok(R"(inputs:
  data: {type: dataset, with: {id: test-one}}
context:
  event:
    github: {url: "https://github.com/acme/proj", ref: e1b7016}
jobs:
  a:
    uses: script@v1
    inputs:
      d: workflow.inputs.data
      old: {type: dataset, with: {id: "dsr5spfj2aqzlfg"}}
    outputs:
      o: {type: dataset, with: {id: test-two}}
    with: {script: "true"}
)");
  EXPECT_EQ(wf.inputs[0].ref, "test-one");
  EXPECT_EQ(wf.jobs[0].input("old")->ref, "dsr5spfj2aqzlfg");
  EXPECT_EQ(wf.jobs[0].output("o")->ref, "test-two");
  EXPECT_EQ(wf.github_context.at("url"), "https://github.com/acme/proj");
  EXPECT_EQ(wf.github_context.at("ref"), "e1b7016");
}

// Gradient's first syntax: the checkout's volume declared as its input, readers declaring the
// same input (tests/workflows/gradient/dkobran__object-detection-segmentation-own.yaml).
TEST(Parser, NamedVolumesBecomeWiredOutputs) {
  Workflow wf = parse_ok(R"(jobs:
  clone:
    uses: git-checkout@v1
    with: {url: https://github.com/acme/proj}
    inputs: {repo: {type: volume}}
  build:
    uses: script@v1
    needs: [clone]
    inputs: {repo: {type: volume}}
    outputs: {out: {type: volume}}
    with: {script: "ls /inputs/repo"}
  deploy:
    uses: script@v1
    needs: [build]
    inputs: {repo: {type: volume}, out: {type: volume}}
    with: {script: "ls /inputs/repo /inputs/out"}
)");
  const Job& clone = *wf.job("clone");
  EXPECT_TRUE(clone.inputs.empty());
  ASSERT_NE(clone.output("repo"), nullptr);
  EXPECT_EQ(clone.output("repo")->type, IoType::kVolume);
  const JobInput& b = *wf.job("build")->input("repo");
  EXPECT_EQ(b.source, JobInput::Source::kJobOutput);
  EXPECT_EQ(b.job, "clone");
  EXPECT_EQ(b.from, "repo");
  // Through a job in between, a reader still finds the checkout (the volume was the
  // workflow's in that syntax), and needs it directly from then on.
  const JobInput& d = *wf.job("deploy")->input("repo");
  EXPECT_EQ(d.job, "clone");
  EXPECT_EQ(wf.job("deploy")->needs, (std::vector<std::string>{"build", "clone"}));
  EXPECT_EQ(wf.job("deploy")->input("out")->job, "build");
}

TEST(Actions, Table) {
  EXPECT_EQ(action_names(),
            (std::vector<std::string>{"script@v1", "container@v1", "notebook@v1", "create-model@v1",
                                      "git-checkout@v1", "git-commit@v1", "s3-download@v1"}));
  const ActionSpec* nb = find_action("notebook@v1");
  ASSERT_NE(nb, nullptr);
  EXPECT_TRUE(nb->available);
  EXPECT_TRUE(nb->arg("notebook")->required);
  EXPECT_FALSE(nb->arg("parameters")->required);
  EXPECT_EQ(find_action("notebook@v2"), nullptr);
  EXPECT_TRUE(find_action("git-checkout@v1")->available);
  EXPECT_TRUE(find_action("git-checkout@v1")->arg("url")->required);
  EXPECT_FALSE(find_action("s3-download@v1")->available);
}

}  // namespace
}  // namespace wfrun::workflows
