#!/usr/bin/env bash
# Regenerates src-tauri/icons from a drawing made with ImageMagick (Debian `imagemagick`):
# a switchboard jack panel, white on blue. The PNGs are RGBA (Tauri requires it); the .ico and
# .icns that Windows and macOS bundles need are derived with `tauri icon` (offline). The output
# is committed; run this only to change the icon.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
convert -size 1024x1024 xc:none \
  -fill '#1f5fbf' -draw 'roundrectangle 64,64 960,960 180,180' \
  -fill none -stroke white -strokewidth 56 \
  -draw 'circle 352,352 352,440' -draw 'circle 672,352 672,440' \
  -draw 'circle 352,672 352,760' -draw 'circle 672,672 672,760' \
  -draw 'bezier 352,440 352,560 672,560 672,584' \
  -define png:color-type=6 "PNG32:$tmp/source.png"
npx --no-install tauri icon "$tmp/source.png" -o "$tmp/out" >/dev/null 2>&1
for f in 32x32.png 128x128.png 128x128@2x.png icon.png icon.ico icon.icns; do
  cp "$tmp/out/$f" "icons/$f"
done
# Keep every PNG RGBA even where the generator chose a palette.
for f in icons/*.png; do convert "$f" -define png:color-type=6 "PNG32:$f"; done
identify icons/*.png
