#include "http/dashboard/store_view.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fd.h"
#include "base/strings.h"
#include "engine/fs.h"
#include "engine/paths.h"
#include "http/github_url.h"
#include "workflows/parser.h"

namespace wfrun::dashboard {

namespace {

using nlohmann::json;
constexpr size_t kMaxCachedShapes = 512;
constexpr size_t kPushedTail = 16 * 1024;

long long file_size(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : -1;
}

bool is_dir(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

/// The last `n` bytes of a file ("" when it cannot be read).
std::string tail_of(const std::string& path, size_t n) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return "";
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return "";
  const off_t size = st.st_size;
  const off_t from = size > static_cast<off_t>(n) ? size - static_cast<off_t>(n) : 0;
  std::string out(static_cast<size_t>(size - from), '\0');
  ssize_t got = ::pread(fd.get(), out.data(), out.size(), from);
  out.resize(got > 0 ? static_cast<size_t>(got) : 0);
  return out;
}

/// `${{ inputs.NAME }}` filled from the run's recorded inputs; other expressions stay.
std::string with_inputs(std::string text, const json& inputs) {
  size_t at = 0;
  while ((at = text.find("${{", at)) != std::string::npos) {
    size_t end = text.find("}}", at);
    if (end == std::string::npos) break;
    std::string expr(trim(std::string_view(text).substr(at + 3, end - at - 3)));
    if (starts_with(expr, "inputs.") && inputs.is_object() && inputs.contains(expr.substr(7)) &&
        inputs[expr.substr(7)].is_string()) {
      const std::string v = inputs[expr.substr(7)].get<std::string>();
      text.replace(at, end + 2 - at, v);
      at += v.size();
    } else {
      at = end + 2;
    }
  }
  return text;
}

/// The web page of a commit in a GitHub repository named by a clone URL, or null.
json commit_page(const std::string& clone_url, const std::string& sha) {
  auto u = http::parse_url(clone_url);
  if (!u || u->host != "github.com") return nullptr;
  std::string path = u->target;
  if (path.size() > 4 && path.compare(path.size() - 4, 4, ".git") == 0) path.resize(path.size() - 4);
  if (std::count(path.begin(), path.end(), '/') != 2) return nullptr;
  return "https://github.com" + path + "/commit/" + sha;
}

/// What a git-commit@v1 job printed: `pushed SHA to BRANCH (...)`, and a pull request's URL.
json pushed_of(const engine::RunRecord& run, const engine::JobResult& jr, const JobShape& shape) {
  if (shape.uses != "git-commit@v1" || jr.log_path.empty()) return nullptr;
  const std::string tail = tail_of(jr.log_path, kPushedTail);
  json out = nullptr;
  for (const auto& line : split(tail, '\n')) {
    std::string_view l = trim(line);
    if (starts_with(l, "pushed ")) {
      auto words = split(l, ' ');
      if (words.size() >= 4 && words[2] == "to") {
        out = json{{"sha", words[1]}, {"branch", words[3]}, {"url", nullptr}};
      }
    } else if (out.is_object() && starts_with(l, "https://") && l.find("/pull/") != std::string::npos) {
      out["pull_request"] = std::string(l);
    }
  }
  if (out.is_object() && shape.with.contains("url") && shape.with["url"].is_string()) {
    json inputs = json::object();
    auto text = engine::read_file(run.dir + "/invocation.json", 1 << 20);
    if (text) {
      json inv = json::parse(*text, nullptr, false);
      if (inv.is_object() && inv.contains("inputs")) inputs = inv["inputs"];
    }
    out["url"] = commit_page(with_inputs(shape.with["url"].get<std::string>(), inputs),
                             out["sha"].get<std::string>());
  }
  return out;
}

}  // namespace

json time_or_null(double t) { return t > 0 ? json(t) : json(nullptr); }

std::string branch_of(const std::string& ref) {
  if (starts_with(ref, "refs/heads/")) return ref.substr(11);
  if (starts_with(ref, "refs/tags/")) return ref.substr(10);
  return "";
}

long pull_number(const std::string& ref) {
  if (!starts_with(ref, "refs/pull/")) return 0;
  return std::atol(ref.c_str() + 10);
}

json github_links(const std::string& web, const std::string& repo, const std::string& ref,
                  const std::string& sha) {
  json links = {{"commit", nullptr}, {"pull_request", nullptr}};
  // OWNER/NAME as GitHub allows them; anything else gets no link.
  const bool plain = repo.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./") ==
                     std::string::npos;
  if (!plain || std::count(repo.begin(), repo.end(), '/') != 1 || repo.find("..") != std::string::npos)
    return links;
  const std::string base = web + "/" + repo;
  if (sha.size() == 40 && sha.find_first_not_of("0123456789abcdef") == std::string::npos)
    links["commit"] = base + "/commit/" + sha;
  if (long n = pull_number(ref); n > 0) links["pull_request"] = base + "/pull/" + std::to_string(n);
  return links;
}

std::shared_ptr<const WorkflowShape> ShapeCache::get(const engine::RunRecord& run) {
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(run.id);
    if (it != cache_.end()) return it->second;
  }
  auto shape = std::make_shared<WorkflowShape>();
  auto text = engine::read_file(run.dir + "/workflow.yaml", 8u << 20);
  if (!text) {
    shape->error = text.error().str();
  } else if (auto wf = workflows::parse_workflow(*text, run.workflow_file); !wf) {
    shape->error = wf.error().str();
  } else {
    for (const auto& job : wf->jobs) {
      JobShape& s = shape->jobs[job.name];
      s.uses = job.uses;
      s.needs = job.needs;
      s.with = job.with;
      for (const auto& o : job.outputs) s.output_types[o.name] = workflows::io_type_name(o.type);
    }
  }
  std::lock_guard lock(mu_);
  if (cache_.size() >= kMaxCachedShapes) cache_.clear();
  cache_[run.id] = shape;
  return shape;
}

std::optional<JobRef> job_ref(const engine::RunRecord& run, const WorkflowShape& shape,
                              const std::string& job, const std::string& state_dir) {
  for (const auto& jr : run.jobs) {
    if (jr.name != job) continue;
    JobRef ref;
    ref.store_run = run.id;
    ref.job = job;
    ref.log_path = jr.log_path.empty() ? engine::job_dirs(run.dir, job).log : jr.log_path;
    ref.running = jr.state == engine::JobState::kRunning || jr.state == engine::JobState::kPending;
    auto it = shape.jobs.find(job);
    const std::string outputs = engine::job_dirs(run.dir, job).outputs;
    auto add = [&](const std::string& name, const std::string& type) {
      OutputRef o;
      o.type = type;
      auto v = jr.outputs.find(name);
      if (v != jr.outputs.end()) o.value = v->second;
      if (type == "volume") {
        o.dir = outputs + "/" + name;
      } else if (type == "dataset" && !o.value.empty()) {
        const size_t colon = o.value.rfind(':');
        if (colon != std::string::npos)
          o.dir = state_dir + "/datasets/" + o.value.substr(0, colon) + "/" + o.value.substr(colon + 1);
      }
      if (!o.dir.empty() && !is_dir(o.dir)) o.dir.clear();
      ref.outputs[name] = std::move(o);
    };
    if (it != shape.jobs.end())
      for (const auto& [name, type] : it->second.output_types) add(name, type);
    for (const auto& [name, value] : jr.outputs)
      if (!ref.outputs.count(name)) add(name, "string");
    return ref;
  }
  return std::nullopt;
}

json workflow_json(const engine::RunRecord& run, const WorkflowShape& shape,
                   const std::string& state_dir) {
  json jobs = json::array();
  static const JobShape kNone;
  for (const auto& jr : run.jobs) {
    auto it = shape.jobs.find(jr.name);
    const JobShape& s = it == shape.jobs.end() ? kNone : it->second;
    json j = {{"name", jr.name},
              {"state", engine::job_state_name(jr.state)},
              {"uses", s.uses},
              {"needs", s.needs},
              {"started_at", time_or_null(jr.started)},
              {"finished_at", time_or_null(jr.finished)},
              {"attempts", jr.attempts},
              {"message", jr.message},
              {"gpus", jr.gpus}};
    j["exit_code"] = jr.exit_code ? json(*jr.exit_code) : json(nullptr);
    j["signal"] = jr.signal ? json(*jr.signal) : json(nullptr);
    const std::string log = jr.log_path.empty() ? engine::job_dirs(run.dir, jr.name).log : jr.log_path;
    j["log_size"] = std::max(0LL, file_size(log));
    json outputs = json::array();
    if (auto ref = job_ref(run, shape, jr.name, state_dir)) {
      for (const auto& [name, o] : ref->outputs) {
        json oj = {{"name", name}, {"type", o.type}, {"files", !o.dir.empty()}};
        oj["value"] = o.type == "volume" ? json(nullptr) : json(o.value);
        outputs.push_back(std::move(oj));
      }
    }
    j["outputs"] = std::move(outputs);
    if (json p = pushed_of(run, jr, s); !p.is_null()) j["pushed"] = std::move(p);
    jobs.push_back(std::move(j));
  }
  json w = {{"run_id", run.id},
            {"name", run.workflow},
            {"number", run.number},
            {"path", run.workflow_file},
            {"status", engine::run_state_name(run.state)},
            {"started_at", time_or_null(run.started)},
            {"finished_at", time_or_null(run.finished)},
            {"jobs", std::move(jobs)}};
  if (!shape.error.empty()) w["shape_error"] = shape.error;
  return w;
}

}  // namespace wfrun::dashboard
