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

/// Replaces every occurrence of each secret value in `text` with `***`: the value as written,
/// and the forms a job most often prints it in without meaning to: base64 (standard and
/// URL-safe, at each of the three alignments a secret can have inside a longer base64 text,
/// so `Authorization: Basic ...` is masked too) and URL-encoded (%XX, upper or lower case,
/// and `+` for spaces). Other transformations (hex, a value split in two, compressed,
/// encrypted) are not masked, as in GitHub Actions. Derived forms shorter than
/// kMinDerivedLength are not masked either: they would mask ordinary text.
class Redactor {
 public:
  static constexpr size_t kMinDerivedLength = 6;

  void add(std::string secret);
  std::string redact(std::string_view text) const;
  bool empty() const { return secrets_.empty(); }
  /// Where a stream may cut `text` in two without splitting a secret that may still be
  /// completing: no occurrence straddles the cut, and what follows it is shorter than the
  /// longest secret could need. Text after the cut goes on with the next piece.
  size_t split_point(std::string_view text) const;

 private:
  void add_pattern(std::string pattern);

  std::vector<std::string> secrets_;  // values and their forms, longest first, so overlapping
                                      // patterns mask fully
};

/// base64 of `data` (RFC 4648 section 4; `url_safe`: section 5, "-_" for "+/"), with padding.
std::string base64_encode(std::string_view data, bool url_safe = false);

}  // namespace wfrun
