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

junit_dir="$repo/test-output/junit"
summary() {
  # Why each end-to-end test failed, where a long log's tail still shows it.
  [ "$failed" -eq 0 ] || python3 scripts/junit-digest.py "$junit_dir"/*.xml || true
  printf '\n==================== summary ====================\n'
  printf '%s\n' "${results[@]}"
  printf 'total %ss: %s\n' "$((SECONDS - started))" "$([ "$failed" -eq 0 ] && echo OK || echo FAILED)"
}
trap summary EXIT

rm -rf "$junit_dir"
step "setup" scripts/setup.sh || true
[ "$failed" -eq 0 ] || exit 1

step "ui unit (vitest)" npm --prefix ui test --silent
step "ui build" npm --prefix ui run build --silent
step "cargo fmt --check" cargo fmt --all --check
step "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo build" cargo build --workspace --all-targets --locked
# Without a built binary the remaining steps cannot say anything useful.
[ -x target/debug/switchboard ] || { results+=("FAIL  target/debug/switchboard missing"); failed=1; exit 1; }
# Property tests draw from a fixed seed here, so a run is reproducible; `cargo test` on its own
# draws a new one each time and explores further (a case it finds becomes a unit test).
step "cargo test" env PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261202}" \
  cargo test --workspace --locked
# Audio devices: a PulseAudio null sink gives cpal a clocked device on machines without a sound
# card; the test plays a 440 Hz tone into it and records it back from its monitor.
# A subshell, so the daemon's XDG_RUNTIME_DIR does not leak into the later (desktop) steps.
audio_device_test() (
  env_lines="$(crates/audio-io/scripts/pulse-null-sink.sh)" || exit 1
  eval "$env_lines"
  SWITCHBOARD_PULSE_TEST=1 cargo test -p audio-io --locked --test pulse_null_sink
)
step "audio devices (pulseaudio null sink)" audio_device_test
# Browser end-to-end: the built UI served by target/debug/switchboard, sipp callers, chromium.
step "ui e2e (playwright)" env SWITCHBOARD_BIN="$repo/target/debug/switchboard" \
  npm --prefix ui run e2e --silent
step "e2e (pytest)" env SWITCHBOARD_BIN="$repo/target/debug/switchboard" \
  .venv/bin/python -m pytest -q tests/e2e --junitxml="$junit_dir/e2e.xml" -o junit_logging=out-err "$@"

# Desktop end-to-end: the real Tauri window under Xvfb, driven through tauri-driver +
# WebKitWebDriver; a sipp caller is answered and hung up by clicks (src-tauri/e2e).
step "desktop e2e" env SWITCHBOARD_DESKTOP_BIN="$repo/target/debug/switchboard-desktop" \
  xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python -m pytest -q src-tauri/e2e --junitxml="$junit_dir/desktop.xml" \
  -o junit_logging=out-err
# Desktop packages: .deb and .rpm built (debug profile, shares the build above), inspected,
# the .deb installed, run (--version) and removed.
step "desktop packages" src-tauri/scripts/test-packages.sh

exit "$failed"
