#include "workflows/expr.h"

#include <cctype>

#include "base/strings.h"

namespace wfrun::workflows {
namespace {

constexpr std::string_view kForms =
    "inputs.NAME, jobs.JOB.outputs.NAME, run.id, run.number, env.NAME or github.*";

std::string shown(std::string_view content) { return "'${{ " + std::string(content) + " }}'"; }

bool is_segment(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

// Checks the trimmed content of one expression; returns an error message or "".
std::string check_path(std::string_view content) {
  if (content == "success()" || content == "failure()" || content == "always()") {
    return shown(content) + " is a condition; it is only allowed in 'if:'";
  }
  std::vector<std::string> parts = split(content, '.');
  for (const auto& p : parts) {
    if (!is_segment(p)) {
      bool has_code = content.find_first_of(" ()[]'\"|&!=<>+*/,") != std::string_view::npos;
      if (has_code) {
        return shown(content) +
               " is not a reference; expressions can only name a value: " + std::string(kForms);
      }
      return "malformed reference " + shown(content) + "; use " + std::string(kForms);
    }
  }
  static const std::vector<std::string> kRoots = {"inputs", "jobs", "run", "env", "github"};
  const std::string& root = parts[0];
  if (root == "inputs" || root == "env") {
    if (parts.size() != 2) {
      return "malformed reference " + shown(content) + "; expected " + root + ".NAME";
    }
  } else if (root == "jobs") {
    if (parts.size() != 4 || parts[2] != "outputs") {
      return "malformed reference " + shown(content) + "; expected jobs.JOB.outputs.NAME";
    }
  } else if (root == "run") {
    if (parts.size() != 2 || (parts[1] != "id" && parts[1] != "number")) {
      std::string hint = parts.size() == 2 ? did_you_mean(parts[1], {"id", "number"}) : "";
      return "unknown value " + shown(content) + hint + "; run has only run.id and run.number";
    }
  } else if (root == "github") {
    if (parts.size() < 2) {
      return "malformed reference " + shown(content) + "; name a field, e.g. github.sha";
    }
  } else {
    return "unknown name '" + root + "' in " + shown(content) + did_you_mean(root, kRoots) +
           "; use " + std::string(kForms);
  }
  return "";
}

// Walks `text`: literal pieces go to `literal`, expressions to `expr`. Returns the error, if any.
template <class Literal, class Expr>
Status scan(std::string_view text, size_t* error_offset, Literal literal, Expr expr) {
  size_t i = 0;
  while (i < text.size()) {
    size_t p = text.find("${{", i);
    if (p == std::string_view::npos) break;
    if (p > i && text[p - 1] == '$') {  // `$${{`: a literal `${{`
      literal(text.substr(i, p - 1 - i));
      literal("${{");
      i = p + 3;
      continue;
    }
    literal(text.substr(i, p - i));
    size_t close = text.find("}}", p + 3);
    auto fail = [&](std::string msg) {
      if (error_offset) *error_offset = p;
      return Status(Error(std::move(msg)));
    };
    if (close == std::string_view::npos) {
      return fail("unterminated '${{' (no closing '}}'); write '$${{' for a literal '${{'");
    }
    std::string_view content = trim(text.substr(p + 3, close - p - 3));
    if (content.empty()) return fail("empty expression '${{ }}'; name a value, e.g. inputs.NAME");
    std::string problem = check_path(content);
    if (!problem.empty()) return fail(problem);
    expr(ExprRef{std::string(content), p, close + 2 - p});
    i = close + 2;
  }
  literal(text.substr(i));
  return {};
}

}  // namespace

Result<std::vector<ExprRef>> find_expressions(std::string_view text, size_t* error_offset) {
  std::vector<ExprRef> out;
  Status st = scan(
      text, error_offset, [](std::string_view) {}, [&](ExprRef r) { out.push_back(std::move(r)); });
  if (!st) return st.error();
  return out;
}

Result<std::string> interpolate(
    std::string_view text,
    const std::function<std::optional<std::string>(const std::string& path)>& lookup) {
  std::string out;
  std::optional<Error> failed;
  Status st = scan(
      text, nullptr, [&](std::string_view s) { out += s; },
      [&](const ExprRef& r) {
        if (failed) return;
        std::optional<std::string> v = lookup(r.path);
        if (!v) {
          failed = Error("unknown value '${{ " + r.path + " }}'");
          return;
        }
        out += *v;
      });
  if (!st) return st.error();
  if (failed) return *failed;
  return out;
}

bool has_expression(std::string_view text) { return text.find("${{") != std::string_view::npos; }

}  // namespace wfrun::workflows
