#include "base/self_exe.h"

#include <cstdlib>
#include <filesystem>

#include "base/strings.h"

namespace wfrun {

std::string self_exe() {
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "wfrun";
  // Started as `ld-linux-x86-64.so.2 --library-path LIB BINARY`: running the loader again
  // with our arguments would not run wfrun.
  if (starts_with(exe.filename().string(), "ld-linux") || starts_with(exe.filename().string(), "ld.so")) {
    const char* launcher = std::getenv("WFRUN_LAUNCHER");
    return launcher && launcher[0] == '/' ? launcher : "wfrun";
  }
  return exe.string();
}

}  // namespace wfrun
