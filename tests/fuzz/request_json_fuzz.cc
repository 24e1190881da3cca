// Fuzz target: serve-run's RUNDIR/request.json (cli/serve_request.h) and the result.json that
// answers it. Any bytes in: a checked Request or an error; either way the answer serve-run
// would write must be written (an error message quotes what it refused).

#include <cstddef>
#include <cstdint>
#include <string>

#include "cli/serve_request.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace wfrun::cli;
  std::string text(reinterpret_cast<const char*>(data), size);
  wfrun::Redactor redactor;
  redactor.add("ghp-fuzz-token");
  auto req = parse_request(text);
  Answer a;
  if (!req) {
    a = {"error", req.error().str(), {}, nullptr};
  } else {
    a.status = "success";
    a.message = "run " + std::to_string(req->run_id) + " of " + req->repo + " at " + req->ref;
    for (const auto& [k, v] : req->inputs) a.workflows.push_back({k, v, "1", "success", v});
  }
  (void)result_text(a, redactor);
  return 0;
}
