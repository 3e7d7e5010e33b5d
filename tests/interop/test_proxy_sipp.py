"""The stateful proxy against SIPp (RFC 3261 §16), checked on the wire with tshark.

Each test runs bounded SIPp instances (fixed ``-m`` call counts, a global
``-timeout``) against the proxy process of the ``proxy`` fixture. SIPp's exit
code and its statistics file say whether every expected response came; the
proxy's own counters (printed at exit) say what it relayed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interop.conftest import (
    Capture,
    ProxyProcess,
    SippRun,
    free_udp_port,
    sipp_command,
    sipp_result,
    start_sipp,
    wait_udp_bound,
)

pytestmark = pytest.mark.interop


def run_uac(sipp: str, tmp_path: Path, scenario: str, proxy: ProxyProcess, *, calls: int,
            keys: dict[str, str] | None = None) -> SippRun:
    cmd = sipp_command(sipp, scenario, tmp_path, port=free_udp_port(), calls=calls,
                       remote=proxy.address, keys=keys, extra=("-r", "20"))
    return sipp_result(start_sipp(cmd), tmp_path, scenario)


def through_proxy(sipp: str, tmp_path: Path, proxy: ProxyProcess, uac: str, uas: str,
                  calls: int) -> tuple[SippRun, SippRun]:
    """Run a SIPp UAS, then a SIPp UAC whose requests preload a Route to the proxy."""
    uas_port = free_udp_port()
    server = start_sipp(sipp_command(sipp, uas, tmp_path, port=uas_port, calls=calls))
    try:
        wait_udp_bound(uas_port)
        client = run_uac(sipp, tmp_path, uac, proxy, calls=calls,
                         keys={"uas": f"127.0.0.1:{uas_port}"})
        return client, sipp_result(server, tmp_path, uas)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()


def assert_all_calls_succeeded(run: SippRun, calls: int) -> None:
    assert run.returncode == 0, run.output[-2000:]
    assert run.count("SuccessfulCall(C)") == calls
    assert run.count("FailedCall(C)") == 0


def test_options_to_the_proxy_gets_200(sipp: str, proxy: ProxyProcess, tmp_path: Path) -> None:
    run = run_uac(sipp, tmp_path, "options.xml", proxy, calls=3)
    assert_all_calls_succeeded(run, 3)
    assert proxy.stop()["responses_local"] == 3


def test_max_forwards_zero_gets_483(sipp: str, proxy: ProxyProcess, tmp_path: Path) -> None:
    run = run_uac(sipp, tmp_path, "uac_max_forwards.xml", proxy, calls=2,
                  keys={"uas": f"127.0.0.1:{free_udp_port()}"})
    assert_all_calls_succeeded(run, 2)
    counters = proxy.stop()
    assert counters["too_many_hops_483"] == 2 and counters["requests_relayed"] == 0


def test_message_is_relayed_to_the_uas(sipp: str, proxy: ProxyProcess, tmp_path: Path) -> None:
    client, server = through_proxy(sipp, tmp_path, proxy, "uac_message.xml", "uas_message.xml", 5)
    assert_all_calls_succeeded(client, 5)
    assert_all_calls_succeeded(server, 5)
    counters = proxy.stop()
    assert counters["requests_relayed"] == 5 and counters["responses_relayed"] == 5


def test_invite_call_flow_is_relayed(sipp: str, proxy: ProxyProcess, tmp_path: Path) -> None:
    client, server = through_proxy(sipp, tmp_path, proxy, "uac_invite.xml", "uas_invite.xml", 3)
    assert_all_calls_succeeded(client, 3)
    assert_all_calls_succeeded(server, 3)
    counters = proxy.stop()
    # INVITE and BYE statefully (3 calls x 2), ACK statelessly (§16.11).
    assert counters["requests_relayed"] == 6 and counters["acks_relayed"] == 3
    assert counters["responses_relayed"] == 9  # 180, 200 (INVITE) and 200 (BYE) per call


def sip_lines(capture: Capture) -> list[list[str]]:
    out = capture.read(
        "-Y", "sip", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a",
        "-E", "aggregator=;", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "sip.Method",
        "-e", "sip.Status-Code", "-e", "sip.Via", "-e", "sip.Record-Route", "-e", "sip.Route",
    )
    return [line.split("|") for line in out.splitlines() if line]


def test_capture_of_a_call_is_well_formed(
    sipp: str, tshark: str, proxy: ProxyProcess, tmp_path: Path,
) -> None:
    uas_port = free_udp_port()
    capture = Capture(tshark, [proxy.port, uas_port], tmp_path / "call.pcapng")
    server = start_sipp(sipp_command(sipp, "uas_invite.xml", tmp_path, port=uas_port, calls=1))
    try:
        wait_udp_bound(uas_port)
        client = run_uac(sipp, tmp_path, "uac_invite.xml", proxy, calls=1,
                         keys={"uas": f"127.0.0.1:{uas_port}"})
        assert_all_calls_succeeded(client, 1)
        assert_all_calls_succeeded(sipp_result(server, tmp_path, "uas_invite.xml"), 1)
    finally:
        capture.stop(expect_sip_packets=13)
        if server.poll() is None:
            server.kill()

    assert capture.read("-Y", "_ws.malformed", "-T", "fields", "-e", "frame.number").split() == []
    expert = capture.read("-q", "-z", "expert,error")
    assert "Errors (" not in expert, expert

    lines = sip_lines(capture)
    methods = {f[2] for f in lines if f[2]}
    codes = {f[3] for f in lines if f[3]}
    assert {"INVITE", "ACK", "BYE"} <= methods
    assert {"100", "180", "200"} <= codes
    to_uas = [f for f in lines if f[1] == str(uas_port) and f[2] == "INVITE"]
    assert to_uas, lines
    _, _, _, _, vias, record_route, route = to_uas[0]
    assert len(vias.split(";branch=")) == 3  # our Via on top of the UAC's
    assert f"127.0.0.1:{proxy.port}" in vias.split(",")[0]
    assert record_route == f"<sip:127.0.0.1:{proxy.port};lr>"
    assert route == ""  # our preloaded Route was removed (§16.4)


def test_tshark_sees_no_errors_in_rejections(
    sipp: str, tshark: str, proxy: ProxyProcess, tmp_path: Path,
) -> None:
    capture = Capture(tshark, [proxy.port], tmp_path / "reject.pcapng")
    try:
        run = run_uac(sipp, tmp_path, "uac_max_forwards.xml", proxy, calls=1,
                      keys={"uas": f"127.0.0.1:{free_udp_port()}"})
        assert_all_calls_succeeded(run, 1)
        options = run_uac(sipp, tmp_path, "options.xml", proxy, calls=1)
        assert_all_calls_succeeded(options, 1)
    finally:
        capture.stop(expect_sip_packets=4)
    assert capture.read("-Y", "_ws.malformed", "-T", "fields", "-e", "frame.number").split() == []
    assert "Errors (" not in capture.read("-q", "-z", "expert,error")
    codes = {f[3] for f in sip_lines(capture) if f[3]}
    assert codes == {"483", "200"}

