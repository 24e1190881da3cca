// check_slurm(): before a run that uses Slurm, a probe job checks what the jobs will need on
// the nodes: the state folder (runs, logs, /inputs, /outputs) and the wfrun binary.

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "base/strings.h"
#include "engine/fs.h"
#include "engine/process.h"
#include "engine/slurm/commands.h"
#include "engine/slurm/slurm_executor.h"

extern char** environ;

namespace wfrun::slurm {

namespace {

using Clock = std::chrono::steady_clock;

// A successful probe is trusted this long for the same binary and placement.
constexpr std::chrono::seconds kProbeValid{3600};
// How long the probe may wait in Slurm's queue before wfrun gives up.
constexpr std::chrono::seconds kProbeWait{600};

std::vector<std::string> command_env() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    std::string name = kv.substr(0, kv.find('='));
    if (name == "PATH" || name == "HOME" || name == "USER" || name == "LANG" ||
        name == "SLURM_CONF" || name.compare(0, 3, "LC_") == 0 || name == "TZ")
      env.push_back(kv);
  }
  return env;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

std::string placement_key(const workflows::SlurmSettings& s) {
  const auto& p = s.placement;
  return "wfrun=" + node_wfrun(s) + "\npartition=" + p.partition.value_or("") +
         "\naccount=" + p.account.value_or("") + "\nqos=" + p.qos.value_or("") +
         "\nconstraint=" + p.constraint.value_or("") + "\nargs=" + join(p.sbatch_args, " ") +
         "\n";
}

bool recent_probe(const std::string& path, const std::string& key) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return false;
  auto age = std::chrono::system_clock::now() -
             std::chrono::system_clock::from_time_t(st.st_mtime);
  if (age > kProbeValid || age < std::chrono::seconds(-60)) return false;
  auto text = engine::read_file(path, 1 << 16);
  return text && *text == key;
}

}  // namespace

Status check_slurm(const std::string& state_dir, const workflows::SlurmSettings& settings) {
  const std::vector<std::string> env = command_env();
  std::string path;
  for (const auto& kv : env)
    if (kv.compare(0, 5, "PATH=") == 0) path = kv.substr(5);
  if (engine::find_program("sbatch", path).empty())
    return Error(
        "executor slurm: sbatch is not on PATH; install Slurm's client commands (Debian: "
        "slurm-client) and point SLURM_CONF at the cluster's slurm.conf, or run with "
        "--executor local");
  if (!settings.probe) return {};

  const std::string slurm_dir = state_dir + "/slurm";
  const std::string ok_file = slurm_dir + "/probe.ok";
  const std::string key = placement_key(settings);
  if (recent_probe(ok_file, key)) return {};
  if (auto s = engine::make_dirs(slurm_dir); !s) return s;
  std::string dir = slurm_dir + "/probe-" + std::to_string(::getpid());
  (void)engine::remove_tree(dir);
  if (::mkdir(dir.c_str(), 0700) != 0)
    return errno_error("executor slurm: cannot create '" + dir + "'", errno);
  struct Cleanup {
    std::string dir;
    ~Cleanup() { (void)engine::remove_tree(dir); }
  } cleanup{dir};

  const std::string wfrun = node_wfrun(settings);
  auto quote = [](const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  };
  std::string script = "#!/bin/sh\necho \"$(hostname)\" > " + quote(dir + "/fs") + "\nexec " +
                       quote(wfrun) + " --version > " + quote(dir + "/bin") + " 2>&1\n";
  if (auto s = engine::write_file(dir + "/probe.sh", script); !s) return s;

  Request r;
  r.name = "wfrun-probe";
  r.dir = dir;
  r.placement = settings.placement;
  std::vector<std::string> argv = {"sbatch"};
  for (auto& a : sbatch_args(r)) {
    // The probe's own output goes where the node surely can write, whatever it sees.
    if (a.compare(0, 9, "--output=") == 0) a = "--output=/dev/null";
    if (a.compare(0, 8, "--chdir=") == 0) a = "--chdir=/";
    argv.push_back(a);
  }
  argv.push_back("--time=5");
  argv.push_back(dir + "/probe.sh");
  engine::ProcessSpec spec;
  spec.argv = argv;
  spec.env = env;
  auto out = engine::run_command(spec);
  if (!out) return Error("executor slurm: " + out.error().message());
  auto id = out->status.success() ? parse_job_id(out->output) : std::nullopt;
  if (!id)
    return Error("executor slurm: the probe job that checks the nodes was refused: " +
                 trimmed(out->output));

  // Wait for it: the `fs` file may show up before Slurm has noticed the end.
  auto give_up = Clock::now() + kProbeWait;
  std::optional<JobRecord> last;
  std::string node;
  auto next_ask = Clock::now();
  while (Clock::now() < give_up) {
    if (engine::exists(dir + "/bin") && engine::exists(dir + "/fs")) {
      // `bin` is complete once the job ended; give wfrun --version a moment.
      auto bin = engine::read_file(dir + "/bin", 1 << 16);
      if (bin && bin->compare(0, 6, "wfrun ") == 0) break;
    }
    if (Clock::now() >= next_ask) {
      next_ask = Clock::now() + std::chrono::milliseconds(500);
      engine::ProcessSpec q;
      q.argv = {"scontrol", "show", "job", "-o", std::to_string(*id)};
      q.env = env;
      if (auto o = engine::run_command(q); o && o->status.success()) {
        last = parse_scontrol(o->output);
        size_t at = o->output.find(" NodeList=");
        if (at != std::string::npos) {
          node = o->output.substr(at + 10);
          node = node.substr(0, node.find(' '));
          if (node == "(null)") node.clear();
        }
        if (last && terminal_state(last->state)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          break;
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!last || !terminal_state(last->state)) {
    if (!engine::exists(dir + "/bin")) {
      engine::ProcessSpec c;
      c.argv = {"scancel", std::to_string(*id)};
      c.env = env;
      (void)engine::run_command(c);
      return Error("executor slurm: the probe job " + std::to_string(*id) +
                   " that checks the nodes did not run within " +
                   std::to_string(kProbeWait.count() / 60) + " minutes" +
                   (last ? " (Slurm state " + last->state + ", reason " + last->reason + ")"
                         : std::string()) +
                   "; pass executor probe: false to skip the check");
    }
  }
  std::string on = node.empty() ? "" : " on node " + node;
  if (!engine::exists(dir + "/fs"))
    return Error("executor slurm: the nodes do not see the state folder " + state_dir +
                 " (a probe job" + on + " could not write into " + dir +
                 "): put WFRUN_HOME (or --state-dir) on a filesystem the nodes share");
  auto bin = engine::read_file(dir + "/bin", 1 << 16);
  if (!bin || bin->compare(0, 6, "wfrun ") != 0)
    return Error("executor slurm: the nodes cannot run " + wfrun + " (a probe job" + on +
                 " said: " + (bin ? trimmed(*bin) : std::string("nothing")) +
                 "): install wfrun at that path on the nodes (e.g. on the shared filesystem) "
                 "or set executor wfrun-path to where the nodes have it");
  (void)engine::write_file(ok_file, key);
  return {};
}

}  // namespace wfrun::slurm
