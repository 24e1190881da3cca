#include "engine/gpu/cdi.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "base/strings.h"

namespace wfrun::gpu {
namespace {

namespace fs = std::filesystem;

constexpr const char* kGpuKind = "nvidia.com/gpu";
constexpr const char* kGenerate = "nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml";

std::string program_name(std::string_view runtime) {
  std::string_view program = runtime.substr(0, runtime.find(' '));
  auto slash = program.rfind('/');
  if (slash != std::string_view::npos) program = program.substr(slash + 1);
  return std::string(program);
}

}  // namespace

std::vector<std::string> cdi_spec_dirs_from_environment() {
  const char* env = std::getenv("WFRUN_CDI_SPEC_DIRS");
  if (!env) return {"/etc/cdi", "/var/run/cdi"};
  std::vector<std::string> out;
  for (auto& d : split(env, ':'))
    if (!d.empty()) out.push_back(d);
  return out;
}

CdiGpus find_cdi_gpus(const std::vector<std::string>& dirs) {
  CdiGpus out;
  out.dirs = dirs;
  for (const auto& dir : dirs) {
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      std::string ext = e.path().extension().string();
      if (ext == ".yaml" || ext == ".yml" || ext == ".json") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      try {
        YAML::Node spec = YAML::LoadFile(f.string());
        if (!spec.IsMap() || !spec["kind"] || spec["kind"].as<std::string>("") != kGpuKind)
          continue;
        if (out.spec.empty()) out.spec = f.string();
        for (const auto& d : spec["devices"])
          if (d.IsMap() && d["name"] && d["name"].IsScalar())
            out.devices.insert(d["name"].as<std::string>());
      } catch (const YAML::Exception& e) {
        out.warnings.push_back("CDI spec " + f.string() + " cannot be read: " + e.what());
      }
    }
  }
  return out;
}

bool is_docker(std::string_view runtime) {
  return program_name(runtime).find("docker") != std::string::npos;
}

GpuPassthrough choose_passthrough(std::string_view runtime, CdiGpus cdi, bool docker_cdi) {
  GpuPassthrough p;
  const bool docker = is_docker(runtime);
  const bool have_spec = !cdi.spec.empty();
  if (have_spec && (!docker || docker_cdi)) {
    p.kind = GpuPassthrough::Kind::kCdi;
  } else if (docker) {
    p.kind = GpuPassthrough::Kind::kDockerGpus;
  } else {
    p.problem = program_name(runtime) +
                " passes NVIDIA GPUs to containers through CDI, and no CDI spec of kind " +
                kGpuKind + " was found in " + join(cdi.dirs, " or ") +
                "; generate one with the NVIDIA Container Toolkit: " + kGenerate;
  }
  p.cdi = std::move(cdi);
  return p;
}

Result<ContainerGpus> container_gpu_flags(const std::vector<int>& gpus,
                                          const GpuPassthrough& how) {
  ContainerGpus out;
  if (gpus.empty()) return out;
  std::vector<std::string> ids;
  for (int g : gpus) ids.push_back(std::to_string(g));
  switch (how.kind) {
    case GpuPassthrough::Kind::kCdi:
      for (const auto& id : ids) {
        if (!how.cdi.devices.count(id))
          return Error("GPU " + id + " is not in the CDI spec " + how.cdi.spec +
                       " (it declares " + join(std::vector<std::string>(how.cdi.devices.begin(),
                                                        how.cdi.devices.end()),
                            ", ") +
                       "); regenerate it: " + kGenerate);
        out.flags.insert(out.flags.end(), {"--device", std::string(kGpuKind) + "=" + id});
      }
      out.note = "GPU " + join(ids, ",") + " passed to the container by CDI (" +
                 join(out.flags, " ") + "; spec " + how.cdi.spec + ")";
      return out;
    case GpuPassthrough::Kind::kDockerGpus:
      // docker reads the value as CSV: the quotes keep "device=2,5" one field.
      out.flags = {"--gpus", "\"device=" + join(ids, ",") + "\""};
      out.note = "GPU " + join(ids, ",") + " passed to the container by docker --gpus " +
                 out.flags[1] +
                 (how.cdi.spec.empty() ? " (no CDI spec for " + std::string(kGpuKind) +
                                             " in " + join(how.cdi.dirs, " or ") + ")"
                                       : " (the docker daemon has CDI turned off)");
      return out;
    case GpuPassthrough::Kind::kNone:
      break;
  }
  return Error(how.problem.empty() ? "no way to pass GPUs to this container runtime"
                                   : how.problem);
}

}  // namespace wfrun::gpu
