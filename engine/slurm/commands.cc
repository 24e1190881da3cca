#include "engine/slurm/commands.h"

#include <cctype>
#include <cmath>
#include <sstream>

namespace wfrun::slurm {

using engine::AttemptEnd;

std::string job_name(std::int64_t run_id, const std::string& job, int attempt) {
  std::string n = "wfrun-" + std::to_string(run_id) + "-" + job + "-" + std::to_string(attempt);
  for (char& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
  if (n.size() > 200) n.resize(200);
  return n;
}

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::vector<std::string> sbatch_args(const Request& r) {
  std::vector<std::string> a = {"--parsable",
                                "--job-name=" + r.name,
                                "--chdir=" + r.dir,
                                "--output=" + r.dir + "/slurm.out",
                                "--open-mode=append",
                                // wfrun's `retries` decide; a requeued job would rerun the shim.
                                "--no-requeue",
                                // sbatch runs with a small explicit environment (slurm_executor.cc);
                                // the job's own comes from the shim.
                                "--export=ALL"};
  if (r.cpus) a.push_back("--cpus-per-task=" + std::to_string(static_cast<int>(std::ceil(*r.cpus))));
  if (r.memory_bytes) {
    long long mib = (*r.memory_bytes + (1 << 20) - 1) >> 20;
    a.push_back("--mem=" + std::to_string(mib) + "M");
  }
  if (r.timeout_seconds) {
    // wfrun stops the job at its timeout itself; Slurm's limit is the backstop when wfrun is
    // gone, late enough that wfrun's own stop (and the kill grace) comes first.
    double limit = *r.timeout_seconds + r.kill_grace_seconds + 2 * kWalltimeWarning;
    long long minutes = static_cast<long long>(std::ceil(limit / 60));
    a.push_back("--time=" + std::to_string(minutes));
    a.push_back("--signal=B:USR1@" + std::to_string(kWalltimeWarning));
  }
  std::optional<std::string> constraint = r.placement.constraint;
  if (r.gpus > 0) {
    std::string model = lower(r.gpu_model);
    if (model.empty() || r.gpu_model_as == workflows::SlurmSettings::GpuModel::kConstraint) {
      a.push_back("--gres=gpu:" + std::to_string(r.gpus));
      if (!model.empty()) constraint = constraint ? *constraint + "&" + r.gpu_model : r.gpu_model;
    } else {
      a.push_back("--gres=gpu:" + model + ":" + std::to_string(r.gpus));
    }
  }
  if (r.placement.partition) a.push_back("--partition=" + *r.placement.partition);
  if (r.placement.account) a.push_back("--account=" + *r.placement.account);
  if (r.placement.qos) a.push_back("--qos=" + *r.placement.qos);
  if (constraint) a.push_back("--constraint=" + *constraint);
  a.insert(a.end(), r.placement.sbatch_args.begin(), r.placement.sbatch_args.end());
  return a;
}

namespace {

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'')
      q += "'\\''";
    else
      q += c;
  }
  return q + "'";
}

}  // namespace

std::string batch_script(const std::string& wfrun, const std::string& dir) {
  return "#!/bin/sh\nexec " + shell_quote(wfrun) + " job-shim " + shell_quote(dir) + "\n";
}

std::optional<long long> parse_job_id(std::string_view out) {
  // The last line that starts with a number, or "Submitted batch job N".
  std::optional<long long> id;
  std::istringstream in{std::string(out)};
  for (std::string line; std::getline(in, line);) {
    std::string_view l = line;
    constexpr std::string_view kPrefix = "Submitted batch job ";
    if (l.substr(0, kPrefix.size()) == kPrefix) l.remove_prefix(kPrefix.size());
    size_t n = 0;
    while (n < l.size() && std::isdigit(static_cast<unsigned char>(l[n]))) ++n;
    if (n == 0 || n > 18) continue;
    if (n < l.size() && l[n] != ';' && l[n] != ' ' && l[n] != '\r') continue;
    id = std::stoll(std::string(l.substr(0, n)));
  }
  return id;
}

std::optional<long long> job_in_dir(std::string_view out, const std::string& dir) {
  std::istringstream in{std::string(out)};
  for (std::string line; std::getline(in, line);) {
    size_t bar = line.find('|');
    if (bar == std::string::npos || line.substr(bar + 1) != dir) continue;
    if (auto id = parse_job_id(line.substr(0, bar))) return id;
  }
  return std::nullopt;
}

std::vector<std::string> squeue_args(const std::string& user) {
  return {"-h", "-t", "all", "-u", user, "-o", "%i|%j|%T|%r"};
}

std::vector<QueueEntry> parse_squeue(std::string_view text) {
  std::vector<QueueEntry> out;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    size_t a = line.find('|');
    if (a == std::string::npos) continue;
    size_t b = line.find('|', a + 1);
    if (b == std::string::npos) continue;
    size_t c = line.find('|', b + 1);
    QueueEntry e;
    std::string id = line.substr(0, a);
    // Array jobs print "12_3"; wfrun submits none, and skips them.
    if (id.empty() || id.size() > 18 ||
        id.find_first_not_of("0123456789") != std::string::npos)
      continue;
    e.id = std::stoll(id);
    e.name = line.substr(a + 1, b - a - 1);
    e.state = line.substr(b + 1, c == std::string::npos ? std::string::npos : c - b - 1);
    if (c != std::string::npos) e.reason = line.substr(c + 1);
    while (!e.reason.empty() && (e.reason.back() == '\r' || e.reason.back() == ' '))
      e.reason.pop_back();
    out.push_back(std::move(e));
  }
  return out;
}

namespace {

// "3:0" -> {3, 0}; a signal becomes no exit code (the caller reports the signal).
void parse_exit(std::string_view v, JobRecord& r) {
  size_t colon = v.find(':');
  std::string code(v.substr(0, colon));
  std::string sig = colon == std::string_view::npos ? "0" : std::string(v.substr(colon + 1));
  auto number = [](const std::string& s) -> std::optional<int> {
    if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    return std::stoi(s);
  };
  auto c = number(code), s = number(sig);
  if (s && *s != 0) {
    r.signal = *s;
  } else if (c) {
    r.exit_code = *c;
  }
}

// "CANCELLED by 0" -> "CANCELLED".
std::string first_word(std::string_view s) {
  size_t sp = s.find(' ');
  return std::string(s.substr(0, sp));
}

}  // namespace

std::optional<JobRecord> parse_scontrol(std::string_view text) {
  JobRecord r;
  bool have_state = false;
  std::istringstream in{std::string(text)};
  for (std::string word; in >> word;) {
    size_t eq = word.find('=');
    if (eq == std::string::npos) continue;
    std::string key = word.substr(0, eq), value = word.substr(eq + 1);
    if (key == "JobState") {
      r.state = value;
      have_state = true;
    } else if (key == "ExitCode") {
      parse_exit(value, r);
    } else if (key == "Reason") {
      r.reason = value;
    }
  }
  if (!have_state) return std::nullopt;
  return r;
}

std::optional<JobRecord> parse_sacct(std::string_view text, long long id) {
  std::istringstream in{std::string(text)};
  const std::string want = std::to_string(id);
  for (std::string line; std::getline(in, line);) {
    size_t a = line.find('|');
    if (a == std::string::npos) continue;
    size_t b = line.find('|', a + 1);
    if (b == std::string::npos) continue;
    std::string jid = line.substr(0, a);
    while (!jid.empty() && jid.front() == ' ') jid.erase(0, 1);
    if (jid != want) continue;
    JobRecord r;
    r.state = first_word(line.substr(a + 1, b - a - 1));
    std::string exit = line.substr(b + 1);
    size_t bar = exit.find('|');
    if (bar != std::string::npos) exit.resize(bar);
    parse_exit(exit, r);
    return r;
  }
  return std::nullopt;
}

bool terminal_state(std::string_view s) {
  return !(s == "PENDING" || s == "RUNNING" || s == "CONFIGURING" || s == "COMPLETING" ||
           s == "SUSPENDED" || s == "REQUEUED" || s == "REQUEUE_HOLD" || s == "REQUEUE_FED" ||
           s == "RESIZING" || s == "SIGNALING" || s == "STAGE_OUT" || s == "STOPPED" ||
           s == "RESV_DEL_HOLD" || s == "SPECIAL_EXIT" || s == "POWER_UP_NODE" || s.empty());
}

AttemptEnd end_from_state(const JobRecord& rec) {
  AttemptEnd e;
  e.status.code = rec.exit_code;
  e.status.signal = rec.signal;
  const std::string& s = rec.state;
  std::string why = "Slurm state " + s + (rec.reason.empty() || rec.reason == "None"
                                              ? std::string()
                                              : ", reason " + rec.reason);
  if (s == "COMPLETED" || s == "FAILED") {
    e.reason = AttemptEnd::Reason::kExited;
    if (!e.status.code && !e.status.signal) {
      e.reason = AttemptEnd::Reason::kLost;
      e.message = "no exit status (" + why + ")";
    } else if (s == "FAILED" && e.status.success()) {
      // Slurm says it failed though the code is 0 (e.g. the batch script could not start).
      e.reason = AttemptEnd::Reason::kLost;
      e.message = "the job failed to start (" + why + ")";
    }
  } else if (s == "TIMEOUT" || s == "DEADLINE") {
    e.reason = AttemptEnd::Reason::kTimedOut;
    e.message = "Slurm's time limit (" + why + ")";
  } else if (s == "CANCELLED") {
    e.reason = AttemptEnd::Reason::kCancelled;
    e.message = "cancelled in Slurm (" + why + ")";
  } else if (s == "NODE_FAIL" || s == "BOOT_FAIL") {
    e.reason = AttemptEnd::Reason::kLost;
    e.message = "its node failed (" + why + ")";
  } else if (s == "PREEMPTED") {
    e.reason = AttemptEnd::Reason::kLost;
    e.message = "preempted (" + why + ")";
  } else if (s == "OUT_OF_MEMORY") {
    e.reason = AttemptEnd::Reason::kOutOfMemory;
    e.message = "out of memory (" + why + ")";
  } else {
    e.reason = AttemptEnd::Reason::kLost;
    e.message = "unexpected end (" + why + ")";
  }
  return e;
}

bool transient_error(std::string_view out) {
  for (std::string_view s : {"Socket timed out", "Unable to contact slurm controller",
                             "Zero Bytes were transmitted", "Connection refused",
                             "slurm_persist_conn_open", "Resource temporarily unavailable",
                             "try again", "Transport endpoint"})
    if (out.find(s) != std::string_view::npos) return true;
  return false;
}

}  // namespace wfrun::slurm
