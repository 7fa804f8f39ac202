"""UI update latency in the desktop window: from a SIP message leaving a caller to the call's
row changing in the real Switchboard window (WebKitGTK under Xvfb), issue 5's goal <= 50 ms.

A measurement, not a test (nothing here asserts a time). Run it by hand, with the app answering
calls itself so a bare caller can drive it:

    xvfb-run -a -s "-screen 0 1280x800x24" env SWITCHBOARD_DESKTOP_ARGS=--auto-answer \\
      SWITCHBOARD_DESKTOP_BIN=target/desktop/switchboard-desktop \\
      .venv/bin/python -m pytest -q -s -o python_files='bench_*.py' src-tauri/e2e/bench_ui_latency.py

Per call: INVITE sent (t0, wall clock) -> the row appears (a MutationObserver in the page stamps
it with performance.timeOrigin + performance.now(), the same wall clock); BYE sent (t2) -> the
row turns `ended`. Prints p50/p95/max of both and writes them to
test-output/desktop-e2e/ui-latency.json.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "load"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_desktop_e2e import desktop, output, wait_for  # noqa: E402,F401
from transfer_latency import Caller, percentile  # noqa: E402

CALLS = int(os.environ.get("UI_LATENCY_CALLS", "30"))

OBSERVER = """
window.__stamps = {};
window.__arrivals = [];
const internals = window.__TAURI_INTERNALS__;
if (internals && internals.transformCallback && internals.invoke) {
  const handler = internals.transformCallback((e) => {
    const p = e.payload || {};
    window.__arrivals.push([performance.timeOrigin + performance.now(), p.type, Date.parse(p.at)]);
  });
  internals.invoke('plugin:event|listen', {event: 'console-event', target: {kind: 'Any'}, handler});
}
const stamp = (row) => {
  const id = row.dataset.callId, state = row.dataset.state;
  if (!id || !state) return;
  const now = performance.timeOrigin + performance.now();
  window.__stamps[id] ??= {};
  window.__stamps[id][state] ??= now;
  window.__stamps[id].first ??= now;
};
new MutationObserver((mutations) => {
  for (const m of mutations) {
    if (m.type === 'attributes' && m.target.dataset && m.target.dataset.callId) stamp(m.target);
    for (const node of m.addedNodes) {
      if (!(node instanceof HTMLElement)) continue;
      if (node.dataset.callId) stamp(node);
      node.querySelectorAll('[data-call-id]').forEach(stamp);
    }
  }
}).observe(document.body, {subtree: true, childList: true, attributes: true,
                           attributeFilter: ['data-state']});
"""


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": round(percentile(values, 50), 1),
            "p95_ms": round(percentile(values, 95), 1), "max_ms": round(max(values), 1)}


def test_measure_ui_update_latency(desktop, output):
    driver, sip_port = desktop
    wait_for(lambda: driver.find_elements("id", "calls-title"), 30, "the calls panel")
    driver.execute_script(OBSERVER)
    if os.environ.get("UI_LATENCY_CSS"):
        driver.execute_script("const s = document.createElement('style'); s.textContent = arguments[0]; document.head.appendChild(s);", os.environ["UI_LATENCY_CSS"])
    caller = Caller()
    shown, ended = [], []
    seen: set[str] = set()
    for _ in range(CALLS):
        t0 = time.time() * 1000
        dialog = caller.call(("127.0.0.1", sip_port))
        stamps = wait_for(lambda: {k: v for k, v in driver.execute_script("return window.__stamps").items()
                                   if k not in seen} or None, 10, "a new row")
        (call_id, first), = stamps.items()
        seen.add(call_id)
        shown.append(first["first"] - t0)
        t2 = time.time() * 1000
        caller.bye(dialog)
        gone = wait_for(lambda: driver.execute_script(
            "return (window.__stamps[arguments[0]] || {}).ended", call_id), 10, "the row ended")
        ended.append(gone - t2)
    report = {"calls": CALLS, "invite_to_row_shown": summary(shown),
              "bye_to_row_ended": summary(ended), "goal_ms": 50}
    print(json.dumps(report, indent=2))
    arrivals = driver.execute_script("return window.__arrivals")
    lags = [round(a - at, 1) for a, _, at in arrivals if at]
    print("event at -> page listener (ms):", sorted(lags)[len(lags) // 2] if lags else None, max(lags) if lags else None, len(lags))
    print([(t, round(a - at)) for a, t, at in arrivals if a - at > 30])
    (output / "ui-latency.json").write_text(json.dumps(report, indent=2))
