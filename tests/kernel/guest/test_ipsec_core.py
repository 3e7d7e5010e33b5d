"""Inside User-Mode Linux: the whole core with ``ipsec = "required"`` and the emulated UE over ESP.

Issue 5, "Real kernel": the core (``ims-cli run``: HSS, I-CSCF, S-CSCF on
127.0.0.1, P-CSCF on 10.99.0.2) runs in one network namespace, the UEs
(10.99.0.1, 10.99.0.3) in another, joined by a veth pair (:mod:`ipsec_lab`).
The emulated UE (:mod:`ipsec_ue_agent`) sends Security-Client, installs its
own SAs in its namespace and sends the protected REGISTER and a MESSAGE over
them (TS 33.203 §7.1, §7.2; RFC 3329). Proofs, all read from the kernel or
the wire: per-SA ``cur_packets`` on both sides, an AF_PACKET capture on the
core's veth with only IP protocol 50 between the UEs and the protected ports,
no answer to a datagram sent to port-s without ESP, exactly one UE's SAs gone
after its deregistration. One core serves the module; every wait is bounded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from ipsec_lab import (
    CLEAR_PORT,
    ESP,
    OPC,
    PCSCF,
    POOL_SIZE,
    PORT_C,
    PORT_S,
    PROBE,
    SIP_PORT,
    UE1,
    UE2,
    AgentProcess,
    Capture,
    Core,
    K,
    Lab,
    Subscriber,
    agent,
    clear_text,
    core_up,
    esp_keys,
    icv_valid,
    lab_up,
    msisdn_impu,
    provision,
    sas_of,
    settled,
    timeline,
    ue_status,
    wait_until,
    workdir_for,
)

from ims.sip.headers.security import parse_security_mechanisms

PCSCF_SIP = f"{PCSCF}:{SIP_PORT}"
ALGORITHMS = [("hmac-sha-1-96", "aes-cbc"), ("hmac-md5-96", "null")]
#: The protected port pools.
PROTECTED = set(range(PORT_S, PORT_S + POOL_SIZE)) | set(range(PORT_C, PORT_C + POOL_SIZE))


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with lab_up(f"ue{os.getpid()}", f"core{os.getpid()}") as up:
        yield up


@pytest.fixture(scope="module")
def workdir() -> Path:
    return workdir_for("ims-ipsec")  # a tmpfs in the guest


@pytest.fixture(scope="module")
def core(lab: Lab, workdir: Path) -> Iterator[Core]:
    with core_up(lab, workdir / "core") as up:
        yield up


_subscribers = iter(range(1, 1000))


def subscriber(core: Core) -> Subscriber:
    return provision(core, next(_subscribers))


# -- what works with the core alone ---------------------------------------------------------
def test_core_runs_with_ipsec_required_and_kernel_esp(core: Core) -> None:
    status = core.cli("status")
    assert status["exit"] == 0, status
    (pcscf,) = [entry for entry in status["processes"] if entry["name"] == "pcscf"]
    ipsec = pcscf["ipsec"]
    assert ipsec["mode"] == "required" and ipsec["kernel_esp"] is True, ipsec
    assert ipsec["sa_count"] == 0 and ipsec["ues"] == []


def test_unprotected_register_gets_401_with_security_server(lab: Lab, core: Core) -> None:
    sub = subscriber(core)
    answer = agent(lab, "probe", "--host", PROBE, "--to", PCSCF_SIP, "--impi", sub.impi,
                   "--impu", sub.impu, "--alg", "hmac-sha-1-96", "--ealg", "aes-cbc")
    assert answer["status"] == 401, answer
    assert len(answer["www_authenticate"]) == 1
    assert "ck=" not in answer["www_authenticate"][0]  # IK/CK never reach the UE
    assert "ik=" not in answer["www_authenticate"][0]
    (server,) = parse_security_mechanisms(answer["security_server"])
    assert (server.alg, server.ealg, server.prot, server.mod) == \
        ("hmac-sha-1-96", "aes-cbc", "esp", "trans")
    assert server.port_s in PROTECTED and server.port_c in PROTECTED
    assert server.spi_c is not None and server.spi_c > 255
    assert server.spi_s is not None and server.spi_s > 255
    # the P-CSCF installed the four SAs of the offer before the 401 left (TS 33.203 §7.1)
    installed = sas_of(lab, lab.core, PROBE)
    assert len(installed) == 4, installed
    flows = {(sa.src, sa.dst, sa.spi) for sa in installed}
    # TS 33.203 §7.1: the P-CSCF receives with its own spi-c/spi-s, sends with the UE's
    assert (PROBE, PCSCF, server.spi_s) in flows and (PROBE, PCSCF, server.spi_c) in flows
    assert (PCSCF, PROBE, 40001) in flows and (PCSCF, PROBE, 40002) in flows
    assert {(sa.auth_alg, sa.enc_alg) for sa in installed} == {("hmac-sha-1-96", "aes-cbc")}
    assert all(sa.cur_packets == 0 for sa in installed)
    assert {sa.src_port for sa in installed if sa.src == PROBE} == \
        {answer["port"] + 1, answer["port"] + 2}


# -- the emulated UE over ESP --------------------------------------------------------------------
def ue_args(sub: Subscriber, host: str, alg: str, ealg: str, *extra: str) -> list[str]:
    return ["ue", "--host", host, "--to", PCSCF_SIP, "--impi", sub.impi, "--impu", sub.impu,
            "--k", K, "--opc", OPC, "--alg", alg, "--ealg", ealg, *extra]


def dropped_unprotected(core: Core) -> int:
    counters: dict[str, float] = core.process_status("pcscf")["counters"]
    return int(counters["sip_dropped_unprotected"])


@pytest.mark.parametrize(("alg", "ealg"), ALGORITHMS)
def test_two_ues_register_and_message_over_esp(lab: Lab, core: Core, workdir: Path, alg: str,
                                               ealg: str) -> None:
    first, second = subscriber(core), subscriber(core)
    tag = f"{alg}-{ealg}"
    capture = Capture(lab, workdir, f"cap-{tag}")
    two = one = None
    try:
        # 1. UE 2 registers with IPsec: unprotected REGISTER -> 401 with Security-Server,
        #    SAs on both ends, protected REGISTER from its port-c to port-s -> 200
        two = AgentProcess(lab, workdir, f"ue2-{tag}", *ue_args(
            second, UE2, alg, ealg, "--expect-messages", "1"))
        registered = two.wait_for("registered")
        assert registered["registered"] is True, registered
        assert (registered["plan"]["alg"], registered["plan"]["ealg"]) == (alg, ealg)
        two.wait_for("ready")
        # 2. UE 1 registers alongside, sends a MESSAGE to its own IMPU (out port-c -> port-s,
        #    back in port-c -> its port-s) and one of 1,400 octets to UE 2 (over TCP:
        #    RFC 3261 §18.1.1), both answered 200
        one = AgentProcess(lab, workdir, f"ue1-{tag}", *ue_args(
            first, UE1, alg, ealg, "--message-to", msisdn_impu(first), "--big-to",
            msisdn_impu(second), "--big-size", "1400", "--expect-messages", "1"))
        assert one.wait_for("registered")["registered"] is True, one.lines()
        assert one.wait_for("message_status")["message_status"] == 200, one.lines()
        assert one.wait_for("big_status")["big_status"] == 200, one.lines()
        one.wait_for("ready")
        # 3. four SAs per UE on each end, same SPIs; every SA carried packets, and what one
        #    end encrypted the other decrypted
        for host in (UE1, UE2):
            ue_side, core_side = settled(lab, host)
            assert len(ue_side) == 4 and len(core_side) == 4, (host, ue_side, core_side)
            assert {sa.spi: sa.cur_packets for sa in ue_side} == \
                {sa.spi: sa.cur_packets for sa in core_side}
            assert all(sa.cur_packets > 0 for sa in core_side), core_side
            assert {(sa.auth_alg, sa.enc_alg) for sa in core_side} == {(alg, ealg)}
            rows = ue_status(core, host)  # ims-cli status reads the same kernel counters
            assert len(rows) == 4, rows
        # 4. the esp_keys_file holds both UEs' SAs in Wireshark's esp_sa format
        spis = {sa.spi for host in (UE1, UE2) for sa in sas_of(lab, lab.core, host)}
        keys = {spi: key for spi, key in esp_keys(core.workdir / "esp_sa").items() if spi in spis}
        assert set(keys) == spis and len(spis) == 8
        # 5. a datagram to port-s without ESP gets nothing
        #    (no policy covers this source port, so the kernel hands it to the P-CSCF, whose
        #    gate drops it and counts it)
        port_s = registered["plan"]["port_ps"]
        dropped = dropped_unprotected(core)
        clear = agent(lab, "clear", "--host", UE1, "--port", str(CLEAR_PORT), "--to",
                      f"{PCSCF}:{port_s}", "--wait", "3")
        assert clear["answered"] is False, clear
        assert dropped_unprotected(core) == dropped + 1
        # 6. UE 1 deregisters (the 200 leaves through the SA): exactly its SAs go
        assert one.finish() == 0, one.lines()
        lines = one.lines()
        assert [line["deregistered"] for line in lines if "deregistered" in line] == \
            ["Deregistered"], lines
        (received,) = [line["received"] for line in lines if "received" in line]
        assert [m["method"] for m in received] == ["MESSAGE"]
        wait_until(lambda: not sas_of(lab, lab.core, UE1), 10, "UE 1's SAs removed")
        assert sas_of(lab, lab.ue, UE1) == []
        assert len(sas_of(lab, lab.core, UE2)) == 4 and len(sas_of(lab, lab.ue, UE2)) == 4
        # 7. UE 2 got the large MESSAGE over TCP (the P-CSCF's Via), then deregisters
        assert two.finish() == 0, two.lines()
        (big,) = [line["received"] for line in two.lines() if "received" in line]
        assert big[0]["method"] == "MESSAGE" and big[0]["body_len"] == 1400, big
        assert big[0]["via"].startswith("SIP/2.0/TCP "), big
        wait_until(lambda: not sas_of(lab, lab.core, UE2), 10, "UE 2's SAs removed")
    finally:
        rows = capture.stop()
        for process in (one, two):
            if process is not None:
                process.finish(5)
                print(f"--- {process.out.name} ---\n{process.out.read_text()}\n"
                      f"{process.err.read_text()[-3000:]}")
    # 8. on the wire, after the first ESP packet: no clear-text SIP between either UE and the
    #    P-CSCF (no UDP, no TCP segment with payload, no TCP connection set up in clear: the
    #    large MESSAGE's TCP is inside ESP too) ...
    #    The exported keys authenticate the captured ESP packets (RFC 4303 ICV).
    esp = [row for row in rows if row.get("proto") == ESP and row["spi"] in keys]
    assert {row["spi"] for row in esp} == set(keys), (sorted(keys), esp)
    assert all(icv_valid(bytes.fromhex(row["esp"]), *keys[row["spi"]]) for row in esp)
    for host in (UE1, UE2):
        leaked = [row for row in clear_text(rows, host)
                  if row["proto"] != 6 or row["payload"] > 0 or "S" in row["flags"]]
        assert leaked == [], timeline(rows, host)
    # ... and not even the TCP teardown of connections on protected ports (TS 33.203 §7.1:
    #    every packet of these flows is ESP; the connections must close before their SAs go)
    for host in (UE1, UE2):
        assert clear_text(rows, host) == [], timeline(rows, host)
