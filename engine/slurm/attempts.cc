#include "engine/slurm/attempts.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "engine/fs.h"
#include "engine/process.h"
#include "engine/slurm/commands.h"
#include "engine/slurm/files.h"

namespace wfrun::slurm {

std::string user_name() {
  if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name) return pw->pw_name;
  return std::to_string(::geteuid());
}

int last_attempt_in(const engine::JobDirs& dirs) {
  // Each attempt has its own folder, slurm-K, made before its sbatch.
  int last = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dirs.dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("slurm-", 0) != 0 || name.size() > 6 + 6) continue;
    const std::string k = name.substr(6);
    if (k.empty() || k.find_first_not_of("0123456789") != std::string::npos) continue;
    last = std::max(last, std::stoi(k));
  }
  return last;
}

std::optional<long long> attempt_job_id(const std::string& dir, const std::string& user,
                                        const std::vector<std::string>& env) {
  if (auto t = engine::read_file(dir + "/" + kSlurmIdFile, 64))
    if (auto id = parse_job_id(*t)) return id;
  // By its folder, not by name: the attempt may be an earlier run's (a resumed run is a new
  // run, whose id is not in the name).
  engine::ProcessSpec ps;
  ps.argv = {"squeue", "-h", "-t", "all", "-u", user, "-o", "%i|%Z"};
  ps.env = env;
  auto out = engine::run_command(ps);
  if (!out || !out->status.success()) return std::nullopt;
  auto id = job_in_dir(out->output, dir);
  if (id) (void)engine::write_file(dir + "/" + kSlurmIdFile, std::to_string(*id) + "\n");
  return id;
}

std::vector<std::string> cancel_left_behind(const std::string& run_dir,
                                            const std::vector<std::string>& jobs,
                                            const std::vector<std::string>& env) {
  std::vector<std::string> said;
  const std::string user = user_name();
  for (const auto& job : jobs) {
    const engine::JobDirs dirs = engine::job_dirs(run_dir, job);
    const int last = last_attempt_in(dirs);
    if (last <= 0) continue;
    const std::string dir = dirs.dir + "/slurm-" + std::to_string(last);
    if (engine::exists(dir + "/" + kExitFile)) continue;  // it ended
    auto id = attempt_job_id(dir, user, env);
    if (!id) continue;
    engine::ProcessSpec ps;
    ps.argv = {"scancel", std::to_string(*id)};
    ps.env = env;
    auto out = engine::run_command(ps);
    const std::string what = "job '" + job + "': its attempt " + std::to_string(last) +
                             " (Slurm job " + std::to_string(*id) + ")";
    if (out && out->status.success()) {
      said.push_back(what + " is not followed by the resumed run, so it was cancelled (scancel)");
      continue;
    }
    std::string words = out ? out->output : out.error().message();
    while (!words.empty() && (words.back() == '\n' || words.back() == ' ')) words.pop_back();
    said.push_back(what + " may still be running: scancel failed (" + words +
                   "); cancel it with `scancel " + std::to_string(*id) + "`");
  }
  return said;
}

}  // namespace wfrun::slurm
