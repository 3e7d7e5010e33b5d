"""Peer policy at CER (RFC 6733 §5.3), election (§5.6.4), SCTP detection, answer counters."""

from __future__ import annotations

import errno
import socket

import pytest
from diameter.message.avp.grouped import VendorSpecificApplicationId
from diameter.message.commands import CapabilitiesExchangeRequest, MultimediaAuthAnswer

from ims.diameter import sctp
from ims.diameter.node import (
    APP_CX,
    APP_S6A,
    APP_SH,
    NodeSettings,
    PeerSettings,
    advertised_applications,
    answer_counter,
    peer_policy,
)
from ims.diameter.peers import (
    APP_RELAY,
    CerResult,
    PeerPolicy,
    cer_verdict,
    common_applications,
    election_won,
    parse_network,
)

REALM = "ims.mnc001.mcc001.3gppnetwork.org"
EPC = "epc.mnc001.mcc001.3gppnetwork.org"
OURS = (APP_CX, APP_SH, APP_S6A)
DEFAULT = PeerPolicy.build(realms=(REALM, EPC))


@pytest.mark.parametrize(("host", "realm", "address", "allowed"), [
    (f"scscf.{REALM}", REALM, "127.0.0.1", True),
    (f"mme.{EPC}", EPC.upper(), "127.0.0.53", True),
    (f"scscf.{REALM}", REALM, "::1", True),
    (f"scscf.{REALM}", REALM, "::ffff:127.0.0.1", True),
    (f"scscf.{REALM}", REALM, "10.0.0.5", False),
    ("tool.example", "example", "127.0.0.1", False),
    (f"scscf.{REALM}", REALM, "not-an-address", False),
])
def test_default_policy_allows_served_realms_from_loopback_only(
        host: str, realm: str, address: str, allowed: bool) -> None:
    assert DEFAULT.allows(host, realm, address) is allowed


def test_allowed_host_is_accepted_from_anywhere_case_insensitively() -> None:
    policy = PeerPolicy.build(hosts=("MME1.Lab.Example",), networks=())
    assert policy.allows("mme1.lab.example", "other.realm", "192.0.2.7")
    assert not policy.allows("mme2.lab.example", "other.realm", "192.0.2.7")


def test_realm_needs_both_realm_and_network() -> None:
    policy = PeerPolicy.build(realms=(REALM,), networks=("10.1.0.0/16", "2001:db8::/32"))
    assert policy.allows("a", REALM, "10.1.200.3")
    assert policy.allows("a", REALM, "2001:db8::1")
    assert not policy.allows("a", REALM, "10.2.0.1")
    assert not policy.allows("a", EPC, "10.1.0.1")


def test_accept_any_accepts_everyone() -> None:
    assert PeerPolicy.build(accept_any=True, networks=()).allows("x", "y", "203.0.113.9")


def test_bad_network_is_refused() -> None:
    with pytest.raises(ValueError, match="does not appear"):
        parse_network("10.0.0.0/33x")
    assert str(parse_network("192.0.2.1")) == "192.0.2.1/32"


@pytest.mark.parametrize(("advertised", "common"), [
    ((APP_CX,), (APP_CX,)),
    ((4, APP_S6A, APP_CX), (APP_CX, APP_S6A)),
    ((APP_RELAY,), OURS),
    ((4, 16777236), ()),
    ((), ()),
])
def test_common_applications(advertised: tuple[int, ...], common: tuple[int, ...]) -> None:
    assert common_applications(OURS, advertised) == common


@pytest.mark.parametrize(("host", "realm", "address", "apps", "verdict"), [
    ("s", REALM, "127.0.0.1", (APP_CX,), CerResult.DIAMETER_SUCCESS),
    ("s", REALM, "127.0.0.1", (4,), CerResult.DIAMETER_NO_COMMON_APPLICATION),
    ("s", "evil.example", "127.0.0.1", (APP_CX,), CerResult.DIAMETER_UNKNOWN_PEER),
    ("s", "evil.example", "127.0.0.1", (4,), CerResult.DIAMETER_UNKNOWN_PEER),
])
def test_cer_verdict(host: str, realm: str, address: str, apps: tuple[int, ...],
                     verdict: CerResult) -> None:
    assert cer_verdict(DEFAULT, OURS, host, realm, address, apps) is verdict


def test_election_compares_origin_hosts_case_insensitively() -> None:
    assert election_won(f"hss.{REALM}", f"alpha.{REALM}")
    assert not election_won(f"hss.{REALM}", f"scscf.{REALM}")
    assert not election_won("HSS.example", "hss.example")
    assert election_won("HSS.example", "alpha.example")


def test_advertised_applications_reads_plain_and_vendor_specific_ids() -> None:
    cer = CapabilitiesExchangeRequest()
    cer.auth_application_id = [APP_RELAY]
    cer.acct_application_id = [3]
    cer.vendor_specific_application_id = [
        VendorSpecificApplicationId(vendor_id=10415, auth_application_id=APP_CX),
        VendorSpecificApplicationId(vendor_id=10415, auth_application_id=APP_CX),
        VendorSpecificApplicationId(vendor_id=10415, acct_application_id=APP_S6A)]
    assert advertised_applications(cer) == (APP_RELAY, 3, APP_CX, APP_S6A)


def test_node_policy_defaults_to_served_realms_and_configured_peers() -> None:
    settings = NodeSettings(identity=f"hss.{REALM}", realm=REALM, listen_host="127.0.0.1",
                            listen_port=3868, applications=OURS, served_realms=(EPC,),
                            peers=(PeerSettings("mme.remote.example", "remote.example"),))
    policy = peer_policy(settings)
    assert policy.realms == {REALM, EPC}
    assert policy.hosts == {"mme.remote.example"}
    assert [str(net) for net in policy.networks] == ["127.0.0.0/8", "::1/128"]
    assert not policy.accept_any


def test_answer_counter_names_command_and_result() -> None:
    maa = MultimediaAuthAnswer()
    maa.result_code = 2001
    assert answer_counter("MAA", maa) == 'diameter_answers{command="MAA",result="2001"}'


def test_answer_counter_reads_experimental_result() -> None:
    maa = MultimediaAuthAnswer()
    maa.experimental_result = type("ER", (), {"experimental_result_code": 5001})()
    assert answer_counter("MAA", maa) == 'diameter_answers{command="MAA",result="5001"}'
    assert answer_counter("MAA", MultimediaAuthAnswer()).endswith('result="none"}')


def test_sctp_unavailable_in_kernel() -> None:
    found = sctp.detect(lambda: (False, "kernel has no SCTP"), lambda: True)
    assert (found.available, found.describe()) == (False, "unavailable: kernel has no SCTP")


def test_sctp_without_pysctp() -> None:
    found = sctp.detect(lambda: (True, ""), lambda: False)
    assert not found.available
    assert found.describe().startswith("unavailable: pysctp not installed")


def test_sctp_available_with_both() -> None:
    assert sctp.detect(lambda: (True, ""), lambda: True).describe() == "available"


def test_kernel_probe_maps_eprotonosupport(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> socket.socket:
        raise OSError(errno.EPROTONOSUPPORT, "Protocol not supported")
    monkeypatch.setattr(socket, "socket", refuse)
    assert sctp.detect(library_probe=lambda: True).describe() == (
        "unavailable: kernel has no SCTP")


def test_this_machine_is_probed_for_real() -> None:
    """The real probes: the answer matches what the kernel and the venv say."""
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, sctp.IPPROTO_SCTP).close()
        kernel = True
    except OSError:
        kernel = False
    found = sctp.detect()
    assert found.kernel is kernel
    if not kernel:
        assert found.describe() == "unavailable: kernel has no SCTP"
