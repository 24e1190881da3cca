// parse_json: nlohmann's parser driving a DOM builder of ours (its SAX interface), which counts
// the depth, knows the JSON path it is at, and turns every parse failure into an Error.

#include "engine/notebook/json_reader.h"

#include <cctype>
#include <vector>

namespace wfrun::notebook {
namespace {

using nlohmann::json;

bool plain_key(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  return true;
}

Location location_of_offset(const std::string& file, std::string_view text, size_t offset) {
  Location loc;
  loc.file = file;
  loc.line = 1;
  loc.column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++loc.line;
      loc.column = 1;
    } else {
      ++loc.column;
    }
  }
  return loc;
}

// Where the nesting first goes deeper than `max_depth`: the offset of that `[` or `{`.
size_t offset_of_depth(std::string_view text, size_t max_depth) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return text.size();
}

/// Builds the DOM as nlohmann's own SAX DOM parser does, plus a depth bound and the path.
class DomBuilder {
 public:
  DomBuilder(json& root, size_t max_depth) : root_(root), max_depth_(max_depth) {}

  bool null() { return value(nullptr); }
  bool boolean(bool v) { return value(v); }
  bool number_integer(json::number_integer_t v) { return value(v); }
  bool number_unsigned(json::number_unsigned_t v) { return value(v); }
  bool number_float(json::number_float_t v, const std::string&) { return value(v); }
  bool string(std::string& v) { return value(std::move(v)); }
  bool binary(json::binary_t& v) { return value(std::move(v)); }

  bool start_object(size_t) { return open(json::object()); }
  bool start_array(size_t) { return open(json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string& k) {
    Level& top = stack_.back();
    top.key = k;
    next_ = &(*top.value)[k];
    return true;
  }

  bool parse_error(size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& ex) {
    error_position_ = position;
    last_token_ = last_token;
    error_id_ = ex.id;
    error_what_ = ex.what();
    return false;
  }

  bool too_deep() const { return too_deep_; }
  size_t error_position() const { return error_position_; }
  const std::string& last_token() const { return last_token_; }
  int error_id() const { return error_id_; }
  const std::string& error_what() const { return error_what_; }

  /// The JSON path of the value being read when reading stopped: `cells[3].source`.
  std::string path() const {
    std::string p;
    for (const Level& l : stack_) {
      if (l.value->is_array()) {
        p += "[" + std::to_string(l.value->empty() ? 0 : l.value->size() - 1) + "]";
      } else if (!l.key.empty() || l.value->size() > 0) {
        p = json_path_key(p, l.key);
      }
    }
    return p;
  }

 private:
  struct Level {
    json* value;
    std::string key;  // objects: the key being read
  };

  json* place(json v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    json& top = *stack_.back().value;
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    *next_ = std::move(v);
    return next_;
  }
  template <class T>
  bool value(T&& v) {
    place(json(std::forward<T>(v)));
    return true;
  }
  bool open(json container) {
    if (stack_.size() >= max_depth_) {
      too_deep_ = true;
      return false;
    }
    stack_.push_back({place(std::move(container)), {}});
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  json& root_;
  size_t max_depth_;
  std::vector<Level> stack_;
  json* next_ = nullptr;
  bool too_deep_ = false;
  size_t error_position_ = 0;
  std::string last_token_;
  int error_id_ = 0;
  std::string error_what_;
};

// At most `n` characters of `s`, its middle elided: messages quote tokens and paths that can be
// a megabyte long.
std::string shortened(const std::string& s, size_t n = 200) {
  if (s.size() <= n) return s;
  return s.substr(0, n / 2) + "..." + s.substr(s.size() - n / 2);
}

// `s` with control characters and bytes that are not UTF-8 written as \xHH: nlohmann quotes the
// bytes it could not read, and a message must stay valid text (it may end up in JSON).
std::string printable(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size() && (len > 1 || c >= 0x20);
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 2;
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      static const char kHex[] = "0123456789ABCDEF";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      ++i;
    }
  }
  return out;
}

// nlohmann's message without its `[json.exception...] parse error at line 1, column 2: ` head.
std::string parse_detail(const std::string& what) {
  size_t at = what.find("at line ");
  size_t colon = what.find(": ", at == std::string::npos ? what.find(']') : at);
  return printable(shortened(colon == std::string::npos ? what : what.substr(colon + 2)));
}

}  // namespace

std::string json_path_key(const std::string& path, std::string_view key) {
  if (plain_key(key)) return path.empty() ? std::string(key) : path + "." + std::string(key);
  return path + "[" + json(key).dump(-1, ' ', false, json::error_handler_t::replace) + "]";
}

std::string json_kind(const json& v) {
  switch (v.type()) {
    case json::value_t::object: return "an object";
    case json::value_t::array: return "a list";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return v.get<bool>() ? "true" : "false";
    case json::value_t::null: return "null";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "the number " + v.dump();
    default: return "binary data";
  }
}

Result<json> parse_json(std::string_view text, const std::string& file, size_t max_depth) {
  json root;
  DomBuilder dom(root, max_depth);
  bool ok = false;
  try {
    ok = json::sax_parse(text.begin(), text.end(), &dom);
  } catch (const json::exception& e) {
    // Only an allocation limit (an absurd container size) throws here; keep the message.
    return Error(Location{file, 0, 0, ""}, std::string("not valid JSON: ") + e.what());
  }
  if (ok) return root;
  auto prefixed = [&](const std::string& what) {
    std::string p = shortened(dom.path());
    return p.empty() ? what : p + ": " + what;
  };
  if (dom.too_deep()) {
    return Error(location_of_offset(file, text, offset_of_depth(text, max_depth)),
                 "lists and objects nested more than " + std::to_string(max_depth) +
                     " deep; wfrun reads at most " + std::to_string(max_depth) + " levels");
  }
  if (dom.error_id() == 406) {
    // Number overflow: point at the number, not past it.
    size_t start = dom.error_position() >= dom.last_token().size()
                       ? dom.error_position() - dom.last_token().size()
                       : 0;
    return Error(location_of_offset(file, text, start),
                 prefixed("the number " + printable(shortened(dom.last_token())) +
                          " is too large (JSON numbers must fit in a 64-bit float)"));
  }
  // The position is 1-based and points just past the offending character.
  size_t off = dom.error_position() > 0 ? dom.error_position() - 1 : 0;
  return Error(location_of_offset(file, text, off),
               prefixed("not valid JSON: " + parse_detail(dom.error_what())));
}

}  // namespace wfrun::notebook
