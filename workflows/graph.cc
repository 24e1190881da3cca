#include "workflows/graph.h"

#include <algorithm>
#include <map>
#include <set>

#include "base/strings.h"

namespace wfrun::workflows {
namespace {

// The distinct needs of `job` that name real jobs, in the order written.
std::vector<std::string> deps(const Workflow& wf, const Job& job) {
  std::vector<std::string> out;
  for (const auto& n : job.needs) {
    if (n != job.name && wf.job(n) && std::find(out.begin(), out.end(), n) == out.end()) {
      out.push_back(n);
    }
  }
  return out;
}

// The outputs of `from` that `to` reads through its inputs, comma-separated.
std::string edge_label(const Job& to, const std::string& from) {
  std::vector<std::string> names;
  for (const auto& in : to.inputs) {
    if (in.source == JobInput::Source::kJobOutput && in.job == from) names.push_back(in.from);
  }
  return join(names, ", ");
}

std::string dot_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string mermaid_text(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"') {
      out += "#quot;";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::vector<std::vector<std::string>> layers(const Workflow& wf) {
  std::vector<std::vector<std::string>> out;
  std::set<std::string> placed;
  while (placed.size() < wf.jobs.size()) {
    std::vector<std::string> layer;
    for (const auto& job : wf.jobs) {
      if (placed.count(job.name)) continue;
      std::vector<std::string> d = deps(wf, job);
      if (std::all_of(d.begin(), d.end(), [&](const std::string& n) { return placed.count(n); })) {
        layer.push_back(job.name);
      }
    }
    if (layer.empty()) {  // a cycle: put the rest last
      for (const auto& job : wf.jobs) {
        if (!placed.count(job.name)) layer.push_back(job.name);
      }
    }
    placed.insert(layer.begin(), layer.end());
    out.push_back(std::move(layer));
  }
  return out;
}

std::string to_dot(const Workflow& wf) {
  std::string out = "digraph workflow {\n  rankdir=LR;\n  node [shape=box];\n";
  for (const auto& job : wf.jobs) {
    out += "  " + dot_quote(job.name) + " [label=" + dot_quote(job.name + "\n" + job.uses) + "];\n";
  }
  for (const auto& job : wf.jobs) {
    for (const auto& d : deps(wf, job)) {
      out += "  " + dot_quote(d) + " -> " + dot_quote(job.name);
      std::string label = edge_label(job, d);
      if (!label.empty()) out += " [label=" + dot_quote(label) + "]";
      out += ";\n";
    }
  }
  return out + "}\n";
}

std::string to_mermaid(const Workflow& wf) {
  // Node ids are positions (j0, j1, ...): job names such as "end" are Mermaid keywords.
  std::map<std::string, std::string> id;
  for (size_t i = 0; i < wf.jobs.size(); ++i) id[wf.jobs[i].name] = "j" + std::to_string(i);
  std::string out = "flowchart LR\n";
  for (const auto& job : wf.jobs) {
    out += "  " + id[job.name] + "[\"" + mermaid_text(job.name) + "<br/>" + mermaid_text(job.uses) +
           "\"]\n";
  }
  for (const auto& job : wf.jobs) {
    for (const auto& d : deps(wf, job)) {
      std::string label = edge_label(job, d);
      out += "  " + id[d] + " -->" + (label.empty() ? "" : "|" + mermaid_text(label) + "|") + " " +
             id[job.name] + "\n";
    }
  }
  return out;
}

}  // namespace wfrun::workflows
