"""Cx/Dx build and read helpers (TS 29.229 §6.1, TS 29.228 §6; Rel-17).

One pure ``build_<msg>`` and one ``read_<msg>`` per Cx command: UAR/UAA,
MAR/MAA, SAR/SAA, LIR/LIA, RTR/RTA, PPR/PPA. ``read_<msg>`` returns the same
frozen dataclass ``build_<msg>`` takes, so a round trip compares equal.
Answers are built from the received request (its header identifiers) plus
an ``Answer`` envelope (Session-Id, Origin, result: see ``results.py``).

python-diameter 0.9's Cx command classes need corrections, made here by
subclassing them with corrected ``avp_def`` tables (no AVP is hand-built):

* MAR/MAA use RFC 4740's SIP-Auth-Data-Item (376), SIP-Number-Auth-Items
  (382), SIP-Item-Number (378) and SIP-Authentication-Scheme (377, an
  Enumerated), where TS 29.229 §6.3 has the 3GPP AVPs 612, 607, 613 and 608
  (UTF8String), vendor 10415. Peers (Kamailio, Open5GS, FHoSS) use the latter;
* UAR has no Session-Id; MAA and SAA have no User-Name (TS 29.229 §6.1.1,
  §6.1.8, §6.1.4 have them).

``read_<msg>`` accepts the library's own classes (what ``Message.from_bytes``
returns) and re-reads their AVPs with the corrected tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from diameter.message import Message, commands
from diameter.message import constants as c
from diameter.message.avp import grouped as grp
from diameter.message.avp.generator import AvpGenDef

from .results import (
    VENDOR_3GPP,
    Answer,
    ApplicationId,
    AvpError,
    Envelope,
    enum_value,
    fill_answer,
    fill_request,
    integer,
    opt_integer,
    opt_octets,
    opt_text,
    opt_utf8,
    read_answer,
    read_envelope,
    text,
)


# -- enumerations (TS 29.229 §6.3) ------------------------------------------
class UserAuthorizationType(IntEnum):
    """User-Authorization-Type (TS 29.229 §6.3.24)."""

    REGISTRATION = 0
    DE_REGISTRATION = 1
    REGISTRATION_AND_CAPABILITIES = 2


class ServerAssignmentType(IntEnum):
    """Server-Assignment-Type (TS 29.229 §6.3.15)."""

    NO_ASSIGNMENT = 0
    REGISTRATION = 1
    RE_REGISTRATION = 2
    UNREGISTERED_USER = 3
    TIMEOUT_DEREGISTRATION = 4
    USER_DEREGISTRATION = 5
    TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME = 6
    USER_DEREGISTRATION_STORE_SERVER_NAME = 7
    ADMINISTRATIVE_DEREGISTRATION = 8
    AUTHENTICATION_FAILURE = 9
    AUTHENTICATION_TIMEOUT = 10
    DEREGISTRATION_TOO_MUCH_DATA = 11
    AAA_USER_DATA_REQUEST = 12
    PGW_UPDATE = 13
    RESTORATION = 14


class UserDataAlreadyAvailable(IntEnum):
    """User-Data-Already-Available (TS 29.229 §6.3.26)."""

    USER_DATA_NOT_AVAILABLE = 0
    USER_DATA_ALREADY_AVAILABLE = 1


class ReasonCode(IntEnum):
    """Reason-Code of Deregistration-Reason (TS 29.229 §6.3.17)."""

    PERMANENT_TERMINATION = 0
    NEW_SERVER_ASSIGNED = 1
    SERVER_CHANGE = 2
    REMOVE_S_CSCF = 3


class AuthScheme(StrEnum):
    """SIP-Authentication-Scheme values used here (TS 29.229 §6.3.9)."""

    AKAV1_MD5 = "Digest-AKAv1-MD5"
    SIP_DIGEST = "SIP Digest"
    UNKNOWN = "Unknown"


# -- corrected library tables ----------------------------------------------

def _redefine(defs: tuple[Any, ...], *extra: Any, **fixes: Any) -> tuple[Any, ...]:
    """``defs`` with the entries named in ``fixes`` replaced and ``extra`` prepended."""
    return tuple(extra) + tuple(fixes.get(d.attr_name, d) for d in defs)


class CxSipAuthDataItem(grp.SipAuthDataItem):  # type: ignore[misc]
    """SIP-Auth-Data-Item with TS 29.229 §6.3.13's 3GPP AVP codes."""

    avp_def = _redefine(
        grp.SipAuthDataItem.avp_def,
        sip_item_number=AvpGenDef("sip_item_number", c.AVP_TGPP_3GPP_SIP_ITEM_NUMBER, VENDOR_3GPP),
        sip_authentication_scheme=AvpGenDef(
            "sip_authentication_scheme", c.AVP_TGPP_3GPP_SIP_AUTHENTICATION_SCHEME, VENDOR_3GPP
        ),
    )


_AUTH_FIXES: dict[str, Any] = {
    "sip_auth_data_item": AvpGenDef(
        "sip_auth_data_item", c.AVP_TGPP_3GPP_SIP_AUTH_DATA_ITEM, VENDOR_3GPP,
        type_class=CxSipAuthDataItem,
    ),
    "sip_number_auth_items": AvpGenDef(
        "sip_number_auth_items", c.AVP_TGPP_3GPP_SIP_NUMBER_AUTH_ITEMS, VENDOR_3GPP
    ),
}
_USER_NAME = AvpGenDef("user_name", c.AVP_USER_NAME)


class CxUserAuthorizationRequest(commands.UserAuthorizationRequest):  # type: ignore[misc]
    """UAR with its Session-Id (TS 29.229 §6.1.1)."""

    avp_def = _redefine(
        commands.UserAuthorizationRequest.avp_def, AvpGenDef("session_id", c.AVP_SESSION_ID, is_required=True)
    )


class CxMultimediaAuthRequest(commands.MultimediaAuthRequest):  # type: ignore[misc]
    """MAR with the 3GPP SIP-Auth-Data-Item and SIP-Number-Auth-Items (TS 29.229 §6.1.7)."""

    avp_def = _redefine(commands.MultimediaAuthRequest.avp_def, **_AUTH_FIXES)


class CxMultimediaAuthAnswer(commands.MultimediaAuthAnswer):  # type: ignore[misc]
    """MAA with the 3GPP auth AVPs and User-Name (TS 29.229 §6.1.8)."""

    avp_def = _redefine(commands.MultimediaAuthAnswer.avp_def, _USER_NAME, **_AUTH_FIXES)


class CxServerAssignmentAnswer(commands.ServerAssignmentAnswer):  # type: ignore[misc]
    """SAA with User-Name (TS 29.229 §6.1.4)."""

    avp_def = _redefine(commands.ServerAssignmentAnswer.avp_def, _USER_NAME)


def _as(cls: Any, msg: Message) -> Any:
    """``msg`` re-read through the corrected class ``cls`` (itself if it already is one)."""
    return msg if isinstance(msg, cls) else cls(msg.header, list(msg.avps))


# -- shared grouped values --------------------------------------------------
@dataclass(frozen=True, slots=True)
class ServerCapabilities:
    """Server-Capabilities (TS 29.229 §6.3.4): what the I-CSCF needs to pick an S-CSCF."""

    mandatory: tuple[int, ...] = ()
    optional: tuple[int, ...] = ()
    server_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChargingInformation:
    """Charging-Information (TS 29.229 §6.3.19): ECF and CCF addresses (DiameterURI)."""

    primary_ecf: str | None = None
    secondary_ecf: str | None = None
    primary_ccf: str | None = None
    secondary_ccf: str | None = None


def _put_capabilities(caps: ServerCapabilities | None) -> Any:
    if caps is None:
        return None
    return grp.ServerCapabilities(mandatory_capability=list(caps.mandatory),
                                  optional_capability=list(caps.optional),
                                  server_name=list(caps.server_names))


def _get_capabilities(grouped: Any) -> ServerCapabilities | None:
    if grouped is None:
        return None
    return ServerCapabilities(
        mandatory=tuple(integer(v, "Mandatory-Capability") for v in grouped.mandatory_capability),
        optional=tuple(integer(v, "Optional-Capability") for v in grouped.optional_capability),
        server_names=tuple(text(v, "Server-Name") for v in grouped.server_name),
    )


def _put_charging(info: ChargingInformation | None) -> Any:
    if info is None:
        return None
    return grp.ChargingInformation(
        primary_event_charging_function_name=info.primary_ecf,
        secondary_event_charging_function_name=info.secondary_ecf,
        primary_charging_collection_function_name=info.primary_ccf,
        secondary_charging_collection_function_name=info.secondary_ccf,
    )


def _get_charging(grouped: Any) -> ChargingInformation | None:
    if grouped is None:
        return None
    return ChargingInformation(
        primary_ecf=opt_text(grouped.primary_event_charging_function_name),
        secondary_ecf=opt_text(grouped.secondary_event_charging_function_name),
        primary_ccf=opt_text(grouped.primary_charging_collection_function_name),
        secondary_ccf=opt_text(grouped.secondary_charging_collection_function_name),
    )


def _put_identities(names: tuple[str, ...]) -> Any:
    return grp.AssociatedIdentities(user_name=list(names)) if names else None


def _get_identities(grouped: Any) -> tuple[str, ...]:
    return () if grouped is None else tuple(text(v, "User-Name") for v in grouped.user_name)


def _identities(value: Any) -> tuple[str, ...]:
    """Public-Identity as a tuple, whether the library holds one value or a list."""
    values = value if isinstance(value, list) else [] if value is None else [value]
    return tuple(text(v, "Public-Identity") for v in values)


# -- UAR/UAA (TS 29.229 §6.1.1-§6.1.2) --------------------------------------
@dataclass(frozen=True, slots=True)
class Uar:
    """User-Authorization-Request: the I-CSCF asks which S-CSCF serves a REGISTER."""

    envelope: Envelope
    user_name: str
    public_identity: str
    visited_network_identifier: str
    authorization_type: UserAuthorizationType = UserAuthorizationType.REGISTRATION


@dataclass(frozen=True, slots=True)
class Uaa:
    """User-Authorization-Answer: the assigned S-CSCF or the capabilities to pick one."""

    answer: Answer
    server_name: str | None = None
    server_capabilities: ServerCapabilities | None = None


def build_uar(uar: Uar) -> Message:
    """Build a UAR from ``uar``."""
    msg = fill_request(CxUserAuthorizationRequest(), ApplicationId.CX, uar.envelope)
    msg.user_name = uar.user_name
    msg.public_identity = uar.public_identity
    msg.visited_network_identifier = uar.visited_network_identifier.encode()
    msg.user_authorization_type = int(uar.authorization_type)
    return msg


def read_uar(msg: Message) -> Uar:
    """Read a received UAR (absent User-Authorization-Type means REGISTRATION)."""
    msg = _as(CxUserAuthorizationRequest, msg)
    kind = msg.user_authorization_type
    return Uar(
        envelope=read_envelope(msg),
        user_name=text(msg.user_name, "User-Name"),
        public_identity=text(msg.public_identity, "Public-Identity"),
        visited_network_identifier=text(msg.visited_network_identifier, "Visited-Network-Identifier"),
        authorization_type=enum_value(UserAuthorizationType, 0 if kind is None else kind,
                                      "User-Authorization-Type"),
    )


def build_uaa(request: Message, uaa: Uaa) -> Message:
    """Build the UAA answering ``request``."""
    msg = fill_answer(commands.UserAuthorizationAnswer(), request, uaa.answer)
    msg.server_name = uaa.server_name
    msg.server_capabilities = _put_capabilities(uaa.server_capabilities)
    return msg


def read_uaa(msg: Message) -> Uaa:
    """Read a received UAA."""
    return Uaa(read_answer(msg), opt_text(msg.server_name),
               _get_capabilities(msg.server_capabilities))


# -- MAR/MAA (TS 29.229 §6.1.7-§6.1.8) --------------------------------------
@dataclass(frozen=True, slots=True)
class DigestAuthenticate:
    """SIP-Digest-Authenticate (TS 29.229 §6.3.36) for the SIP Digest scheme."""

    realm: str
    ha1: str
    qop: str | None = None
    algorithm: str | None = None


@dataclass(frozen=True, slots=True)
class AuthDataItem:
    """SIP-Auth-Data-Item (TS 29.229 §6.3.13).

    For Digest-AKAv1-MD5 in an MAA: ``authenticate`` is RAND||AUTN and
    ``authorization`` is XRES, with CK and IK. In an MAR asking for
    resynchronisation: ``authorization`` is RAND||AUTS (TS 33.203 §6.3.3).
    """

    scheme: str
    item_number: int | None = None
    authenticate: bytes | None = None
    authorization: bytes | None = None
    confidentiality_key: bytes | None = None
    integrity_key: bytes | None = None
    digest: DigestAuthenticate | None = None

    @property
    def rand(self) -> bytes | None:
        """RAND: the first 16 octets of SIP-Authenticate (AKA)."""
        return None if self.authenticate is None else self.authenticate[:16]

    @property
    def autn(self) -> bytes | None:
        """AUTN: the 16 octets after RAND in SIP-Authenticate (AKA)."""
        return None if self.authenticate is None else self.authenticate[16:32]


def aka_item(item_number: int, rand: bytes, autn: bytes, xres: bytes,
             ck: bytes, ik: bytes) -> AuthDataItem:
    """The Digest-AKAv1-MD5 SIP-Auth-Data-Item of one authentication vector."""
    return AuthDataItem(AuthScheme.AKAV1_MD5, item_number, rand + autn, xres, ck, ik)


def resync_item(rand: bytes, auts: bytes) -> AuthDataItem:
    """The MAR SIP-Auth-Data-Item asking the HSS to resynchronise (RAND||AUTS)."""
    return AuthDataItem(AuthScheme.AKAV1_MD5, authorization=rand + auts)


def _put_digest(digest: DigestAuthenticate | None) -> Any:
    if digest is None:
        return None
    return grp.SipDigestAuthenticate(digest_realm=digest.realm, digest_ha1=digest.ha1,
                                     digest_qop=digest.qop, digest_algorithm=digest.algorithm)


def _get_digest(grouped: Any) -> DigestAuthenticate | None:
    if grouped is None:
        return None
    return DigestAuthenticate(
        realm=text(grouped.digest_realm, "Digest-Realm"),
        ha1=text(grouped.digest_ha1, "Digest-HA1"),
        qop=opt_text(grouped.digest_qop),
        algorithm=opt_text(grouped.digest_algorithm),
    )


def _put_item(item: AuthDataItem) -> Any:
    return CxSipAuthDataItem(
        sip_item_number=item.item_number,
        sip_authentication_scheme=str(item.scheme),
        sip_authenticate=item.authenticate,
        sip_authorization=item.authorization,
        confidentiality_key=item.confidentiality_key,
        integrity_key=item.integrity_key,
        sip_digest_authenticate=_put_digest(item.digest),
    )


def _get_item(grouped: Any) -> AuthDataItem:
    return AuthDataItem(
        scheme=text(grouped.sip_authentication_scheme, "SIP-Authentication-Scheme"),
        item_number=opt_integer(grouped.sip_item_number, "SIP-Item-Number"),
        authenticate=opt_octets(grouped.sip_authenticate, "SIP-Authenticate"),
        authorization=opt_octets(grouped.sip_authorization, "SIP-Authorization"),
        confidentiality_key=opt_octets(grouped.confidentiality_key, "Confidentiality-Key"),
        integrity_key=opt_octets(grouped.integrity_key, "Integrity-Key"),
        digest=_get_digest(grouped.sip_digest_authenticate),
    )


@dataclass(frozen=True, slots=True)
class Mar:
    """Multimedia-Auth-Request: the S-CSCF asks for vectors (or resync, via ``auth_data``)."""

    envelope: Envelope
    user_name: str
    public_identity: str
    server_name: str
    auth_data: AuthDataItem
    number_auth_items: int = 1


@dataclass(frozen=True, slots=True)
class Maa:
    """Multimedia-Auth-Answer: the vectors, one SIP-Auth-Data-Item each."""

    answer: Answer
    user_name: str | None = None
    public_identity: str | None = None
    number_auth_items: int | None = None
    auth_items: tuple[AuthDataItem, ...] = ()


def build_mar(mar: Mar) -> Message:
    """Build an MAR from ``mar``."""
    msg = fill_request(CxMultimediaAuthRequest(), ApplicationId.CX, mar.envelope)
    msg.user_name = mar.user_name
    msg.public_identity = [mar.public_identity]
    msg.server_name = mar.server_name
    msg.sip_number_auth_items = mar.number_auth_items
    msg.sip_auth_data_item = _put_item(mar.auth_data)
    return msg


def read_mar(msg: Message) -> Mar:
    """Read a received MAR."""
    msg = _as(CxMultimediaAuthRequest, msg)
    identities = _identities(msg.public_identity)
    if not identities:
        raise AvpError("Public-Identity")
    if msg.sip_auth_data_item is None:
        raise AvpError("SIP-Auth-Data-Item")
    return Mar(
        envelope=read_envelope(msg),
        user_name=text(msg.user_name, "User-Name"),
        public_identity=identities[0],
        server_name=text(msg.server_name, "Server-Name"),
        auth_data=_get_item(msg.sip_auth_data_item),
        number_auth_items=integer(msg.sip_number_auth_items, "SIP-Number-Auth-Items"),
    )


def build_maa(request: Message, maa: Maa) -> Message:
    """Build the MAA answering ``request``."""
    msg = fill_answer(CxMultimediaAuthAnswer(), request, maa.answer)
    msg.user_name = maa.user_name
    msg.public_identity = maa.public_identity
    msg.sip_number_auth_items = maa.number_auth_items
    msg.sip_auth_data_item = [_put_item(item) for item in maa.auth_items]
    return msg


def read_maa(msg: Message) -> Maa:
    """Read a received MAA."""
    msg = _as(CxMultimediaAuthAnswer, msg)
    return Maa(
        answer=read_answer(msg),
        user_name=opt_text(msg.user_name),
        public_identity=opt_text(msg.public_identity),
        number_auth_items=opt_integer(msg.sip_number_auth_items, "SIP-Number-Auth-Items"),
        auth_items=tuple(_get_item(g) for g in msg.sip_auth_data_item),
    )


# -- SAR/SAA (TS 29.229 §6.1.3-§6.1.4) --------------------------------------
@dataclass(frozen=True, slots=True)
class Sar:
    """Server-Assignment-Request: the S-CSCF registers, deregisters or fetches a profile."""

    envelope: Envelope
    server_name: str
    assignment_type: ServerAssignmentType
    public_identities: tuple[str, ...] = ()
    user_name: str | None = None
    user_data_already_available: UserDataAlreadyAvailable = (
        UserDataAlreadyAvailable.USER_DATA_NOT_AVAILABLE
    )


@dataclass(frozen=True, slots=True)
class Saa:
    """Server-Assignment-Answer: the user profile (IMSSubscription XML) and charging."""

    answer: Answer
    user_name: str | None = None
    user_data: str | None = None
    charging_information: ChargingInformation | None = None
    associated_identities: tuple[str, ...] = ()


def build_sar(sar: Sar) -> Message:
    """Build an SAR from ``sar``."""
    msg = fill_request(commands.ServerAssignmentRequest(), ApplicationId.CX, sar.envelope)
    msg.user_name = sar.user_name
    msg.public_identity = list(sar.public_identities)
    msg.server_name = sar.server_name
    msg.server_assignment_type = int(sar.assignment_type)
    msg.user_data_already_available = int(sar.user_data_already_available)
    return msg


def read_sar(msg: Message) -> Sar:
    """Read a received SAR."""
    return Sar(
        envelope=read_envelope(msg),
        server_name=text(msg.server_name, "Server-Name"),
        assignment_type=enum_value(ServerAssignmentType, msg.server_assignment_type,
                                   "Server-Assignment-Type"),
        public_identities=_identities(msg.public_identity),
        user_name=opt_text(msg.user_name),
        user_data_already_available=enum_value(
            UserDataAlreadyAvailable, msg.user_data_already_available,
            "User-Data-Already-Available"),
    )


def build_saa(request: Message, saa: Saa) -> Message:
    """Build the SAA answering ``request``."""
    msg = fill_answer(CxServerAssignmentAnswer(), request, saa.answer)
    msg.user_name = saa.user_name
    msg.user_data = None if saa.user_data is None else saa.user_data.encode()
    msg.charging_information = _put_charging(saa.charging_information)
    msg.associated_identities = _put_identities(saa.associated_identities)
    return msg


def read_saa(msg: Message) -> Saa:
    """Read a received SAA."""
    msg = _as(CxServerAssignmentAnswer, msg)
    return Saa(
        answer=read_answer(msg),
        user_name=opt_text(msg.user_name),
        user_data=opt_utf8(msg.user_data, "User-Data"),
        charging_information=_get_charging(msg.charging_information),
        associated_identities=_get_identities(msg.associated_identities),
    )


# -- LIR/LIA (TS 29.229 §6.1.5-§6.1.6) --------------------------------------
@dataclass(frozen=True, slots=True)
class Lir:
    """Location-Info-Request: the I-CSCF asks which S-CSCF serves a terminating IMPU."""

    envelope: Envelope
    public_identity: str


@dataclass(frozen=True, slots=True)
class Lia:
    """Location-Info-Answer: the S-CSCF name, or capabilities to pick one."""

    answer: Answer
    server_name: str | None = None
    server_capabilities: ServerCapabilities | None = None


def build_lir(lir: Lir) -> Message:
    """Build an LIR from ``lir``."""
    msg = fill_request(commands.LocationInfoRequest(), ApplicationId.CX, lir.envelope)
    msg.public_identity = lir.public_identity
    return msg


def read_lir(msg: Message) -> Lir:
    """Read a received LIR."""
    return Lir(read_envelope(msg), text(msg.public_identity, "Public-Identity"))


def build_lia(request: Message, lia: Lia) -> Message:
    """Build the LIA answering ``request``."""
    msg = fill_answer(commands.LocationInfoAnswer(), request, lia.answer)
    msg.server_name = lia.server_name
    msg.server_capabilities = _put_capabilities(lia.server_capabilities)
    return msg


def read_lia(msg: Message) -> Lia:
    """Read a received LIA."""
    return Lia(read_answer(msg), opt_text(msg.server_name),
               _get_capabilities(msg.server_capabilities))


# -- RTR/RTA (TS 29.229 §6.1.9-§6.1.10) -------------------------------------
@dataclass(frozen=True, slots=True)
class Rtr:
    """Registration-Termination-Request: the HSS deregisters identities at the S-CSCF."""

    envelope: Envelope
    user_name: str
    reason: ReasonCode
    reason_info: str | None = None
    public_identities: tuple[str, ...] = ()
    associated_identities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rta:
    """Registration-Termination-Answer."""

    answer: Answer
    associated_identities: tuple[str, ...] = ()


def build_rtr(rtr: Rtr) -> Message:
    """Build an RTR from ``rtr`` (its envelope needs a Destination-Host)."""
    msg = fill_request(commands.RegistrationTerminationRequest(), ApplicationId.CX, rtr.envelope)
    msg.user_name = rtr.user_name
    msg.deregistration_reason = grp.DeregistrationReason(reason_code=int(rtr.reason),
                                                     reason_info=rtr.reason_info)
    msg.public_identity = list(rtr.public_identities)
    msg.associated_identities = _put_identities(rtr.associated_identities)
    return msg


def read_rtr(msg: Message) -> Rtr:
    """Read a received RTR."""
    reason = msg.deregistration_reason
    if reason is None:
        raise AvpError("Deregistration-Reason")
    return Rtr(
        envelope=read_envelope(msg),
        user_name=text(msg.user_name, "User-Name"),
        reason=enum_value(ReasonCode, reason.reason_code, "Reason-Code"),
        reason_info=opt_text(reason.reason_info),
        public_identities=_identities(msg.public_identity),
        associated_identities=_get_identities(msg.associated_identities),
    )


def build_rta(request: Message, rta: Rta) -> Message:
    """Build the RTA answering ``request``."""
    msg = fill_answer(commands.RegistrationTerminationAnswer(), request, rta.answer)
    msg.associated_identities = _put_identities(rta.associated_identities)
    return msg


def read_rta(msg: Message) -> Rta:
    """Read a received RTA."""
    return Rta(read_answer(msg), _get_identities(msg.associated_identities))


# -- PPR/PPA (TS 29.229 §6.1.11-§6.1.12) ------------------------------------
@dataclass(frozen=True, slots=True)
class Ppr:
    """Push-Profile-Request: the HSS pushes a changed profile or charging to the S-CSCF."""

    envelope: Envelope
    user_name: str
    user_data: str | None = None
    charging_information: ChargingInformation | None = None


@dataclass(frozen=True, slots=True)
class Ppa:
    """Push-Profile-Answer."""

    answer: Answer


def build_ppr(ppr: Ppr) -> Message:
    """Build a PPR from ``ppr`` (its envelope needs a Destination-Host)."""
    msg = fill_request(commands.PushProfileRequest(), ApplicationId.CX, ppr.envelope)
    msg.user_name = ppr.user_name
    msg.user_data = None if ppr.user_data is None else ppr.user_data.encode()
    msg.charging_information = _put_charging(ppr.charging_information)
    return msg


def read_ppr(msg: Message) -> Ppr:
    """Read a received PPR."""
    msg = msg
    return Ppr(
        envelope=read_envelope(msg),
        user_name=text(msg.user_name, "User-Name"),
        user_data=opt_utf8(msg.user_data, "User-Data"),
        charging_information=_get_charging(msg.charging_information),
    )


def build_ppa(request: Message, ppa: Ppa) -> Message:
    """Build the PPA answering ``request``."""
    return fill_answer(commands.PushProfileAnswer(), request, ppa.answer)


def read_ppa(msg: Message) -> Ppa:
    """Read a received PPA."""
    return Ppa(read_answer(msg))
