"""Throughput of the SIP message layer (RFC 3261 §7) on one core: ``ims.sip.message``.

Run: ``.venv/bin/python bench/bench_parse.py [--seconds S]``. Prints a
Markdown table (messages per second, best of five runs) for:

- parse: ``parse_message`` alone (lazy: start line and header lines only);
- parse + serialize: ``parse_message(...).to_bytes()``;
- proxy path: parse, read what a stateful proxy reads (top Via, Route,
  Max-Forwards, CSeq, Call-ID; RFC 3261 §16.3-16.6), decrement
  Max-Forwards, add a Via on top, serialize;
- parse + validate: ``parse_message`` then ``validate_request`` (every
  header a server acts on is parsed).

The messages are a typical IMS REGISTER (digest AKA Authorization,
Security-Client, Contact with feature tags, Path, P-Access-Network-Info)
and an originating INVITE with an SDP offer. This is
a measurement, never a pass/fail test (``docs/architecture.md``, Tests).
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

from ims.sip.message import Request, parse_message, validate_request

REGISTER = (
    b"REGISTER sip:ims.mnc001.mcc001.3gppnetwork.org SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.45.0.2:5066;rport;branch=z9hG4bK1786342399\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: <sip:001010000123511@ims.mnc001.mcc001.3gppnetwork.org>;tag=1786342221\r\n"
    b"To: <sip:001010000123511@ims.mnc001.mcc001.3gppnetwork.org>\r\n"
    b"Call-ID: 1786342221_2283562376@10.45.0.2\r\n"
    b"CSeq: 2 REGISTER\r\n"
    b"Contact: <sip:001010000123511@10.45.0.2:5066>;+sip.instance=\"<urn:gsma:imei:35622410-038130-0>\";"
    b"+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\";+g.3gpp.smsip\r\n"
    b"Authorization: Digest username=\"001010000123511@ims.mnc001.mcc001.3gppnetwork.org\","
    b"realm=\"ims.mnc001.mcc001.3gppnetwork.org\",uri=\"sip:ims.mnc001.mcc001.3gppnetwork.org\","
    b"nonce=\"XwPJjvL1S0nKGEPtJYl3mVfRnd1lX8AAQ5O1bAAAAAA=\",response=\"d2c7b8a4d1b0f7c86ad2b0c0e4b7c9f1\","
    b"algorithm=AKAv1-MD5\r\n"
    b"Security-Client: ipsec-3gpp;alg=hmac-sha-1-96;ealg=null;spi-c=3929102;spi-s=3929103;port-c=5065;port-s=5066\r\n"
    b"Require: sec-agree\r\n"
    b"Path: <sip:term@pcscf.ims.mnc001.mcc001.3gppnetwork.org;lr>\r\n"
    b"P-Access-Network-Info: 3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=0010100010019B01\r\n"
    b"Expires: 600000\r\n"
    b"Content-Length: 0\r\n\r\n"
)

SDP = (
    "v=0\r\n"
    "o=- 1795235426 1795235426 IN IP4 10.45.0.2\r\n"
    "s=-\r\n"
    "c=IN IP4 10.45.0.2\r\n"
    "t=0 0\r\n"
    "m=audio 49152 RTP/AVP 116 107 97 111 110\r\n"
    "b=AS:41\r\n"
    "a=rtpmap:116 AMR-WB/16000/1\r\n"
    "a=fmtp:116 mode-change-capability=2;max-red=0\r\n"
    "a=rtpmap:107 AMR-WB/16000/1\r\n"
    "a=fmtp:107 octet-align=1;mode-change-capability=2;max-red=0\r\n"
    "a=rtpmap:97 AMR/8000/1\r\n"
    "a=rtpmap:111 telephone-event/16000\r\n"
    "a=rtpmap:110 telephone-event/8000\r\n"
    "a=curr:qos local none\r\n"
    "a=curr:qos remote none\r\n"
    "a=des:qos mandatory local sendrecv\r\n"
    "a=des:qos optional remote sendrecv\r\n"
    "a=sendrecv\r\n"
    "a=ptime:20\r\n"
    "a=maxptime:240\r\n"
)

INVITE = (
    "INVITE tel:+15551230002 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.45.0.2:5066;rport;branch=z9hG4bK2712593816\r\n"
    "Max-Forwards: 70\r\n"
    "Route: <sip:10.45.0.1:5066;lr>, <sip:orig@scscf.ims.mnc001.mcc001.3gppnetwork.org:6060;lr>\r\n"
    "From: <sip:001010000123511@ims.mnc001.mcc001.3gppnetwork.org>;tag=2712593637\r\n"
    "To: <tel:+15551230002>\r\n"
    "Call-ID: 2712593637_2283581304@10.45.0.2\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:001010000123511@10.45.0.2:5066>;+sip.instance=\"<urn:gsma:imei:35622410-038130-0>\";"
    "+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\";audio\r\n"
    "Accept-Contact: *;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\"\r\n"
    "P-Preferred-Service: urn:urn-7:3gpp-service.ims.icsi.mmtel\r\n"
    "P-Preferred-Identity: <sip:001010000123511@ims.mnc001.mcc001.3gppnetwork.org>\r\n"
    "P-Access-Network-Info: 3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=0010100010019B01\r\n"
    "Security-Verify: ipsec-3gpp;alg=hmac-sha-1-96;ealg=null;spi-c=5001;spi-s=5002;port-c=5100;port-s=6100\r\n"
    "Require: sec-agree\r\n"
    "Proxy-Require: sec-agree\r\n"
    "Supported: 100rel,timer,precondition\r\n"
    "Allow: INVITE,ACK,OPTIONS,CANCEL,BYE,UPDATE,INFO,REFER,NOTIFY,MESSAGE,PRACK\r\n"
    "Session-Expires: 1800\r\n"
    "Content-Type: application/sdp\r\n"
    f"Content-Length: {len(SDP)}\r\n\r\n"
    f"{SDP}"
).encode()

PROXY_VIA = "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK5f3a.1c2d3e4f.0"


def parse_only(data: bytes) -> object:
    return parse_message(data)


def parse_serialize(data: bytes) -> bytes:
    return parse_message(data).to_bytes()


def proxy_path(data: bytes) -> bytes:
    msg = parse_message(data)
    assert isinstance(msg, Request)
    msg.top_via.branch  # noqa: B018 -- what a proxy reads
    msg.routes  # noqa: B018
    max_forwards = msg.max_forwards
    msg.cseq  # noqa: B018
    msg.call_id  # noqa: B018
    msg.set("Max-Forwards", str((max_forwards or 70) - 1))
    msg.add("Via", PROXY_VIA, first=True)
    return msg.to_bytes()


def parse_validate(data: bytes) -> object:
    msg = parse_message(data)
    assert isinstance(msg, Request)
    validate_request(msg)
    return msg


def rate(func: Callable[[bytes], object], data: bytes, seconds: float) -> float:
    """Messages per second: best of five runs of about ``seconds`` / 5 each."""
    func(data)
    n = 1000
    start = time.perf_counter()
    for _ in range(n):
        func(data)
    per_call = (time.perf_counter() - start) / n
    loops = max(1000, int(seconds / 5 / per_call))
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(loops):
            func(data)
        best = max(best, loops / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement (default 5)")
    args = parser.parse_args()
    cases = [("parse", parse_only), ("parse + serialize", parse_serialize),
             ("proxy path (read, add Via, serialize)", proxy_path), ("parse + validate_request", parse_validate)]
    print(f"Python {platform.python_version()} on {platform.machine()}, one core\n")
    print(f"| operation | REGISTER ({len(REGISTER)} B) msg/s | INVITE+SDP ({len(INVITE)} B) msg/s |")
    print("|---|---:|---:|")
    for label, func in cases:
        reg = rate(func, REGISTER, args.seconds)
        inv = rate(func, INVITE, args.seconds)
        print(f"| {label} | {reg:,.0f} | {inv:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
