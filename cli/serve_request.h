#pragma once
// The serve-run contract's two files: RUNDIR/request.json (what `wfrun serve` asks for, read and
// checked here) and RUNDIR/result.json (what the child answers). Both may hold bytes from a
// webhook delivery: reading refuses what is not well-formed, writing never throws on it.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/strings.h"

namespace wfrun::cli {

/// RUNDIR/request.json, checked.
struct Request {
  std::int64_t run_id = 0;
  std::string delivery;
  std::string event;  // push, pull_request, manual
  std::string repo;   // OWNER/NAME
  std::string clone_url;
  std::string sha;  // 40 hex; "" only for manual runs (then `ref` is resolved)
  std::string ref;
  std::string base_ref;  // pull_request only
  std::string workflow;  // manual only: the one file to run ("" = match `on:` as a push of ref)
  std::map<std::string, std::string> inputs;
  std::string github_api = "https://api.github.com";
  std::string ca_file;
  std::string target_url;
};

/// Parses and checks request.json's text. Errors read `request.json: field F: what is wrong`.
Result<Request> parse_request(const std::string& text);

/// What happened to one workflow file of the commit.
struct Outcome {
  std::string path;  // relative to the checkout
  std::string name;
  std::string run_id;  // "" = no run was created
  std::string status;  // success, failure, cancelled, error
  std::string message;
};

/// The whole run's answer.
struct Answer {
  std::string status;
  std::string message;
  std::vector<Outcome> workflows;
  /// `skipped` because no workflow's `on:` matched: the event, ref, base ref and sha that
  /// decision depends on (and nothing else), written as result.json's `trigger` so that
  /// `wfrun serve` can answer the same push again without a run. Null otherwise.
  nlohmann::json trigger;
};

/// result.json's text (pretty-printed JSON, no final newline). Messages are made one line and
/// redacted; bytes that are not UTF-8 come out as U+FFFD instead of failing the whole answer.
std::string result_text(const Answer& a, const Redactor& redactor);

}  // namespace wfrun::cli
