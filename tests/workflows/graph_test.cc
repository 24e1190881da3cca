#include "workflows/graph.h"

#include <gtest/gtest.h>

#include "workflows/parser.h"

namespace wfrun::workflows {
namespace {

Workflow diamond() {
  auto r = parse_workflow(R"(jobs:
  fetch:
    uses: script@v1
    with: {script: echo}
    outputs: {src: {type: volume}, rev: {type: string}}
  lint:
    needs: fetch
    uses: script@v1
    with: {script: echo}
  train:
    needs: [fetch]
    inputs: {src: fetch.outputs.src, rev: fetch.outputs.rev}
    uses: notebook@v1
    with: {notebook: train.ipynb}
  report:
    needs: [train, lint]
    uses: container@v1
    with: {image: alpine}
  other:
    uses: script@v1
    with: {script: echo}
)",
                          "w.yaml");
  EXPECT_TRUE(r.ok()) << r.error().str();
  return *r;
}

TEST(Graph, Layers) {
  std::vector<std::vector<std::string>> want = {{"fetch", "other"}, {"lint", "train"}, {"report"}};
  EXPECT_EQ(layers(diamond()), want);
}

TEST(Graph, Dot) {
  EXPECT_EQ(to_dot(diamond()),
            "digraph workflow {\n"
            "  rankdir=LR;\n"
            "  node [shape=box];\n"
            "  \"fetch\" [label=\"fetch\nscript@v1\"];\n"
            "  \"lint\" [label=\"lint\nscript@v1\"];\n"
            "  \"train\" [label=\"train\nnotebook@v1\"];\n"
            "  \"report\" [label=\"report\ncontainer@v1\"];\n"
            "  \"other\" [label=\"other\nscript@v1\"];\n"
            "  \"fetch\" -> \"lint\";\n"
            "  \"fetch\" -> \"train\" [label=\"src, rev\"];\n"
            "  \"train\" -> \"report\";\n"
            "  \"lint\" -> \"report\";\n"
            "}\n");
}

TEST(Graph, Mermaid) {
  EXPECT_EQ(to_mermaid(diamond()),
            "flowchart LR\n"
            "  j0[\"fetch<br/>script@v1\"]\n"
            "  j1[\"lint<br/>script@v1\"]\n"
            "  j2[\"train<br/>notebook@v1\"]\n"
            "  j3[\"report<br/>container@v1\"]\n"
            "  j4[\"other<br/>script@v1\"]\n"
            "  j0 --> j1\n"
            "  j0 -->|src, rev| j2\n"
            "  j2 --> j3\n"
            "  j1 --> j3\n");
}

TEST(Graph, CycleGoesLast) {
  Workflow wf;
  Job a, b, c;
  a.name = "a", a.needs = {"b"};
  b.name = "b", b.needs = {"a"};
  c.name = "c";
  wf.jobs = {a, b, c};
  std::vector<std::vector<std::string>> want = {{"c"}, {"a", "b"}};
  EXPECT_EQ(layers(wf), want);
}

}  // namespace
}  // namespace wfrun::workflows
