#include "engine/paths.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "engine/fs.h"

namespace wfrun::engine {

using workflows::IoType;

JobDirs job_dirs(const std::string& run_dir, const std::string& job) {
  JobDirs d;
  d.dir = run_dir + "/jobs/" + job;
  d.inputs = d.dir + "/inputs";
  d.outputs = d.dir + "/outputs";
  d.log = d.dir + "/log";
  return d;
}

bool namespace_supported() {
  static const bool supported = [] {
    if (::geteuid() != 0) return false;
    pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid == 0) {
      bool ok = ::unshare(CLONE_NEWNS) == 0 &&
                ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
      ::_exit(ok ? 0 : 1);
    }
    int st = 0;
    pid_t r;
    do {
      r = ::waitpid(pid, &st, 0);
    } while (r < 0 && errno == EINTR);
    return r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }();
  return supported;
}

Result<PathMode> resolve_path_mode(PathMode requested) {
  switch (requested) {
    case PathMode::kRewrite:
      return PathMode::kRewrite;
    case PathMode::kNamespace:
      if (!namespace_supported())
        return Error(
            "path mode 'namespace' is not available here: it needs root and a working "
            "unshare(CLONE_NEWNS); use the rewrite mode instead");
      return PathMode::kNamespace;
    case PathMode::kAuto:
      break;
  }
  return namespace_supported() ? PathMode::kNamespace : PathMode::kRewrite;
}

Status ensure_mount_points() {
  for (const char* p : {"/inputs", "/outputs"}) {
    if (is_dir(p)) continue;
    if (::mkdir(p, 0755) != 0 && errno != EEXIST)
      return errno_error(std::string("cannot create the mount point ") + p, errno);
  }
  return {};
}

Status prepare_inputs(const JobDirs& dirs, std::vector<ResolvedInput>& inputs, PathMode mode) {
  if (exists(dirs.inputs)) {
    if (auto s = remove_tree(dirs.inputs); !s) return s;
  }
  if (::mkdir(dirs.inputs.c_str(), 0755) != 0 && errno != EEXIST)
    return errno_error("cannot create '" + dirs.inputs + "'", errno);
  for (auto& in : inputs) {
    std::string path = dirs.inputs + "/" + in.name;
    if (in.type == IoType::kString) {
      if (auto s = write_file(path, in.value); !s) return s;
      in.source = path;
      continue;
    }
    if (mode == PathMode::kNamespace) {
      // An empty placeholder of the same kind to bind-mount the source onto.
      if (is_dir(in.source)) {
        if (::mkdir(path.c_str(), 0755) != 0)
          return errno_error("cannot create '" + path + "'", errno);
      } else if (auto s = write_file(path, ""); !s) {
        return s;
      }
    } else if (::symlink(in.source.c_str(), path.c_str()) != 0) {
      return errno_error("cannot link '" + path + "' to '" + in.source + "'", errno);
    }
  }
  return {};
}

Status prepare_outputs(const JobDirs& dirs, const workflows::Job& job) {
  if (exists(dirs.outputs)) {
    if (auto s = remove_tree(dirs.outputs); !s) return s;
  }
  if (::mkdir(dirs.outputs.c_str(), 0755) != 0 && errno != EEXIST)
    return errno_error("cannot create '" + dirs.outputs + "'", errno);
  for (const auto& out : job.outputs) {
    if (out.type == IoType::kString) continue;
    std::string path = dirs.outputs + "/" + out.name;
    if (::mkdir(path.c_str(), 0755) != 0) return errno_error("cannot create '" + path + "'", errno);
  }
  return {};
}

NamespaceSetup::NamespaceSetup(const JobDirs& dirs, const std::vector<ResolvedInput>& inputs)
    : inputs_(dirs.inputs), outputs_(dirs.outputs) {
  for (const auto& in : inputs)
    if (in.type != IoType::kString) binds_.emplace_back(in.source, dirs.inputs + "/" + in.name);
}

// Runs between fork and exec: system calls on prepared strings only.
bool NamespaceSetup::run_in_child(const char** what) const {
  *what = "unshare(CLONE_NEWNS)";
  if (::unshare(CLONE_NEWNS) != 0) return false;
  // Private, so that our mounts never propagate back to the host's namespace.
  *what = "making / private";
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
  for (const auto& [source, placeholder] : binds_) {
    *what = "bind-mounting an input";
    if (::mount(source.c_str(), placeholder.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      return false;
    if (::mount(nullptr, placeholder.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) !=
        0)
      return false;
  }
  *what = "bind-mounting /inputs";
  if (::mount(inputs_.c_str(), "/inputs", nullptr, MS_BIND | MS_REC, nullptr) != 0) return false;
  if (::mount(nullptr, "/inputs", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0)
    return false;
  *what = "bind-mounting /outputs";
  if (::mount(outputs_.c_str(), "/outputs", nullptr, MS_BIND, nullptr) != 0) return false;
  return true;
}

namespace {

// A character that can be part of a path word: "/data/inputs" is not "/inputs".
bool path_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == '/' || c == '~' || c == '}' || c == ')' || c == '$';
}

}  // namespace

std::string rewrite_paths(std::string_view text, const std::string& inputs_dir,
                          const std::string& outputs_dir) {
  if (text.find("/inputs") == std::string_view::npos &&
      text.find("/outputs") == std::string_view::npos)
    return std::string(text);
  std::string out;
  out.reserve(text.size() + 64);
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '/' && (i == 0 || !path_char(text[i - 1]))) {
      std::string_view rest = text.substr(i);
      const std::string* target = nullptr;
      size_t len = 0;
      if (rest.substr(0, 7) == "/inputs") {
        target = &inputs_dir;
        len = 7;
      } else if (rest.substr(0, 8) == "/outputs") {
        target = &outputs_dir;
        len = 8;
      }
      // A whole word: followed by '/', the end, or a character that ends a path.
      if (target && (i + len == text.size() || text[i + len] == '/' ||
                     !(path_char(text[i + len]) && text[i + len] != '}' && text[i + len] != ')'))) {
        out += *target;
        i += len;
        continue;
      }
    }
    out += text[i++];
  }
  return out;
}

}  // namespace wfrun::engine
