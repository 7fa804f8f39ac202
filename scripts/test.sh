#!/usr/bin/env bash
# The test command: lint, build, unit/integration tests and end-to-end tests.
#
#   scripts/test.sh            everything (what CI runs)
#   scripts/test.sh -k baresip extra arguments go to the e2e pytest run
#
# One profile (dev) everywhere so nothing is compiled twice.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

results=()
failed=0
started=$SECONDS

step() {
  # step <name> <command...>: run, record PASS/FAIL and the duration, keep going.
  local name="$1"; shift
  local t0=$SECONDS
  printf '\n==> %s\n' "$name"
  if "$@"; then
    results+=("PASS  $name ($((SECONDS - t0))s)")
  else
    results+=("FAIL  $name ($((SECONDS - t0))s, exit $?)")
    failed=1
  fi
}

summary() {
  printf '\n==================== summary ====================\n'
  printf '%s\n' "${results[@]}"
  printf 'total %ss: %s\n' "$((SECONDS - started))" "$([ "$failed" -eq 0 ] && echo OK || echo FAILED)"
}
trap summary EXIT

step "setup" scripts/setup.sh || true
[ "$failed" -eq 0 ] || exit 1

step "ui unit (vitest)" npm --prefix ui test --silent
step "ui build" npm --prefix ui run build --silent
step "cargo fmt --check" cargo fmt --all --check
step "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo build" cargo build --workspace --all-targets --locked
# Without a built binary the remaining steps cannot say anything useful.
[ -x target/debug/switchboard ] || { results+=("FAIL  target/debug/switchboard missing"); failed=1; exit 1; }
step "cargo test" cargo test --workspace --locked
# Browser end-to-end: the built UI served by target/debug/switchboard, sipp callers, chromium.
step "ui e2e (playwright)" env SWITCHBOARD_BIN="$repo/target/debug/switchboard" \
  npm --prefix ui run e2e --silent
step "e2e (pytest)" env SWITCHBOARD_BIN="$repo/target/debug/switchboard" \
  .venv/bin/python -m pytest -q tests/e2e "$@"

exit "$failed"
