"""Sh build and read helpers, and Sh-Data XML (TS 29.329 §6.1, TS 29.328 Annex D; Rel-17).

UDR/UDA and PUR/PUA, one pure ``build_<msg>`` and one ``read_<msg>`` each,
over python-diameter's command classes, each one table of ``mapping.py``
rows; ``read_<msg>`` returns what ``build_<msg>`` takes. python-diameter 0.9's UDA and PUR put User-Data in
Cx's code 606; Sh's User-Data is 702 (TS 29.329 §6.3.3), corrected here by
subclassing with a fixed ``avp_def`` (upstream fixed it in PR #59, after 0.9).

The User-Data of Sh carries Sh-Data XML (TS 29.328 Annex D). ``ShData``
covers what our HSS serves: PublicIdentifiers, RepositoryData (with the
sequence number PUR must advance, TS 29.328 §6.1.2.1) and the S-CSCF name and
IMS user state of Sh-IMS-Data. Built with ElementTree, parsed defensively
(size limit, no DTD).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from enum import IntEnum
from typing import Any
from xml.sax.saxutils import escape

from diameter.message.avp.generator import AvpGenDef
from diameter.message.avp.grouped import RepositoryDataId as LibRepositoryDataId
from diameter.message.avp.grouped import UserIdentity
from diameter.message.commands import (
    ProfileUpdateAnswer,
    ProfileUpdateRequest,
    UserDataAnswer,
    UserDataRequest,
)
from diameter.message.constants import AVP_TGPP_SH_USER_DATA

from .mapping import (
    INT,
    OCTETS,
    TBCD,
    TEXT,
    UTF8,
    AnswerShape,
    Avp,
    Codec,
    RequestShape,
    Shape,
    enum,
    first,
    grouped,
    seq,
)
from .results import VENDOR_3GPP, Answer, ApplicationId, AvpError, Envelope
from .userdata import parse_xml_root

#: Largest Sh-Data accepted for parsing, in octets.
MAX_SH_DATA = 256 * 1024


class DataReference(IntEnum):
    """Data-Reference (TS 29.329 §6.3.4)."""

    REPOSITORY_DATA = 0
    IMS_PUBLIC_IDENTITY = 10
    IMS_USER_STATE = 11
    S_CSCF_NAME = 12
    INITIAL_FILTER_CRITERIA = 13
    LOCATION_INFORMATION = 14
    USER_STATE = 15
    CHARGING_INFORMATION = 16
    MSISDN = 17
    PSI_ACTIVATION = 18
    DSAI = 19


class ImsUserState(IntEnum):
    """IMSUserState of Sh-IMS-Data (TS 29.328 §7.6, tIMSUserState)."""

    NOT_REGISTERED = 0
    REGISTERED = 1
    REGISTERED_UNREG_SERVICES = 2
    AUTHENTICATION_PENDING = 3


_USER_DATA = AvpGenDef("user_data", AVP_TGPP_SH_USER_DATA, VENDOR_3GPP)


def _redefine(defs: tuple[Any, ...], required: bool) -> tuple[Any, ...]:
    fixed = _USER_DATA._replace(is_required=required)
    return tuple(fixed if d.attr_name == "user_data" else d for d in defs)


class ShUserDataAnswer(UserDataAnswer):  # type: ignore[misc]
    """UDA with Sh's User-Data code 702."""

    avp_def = _redefine(UserDataAnswer.avp_def, required=False)


class ShProfileUpdateRequest(ProfileUpdateRequest):  # type: ignore[misc]
    """PUR with Sh's User-Data code 702."""

    avp_def = _redefine(ProfileUpdateRequest.avp_def, required=True)


# -- User-Identity (TS 29.329 §6.3.1) ---------------------------------------
@dataclass(frozen=True, slots=True)
class ShUserIdentity:
    """User-Identity: a Public-Identity or an MSISDN (decimal digits, TBCD on the wire)."""

    public_identity: str | None = None
    msisdn: str | None = None


_IDENTITY = Shape(
    ShUserIdentity, UserIdentity,
    Avp("public_identity", "Public-Identity", TEXT, absent=None),
    Avp("msisdn", "MSISDN", TBCD, absent=None),
)


def _get_identity(group: Any, _avp: str) -> ShUserIdentity:
    identity = _IDENTITY.get(group)
    if identity.public_identity is None and identity.msisdn is None:
        raise AvpError("Public-Identity")
    return identity


_USER_IDENTITY = Avp("user_identity", "User-Identity",
                     Codec(grouped(_IDENTITY).put, _get_identity))


# -- UDR/UDA (TS 29.329 §6.1.1-§6.1.2) --------------------------------------
@dataclass(frozen=True, slots=True)
class Udr:
    """User-Data-Request: an AS reads user data."""

    envelope: Envelope
    user_identity: ShUserIdentity
    data_references: tuple[DataReference, ...]
    service_indications: tuple[bytes, ...] = ()
    server_name: str | None = None


@dataclass(frozen=True, slots=True)
class Uda:
    """User-Data-Answer: the Sh-Data XML."""

    answer: Answer
    user_data: str | None = None


_UDR = RequestShape(
    Udr, UserDataRequest, ApplicationId.SH,
    _USER_IDENTITY,
    Avp("data_references", "Data-Reference", seq(enum(DataReference), at_least_one=True)),
    Avp("service_indications", "Service-Indication", seq(OCTETS), absent=()),
    Avp("server_name", "Server-Name", TEXT, absent=None),
)
_UDA = AnswerShape(Uda, ShUserDataAnswer, Avp("user_data", "User-Data", UTF8, absent=None))
build_udr, read_udr = _UDR.build, _UDR.read
build_uda, read_uda = _UDA.build, _UDA.read


# -- PUR/PUA (TS 29.329 §6.1.3-§6.1.4) --------------------------------------
@dataclass(frozen=True, slots=True)
class Pur:
    """Profile-Update-Request: an AS writes user data (Sh-Data XML)."""

    envelope: Envelope
    user_identity: ShUserIdentity
    data_reference: DataReference
    user_data: str


@dataclass(frozen=True, slots=True)
class RepositoryDataId:
    """Repository-Data-ID (TS 29.329 §6.3.29): which repository data was updated."""

    service_indication: bytes
    sequence_number: int


@dataclass(frozen=True, slots=True)
class Pua:
    """Profile-Update-Answer."""

    answer: Answer
    repository_data_id: RepositoryDataId | None = None
    data_reference: DataReference | None = None


_PUR = RequestShape(
    Pur, ShProfileUpdateRequest, ApplicationId.SH,
    _USER_IDENTITY,
    Avp("data_reference", "Data-Reference", first(enum(DataReference))),
    Avp("user_data", "User-Data", UTF8),
)
_PUA = AnswerShape(
    Pua, ProfileUpdateAnswer,
    Avp("repository_data_id", "Repository-Data-ID", grouped(Shape(
        RepositoryDataId, LibRepositoryDataId,
        Avp("service_indication", "Service-Indication", OCTETS),
        Avp("sequence_number", "Sequence-Number", INT),
    )), absent=None),
    Avp("data_reference", "Data-Reference", enum(DataReference), absent=None),
)
build_pur, read_pur = _PUR.build, _PUR.read
build_pua, read_pua = _PUA.build, _PUA.read


# -- Sh-Data XML (TS 29.328 Annex D) ----------------------------------------
class ShDataError(ValueError):
    """Sh-Data XML that is malformed, too large or out of the schema."""


@dataclass(frozen=True, slots=True)
class RepositoryData:
    """RepositoryData: transparent data an AS keeps in the HSS (TS 29.328 §7.1).

    ``service_data`` is the markup inside ServiceData (an XML fragment, or
    text with ``&`` and ``<`` escaped). A parse re-serialises it with
    ElementTree: equal as XML, not always byte for byte (``<a/>`` -> ``<a />``).
    """

    service_indication: str
    sequence_number: int
    service_data: str | None = None


@dataclass(frozen=True, slots=True)
class ShData:
    """The Sh-Data parts our HSS serves (TS 29.328 Annex D, tShData)."""

    public_identities: tuple[str, ...] = ()
    msisdns: tuple[str, ...] = ()
    repository_data: tuple[RepositoryData, ...] = ()
    scscf_name: str | None = None
    ims_user_state: ImsUserState | None = None


def _sub(parent: ET.Element, tag: str, value: str | int | None = None) -> ET.Element:
    child = ET.SubElement(parent, tag)
    if value is not None:
        child.text = str(value)
    return child


def _put_service_data(parent: ET.Element, inner: str) -> None:
    """Append ServiceData holding ``inner`` (text or an XML fragment), parsed, not pasted.

    Raises:
        ShDataError: ``inner`` is not well-formed.
    """
    parser = ET.XMLParser()
    try:
        for chunk in ("<ServiceData>", inner, "</ServiceData>"):
            parser.feed(chunk)
        parent.append(parser.close())
    except ET.ParseError as exc:
        raise ShDataError(f"ServiceData is not well-formed: {exc}") from exc


def build_sh_data(data: ShData) -> str:
    """Serialise ``data`` as Sh-Data XML (no declaration, no namespace).

    Raises:
        ShDataError: a ServiceData fragment is not well-formed.
    """
    root = ET.Element("Sh-Data")
    if data.public_identities or data.msisdns:
        ids = _sub(root, "PublicIdentifiers")
        for identity in data.public_identities:
            _sub(ids, "IMSPublicIdentity", identity)
        for msisdn in data.msisdns:
            _sub(ids, "MSISDN", msisdn)
    for repo in data.repository_data:
        node = _sub(root, "RepositoryData")
        _sub(node, "ServiceIndication", repo.service_indication)
        _sub(node, "SequenceNumber", repo.sequence_number)
        if repo.service_data is not None:
            _put_service_data(node, repo.service_data)
    if data.scscf_name is not None or data.ims_user_state is not None:
        ims = _sub(root, "Sh-IMS-Data")
        if data.scscf_name is not None:
            _sub(ims, "S-CSCFName", data.scscf_name)
        if data.ims_user_state is not None:
            _sub(ims, "IMSUserState", int(data.ims_user_state))
    return ET.tostring(root, encoding="unicode", xml_declaration=False)


def _inner_xml(node: ET.Element) -> str:
    """The markup inside ``node``, text escaped again, so that it rebuilds the same element."""
    parts = [escape(node.text or "")]
    for child in node:
        parts.append(ET.tostring(child, encoding="unicode"))
    return "".join(parts)


def _number(node: ET.Element | None, tag: str) -> int:
    if node is None or node.text is None or not node.text.strip().isdigit():
        raise ShDataError(f"{tag} is not a number")
    return int(node.text.strip())


def _repository(node: ET.Element) -> RepositoryData:
    indication = node.findtext("ServiceIndication")
    if not indication:
        raise ShDataError("RepositoryData without ServiceIndication")
    service = node.find("ServiceData")
    return RepositoryData(indication, _number(node.find("SequenceNumber"), "SequenceNumber"),
                          None if service is None else _inner_xml(service))


def _texts(parent: ET.Element | None, tag: str) -> tuple[str, ...]:
    return () if parent is None else tuple(e.text or "" for e in parent.iterfind(tag))


def _user_state(ims: ET.Element | None) -> ImsUserState | None:
    node = None if ims is None else ims.find("IMSUserState")
    if node is None:
        return None
    try:
        return ImsUserState(_number(node, "IMSUserState"))
    except ValueError as exc:
        raise ShDataError("IMSUserState out of range") from exc


def parse_sh_data(xml: str | bytes) -> ShData:
    """Parse Sh-Data XML.

    Raises:
        ShDataError: malformed, over ``MAX_SH_DATA``, with a DTD, or out of the schema.
    """
    root = parse_xml_root(xml, MAX_SH_DATA, ShDataError)
    if root.tag != "Sh-Data":
        raise ShDataError(f"root element is {root.tag}, not Sh-Data")
    ids = root.find("PublicIdentifiers")
    ims = root.find("Sh-IMS-Data")
    return ShData(
        public_identities=_texts(ids, "IMSPublicIdentity"),
        msisdns=_texts(ids, "MSISDN"),
        repository_data=tuple(_repository(n) for n in root.iterfind("RepositoryData")),
        scscf_name=None if ims is None else ims.findtext("S-CSCFName"),
        ims_user_state=_user_state(ims),
    )
