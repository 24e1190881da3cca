#pragma once
// Small string helpers shared by every folder.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wfrun {

/// Levenshtein distance, for "did you mean" suggestions.
size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word` if it is close enough to be a likely typo, else nullopt.
std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates);

/// " (did you mean 'x'?)" or "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

std::vector<std::string> split(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
std::string_view trim(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);

/// Human duration: 0.4s, 12.3s, 4m05s, 1h02m.
std::string format_duration(double seconds);

/// Text made safe for HTML element content and quoted attribute values (& < > " ').
std::string html_escape(std::string_view s);

/// Replaces every occurrence of each secret value in `text` with `***`.
class Redactor {
 public:
  void add(std::string secret);
  std::string redact(std::string_view text) const;
  bool empty() const { return secrets_.empty(); }
  /// Where a stream may cut `text` in two without splitting a secret that may still be
  /// completing: no occurrence straddles the cut, and what follows it is shorter than the
  /// longest secret could need. Text after the cut goes on with the next piece.
  size_t split_point(std::string_view text) const;

 private:
  std::vector<std::string> secrets_;  // longest first, so overlapping secrets mask fully
};

}  // namespace wfrun
