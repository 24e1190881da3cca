#pragma once
// Shared by the notebook tests that use the Jupyter fixtures in tests/notebook/fixtures and
// Debian's /usr/bin/python3 with its scientific packages.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace wfrun::notebook::testing {

inline constexpr const char* kPython = "/usr/bin/python3";

/// One fixture folder: `input/`, `oracle/` and `MANIFEST.json`.
struct Fixture {
  std::filesystem::path dir;
  std::string id;    // the folder name, "24-ipython4-beyond-plain-python"
  std::string name;  // a gtest-safe name from the manifest's slug, "ipython4_beyond_plain_python"
};

inline void PrintTo(const Fixture& f, std::ostream* os) { *os << f.id; }

inline std::filesystem::path fixtures_root() {
  return std::filesystem::path(WFRUN_NOTEBOOK_FIXTURES);
}

/// The fixture folders found at run time, sorted (none when the folder is missing).
inline std::vector<Fixture> find_fixtures() {
  namespace fs = std::filesystem;
  std::vector<Fixture> out;
  std::error_code ec;
  if (!fs::is_directory(fixtures_root(), ec)) return out;
  for (const auto& e : fs::directory_iterator(fixtures_root(), ec)) {
    if (!e.is_directory() || !fs::exists(e.path() / "MANIFEST.json")) continue;
    Fixture f{e.path(), e.path().filename().string(), ""};
    try {
      f.name = nlohmann::json::parse(std::ifstream(e.path() / "MANIFEST.json")).value("slug", "");
    } catch (const nlohmann::json::exception&) {
    }
    if (f.name.empty()) f.name = f.id;
    for (char& c : f.name)
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    out.push_back(f);
  }
  std::sort(out.begin(), out.end(), [](const Fixture& a, const Fixture& b) { return a.id < b.id; });
  for (size_t i = 0; i < out.size(); ++i)  // gtest needs unique names
    for (size_t j = 0; j < i; ++j)
      if (out[j].name == out[i].name) out[i].name += "_" + std::to_string(i);
  return out;
}

inline std::string fixture_name(const ::testing::TestParamInfo<Fixture>& info) {
  return info.param.name;
}

/// "" when /usr/bin/python3 and the packages the fixtures use are there, else what is missing.
inline std::string python_missing() {
  static const std::string missing = [] {
    if (!std::filesystem::exists(kPython)) return std::string(kPython) + " not found";
    std::string cmd = std::string(kPython) +
                      " -c 'import importlib.util, sys; print(\" \".join(m for m in sys.argv[1:] "
                      "if importlib.util.find_spec(m) is None))' numpy pandas matplotlib scipy "
                      "sympy sklearn 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return std::string("cannot run ") + kPython;
    std::string out;
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    int rc = ::pclose(p);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    if (rc != 0) return std::string(kPython) + " failed: " + out;
    return out.empty() ? std::string() : "Python packages missing for " + std::string(kPython) +
                                             ": " + out;
  }();
  return missing;
}

/// CI sets WFRUN_REQUIRE_PYTHON_LIBS=1: a missing interpreter or package fails instead of skips.
inline bool python_libs_required() {
  const char* v = std::getenv("WFRUN_REQUIRE_PYTHON_LIBS");
  return v && std::string(v) == "1";
}

}  // namespace wfrun::notebook::testing

/// Skips the test (fails it under WFRUN_REQUIRE_PYTHON_LIBS=1) without Debian's python3 and its
/// numpy, pandas, matplotlib, scipy, sympy and sklearn.
#define WFRUN_REQUIRE_PYTHON_LIBS()                                                        \
  do {                                                                                     \
    std::string wfrun_why_ = ::wfrun::notebook::testing::python_missing();                 \
    if (!wfrun_why_.empty()) {                                                             \
      if (::wfrun::notebook::testing::python_libs_required()) FAIL() << wfrun_why_;        \
      GTEST_SKIP() << wfrun_why_ << " (WFRUN_REQUIRE_PYTHON_LIBS=1 makes this a failure)"; \
    }                                                                                      \
  } while (0)
