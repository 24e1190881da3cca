#include "engine/slurm/files.h"

namespace wfrun::slurm {

using nlohmann::json;

namespace {

template <typename T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

template <typename T>
void get(const json& j, const char* key, std::optional<T>& out) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null()) out = it->get<T>();
}

}  // namespace

std::string shim_job_json(const ShimJob& j) {
  json out = {{"job", j.job},
              {"argv", j.argv},
              {"env", j.env},
              {"cwd", j.cwd},
              {"log", j.log},
              {"self", j.self},
              {"kill_grace", j.kill_grace},
              {"metrics_interval", j.metrics_interval},
              {"gpus", j.gpus},
              {"container", j.container},
              {"container_runtime", j.container_runtime},
              {"discover",
               {{"fake", j.discover.fake},
                {"nvidia_smi", j.discover.nvidia_smi},
                {"nvml_lib", j.discover.nvml_lib}}}};
  return out.dump(2) + "\n";
}

Result<ShimJob> parse_shim_job(const std::string& text) {
  try {
    json in = json::parse(text);
    ShimJob j;
    j.job = in.at("job").get<std::string>();
    j.argv = in.at("argv").get<std::vector<std::string>>();
    j.env = in.at("env").get<std::map<std::string, std::string>>();
    j.cwd = in.at("cwd").get<std::string>();
    j.log = in.at("log").get<std::string>();
    j.self = in.value("self", "");
    j.kill_grace = in.value("kill_grace", 5.0);
    j.metrics_interval = in.value("metrics_interval", 0.0);
    j.gpus = in.value("gpus", 0);
    j.container = in.value("container", "");
    j.container_runtime = in.value("container_runtime", "");
    if (auto d = in.find("discover"); d != in.end() && d->is_object()) {
      j.discover.fake = d->value("fake", "");
      j.discover.nvidia_smi = d->value("nvidia_smi", "");
      j.discover.nvml_lib = d->value("nvml_lib", "");
    }
    return j;
  } catch (const json::exception& e) {
    return Error(std::string("job.json: ") + e.what());
  }
}

std::string shim_secrets_json(const ShimSecrets& s) {
  return json{{"env", s.env}, {"argv", s.argv}, {"redact", s.redact}}.dump() + "\n";
}

Result<ShimSecrets> parse_shim_secrets(const std::string& text) {
  try {
    json in = json::parse(text);
    ShimSecrets s;
    s.env = in.at("env").get<std::map<std::string, std::string>>();
    s.argv = in.value("argv", std::vector<std::string>{});
    s.redact = in.value("redact", std::vector<std::string>{});
    return s;
  } catch (const json::exception&) {
    // Never the exception's text: it may quote the file's content.
    return Error("secrets.json is not valid");
  }
}

Result<ShimExit> parse_shim_exit(const std::string& text) {
  try {
    json in = json::parse(text);
    ShimExit e;
    get(in, "code", e.status.code);
    get(in, "signal", e.status.signal);
    e.reason = in.value("reason", "exited");
    e.message = in.value("message", "");
    return e;
  } catch (const json::exception& e) {
    return Error(std::string("exit file: ") + e.what());
  }
}

Result<ShimStarted> parse_shim_started(const std::string& text) {
  try {
    json in = json::parse(text);
    ShimStarted s;
    s.host = in.value("host", "");
    s.slurm_job_id = in.value("slurm_job_id", "");
    s.gpus = in.value("gpus", std::vector<int>{});
    return s;
  } catch (const json::exception& e) {
    return Error(std::string("started file: ") + e.what());
  }
}

json metric_row_json(const gpu::MetricRow& r) {
  return {{"job", r.job},         {"t", r.t},
          {"gpu", opt(r.gpu)},    {"util", opt(r.util)},
          {"mem_mib", opt(r.mem_mib)}, {"power_w", opt(r.power_w)},
          {"temp_c", opt(r.temp_c)},   {"cpu_pct", opt(r.cpu_pct)},
          {"rss_kb", opt(r.rss_kb)}};
}

std::optional<gpu::MetricRow> parse_metric_row(const std::string& line) {
  try {
    json in = json::parse(line);
    gpu::MetricRow r;
    r.job = in.at("job").get<std::string>();
    r.t = in.at("t").get<double>();
    get(in, "gpu", r.gpu);
    get(in, "util", r.util);
    get(in, "mem_mib", r.mem_mib);
    get(in, "power_w", r.power_w);
    get(in, "temp_c", r.temp_c);
    get(in, "cpu_pct", r.cpu_pct);
    get(in, "rss_kb", r.rss_kb);
    return r;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

}  // namespace wfrun::slurm
