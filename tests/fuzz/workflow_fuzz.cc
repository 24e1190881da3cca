// Fuzz target: the workflow loader and checker (workflows/parser.h). Any text in: a checked
// Workflow or one error with a location out, never a crash. A workflow that loads is also drawn
// (dot, mermaid) and matched against a push, a tag and a pull request (its `on:` patterns are
// regular expressions from the file).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "workflows/graph.h"
#include "workflows/parser.h"
#include "workflows/trigger.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace wfrun::workflows;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto wf = parse_workflow(text, "fuzz.yaml");
  if (!wf) {
    (void)wf.error().str();
    return 0;
  }
  (void)layers(*wf);
  (void)to_dot(*wf);
  (void)to_mermaid(*wf);
  for (const auto& e : {TriggerEvent{TriggerEvent::Kind::kPush, "refs/heads/main", ""},
                        TriggerEvent{TriggerEvent::Kind::kPush, "refs/tags/v1.2.3", ""},
                        TriggerEvent{TriggerEvent::Kind::kPullRequest, "refs/pull/7/head",
                                     "refs/heads/release/2.x"}})
    (void)match_trigger(wf->on, e);
  return 0;
}
