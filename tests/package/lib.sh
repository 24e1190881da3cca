# Shared by the packaging tests (sourced): assertions that say what was expected and what came.

failures=0

# fail MESSAGE: records a failure; the test goes on and exits 1 at the end (see finish).
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
  if [[ $2 != "$3" ]]; then fail "$1: expected '$2', got '$3'"; fi
}

# expect_lines WHAT EXPECTED_LINES ACTUAL_LINES: the same lines, in any order.
expect_lines() {
  local want got
  want=$(printf '%s\n' "$2" | sed '/^$/d' | sort)
  got=$(printf '%s\n' "$3" | sed '/^$/d' | sort)
  if [[ $want != "$got" ]]; then
    fail "$1: expected
$want
got
$got"
  fi
}

# expect_contains WHAT NEEDLE HAYSTACK
expect_contains() {
  if [[ $3 != *"$2"* ]]; then fail "$1: expected to find '$2' in:
$3"; fi
}

# expect_lacks WHAT NEEDLE HAYSTACK
expect_lacks() {
  if [[ $3 == *"$2"* ]]; then fail "$1: did not expect '$2' in:
$3"; fi
}

# require WHY: the test cannot run here. It fails under WFRUN_REQUIRE_PACKAGING=1 (CI, after
# scripts/install-deps) and is skipped otherwise (ctest reads exit code 77 as a skip).
require() {
  if [[ ${WFRUN_REQUIRE_PACKAGING:-0} == 1 ]]; then
    echo "FAIL: $* (WFRUN_REQUIRE_PACKAGING=1)" >&2
    exit 1
  fi
  echo "SKIP: $* (WFRUN_REQUIRE_PACKAGING=1 makes this a failure)" >&2
  exit 77
}

finish() {
  if ((failures)); then
    echo "$failures failure(s)" >&2
    exit 1
  fi
  echo "ok"
}
