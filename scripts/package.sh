#!/usr/bin/env bash
# Builds the desktop app's Linux packages (.deb and .rpm) and prints their paths, one a line,
# on stdout (everything else goes to stderr).
#
#   scripts/package.sh            debug profile: shares every artifact with `cargo build`
#   scripts/package.sh --release  what a release ships: the `desktop` profile (Cargo.toml:
#                                 optimised for size, fat LTO; ~7 min from clean on 2 cores),
#                                 bundles under target/desktop/bundle
#
# The web UI is built first if ui/dist is missing or stale (src-tauri/scripts/ensure-ui-dist.sh).
# The Tauri CLI is the npm package in src-tauri (a prebuilt binary); nothing is downloaded
# outside the registries.
# AppImage, Windows and macOS bundles are made by .github/workflows/release.yml.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf '[package] %s\n' "$*" >&2; }

profile=debug
flags=(--debug)
case "${1:-}" in
  "") ;;
  --release) profile=desktop; flags=(-- --profile "$profile") ;;
  *) echo "usage: $0 [--release]" >&2; exit 2 ;;
esac

# ui/dist is embedded at compile time: (re)build it when missing or older than ui/src.
"$repo/src-tauri/scripts/ensure-ui-dist.sh"
if [ ! -x "$repo/src-tauri/node_modules/.bin/tauri" ]; then
  log "installing the Tauri CLI (npm install in src-tauri)"
  (cd "$repo/src-tauri" && npm install --no-audit --no-fund --loglevel=error) >&2
fi

bundle_dir="$repo/target/$profile/bundle"
rm -rf "$bundle_dir/deb" "$bundle_dir/rpm"
log "tauri build --ci --bundles deb,rpm ${flags[*]}"
t0=$SECONDS
# --ci: no prompts, no colours. The crate's default features already contain
# tauri/custom-protocol, so this compiles exactly what `cargo build -p switchboard-desktop` does.
# Arguments after `--` go to cargo (the profile).
(cd "$repo/src-tauri" && npx --no-install tauri build --ci --bundles deb,rpm "${flags[@]}") >&2
log "bundled in $((SECONDS - t0))s"

found=0
for f in "$bundle_dir"/deb/*.deb "$bundle_dir"/rpm/*.rpm; do
  [ -f "$f" ] || continue
  echo "$f"
  found=$((found + 1))
done
[ "$found" -eq 2 ] || { log "expected one .deb and one .rpm under $bundle_dir, found $found"; exit 1; }
