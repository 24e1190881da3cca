#pragma once
// Parsers for nvidia-smi's output: --query-gpu CSV (with or without header and units), -q -x
// XML and dmon. Pure functions on text, tested on output captured on an H100.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "engine/gpu/inventory.h"

namespace wfrun::gpu {

/// The fields wfrun asks nvidia-smi for, in this order (the order of the captured fixtures).
extern const char* const kQueryGpuFields;  // "index,uuid,name,pci.bus_id,..."

/// A number from one nvidia-smi value: "81559 MiB", "72.98 W", "0 %", "40" -> the number;
/// "[N/A]", "N/A", "[Not Supported]", "" -> nullopt.
std::optional<double> parse_smi_number(std::string_view value);

/// `--query-gpu=FIELDS --format=csv[,noheader][,nounits]` output, one GpuInfo per data line.
/// When the first line is a header ("index, uuid, ... memory.total [MiB]") its names place the
/// columns; otherwise `fields` (comma-separated query names) does. Unknown columns are
/// ignored; missing ones stay -1. Blank lines are skipped.
Result<std::vector<GpuInfo>> parse_query_gpu_csv(std::string_view text,
                                                 std::string_view fields = kQueryGpuFields);

/// `nvidia-smi -q -x`: one GpuInfo per <gpu> element, indexed in document order.
Result<std::vector<GpuInfo>> parse_smi_xml(std::string_view text);

/// `nvidia-smi dmon` lines. The "# gpu pwr gtemp ..." header names the columns (its set
/// depends on -s); the units line after it is skipped. Feed it line by line (a long-running
/// `dmon -d 1` is a cheap sampler) or parse a whole capture with parse_dmon().
class DmonParser {
 public:
  /// A sample for a data line (index, power_w, temperature_c, utilization_pct from `sm`,
  /// memory_used_mib from `fb`); nullopt for header, units and blank lines. Data lines before
  /// any header use dmon's default columns.
  std::optional<GpuInfo> feed(std::string_view line);

 private:
  std::vector<std::string> columns_;
  bool saw_header_ = false;
};
std::vector<GpuInfo> parse_dmon(std::string_view text);

}  // namespace wfrun::gpu
