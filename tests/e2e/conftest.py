"""Fixtures for the end-to-end tests.

Each test gets an artifact directory test-output/<test name>/ (logs of every
process it started, sipp traces, WebSocket events) and factories for the
console, sipp and baresip. Every process started through a factory is stopped
in teardown; when the test failed, the tails of its logs are printed.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import REPO, Baresip, Console, EventStream, Sipp, tail  # noqa: E402

OUTPUT = REPO / "test-output"


def pytest_configure(config):
    OUTPUT.mkdir(exist_ok=True)
    gi = OUTPUT / ".gitignore"
    if not gi.exists():
        gi.write_text("*\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture
def artifacts(request) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    path = OUTPUT / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture
def procs(request, artifacts):
    """Registry of everything the test started; stopped (and logs shown) at teardown."""
    started: list = []
    yield started
    for p in reversed(started):
        try:
            p.stop()
        except Exception as exc:  # keep stopping the others
            print(f"teardown: stopping {p!r} failed: {exc!r}")
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print(f"\n===== logs of {request.node.name} ({artifacts}) =====")
        for f in sorted(artifacts.iterdir()):
            if f.is_file() and f.suffix in (".log", ".err", ".stderr", ".screen", ".jsonl") \
                    and f.stat().st_size:
                print(f"\n----- {f.name} (last 40 lines) -----\n{tail(f, 40)}")


@pytest.fixture
def console_factory(artifacts, procs, tmp_path):
    def make(name: str = "console", start: bool = True, data_dir: Path | None = None, **kw) -> Console:
        c = Console(artifacts, data_dir or (tmp_path / f"{name}-data"), name=name, **kw)
        procs.append(c)
        if start:
            c.start()
        return c
    return make


@pytest.fixture
def sipp_factory(artifacts, procs):
    def make(name: str, **kw) -> Sipp:
        s = Sipp(artifacts, name, **kw)
        procs.append(s)
        return s
    return make


@pytest.fixture
def baresip_factory(artifacts, procs):
    if shutil.which("baresip") is None:
        pytest.skip("baresip not installed (scripts/setup.sh installs baresip-core)")

    def make(name: str = "baresip", **kw) -> Baresip:
        b = Baresip(artifacts, name, **kw)
        procs.append(b)
        b.start()
        return b
    return make


@pytest.fixture
def events_factory(procs):
    def make(console: Console) -> EventStream:
        ev = EventStream(console)

        class _Stopper:
            def stop(self):
                ev.close()
        procs.append(_Stopper())
        return ev
    return make


def pytest_collection_modifyitems(config, items):
    if shutil.which("sipp") is None:
        skip = pytest.mark.skip(reason="sipp not installed (scripts/setup.sh installs sip-tester)")
        for item in items:
            item.add_marker(skip)
    binary = Path(os.environ.get("SWITCHBOARD_BIN", REPO / "target" / "debug" / "switchboard"))
    if not binary.exists():
        # Fail loudly rather than skip: a missing binary means a broken build.
        pass


@pytest.fixture
def linphonec_factory(artifacts, procs):
    if shutil.which("linphonec") is None:
        pytest.skip("linphonec not installed (scripts/setup.sh installs linphone-cli)")

    from peers import Linphonec

    def make(name: str = "linphonec") -> Linphonec:
        lp = Linphonec(artifacts, name)
        procs.append(lp)
        lp.start()
        return lp
    return make
