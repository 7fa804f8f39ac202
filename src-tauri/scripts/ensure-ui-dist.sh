#!/usr/bin/env bash
# The desktop crate embeds ui/dist at compile time (tauri.conf.json `frontendDist`), so every
# cargo command over the workspace needs it. Builds it when it is missing or older than any
# file under ui/src, ui/index.html or ui/package-lock.json; otherwise does nothing (well
# under a second).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ui="$repo/ui"
stamp="$ui/dist/index.html"
if [ -f "$stamp" ] && [ -z "$(find "$ui/src" "$ui/index.html" "$ui/package-lock.json" \
     -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  exit 0
fi
echo "[ui-dist] building ui/dist" >&2
cd "$ui"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
npm run build >&2
