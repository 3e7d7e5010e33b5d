"""The dataclass <-> AVP mapping rows the Cx/Sh/S6a helpers are declared with."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from diameter.message.avp import grouped as grp
from diameter.message.commands import MultimediaAuthRequest
from diameterwire import IMPI, IMPU, SCSCF, envelope, find, wire

from ims.diameter.cx import Mar, build_mar, read_mar, resync_item
from ims.diameter.mapping import INT, TEXT, Avp, Shape, Within, attribute, grouped, seq
from ims.diameter.results import AvpError, ResultCode

RAND = bytes(range(16))
AUTS = bytes(range(14))


@dataclass(frozen=True, slots=True)
class Caps:
    mandatory: tuple[int, ...] = ()
    names: tuple[str, ...] = ()


CAPS = Shape(
    Caps, grp.ServerCapabilities,
    Avp("mandatory", "Mandatory-Capability", seq(INT), absent=()),
    Avp("names", "Server-Name", seq(TEXT), absent=()),
)


def test_attribute_is_the_avp_name_in_snake_case() -> None:
    assert attribute("Visited-PLMN-Id") == "visited_plmn_id"
    assert attribute("E-UTRAN-Vector") == "e_utran_vector"


def test_a_row_for_an_avp_the_class_lacks_fails_at_declaration() -> None:
    with pytest.raises(TypeError, match="server_nam"):
        Shape(Caps, grp.ServerCapabilities, Avp("names", "Server-Nam", seq(TEXT)))
    with pytest.raises(TypeError, match="user_nam"):
        Within("Associated-Identities", grp.AssociatedIdentities, Avp("x", "User-Nam", TEXT))


def test_grouped_round_trip_through_the_library_class() -> None:
    caps = Caps((1, 2), ("sip:a", "sip:b"))
    group = grouped(CAPS).put(caps)
    assert isinstance(group, grp.ServerCapabilities)
    assert group.mandatory_capability == [1, 2] and group.server_name == ["sip:a", "sip:b"]
    assert grouped(CAPS).get(group, "Server-Capabilities") == caps


def test_absent_avp_takes_the_declared_value() -> None:
    assert CAPS.get(grp.ServerCapabilities()) == Caps()


def test_required_avp_absent_is_missing_avp_named_by_the_spec() -> None:
    msg = build_mar(Mar(envelope(), IMPI, IMPU, SCSCF, resync_item(RAND, AUTS)))
    msg.sip_number_auth_items = None
    with pytest.raises(AvpError) as info:
        read_mar(wire(msg))
    assert info.value.avp == "SIP-Number-Auth-Items"
    assert info.value.result_hint == ResultCode.DIAMETER_MISSING_AVP


def test_wrong_value_type_is_invalid_avp_value() -> None:
    with pytest.raises(AvpError) as info:
        CAPS.get(grp.ServerCapabilities(mandatory_capability=["x"]))
    assert info.value.avp == "Mandatory-Capability"
    assert info.value.result_hint == ResultCode.DIAMETER_INVALID_AVP_VALUE


def test_first_reads_the_first_of_repeated_values() -> None:
    mar = Mar(envelope(), IMPI, IMPU, SCSCF, resync_item(RAND, AUTS))
    msg = build_mar(mar)
    msg.public_identity = [IMPU, "tel:+15550100"]
    received = wire(msg)
    assert isinstance(received, MultimediaAuthRequest)
    assert [a.value for a in find(received, (601, 10415))] == [IMPU, "tel:+15550100"]
    assert read_mar(received) == mar
