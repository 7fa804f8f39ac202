"""Digest authentication: registration (401) and a proxy challenge on INVITE (407)."""

from __future__ import annotations

import re
import signal
import time

import pytest

from peers import digest_ok, sip_header, wait_for


def account_config(registrar_port: int, expires: int = 60) -> str:
    return f"""\
[[accounts]]
name = "main"
registrar = "sip:127.0.0.1:{registrar_port}"
username = "alice"
password = "secret"
domain = "127.0.0.1"
transport = "udp"
expires = {expires}
"""


def received(sipp, method: str) -> list[str]:
    return [m for d, m in sipp.messages() if d == "received" and m.startswith(method + " ")]


def log_count(sipp, pattern: str) -> int:
    return sum(1 for line in sipp.log_lines() if re.search(pattern, line))


@pytest.mark.parametrize("algo", ["MD5", "SHA-256"])
def test_register_digest(console_factory, sipp_factory, algo):
    """REGISTER -> 401 -> REGISTER with credentials -> 200 (Expires 4); a refresh
    before expiry; the un-REGISTER (Expires 0) on SIGTERM."""
    args = ["-m", "1", "-set", "algo", algo]
    if algo != "MD5":
        args += ["-set", "noverify", "1"]  # sipp 3.6 verifies MD5 only; checked below
    registrar = sipp_factory(f"registrar_{algo}", sf="registrar_401.xml", args=args,
                             timeout_s=90).start().wait_listening()
    console = console_factory(config=account_config(registrar.port))

    wait_for(lambda: log_count(registrar, r"REGISTER_OK n=1\b") >= 1, 15,
             "the first accepted REGISTER")
    acct = wait_for(lambda: next((a for a in console.accounts()
                                  if a["name"] == "main" and a["registered"]), None),
                    10, "/accounts to show main registered")
    assert acct["status"] == 200, acct
    assert acct["expires_in"] is not None and 0 <= acct["expires_in"] <= 4, \
        f"the granted expiry (4 s) must win over the requested 60: {acct}"

    t_first = time.monotonic()
    wait_for(lambda: log_count(registrar, r"REGISTER_OK n=2\b") >= 1, 8,
             "a refresh REGISTER (granted expiry 4 s)")
    assert time.monotonic() - t_first < 5.0

    assert console.stop(sig=signal.SIGTERM, grace=15) is not None
    rc = registrar.wait(timeout=15)
    regs = received(registrar, "REGISTER")
    call_ids = {sip_header(m, "Call-ID") for m in regs}
    assert rc == 0, (f"registrar scenario failed rc={rc} (Call-IDs seen: {call_ids}; a refresh "
                     f"must reuse the Call-ID)\n{registrar.diagnostics()}")
    assert log_count(registrar, r"unreg=1") == 1, registrar.log_lines()

    # Check every credential ourselves (also covers SHA-256, which sipp cannot).
    with_auth = [m for m in regs if sip_header(m, "Authorization")]
    assert len(with_auth) >= 3, f"expected >= 3 authenticated REGISTERs, got {len(with_auth)}"
    for m in with_auth:
        ok, params = digest_ok(sip_header(m, "Authorization"), "REGISTER", "secret")
        assert ok, f"bad digest response: {params}"
        assert params["username"] == "alice" and params["realm"] == "switchboard.test", params
        assert params.get("algorithm", "MD5").upper() == algo, params
        assert params.get("qop") == "auth" and params.get("cnonce") and params.get("nc"), params
    cseqs = [int(sip_header(m, "CSeq").split()[0]) for m in regs]
    assert cseqs == sorted(cseqs) and len(set(cseqs)) == len(cseqs), f"CSeq must increase: {cseqs}"


def test_invite_proxy_auth_407(console_factory, sipp_factory):
    """POST /calls to a UAS that answers 407 first: the console retries with
    Proxy-Authorization, the call becomes active, then hangs up by API."""
    # A registrar for the account (the 407 UAS must not see REGISTERs).
    registrar = sipp_factory("registrar", sf="registrar_401.xml",
                             args=["-m", "1", "-set", "algo", "MD5"], timeout_s=90).start().wait_listening()
    uas = sipp_factory("uas_407", sf="uas_407.xml", args=["-m", "1"], timeout_s=60).start().wait_listening()
    console = console_factory(config=account_config(registrar.port))

    call = console.dial(f"sip:bob@127.0.0.1:{uas.port}")
    console.wait_call_state(call["id"], "active", timeout=15)
    console.hangup(call["id"])
    rc = uas.wait(timeout=20)
    assert rc == 0, f"uas_407 rc={rc}\n{uas.diagnostics()}"

    invites = received(uas, "INVITE")
    assert len(invites) >= 2, invites
    first, second = invites[0], invites[-1]
    assert sip_header(first, "Call-ID") == sip_header(second, "Call-ID")
    assert int(sip_header(second, "CSeq").split()[0]) > int(sip_header(first, "CSeq").split()[0])
    pa = sip_header(second, "Proxy-Authorization")
    assert pa, second
    ok, params = digest_ok(pa, "INVITE", "secret")
    assert ok, f"bad Proxy-Authorization digest: {params}"
    assert params["realm"] == "switchboard.test" and params["username"] == "alice", params
    ended = console.wait_call_state(call["id"], "ended", timeout=10)
    assert ended["end_reason"] == "local_hangup", ended
