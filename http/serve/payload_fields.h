#pragma once
// The few fields of a webhook payload that a delivery's decision reads ("/ref",
// "/repository/full_name", ...), pulled out of the JSON text by one pass that allocates nothing
// for the rest (a push payload is kilobytes of commits, users and URLs). The pass is a full
// JSON check, as strict as nlohmann's parser (RFC 8259, UTF-8, no number that overflows a
// double, nothing after the value): a text it takes is one nlohmann takes, and the fields are
// the values nlohmann would give. It loops, never recurses, and refuses nesting deeper than
// 1,000 (which nlohmann would take).
//
// It replaces nlohmann's SAX parse here because that one spent most of a worker's time in its
// lexer (bench/webhook, docs/benchmarks.md); tests/serve/payload_fields_test.cc and the webhook
// fuzzer compare the two.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace wfrun::serve {

class PayloadFields {
 public:
  /// nullopt: the text is not JSON, or its value is not an object.
  static std::optional<PayloadFields> parse(std::string_view text);

  /// The string at `path`; "" when there is none or it is not a string.
  std::string str(const std::string& path) const;
  /// The scalar at `path` (string, number, boolean, null); nullptr when there is none.
  const nlohmann::json* get(const std::string& path) const;
  const std::map<std::string, nlohmann::json, std::less<>>& all() const { return got_; }

  /// Whether the decision reads `path` (a JSON pointer; values inside arrays never are).
  static bool wanted(std::string_view path);

 private:
  std::map<std::string, nlohmann::json, std::less<>> got_;
};

}  // namespace wfrun::serve
