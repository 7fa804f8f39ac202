"""Desktop end-to-end: the real Switchboard window, driven like an attendant would.

Under an X server (scripts/test.sh runs this under `xvfb-run`), this starts tauri-driver
(the npm `@crabnebula/tauri-driver` binary in src-tauri/node_modules) in front of Debian's
WebKitWebDriver, which launches the REAL desktop binary on free SIP and data directories.
A real peer (sipp with tests/sipp/uac_wait_answer.xml) calls it; the test waits for the call
row in the window, clicks Answer, clicks Hang up, and checks that the peer got the BYE.
Screenshots of the X screen (`import -window root`) and every log go to
test-output/desktop-e2e/.

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


def screenshot(output: Path, name: str) -> Path:
    """The whole X screen as the user sees it (ImageMagick's `import`). Not WebDriver's
    screenshot: WebKit takes that after the page's next frame, and with the shared-memory
    renderer (the app's default, see ADR 0009) an idle page sends none, so it would wait."""
    if shutil.which("import") is None:
        pytest.fail("ImageMagick's import missing (Debian package imagemagick)")
    path = output / f"{name}.png"
    subprocess.run(["import", "-window", "root", str(path)], check=True, timeout=30,
                   capture_output=True)
    return path


def app_processes() -> tuple[int, list[tuple[int, str]]]:
    """The app's PID (the process running BINARY) and its children as (pid, comm)."""
    target = BINARY.resolve()
    procs: dict[int, tuple[int, str]] = {}
    app = None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            exe = os.readlink(entry / "exe")
        except OSError:
            continue
        # comm may hold spaces and parentheses: the fields after the last ')' are fixed.
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        procs[int(entry.name)] = (ppid, comm)
        if Path(exe) == target:
            app = int(entry.name)
    assert app is not None, f"no process runs {target}"
    return app, [(pid, comm) for pid, (ppid, comm) in procs.items() if ppid == app]


def gl_drivers(pid: int) -> set[str]:
    """The Mesa/LLVM libraries mapped in a process."""
    names = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        name = line.split()[-1].rsplit("/", 1)[-1]
        if name.endswith("_dri.so") or name.startswith(("libLLVM", "libEGL_mesa", "libGLX_mesa")):
            names.add(name)
    return names


def screen_colours(path: Path) -> int:
    """How many distinct colours a screenshot has (a blank window has one or two)."""
    out = subprocess.run(["identify", "-format", "%k", str(path)], check=True,
                         capture_output=True, text=True, timeout=30).stdout
    return int(out.strip())


def test_window_process_stays_off_gl_and_the_page_is_on_screen(desktop, output):
    """With acceleration `never` (the default) the app process maps no GL driver (Mesa's would
    bring libLLVM, ~20 MB), the web process still has its EGL display, and the page reaches the
    real X screen (drawn from shared memory), not only WebDriver's snapshot."""
    driver, _ = desktop
    wait_for(lambda: driver.find_elements(By.ID, "calls-title"), 60, "the calls panel")
    app, children = app_processes()
    web = [pid for pid, comm in children if comm.startswith("WebKitWebProces")]
    assert web, f"no web process among {children}"
    assert gl_drivers(app) == set(), f"the app process maps {gl_drivers(app)}"
    assert any(n.endswith("_dri.so") for n in gl_drivers(web[0])), gl_drivers(web[0])
    # The panel's text, borders and buttons: hundreds of colours once it is on screen.
    wait_for(lambda: screen_colours(screenshot(output, "0-panel")) > 100, 10,
             "the page drawn on the X screen")


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
        screenshot(output, "1-ringing")
        answer.click()

        hangup = wait_for(
            lambda: driver.find_elements(
                By.CSS_SELECTOR, "li.row[data-state='active'] button[aria-label^='Hang up']"),
            15, "the answered call with its Hang up button")[0]
        screenshot(output, "2-active")
        hangup.click()

        # The peer's scenario ends only after it received our BYE and answered 200.
        assert sipp.wait(20) == 0, sipp.diagnostics()
        received = [m for d, m in sipp.messages() if d == "received"]
        assert any(m.startswith("BYE ") for m in received), sipp.diagnostics()
        wait_for(lambda: not driver.find_elements(
            By.CSS_SELECTOR, "li.row[data-state='active']"), 10, "the row to leave 'active'")
        screenshot(output, "3-ended")
    finally:
        sipp.stop()
