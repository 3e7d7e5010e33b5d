"""Inside User-Mode Linux: a UE on IPv6 registers over ESP to the P-CSCF's ``ipv6_host``.

Issue 5, "Real kernel", for IPv6: the same lab as :mod:`test_ipsec_core` but
with IPv6 kept in both namespaces (:class:`ipsec_lab.Lab` ``ipv6=True``) and
``[pcscf] ipv6_host`` set, so the P-CSCF opens its protected ports on
:data:`~ipsec_lab.PCSCF_V6` too. The emulated UE at :data:`~ipsec_lab.UE1_V6`
registers with hmac-sha-1-96 and aes-cbc, its SAs naming the P-CSCF's IPv6
address (TS 33.203 §7.1: the P-CSCF's address of the UE's family), sends a
MESSAGE to itself and deregisters. Proofs read from the kernel and the wire:
the four SAs on each end with the same SPIs and agreeing, rising packet
counters; no clear-text UDP or TCP between the two IPv6 addresses after the
first ESP packet; no SA left after deregistration.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from ipsec_lab import (
    OPC,
    PCSCF_V6,
    SIP_PORT,
    UE1_V6,
    AgentProcess,
    Capture,
    Core,
    K,
    Lab,
    clear_text,
    core_up,
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

ALG, EALG = "hmac-sha-1-96", "aes-cbc"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with lab_up(f"ue6-{os.getpid()}", f"core6-{os.getpid()}", ipv6=True) as up:
        yield up


@pytest.fixture(scope="module")
def workdir() -> Path:
    return workdir_for("ims-ipsec-v6")  # a tmpfs in the guest


@pytest.fixture(scope="module")
def core(lab: Lab, workdir: Path) -> Iterator[Core]:
    with core_up(lab, workdir / "core") as up:
        yield up


def test_ipv6_ue_registers_and_messages_itself_over_esp(lab: Lab, core: Core,
                                                        workdir: Path) -> None:
    sub = provision(core, 1)
    capture = Capture(lab, workdir, "cap-v6")
    ue = None
    try:
        # 1. unprotected REGISTER to [PCSCF_V6]:5060 -> 401, SAs on both ends, protected
        #    REGISTER from port-c to port-s -> 200; then a MESSAGE to its own IMPU (out
        #    port-c -> port-s, back in port-c -> its port-s), answered 200
        ue = AgentProcess(lab, workdir, "ue-v6", "ue", "--host", UE1_V6, "--to",
                          f"[{PCSCF_V6}]:{SIP_PORT}", "--impi", sub.impi, "--impu", sub.impu,
                          "--k", K, "--opc", OPC, "--alg", ALG, "--ealg", EALG,
                          "--message-to", msisdn_impu(sub), "--expect-messages", "1")
        registered = ue.wait_for("registered")
        assert registered["registered"] is True, registered
        plan = registered["plan"]
        assert (plan["ue_host"], plan["pcscf_host"], plan["alg"], plan["ealg"]) == \
            (UE1_V6, PCSCF_V6, ALG, EALG), plan
        assert ue.wait_for("message_status")["message_status"] == 200, ue.lines()
        ue.wait_for("ready")
        # 2. four SAs per end between the two IPv6 addresses, same SPIs; every SA carried
        #    packets, and what one end encrypted the other decrypted
        ue_side, core_side = settled(lab, UE1_V6)
        assert len(ue_side) == 4 and len(core_side) == 4, (ue_side, core_side)
        assert {(sa.src, sa.dst) for sa in core_side} == \
            {(UE1_V6, PCSCF_V6), (PCSCF_V6, UE1_V6)}, core_side
        assert {sa.spi: sa.cur_packets for sa in ue_side} == \
            {sa.spi: sa.cur_packets for sa in core_side}
        assert all(sa.cur_packets > 0 for sa in core_side), core_side
        assert {(sa.auth_alg, sa.enc_alg) for sa in core_side} == {(ALG, EALG)}
        assert len(ue_status(core, UE1_V6)) == 4  # ims-cli status reads the same SAs
        # 3. deregistration (its 200 leaves through the SA) removes the SAs on both ends
        assert ue.finish() == 0, ue.lines()
        lines = ue.lines()
        assert [line["deregistered"] for line in lines if "deregistered" in line] == \
            ["Deregistered"], lines
        (received,) = [line["received"] for line in lines if "received" in line]
        assert [m["method"] for m in received] == ["MESSAGE"]
        wait_until(lambda: not sas_of(lab, lab.core, UE1_V6), 10, "the UE's SAs removed")
        assert sas_of(lab, lab.ue, UE1_V6) == []
    finally:
        rows = capture.stop()
        if ue is not None:
            ue.finish(5)
            print(f"--- {ue.out.name} ---\n{ue.out.read_text()}\n{ue.err.read_text()[-3000:]}")
    # 4. on the wire, after the first ESP packet (IPv6 next header 50): no UDP or TCP in clear
    #    between the UE and the P-CSCF
    leaked = [row for row in clear_text(rows, UE1_V6, PCSCF_V6) if row["proto"] in (6, 17)]
    assert leaked == [], timeline(rows, UE1_V6)
