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
returns) and re-reads their AVPs with the corrected tables. Each command is
one table of ``mapping.py`` rows (dataclass field, AVP, codec).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from diameter.message import commands
from diameter.message import constants as c
from diameter.message.avp import grouped as grp
from diameter.message.avp.generator import AvpGenDef

from .mapping import (
    INT,
    OCTETS,
    TEXT,
    UTF8,
    AnswerShape,
    Avp,
    RequestShape,
    Shape,
    Within,
    enum,
    first,
    grouped,
    seq,
)
from .results import VENDOR_3GPP, Answer, ApplicationId, Envelope


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


_CAPABILITIES = Shape(
    ServerCapabilities, grp.ServerCapabilities,
    Avp("mandatory", "Mandatory-Capability", seq(INT), absent=()),
    Avp("optional", "Optional-Capability", seq(INT), absent=()),
    Avp("server_names", "Server-Name", seq(TEXT), absent=()),
)
_CHARGING = Shape(
    ChargingInformation, grp.ChargingInformation,
    Avp("primary_ecf", "Primary-Event-Charging-Function-Name", TEXT, absent=None),
    Avp("secondary_ecf", "Secondary-Event-Charging-Function-Name", TEXT, absent=None),
    Avp("primary_ccf", "Primary-Charging-Collection-Function-Name", TEXT, absent=None),
    Avp("secondary_ccf", "Secondary-Charging-Collection-Function-Name", TEXT, absent=None),
)
_SERVER_CAPABILITIES = Avp("server_capabilities", "Server-Capabilities", grouped(_CAPABILITIES),
                           absent=None)
_CHARGING_INFORMATION = Avp("charging_information", "Charging-Information", grouped(_CHARGING),
                            absent=None)
_ASSOCIATED_IDENTITIES = Within(
    "Associated-Identities", grp.AssociatedIdentities,
    Avp("associated_identities", "User-Name", seq(TEXT), absent=()),
)


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


_UAR = RequestShape(
    Uar, CxUserAuthorizationRequest, ApplicationId.CX,
    Avp("user_name", "User-Name", TEXT),
    Avp("public_identity", "Public-Identity", TEXT),
    Avp("visited_network_identifier", "Visited-Network-Identifier", UTF8),
    Avp("authorization_type", "User-Authorization-Type", enum(UserAuthorizationType),
        absent=UserAuthorizationType.REGISTRATION),
)
_UAA = AnswerShape(
    Uaa, commands.UserAuthorizationAnswer,
    Avp("server_name", "Server-Name", TEXT, absent=None),
    _SERVER_CAPABILITIES,
)
build_uar, read_uar = _UAR.build, _UAR.read
build_uaa, read_uaa = _UAA.build, _UAA.read


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


_DIGEST = Shape(
    DigestAuthenticate, grp.SipDigestAuthenticate,
    Avp("realm", "Digest-Realm", TEXT),
    Avp("ha1", "Digest-HA1", TEXT),
    Avp("qop", "Digest-QoP", TEXT, absent=None),
    Avp("algorithm", "Digest-Algorithm", TEXT, absent=None),
)
_AUTH_ITEM = Shape(
    AuthDataItem, CxSipAuthDataItem,
    Avp("scheme", "SIP-Authentication-Scheme", TEXT),
    Avp("item_number", "SIP-Item-Number", INT, absent=None),
    Avp("authenticate", "SIP-Authenticate", OCTETS, absent=None),
    Avp("authorization", "SIP-Authorization", OCTETS, absent=None),
    Avp("confidentiality_key", "Confidentiality-Key", OCTETS, absent=None),
    Avp("integrity_key", "Integrity-Key", OCTETS, absent=None),
    Avp("digest", "SIP-Digest-Authenticate", grouped(_DIGEST), absent=None),
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


_MAR = RequestShape(
    Mar, CxMultimediaAuthRequest, ApplicationId.CX,
    Avp("user_name", "User-Name", TEXT),
    Avp("public_identity", "Public-Identity", first(TEXT)),
    Avp("server_name", "Server-Name", TEXT),
    Avp("auth_data", "SIP-Auth-Data-Item", grouped(_AUTH_ITEM)),
    Avp("number_auth_items", "SIP-Number-Auth-Items", INT),
)
_MAA = AnswerShape(
    Maa, CxMultimediaAuthAnswer,
    Avp("user_name", "User-Name", TEXT, absent=None),
    Avp("public_identity", "Public-Identity", TEXT, absent=None),
    Avp("number_auth_items", "SIP-Number-Auth-Items", INT, absent=None),
    Avp("auth_items", "SIP-Auth-Data-Item", seq(grouped(_AUTH_ITEM)), absent=()),
)
build_mar, read_mar = _MAR.build, _MAR.read
build_maa, read_maa = _MAA.build, _MAA.read


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


_SAR = RequestShape(
    Sar, commands.ServerAssignmentRequest, ApplicationId.CX,
    Avp("user_name", "User-Name", TEXT, absent=None),
    Avp("public_identities", "Public-Identity", seq(TEXT), absent=()),
    Avp("server_name", "Server-Name", TEXT),
    Avp("assignment_type", "Server-Assignment-Type", enum(ServerAssignmentType)),
    Avp("user_data_already_available", "User-Data-Already-Available",
        enum(UserDataAlreadyAvailable)),
)
_SAA = AnswerShape(
    Saa, CxServerAssignmentAnswer,
    Avp("user_name", "User-Name", TEXT, absent=None),
    Avp("user_data", "User-Data", UTF8, absent=None),
    _CHARGING_INFORMATION,
    _ASSOCIATED_IDENTITIES,
)
build_sar, read_sar = _SAR.build, _SAR.read
build_saa, read_saa = _SAA.build, _SAA.read


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


_LIR = RequestShape(
    Lir, commands.LocationInfoRequest, ApplicationId.CX,
    Avp("public_identity", "Public-Identity", TEXT),
)
_LIA = AnswerShape(
    Lia, commands.LocationInfoAnswer,
    Avp("server_name", "Server-Name", TEXT, absent=None),
    _SERVER_CAPABILITIES,
)
build_lir, read_lir = _LIR.build, _LIR.read
build_lia, read_lia = _LIA.build, _LIA.read


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


_RTR = RequestShape(
    Rtr, commands.RegistrationTerminationRequest, ApplicationId.CX,
    Avp("user_name", "User-Name", TEXT),
    Within("Deregistration-Reason", grp.DeregistrationReason,
           Avp("reason", "Reason-Code", enum(ReasonCode)),
           Avp("reason_info", "Reason-Info", TEXT, absent=None),
           required=True),
    Avp("public_identities", "Public-Identity", seq(TEXT), absent=()),
    _ASSOCIATED_IDENTITIES,
)
_RTA = AnswerShape(Rta, commands.RegistrationTerminationAnswer, _ASSOCIATED_IDENTITIES)
build_rtr, read_rtr = _RTR.build, _RTR.read
build_rta, read_rta = _RTA.build, _RTA.read


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


_PPR = RequestShape(
    Ppr, commands.PushProfileRequest, ApplicationId.CX,
    Avp("user_name", "User-Name", TEXT),
    Avp("user_data", "User-Data", UTF8, absent=None),
    _CHARGING_INFORMATION,
)
_PPA = AnswerShape(Ppa, commands.PushProfileAnswer)
build_ppr, read_ppr = _PPR.build, _PPR.read
build_ppa, read_ppa = _PPA.build, _PPA.read
