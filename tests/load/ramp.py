#!/usr/bin/env python3
"""Load ramp: the highest call rate Switchboard and baresip each sustain.

Usage (from the repo root, after scripts/setup.sh and a build):

    .venv/bin/python tests/load/ramp.py                       # both targets, default ramp
    .venv/bin/python tests/load/ramp.py --bin target/release/switchboard
    .venv/bin/python tests/load/ramp.py --rates 50,100,200 --step-seconds 5
    .venv/bin/python tests/load/ramp.py --only switchboard

For each target it runs sipp's built-in `uac` (1-second calls, -buff_size 4 MB)
at each rate for --step-seconds seconds (-m rate*step), stopping at the first
step with >= 0.1 % failed calls (or unfinished calls), and prints the highest
passing rate of each target and their ratio. Targets, configured alike:
  switchboard  `switchboard serve --auto-answer --audio none` on free ports
  baresip      answermode=auto, aufile source + aubridge,nil player, g711
Logs and sipp statistics go to test-output/load/. Not part of the test suite.
Each step takes ~step-seconds + 1 s of call time plus up to --drain seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from peers import REPO, Baresip, Console, Sipp, make_tone_wav  # noqa: E402

DEFAULT_RATES = "50,100,200,400,700,1000,1500,2000,3000,4000,5000"


def run_step(artifacts: Path, target: str, host: str, rate: int, seconds: int, drain: int) -> dict:
    calls = rate * seconds
    sipp = Sipp(artifacts, f"{target}_r{rate}", sn="uac", remote=host, trace_msg=False,
                timeout_s=seconds + 1 + drain,
                args=["-m", str(calls), "-r", str(rate), "-d", "1000",
                      "-buff_size", "4194304", "-l", str(max(rate * 4, 100)), "-s", "load"])
    t0 = time.monotonic()
    rc = sipp.run(timeout=seconds + drain + 30)
    elapsed = time.monotonic() - t0
    try:
        st = sipp.stats()
    except (OSError, ValueError):
        st = {"created": 0, "successful": 0, "failed": calls}
    done = st["successful"] + st["failed"]
    failed = st["failed"] + max(0, calls - done)  # unfinished calls count as failed
    return {"rate": rate, "calls": calls, "ok": st["successful"], "failed": failed,
            "rc": rc, "elapsed": elapsed, "fail_ratio": failed / calls if calls else 1.0}


def ramp(artifacts: Path, target: str, host: str, rates: list[int], seconds: int, drain: int,
         alive) -> int:
    best = 0
    for rate in rates:
        r = run_step(artifacts, target, host, rate, seconds, drain)
        passed = r["fail_ratio"] < 0.001 and alive()
        print(f"  {target:12s} {rate:6d} cps: {r['ok']:7d} ok {r['failed']:6d} failed "
              f"({100 * r['fail_ratio']:.3f} %) in {r['elapsed']:.1f}s rc={r['rc']} "
              f"{'PASS' if passed else 'FAIL'}", flush=True)
        if not passed:
            break
        best = rate
        time.sleep(2)  # let the target settle (calls ended, sockets drained)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=str(REPO / "target" / "release" / "switchboard"),
                    help="switchboard binary (default: target/release/switchboard)")
    ap.add_argument("--rates", default=DEFAULT_RATES, help="comma-separated call rates (cps)")
    ap.add_argument("--step-seconds", type=int, default=10)
    ap.add_argument("--drain", type=int, default=20, help="extra seconds a step may take to finish")
    ap.add_argument("--only", choices=["switchboard", "baresip"])
    args = ap.parse_args()
    rates = [int(x) for x in args.rates.split(",") if x.strip()]

    artifacts = REPO / "test-output" / "load"
    artifacts.mkdir(parents=True, exist_ok=True)
    gitignore = artifacts.parent / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("*\n")
    results: dict[str, int] = {}

    if args.only in (None, "switchboard"):
        import os
        os.environ["SWITCHBOARD_BIN"] = args.bin
        os.environ.setdefault("RUST_LOG", "warn")
        data = Path(tempfile.mkdtemp(prefix="sb-load-"))
        console = Console(artifacts, data, name="switchboard", auto_answer=True)
        console.start()
        print(f"switchboard ({args.bin}) on {console.sip_uri_host}", flush=True)
        try:
            results["switchboard"] = ramp(artifacts, "switchboard", console.sip_uri_host, rates,
                                          args.step_seconds, args.drain, console.alive)
        finally:
            console.stop()

    if args.only in (None, "baresip"):
        wav = make_tone_wav(artifacts / "tone60.wav", 60)
        bs = Baresip(artifacts, "baresip", user="load", wav=wav,
                     max_calls=4096)
        bs.start()
        print(f"baresip on 127.0.0.1:{bs.sip_port}", flush=True)
        try:
            results["baresip"] = ramp(artifacts, "baresip", f"127.0.0.1:{bs.sip_port}", rates,
                                      args.step_seconds, args.drain,
                                      lambda: bs.proc.poll() is None)
        finally:
            bs.stop()

    print("\nhighest rate with < 0.1 % failed calls:")
    for name, best in results.items():
        print(f"  {name:12s} {best} cps")
    if results.get("switchboard") and results.get("baresip"):
        print(f"  ratio switchboard/baresip: {results['switchboard'] / results['baresip']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
