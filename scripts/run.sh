#!/usr/bin/env bash
# The run command: build and start Switchboard.
#
# With a display ($DISPLAY or $WAYLAND_DISPLAY) and a desktop build present, the
# desktop app starts; otherwise the headless server runs in the foreground:
#   scripts/run.sh [serve options...]    e.g. scripts/run.sh --auto-answer --audio none
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

scripts/setup.sh
# The web UI (served at / by the headless server, embedded in the desktop app).
src-tauri/scripts/ensure-ui-dist.sh
cargo build --bin switchboard

desktop=""
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -f src-tauri/Cargo.toml ]; then
  # The desktop shell lives in src-tauri; its binary name is taken from its manifest.
  name="$(sed -n 's/^name *= *"\(.*\)"/\1/p' src-tauri/Cargo.toml | head -n1)"
  if [ -n "$name" ]; then
    cargo build --bin "$name" || true
    [ -x "target/debug/$name" ] && desktop="target/debug/$name"
  fi
fi

if [ -n "$desktop" ]; then
  exec "$desktop" "$@"
fi
exec target/debug/switchboard serve "$@"
