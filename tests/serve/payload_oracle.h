#pragma once
// The oracle for http/serve/payload_fields.h: the same fields pulled out by nlohmann's own SAX
// parser (what wfrun used before the one-pass scanner). payload_fields_test and the webhook
// fuzzer compare the two on every input: same texts taken, same fields, same values.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/serve/payload_fields.h"

namespace wfrun::serve::testing {

class OracleFields : public nlohmann::json_sax<nlohmann::json> {
 public:
  using json = nlohmann::json;
  /// nullopt when nlohmann refuses the text or its value is not an object.
  static std::optional<std::map<std::string, json, std::less<>>> parse(const std::string& text) {
    OracleFields f;
    if (!json::sax_parse(text, &f) || !f.top_object_) return std::nullopt;
    return f.got_;
  }
  /// Nesting deeper than this: the scanner refuses it, nlohmann takes it.
  static size_t depth(const std::string& text) {
    size_t depth = 0, most = 0;
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (in_string) {
        if (c == '\\') ++i;
        else if (c == '"') in_string = false;
      } else if (c == '"') {
        in_string = true;
      } else if (c == '{' || c == '[') {
        most = std::max(most, ++depth);
      } else if ((c == '}' || c == ']') && depth > 0) {
        --depth;
      }
    }
    return most;
  }

  bool null() override { return keep(json()); }
  bool boolean(bool v) override { return keep(v); }
  bool number_integer(number_integer_t v) override { return keep(v); }
  bool number_unsigned(number_unsigned_t v) override { return keep(v); }
  bool number_float(number_float_t v, const string_t&) override { return keep(v); }
  bool string(string_t& v) override { return keep(v); }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return push(false); }
  bool key(string_t& k) override {
    path_.resize(frames_.back().base);
    path_ += '/';
    path_ += k;
    return true;
  }
  bool end_object() override { return pop(); }
  bool start_array(std::size_t) override { return push(true); }
  bool end_array() override { return pop(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  struct Frame {
    bool in_array;
    size_t base;
  };
  bool push(bool array) {
    if (frames_.empty() && !array) top_object_ = true;
    frames_.push_back({array || (!frames_.empty() && frames_.back().in_array), path_.size()});
    return true;
  }
  template <typename T>
  bool keep(T&& v) {
    if (!frames_.empty() && !frames_.back().in_array && PayloadFields::wanted(path_))
      got_[path_] = std::forward<T>(v);
    return true;
  }
  bool pop() {
    path_.resize(frames_.back().base);
    frames_.pop_back();
    return true;
  }

  std::string path_;
  std::vector<Frame> frames_;
  std::map<std::string, json, std::less<>> got_;
  bool top_object_ = false;
};

/// "" when the scanner and the oracle agree on `text`, else what differs.
inline std::string payload_disagreement(const std::string& text) {
  auto mine = PayloadFields::parse(text);
  auto theirs = OracleFields::parse(text);
  if (theirs && !mine && OracleFields::depth(text) > 1000) return "";  // refused on purpose
  if (mine.has_value() != theirs.has_value())
    return std::string("scanner ") + (mine ? "takes" : "refuses") + " it, nlohmann " +
           (theirs ? "takes" : "refuses") + " it";
  if (!mine) return "";
  // Compare as JSON texts: NaN-free by construction, and -0.0 == 0.0 would hide nothing here.
  nlohmann::json a(mine->all()), b(*theirs);
  if (a.dump() != b.dump()) return "fields differ: scanner " + a.dump() + ", nlohmann " + b.dump();
  return "";
}

}  // namespace wfrun::serve::testing
