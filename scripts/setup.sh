#!/usr/bin/env bash
# Idempotent machine setup for Switchboard development, tests and CI.
#
# Installs the Debian 12 packages the build and the end-to-end tests need, and a
# Python venv at <repo>/.venv with the test libraries. Every step checks first
# whether it is already done, so a re-run takes a few seconds.
#
# Runs as root, or through sudo when not root. Environment:
#   SWITCHBOARD_SKIP_APT=1   skip the Debian packages (e.g. on a non-Debian host)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# --- Debian packages -------------------------------------------------------
required_pkgs=(
  build-essential pkg-config cmake libasound2-dev libssl-dev
  sip-tester baresip-core linphone-cli sox espeak-ng
  python3-venv python3-pip procps iproute2 curl ca-certificates
  pulseaudio pulseaudio-utils libasound2-plugins
)
optional_pkgs=(tshark)

pkg_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@" || sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
}

apt_install() {
  # Try without an update first only when the package lists look populated.
  if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then
    apt_update_once
  fi
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "$@" >/tmp/switchboard-apt.log 2>&1; then
    # Stale lists are the usual cause: update once and retry.
    apt_update_once
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "$@" >/tmp/switchboard-apt.log 2>&1 \
      || { tail -n 30 /tmp/switchboard-apt.log >&2; return 1; }
  fi
}

if [ "${SWITCHBOARD_SKIP_APT:-0}" != 1 ]; then
  command -v dpkg-query >/dev/null 2>&1 || die "not a Debian system; set SWITCHBOARD_SKIP_APT=1 and install the tools by hand"
  missing=()
  for p in "${required_pkgs[@]}"; do pkg_installed "$p" || missing+=("$p"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing: ${missing[*]}"
    # tshark asks whether non-root users may capture; answer no, non-interactively.
    echo "wireshark-common wireshark-common/install-setuid boolean false" \
      | as_root debconf-set-selections 2>/dev/null || true
    apt_install "${missing[@]}" || die "apt-get install failed (see /tmp/switchboard-apt.log)"
  fi
  opt_missing=()
  for p in "${optional_pkgs[@]}"; do pkg_installed "$p" || opt_missing+=("$p"); done
  if [ "${#opt_missing[@]}" -gt 0 ]; then
    log "installing optional: ${opt_missing[*]}"
    echo "wireshark-common wireshark-common/install-setuid boolean false" \
      | as_root debconf-set-selections 2>/dev/null || true
    apt_install "${opt_missing[@]}" || log "optional packages failed to install (continuing): ${opt_missing[*]}"
  fi
fi

for tool in sipp baresip sox; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found on PATH after install"
done

# --- Node, chromium and the UI's npm packages ------------------------------
# The UI (ui/) builds with Node >= 20.19 and tests in Debian's chromium through
# playwright-core (never a downloaded browser).
if [ "${SWITCHBOARD_SKIP_APT:-0}" != 1 ]; then
  ui_missing=()
  command -v node >/dev/null 2>&1 || ui_missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || ui_missing+=(npm)
  command -v chromium >/dev/null 2>&1 || ui_missing+=(chromium)
  if [ "${#ui_missing[@]}" -gt 0 ]; then
    log "installing for the UI: ${ui_missing[*]}"
    apt_install "${ui_missing[@]}" || die "apt-get install ${ui_missing[*]} failed (see /tmp/switchboard-apt.log)"
  fi
fi
if [ -f "$repo/ui/package-lock.json" ]; then
  command -v npm >/dev/null 2>&1 || die "npm not found (needed for ui/)"
  # Re-run `npm ci` when node_modules is missing or the lock file changed since the last one.
  lock_sum="$(sha256sum "$repo/ui/package-lock.json" | cut -d' ' -f1)"
  stamp="$repo/ui/node_modules/.switchboard-lock-sha256"
  if [ ! -d "$repo/ui/node_modules" ] || [ "$(cat "$stamp" 2>/dev/null || true)" != "$lock_sum" ]; then
    log "npm ci in ui/"
    (cd "$repo/ui" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in ui/"
    echo "$lock_sum" >"$stamp"
  fi
fi

# --- Python venv -----------------------------------------------------------
venv="$repo/.venv"
py_pkgs=(pytest requests websocket-client)
# Prefer the distribution's interpreter (matches python3-venv); fall back to PATH.
if [ -x /usr/bin/python3 ]; then py=/usr/bin/python3; else py="$(command -v python3)"; fi
[ -n "$py" ] || die "python3 not found"

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
  log "creating venv at $venv"
  rm -rf "$venv"
  "$py" -m venv "$venv" || die "python3 -m venv failed (is python3-venv installed?)"
fi
# Keep the venv out of git without touching the repository's .gitignore.
[ -f "$venv/.gitignore" ] || echo '*' >"$venv/.gitignore"

if ! "$venv/bin/python" -c 'import pytest, requests, websocket' >/dev/null 2>&1; then
  log "installing Python packages: ${py_pkgs[*]}"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${py_pkgs[@]}" \
    || die "pip install failed"
fi

# --- Desktop app (src-tauri) ------------------------------------------------
# Build dependencies of the Tauri shell, and the tools of its end-to-end and packaging tests
# (Xvfb, WebKitWebDriver, ImageMagick for screenshots, rpm to inspect the .rpm).
desktop_pkgs=(
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev
  xvfb xauth webkit2gtk-driver imagemagick rpm
)
if [ "${SWITCHBOARD_SKIP_APT:-0}" != 1 ]; then
  desktop_missing=()
  for p in "${desktop_pkgs[@]}"; do pkg_installed "$p" || desktop_missing+=("$p"); done
  if [ "${#desktop_missing[@]}" -gt 0 ]; then
    log "installing (desktop): ${desktop_missing[*]}"
    apt_install "${desktop_missing[@]}" || die "apt-get install failed (see /tmp/switchboard-apt.log)"
  fi
fi
if ! "$venv/bin/python" -c 'import selenium' >/dev/null 2>&1; then
  log "installing Python packages (desktop e2e): selenium"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check selenium || die "pip install failed"
fi
# The Tauri CLI and tauri-driver: prebuilt binaries from npm, pinned by src-tauri/package-lock.json.
if command -v npm >/dev/null 2>&1; then
  lock="$repo/src-tauri/package-lock.json"
  stamp="$repo/src-tauri/node_modules/.package-lock.json"
  if [ ! -x "$repo/src-tauri/node_modules/.bin/tauri" ] || [ "$lock" -nt "$stamp" ]; then
    # `npm install`, not `npm ci`: the registry mirror lists only this platform's optional
    # binaries, so the lock lacks the darwin/win32 ones and `npm ci` refuses it as out of sync.
    log "npm install in src-tauri (Tauri CLI, tauri-driver)"
    (cd "$repo/src-tauri" && npm install --no-audit --no-fund --loglevel=error >/dev/null) \
      || die "npm install in src-tauri failed"
  fi
else
  log "npm not found: the desktop packaging and e2e steps need Node.js >= 20"
fi

log "ok"
