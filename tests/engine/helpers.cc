#include "tests/engine/helpers.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "workflows/parser.h"

namespace wfrun::engine::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/wfrun-engine-test-XXXXXX";
  char* p = ::mkdtemp(tmpl.data());
  if (!p) throw std::runtime_error("mkdtemp failed");
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

workflows::Workflow parse(const std::string& yaml, const std::string& file) {
  auto wf = workflows::parse_workflow(yaml, file);
  if (!wf) {
    ADD_FAILURE() << "parse: " << wf.error().str();
    return workflows::Workflow{};
  }
  return std::move(*wf);
}

RunOptions options(const TempDir& dir) {
  RunOptions o;
  o.state_dir = dir / "state";
  o.kill_grace_seconds = 0.2;
  o.path_mode = PathMode::kRewrite;
  o.workflow_dir = dir.path();
  return o;
}

RunResult run_yaml(const std::string& yaml, const RunOptions& opts, Recorder* rec) {
  Recorder local;
  auto wf = parse(yaml);
  auto r = run_workflow(wf, opts, rec ? *rec : local);
  if (!r) {
    ADD_FAILURE() << "run_workflow: " << r.error().str();
    return RunResult{};
  }
  return std::move(*r);
}

const JobResult& job(const RunResult& run, const std::string& name) {
  for (const auto& j : run.jobs)
    if (j.name == name) return j;
  static JobResult none;
  ADD_FAILURE() << "no job " << name;
  return none;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace wfrun::engine::testing
