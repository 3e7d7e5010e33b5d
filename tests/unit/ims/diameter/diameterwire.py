"""Shared helpers for the Diameter helper tests: encode, decode, inspect AVPs on the wire."""

from __future__ import annotations

from typing import Any

from diameter.message import Message

from ims.diameter.results import Answer, Envelope, Origin, Result

REALM = "ims.mnc001.mcc001.3gppnetwork.org"
IMPI = f"001010000000001@{REALM}"
IMPU = f"sip:001010000000001@{REALM}"
TEL = "tel:+15550100"
SCSCF = f"sip:scscf.{REALM}:6060"
HSS = Origin(f"hss.{REALM}", REALM)


def envelope(origin: str = "scscf", dest_host: str | None = f"hss.{REALM}") -> Envelope:
    """A request envelope from ``origin``.<realm> to the HSS."""
    return Envelope(
        session_id=f"{origin}.{REALM};1700000000;42",
        origin_host=f"{origin}.{REALM}",
        origin_realm=REALM,
        destination_realm=REALM,
        destination_host=dest_host,
    )


def answer_to(request: Envelope, result: Result, origin: Origin = HSS) -> Answer:
    """The answer envelope for ``request``."""
    return Answer.to(request, origin, result)


def wire(msg: Any) -> Any:
    """``msg`` encoded and decoded again, as a peer would receive it."""
    data = msg.as_bytes()
    assert len(data) == msg.header.length
    return Message.from_bytes(data)


def top_avps(msg: Any) -> list[tuple[int, int]]:
    """(code, vendor) of each top-level AVP of ``msg`` as encoded, in order."""
    plain = Message.from_bytes(msg.as_bytes(), plain_msg=True)
    return [(avp.code, avp.vendor_id) for avp in plain.avps]


def find(msg: Any, *path: tuple[int, int]) -> list[Any]:
    """The AVPs at the end of ``path`` in ``msg`` as encoded."""
    plain = Message.from_bytes(msg.as_bytes(), plain_msg=True)
    found: list[Any] = plain.find_avps(*path)
    return found
