"""Hostile input: malformed SIP over UDP and TCP, and the HTTP API's error paths."""

from __future__ import annotations

import random
import socket
import time

import requests

VALID_INVITE = (
    "INVITE sip:op@127.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{n}\r\n"
    "From: <sip:x@127.0.0.1>;tag={n}\r\n"
    "To: <sip:op@127.0.0.1>\r\n"
    "Call-ID: flood-{n}@127.0.0.1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:x@127.0.0.1:9>\r\n"
    "Max-Forwards: 70\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: {cl}\r\n\r\n{body}"
)
SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"


def malformed(n: int, rng: random.Random) -> bytes:
    """One malformed datagram; the kind cycles with n. Port 9 (discard) as the
    Via/Contact so that any answer goes nowhere."""
    good = VALID_INVITE.format(n=n, cl=len(SDP), body=SDP)
    kind = n % 14
    if kind == 0:   # truncated anywhere
        return good.encode()[: rng.randrange(1, len(good))]
    if kind == 1:   # oversized: 65 KB, the most UDP carries (70 KB goes over TCP below)
        return (good + "a=x:" + "y" * 70_000 + "\r\n").encode()[:65_000]
    if kind == 2:   # Content-Length larger than the body
        return VALID_INVITE.format(n=n, cl=99_999, body=SDP).encode()
    if kind == 3:   # huge Content-Length
        return VALID_INVITE.format(n=n, cl="99999999999999999999999", body=SDP).encode()
    if kind == 4:   # negative Content-Length
        return VALID_INVITE.format(n=n, cl=-5, body=SDP).encode()
    if kind == 5:   # no Via
        return "\r\n".join(l for l in good.split("\r\n") if not l.startswith("Via:")).encode()
    if kind == 6:   # random binary
        return rng.randbytes(rng.randrange(1, 1500))
    if kind == 7:   # headers only, no blank line
        return good.split("\r\n\r\n")[0].encode()
    if kind == 8:   # NUL bytes sprinkled in
        b = bytearray(good.encode())
        for _ in range(10):
            b[rng.randrange(len(b))] = 0
        return bytes(b)
    if kind == 9:   # CRLF only (keep-alive-like)
        return b"\r\n\r\n" * rng.randrange(1, 4)
    if kind == 10:  # garbage start line
        return good.replace("INVITE sip:op@127.0.0.1 SIP/2.0", "INVITE  SIP/9.9 \x01").encode()
    if kind == 11:  # a response nobody asked for, with a broken CSeq
        return (f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{n}\r\n"
                f"CSeq: abc INVITE\r\nCall-ID: r{n}\r\nContent-Length: 0\r\n\r\n").encode()
    if kind == 12:  # a single header line repeated a lot
        return (good.split("\r\n")[0] + "\r\n" + "Via: SIP/2.0/UDP 1.2.3.4\r\n" * 2000).encode()[:65_000]
    # broken UTF-8 and header folding
    return good.replace("From:", "From:\xff\xfe\r\n  \r\n").encode("latin-1")


def test_malformed_flood(console_factory, sipp_factory):
    console = console_factory(auto_answer=True)
    rng = random.Random(1234)
    target = ("127.0.0.1", console.sip_port)
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        for n in range(6000):
            try:
                udp.sendto(malformed(n, rng), target)
                sent += 1
            except OSError:
                pass  # e.g. EMSGSIZE; the next one goes
            if n % 500 == 499:
                time.sleep(0.02)  # let the loopback queue drain a little
    assert sent >= 5000, sent

    # TCP: a few hundred bad byte strings over a handful of connections.
    for c in range(20):
        try:
            with socket.create_connection(target, timeout=2) as tcp:
                for n in range(15):
                    tcp.sendall(malformed(c * 15 + n, rng)[:8000])
                if c == 0:  # oversized: 70 KB in one message
                    tcp.sendall((VALID_INVITE.format(n=c, cl=70_000, body="x" * 70_000)).encode())
                elif c % 2:
                    tcp.sendall(b"INVITE sip:x SIP/2.0\r\nContent-Length: 100000000\r\n\r\nabc")
        except OSError:
            pass  # the server may close a connection on bad input: that is allowed

    assert console.alive(), "console died under the malformed flood"
    assert console.get("/health").status_code == 200
    uac = sipp_factory("uac_after_flood", sn="uac", remote=console.sip_uri_host,
                       args=["-m", "1", "-d", "500"], timeout_s=30)
    rc = uac.run(timeout=40)
    assert rc == 0, f"a normal call failed after the flood: rc={rc}\n{uac.diagnostics()}"
    assert console.alive()
    assert console.get("/health").status_code == 200


def test_api_errors(console_factory):
    console = console_factory()
    base = console.base

    # Authentication.
    assert requests.get(f"{base}/calls", timeout=5).status_code == 401
    r = requests.get(f"{base}/calls", headers={"Authorization": "Bearer wrong-token"}, timeout=5)
    assert r.status_code == 401
    r = requests.get(f"{base}/health", timeout=5)
    assert r.status_code == 401, "every request needs the token, /health included"
    r = requests.get(f"{base}/calls", headers={"Authorization": f"Basic {console.token}"}, timeout=5)
    assert r.status_code == 401

    # Bad input.
    r = console.post("/calls", {"to": "not a uri!"})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body.get("code") and body.get("message"), body
    r = console.request("POST", "/calls", data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    r = console.post("/calls", {"nope": 1})
    assert r.status_code in (400, 422), r.text

    # Unknown calls.
    r = console.get("/calls/nope")
    assert r.status_code == 404, r.text
    assert r.json().get("code"), r.text
    r = console.post("/calls/nope/hangup")
    assert r.status_code == 404, r.text

    # DNS rebinding: a foreign Host header is refused even with the right token.
    r = console.get("/calls", headers={"Host": "evil.example.com"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    r = console.get("/health", headers={"Host": f"evil.example.com:{console.api_port}"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text)

    # And the console still serves normal requests.
    assert console.get("/calls").status_code == 200
