// Reading notebooks: nbformat 4.0-4.5, and nbformat 3 upgraded the way nbformat.v4 does.

#include <fstream>
#include <random>
#include <sstream>

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

std::string random_cell_id() {
  static std::mt19937_64 rng(std::random_device{}());
  static const char kHex[] = "0123456789abcdef";
  std::string id(8, '0');
  for (auto& c : id) c = kHex[rng() % 16];
  return id;
}

// nbformat 3 output -> 4 (nbformat.v4.convert.upgrade_output).
json upgrade_output(const json& out) {
  json o = out;
  std::string type = o.value("output_type", "");
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
        data[mime] = o[k];
        o.erase(k);
      }
    }
    o["data"] = data;
    if (!o.contains("metadata")) o["metadata"] = json::object();
    if (type == "execute_result") {
      o["execution_count"] = o.contains("prompt_number") ? o["prompt_number"] : json();
      o.erase("prompt_number");
    }
  } else if (type == "stream") {
    o["name"] = o.value("stream", "stdout");
    o.erase("stream");
  }
  return o;
}

Result<json> upgrade_v3(const json& doc, const std::string& path) {
  json nb = json::object();
  nb["nbformat"] = 4;
  nb["nbformat_minor"] = 5;
  json md = doc.value("metadata", json::object());
  md.erase("name");
  md.erase("signature");
  nb["metadata"] = md;
  json cells = json::array();
  if (!doc.contains("worksheets") || !doc["worksheets"].is_array())
    return at(path, "worksheets", "nbformat 3 notebook has no 'worksheets' list");
  int wi = 0;
  for (const auto& ws : doc["worksheets"]) {
    if (!ws.contains("cells") || !ws["cells"].is_array())
      return at(path, "worksheets[" + std::to_string(wi) + "]", "worksheet has no 'cells' list");
    int ci = 0;
    for (const auto& c : ws["cells"]) {
      std::string field =
          "worksheets[" + std::to_string(wi) + "].cells[" + std::to_string(ci++) + "]";
      if (!c.is_object()) return at(path, field, "cell is not an object");
      json cell = json::object();
      std::string type = c.value("cell_type", "");
      cell["metadata"] = c.value("metadata", json::object());
      cell["id"] = random_cell_id();
      if (type == "code") {
        if (!c.contains("input")) return at(path, field, "code cell has no 'input'");
        cell["cell_type"] = "code";
        cell["source"] = join_multiline(c["input"]);
        cell["execution_count"] = c.contains("prompt_number") ? c["prompt_number"] : json();
        json outs = json::array();
        for (const auto& o : c.value("outputs", json::array())) outs.push_back(upgrade_output(o));
        cell["outputs"] = outs;
        if (c.value("collapsed", false)) cell["metadata"]["collapsed"] = true;
      } else if (type == "heading") {
        cell["cell_type"] = "markdown";
        int level = c.value("level", 1);
        std::string src = join_multiline(c.value("source", json("")));
        std::string one_line;
        for (char ch : src) one_line += ch == '\n' ? ' ' : ch;
        cell["source"] = std::string(level, '#') + " " + one_line;
      } else if (type == "markdown" || type == "raw" || type == "html") {
        if (!c.contains("source")) return at(path, field, type + " cell has no 'source'");
        cell["cell_type"] = type == "html" ? "markdown" : type;
        cell["source"] = join_multiline(c["source"]);
      } else {
        return at(path, field + ".cell_type", "unknown cell type '" + type + "'");
      }
      cells.push_back(cell);
    }
    ++wi;
  }
  nb["cells"] = cells;
  return nb;
}

Location location_of_offset(const std::string& path, std::string_view text, size_t offset) {
  Location loc;
  loc.file = path;
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
  json doc;
  try {
    doc = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    // e.byte is 1-based and points just past the offending character.
    size_t off = e.byte > 0 ? e.byte - 1 : 0;
    std::string what = e.what();
    auto pos = what.find("parse error");
    std::string msg = "not valid JSON";
    auto colon = what.find(": ", what.find("at line") == std::string::npos ? pos : what.find("at line"));
    if (colon != std::string::npos) msg += ": " + what.substr(colon + 2);
    return Error(location_of_offset(path, text, off), msg);
  }
  if (!doc.is_object()) return at(path, "", "not a notebook: the top level is not a JSON object");
  auto major = doc.find("nbformat");
  if (major == doc.end()) return at(path, "nbformat", "not a notebook: no 'nbformat' field");
  if (!major->is_number_integer())
    return at(path, "nbformat", "'nbformat' must be an integer, not " + major->dump());
  nb.original_major = major->get<int>();
  nb.original_minor = doc.value("nbformat_minor", 0);
  if (nb.original_major == 3) {
    auto up = upgrade_v3(doc, path);
    if (!up) return up.error();
    nb.doc = std::move(*up);
  } else if (nb.original_major == 4) {
    if (nb.original_minor > 5)
      return at(path, "nbformat_minor",
                "unsupported nbformat 4." + std::to_string(nb.original_minor) +
                    " (wfrun reads 4.0-4.5 and 3)");
    nb.doc = std::move(doc);
  } else {
    return at(path, "nbformat",
              "unsupported nbformat " + std::to_string(nb.original_major) +
                  " (wfrun reads nbformat 4.0-4.5 and 3)");
  }
  if (!nb.doc.contains("metadata") || !nb.doc["metadata"].is_object())
    nb.doc["metadata"] = json::object();
  auto cells = nb.doc.find("cells");
  if (cells == nb.doc.end()) return at(path, "cells", "notebook has no 'cells' list");
  if (!cells->is_array()) return at(path, "cells", "'cells' must be a list");
  for (size_t i = 0; i < cells->size(); ++i) {
    auto& c = (*cells)[i];
    std::string field = "cells[" + std::to_string(i) + "]";
    if (!c.is_object()) return at(path, field, "cell is not an object");
    auto type = c.find("cell_type");
    if (type == c.end() || !type->is_string()) return at(path, field, "cell has no 'cell_type'");
    std::string t = type->get<std::string>();
    if (t != "code" && t != "markdown" && t != "raw")
      return at(path, field + ".cell_type", "unknown cell type '" + t + "'");
    auto src = c.find("source");
    if (src == c.end()) return at(path, field, t + " cell has no 'source'");
    if (!src->is_string() && !src->is_array())
      return at(path, field + ".source", "'source' must be a string or a list of strings");
    if (src->is_array())
      for (size_t j = 0; j < src->size(); ++j)
        if (!(*src)[j].is_string())
          return at(path, field + ".source[" + std::to_string(j) + "]", "not a string");
    if (!c.contains("metadata") || !c["metadata"].is_object()) c["metadata"] = json::object();
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
  const json& md = nb.doc["metadata"];
  auto lower = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  if (md.contains("kernelspec") && md["kernelspec"].is_object()) {
    const json& ks = md["kernelspec"];
    std::string lang = lower(ks.value("language", ""));
    std::string name = lower(ks.value("name", ""));
    if (!lang.empty() && lang != "python" && lang != "python3" && lang != "python2")
      return at(nb.path, "metadata.kernelspec.language",
                "kernel '" + ks.value("name", "") + "' runs " + ks.value("language", "") +
                    ", not Python; wfrun runs Python notebooks only");
    if (lang.empty() && !name.empty() && name.find("python") == std::string::npos &&
        name != "conda-root-py" && name.rfind("py", 0) != 0)
      return at(nb.path, "metadata.kernelspec.name",
                "kernel '" + ks.value("name", "") + "' is not a Python kernel; wfrun runs "
                "Python notebooks only");
  }
  if (md.contains("language_info") && md["language_info"].is_object()) {
    std::string lang = lower(md["language_info"].value("name", "python"));
    if (lang != "python" && lang != "python3" && lang != "ipython")
      return at(nb.path, "metadata.language_info.name",
                "notebook language is " + md["language_info"].value("name", "") +
                    ", not Python; wfrun runs Python notebooks only");
  }
  return {};
}

}  // namespace wfrun::notebook
