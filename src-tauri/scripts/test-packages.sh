#!/usr/bin/env bash
# Packaging test: builds the .deb and .rpm (scripts/package.sh), checks their metadata and
# contents, installs the .deb with apt (as root, or through sudo), runs the installed binary's
# --version, then uninstalls it and checks it is gone.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
log() { printf '[packages] %s\n' "$*" >&2; }
fail() { printf '[packages] FAIL: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }

version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -1)"
[ -n "$version" ] || fail "cannot read the workspace version"

mapfile -t files < <("$repo/scripts/package.sh")
deb="" rpm=""
for f in "${files[@]}"; do
  case "$f" in *.deb) deb="$f" ;; *.rpm) rpm="$f" ;; esac
done
[ -f "$deb" ] && [ -f "$rpm" ] || fail "package.sh did not produce both packages: ${files[*]}"

log "checking $deb"
info="$(dpkg-deb -I "$deb")"
name="$(dpkg-deb -f "$deb" Package)"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "deb version is not $version"
for dep in libwebkit2gtk-4.1-0 libgtk-3-0 libayatana-appindicator3-1 libdbus-1-3; do
  grep -q "Depends:.*$dep" <<<"$info" || fail "deb does not depend on $dep"
done
contents="$(dpkg-deb -c "$deb")"
for path in ./usr/bin/switchboard-desktop ./usr/share/applications/ \
            ./usr/share/icons/hicolor/128x128/apps/switchboard-desktop.png; do
  grep -q " ${path}" <<<"$contents" || grep -q " ${path#./}" <<<"$contents" \
    || fail "deb lacks $path"
done

log "checking $rpm"
command -v rpm >/dev/null || fail "rpm not installed (apt-get install rpm)"
[ "$(rpm -qp --qf '%{VERSION}' "$rpm" 2>/dev/null)" = "$version" ] || fail "rpm version is not $version"
rpm -qpi "$rpm" >/dev/null 2>&1 || fail "rpm -qpi failed"
rpm_files="$(rpm -qpl "$rpm" 2>/dev/null)"
grep -qx /usr/bin/switchboard-desktop <<<"$rpm_files" || fail "rpm lacks /usr/bin/switchboard-desktop"
grep -q '^/usr/share/applications/.*\.desktop$' <<<"$rpm_files" || fail "rpm lacks a .desktop file"
requires="$(rpm -qpR "$rpm" 2>/dev/null)"
grep -q 'libwebkit2gtk-4.1.so.0' <<<"$requires" || fail "rpm does not require libwebkit2gtk-4.1"

log "installing $deb"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" \
  >/tmp/switchboard-deb-install.log 2>&1 || { tail -20 /tmp/switchboard-deb-install.log >&2; fail "apt-get install"; }
installed="$(/usr/bin/switchboard-desktop --version)"
log "installed: $installed"
[ "$installed" = "switchboard-desktop $version" ] || fail "--version said '$installed'"
dpkg -L "$name" | grep -q '^/usr/share/applications/.*\.desktop$' || fail "no .desktop file installed"

log "removing $name"
as_root env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "$name" >/dev/null 2>&1 || fail "apt-get remove"
[ ! -e /usr/bin/switchboard-desktop ] || fail "/usr/bin/switchboard-desktop still there after removal"
log "ok: $(basename "$deb"), $(basename "$rpm")"
