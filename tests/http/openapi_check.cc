#include "tests/http/openapi_check.h"

#include <algorithm>
#include <fstream>
#include <mutex>

#include "base/strings.h"
#include "http/github_url.h"

namespace wfrun::http::testing {

namespace {

using nlohmann::json;

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// A query/path string as the JSON value its schema expects.
json coerce(const std::string& v, const json& schema) {
  const std::string type = schema.value("type", "");
  if (type == "integer" && !v.empty() && v.find_first_not_of("-0123456789") == std::string::npos) {
    return std::stoll(v);
  }
  if (type == "number" && !v.empty()) {
    try {
      return std::stod(v);
    } catch (...) {
    }
  }
  if (type == "boolean" && (v == "true" || v == "false")) return v == "true";
  return v;
}

}  // namespace

const OpenApiSpec* OpenApiSpec::load(const std::string& path, std::string* why) {
  static std::mutex mu;
  static std::unique_ptr<OpenApiSpec> cached;
  static std::string cached_path, cached_why;
  std::lock_guard lock(mu);
  if (cached_path == path) {
    if (!cached) *why = cached_why;
    return cached.get();
  }
  cached_path = path;
  std::ifstream in(path);
  if (!in) {
    *why = cached_why = "cannot open " + path;
    return nullptr;
  }
  auto s = std::make_unique<OpenApiSpec>();
  try {
    s->spec_ = json::parse(in);
  } catch (const json::exception& e) {
    *why = cached_why = path + ": " + e.what();
    return nullptr;
  }
  for (const auto& [tpl, item] : s->spec_["paths"].items()) {
    for (const char* m : {"get", "put", "post", "patch", "delete", "head"}) {
      if (!item.contains(m)) continue;
      Route r;
      r.method = m;
      std::transform(r.method.begin(), r.method.end(), r.method.begin(), ::toupper);
      r.tpl = tpl;
      r.op = &item[m];
      for (const auto* list : {&item, &item[m]}) {
        if (list->contains("parameters")) {
          for (const auto& p : (*list)["parameters"]) r.params.push_back(s->deref(p));
        }
      }
      for (const auto& seg : split(tpl, '/')) {
        if (seg.empty()) continue;
        r.segments.push_back(seg);
        if (seg.find('{') == std::string::npos) ++r.literals;
      }
      s->routes_.push_back(std::move(r));
    }
  }
  // Templates with more literal segments win (`/repos/{o}/{r}/pulls` over `/repos/{o}/{r}/{x}`).
  std::stable_sort(s->routes_.begin(), s->routes_.end(),
                   [](const Route& a, const Route& b) { return a.literals > b.literals; });
  cached = std::move(s);
  return cached.get();
}

json OpenApiSpec::deref(const json& j) const {
  const json* cur = &j;
  for (int i = 0; i < 20 && cur->is_object() && cur->contains("$ref"); ++i) {
    const std::string ref = (*cur)["$ref"].get<std::string>();
    if (!starts_with(ref, "#/")) break;
    cur = &spec_.at(json::json_pointer(ref.substr(1)));
  }
  return *cur;
}

const json& OpenApiSpec::example(const std::string& name) const {
  static const json kNull;
  const auto& ex = spec_["components"]["examples"];
  if (!ex.contains(name)) return kNull;
  return ex[name]["value"];
}

std::vector<std::string> OpenApiSpec::check_response(const std::string& method,
                                                     const std::string& path, int status,
                                                     const std::string& body) const {
  std::vector<std::pair<std::string, std::string>> params;
  std::string why;
  const Route* r = match(method, path, &params, &why);
  if (!r) return {why};
  const json responses = r->op->value("responses", json::object());
  const std::string code = std::to_string(status);
  if (!responses.contains(code))
    return {method + " " + r->tpl + " declares no " + code + " answer"};
  const json resp = deref(responses[code]);
  const json media = resp.value("content", json::object()).value("application/json", json::object());
  if (!media.contains("schema")) return {};
  json value = json::parse(body, nullptr, false);
  if (value.is_discarded()) return {"the " + code + " answer is not JSON"};
  std::vector<std::string> errors;
  validate(media["schema"], value, "", errors);
  for (auto& e : errors) e = method + " " + r->tpl + " " + code + " answer: " + e;
  return errors;
}

json OpenApiSpec::request_example(const std::string& method, const std::string& tpl) const {
  std::string m = method;
  std::transform(m.begin(), m.end(), m.begin(), ::tolower);
  const json op = spec_["paths"].value(tpl, json::object()).value(m, json::object());
  const json rb = deref(op.value("requestBody", json::object()));
  const json media = rb.value("content", json::object()).value("application/json", json::object());
  if (media.contains("examples")) {
    for (const auto& [k, v] : media["examples"].items()) return deref(v).value("value", json());
  }
  return json();
}

const OpenApiSpec::Route* OpenApiSpec::match(
    const std::string& method, const std::string& path,
    std::vector<std::pair<std::string, std::string>>* params, std::string* why) const {
  std::vector<std::string> segs;
  for (auto& s : split(path, '/')) {
    if (!s.empty()) segs.push_back(s);
  }
  // A trailing slash is a different path for GitHub (`contents/` is not `contents`).
  if (path.size() > 1 && path.back() == '/') segs.push_back("");
  const Route* other_method = nullptr;
  for (const auto& r : routes_) {
    std::vector<std::pair<std::string, std::string>> got;
    size_t i = 0, j = 0;
    bool ok = true;
    for (; j < r.segments.size(); ++j) {
      const std::string& t = r.segments[j];
      if (i >= segs.size()) {
        ok = false;
        break;
      }
      if (t.size() > 2 && t.front() == '{' && t.back() == '}') {
        const std::string name = t.substr(1, t.size() - 2);
        bool multi = false;
        for (const auto& p : r.params) {
          if (p.value("in", "") == "path" && p.value("name", "") == name) {
            multi = p.value("x-multi-segment", false);
          }
        }
        if (segs[i].empty()) {
          ok = false;
          break;
        }
        if (multi && j + 1 == r.segments.size()) {
          std::vector<std::string> rest(segs.begin() + static_cast<long>(i), segs.end());
          got.emplace_back(name, percent_decode(join(rest, "/")));
          i = segs.size();
        } else {
          got.emplace_back(name, percent_decode(segs[i++]));
        }
      } else if (t != segs[i++]) {
        ok = false;
        break;
      }
    }
    if (!ok || i != segs.size()) continue;
    if (r.method != method) {
      if (!other_method) other_method = &r;
      continue;
    }
    *params = std::move(got);
    return &r;
  }
  *why = other_method ? method + " is not an operation of " + other_method->tpl
                      : "no operation matches path " + path;
  return nullptr;
}

void OpenApiSpec::validate(const json& schema_in, const json& v, const std::string& at,
                           std::vector<std::string>& errors, int depth) const {
  if (depth > 30) return;
  const json s = deref(schema_in);
  if (!s.is_object()) return;
  const std::string where = at.empty() ? "body" : "body" + at;
  if (v.is_null() && s.value("nullable", false)) return;
  for (const char* key : {"anyOf", "oneOf"}) {
    if (!s.contains(key)) continue;
    bool any = false;
    for (const auto& alt : s[key]) {
      std::vector<std::string> e;
      validate(alt, v, at, e, depth + 1);
      if (e.empty()) any = true;
    }
    if (!any) errors.push_back(where + " matches none of the " + key + " alternatives");
  }
  if (s.contains("allOf")) {
    for (const auto& part : s["allOf"]) validate(part, v, at, errors, depth + 1);
  }
  if (s.contains("type") && s["type"].is_string()) {
    const std::string t = s["type"];
    bool ok = (t == "string" && v.is_string()) || (t == "integer" && v.is_number_integer()) ||
              (t == "number" && v.is_number()) || (t == "boolean" && v.is_boolean()) ||
              (t == "object" && v.is_object()) || (t == "array" && v.is_array()) ||
              (t == "null" && v.is_null());
    if (!ok) {
      errors.push_back(where + " must be " + t);
      return;
    }
  }
  if (s.contains("enum") && std::find(s["enum"].begin(), s["enum"].end(), v) == s["enum"].end()) {
    errors.push_back(where + " must be one of " + s["enum"].dump());
  }
  if (v.is_object()) {
    if (s.contains("required")) {
      for (const auto& r : s["required"]) {
        if (!v.contains(r.get<std::string>())) {
          errors.push_back(where + " must have '" + r.get<std::string>() + "'");
        }
      }
    }
    const json props = s.value("properties", json::object());
    for (const auto& [k, x] : v.items()) {
      if (props.contains(k)) {
        validate(props[k], x, at + "/" + k, errors, depth + 1);
      } else if (s.contains("additionalProperties") && s["additionalProperties"] == false) {
        errors.push_back(where + " has unknown property '" + k + "'");
      }
    }
  }
  if (v.is_array() && s.contains("items")) {
    for (size_t i = 0; i < v.size(); ++i) {
      validate(s["items"], v[i], at + "/" + std::to_string(i), errors, depth + 1);
    }
  }
}

std::vector<std::string> OpenApiSpec::check(const std::string& method,
                                            const std::string& path_and_query,
                                            const std::string& body) const {
  std::vector<std::string> errors;
  const size_t q = path_and_query.find('?');
  const std::string path = path_and_query.substr(0, q);
  std::vector<std::pair<std::string, std::string>> pparams;
  std::string why;
  const Route* r = match(method, path, &pparams, &why);
  if (!r) return {why};
  const std::string route = method + " " + r->tpl + ": ";
  for (const auto& [name, value] : pparams) {
    for (const auto& p : r->params) {
      if (p.value("in", "") != "path" || p.value("name", "") != name) continue;
      std::vector<std::string> e;
      const json schema = deref(p.value("schema", json::object()));
      validate(schema, coerce(value, schema), "", e);
      if (!e.empty())
        errors.push_back(route + "path parameter " + name + "=" + value + " is invalid");
    }
  }
  if (q != std::string::npos) {
    for (const auto& kv : split(path_and_query.substr(q + 1), '&')) {
      if (kv.empty()) continue;
      const size_t eq = kv.find('=');
      const std::string name = percent_decode(kv.substr(0, eq));
      const std::string value = eq == std::string::npos ? "" : percent_decode(kv.substr(eq + 1));
      const json* param = nullptr;
      for (const auto& p : r->params) {
        if (p.value("in", "") == "query" && p.value("name", "") == name) param = &p;
      }
      if (!param) {
        errors.push_back(route + "unknown query parameter '" + name + "'");
        continue;
      }
      std::vector<std::string> e;
      const json schema = deref(param->value("schema", json::object()));
      validate(schema, coerce(value, schema), "", e);
      if (!e.empty()) errors.push_back(route + "query " + name + "=" + value + ": " + e[0]);
    }
  }
  for (const auto& p : r->params) {
    if (p.value("in", "") == "query" && p.value("required", false) &&
        path_and_query.find(p.value("name", "") + "=") == std::string::npos) {
      errors.push_back(route + "missing required query parameter " + p.value("name", ""));
    }
  }
  const json rb = deref(r->op->value("requestBody", json::object()));
  const bool has_body = !trim(body).empty();
  if (rb.empty()) {
    if (has_body) errors.push_back(route + "the operation takes no body");
  } else if (!has_body) {
    if (rb.value("required", false)) errors.push_back(route + "a body is required");
  } else if (rb["content"].contains("application/json")) {
    json b;
    try {
      b = json::parse(body);
      std::vector<std::string> e;
      validate(rb["content"]["application/json"].value("schema", json::object()), b, "", e);
      for (auto& x : e) errors.push_back(route + x);
    } catch (const json::exception&) {
      errors.push_back(route + "the body is not JSON");
    }
  }
  return errors;
}

std::vector<std::string> check_requests(const OpenApiSpec& spec,
                                        const std::vector<SentRequest>& requests,
                                        const std::string& strip,
                                        const std::vector<std::string>& allow_followed) {
  std::vector<std::string> problems;
  for (const auto& r : requests) {
    auto u = parse_url(r.url);
    if (!u) {
      problems.push_back(r.method + " " + r.url + ": not a URL");
      continue;
    }
    std::string target = u->target;
    if (!strip.empty()) {
      std::smatch m;
      if (std::regex_search(target, m, std::regex("^" + strip)) && m.position(0) == 0) {
        target = target.substr(static_cast<size_t>(m.length(0)));
      }
    }
    if (!r.followed_from.empty()) {
      bool allowed = false;
      for (const auto& a : allow_followed) allowed |= std::regex_search(target, std::regex(a));
      if (allowed) continue;
    }
    for (const auto& e : spec.check(r.method, target, r.body)) {
      problems.push_back(r.method + " " + target + ": " + e);
    }
  }
  return problems;
}

}  // namespace wfrun::http::testing
