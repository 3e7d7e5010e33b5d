"""3GPP Diameter results and envelope (TS 29.229 §6.2, TS 29.329 §6.2, TS 29.272 §7.4; Rel-17).

Two things every Cx, Sh and S6a helper shares live here:

* result codes: the base ``Result-Code`` values of RFC 6733 §7.1 and the
  3GPP ``Experimental-Result-Code`` values (vendor 10415) of each interface.
  python-diameter's ``E_RESULT_CODE_DIAMETER_*`` constants are RFC 4740
  values and are wrong for these interfaces; do not use them. ``set_result``
  puts a code in the right AVP, ``read_result`` reads whichever is present;
* the envelope of a request (Session-Id, Vendor-Specific-Application-Id,
  Auth-Session-State NO_STATE_MAINTAINED, Origin/Destination Host/Realm) and
  of an answer (the request's header identifiers, Session-Id, Origin, result).

Decoding never trusts the peer: a missing mandatory AVP raises ``AvpError``
carrying the base result a server should answer with (5005 MISSING_AVP, or
5004 INVALID_AVP_VALUE), never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypeVar

from diameter.message import Message
from diameter.message.avp.grouped import ExperimentalResult, VendorSpecificApplicationId
from diameter.message.constants import AVP_SESSION_ID

#: IANA enterprise number of 3GPP, the Vendor-Id of every 3GPP AVP and result.
VENDOR_3GPP = 10415


class ApplicationId(IntEnum):
    """Diameter application identifiers (TS 29.229 §7.2, TS 29.329 §7.2, TS 29.272 §7.1.8)."""

    CX = 16777216
    SH = 16777217
    S6A = 16777251


APP_CX = ApplicationId.CX
APP_SH = ApplicationId.SH
APP_S6A = ApplicationId.S6A


class AuthSessionState(IntEnum):
    """Auth-Session-State (RFC 6733 §8.11); Cx, Sh and S6a use NO_STATE_MAINTAINED."""

    STATE_MAINTAINED = 0
    NO_STATE_MAINTAINED = 1


class ResultCode(IntEnum):
    """Base Result-Code values (RFC 6733 §7.1.1-§7.1.5)."""

    DIAMETER_SUCCESS = 2001
    DIAMETER_LIMITED_SUCCESS = 2002
    DIAMETER_COMMAND_UNSUPPORTED = 3001
    DIAMETER_UNABLE_TO_DELIVER = 3002
    DIAMETER_REALM_NOT_SERVED = 3003
    DIAMETER_TOO_BUSY = 3004
    DIAMETER_LOOP_DETECTED = 3005
    DIAMETER_REDIRECT_INDICATION = 3006
    DIAMETER_APPLICATION_UNSUPPORTED = 3007
    DIAMETER_INVALID_HDR_BITS = 3008
    DIAMETER_INVALID_AVP_BITS = 3009
    DIAMETER_UNKNOWN_PEER = 3010
    DIAMETER_AUTHENTICATION_REJECTED = 4001
    DIAMETER_OUT_OF_SPACE = 4002
    ELECTION_LOST = 4003
    DIAMETER_AVP_UNSUPPORTED = 5001
    DIAMETER_UNKNOWN_SESSION_ID = 5002
    DIAMETER_AUTHORIZATION_REJECTED = 5003
    DIAMETER_INVALID_AVP_VALUE = 5004
    DIAMETER_MISSING_AVP = 5005
    DIAMETER_RESOURCES_EXCEEDED = 5006
    DIAMETER_CONTRADICTING_AVPS = 5007
    DIAMETER_AVP_NOT_ALLOWED = 5008
    DIAMETER_AVP_OCCURS_TOO_MANY_TIMES = 5009
    DIAMETER_NO_COMMON_APPLICATION = 5010
    DIAMETER_UNSUPPORTED_VERSION = 5011
    DIAMETER_UNABLE_TO_COMPLY = 5012
    DIAMETER_INVALID_BIT_IN_HEADER = 5013
    DIAMETER_INVALID_AVP_LENGTH = 5014
    DIAMETER_INVALID_MESSAGE_LENGTH = 5015
    DIAMETER_INVALID_AVP_BIT_COMBO = 5016
    DIAMETER_NO_COMMON_SECURITY = 5017


class CxExperimentalResult(IntEnum):
    """Cx/Dx Experimental-Result-Code values (TS 29.229 §6.2.1-§6.2.2)."""

    DIAMETER_FIRST_REGISTRATION = 2001
    DIAMETER_SUBSEQUENT_REGISTRATION = 2002
    DIAMETER_UNREGISTERED_SERVICE = 2003
    DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED = 2004
    DIAMETER_ERROR_USER_UNKNOWN = 5001
    DIAMETER_ERROR_IDENTITIES_DONT_MATCH = 5002
    DIAMETER_ERROR_IDENTITY_NOT_REGISTERED = 5003
    DIAMETER_ERROR_ROAMING_NOT_ALLOWED = 5004
    DIAMETER_ERROR_IDENTITY_ALREADY_REGISTERED = 5005
    DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED = 5006
    DIAMETER_ERROR_IN_ASSIGNMENT_TYPE = 5007
    DIAMETER_ERROR_TOO_MUCH_DATA = 5008
    DIAMETER_ERROR_NOT_SUPPORTED_USER_DATA = 5009
    DIAMETER_ERROR_FEATURE_UNSUPPORTED = 5011
    DIAMETER_ERROR_SERVING_NODE_FEATURE_UNSUPPORTED = 5012


class ShExperimentalResult(IntEnum):
    """Sh Experimental-Result-Code values (TS 29.329 §6.2; 5001/5002/5008/5011 from TS 29.229)."""

    DIAMETER_USER_DATA_NOT_AVAILABLE = 4100
    DIAMETER_PRIOR_UPDATE_IN_PROGRESS = 4101
    DIAMETER_ERROR_USER_UNKNOWN = 5001
    DIAMETER_ERROR_IDENTITIES_DONT_MATCH = 5002
    DIAMETER_ERROR_TOO_MUCH_DATA = 5008
    DIAMETER_ERROR_FEATURE_UNSUPPORTED = 5011
    DIAMETER_ERROR_USER_DATA_NOT_RECOGNIZED = 5100
    DIAMETER_ERROR_OPERATION_NOT_ALLOWED = 5101
    DIAMETER_ERROR_USER_DATA_CANNOT_BE_READ = 5102
    DIAMETER_ERROR_USER_DATA_CANNOT_BE_MODIFIED = 5103
    DIAMETER_ERROR_USER_DATA_CANNOT_BE_NOTIFIED = 5104
    DIAMETER_ERROR_TRANSPARENT_DATA_OUT_OF_SYNC = 5105
    DIAMETER_ERROR_SUBS_DATA_ABSENT = 5106
    DIAMETER_ERROR_NO_SUBSCRIPTION_TO_DATA = 5107
    DIAMETER_ERROR_DSAI_NOT_AVAILABLE = 5108


class S6aExperimentalResult(IntEnum):
    """S6a/S6d Experimental-Result-Code values (TS 29.272 §7.4.3-§7.4.4)."""

    DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE = 4181
    DIAMETER_ERROR_CAMEL_SUBSCRIPTION_PRESENT = 4182
    DIAMETER_ERROR_USER_UNKNOWN = 5001
    DIAMETER_ERROR_ROAMING_NOT_ALLOWED = 5004
    DIAMETER_ERROR_UNKNOWN_EPS_SUBSCRIPTION = 5420
    DIAMETER_ERROR_RAT_NOT_ALLOWED = 5421
    DIAMETER_ERROR_EQUIPMENT_UNKNOWN = 5422
    DIAMETER_ERROR_UNKNOWN_SERVING_NODE = 5423


E = TypeVar("E", bound=IntEnum)

_EXPERIMENTAL = (CxExperimentalResult, ShExperimentalResult, S6aExperimentalResult)


class AvpError(ValueError):
    """A received message lacks a mandatory AVP or carries an unusable value.

    Attributes:
        avp: the AVP's name as the specification spells it.
        result_hint: the base Result-Code a server should answer with.
    """

    def __init__(self, avp: str, result_hint: ResultCode = ResultCode.DIAMETER_MISSING_AVP) -> None:
        super().__init__(f"{avp}: {result_hint.name}")
        self.avp = avp
        self.result_hint = result_hint


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome an answer carries: a base Result-Code or a 3GPP Experimental-Result-Code."""

    code: int
    experimental: bool = False

    @classmethod
    def of(cls, code: IntEnum) -> Result:
        """Place ``code`` by its enum: the 3GPP enums are experimental, ``ResultCode`` is not."""
        return cls(int(code), isinstance(code, _EXPERIMENTAL))

    @property
    def is_success(self) -> bool:
        """True for every 2xxx code (RFC 6733 §7.1.2, TS 29.229 §6.2.1)."""
        return 2000 <= self.code < 3000


SUCCESS = Result(ResultCode.DIAMETER_SUCCESS)


def set_result_code(answer: Message, code: int) -> None:
    """Put a base Result-Code on ``answer``, removing any Experimental-Result.

    A protocol error (3xxx) also sets the E bit (RFC 6733 §7.1.3).
    """
    answer.result_code = int(code)
    answer.experimental_result = None
    answer.header.is_error = 3000 <= int(code) < 4000


def set_experimental_result(answer: Message, code: int) -> None:
    """Put a 3GPP Experimental-Result (vendor 10415) on ``answer``, removing any Result-Code."""
    answer.result_code = None
    answer.experimental_result = ExperimentalResult(
        vendor_id=VENDOR_3GPP, experimental_result_code=int(code)
    )
    answer.header.is_error = False


def set_result(answer: Message, result: Result) -> None:
    """Put ``result`` in the AVP its kind calls for."""
    if result.experimental:
        set_experimental_result(answer, result.code)
    else:
        set_result_code(answer, result.code)


def read_result(answer: Message) -> Result:
    """Read the Result-Code, or else the 3GPP Experimental-Result, of ``answer``.

    Raises:
        AvpError: neither is present, or the Experimental-Result is not 3GPP's.
    """
    code = answer.result_code
    if code is not None:
        return Result(int(code), experimental=False)
    grouped = answer.experimental_result
    if grouped is None or grouped.experimental_result_code is None:
        raise AvpError("Result-Code")
    if grouped.vendor_id != VENDOR_3GPP:
        raise AvpError("Experimental-Result", ResultCode.DIAMETER_INVALID_AVP_VALUE)
    return Result(int(grouped.experimental_result_code), experimental=True)


# -- values out of the untyped library --------------------------------------
def text(value: Any, avp: str) -> str:
    """A mandatory UTF8String or DiameterIdentity value as ``str``."""
    if value is None:
        raise AvpError(avp)
    return opt_text(value) or ""


def opt_text(value: Any) -> str | None:
    """An optional UTF8String/DiameterIdentity/OctetString value as ``str``."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def integer(value: Any, avp: str) -> int:
    """A mandatory Unsigned32/Enumerated value."""
    if value is None:
        raise AvpError(avp)
    if not isinstance(value, int):
        raise AvpError(avp, ResultCode.DIAMETER_INVALID_AVP_VALUE)
    return value


def opt_integer(value: Any, avp: str) -> int | None:
    """An optional Unsigned32/Enumerated value."""
    return None if value is None else integer(value, avp)


def octets(value: Any, avp: str) -> bytes:
    """A mandatory OctetString value."""
    if value is None:
        raise AvpError(avp)
    if isinstance(value, str):
        return value.encode("utf-8")
    return bytes(value)


def opt_octets(value: Any, avp: str) -> bytes | None:
    """An optional OctetString value."""
    return None if value is None else octets(value, avp)


def opt_utf8(value: Any, avp: str) -> str | None:
    """An optional OctetString holding UTF-8 text (User-Data XML: TS 29.229 §6.3.7)."""
    data = opt_octets(value, avp)
    return None if data is None else data.decode("utf-8", errors="replace")


def enum_value(enum: type[E], value: Any, avp: str) -> E:
    """A mandatory Enumerated value converted to ``enum``."""
    number = integer(value, avp)
    try:
        return enum(number)
    except ValueError as exc:
        raise AvpError(avp, ResultCode.DIAMETER_INVALID_AVP_VALUE) from exc


def opt_enum_value(enum: type[E], value: Any, avp: str) -> E | None:
    """An optional Enumerated value converted to ``enum``."""
    return None if value is None else enum_value(enum, value, avp)


# -- the envelope of requests and answers -----------------------------------
@dataclass(frozen=True, slots=True)
class Envelope:
    """What every Cx/Sh/S6a request carries besides its own AVPs (TS 29.229 §6.1)."""

    session_id: str
    origin_host: str
    origin_realm: str
    destination_realm: str
    destination_host: str | None = None


@dataclass(frozen=True, slots=True)
class Origin:
    """The answering node's Origin-Host and Origin-Realm."""

    host: str
    realm: str


@dataclass(frozen=True, slots=True)
class Answer:
    """What every answer carries besides its own AVPs."""

    session_id: str
    origin_host: str
    origin_realm: str
    result: Result

    @classmethod
    def to(cls, request: Envelope, origin: Origin, result: Result) -> Answer:
        """The answer envelope for ``request`` sent by ``origin``."""
        return cls(request.session_id, origin.host, origin.realm, result)


def _application_ids(app: int) -> VendorSpecificApplicationId:
    return VendorSpecificApplicationId(vendor_id=VENDOR_3GPP, auth_application_id=int(app))


def session_id(msg: Message) -> str:
    """The Session-Id of ``msg``, also where its library class does not declare one.

    Raises:
        AvpError: there is no Session-Id.
    """
    value = getattr(msg, "session_id", None)
    if value is None:
        found = msg.find_avps((AVP_SESSION_ID, 0))
        value = found[0].value if found else None
    return text(value, "Session-Id")


def fill_request(msg: Message, app: ApplicationId, envelope: Envelope) -> Message:
    """Set the application, Session-Id, application ids, state and routing AVPs of ``msg``."""
    msg.header.application_id = int(app)
    msg.session_id = envelope.session_id
    msg.vendor_specific_application_id = _application_ids(app)
    msg.auth_session_state = int(AuthSessionState.NO_STATE_MAINTAINED)
    msg.origin_host = envelope.origin_host.encode()
    msg.origin_realm = envelope.origin_realm.encode()
    msg.destination_realm = envelope.destination_realm.encode()
    if envelope.destination_host is not None:
        msg.destination_host = envelope.destination_host.encode()
    return msg


def read_envelope(msg: Message) -> Envelope:
    """Read the envelope of a received request.

    Raises:
        AvpError: Session-Id, Origin-Host, Origin-Realm or Destination-Realm is missing.
    """
    return Envelope(
        session_id=session_id(msg),
        origin_host=text(msg.origin_host, "Origin-Host"),
        origin_realm=text(msg.origin_realm, "Origin-Realm"),
        destination_realm=text(msg.destination_realm, "Destination-Realm"),
        destination_host=opt_text(msg.destination_host),
    )


def fill_answer(answer: Message, request: Message, envelope: Answer) -> Message:
    """Copy the request's header identifiers into ``answer`` and set its envelope and result."""
    answer.header.application_id = request.header.application_id
    answer.header.hop_by_hop_identifier = request.header.hop_by_hop_identifier
    answer.header.end_to_end_identifier = request.header.end_to_end_identifier
    answer.header.is_proxyable = request.header.is_proxyable
    answer.session_id = envelope.session_id
    answer.vendor_specific_application_id = _application_ids(request.header.application_id)
    answer.auth_session_state = int(AuthSessionState.NO_STATE_MAINTAINED)
    answer.origin_host = envelope.origin_host.encode()
    answer.origin_realm = envelope.origin_realm.encode()
    set_result(answer, envelope.result)
    return answer


def read_answer(msg: Message) -> Answer:
    """Read the envelope and result of a received answer.

    Raises:
        AvpError: Session-Id, Origin-Host, Origin-Realm or any result is missing.
    """
    return Answer(
        session_id=session_id(msg),
        origin_host=text(msg.origin_host, "Origin-Host"),
        origin_realm=text(msg.origin_realm, "Origin-Realm"),
        result=read_result(msg),
    )


# -- TBCD (MSISDN AVP: TS 29.329 §6.3.2, TS 29.272 §7.3.2) ------------------
def encode_tbcd(digits: str) -> bytes:
    """Encode decimal digits as TBCD: two digits an octet, low nibble first, 0xF filler.

    Raises:
        ValueError: ``digits`` holds anything but 0-9, ``*``, ``#``, a-c.
    """
    nibbles = [_TBCD_DIGITS.index(d) if d in _TBCD_DIGITS else -1 for d in digits.lower()]
    if -1 in nibbles:
        raise ValueError(f"not a TBCD digit string: {digits!r}")
    if len(nibbles) % 2:
        nibbles.append(0xF)
    return bytes(nibbles[i] | nibbles[i + 1] << 4 for i in range(0, len(nibbles), 2))


def decode_tbcd(data: bytes) -> str:
    """Decode TBCD octets into digits, dropping the 0xF filler."""
    out = []
    for octet in data:
        for nibble in (octet & 0x0F, octet >> 4):
            if nibble != 0xF:
                out.append(_TBCD_DIGITS[nibble])
    return "".join(out)


_TBCD_DIGITS = "0123456789*#abc"
