"""The UE side of IMS registration: REGISTER builders and the registration flow.

TS 24.229 (Release 17) §5.1.1 with RFC 3261 §10, RFC 3310 and TS 33.203.

Builders (pure functions):

* :func:`build_register` — the REGISTER of §5.1.1.2.1: Request-URI is the
  home domain, From/To the IMPU, Contact with ``+sip.instance``, the MMTel
  ICSI feature tag and ``expires``, ``Supported: path``, and an
  Authorization header; before any challenge it is
  :func:`initial_credentials` (username = IMPI, ``nonce=""``,
  ``response=""``), which lets the I-CSCF and S-CSCF find the IMPI.
* :func:`answer_challenge` — the answer to a 401 (§5.1.1.5.1): AKAv1-MD5
  (RFC 3310 §3.2: nonce = base64(RAND || AUTN), password = RES, qop=auth
  with cnonce/nc); a MAC failure answered with an empty ``response`` and no
  ``auts`` (§5.1.1.5.3); a synchronisation failure answered with ``auts``
  and the response computed with an empty password (RFC 3310 §3.4,
  §5.1.1.5.2); plain MD5 (RFC 2617) with a configured password.
* :func:`binding_from_ok` — what the 200 OK grants (§5.1.1.2.2): the expiry
  of *our* contact, Service-Route, P-Associated-URI, Path.

:class:`RegistrationFlow` is the sans-I/O state machine (events in, actions
out)::

    UNREGISTERED --register()--> SENT_INITIAL --401--> CHALLENGED --200--> REGISTERED
          ^                        ^    |  (sync failure: AUTS, back to SENT_INITIAL)
          |                        |    +--4xx/5xx/6xx/timeout--> FAILED
          +--200 (Expires: 0)-- DEREGISTERING <--deregister()-- REGISTERED

The asyncio glue (:mod:`ims.ue.client`) only sends each :class:`SendRegister`
and feeds back the final response or the transaction timeout.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from ims.auth.digest import (
    ALGORITHM_AKAV1_MD5,
    ALGORITHM_MD5,
    auts_param,
    digest_response,
    parse_aka_nonce,
)
from ims.sip.errors import SipError
from ims.sip.headers.auth import Challenge, Credentials, challenges
from ims.sip.headers.nameaddr import NameAddr
from ims.sip.message import Request, Response, build_request
from ims.sip.uri import SipUri, parse_uri, uri_equal
from ims.ue.isim import AkaOutcome, AkaStatus, Isim

__all__ = [
    "ALLOW",
    "MMTEL_ICSI",
    "Binding",
    "ChallengeAnswer",
    "ChallengeAnswered",
    "ChallengeError",
    "Deregistered",
    "FlowAction",
    "RegState",
    "Registered",
    "RegistrationFailed",
    "RegistrationFlow",
    "SendRegister",
    "UeState",
    "answer_challenge",
    "binding_from_ok",
    "build_register",
    "contact_value",
    "initial_credentials",
    "via_value",
]

#: TS 24.229 §5.1.1.2.1 / TS 24.173: the IMS multimedia telephony ICSI, as a
#: Contact feature tag value (RFC 3840 string, ``:`` escaped as ``%3A``).
MMTEL_ICSI = '"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel"'
#: Methods the emulated UE accepts (RFC 3261 §20.5).
ALLOW = "INVITE, ACK, CANCEL, BYE, UPDATE, PRACK, MESSAGE, OPTIONS, NOTIFY, REFER, INFO"
#: Challenges answered per registration attempt before giving up (a 401 loop).
MAX_CHALLENGES = 3


@dataclass(frozen=True, slots=True)
class UeState:
    """What a REGISTER needs to know about the UE (no keys: those stay in the ISIM).

    Attributes:
        impi: private user identity, the digest username.
        impu: public user identity registered (From/To).
        domain: home network domain (Request-URI, digest realm and uri).
        instance_id: ``+sip.instance`` URN (RFC 5626 §4.1), e.g. ``urn:uuid:...``.
        user_agent: the User-Agent header value.
        password: the SIP digest password, for ``algorithm=MD5`` identities.
    """

    impi: str
    impu: str
    domain: str
    instance_id: str
    user_agent: str = "ims-ue/0.1"
    password: str | None = None


class ChallengeError(ValueError):
    """A 401 the UE cannot answer (no Digest challenge, unknown algorithm ...)."""


def via_value(transport: str, host: str, port: int, branch: str) -> str:
    """The UE's Via (RFC 3261 §8.1.1.7, ``rport`` per RFC 3581 §3)."""
    return f"SIP/2.0/{transport.upper()} {host}:{port};branch={branch};rport"


def contact_value(contact: str, instance_id: str, expires: int | None) -> str:
    """Contact of TS 24.229 §5.1.1.2.1: ``+sip.instance``, MMTel ICSI, ``expires``."""
    value = f'<{contact}>;+sip.instance="<{instance_id}>";+g.3gpp.icsi-ref={MMTEL_ICSI}'
    return value if expires is None else f"{value};expires={expires}"


def initial_credentials(ue: UeState) -> Credentials:
    """The Authorization of an unprotected initial REGISTER (TS 24.229 §5.1.1.2.1).

    ``username`` is the IMPI, ``realm`` and ``uri`` the home domain, and
    ``nonce`` and ``response`` are empty.
    """
    return Credentials(
        username=ue.impi, realm=ue.domain, uri=f"sip:{ue.domain}", nonce="", response=""
    )


def build_register(
    ue: UeState,
    *,
    expires: int,
    call_id: str,
    cseq: int,
    branch: str,
    from_tag: str,
    contact: str,
    transport: str,
    authorization: Credentials | None = None,
) -> Request:
    """The REGISTER of TS 24.229 §5.1.1.2.1 (and §5.1.1.4 re-, §5.1.1.6 de-registration).

    Args:
        ue: the UE's identities.
        expires: requested expiry (0 deregisters, RFC 3261 §10.2.2).
        call_id: the same for every REGISTER of one registration (§10.2).
        cseq: increases by one per REGISTER.
        branch: the top Via branch (``z9hG4bK...``).
        from_tag: the From tag, kept for the registration.
        contact: our contact URI, ``sip:user@host:port[;transport=tcp]``;
            its host and port also give the Via sent-by.
        transport: ``udp`` or ``tcp`` (the Via transport).
        authorization: the credentials; :func:`initial_credentials` if None.
    """
    uri = parse_uri(contact)
    if not isinstance(uri, SipUri) or uri.port is None:
        raise ValueError(f"contact {contact!r} needs a sip: URI with a port")
    credentials = authorization if authorization is not None else initial_credentials(ue)
    headers = [
        ("Via", via_value(transport, uri.host, uri.port, branch)),
        ("Max-Forwards", "70"),
        ("From", f"<{ue.impu}>;tag={from_tag}"),
        ("To", f"<{ue.impu}>"),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} REGISTER"),
        ("Contact", contact_value(contact, ue.instance_id, expires)),
        ("Expires", str(expires)),
        ("Authorization", str(credentials)),
        ("Supported", "path"),
        ("Allow", ALLOW),
        ("User-Agent", ue.user_agent),
    ]
    return build_request("REGISTER", f"sip:{ue.domain}", headers)


@dataclass(frozen=True, slots=True)
class ChallengeAnswer:
    """The UE's answer to one challenge.

    Attributes:
        credentials: the Authorization to send.
        algorithm: ``AKAv1-MD5`` or ``MD5``.
        rand: RAND from the nonce (AKA only).
        autn: AUTN from the nonce (AKA only).
        outcome: the ISIM's verdict (AKA only).
    """

    credentials: Credentials
    algorithm: str
    rand: bytes | None = None
    autn: bytes | None = None
    outcome: AkaOutcome | None = None


def answer_challenge(
    challenge: Challenge,
    ue: UeState,
    isim: Isim | None,
    *,
    uri: str,
    cnonce: str,
    nc: int = 1,
    method: str = "REGISTER",
) -> ChallengeAnswer:
    """Answer a WWW-Authenticate challenge, TS 24.229 §5.1.1.5 / RFC 3310 §3.

    Raises:
        ChallengeError: not a Digest challenge, no nonce, an unknown
            algorithm, AKA without an ISIM, MD5 without a password, or a
            nonce that is not base64(RAND || AUTN).
    """
    if not challenge.is_digest or challenge.nonce is None:
        raise ChallengeError("the 401 carries no Digest challenge with a nonce")
    algorithm = challenge.algorithm or ALGORITHM_MD5
    qop = "auth" if "auth" in challenge.qop else None
    base = Credentials(
        username=ue.impi, realm=challenge.realm or ue.domain, uri=uri, nonce=challenge.nonce,
        algorithm=algorithm, opaque=challenge.opaque, qop=qop,
        cnonce=cnonce if qop else None, nc=f"{nc:08x}" if qop else None,
    )
    if challenge.is_aka:
        return _answer_aka(base, challenge.nonce, isim, method)
    if algorithm.lower() != ALGORITHM_MD5.lower():
        raise ChallengeError(f"unsupported algorithm {algorithm!r}")
    if ue.password is None:
        raise ChallengeError("MD5 challenge but no digest password configured")
    base.response = _response(base, ue.password, method)
    return ChallengeAnswer(base, ALGORITHM_MD5)


def _answer_aka(base: Credentials, nonce: str, isim: Isim | None, method: str) -> ChallengeAnswer:
    """RFC 3310 §3.2-§3.4 and TS 24.229 §5.1.1.5.2/§5.1.1.5.3."""
    if isim is None:
        raise ChallengeError("AKA challenge but the UE has no ISIM")
    if (base.algorithm or "").lower() != ALGORITHM_AKAV1_MD5.lower():
        raise ChallengeError(f"unsupported AKA algorithm {base.algorithm!r}")
    try:
        rand, autn, _server_data = parse_aka_nonce(nonce)
    except ValueError as error:
        raise ChallengeError(f"bad AKA nonce: {error}") from error
    outcome = isim.authenticate(rand, autn)
    if outcome.status is AkaStatus.MAC_FAILURE:
        base.response = ""  # §5.1.1.5.3: empty response, no auts
    elif outcome.status is AkaStatus.SYNC_FAILURE and outcome.auts is not None:
        base.auts = auts_param(outcome.auts)
        base.response = _response(base, b"", method)  # RFC 3310 §3.4: empty password
    else:
        base.response = _response(base, outcome.res or b"", method)
    return ChallengeAnswer(base, ALGORITHM_AKAV1_MD5, rand, autn, outcome)


def _response(cred: Credentials, password: bytes | str, method: str) -> str:
    return digest_response(
        cred.username or "", cred.realm or "", password, method, cred.uri or "",
        cred.nonce or "", cred.qop, cred.nc, cred.cnonce, cred.algorithm or ALGORITHM_MD5,
    )


@dataclass(frozen=True, slots=True)
class Binding:
    """What a 200 OK to REGISTER granted (TS 24.229 §5.1.1.2.2).

    Attributes:
        contact: our contact as the registrar echoed it.
        expires: the granted expiry of our contact, in seconds.
        service_routes: Service-Route values, in order (preloaded as Route).
        associated_uris: P-Associated-URI values (the implicit set, default first).
        path: Path values echoed by the registrar.
    """

    contact: str
    expires: int
    service_routes: tuple[str, ...] = ()
    associated_uris: tuple[str, ...] = ()
    path: tuple[str, ...] = ()


def binding_from_ok(resp: Response, contact: str, instance_id: str, requested: int) -> Binding:
    """Our binding in a 2xx to REGISTER (RFC 3261 §10.2.4, TS 24.229 §5.1.1.2.2).

    Our contact is the one with our ``+sip.instance`` or our URI; its expiry
    is its ``expires`` parameter, else the Expires header, else what we asked.

    Raises:
        LookupError: our contact is not in the 2xx.
        SipError: a header we read is malformed.
    """
    ours = _find_contact(resp.contacts, contact, instance_id)
    if ours is None:
        raise LookupError("the 200 OK does not list our contact")
    expires = ours.expires
    if expires is None:
        expires = resp.expires if resp.expires is not None else requested
    return Binding(
        contact=str(ours.uri),
        expires=expires,
        service_routes=tuple(str(a) for a in resp.addresses("service-route")),
        associated_uris=tuple(str(a.uri) for a in resp.addresses("p-associated-uri")),
        path=tuple(str(a) for a in resp.addresses("path")),
    )


def _find_contact(contacts: list[NameAddr], contact: str, instance_id: str) -> NameAddr | None:
    mine = parse_uri(contact)
    for candidate in contacts:
        if candidate.instance_id == instance_id or uri_equal(candidate.uri, mine):
            return candidate
    return None


# -- the state machine ----------------------------------------------------------
class RegState(enum.Enum):
    """States of :class:`RegistrationFlow`."""

    UNREGISTERED = "unregistered"
    SENT_INITIAL = "sent-initial"
    CHALLENGED = "challenged"
    REGISTERED = "registered"
    DEREGISTERING = "deregistering"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SendRegister:
    """Send this REGISTER in a new client transaction."""

    request: Request


@dataclass(frozen=True, slots=True)
class ChallengeAnswered:
    """A 401 was received and answered (for the step log)."""

    answer: ChallengeAnswer


@dataclass(frozen=True, slots=True)
class Registered:
    """The 200 OK: the registration (or re-registration) stands."""

    binding: Binding


@dataclass(frozen=True, slots=True)
class Deregistered:
    """The 200 OK to the REGISTER with Expires: 0."""


@dataclass(frozen=True, slots=True)
class RegistrationFailed:
    """The attempt ended without a registration; ``reason`` says why."""

    reason: str
    status: int | None = None


FlowAction = SendRegister | ChallengeAnswered | Registered | Deregistered | RegistrationFailed
_WAITING = (RegState.SENT_INITIAL, RegState.CHALLENGED, RegState.DEREGISTERING)


def _token() -> str:
    return secrets.token_hex(8)


class RegistrationFlow:
    """One UE registration, TS 24.229 §5.1.1 (sans-I/O: events in, actions out).

    Inputs are :meth:`register`, :meth:`deregister`, :meth:`on_response` (a
    final response to the last REGISTER) and :meth:`on_timeout`; each
    returns the actions to carry out. ``new_id`` makes branches and cnonces
    (injected for deterministic tests).
    """

    def __init__(
        self,
        ue: UeState,
        isim: Isim | None,
        *,
        contact: str,
        transport: str,
        call_id: str,
        from_tag: str,
        new_id: Callable[[], str] = _token,
    ) -> None:
        self.ue, self.isim = ue, isim
        self.contact, self.transport = contact, transport
        self.call_id, self.from_tag = call_id, from_tag
        self.new_id = new_id
        self.state = RegState.UNREGISTERED
        self.binding: Binding | None = None
        self.cseq = 0
        self._expires = 0
        self._challenges = 0
        self._mac_failure = False

    # -- inputs ----------------------------------------------------------------
    def register(self, expires: int = 600000) -> list[FlowAction]:
        """Initial registration or re-registration (§5.1.1.2, §5.1.1.4)."""
        if self.state in _WAITING:
            raise RuntimeError(f"a REGISTER is already pending ({self.state.value})")
        self._start(expires)
        self.state = RegState.SENT_INITIAL
        return [self._send(None)]

    def deregister(self) -> list[FlowAction]:
        """Deregistration: the REGISTER with Expires: 0 (§5.1.1.6)."""
        if self.state in _WAITING:
            raise RuntimeError(f"a REGISTER is already pending ({self.state.value})")
        self._start(0)
        self.state = RegState.DEREGISTERING
        return [self._send(None)]

    def on_response(self, resp: Response) -> list[FlowAction]:
        """A final response to the pending REGISTER."""
        if self.state not in _WAITING or resp.status < 200:
            return []
        if resp.status == 401:
            return self._on_challenge(resp)
        if resp.status < 300:
            return self._on_success(resp)
        reason = f"{resp.status} {resp.reason}"
        if self._mac_failure:
            reason = f"MAC failure reported (network not authenticated); network answered {reason}"
        return self._fail(reason, resp.status)

    def on_timeout(self, reason: str = "no final response") -> list[FlowAction]:
        """The client transaction timed out (Timer F) or the transport failed."""
        if self.state not in _WAITING:
            return []
        return self._fail(f"timeout: {reason}", None)

    def abort(self, reason: str) -> list[FlowAction]:
        """Give up the pending REGISTER (the glue cannot carry it out, e.g. no usable SAs)."""
        if self.state not in _WAITING:
            return []
        return self._fail(reason, None)

    # -- internals -------------------------------------------------------------
    def _start(self, expires: int) -> None:
        self._expires, self._challenges, self._mac_failure = expires, 0, False

    def _send(self, authorization: Credentials | None) -> SendRegister:
        self.cseq += 1
        return SendRegister(build_register(
            self.ue, expires=self._expires, call_id=self.call_id, cseq=self.cseq,
            branch=f"z9hG4bK{self.new_id()}", from_tag=self.from_tag, contact=self.contact,
            transport=self.transport, authorization=authorization,
        ))

    def _fail(self, reason: str, status: int | None) -> list[FlowAction]:
        self.state, self.binding = RegState.FAILED, None
        return [RegistrationFailed(reason, status)]

    def _on_challenge(self, resp: Response) -> list[FlowAction]:
        self._challenges += 1
        if self._challenges > MAX_CHALLENGES:
            return self._fail(f"still challenged after {MAX_CHALLENGES} answers", 401)
        try:
            answer = answer_challenge(
                self._pick(resp), self.ue, self.isim, uri=f"sip:{self.ue.domain}",
                cnonce=self.new_id(),
            )
        except (ChallengeError, SipError) as error:
            return self._fail(f"cannot answer the 401: {error}", 401)
        outcome = answer.outcome
        if outcome is not None and outcome.status is AkaStatus.MAC_FAILURE:
            self._mac_failure = True
        if self.state is not RegState.DEREGISTERING:
            resync = outcome is not None and outcome.status is AkaStatus.SYNC_FAILURE
            self.state = RegState.SENT_INITIAL if resync else RegState.CHALLENGED
        return [ChallengeAnswered(answer), self._send(answer.credentials)]

    def _pick(self, resp: Response) -> Challenge:
        found = [c for c in challenges(resp) if c.is_digest]
        for challenge in found:
            if challenge.realm == self.ue.domain:
                return challenge
        if not found:
            raise ChallengeError("the 401 carries no WWW-Authenticate Digest challenge")
        return found[0]

    def _on_success(self, resp: Response) -> list[FlowAction]:
        if self.state is RegState.DEREGISTERING:
            self.state, self.binding = RegState.UNREGISTERED, None
            return [Deregistered()]
        if self._mac_failure:
            return self._fail("MAC failure reported but the network answered 2xx", resp.status)
        try:
            binding = binding_from_ok(resp, self.contact, self.ue.instance_id, self._expires)
        except (LookupError, SipError) as error:
            return self._fail(f"bad 200 OK: {error}", resp.status)
        self.state, self.binding = RegState.REGISTERED, binding
        return [Registered(binding)]
