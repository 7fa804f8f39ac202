#!/usr/bin/env python3
"""Prints one short paragraph per failing test from pytest JUnit XML files, for the end of
scripts/test.sh: the reason a test failed stays visible in the last lines of a long CI log.

usage: junit-digest.py FILE.xml [...]   (missing files are skipped)
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

MAX_CHARS = 1200
OUTPUT_LINES = 15
NOISE = ("ALSA lib ",)


def output_tail(case: ET.Element) -> str:
    """The last lines the test printed (with `-o junit_logging=out-err`), noise left out."""
    text = "\n".join((node.text or "") for tag in ("system-out", "system-err")
                     for node in case.iter(tag))
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith(NOISE)]
    return "\n".join(lines[-OUTPUT_LINES:])


def digest(path: Path) -> list[str]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        return [f"{path}: unreadable ({exc})"]
    lines = []
    for case in root.iter("testcase"):
        for kind in ("failure", "error"):
            node = case.find(kind)
            if node is None:
                continue
            name = f"{case.get('classname', '')}::{case.get('name', '')}"
            message = (node.get("message") or "").strip()
            text = (node.text or "").strip()
            # The last lines of the traceback say where; the message says what.
            where = "\n".join(text.splitlines()[-6:])
            body = f"{message}\n{where}" if message else where
            if len(body) > MAX_CHARS:
                body = "…" + body[-MAX_CHARS:]
            printed = output_tail(case)
            if printed:
                body += "\n--- what it printed, last lines ---\n" + printed[-MAX_CHARS:]
            lines.append(f"{kind.upper()} {name}\n  " + body.replace("\n", "\n  "))
    return lines


def main(argv: list[str]) -> int:
    found = []
    for arg in argv:
        path = Path(arg)
        if path.exists():
            found.extend(digest(path))
    if found:
        print("\n==================== failing tests ====================")
        print("\n".join(found))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
