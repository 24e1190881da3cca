// Notebook parameters the way papermill injects them.

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdio>

#include "engine/notebook/notebook.h"

namespace wfrun::notebook {
namespace {

using nlohmann::json;

// papermill's Translator.translate_escaped_str.
std::string py_escaped_str(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string py_float(double d) {
  if (std::isnan(d)) return "float('nan')";
  if (std::isinf(d)) return d > 0 ? "float('inf')" : "float('-inf')";
  // Python's repr: the shortest text that reads back the same.
  char buf[64];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string s = buf;
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

json yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& x : n) a.push_back(yaml_to_json(x));
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = yaml_to_json(kv.second);
      return o;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted: always a string
      if (s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
      char* end = nullptr;
      errno = 0;
      long long i = std::strtoll(s.c_str(), &end, 10);
      if (!s.empty() && *end == '\0' && errno == 0) return i;
      double d = std::strtod(s.c_str(), &end);
      if (!s.empty() && *end == '\0' && s.find_first_of("0123456789") != std::string::npos)
        return d;
      if (s == ".inf" || s == ".Inf") return INFINITY;
      if (s == "-.inf" || s == "-.Inf") return -INFINITY;
      if (s == ".nan" || s == ".NaN") return NAN;
      return s;
    }
  }
  return nullptr;
}

}  // namespace

std::string python_literal(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "None";
    case json::value_t::boolean: return v.get<bool>() ? "True" : "False";
    case json::value_t::number_integer: return std::to_string(v.get<long long>());
    case json::value_t::number_unsigned: return std::to_string(v.get<unsigned long long>());
    case json::value_t::number_float: return py_float(v.get<double>());
    case json::value_t::string: return py_escaped_str(v.get<std::string>());
    case json::value_t::array: {
      std::string out = "[";
      bool first = true;
      for (const auto& x : v) {
        out += (first ? "" : ", ") + python_literal(x);
        first = false;
      }
      return out + "]";
    }
    case json::value_t::object: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, x] : v.items()) {
        out += (first ? "" : ", ") + py_escaped_str(k) + ": " + python_literal(x);
        first = false;
      }
      return out + "}";
    }
    default: return "None";
  }
}

std::string parameters_source(const json& params) {
  std::string out = "# Parameters\n";
  for (const auto& [k, v] : params.items()) out += k + " = " + python_literal(v) + "\n";
  return out;
}

void inject_parameters(Notebook& nb, const json& params) {
  if (!params.is_object() || params.empty()) return;
  auto& cells = nb.cells();
  // Drop an injected cell from an earlier run.
  for (size_t i = 0; i < cells.size();) {
    auto tags = cell_tags(cells[i]);
    if (std::find(tags.begin(), tags.end(), "injected-parameters") != tags.end())
      cells.erase(cells.begin() + static_cast<long>(i));
    else
      ++i;
  }
  size_t at = 0;
  for (size_t i = 0; i < cells.size(); ++i) {
    auto tags = cell_tags(cells[i]);
    if (std::find(tags.begin(), tags.end(), "parameters") != tags.end()) {
      at = i + 1;
      break;
    }
  }
  json cell = {{"cell_type", "code"},
               {"execution_count", nullptr},
               {"metadata", {{"tags", {"injected-parameters"}}}},
               {"outputs", json::array()},
               {"source", parameters_source(params)}};
  if (nb.doc.value("nbformat_minor", 0) >= 5) {
    static int counter = 0;
    char id[32];
    std::snprintf(id, sizeof id, "injected-%d", ++counter);
    cell["id"] = id;
  }
  cells.insert(cells.begin() + static_cast<long>(at), cell);
}

json parse_parameter_value(const std::string& text) {
  try {
    return yaml_to_json(YAML::Load(text));
  } catch (const YAML::Exception&) {
    return text;
  }
}

Result<json> read_parameters_yaml(const std::string& path) {
  try {
    YAML::Node n = YAML::LoadFile(path);
    json j = yaml_to_json(n);
    if (j.is_null()) return json::object();
    if (!j.is_object()) return Error(Location{path, 1, 1, ""}, "parameters must be a mapping");
    return j;
  } catch (const YAML::BadFile&) {
    return Error("cannot read parameters file " + path);
  } catch (const YAML::Exception& e) {
    return Error(Location{path, e.mark.line + 1, e.mark.column + 1, ""}, e.msg);
  }
}

}  // namespace wfrun::notebook
