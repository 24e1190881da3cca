#pragma once
// What a job asks for: `resources.gpus: N` and Gradient's `instance-type` names, turned into a
// GPU count and an optional model constraint. The table is documented in docs/gpus.md.

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "workflows/workflow.h"

namespace wfrun::gpu {

/// A job's GPU request: how many, and of which model ("" = any).
struct GpuRequest {
  int count = 0;
  std::string model;          // "A100-80G", "H100", ... from the instance type; "" = any
  std::string instance_type;  // as written, for messages ("" when only `gpus:` was given)

  bool operator==(const GpuRequest&) const = default;
  /// "no GPU", "1 GPU", "8 GPUs of model A100-80G (instance-type A100-80Gx8)".
  std::string str() const;
};

/// One row of the instance-type table.
struct InstanceType {
  const char* name;   // "C5", "A100-80G", ...
  int gpus;           // 0 for CPU types
  const char* model;  // "" for CPU types and Free-GPU
};
/// The table, in documentation order.
const std::vector<InstanceType>& instance_types();

/// The request of a job's resources. `instance-type` gives the count and model (NAMExN: N GPUs
/// of NAME); `gpus: N` overrides the count and keeps the model; neither: no GPU. An unknown
/// instance type is an Error at resources.where["instance-type"] that lists the known ones
/// and suggests the closest.
Result<GpuRequest> gpu_request(const workflows::Resources& resources);

/// Whether a device called `device_name` with `memory_total_mib` satisfies `model` (see
/// docs/gpus.md, "Model matching"): the names are split into upper-cased alphanumeric tokens;
/// the model's first token must equal one device token or two adjacent ones joined ("RTX4000"
/// = "Quadro RTX 4000"); a memory token "80G" needs a device token "80GB"/"80G" or, when the
/// name carries no size, at least 95% of 80,000 MiB; other tokens must appear as device tokens.
/// An empty model matches every device.
bool model_matches(std::string_view model, std::string_view device_name,
                   long long memory_total_mib);

}  // namespace wfrun::gpu
