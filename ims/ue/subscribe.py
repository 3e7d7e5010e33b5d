"""The UE's subscription to its registration state (RFC 3680, TS 24.229 §5.1.1.3).

* :func:`build_subscribe` — the SUBSCRIBE to the ``reg`` event package
  (TS 24.229 §5.1.1.3): Request-URI, From and To the IMPU, ``Event: reg``,
  ``Accept: application/reginfo+xml``, ``Expires`` (600000 by default),
  Route preloaded from the Service-Route of the registration (§5.1.2A.1).
* :func:`parse_reginfo` — the ``application/reginfo+xml`` document of
  RFC 3680 §5.3 into :class:`RegInfo` / :class:`RegRegistration` /
  :class:`RegContact`.
* :class:`RegSubscription` — the subscription dialog (RFC 6665 §4.1.2,
  RFC 3261 §12): it learns the remote tag and route set from the 2xx, and
  checks each NOTIFY (:meth:`RegSubscription.on_notify`): in-dialog
  (Call-ID, tags), CSeq increasing (RFC 3261 §12.2.2: else 500), ``Event:
  reg``, a parseable body, and a reginfo ``version`` one above the previous
  (RFC 3680 §5.2.1, TS 24.229 §5.4.2.1.2). A version gap is reported in
  ``problems`` but still answered 200: it is the notifier's bug to see.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from ims.sip.errors import SipError
from ims.sip.message import Request, Response, build_request
from ims.ue.register import UeState, contact_value, via_value

__all__ = [
    "REGINFO_NS",
    "REGINFO_TYPE",
    "NotifyOutcome",
    "RegContact",
    "RegInfo",
    "RegRegistration",
    "RegSubscription",
    "ReginfoError",
    "build_subscribe",
    "parse_reginfo",
]

#: RFC 3680 §5.3: the XML namespace of reginfo documents.
REGINFO_NS = "urn:ietf:params:xml:ns:reginfo"
#: RFC 3680 §5.3: the MIME type.
REGINFO_TYPE = "application/reginfo+xml"
#: Largest reginfo body accepted (bounded before parsing).
MAX_REGINFO = 64 * 1024


class ReginfoError(ValueError):
    """A reginfo document that is not XML or misses a required attribute."""


@dataclass(frozen=True, slots=True)
class RegContact:
    """``<contact>`` (RFC 3680 §5.3): one binding of an AOR."""

    id: str
    state: str
    event: str
    uri: str
    expires: int | None = None


@dataclass(frozen=True, slots=True)
class RegRegistration:
    """``<registration>`` (RFC 3680 §5.3): one AOR and its contacts."""

    aor: str
    id: str
    state: str
    contacts: tuple[RegContact, ...] = ()


@dataclass(frozen=True, slots=True)
class RegInfo:
    """``<reginfo>`` (RFC 3680 §5.3): ``version`` and ``state`` (full/partial)."""

    version: int
    state: str
    registrations: tuple[RegRegistration, ...] = ()

    def registration(self, aor: str) -> RegRegistration | None:
        """The registration of ``aor``, if listed."""
        return next((r for r in self.registrations if r.aor == aor), None)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _required(element: ET.Element, name: str) -> str:
    value = element.get(name)
    if value is None:
        raise ReginfoError(f"<{_local(element.tag)}> without {name}")
    return value


def _int(text: str | None, what: str) -> int | None:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()):
        raise ReginfoError(f"{what} is not a number: {text!r}")
    return int(text)


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


def _parse_contact(element: ET.Element) -> RegContact:
    uris = _children(element, "uri")
    if not uris or not (uris[0].text or "").strip():
        raise ReginfoError("<contact> without <uri>")
    return RegContact(
        id=_required(element, "id"), state=_required(element, "state"),
        event=_required(element, "event"), uri=(uris[0].text or "").strip(),
        expires=_int(element.get("expires"), "expires"),
    )


def _parse_registration(element: ET.Element) -> RegRegistration:
    return RegRegistration(
        aor=_required(element, "aor"), id=_required(element, "id"),
        state=_required(element, "state"),
        contacts=tuple(_parse_contact(c) for c in _children(element, "contact")),
    )


def parse_reginfo(body: bytes) -> RegInfo:
    """Parse an ``application/reginfo+xml`` body (RFC 3680 §5.3).

    Raises:
        ReginfoError: too large, not XML, not ``<reginfo>`` in the RFC 3680
            namespace, or a required attribute is missing.
    """
    if len(body) > MAX_REGINFO:
        raise ReginfoError(f"reginfo larger than {MAX_REGINFO} bytes")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as error:
        raise ReginfoError(f"reginfo is not XML: {error}") from error
    if root.tag != f"{{{REGINFO_NS}}}reginfo":
        raise ReginfoError(f"root element is {root.tag}, not reginfo in {REGINFO_NS}")
    version = _int(_required(root, "version"), "version")
    return RegInfo(
        version=version or 0, state=_required(root, "state"),
        registrations=tuple(_parse_registration(r) for r in _children(root, "registration")),
    )


def build_subscribe(
    ue: UeState,
    *,
    service_routes: tuple[str, ...],
    call_id: str,
    from_tag: str,
    cseq: int,
    branch: str,
    contact: str,
    transport: str,
    host: str,
    port: int,
    expires: int = 600000,
    to_tag: str | None = None,
) -> Request:
    """The SUBSCRIBE to ``reg`` of TS 24.229 §5.1.1.3 (RFC 3680 §4, RFC 6665 §4.1.2).

    ``service_routes`` become the Route set (TS 24.229 §5.1.2A.1);
    ``to_tag`` makes it an in-dialog refresh (``expires=0`` unsubscribes).
    """
    to = f"<{ue.impu}>" + (f";tag={to_tag}" if to_tag else "")
    headers = [
        ("Via", via_value(transport, host, port, branch)),
        ("Max-Forwards", "70"),
        *(("Route", route) for route in service_routes),
        ("From", f"<{ue.impu}>;tag={from_tag}"),
        ("To", to),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} SUBSCRIBE"),
        ("Contact", contact_value(contact, ue.instance_id, None)),
        ("Event", "reg"),
        ("Accept", REGINFO_TYPE),
        ("Expires", str(expires)),
        ("P-Preferred-Identity", f"<{ue.impu}>"),
        ("User-Agent", ue.user_agent),
    ]
    return build_request("SUBSCRIBE", ue.impu, headers)


@dataclass(frozen=True, slots=True)
class NotifyOutcome:
    """What :meth:`RegSubscription.on_notify` decided.

    Attributes:
        status: the response code to send (200, 400, 481, 489, 500).
        reason: its reason phrase.
        reginfo: the parsed document (on 200).
        problems: deviations seen but tolerated (version gap ...).
        terminated: ``Subscription-State: terminated``.
    """

    status: int
    reason: str
    reginfo: RegInfo | None = None
    problems: tuple[str, ...] = ()
    terminated: bool = False


@dataclass(slots=True)
class RegSubscription:
    """The reg-event subscription dialog on the UE side (RFC 6665, RFC 3261 §12.1.2)."""

    call_id: str
    local_tag: str
    remote_tag: str | None = None
    route_set: tuple[str, ...] = ()
    remote_cseq: int | None = None
    version: int | None = None
    expires: int | None = None
    notifies: list[RegInfo] = field(default_factory=list)

    def on_response(self, resp: Response) -> None:
        """A 2xx to the SUBSCRIBE: remote tag, route set (reversed Record-Route), expiry."""
        if resp.status >= 300 or resp.status < 200:
            return
        self.remote_tag = self.remote_tag or resp.to.tag
        self.route_set = tuple(str(r) for r in reversed(resp.record_routes))
        self.expires = resp.expires

    def on_notify(self, req: Request) -> NotifyOutcome:
        """Check a NOTIFY (RFC 6665 §4.1.3, RFC 3680 §5.2) and parse its reginfo."""
        try:
            error = self._dialog_error(req)
        except SipError as exc:
            return NotifyOutcome(400, exc.reason)
        if error is not None:
            return error
        try:
            info = parse_reginfo(req.body)
        except ReginfoError as exc:
            return NotifyOutcome(400, f"Bad reginfo: {exc}")
        problems = self._version_problems(info)
        self.version = info.version
        self.notifies.append(info)
        state = (req.get("subscription-state") or "").split(";", 1)[0].strip().lower()
        return NotifyOutcome(200, "OK", info, problems, state == "terminated")

    def _dialog_error(self, req: Request) -> NotifyOutcome | None:
        if req.call_id != self.call_id or req.to.tag != self.local_tag:
            return NotifyOutcome(481, "Subscription Does Not Exist")
        remote = req.from_.tag
        if self.remote_tag is not None and remote != self.remote_tag:
            return NotifyOutcome(481, "Subscription Does Not Exist")
        if (req.get("event") or "").split(";", 1)[0].strip().lower() != "reg":
            return NotifyOutcome(489, "Bad Event")
        cseq = req.cseq.seq
        if self.remote_cseq is not None and cseq <= self.remote_cseq:
            return NotifyOutcome(500, "CSeq Out of Order")
        self.remote_tag, self.remote_cseq = remote, cseq
        return None

    def _version_problems(self, info: RegInfo) -> tuple[str, ...]:
        if self.version is None or info.version == self.version + 1:
            return ()
        return (f"reginfo version {info.version} after {self.version} (expected "
                f"{self.version + 1}, RFC 3680 §5.2.1)",)
