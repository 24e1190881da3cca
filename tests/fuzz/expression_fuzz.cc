// Fuzz target: `${{ }}` expressions (workflows/expr.h) and what they look up in an event
// (engine/context.h, GithubInfo). Input: TEXT, optionally followed by "\n---\n" and the event's
// JSON (a webhook payload); without one, a small push payload stands in.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/context.h"
#include "workflows/expr.h"

namespace {

const char* const kEvent = R"({"ref": "refs/heads/main", "after": "0123456789abcdef0123456789abcdef01234567",
 "repository": {"full_name": "octo/proj", "clone_url": "https://github.com/octo/proj.git"},
 "head_commit": {"id": "0123456789abcdef0123456789abcdef01234567", "message": "fix: ünïcode\nline 2"},
 "commits": [{"id": "a", "added": ["x.py"], "n": 1.5e300}, null, [true, false]],
 "pull_request": {"number": 7, "head": {"sha": "f00d"}}})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace wfrun;
  std::string_view all(reinterpret_cast<const char*>(data), size);
  std::string_view text = all;
  nlohmann::json event;
  if (auto sep = all.find("\n---\n"); sep != std::string_view::npos) {
    text = all.substr(0, sep);
    event = nlohmann::json::parse(all.substr(sep + 5), nullptr, /*allow_exceptions=*/false);
  }
  if (event.is_discarded() || event.is_null()) event = nlohmann::json::parse(kEvent);

  (void)workflows::has_expression(text);
  size_t error_offset = 0;
  auto refs = workflows::find_expressions(text, &error_offset);
  if (!refs) {
    (void)refs.error().str();
    return 0;
  }
  engine::GithubInfo github(event, "/nonexistent");
  auto out = workflows::interpolate(text, [&](const std::string& path) -> std::optional<std::string> {
    if (path.rfind("github.", 0) == 0) return github.lookup(std::string_view(path).substr(7));
    if (path.size() % 3 == 0) return std::nullopt;  // some lookups fail, as unknown values do
    return "<" + path + ">";
  });
  if (!out) (void)out.error().str();
  (void)github.url();
  (void)github.checkout_ref();
  return 0;
}
