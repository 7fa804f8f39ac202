#!/usr/bin/env bash
# Desktop footprint and start-up figures (issue 5), measured, not asserted; not part of CI.
#
#   src-tauri/scripts/footprint.sh [SETTLE_SECONDS]     (default 15)
#
# In ONE run, on one private Xvfb server, with the same settle time:
#   1. switchboard-desktop (target/debug/switchboard-desktop, or $SWITCHBOARD_DESKTOP_BIN),
#      fresh HOME and data dir, SIP on a free loopback port. Start-up time is the app's own
#      "calls panel loaded N ms after start" line: the page's first `list_calls`, made once the
#      panel is mounted and its event stream is listening (the panel renders from that reply).
#      The script also reports its own wall-clock time from exec to that line.
#   2. Linphone desktop (Debian `linphone`), fresh HOME, if installed. Its start-up is the time
#      to its first mapped top-level window (xwininfo), for comparison only.
# After each has settled (idle, the calls panel open), it sums PSS from /proc/PID/smaps_rollup
# over the app and every descendant process (WebKitWebProcess, WebKitNetworkProcess, bwrap,
# ...), printing each process.
#
# Variants: SWITCHBOARD_WEBKIT_ACCELERATION=on-demand (or always) measures GPU compositing;
# SWITCHBOARD_EXTRA_ARGS adds flags; FOOTPRINT_LINPHONE=0 skips Linphone.
# FOOTPRINT_SUBJECT=bare measures, in place of the app, the floor: a bare WebKitGTK window
# (bare-webkit.c, compiled here with cc) with the app's WebKit settings and environment and a
# one-line page (or FOOTPRINT_BARE_URI), next to Linphone the same way.
# Needs Xvfb (xvfb), xwininfo (x11-utils); the bare subject also cc, libwebkit2gtk-4.1-dev, libegl-dev.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
settle="${1:-15}"
subject="${FOOTPRINT_SUBJECT:-app}"
case "$subject" in
  app)
    bin="${SWITCHBOARD_DESKTOP_BIN:-$repo/target/debug/switchboard-desktop}"
    [ -x "$bin" ] || { echo "missing $bin (cargo build -p switchboard-desktop)" >&2; exit 1; } ;;
  bare) ;;
  *) echo "FOOTPRINT_SUBJECT is app or bare, not '$subject'" >&2; exit 2 ;;
esac
command -v Xvfb >/dev/null || { echo "missing Xvfb (apt-get install xvfb)" >&2; exit 1; }

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# A display number nobody uses.
disp=90
while [ -e "/tmp/.X11-unix/X$disp" ] || [ -e "/tmp/.X$disp-lock" ]; do disp=$((disp + 1)); done
Xvfb ":$disp" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
export DISPLAY=":$disp"
for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X$disp" ] && break; sleep 0.1; done

now_ms() { date +%s%3N; }

# All descendants of $1 (and $1), from /proc.
tree() {
  local root=$1
  local all
  all="$(ps -e -o pid=,ppid=)"
  local list=("$root") i=0
  while [ $i -lt ${#list[@]} ]; do
    local p=${list[$i]}
    while read -r child parent; do
      [ "$parent" = "$p" ] && list+=("$child")
    done <<<"$all"
    i=$((i + 1))
  done
  echo "${list[@]}"
}

# PSS of one process tree, in kB, printing each member; the private D-Bus session that
# Linphone is given (dbus-run-session, dbus-daemon) is listed but not counted.
pss_tree() {
  local label=$1 root=$2 total=0
  for p in $(tree "$root"); do
    local kb comm
    comm="$(cat "/proc/$p/comm" 2>/dev/null || true)"
    case "$comm" in
      dbus-daemon|dbus-run-sessio*)
        printf '  %-8s pid %-7s (not counted: %s)\n' "$label" "$p" "$comm" >&2
        continue ;;
    esac
    kb="$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)"
    [ -n "$kb" ] || kb=0
    printf '  %-8s pid %-7s %7d kB  %s\n' "$label" "$p" "$kb" "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-70)" >&2
    total=$((total + kb))
  done
  echo "$total"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_ready PID NAME COMMAND...: polls COMMAND (up to 30 s) until it succeeds, then prints the
# time; fails, with NAME's log, if PID exits first or the time runs out.
wait_ready() {
  local pid=$1 name=$2
  shift 2
  for _ in $(seq 600); do
    if "$@"; then now_ms; return 0; fi
    kill -0 "$pid" 2>/dev/null || { tail -20 "$work/sb.log" >&2; echo "$name exited" >&2; return 1; }
    sleep 0.05
  done
  tail -20 "$work/sb.log" >&2
  echo "$name not ready in 30 s" >&2
  return 1
}
panel_loaded() { grep -q 'calls panel loaded' "$work/sb.log"; }
bare_mapped() { xwininfo -root -tree 2>/dev/null | grep -q '"bare-webkit"'; }

# --- 1. switchboard-desktop, or the bare WebKitGTK host ------------------------------------
if [ "$subject" = app ]; then
  home="$work/sb-home"; mkdir -p "$home"
  port="$(free_port)"
  t0="$(now_ms)"
  env HOME="$home" XDG_CONFIG_HOME="$home/.config" XDG_DATA_HOME="$home/.local/share" \
      XDG_CACHE_HOME="$home/.cache" \
      "$bin" --sip-listen "udp:127.0.0.1:$port" --data-dir "$work/sb-data" ${SWITCHBOARD_EXTRA_ARGS:-} \
      >"$work/sb.log" 2>&1 &
  sb=$!; pids+=("$sb")
  ready="$(wait_ready "$sb" switchboard-desktop panel_loaded)"
  own="$(grep -o 'calls panel loaded [0-9]* ms' "$work/sb.log" | grep -o '[0-9]*')"
  label="switchboard-desktop"
else
  # shellcheck disable=SC2046  # pkg-config prints several words on purpose
  cc -O2 -o "$work/bare-webkit" "$here/bare-webkit.c" $(pkg-config --cflags --libs webkit2gtk-4.1 egl) \
    || { echo "cannot build bare-webkit.c (apt-get install libwebkit2gtk-4.1-dev libegl-dev)" >&2; exit 1; }
  egl="$work/egl"; mkdir -m 700 "$egl"
  home="$work/bare-home"; mkdir -p "$home"
  t0="$(now_ms)"
  # What the app's re-exec sets (webkit_env.rs), so the floor is measured the same way.
  env HOME="$home" XDG_CONFIG_HOME="$home/.config" XDG_DATA_HOME="$home/.local/share" \
      XDG_CACHE_HOME="$home/.cache" GDK_GL=disable JSC_useJIT=0 \
      __EGL_VENDOR_LIBRARY_DIRS="$egl" BARE_WEBKIT_EGL_DIR="$egl" \
      "$work/bare-webkit" ${FOOTPRINT_BARE_URI:-} >"$work/sb.log" 2>&1 &
  sb=$!; pids+=("$sb")
  ready="$(wait_ready "$sb" bare-webkit bare_mapped)"
  label="bare WebKitGTK"
fi

# --- 2. Linphone desktop --------------------------------------------------------------------
lp=""; lp_ready=""
if [ "${FOOTPRINT_LINPHONE:-1}" = 1 ] && command -v linphone >/dev/null; then
  lhome="$work/lp-home"; mkdir -p "$lhome/.local/share/linphone" "$lhome/.config"
  lt0="$(now_ms)"
  # Linphone 4.4 exits at once without a D-Bus session bus ("Cannot connect to the D-Bus
  # session bus"): give it a private one (the bus daemon's PSS is not counted).
  bus=()
  if command -v dbus-run-session >/dev/null; then bus=(dbus-run-session --); fi
  env HOME="$lhome" XDG_CONFIG_HOME="$lhome/.config" XDG_DATA_HOME="$lhome/.local/share" \
      QT_QPA_PLATFORM=xcb "${bus[@]}" linphone >"$work/lp.log" 2>&1 &
  lp=$!; pids+=("$lp")
  if command -v xwininfo >/dev/null; then
    for _ in $(seq 600); do
      if xwininfo -root -tree 2>/dev/null | grep -qi '"linphone'; then lp_ready="$(now_ms)"; break; fi
      kill -0 "$lp" 2>/dev/null || break
      sleep 0.05
    done
  fi
fi

echo "settling ${settle}s (idle)..." >&2
sleep "$settle"

echo "--- processes ---" >&2
sb_kb="$(pss_tree "$subject" "$sb")"
lp_kb=""
if [ -n "$lp" ] && kill -0 "$lp" 2>/dev/null; then lp_kb="$(pss_tree linphone "$lp")"; fi
if command -v import >/dev/null; then mkdir -p "$repo/test-output/footprint" && import -window root "$repo/test-output/footprint/screen.png" 2>/dev/null || true; fi

echo "=== footprint (PSS, idle ${settle}s, Xvfb 1280x800x24) ==="
printf '%-20s %6d kB  (%d MB)\n' "$label" "$sb_kb" $((sb_kb / 1024))
if [ -n "$lp_kb" ]; then
  printf 'linphone desktop     %6d kB  (%d MB)\n' "$lp_kb" $((lp_kb / 1024))
  awk -v a="$sb_kb" -v b="$lp_kb" 'BEGIN { printf "ratio                %.2f x Linphone (goal <= 0.75)\n", a / b }'
else
  echo "linphone desktop     not measured (apt-get install linphone)"
fi
echo "=== start-up ==="
if [ "$subject" = app ]; then
  echo "switchboard-desktop  calls panel loaded ${own} ms after process start (app's clock); $((ready - t0)) ms exec-to-log (script's clock)"
else
  echo "bare WebKitGTK       window mapped $((ready - t0)) ms after exec"
fi
if [ -n "$lp_ready" ]; then echo "linphone desktop     first window mapped $((lp_ready - lt0)) ms after exec"; fi
