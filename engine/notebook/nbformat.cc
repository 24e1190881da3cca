// Reading notebooks: nbformat 4.0-4.5, and nbformat 3 upgraded the way nbformat.v4 does.

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>

#include "engine/notebook/json_reader.h"
#include "engine/notebook/notebook.h"

namespace wfrun::notebook {
namespace {

using nlohmann::json;

std::string join_multiline(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  std::string out;
  if (v.is_array())
    for (const auto& part : v)
      if (part.is_string()) out += part.get<std::string>();
  return out;
}

Error at(const std::string& path, const std::string& field, const std::string& what) {
  // Location::str() shows the file only; the JSON location goes into the message.
  Location loc;
  loc.file = path;
  loc.field = field;
  return Error(loc, field.empty() ? what : field + ": " + what);
}

std::string index_path(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

/// Type checks for the fields wfrun reads, each failing with the field's JSON path: every field
/// of a notebook that wfrun reads is checked here first, so no nlohmann type_error can escape.
struct Checker {
  static constexpr long long kNoLimit = INT64_MAX;
  const std::string& file;

  // `obj[key]` when present (obj must be an object), else null.
  static const json* find(const json& obj, std::string_view key) {
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
  }
  Status want_object(const json& v, const std::string& where) const {
    if (v.is_object()) return {};
    return at(file, where, "must be an object, not " + json_kind(v));
  }
  Status want_string(const json& v, const std::string& where) const {
    if (v.is_string()) return {};
    return at(file, where, "must be a string, not " + json_kind(v));
  }
  // A string, or a list of strings (nbformat's multi-line text).
  Status want_text(const json& v, const std::string& where) const {
    if (v.is_string()) return {};
    if (!v.is_array())
      return at(file, where, "must be a string or a list of strings, not " + json_kind(v));
    for (size_t i = 0; i < v.size(); ++i)
      if (!v[i].is_string())
        return at(file, index_path(where, i), "must be a string, not " + json_kind(v[i]));
    return {};
  }
  Status want_list(const json& v, const std::string& where) const {
    if (v.is_array()) return {};
    return at(file, where, "must be a list, not " + json_kind(v));
  }
  // An integer from lo to hi.
  Result<long long> want_int(const json& v, const std::string& where, long long lo,
                             long long hi) const {
    if (!v.is_number_integer()) return at(file, where, "must be an integer, not " + json_kind(v));
    bool in_range = v.is_number_unsigned()
                        ? v.get<unsigned long long>() <= static_cast<unsigned long long>(hi)
                        : v.get<long long>() >= lo && v.get<long long>() <= hi;
    if (in_range) return v.get<long long>();
    if (hi == kNoLimit) return at(file, where, "must be " + std::to_string(lo) + " or more, not " + v.dump());
    return at(file, where,
              "must be from " + std::to_string(lo) + " to " + std::to_string(hi) + ", not " +
                  v.dump());
  }
  // An object's optional member, checked with `check` when present.
  template <class Check>
  Status optional(const json& obj, std::string_view key, const std::string& where,
                  Check check) const {
    const json* v = find(obj, key);
    return v ? (this->*check)(*v, json_path_key(where, key)) : Status{};
  }

  // metadata, with the parts of kernelspec and language_info that check_python_kernel reads.
  Status notebook_metadata(const json& md) const {
    if (auto st = want_object(md, "metadata"); !st) return st;
    if (const json* ks = find(md, "kernelspec")) {
      if (auto st = want_object(*ks, "metadata.kernelspec"); !st) return st;
      for (const char* k : {"name", "language", "display_name"})
        if (auto st = optional(*ks, k, "metadata.kernelspec", &Checker::want_string); !st)
          return st;
    }
    if (const json* li = find(md, "language_info")) {
      if (auto st = want_object(*li, "metadata.language_info"); !st) return st;
      if (auto st = optional(*li, "name", "metadata.language_info", &Checker::want_string); !st)
        return st;
    }
    return {};
  }

  // One cell's metadata: an object, whose `tags` are a list of strings.
  Status cell_metadata(const json& md, const std::string& where) const {
    if (auto st = want_object(md, where); !st) return st;
    const json* tags = find(md, "tags");
    if (!tags) return {};
    std::string tw = where + ".tags";
    if (!tags->is_array())
      return at(file, tw, "must be a list of strings, not " + json_kind(*tags));
    for (size_t i = 0; i < tags->size(); ++i)
      if (!(*tags)[i].is_string())
        return at(file, index_path(tw, i), "must be a string, not " + json_kind((*tags)[i]));
    return {};
  }
};

std::string random_cell_id() {
  static std::mt19937_64 rng(std::random_device{}());
  static const char kHex[] = "0123456789abcdef";
  std::string id(8, '0');
  for (auto& c : id) c = kHex[rng() % 16];
  return id;
}

// An nbformat 3 execution count (`prompt_number`): null or a non-negative integer.
Result<json> prompt_number(const Checker& check, const json& obj, const std::string& where) {
  const json* n = Checker::find(obj, "prompt_number");
  if (!n || n->is_null()) return json();
  if (auto v = check.want_int(*n, where + ".prompt_number", 0, INT32_MAX); !v) return v.error();
  return *n;
}

// nbformat 3 output -> 4 (nbformat.v4.convert.upgrade_output).
Result<json> upgrade_output(const Checker& check, const json& out, const std::string& where) {
  if (auto st = check.want_object(out, where); !st) return st.error();
  const json* type_field = Checker::find(out, "output_type");
  if (!type_field) return at(check.file, where, "output has no 'output_type'");
  if (auto st = check.want_string(*type_field, where + ".output_type"); !st) return st.error();
  json o = out;
  std::string type = type_field->get<std::string>();
  if (type == "pyout" || type == "pyerr") type = type == "pyout" ? "execute_result" : "error";
  o["output_type"] = type;
  if (type == "execute_result" || type == "display_data") {
    static const std::map<std::string, std::string> kMimes = {
        {"text", "text/plain"}, {"html", "text/html"}, {"svg", "image/svg+xml"},
        {"png", "image/png"}, {"jpeg", "image/jpeg"}, {"latex", "text/latex"},
        {"json", "application/json"}, {"javascript", "application/javascript"},
        {"pdf", "application/pdf"}, {"markdown", "text/markdown"}};
    json data = json::object();
    for (const auto& [k, mime] : kMimes) {
      if (o.contains(k)) {
        data[mime] = std::move(o[k]);
        o.erase(k);
      }
    }
    o["data"] = std::move(data);
    if (auto st = check.optional(out, "metadata", where, &Checker::want_object); !st)
      return st.error();
    if (!o.contains("metadata")) o["metadata"] = json::object();
    if (type == "execute_result") {
      auto count = prompt_number(check, out, where);
      if (!count) return count.error();
      o["execution_count"] = std::move(*count);
      o.erase("prompt_number");
    }
  } else if (type == "stream") {
    if (auto st = check.optional(out, "stream", where, &Checker::want_string); !st)
      return st.error();
    o["name"] = o.value("stream", "stdout");
    o.erase("stream");
  }
  return o;
}

// One nbformat 3 cell -> 4.
Result<json> upgrade_cell(const Checker& check, const json& c, const std::string& field) {
  const std::string& path = check.file;
  if (!c.is_object()) return at(path, field, "cell is not an object");
  const json* type_field = Checker::find(c, "cell_type");
  if (!type_field) return at(path, field, "cell has no 'cell_type'");
  if (auto st = check.want_string(*type_field, field + ".cell_type"); !st) return st.error();
  std::string type = type_field->get<std::string>();
  json cell = json::object();
  cell["metadata"] = json::object();
  if (const json* m = Checker::find(c, "metadata")) {
    if (auto st = check.cell_metadata(*m, field + ".metadata"); !st) return st.error();
    cell["metadata"] = *m;
  }
  cell["id"] = random_cell_id();
  if (type == "code") {
    const json* input = Checker::find(c, "input");
    if (!input) return at(path, field, "code cell has no 'input'");
    if (auto st = check.want_text(*input, field + ".input"); !st) return st.error();
    cell["cell_type"] = "code";
    cell["source"] = join_multiline(*input);
    auto count = prompt_number(check, c, field);
    if (!count) return count.error();
    cell["execution_count"] = std::move(*count);
    json outs = json::array();
    if (const json* o = Checker::find(c, "outputs")) {
      if (auto st = check.want_list(*o, field + ".outputs"); !st) return st.error();
      for (size_t oi = 0; oi < o->size(); ++oi) {
        auto up = upgrade_output(check, (*o)[oi], index_path(field + ".outputs", oi));
        if (!up) return up.error();
        outs.push_back(std::move(*up));
      }
    }
    cell["outputs"] = std::move(outs);
    if (const json* collapsed = Checker::find(c, "collapsed")) {
      if (!collapsed->is_boolean())
        return at(path, field + ".collapsed",
                  "must be true or false, not " + json_kind(*collapsed));
      if (collapsed->get<bool>()) cell["metadata"]["collapsed"] = true;
    }
  } else if (type == "heading") {
    cell["cell_type"] = "markdown";
    long long level = 1;
    if (const json* l = Checker::find(c, "level")) {
      auto n = check.want_int(*l, field + ".level", 1, 6);
      if (!n) return n.error();
      level = *n;
    }
    std::string src;
    if (const json* s = Checker::find(c, "source")) {
      if (auto st = check.want_text(*s, field + ".source"); !st) return st.error();
      src = join_multiline(*s);
    }
    std::string one_line;
    for (char ch : src) one_line += ch == '\n' ? ' ' : ch;
    cell["source"] = std::string(static_cast<size_t>(level), '#') + " " + one_line;
  } else if (type == "markdown" || type == "raw" || type == "html") {
    const json* s = Checker::find(c, "source");
    if (!s) return at(path, field, type + " cell has no 'source'");
    if (auto st = check.want_text(*s, field + ".source"); !st) return st.error();
    cell["cell_type"] = type == "html" ? "markdown" : type;
    cell["source"] = join_multiline(*s);
  } else {
    return at(path, field + ".cell_type", "unknown cell type '" + type + "'");
  }
  return cell;
}

// nbformat 3 -> 4 (nbformat.v4.convert.upgrade).
Result<json> upgrade_v3(const json& doc, const std::string& path) {
  Checker check{path};
  json nb = json::object();
  nb["nbformat"] = 4;
  nb["nbformat_minor"] = 5;
  json md = json::object();
  if (const json* m = Checker::find(doc, "metadata")) {
    if (auto st = check.want_object(*m, "metadata"); !st) return st.error();
    md = *m;
  }
  md.erase("name");
  md.erase("signature");
  nb["metadata"] = std::move(md);
  json cells = json::array();
  const json* worksheets = Checker::find(doc, "worksheets");
  if (!worksheets || !worksheets->is_array())
    return at(path, "worksheets", "nbformat 3 notebook has no 'worksheets' list");
  for (size_t wi = 0; wi < worksheets->size(); ++wi) {
    const json& ws = (*worksheets)[wi];
    std::string ws_path = index_path("worksheets", wi);
    if (auto st = check.want_object(ws, ws_path); !st) return st.error();
    const json* ws_cells = Checker::find(ws, "cells");
    if (!ws_cells || !ws_cells->is_array())
      return at(path, ws_path, "worksheet has no 'cells' list");
    for (size_t ci = 0; ci < ws_cells->size(); ++ci) {
      auto cell = upgrade_cell(check, (*ws_cells)[ci], index_path(ws_path + ".cells", ci));
      if (!cell) return cell.error();
      cells.push_back(std::move(*cell));
    }
  }
  nb["cells"] = std::move(cells);
  return nb;
}

}  // namespace

std::string cell_source(const json& cell) {
  auto it = cell.find("source");
  return it == cell.end() ? std::string() : join_multiline(*it);
}

std::vector<std::string> cell_tags(const json& cell) {
  std::vector<std::string> tags;
  auto md = cell.find("metadata");
  if (md == cell.end() || !md->is_object()) return tags;
  auto t = md->find("tags");
  if (t == md->end() || !t->is_array()) return tags;
  for (const auto& x : *t)
    if (x.is_string()) tags.push_back(x.get<std::string>());
  return tags;
}

Result<Notebook> parse_notebook(std::string_view text, const std::string& path) {
  Notebook nb;
  nb.path = path;
  auto parsed = parse_json(text, path);
  if (!parsed) return parsed.error();
  json doc = std::move(*parsed);
  Checker check{path};
  if (!doc.is_object()) return at(path, "", "not a notebook: the top level is not a JSON object");
  auto major = doc.find("nbformat");
  if (major == doc.end()) return at(path, "nbformat", "not a notebook: no 'nbformat' field");
  if (!major->is_number_integer())
    return at(path, "nbformat", "must be an integer, not " + json_kind(*major));
  if (*major != 3 && *major != 4)
    return at(path, "nbformat",
              "unsupported nbformat " + major->dump() + " (wfrun reads nbformat 4.0-4.5 and 3)");
  nb.original_major = major->get<int>();
  nb.original_minor = 0;
  if (const json* minor = Checker::find(doc, "nbformat_minor")) {
    auto n = check.want_int(*minor, "nbformat_minor", 0, Checker::kNoLimit);
    if (!n) return n.error();
    if (nb.original_major == 4 && *n > 5)
      return at(path, "nbformat_minor",
                "unsupported nbformat 4." + minor->dump() + " (wfrun reads 4.0-4.5 and 3)");
    nb.original_minor = static_cast<int>(std::min<long long>(*n, INT32_MAX));
  }
  if (nb.original_major == 3) {
    auto up = upgrade_v3(doc, path);
    if (!up) return up.error();
    nb.doc = std::move(*up);
  } else {
    nb.doc = std::move(doc);
  }
  if (!nb.doc.contains("metadata")) nb.doc["metadata"] = json::object();
  if (auto st = check.notebook_metadata(nb.doc["metadata"]); !st) return st.error();
  auto cells = nb.doc.find("cells");
  if (cells == nb.doc.end()) return at(path, "cells", "notebook has no 'cells' list");
  if (!cells->is_array()) return at(path, "cells", "must be a list, not " + json_kind(*cells));
  for (size_t i = 0; i < cells->size(); ++i) {
    auto& c = (*cells)[i];
    std::string field = index_path("cells", i);
    if (!c.is_object()) return at(path, field, "cell is not an object");
    auto type = c.find("cell_type");
    if (type == c.end()) return at(path, field, "cell has no 'cell_type'");
    if (auto st = check.want_string(*type, field + ".cell_type"); !st) return st.error();
    std::string t = type->get<std::string>();
    if (t != "code" && t != "markdown" && t != "raw")
      return at(path, field + ".cell_type", "unknown cell type '" + t + "'");
    auto src = c.find("source");
    if (src == c.end()) return at(path, field, t + " cell has no 'source'");
    if (auto st = check.want_text(*src, field + ".source"); !st) return st.error();
    if (!c.contains("metadata")) c["metadata"] = json::object();
    if (auto st = check.cell_metadata(c["metadata"], field + ".metadata"); !st) return st.error();
    if (t == "code") {
      if (!c.contains("outputs")) c["outputs"] = json::array();
      if (!c.contains("execution_count")) c["execution_count"] = nullptr;
    }
  }
  return nb;
}

Result<Notebook> read_notebook(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errno_error("cannot read notebook " + path, errno);
  std::string text;
  in.seekg(0, std::ios::end);
  auto size = in.tellg();
  if (size > 0) text.resize(static_cast<size_t>(size));
  in.seekg(0);
  if (size > 0) in.read(text.data(), size);
  if (!in) return errno_error("cannot read notebook " + path, errno);
  return parse_notebook(text, path);
}

Status check_python_kernel(const Notebook& nb) {
  // parse_notebook made sure these are objects and strings where present.
  const json& md = nb.doc.at("metadata");
  auto lower = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  auto text = [](const json& obj, const char* key, const char* dflt) {
    auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string(dflt);
  };
  if (auto ks = md.find("kernelspec"); ks != md.end() && ks->is_object()) {
    std::string lang = lower(text(*ks, "language", ""));
    std::string name = lower(text(*ks, "name", ""));
    if (!lang.empty() && lang != "python" && lang != "python3" && lang != "python2")
      return at(nb.path, "metadata.kernelspec.language",
                "kernel '" + text(*ks, "name", "") + "' runs " + text(*ks, "language", "") +
                    ", not Python; wfrun runs Python notebooks only");
    if (lang.empty() && !name.empty() && name.find("python") == std::string::npos &&
        name != "conda-root-py" && name.rfind("py", 0) != 0)
      return at(nb.path, "metadata.kernelspec.name",
                "kernel '" + text(*ks, "name", "") + "' is not a Python kernel; wfrun runs "
                "Python notebooks only");
  }
  if (auto li = md.find("language_info"); li != md.end() && li->is_object()) {
    std::string lang = lower(text(*li, "name", "python"));
    if (lang != "python" && lang != "python3" && lang != "ipython")
      return at(nb.path, "metadata.language_info.name",
                "notebook language is " + text(*li, "name", "") +
                    ", not Python; wfrun runs Python notebooks only");
  }
  return {};
}

}  // namespace wfrun::notebook
