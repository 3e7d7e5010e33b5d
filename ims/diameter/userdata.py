"""IMS user profile XML, the Cx User-Data (TS 29.228 Annex E and F; Rel-17).

The HSS sends the user profile in the User-Data AVP of SAA and PPR as an
``IMSSubscription`` document (TS 29.228 Annex E, schema CxDataType.xsd in
Annex F; no namespace). ``build_ims_subscription`` writes it with
ElementTree, ``parse_ims_subscription`` reads it back into the same frozen
dataclasses for the S-CSCF.

Element order follows the schema's sequences: PublicIdentity is
BarringIndication?, Identity, Extension(IdentityType, Extension(DisplayName));
ServiceProfile is PublicIdentity+, InitialFilterCriteria*; an iFC is
Priority, TriggerPoint?, ApplicationServer, ProfilePartIndicator?; an SPT is
ConditionNegated?, Group+, one condition, Extension(RegistrationType*)?.

The first PublicIdentity written is a non-barred one (TS 29.228 §6.1.2: the
S-CSCF takes it as the default identity), so the builder moves one there.

Parsing is defensive: a size limit before parsing, no DTD (no entity
expansion), and every value checked against the schema's ranges;
``UserDataError`` reports what is wrong.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import TypeVar

E = TypeVar("E", bound=IntEnum)

#: Largest User-Data document accepted for parsing, in octets.
MAX_USER_DATA = 256 * 1024


class UserDataError(ValueError):
    """User-Data XML that is malformed, too large or out of the schema."""


class IdentityType(IntEnum):
    """IdentityType (TS 29.228 Table E.2)."""

    PUBLIC_USER_IDENTITY = 0
    DISTINCT_PSI = 1
    WILDCARDED_PSI = 2
    WILDCARDED_IMPU = 3


class SessionCase(IntEnum):
    """SessionCase, tDirectionOfRequest (TS 29.228 Table E.2)."""

    ORIGINATING_REGISTERED = 0
    TERMINATING_REGISTERED = 1
    TERMINATING_UNREGISTERED = 2
    ORIGINATING_UNREGISTERED = 3
    ORIGINATING_CDIV = 4


class DefaultHandling(IntEnum):
    """DefaultHandling (TS 29.228 Table E.2)."""

    SESSION_CONTINUED = 0
    SESSION_TERMINATED = 1


class ProfilePartIndicator(IntEnum):
    """ProfilePartIndicator (TS 29.228 Table E.2)."""

    REGISTERED = 0
    UNREGISTERED = 1


class RegistrationType(IntEnum):
    """RegistrationType of an SPT on REGISTER (TS 29.228 Table E.2)."""

    INITIAL_REGISTRATION = 0
    RE_REGISTRATION = 1
    DE_REGISTRATION = 2


@dataclass(frozen=True, slots=True)
class SipHeader:
    """SIPHeader condition: a header present, or its value matching ``content`` (regex)."""

    header: str
    content: str | None = None


@dataclass(frozen=True, slots=True)
class SessionDescription:
    """SessionDescription condition: an SDP line, optionally matching ``content`` (regex)."""

    line: str
    content: str | None = None


@dataclass(frozen=True, slots=True)
class SPT:
    """Service Point Trigger (TS 29.228 Annex B.2.2): exactly one condition."""

    groups: tuple[int, ...] = (0,)
    negated: bool = False
    method: str | None = None
    request_uri: str | None = None
    sip_header: SipHeader | None = None
    session_case: SessionCase | None = None
    session_description: SessionDescription | None = None
    registration_types: tuple[RegistrationType, ...] = ()

    def __post_init__(self) -> None:
        conditions = (self.method, self.request_uri, self.sip_header, self.session_case,
                      self.session_description)
        if sum(c is not None for c in conditions) != 1:
            raise UserDataError("an SPT holds exactly one condition")
        if not self.groups:
            raise UserDataError("an SPT belongs to at least one Group")


@dataclass(frozen=True, slots=True)
class TriggerPoint:
    """TriggerPoint: SPTs joined in conjunctive (CNF) or disjunctive (DNF) normal form."""

    condition_type_cnf: bool
    spts: tuple[SPT, ...]


@dataclass(frozen=True, slots=True)
class ApplicationServer:
    """ApplicationServer of an iFC."""

    server_name: str
    default_handling: DefaultHandling = DefaultHandling.SESSION_CONTINUED
    service_info: str | None = None
    include_register_request: bool = False
    include_register_response: bool = False


@dataclass(frozen=True, slots=True)
class InitialFilterCriteria:
    """InitialFilterCriteria (TS 29.228 Annex B.2)."""

    priority: int
    application_server: ApplicationServer
    trigger_point: TriggerPoint | None = None
    profile_part_indicator: ProfilePartIndicator | None = None


@dataclass(frozen=True, slots=True)
class PublicIdentity:
    """PublicIdentity: an IMPU or PSI of the service profile."""

    identity: str
    barred: bool = False
    identity_type: IdentityType = IdentityType.PUBLIC_USER_IDENTITY
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceProfile:
    """ServiceProfile: identities sharing one set of iFCs."""

    public_identities: tuple[PublicIdentity, ...]
    ifcs: tuple[InitialFilterCriteria, ...] = ()


@dataclass(frozen=True, slots=True)
class IMSSubscription:
    """IMSSubscription: the private identity and its service profiles."""

    private_id: str
    service_profiles: tuple[ServiceProfile, ...]

    @property
    def default_identity(self) -> PublicIdentity:
        """The first PublicIdentity of the first profile (non-barred once built)."""
        return self.service_profiles[0].public_identities[0]


# -- build -------------------------------------------------------------------
def _sub(parent: ET.Element, tag: str, value: str | int | None = None) -> ET.Element:
    child = ET.SubElement(parent, tag)
    if value is not None:
        child.text = str(value)
    return child


def _bool(value: bool) -> str:
    return "1" if value else "0"


def _non_barred_first(profiles: tuple[ServiceProfile, ...]) -> tuple[ServiceProfile, ...]:
    """Move the first non-barred identity (and its profile) to the front."""
    for p_index, profile in enumerate(profiles):
        for i_index, identity in enumerate(profile.public_identities):
            if identity.barred:
                continue
            others = profile.public_identities[:i_index] + profile.public_identities[i_index + 1:]
            first = replace(profile, public_identities=(identity, *others))
            return (first, *profiles[:p_index], *profiles[p_index + 1:])
    raise UserDataError("every public identity is barred")


def _put_identity(parent: ET.Element, identity: PublicIdentity) -> None:
    node = _sub(parent, "PublicIdentity")
    _sub(node, "BarringIndication", _bool(identity.barred))
    _sub(node, "Identity", identity.identity)
    ext = _sub(node, "Extension")
    _sub(ext, "IdentityType", int(identity.identity_type))
    if identity.display_name is not None:
        _sub(_sub(ext, "Extension"), "DisplayName", identity.display_name)


def _put_condition(node: ET.Element, spt: SPT) -> None:
    if spt.request_uri is not None:
        _sub(node, "RequestURI", spt.request_uri)
    elif spt.method is not None:
        _sub(node, "Method", spt.method)
    elif spt.sip_header is not None:
        header = _sub(node, "SIPHeader")
        _sub(header, "Header", spt.sip_header.header)
        if spt.sip_header.content is not None:
            _sub(header, "Content", spt.sip_header.content)
    elif spt.session_case is not None:
        _sub(node, "SessionCase", int(spt.session_case))
    elif spt.session_description is not None:
        sdp = _sub(node, "SessionDescription")
        _sub(sdp, "Line", spt.session_description.line)
        if spt.session_description.content is not None:
            _sub(sdp, "Content", spt.session_description.content)


def _put_spt(parent: ET.Element, spt: SPT) -> None:
    node = _sub(parent, "SPT")
    _sub(node, "ConditionNegated", _bool(spt.negated))
    for group in spt.groups:
        _sub(node, "Group", group)
    _put_condition(node, spt)
    if spt.registration_types:
        ext = _sub(node, "Extension")
        for kind in spt.registration_types:
            _sub(ext, "RegistrationType", int(kind))


def _put_server(parent: ET.Element, server: ApplicationServer) -> None:
    node = _sub(parent, "ApplicationServer")
    _sub(node, "ServerName", server.server_name)
    _sub(node, "DefaultHandling", int(server.default_handling))
    if server.service_info is not None:
        _sub(node, "ServiceInfo", server.service_info)
    if server.include_register_request or server.include_register_response:
        ext = _sub(node, "Extension")
        if server.include_register_request:
            _sub(ext, "IncludeRegisterRequest")
        if server.include_register_response:
            _sub(ext, "IncludeRegisterResponse")


def _put_ifc(parent: ET.Element, ifc: InitialFilterCriteria) -> None:
    node = _sub(parent, "InitialFilterCriteria")
    _sub(node, "Priority", ifc.priority)
    if ifc.trigger_point is not None:
        trigger = _sub(node, "TriggerPoint")
        _sub(trigger, "ConditionTypeCNF", _bool(ifc.trigger_point.condition_type_cnf))
        for spt in ifc.trigger_point.spts:
            _put_spt(trigger, spt)
    _put_server(node, ifc.application_server)
    if ifc.profile_part_indicator is not None:
        _sub(node, "ProfilePartIndicator", int(ifc.profile_part_indicator))


def build_ims_subscription(subscription: IMSSubscription) -> str:
    """Serialise ``subscription`` as IMSSubscription XML, a non-barred identity first.

    Raises:
        UserDataError: there is no service profile, or every identity is barred.
    """
    if not subscription.service_profiles:
        raise UserDataError("an IMSSubscription has at least one ServiceProfile")
    root = ET.Element("IMSSubscription")
    _sub(root, "PrivateID", subscription.private_id)
    for profile in _non_barred_first(subscription.service_profiles):
        node = _sub(root, "ServiceProfile")
        for identity in profile.public_identities:
            _put_identity(node, identity)
        for ifc in profile.ifcs:
            _put_ifc(node, ifc)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}'


# -- parse -------------------------------------------------------------------
def parse_xml_root(xml: str | bytes, limit: int, error: type[ValueError]) -> ET.Element:
    """Parse a size-limited XML document that has no DTD; any failure raises ``error``."""
    raw = xml.encode() if isinstance(xml, str) else xml
    if len(raw) > limit:
        raise error(f"document of {len(raw)} octets exceeds {limit}")
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise error("a DTD is not allowed")
    try:
        return ET.fromstring(raw)
    except ET.ParseError as exc:
        raise error(f"malformed XML: {exc}") from exc


def _required(node: ET.Element, tag: str) -> str:
    value = node.findtext(tag)
    if value is None or not value.strip():
        raise UserDataError(f"{node.tag} lacks {tag}")
    return value.strip()


def _optional(node: ET.Element, tag: str) -> str | None:
    value = node.findtext(tag)
    return None if value is None else value.strip()


def _number(value: str, tag: str) -> int:
    if not value.isdigit():
        raise UserDataError(f"{tag} is not a number: {value!r}")
    return int(value)


def _enum(enum: type[E], value: str, tag: str) -> E:
    number = _number(value, tag)
    try:
        return enum(number)
    except ValueError as exc:
        raise UserDataError(f"{tag} out of range: {value!r}") from exc


def _opt_enum(enum: type[E], node: ET.Element, tag: str) -> E | None:
    value = _optional(node, tag)
    return None if value is None else _enum(enum, value, tag)


def _flag(node: ET.Element, tag: str) -> bool:
    """A tBool element (xs:boolean: 0, 1, false, true); absent means false."""
    value = _optional(node, tag)
    if value is None or value in ("0", "false"):
        return False
    if value in ("1", "true"):
        return True
    raise UserDataError(f"{tag} is not a boolean: {value!r}")


def _get_identity(node: ET.Element) -> PublicIdentity:
    ext = node.find("Extension")
    kind = None if ext is None else _opt_enum(IdentityType, ext, "IdentityType")
    return PublicIdentity(
        identity=_required(node, "Identity"),
        barred=_flag(node, "BarringIndication"),
        identity_type=IdentityType.PUBLIC_USER_IDENTITY if kind is None else kind,
        display_name=None if ext is None else _optional(ext, "Extension/DisplayName"),
    )


def _pair(node: ET.Element | None, first: str) -> tuple[str, str | None] | None:
    if node is None:
        return None
    return _required(node, first), _optional(node, "Content")


def _get_spt(node: ET.Element) -> SPT:
    header = _pair(node.find("SIPHeader"), "Header")
    sdp = _pair(node.find("SessionDescription"), "Line")
    case = _opt_enum(SessionCase, node, "SessionCase")
    return SPT(
        groups=tuple(_number((g.text or "").strip(), "Group") for g in node.iterfind("Group")),
        negated=_flag(node, "ConditionNegated"),
        method=_optional(node, "Method"),
        request_uri=_optional(node, "RequestURI"),
        sip_header=None if header is None else SipHeader(*header),
        session_case=case,
        session_description=None if sdp is None else SessionDescription(*sdp),
        registration_types=tuple(
            _enum(RegistrationType, (r.text or "").strip(), "RegistrationType")
            for r in node.iterfind("Extension/RegistrationType")
        ),
    )


def _get_trigger(node: ET.Element | None) -> TriggerPoint | None:
    if node is None:
        return None
    spts = tuple(_get_spt(spt) for spt in node.iterfind("SPT"))
    if not spts:
        raise UserDataError("TriggerPoint without SPT")
    return TriggerPoint(_flag(node, "ConditionTypeCNF"), spts)


def _get_server(node: ET.Element | None) -> ApplicationServer:
    if node is None:
        raise UserDataError("InitialFilterCriteria lacks ApplicationServer")
    handling = _opt_enum(DefaultHandling, node, "DefaultHandling")
    return ApplicationServer(
        server_name=_required(node, "ServerName"),
        default_handling=DefaultHandling.SESSION_CONTINUED if handling is None else handling,
        service_info=_optional(node, "ServiceInfo"),
        include_register_request=node.find("Extension/IncludeRegisterRequest") is not None,
        include_register_response=node.find("Extension/IncludeRegisterResponse") is not None,
    )


def _get_ifc(node: ET.Element) -> InitialFilterCriteria:
    return InitialFilterCriteria(
        priority=_number(_required(node, "Priority"), "Priority"),
        application_server=_get_server(node.find("ApplicationServer")),
        trigger_point=_get_trigger(node.find("TriggerPoint")),
        profile_part_indicator=_opt_enum(ProfilePartIndicator, node, "ProfilePartIndicator"),
    )


def _get_profile(node: ET.Element) -> ServiceProfile:
    identities = tuple(_get_identity(n) for n in node.iterfind("PublicIdentity"))
    if not identities:
        raise UserDataError("ServiceProfile without PublicIdentity")
    return ServiceProfile(identities, tuple(_get_ifc(n) for n in node.iterfind("InitialFilterCriteria")))


def parse_ims_subscription(xml: str | bytes) -> IMSSubscription:
    """Parse IMSSubscription XML.

    Raises:
        UserDataError: malformed, over ``MAX_USER_DATA``, with a DTD, or out of the schema.
    """
    root = parse_xml_root(xml, MAX_USER_DATA, UserDataError)
    if root.tag != "IMSSubscription":
        raise UserDataError(f"root element is {root.tag}, not IMSSubscription")
    profiles = tuple(_get_profile(n) for n in root.iterfind("ServiceProfile"))
    if not profiles:
        raise UserDataError("IMSSubscription without ServiceProfile")
    return IMSSubscription(_required(root, "PrivateID"), profiles)
