#!/usr/bin/env python3
"""Speech through the console's receive path with loss and jitter, scored with PESQ (ITU-T P.862).

Reference speech: four Harvard sentences spoken by Debian's `espeak-ng` with two male and two
female voice variants (`en-us+m1`, `en-us+m2`, `en-us+f1`, `en-us+f2`: P.862 asks for several
talkers of both sexes), set to an active speech level of -26 dBov (ITU-T P.56 method B, as
telephony codec tests do), padded with 0.5 s of silence on each side and resampled by `sox` to
8 kHz (PCMU, Opus scored narrowband), 16 kHz (Opus scored wideband) and 48 kHz (what the Opus
encoder is fed). About 10 s each.

Each file goes through `receive_path` (crates/console-runtime/examples/receive_path.rs): the
peer encodes it into 20 ms RTP packets, a seeded simulated network in virtual time drops and
delays them (`--dist uniform`: delay = 30 ms + uniform [0, 2 x jitter)), and the console's own
`Stream` (RTP parsing, adaptive jitter buffer, decoder with FEC/PLC, ticked every 20 ms) plays
them out. The output is aligned with the reference (the lag of the cross-correlation peak
within the first second is trimmed: network delay plus playout delay; PESQ then aligns each
utterance itself, which follows the jitter buffer's later delay changes) and scored with the
PyPI `pesq` package: `pesq(8000, ref, deg, 'nb')` (P.862.1 MOS-LQO) and `pesq(16000, ref,
deg, 'wb')` (P.862.2). Conditions, each over every voice and seed:

    clean     0 % loss, no jitter        (the codec's own ceiling on this material)
    loss      3 % loss, no jitter
    jitter    no loss, 20 ms jitter
    impaired  3 % loss + 20 ms jitter

Prints a table of medians (with min-max) per codec, band and condition; `--json` for the
raw rows. Goal (issue 3): PCMU >= 4.0 clean, >= 3.5 impaired.

Needs: `espeak-ng` and `sox` (Debian; installed with apt-get when run as root, else the
script says what to install), and the PyPI packages in tests/load/requirements.txt.

    cargo build --release -p console-runtime --example receive_path
    .venv/bin/python -m pip install -r tests/load/requirements.txt
    .venv/bin/python tests/load/pesq_bench.py [--seeds 5] [--keep DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

try:
    from pesq import pesq
except ImportError:  # pragma: no cover - depends on the environment
    sys.exit("pesq_bench: the PyPI package `pesq` is missing: "
             ".venv/bin/python -m pip install -r tests/load/requirements.txt")

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "target" / "release" / "examples" / "receive_path"
SENTENCES = (
    "The birch canoe slid on the smooth planks. "
    "Glue the sheet to the dark blue background. "
    "It's easy to tell the depth of a well. "
    "These days a chicken leg is a rare dish."
)
VOICES = ("en-us+m1", "en-us+m2", "en-us+f1", "en-us+f2")
TARGET_LEVEL_DBOV = -26.0
CONDITIONS = {
    # name: (loss %, jitter ms)
    "clean": (0.0, 0.0),
    "loss": (3.0, 0.0),
    "jitter": (0.0, 20.0),
    "impaired": (3.0, 20.0),
}
# (codec, output rate, PESQ mode, reference rate fed to the encoder)
SCORINGS = (
    ("pcmu", 8000, "nb", 8000),
    ("opus", 16000, "wb", 48000),
    ("opus", 8000, "nb", 48000),
)
GOALS = {("pcmu", "nb", "clean"): 4.0, ("pcmu", "nb", "impaired"): 3.5}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5, help="network seeds per voice (default 5)")
    ap.add_argument("--first-seed", type=int, default=1, help="seeds run from this one")
    ap.add_argument("--text", default=SENTENCES, help="what the voices say")
    ap.add_argument("--conditions", default=",".join(CONDITIONS),
                    help="comma-separated subset of " + ",".join(CONDITIONS))
    ap.add_argument("--loss", type=float, default=3.0, help="loss %% of the lossy conditions")
    ap.add_argument("--jitter", type=float, default=20.0, help="jitter ms of the jittery ones")
    ap.add_argument("--dist", choices=("uniform", "exponential"), default="uniform")
    ap.add_argument("--fifo", action="store_true", help="no reordering (one queue)")
    ap.add_argument("--voices", default=",".join(VOICES), help="espeak-ng voices")
    ap.add_argument("--codecs", default="pcmu,opus", help="pcmu and/or opus")
    ap.add_argument("--keep", type=Path, help="keep the WAV files in this directory")
    ap.add_argument("--json", action="store_true", help="print every row as JSON too")
    ap.add_argument("--band-limit", type=int, metavar="HZ",
                    help="tell the encoder its input carries nothing above HZ, as a transcoding "
                         "bridge does (Opus bridged with G.711: 4000)")
    ap.add_argument("--example", type=Path, default=EXAMPLE,
                    help="the receive_path binary (to compare two builds)")
    args = ap.parse_args()

    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown or not conditions or args.seeds < 1:
        ap.error(f"bad --conditions or --seeds: {unknown or conditions}")
    if not args.example.exists():
        sys.exit(f"pesq_bench: {args.example} is missing; build it with\n"
                 "  cargo build --release -p console-runtime --example receive_path")
    ensure_tools()

    work = args.keep or Path(tempfile.mkdtemp(prefix="pesq_bench."))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        voices = [v.strip() for v in args.voices.split(",") if v.strip()]
        refs = {v: make_reference(v, args.text, work) for v in voices}
        for voice in voices:
            for cond in conditions:
                loss, jitter = CONDITIONS[cond]
                loss = args.loss if loss else 0.0
                jitter = args.jitter if jitter else 0.0
                for seed in range(args.first_seed, args.first_seed + args.seeds):
                    for codec, out_rate, mode, in_rate in SCORINGS:
                        if codec not in args.codecs.split(","):
                            continue
                        rows.append(run_one(work, refs[voice], voice, cond, codec, out_rate,
                                            mode, in_rate, loss, jitter, seed, args))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    if args.json:
        for row in rows:
            print(json.dumps(row))
    print_table(rows, conditions, args)
    return 0


def ensure_tools() -> None:
    missing = [t for t in ("espeak-ng", "sox") if shutil.which(t) is None]
    if not missing:
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"pesq_bench: installing {' '.join(missing)} with apt-get", file=sys.stderr)
        install = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
        if subprocess.run(install, stdout=subprocess.DEVNULL).returncode != 0:
            # Package lists may be missing (a fresh container): fetch them once and retry.
            subprocess.run(["apt-get", "update"], check=True, stdout=subprocess.DEVNULL)
            subprocess.run(install, check=True, stdout=subprocess.DEVNULL)
        return
    sys.exit(f"pesq_bench: missing {' '.join(missing)}; install them: "
             f"sudo apt-get install {' '.join(missing)}")


def make_reference(voice: str, text: str, work: Path) -> dict[int, Path]:
    """The reference speech of one voice at 8, 16 and 48 kHz, at -26 dBov active level."""
    tag = voice.replace("+", "_")
    raw = work / f"ref_{tag}_raw.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(raw), text],
                   check=True, stderr=subprocess.DEVNULL)
    rate, x = read_wav(raw)
    level = p56_active_level(x, rate)
    gain = 10 ** ((TARGET_LEVEL_DBOV - level) / 20)
    scaled = work / f"ref_{tag}_levelled.wav"
    write_wav(scaled, rate, x * gain)
    refs = {}
    for out_rate in (8000, 16000, 48000):
        path = work / f"ref_{tag}_{out_rate}.wav"
        # -R: sox dithers to 16 bits with a fixed seed, so references (and scores) repeat
        # exactly; the dither is also a realistic floor (no microphone gives digital zeros).
        subprocess.run(["sox", "-R", str(scaled), "-b", "16", "-c", "1", str(path),
                        "rate", "-v", str(out_rate), "pad", "0.5", "0.5"], check=True)
        refs[out_rate] = path
    return refs


def run_one(work, refs, voice, cond, codec, out_rate, mode, in_rate, loss, jitter, seed, args):
    tag = voice.replace("+", "_")
    out = work / f"out_{tag}_{cond}_{codec}_{out_rate}_{seed}.wav"
    cmd = [str(args.example), "--codec", codec, "--in", str(refs[in_rate]), "--out", str(out),
           "--loss", str(loss), "--jitter", str(jitter), "--dist", args.dist,
           "--seed", str(seed), "--out-rate", str(out_rate)]
    if args.fifo:
        cmd.append("--fifo")
    if args.band_limit:
        cmd += ["--band-limit", str(args.band_limit)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"pesq_bench: {' '.join(cmd)} failed:\n{proc.stderr}")
    summary = json.loads(proc.stdout)
    ref_rate, ref = read_wav(refs[out_rate])
    deg_rate, deg = read_wav(out)
    if ref_rate != deg_rate:
        sys.exit(f"pesq_bench: rates differ: {refs[out_rate]} {ref_rate}, {out} {deg_rate}")
    lag, aligned = align(ref, deg, ref_rate)
    try:
        mos = float(pesq(ref_rate, ref, aligned, mode))
    except Exception as e:  # pesq raises its own error types (no utterances, ...)
        mos = float("nan")
        print(f"pesq_bench: PESQ failed for {out.name}: {e}", file=sys.stderr)
    console = summary.get("console") or {}
    return {
        "voice": voice, "condition": cond, "codec": codec, "mode": mode, "seed": seed,
        "loss_percent": loss, "jitter_ms": jitter, "mos_lqo": mos,
        "lag_ms": lag * 1000 / ref_rate,
        "dropped": summary["packets_dropped"], "reordered": summary["packets_reordered"],
        "console_jitter_ms": console.get("jitter_ms"), "console_mos": console.get("mos_estimate"),
    }


def align(ref: np.ndarray, deg: np.ndarray, rate: int) -> tuple[int, np.ndarray]:
    """Trims the leading delay of `deg` (the cross-correlation peak within 1 s) and cuts or
    pads it to the length of `ref`."""
    n = len(ref) + len(deg)
    nfft = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(deg, nfft) * np.conj(np.fft.rfft(ref, nfft)), nfft)
    lag = int(np.argmax(corr[: min(rate, len(deg))]))
    out = deg[lag:lag + len(ref)]
    return lag, np.concatenate([out, np.zeros(len(ref) - len(out))])


def p56_active_level(x: np.ndarray, rate: int) -> float:
    """Active speech level in dBov (0 dBov: a full-scale square wave), ITU-T P.56 method B:
    a 30 ms two-stage envelope, 200 ms hangover, a 15.9 dB margin; thresholds every 3 dB
    (P.56: every 6 dB) with the crossing interpolated."""
    x = x / 32768.0
    energy = float(np.sum(x * x))
    if energy == 0:
        raise ValueError("silent reference")
    g = math.exp(-1.0 / (rate * 0.03))
    p = q = 0.0
    env = np.empty(len(x))
    for i, a in enumerate(np.abs(x).tolist()):
        p = g * p + (1 - g) * a
        q = g * q + (1 - g) * p
        env[i] = q
    hang = int(0.2 * rate)
    index = np.arange(len(x))
    margin = 15.9
    prev = None
    for j in range(30, -1, -1):  # thresholds 2^-15 .. 1, rising
        c = 2.0 ** (-j / 2.0)
        last_active = np.maximum.accumulate(np.where(env >= c, index, -hang - 1))
        count = int(np.sum(index - last_active <= hang))
        if count == 0:
            break
        a_db = 10 * math.log10(energy / count)
        diff = a_db - 20 * math.log10(c)
        if diff <= margin:
            if prev is None:
                return a_db
            prev_a, prev_diff = prev
            return prev_a + (prev_diff - margin) / (prev_diff - diff) * (a_db - prev_a)
        prev = (a_db, diff)
    return 10 * math.log10(energy / len(x))


def read_wav(path: Path) -> tuple[int, np.ndarray]:
    with wave.open(str(path)) as w:
        if w.getsampwidth() != 2:
            sys.exit(f"pesq_bench: {path} is not 16-bit")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        data = data.reshape(-1, w.getnchannels())[:, 0]
        return w.getframerate(), data.astype(np.float64)


def write_wav(path: Path, rate: int, x: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes())


def print_table(rows, conditions, args) -> None:
    print(f"\nPESQ MOS-LQO, median (min-max) over {len(set(r['voice'] for r in rows))} voices "
          f"x {args.seeds} seeds; network: {args.loss:g} % loss / {args.jitter:g} ms jitter "
          f"({args.dist}{', fifo' if args.fifo else ''}), base delay 30 ms\n")
    header = ("codec", "PESQ", "condition", "MOS-LQO median", "min-max", "lag ms",
              "console E-model MOS", "goal")
    lines = [header]
    for codec, _, mode, _ in SCORINGS:
        for cond in conditions:
            sel = [r for r in rows if (r["codec"], r["mode"], r["condition"]) == (codec, mode, cond)]
            mos = [r["mos_lqo"] for r in sel if not math.isnan(r["mos_lqo"])]
            if not mos:
                continue
            goal = GOALS.get((codec, mode, cond))
            med = statistics.median(mos)
            verdict = "" if goal is None else f">= {goal}: {'met' if med >= goal else 'NOT met'}"
            emodel = [r["console_mos"] for r in sel if r["console_mos"] is not None]
            lines.append((codec.upper() if codec == "pcmu" else "Opus", mode, cond,
                          f"{med:.2f}", f"{min(mos):.2f}-{max(mos):.2f}",
                          f"{statistics.median(r['lag_ms'] for r in sel):.0f}",
                          f"{statistics.median(emodel):.2f}" if emodel else "-", verdict))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    for i, line in enumerate(lines):
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    # Per voice: how much the material matters.
    shown = [c for c in ("clean", "impaired") if c in conditions] or conditions[:1]
    print(f"\nmedian per voice ({' / '.join(shown)}):")
    for codec, _, mode, _ in SCORINGS:
        parts = []
        for voice in sorted(set(r["voice"] for r in rows)):
            vals = []
            for cond in shown:
                m = [r["mos_lqo"] for r in rows if (r["codec"], r["mode"], r["condition"],
                     r["voice"]) == (codec, mode, cond, voice) and not math.isnan(r["mos_lqo"])]
                if m:
                    vals.append(f"{statistics.median(m):.2f}")
            if vals:
                parts.append(f"{voice} {'/'.join(vals)}")
        if parts:
            print(f"  {codec} {mode}: " + ", ".join(parts))


if __name__ == "__main__":
    sys.exit(main())
