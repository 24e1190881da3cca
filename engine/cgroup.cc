#include "engine/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/fd.h"
#include "engine/fs.h"

namespace wfrun::engine {

namespace {

// "/sys/fs/cgroup\040x" -> "/sys/fs/cgroup x" (mountinfo escapes spaces and the like).
std::string unescape_mount_field(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool octal = true;
      for (size_t k = 1; k <= 3; ++k) {
        char c = s[i + k];
        if (c < '0' || c > '7') octal = false;
        v = v * 8 + (c - '0');
      }
      if (octal) {
        out += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// The async-signal-safe helpers below read small files into a fixed buffer.
ssize_t read_small(int dirfd, const char* name, char* buf, size_t size) {
  int fd = ::openat(dirfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t got = 0;
  while (got + 1 < size) {
    ssize_t n = ::read(fd, buf + got, size - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  buf[got] = '\0';
  return static_cast<ssize_t>(got);
}

// Sub-folders of `dirfd`, one at a time: calls fn(name) for each. getdents64 on a stack buffer.
template <class Fn>
void for_each_subdir(int dirfd, Fn fn) {
  int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  alignas(8) char buf[4096];
  while (true) {
    long n = ::syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      struct Dirent64 {
        ino64_t d_ino;
        off64_t d_off;
        unsigned short d_reclen;
        unsigned char d_type;
        char d_name[1];
      };
      auto* d = reinterpret_cast<Dirent64*>(buf + off);
      off += d->d_reclen;
      if (d->d_type != DT_DIR) continue;
      if (std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0) continue;
      fn(d->d_name);
    }
  }
  ::close(fd);
}

// Kills each pid listed in cgroup.procs here and below (kernels without cgroup.kill). A
// process forking meanwhile may slip through one pass: the caller repeats while populated.
void kill_listed(int dirfd, int depth) {
  char buf[8192];
  if (read_small(dirfd, "cgroup.procs", buf, sizeof buf) > 0) {
    long pid = 0;
    bool in_number = false;
    for (char* c = buf;; ++c) {
      if (*c >= '0' && *c <= '9') {
        pid = pid * 10 + (*c - '0');
        in_number = true;
      } else {
        if (in_number && pid > 0) ::kill(static_cast<pid_t>(pid), SIGKILL);
        pid = 0;
        in_number = false;
        if (*c == '\0') break;
      }
    }
  }
  if (depth >= 8) return;  // wfrun makes two levels; nested runs add two each
  for_each_subdir(dirfd, [&](const char* name) {
    int sub = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sub < 0) return;
    kill_listed(sub, depth + 1);
    ::close(sub);
  });
}

void remove_below(int dirfd, int depth) {
  if (depth >= 8) return;
  for_each_subdir(dirfd, [&](const char* name) {
    int sub = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sub < 0) return;
    remove_below(sub, depth + 1);
    ::close(sub);
    ::unlinkat(dirfd, name, AT_REMOVEDIR);
  });
}

void nap_ms(long ms) {
  struct timespec ts {ms / 1000, (ms % 1000) * 1000000L};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

}  // namespace

std::string own_cgroup_dir() {
  // "0::/path" in /proc/self/cgroup is this process's place in the cgroup2 hierarchy.
  std::ifstream cg("/proc/self/cgroup");
  std::string line, path;
  bool found = false;
  while (std::getline(cg, line))
    if (line.compare(0, 3, "0::") == 0) {
      path = line.substr(3);
      found = true;
    }
  if (!found) return "";
  // Where that hierarchy is mounted: a line of /proc/self/mountinfo whose type is cgroup2.
  // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER"
  std::ifstream mi("/proc/self/mountinfo");
  while (std::getline(mi, line)) {
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string type;
    tail >> type;
    if (type != "cgroup2") continue;
    std::istringstream head(line.substr(0, dash));
    std::string id, parent, dev, root, mount;
    head >> id >> parent >> dev >> root >> mount;
    root = unescape_mount_field(root);
    mount = unescape_mount_field(mount);
    // A mount of a sub-tree (root "/a") shows the cgroups under /a; our path must be in it.
    if (root != "/" && path.compare(0, root.size(), root) != 0) continue;
    std::string rel = root == "/" ? path : path.substr(root.size());
    if (rel == "/") rel.clear();
    return mount + rel;
  }
  return "";
}

Result<std::string> make_cgroup(const std::string& parent, const std::string& name) {
  if (parent.empty()) return Error("no cgroup2 hierarchy is mounted");
  std::string dir = parent + "/" + name;
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return errno_error("cannot make the cgroup '" + dir + "'", errno);
  // A folder appears in a cgroup2 file system only as a cgroup: check it is one.
  if (!exists(dir + "/cgroup.procs")) {
    ::rmdir(dir.c_str());
    return Error("'" + parent + "' is not a cgroup2 folder");
  }
  return dir;
}

bool destroy_cgroup(const std::string& dir, double timeout) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return errno == ENOENT;
  cgroup_kill_all(fd.get());
  for (long waited = 0; cgroup_populated(fd.get()) && waited < timeout * 1000; waited += 10) {
    nap_ms(10);
    cgroup_kill_all(fd.get());
  }
  cgroup_remove_below(fd.get());
  return ::rmdir(dir.c_str()) == 0 || errno == ENOENT;
}

void cgroup_kill_all(int dirfd) {
  int fd = ::openat(dirfd, "cgroup.kill", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = ::write(fd, "1", 1);
    ::close(fd);
    if (n == 1) return;
  }
  kill_listed(dirfd, 0);
}

bool cgroup_populated(int dirfd) {
  char buf[512];
  if (read_small(dirfd, "cgroup.events", buf, sizeof buf) <= 0) return false;
  return std::strstr(buf, "populated 1") != nullptr;
}

void cgroup_remove_below(int dirfd) { remove_below(dirfd, 0); }

}  // namespace wfrun::engine
