"""I-CSCF routing decisions: UAR for REGISTER, LIR for terminating requests.

Pure decision logic (TS 24.229 §5.3, TS 29.228 §6.1): it turns a SIP request
into the Cx query to make, and the Cx answer (or the failure to get one)
into where the request goes or the SIP response that ends it. The async
orchestrator (:mod:`icscf.service`) makes the queries through a
:class:`CxPort`; nothing here waits, sends or reads a clock.

* REGISTER (TS 24.229 §5.3.1.2): UAR with the IMPI (Authorization username,
  else derived from the IMPU, TS 33.203 §6.1 / TS 23.003 §13.3), the IMPU
  (To), the Visited-Network-Identifier (P-Visited-Network-ID, RFC 7315 §4.3)
  and the type REGISTRATION, or DE_REGISTRATION for an Expires 0 REGISTER
  (TS 29.228 §6.1.1). Forwarded to the Server-Name returned, else to an
  S-CSCF picked by capabilities (:mod:`icscf.scscf_select`).
* Initial terminating requests (TS 24.229 §5.3.2.1): LIR for the
  Request-URI; forwarded to the serving S-CSCF, or for
  ``DIAMETER_UNREGISTERED_SERVICE`` to one picked by capabilities
  (TS 29.228 §6.1.2.1).
* Errors: the Experimental-Result / Result-Code of the answer mapped to the
  responses TS 24.229 §5.3.1.2 and §5.3.2.1 name (:data:`CX_ERRORS`);
  an HSS that does not answer gives 480 or 504, never a hang.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from ims.diameter.cx import Lia, ServerCapabilities, Uaa, UserAuthorizationType
from ims.diameter.results import CxExperimentalResult, Result, ResultCode
from ims.sip.errors import SipError
from ims.sip.headers.auth import credentials
from ims.sip.headers.option import contact_expiry
from ims.sip.headers.pheaders import visited_network_ids
from ims.sip.message import Request, Response, make_response
from ims.sip.proxy import Target
from ims.sip.uri import SipUri, TelUri, parse_uri

from .scscf_select import ScscfCandidate, select_scscf

X = CxExperimentalResult


@dataclass(frozen=True, slots=True)
class UarQuery:
    """What the I-CSCF asks the HSS for a REGISTER (TS 29.228 §6.1.1.1)."""

    user_name: str
    public_identity: str
    visited_network: str
    authorization_type: UserAuthorizationType


@dataclass(frozen=True, slots=True)
class LirQuery:
    """What the I-CSCF asks the HSS for a terminating request (TS 29.228 §6.1.4.1)."""

    public_identity: str


class CxPort(Protocol):
    """The part of :class:`ims.diameter.client.CxPort` the I-CSCF uses (TS 29.229 §6.1).

    Each method raises ``DiameterTimeout`` / ``DiameterUnreachable`` (or the
    built-in ``TimeoutError`` / ``ConnectionError``) when the HSS does not answer.
    """

    async def uar(self, impi: str, impu: str, visited_network: str,
                  authorization_type: UserAuthorizationType = (
                      UserAuthorizationType.REGISTRATION)) -> Uaa:
        """User-Authorization (TS 29.228 §6.1.1)."""
        ...

    async def lir(self, impu: str) -> Lia:
        """Location-Info (TS 29.228 §6.1.4)."""
        ...


class CxFailure(Enum):
    """Why no Cx answer came back."""

    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    BAD_ANSWER = "bad answer"


#: (experimental, code) -> (status, reason) for REGISTER (TS 24.229 §5.3.1.2).
CX_ERRORS: dict[tuple[bool, int], tuple[int, str]] = {
    (True, X.DIAMETER_ERROR_USER_UNKNOWN): (403, "Forbidden - User Unknown"),
    (True, X.DIAMETER_ERROR_IDENTITIES_DONT_MATCH): (403, "Forbidden - Identities Don't Match"),
    (True, X.DIAMETER_ERROR_ROAMING_NOT_ALLOWED): (403, "Forbidden - Roaming Not Allowed"),
    (True, X.DIAMETER_ERROR_IDENTITY_NOT_REGISTERED): (
        480, "Temporarily Unavailable - Identity Not Registered"),
    (True, X.DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED): (403, "Forbidden - Auth Scheme Not Supported"),
    (False, ResultCode.DIAMETER_AUTHORIZATION_REJECTED): (403, "Forbidden - Authorization Rejected"),
    (False, ResultCode.DIAMETER_UNABLE_TO_DELIVER): (480, "Temporarily Unavailable - HSS Unreachable"),
    (False, ResultCode.DIAMETER_TOO_BUSY): (480, "Temporarily Unavailable - HSS Busy"),
}

#: Overrides for terminating requests (TS 24.229 §5.3.2.1: 404 for an unknown user).
CX_ERRORS_TERMINATING: dict[tuple[bool, int], tuple[int, str]] = {
    (True, X.DIAMETER_ERROR_USER_UNKNOWN): (404, "Not Found - User Unknown"),
}

#: Responses when the HSS gives no answer at all.
CX_FAILURES: dict[CxFailure, tuple[int, str]] = {
    CxFailure.TIMEOUT: (504, "Server Time-out - HSS Did Not Answer"),
    CxFailure.UNREACHABLE: (480, "Temporarily Unavailable - HSS Unreachable"),
    CxFailure.BAD_ANSWER: (500, "Server Internal Error - Unreadable HSS Answer"),
}

NO_SCSCF = (600, "Busy Everywhere - No S-CSCF Available")
"""TS 24.229 §5.3.1.2: no S-CSCF can be selected."""

#: Methods that never start a location query (TS 24.229 §5.3.2.1: initial requests only).
_NO_LIR_METHODS = frozenset({"ACK", "CANCEL", "REGISTER"})


# -- queries ----------------------------------------------------------------------
def public_identity(req: Request) -> str:
    """The IMPU being registered: the To URI (TS 24.229 §5.3.1.2), without parameters."""
    uri = req.to.uri
    if isinstance(uri, SipUri):
        return f"{uri.scheme}:{uri.user + '@' if uri.user else ''}{uri.host_port}"
    return str(uri)


def private_identity(req: Request, impu: str) -> str:
    """The IMPI: the Authorization username, else derived from the IMPU.

    TS 24.229 §5.3.1.2 takes the User-Name from the Authorization header;
    without one (no credentials yet) it is derived as TS 33.203 §6.1 / the
    S-CSCF does (TS 24.229 §5.4.1.2.1): the IMPU without its scheme.
    """
    for cred in credentials(req):
        if cred.is_digest and cred.username:
            return cred.username
    return impu.partition(":")[2]


def is_deregistration(req: Request) -> bool:
    """True when every binding asks for expiry 0 (RFC 3261 §10.2.2, TS 29.228 §6.1.1)."""
    values = req.get_all("contact")
    if values == ["*"]:
        return req.expires == 0
    contacts = req.contacts
    return bool(contacts) and all(contact_expiry(c, req) == 0 for c in contacts)


def uar_query(req: Request, home_network: str) -> UarQuery:
    """The UAR for REGISTER ``req`` (TS 29.228 §6.1.1.1).

    ``home_network`` is used as Visited-Network-Identifier when the request
    carries no P-Visited-Network-ID (a P-CSCF in the home network).

    Raises:
        SipError: 400 when To, Contact, Expires or P-Visited-Network-ID is malformed.
    """
    impu = public_identity(req)
    visited = visited_network_ids(req)
    kind = (UserAuthorizationType.DE_REGISTRATION if is_deregistration(req)
            else UserAuthorizationType.REGISTRATION)
    return UarQuery(private_identity(req, impu), impu,
                    visited[0].value if visited else home_network, kind)


def needs_location_query(req: Request) -> bool:
    """True for an initial request to an identity (TS 24.229 §5.3.2.1).

    In-dialog requests (To tag), requests still carrying a Route and
    requests for a user-less URI (the I-CSCF itself) are routed as usual.
    """
    if req.method in _NO_LIR_METHODS or req.to.tag is not None or req.has("route"):
        return False
    uri = req.uri
    return isinstance(uri, TelUri) or (isinstance(uri, SipUri) and uri.user is not None)


def lir_query(req: Request) -> LirQuery:
    """The LIR for terminating ``req``: its Request-URI (TS 29.228 §6.1.4.1)."""
    uri = req.uri
    if isinstance(uri, SipUri):
        return LirQuery(f"{uri.scheme}:{uri.user + '@' if uri.user else ''}{uri.host_port}")
    return LirQuery(str(uri))


# -- answers ------------------------------------------------------------------------
def _reply(req: Request, status_reason: tuple[int, str]) -> Response:
    return make_response(req, status_reason[0], status_reason[1])


def _error(req: Request, result: Result, terminating: bool) -> Response | None:
    if result.is_success:
        return None
    key = (result.experimental, result.code)
    mapped = (CX_ERRORS_TERMINATING.get(key) if terminating else None) or CX_ERRORS.get(key)
    if mapped is None:
        kind = "Experimental-Result" if result.experimental else "Result-Code"
        mapped = (500, f"Server Internal Error - HSS {kind} {result.code}")
    return _reply(req, mapped)


def scscf_target(server_name: str) -> Target:
    """Send to the S-CSCF ``server_name`` without writing it into the message.

    Like Kamailio's I-CSCF (destination URI only): the S-CSCF sees the
    Request-URI as sent and no Route of ours (TS 24.229 §5.3.1.2, §5.3.2.1).

    Raises:
        SipError: 500 when the name is not a SIP URI.
    """
    try:
        uri = parse_uri(server_name.strip().strip("<>"))
    except SipError as err:
        raise SipError(f"Bad S-CSCF name {server_name!r}", 500) from err
    if not isinstance(uri, SipUri):
        raise SipError(f"S-CSCF name {server_name!r} is not a SIP URI", 500)
    return Target(next_hop=uri)


def _serving(req: Request, server_name: str | None, caps: ServerCapabilities | None,
             candidates: Sequence[ScscfCandidate]) -> Target | Response:
    if server_name:
        return scscf_target(server_name)
    chosen = select_scscf(candidates, caps)
    if chosen is None:
        return _reply(req, NO_SCSCF)
    return scscf_target(chosen.uri)


def registration_decision(req: Request, uaa: Uaa,
                          candidates: Sequence[ScscfCandidate]) -> Target | Response:
    """Where a REGISTER goes after its UAA (TS 24.229 §5.3.1.2, TS 29.228 §6.1.1.2)."""
    error = _error(req, uaa.answer.result, terminating=False)
    if error is not None:
        return error
    return _serving(req, uaa.server_name, uaa.server_capabilities, candidates)


def location_decision(req: Request, lia: Lia,
                      candidates: Sequence[ScscfCandidate]) -> Target | Response:
    """Where a terminating request goes after its LIA (TS 24.229 §5.3.2.1, TS 29.228 §6.1.4.2).

    ``DIAMETER_UNREGISTERED_SERVICE`` without a Server-Name means an S-CSCF
    must be picked for unregistered service, from the capabilities.
    """
    error = _error(req, lia.answer.result, terminating=True)
    if error is not None:
        return error
    return _serving(req, lia.server_name, lia.server_capabilities, candidates)


def failure_response(req: Request, failure: CxFailure) -> Response:
    """The response when the HSS did not answer (TS 24.229 §5.3.1.2: never a hang)."""
    return _reply(req, CX_FAILURES[failure])
