"""Desktop end-to-end: the real Switchboard window, driven like an attendant would.

Under an X server (scripts/test.sh runs this under `xvfb-run`), this starts tauri-driver
(the npm `@crabnebula/tauri-driver` binary in src-tauri/node_modules) in front of Debian's
WebKitWebDriver, which launches the REAL desktop binary on free SIP and data directories.
A real peer (sipp with tests/sipp/uac_wait_answer.xml) calls it; the test waits for the call
row in the window, clicks Answer, clicks Hang up, and checks that the peer got the BYE.
Screenshots (WebDriver's of the page, and `import -window root` of the X screen) and every
log go to test-output/desktop-e2e/.

Environment:
  SWITCHBOARD_DESKTOP_BIN  the binary [default: target/debug/switchboard-desktop]
  TAURI_DRIVER             the tauri-driver binary [default: src-tauri/node_modules/.bin/tauri-driver]
  SWITCHBOARD_DESKTOP_ARGS more arguments for the app (e.g. `--auto-answer`)

Every wait polls a condition until a deadline; there are no fixed sleeps.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from peers import Sipp, free_port, stop_process, tail, wait_for  # noqa: E402

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.options import ArgOptions  # noqa: E402

OUTPUT = REPO / "test-output" / "desktop-e2e"
BINARY = Path(os.environ.get("SWITCHBOARD_DESKTOP_BIN",
                             REPO / "target" / "debug" / "switchboard-desktop"))
DRIVER = Path(os.environ.get("TAURI_DRIVER",
                             REPO / "src-tauri" / "node_modules" / ".bin" / "tauri-driver"))


@pytest.fixture
def output() -> Path:
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir(parents=True)
    gi = OUTPUT.parent / ".gitignore"
    if not gi.exists():
        gi.write_text("*\n")
    return OUTPUT


@pytest.fixture
def desktop(output, tmp_path):
    """The app in a WebDriver session: yields (driver, sip_port). Stops everything after."""
    for need, why in ((BINARY, "cargo build -p switchboard-desktop"),
                      (DRIVER, "npm ci in src-tauri")):
        if not need.exists():
            pytest.fail(f"{need} missing ({why})")
    if shutil.which("WebKitWebDriver") is None:
        pytest.fail("WebKitWebDriver missing (Debian package webkit2gtk-driver)")
    if not os.environ.get("DISPLAY"):
        pytest.fail("no X display: run under xvfb-run")

    sip_port = free_port()
    port, native_port = free_port(), free_port()
    home = tmp_path / "home"
    env = dict(os.environ)
    # The app's config, window state and WebKit caches stay in this test's directory.
    env.update({
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "RUST_LOG": env.get("RUST_LOG", "info"),
    })
    driver_log = output / "tauri-driver.log"
    with open(driver_log, "wb") as log:
        proc = subprocess.Popen(
            [str(DRIVER), "--port", str(port), "--native-port", str(native_port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=output)

    def listening() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"tauri-driver exited ({proc.returncode}):\n{tail(driver_log)}")
        import socket
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0
    driver = None
    try:
        wait_for(listening, 20, f"tauri-driver on port {port}")
        options = ArgOptions()
        options.set_capability("browserName", "wry")
        options.set_capability("tauri:options", {
            "application": str(BINARY.resolve()),
            "args": ["--sip-listen", f"udp:127.0.0.1:{sip_port}",
                     "--data-dir", str(tmp_path / "data"),
                     *os.environ.get("SWITCHBOARD_DESKTOP_ARGS", "").split()],
        })
        driver = webdriver.Remote(command_executor=f"http://127.0.0.1:{port}", options=options)
        yield driver, sip_port
    finally:
        if driver is not None:
            try:
                driver.quit()
            except WebDriverException as exc:
                print(f"teardown: quitting the session failed: {exc!r}")
        stop_process(proc, grace=5)
        print(f"\n----- tauri-driver.log (tail) -----\n{tail(driver_log, 40)}")


def screenshot(driver, output: Path, name: str) -> None:
    """The page as WebDriver renders it, and the whole X screen as the user would see it."""
    driver.get_screenshot_as_file(str(output / f"{name}.png"))
    if shutil.which("import"):
        subprocess.run(["import", "-window", "root", str(output / f"{name}-screen.png")],
                       check=False, timeout=30, capture_output=True)


def test_inbound_call_is_answered_and_hung_up_from_the_window(desktop, output):
    driver, sip_port = desktop
    t0 = time.monotonic()
    wait_for(lambda: driver.find_elements(By.ID, "calls-title"), 60, "the calls panel")
    print(f"calls panel present {time.monotonic() - t0:.2f}s after the session started")

    sipp = Sipp(output, "caller", sf="uac_wait_answer.xml", remote=f"127.0.0.1:{sip_port}",
                args=["-s", "sbtest", "-m", "1"], timeout_s=90).start()
    try:
        answer = wait_for(
            lambda: driver.find_elements(
                By.CSS_SELECTOR, "li.row[data-state='ringing'] button[aria-label^='Answer call']"),
            30, "the ringing call with its Answer button")[0]
        row = driver.find_element(By.CSS_SELECTOR, "li.row[data-state='ringing']")
        # The row's label names the party: "Ringing inbound call, sipp caller".
        label = row.get_attribute("aria-label") or ""
        assert "inbound" in label and "sipp" in label.lower(), label
        screenshot(driver, output, "1-ringing")
        answer.click()

        hangup = wait_for(
            lambda: driver.find_elements(
                By.CSS_SELECTOR, "li.row[data-state='active'] button[aria-label^='Hang up']"),
            15, "the answered call with its Hang up button")[0]
        screenshot(driver, output, "2-active")
        hangup.click()

        # The peer's scenario ends only after it received our BYE and answered 200.
        assert sipp.wait(20) == 0, sipp.diagnostics()
        received = [m for d, m in sipp.messages() if d == "received"]
        assert any(m.startswith("BYE ") for m in received), sipp.diagnostics()
        wait_for(lambda: not driver.find_elements(
            By.CSS_SELECTOR, "li.row[data-state='active']"), 10, "the row to leave 'active'")
        screenshot(driver, output, "3-ended")
    finally:
        sipp.stop()
