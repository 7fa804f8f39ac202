#!/usr/bin/env bash
# Start a PulseAudio daemon with a clocked null sink ("nullsink", 48 kHz) for device tests.
#
# Machines without a sound card have no clocked audio device; PulseAudio's null sink is one,
# and its monitor source ("nullsink.monitor") records whatever was played to it.
# The setup follows the project field notes ("Audio without a sound card"):
#   - an own XDG_RUNTIME_DIR (mode 0700) so we never touch a user's session daemon,
#   - --exit-idle-time=-1 so the daemon stays up between test binaries,
#   - module-null-sink sink_name=nullsink rate=48000, module-always-sink.
#
# Idempotent: when a daemon already answers on that runtime dir it is reused (and the null sink
# is loaded if missing). Prints the environment to export, e.g.
#   eval "$(crates/audio-io/scripts/pulse-null-sink.sh)"
#
# Environment:
#   SWITCHBOARD_PULSE_DIR   runtime dir to use (default: /tmp/switchboard-pulse-$UID)
# Needs: pulseaudio, pulseaudio-utils (pactl, parec), libasound2-plugins (ALSA -> pulse).
set -euo pipefail

log() { printf '[pulse-null-sink] %s\n' "$*" >&2; }
die() { printf '[pulse-null-sink] ERROR: %s\n' "$*" >&2; exit 1; }

command -v pulseaudio >/dev/null 2>&1 || die "pulseaudio not installed (scripts/setup.sh installs it)"
command -v pactl >/dev/null 2>&1 || die "pactl not installed (package pulseaudio-utils)"

dir="${SWITCHBOARD_PULSE_DIR:-/tmp/switchboard-pulse-$(id -u)}"
mkdir -p "$dir"
chmod 0700 "$dir"
export XDG_RUNTIME_DIR="$dir"
# A HOME-independent cookie/state location keeps root and CI runs tidy.
export PULSE_STATE_PATH="$dir/state"
mkdir -p "$PULSE_STATE_PATH"
unset PULSE_SERVER

if pactl info >/dev/null 2>&1; then
  log "reusing the running daemon on $dir"
else
  log "starting pulseaudio (runtime dir $dir)"
  # -n: no default.pa, so only the modules listed here are loaded. Running as root needs
  # no --system: the daemon warns but works for a private runtime dir.
  pulseaudio --daemonize=yes --exit-idle-time=-1 -n \
    --load=module-native-protocol-unix \
    --load="module-null-sink sink_name=nullsink rate=48000" \
    --load=module-always-sink \
    --log-target=file:"$dir/pulseaudio.log" \
    || die "pulseaudio failed to start (see $dir/pulseaudio.log)"
  for _ in $(seq 1 50); do
    pactl info >/dev/null 2>&1 && break
    sleep 0.1
  done
  pactl info >/dev/null 2>&1 || die "pulseaudio does not answer on $dir (see $dir/pulseaudio.log)"
fi

if ! pactl list short sinks | awk '{print $2}' | grep -qx nullsink; then
  log "loading module-null-sink"
  pactl load-module module-null-sink sink_name=nullsink rate=48000 >/dev/null
fi
pactl set-default-sink nullsink
pactl set-default-source nullsink.monitor
log "ready: sink nullsink, source nullsink.monitor"

printf 'export XDG_RUNTIME_DIR=%q\n' "$dir"
printf 'export PULSE_STATE_PATH=%q\n' "$PULSE_STATE_PATH"
