"""Stateful proxy rules of RFC 3261 §16 (with RFC 5658 double Record-Route).

This module holds the pure, stateless rules a proxy applies to one message:
request validation (§16.3), Route pre-processing (§16.4), target and next-hop
determination (§16.5, §16.6 steps 6-7), the copy sent on a branch
(Max-Forwards, Record-Route, Via with a fresh branch: §16.6 steps 3-8),
response relay (§16.7 step 3) and CANCEL construction (§9.1). The response
context that ties branches together lives in :mod:`ims.sip.proxy_core`.

Nothing here performs I/O or reads a clock; randomness is replaced by keyed
hashes over the message (``LocalIdentity.secret``), so a retransmitted
request gets the same branch and the same locally generated To tag.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ims.sip.errors import SipError
from ims.sip.events import Peer
from ims.sip.headers.nameaddr import NameAddr, parse_name_addr
from ims.sip.headers.via import MAGIC_COOKIE, Via
from ims.sip.message import (
    HeaderField,
    Message,
    Request,
    Response,
    display_name_for,
    make_response,
)
from ims.sip.uri import SipUri, TelUri, Uri

#: RFC 3261 §16.6 step 3: the value a proxy inserts when Max-Forwards is absent.
DEFAULT_MAX_FORWARDS = 70

#: RFC 3261 §16.6 step 11: Timer C MUST be larger than 3 minutes.
TIMER_C = 181.0

#: RFC 3261 §19.1.2 default ports.
DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "tls": 5061, "sctp": 5060}

#: Prefix of every branch this proxy writes: the RFC 3261 cookie (§8.1.1.7)
#: plus a marker, so loop detection (§16.3 step 4) only reads our own branches.
BRANCH_PREFIX = MAGIC_COOKIE + "P"

#: Methods whose initial request creates a dialog, so a record-routing proxy
#: adds Record-Route (RFC 3261 §12.1, §16.6 step 4; RFC 6665 §4.1; RFC 3515).
DIALOG_METHODS = frozenset({"INVITE", "SUBSCRIBE", "REFER", "NOTIFY"})

#: Methods this core knows; a request for a resource at the proxy with another
#: method gets 501 instead of 405 (RFC 3261 §8.2.1).
KNOWN_METHODS = frozenset({
    "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "PRACK", "UPDATE",
    "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "INFO", "PUBLISH",
})


class ProxyError(SipError):
    """A request the proxy cannot forward; ``status_hint`` is the answer."""


@dataclass(frozen=True, slots=True)
class LocalAddress:
    """One address this proxy listens on.

    ``host`` is a bare IP (no IPv6 brackets); ``advertised`` is the name or
    address written into Via and Record-Route instead of ``host`` when set.
    """

    transport: str
    host: str
    port: int
    advertised: str | None = None

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.host

    @property
    def uri_host(self) -> str:
        """The host as written in a URI or Via (IPv6 in brackets, RFC 5118)."""
        host = self.advertised or self.host
        return f"[{host}]" if ":" in host and not host.startswith("[") else host


@dataclass(frozen=True, slots=True)
class LocalIdentity:
    """Everything a proxy needs to recognise itself (RFC 3261 §16.4).

    Attributes:
        addresses: the listening addresses, preferred first.
        aliases: host names that designate this proxy (any of its ports
            matches when a URI carries one without a port).
        secret: key of the hashes that make branches and To tags.
    """

    addresses: tuple[LocalAddress, ...]
    aliases: frozenset[str] = frozenset()
    secret: bytes = b""
    _hosts: frozenset[str] = field(init=False, repr=False, compare=False)
    _ports: frozenset[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.addresses:
            raise ValueError("a proxy needs at least one local address")
        hosts = {a.host.lower() for a in self.addresses}
        hosts |= {a.advertised.strip("[]").lower() for a in self.addresses if a.advertised}
        object.__setattr__(self, "_hosts", frozenset(hosts))
        object.__setattr__(self, "_ports", frozenset(a.port for a in self.addresses))
        object.__setattr__(self, "aliases", frozenset(a.lower() for a in self.aliases))

    def is_local_host_port(self, host: str, port: int | None, transport: str = "udp") -> bool:
        """True when ``host[:port]`` (brackets allowed) designates this proxy."""
        name = host.strip("[]").lower()
        if name in self.aliases and port is None:
            return True
        if name not in self._hosts and name not in self.aliases:
            return False
        return (port or DEFAULT_PORTS.get(transport, 5060)) in self._ports

    def is_local(self, uri: Uri) -> bool:
        """True when ``uri`` is a SIP URI of this proxy (§16.4; user part ignored)."""
        if not isinstance(uri, SipUri):
            return False
        transport = uri.transport or ("tls" if uri.scheme == "sips" else "udp")
        return self.is_local_host_port(uri.host, uri.port, transport)

    def owns_via(self, via: Via) -> bool:
        """True when ``via`` was written by this proxy (sent-by and branch prefix)."""
        branch = via.branch or ""
        return branch.startswith(BRANCH_PREFIX) and self.is_local_host_port(
            via.host, via.port, via.transport.lower()
        )

    def address_for(self, transport: str, ipv6: bool = False) -> LocalAddress:
        """The local address used to send over ``transport`` to an IPv4/IPv6 peer."""
        for addr in self.addresses:
            if addr.transport == transport and addr.is_ipv6 == ipv6:
                return addr
        for addr in self.addresses:
            if addr.transport == transport:
                return addr
        return self.addresses[0]

    def uri(self, addr: LocalAddress | None = None) -> SipUri:
        """A SIP URI of this proxy at ``addr`` (default: the first address)."""
        addr = addr or self.addresses[0]
        uri = SipUri(addr.uri_host, port=addr.port)
        if addr.transport != "udp":
            uri.params.set("transport", addr.transport)
        return uri


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """Behaviour switches of the proxy core."""

    timer_c: float = TIMER_C
    """Seconds without a provisional response before a branch is cancelled (§16.6 step 11)."""
    record_route: bool = True
    """Add Record-Route to initial dialog-creating requests (§16.6 step 4)."""
    record_route_methods: frozenset[str] = DIALOG_METHODS
    """Methods whose initial requests get Record-Route."""
    proxy_require: frozenset[str] = frozenset()
    """Option tags accepted in Proxy-Require (§16.3 step 5), e.g. ``sec-agree``."""
    allow: tuple[str, ...] = (
        "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "PRACK", "UPDATE", "REGISTER",
        "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "INFO", "PUBLISH",
    )
    """Methods listed in Allow of the 200 to OPTIONS (§11.2)."""
    accept: tuple[str, ...] = ("application/sdp",)
    """Body types listed in Accept of the 200 to OPTIONS (§11.2)."""
    supported: tuple[str, ...] = ("path",)
    """Option tags listed in Supported of the 200 to OPTIONS (§11.2)."""
    server: str | None = "ims-core"
    """Value of the Server header of locally generated responses (None: none)."""


@dataclass(slots=True)
class Target:
    """Where the route hook (the CSCF logic) sends one branch (§16.5).

    Attributes:
        uri: the new Request-URI (retargeting), or None to keep it.
        routes: Route values pushed on top of the request (preloaded route,
            e.g. a Path or Service-Route set), first element topmost.
        next_hop: a URI to send to without writing it into the message
            (an outbound proxy, §16.6 step 7 "policy").
        peer: an exact destination, bypassing resolution (e.g. a UE's
            protected port), which wins over everything else.
        record_route: force Record-Route on or off for this branch.
    """

    uri: Uri | None = None
    routes: tuple[str, ...] = ()
    next_hop: SipUri | None = None
    peer: Peer | None = None
    record_route: bool | None = None


@dataclass(frozen=True, slots=True)
class Hop:
    """The result of next-hop determination for one branch request.

    ``destination`` is the URI to resolve (RFC 3263) unless ``peer`` is set.
    """

    destination: SipUri
    transport: str
    peer: Peer | None = None

    @property
    def ipv6(self) -> bool:
        if self.peer is not None:
            return ":" in self.peer.host
        return self.destination.host.startswith("[")


# -- keyed hashes ---------------------------------------------------------
def _digest(secret: bytes, *parts: str, size: int = 8) -> str:
    h = hashlib.blake2s(key=secret[:32], digest_size=size)
    h.update("\x00".join(parts).encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def loop_hash(req: Request, secret: bytes) -> str:
    """The loop-detection part of our branch (RFC 3261 §16.6 step 8).

    It covers the fields whose change turns a loop into a spiral: the
    Request-URI, From and To tags, Call-ID, CSeq number, Route,
    Proxy-Require and Proxy-Authorization, all as received.
    """
    return _digest(
        secret, req.uri_text, req.from_.tag or "", req.to.tag or "", req.call_id,
        str(req.cseq.seq), "|".join(req.get_all("route")),
        "|".join(req.get_all("proxy-require")), "|".join(req.header_values("proxy-authorization")),
    )


def make_branch(req: Request, secret: bytes, index: int, loop: str | None = None) -> str:
    """A branch for copy ``index`` of ``req`` (RFC 3261 §16.6 step 8).

    ``BRANCH_PREFIX`` + loop hash + ``.`` + a hash of the received top Via
    (unique per upstream transaction, identical for its CANCEL and
    retransmissions) + the branch index.
    """
    top = req.top_via
    unique = _digest(secret, str(top.branch), top.sent_by, req.call_id, str(req.cseq.seq), size=6)
    return f"{BRANCH_PREFIX}{loop or loop_hash(req, secret)}.{unique}{index}"


def local_tag(req: Request, secret: bytes) -> str:
    """The To tag of a response this proxy generates itself (§8.2.6.2)."""
    return _digest(secret, req.call_id, req.from_.tag or "", str(req.cseq.seq), size=5)


# -- §16.3 request validation ---------------------------------------------
def local_response(
    req: Request, status: int, identity: LocalIdentity, config: ProxyConfig,
    headers: tuple[tuple[str, str], ...] = (),
) -> Response:
    """A response generated by the proxy itself, To-tagged (RFC 3261 §8.2.6)."""
    tag = local_tag(req, identity.secret) if status > 100 else None
    extra = headers + ((("Server", config.server),) if config.server and status > 100 else ())
    return make_response(req, status, to_tag=tag, headers=extra)


def check_request(req: Request, identity: LocalIdentity, config: ProxyConfig) -> Response | None:
    """Validate a request before proxying it (RFC 3261 §16.3).

    Returns:
        The error response to send (416, 483, 482, 420, 400), or None when
        the request may be proxied. OPTIONS with Max-Forwards 0 passes: the
        proxy may answer it itself (§16.3 step 3, §11).
    """
    try:
        return _check(req, identity, config)
    except SipError as exc:
        return make_response(req, exc.status_hint, exc.reason,
                             to_tag=local_tag(req, identity.secret))


def _check(req: Request, identity: LocalIdentity, config: ProxyConfig) -> Response | None:
    if not isinstance(req.uri, SipUri | TelUri):  # §16.3 step 2
        return local_response(req, 416, identity, config)
    if req.max_forwards == 0 and req.method != "OPTIONS":  # §16.3 step 3
        return local_response(req, 483, identity, config)
    if is_loop(req, identity):  # §16.3 step 4
        return local_response(req, 482, identity, config)
    unsupported = [t for t in req.option_tags("proxy-require") if t not in config.proxy_require]
    if unsupported:  # §16.3 step 5
        return local_response(req, 420, identity, config,
                              (("Unsupported", ", ".join(unsupported)),))
    return None


def is_loop(req: Request, identity: LocalIdentity) -> bool:
    """True when ``req`` carries a Via of ours whose loop hash matches (§16.3 step 4).

    A Via of ours with a different loop hash is a spiral, not a loop. The
    Via values are only parsed when one of them carries our branch prefix.
    """
    if not any(BRANCH_PREFIX in value for value in req.header_values("via")):
        return False
    ours = [v for v in req.vias if identity.owns_via(v)]
    if not ours:
        return False
    current = loop_hash(req, identity.secret)
    for via in ours:
        loop, _, _ = (via.branch or "")[len(BRANCH_PREFIX):].partition(".")
        if loop == current:
            return True
    return False


# -- §16.4 route information preprocessing --------------------------------
def preprocess_routes(req: Request, identity: LocalIdentity) -> list[str]:
    """Apply RFC 3261 §16.4 to ``req`` in place; return the Route values removed.

    A Request-URI of ours (user-less, as our Record-Route URIs are) with a
    Route set means the previous hop was a strict router: the last Route
    value becomes the Request-URI. Then the top Route is removed when it
    designates us; with a double Record-Route (RFC 5658, ``r2`` flag) the
    second one of ours goes too.
    """
    popped: list[str] = []
    if not req.has("route"):
        return popped
    if "@" not in req.uri_text:  # only a user-less Request-URI can be one of our RR URIs
        uri = req.uri
        if isinstance(uri, SipUri) and uri.user is None and identity.is_local(uri):
            values = req.get_all("route")
            last = values[-1]
            _set_list(req, "route", values[:-1])
            req.uri = parse_name_addr(last).uri
            popped.append(last)
    for _ in range(2):
        top = _top_route(req)
        if top is None or not identity.is_local(top.uri):
            break
        value = req.pop_first("route")
        assert value is not None
        popped.append(value)
        if not (isinstance(top.uri, SipUri) and "r2" in top.uri.params):
            break
    return popped


def _top_route(req: Request) -> NameAddr | None:
    """The first Route value, parsed alone (the rest of the set is not needed)."""
    value = req.get("route")
    return parse_name_addr(value) if value is not None else None


def addressed_to_self(req: Request, identity: LocalIdentity) -> bool:
    """True when, after §16.4, the request is for this proxy as a UAS (§16.5)."""
    return not req.has("route") and identity.is_local(req.uri)


def _set_list(msg: Message, key: str, values: list[str]) -> None:
    """Rewrite list header ``key`` as one line per value, at its first position."""
    positions = [i for i, f in enumerate(msg.fields) if f.key == key]
    at = positions[0] if positions else len(msg.fields)
    msg.remove(key)
    name = display_name_for(key)
    msg.fields[at:at] = [HeaderField(key, name, v) for v in values]


def _insert_top(msg: Message, key: str, value: str, anchor: str = "via") -> None:
    """Add ``value`` above existing ``key`` lines, or after the ``anchor`` lines."""
    if msg.has(key):
        msg.add(key, value, first=True)
        return
    msg.add(key, value)  # appended last (parsed headers dropped), then moved up
    field = msg.fields.pop()
    anchors = [i for i, f in enumerate(msg.fields) if f.key == anchor]
    msg.fields.insert(anchors[-1] + 1 if anchors else 0, field)


# -- §16.6 request forwarding ---------------------------------------------
def copy_request(req: Request) -> Request:
    """An independent copy of ``req`` (§16.6 step 1); unchanged lines keep their text."""
    fields = [HeaderField(f.key, f.name, f.value, f.raw) for f in req.fields]
    return Request(req.method, req.uri_text, fields, req.body, req.version)


def apply_target(req: Request, target: Target) -> None:
    """Retarget ``req`` and push the target's Route set (§16.6 step 2, step 7)."""
    if target.uri is not None:
        req.uri = target.uri
    for value in reversed(target.routes):
        _insert_top(req, "route", value)


def decrement_max_forwards(req: Request) -> None:
    """RFC 3261 §16.6 step 3; raises ProxyError(483) when it is already 0."""
    mf = req.max_forwards
    if mf == 0:
        raise ProxyError("Too Many Hops", 483)
    req.set("Max-Forwards", str(DEFAULT_MAX_FORWARDS if mf is None else mf - 1))


def next_hop(req: Request, target: Target | None = None) -> Hop:
    """Determine where ``req`` goes (RFC 3261 §16.6 steps 6-7, §16.12 strict routing).

    Order: the target's exact peer, its ``next_hop`` URI, the first Route
    value (a strict-router Route swaps with the Request-URI, which moves to
    the end of the Route set), then the Request-URI.

    Raises:
        ProxyError: 416 when the resulting URI is not a SIP URI.
    """
    if target is not None and target.peer is not None:
        peer = target.peer
        return Hop(_peer_uri(peer), peer.transport, peer)
    if target is not None and target.next_hop is not None:
        return _hop(target.next_hop)
    top = _top_route(req)
    if top is not None:
        first = top.uri
        if isinstance(first, SipUri) and not first.lr:
            rest = req.get_all("route")[1:] + [f"<{req.uri_text}>"]
            _set_list(req, "route", rest)
            req.uri = first.copy()
        return _hop(first)
    return _hop(req.uri)


def _hop(uri: Uri) -> Hop:
    if not isinstance(uri, SipUri):
        raise ProxyError("Unsupported URI Scheme", 416)
    transport = uri.transport or ("tls" if uri.scheme == "sips" else "udp")
    return Hop(uri, transport)


def _peer_uri(peer: Peer) -> SipUri:
    host = f"[{peer.host}]" if ":" in peer.host else peer.host
    uri = SipUri(host, port=peer.port)
    if peer.transport != "udp":
        uri.params.set("transport", peer.transport)
    return uri


def wants_record_route(req: Request, config: ProxyConfig, target: Target | None) -> bool:
    """Record-Route initial dialog-creating requests (§16.6 step 4, §12.1)."""
    if target is not None and target.record_route is not None:
        return target.record_route
    if not config.record_route or req.method not in config.record_route_methods:
        return False
    return req.to.tag is None


def add_record_route(req: Request, inbound: LocalAddress, outbound: LocalAddress,
                     identity: LocalIdentity) -> None:
    """Insert our Record-Route: one value, or two (RFC 5658) when the sides differ.

    With two, the outbound-side URI is topmost, so the UAS (whose route set
    starts at the top) reaches us on the interface facing it.
    """
    double = inbound != outbound
    for addr in ((inbound, outbound) if double else (outbound,)):
        uri = identity.uri(addr)
        uri.params.set("lr")
        if double:
            uri.params.set("r2", "on")
        _insert_top(req, "record-route", f"<{uri}>")


def push_via(req: Request, local: LocalAddress, transport: str, branch: str) -> None:
    """Add our Via on top with ``rport`` (§16.6 step 8; RFC 3581 §3)."""
    value = f"SIP/2.0/{transport.upper()} {local.uri_host}:{local.port};branch={branch};rport"
    _insert_top(req, "via", value, anchor="")


# -- §16.7 response processing ---------------------------------------------
def pop_own_via(resp: Response, identity: LocalIdentity) -> Response | None:
    """Remove our top Via from ``resp`` (§16.7 step 3); None if it is not ours."""
    vias = resp.vias
    if not vias or not identity.owns_via(vias[0]):
        return None
    resp.pop_first("via")
    return resp if resp.has("via") else None


def response_peer(resp: Response) -> Peer:
    """Where a response goes by its top Via (RFC 3261 §18.2.2; RFC 3581 §4)."""
    via = resp.top_via
    transport = via.transport.lower()
    host = via.received or via.host.strip("[]")
    port = via.rport or via.port or DEFAULT_PORTS.get(transport, 5060)
    return Peer(transport, host.strip("[]"), port)


def choose_best(responses: list[Response]) -> Response:
    """Pick the best final response of a response context (RFC 3261 §16.7 step 6).

    A 6xx wins; otherwise the lowest class, preferring within 4xx the
    answers the UAC can act on (401/407 challenge, 415, 420, 484).
    """
    preferred = (401, 407, 415, 420, 484)
    six = [r for r in responses if r.status >= 600]
    if six:
        return six[0]
    return min(responses, key=lambda r: (r.status // 100, r.status not in preferred))


def build_cancel(invite: Request) -> Request:
    """The CANCEL for a forwarded INVITE (RFC 3261 §9.1, §16.10).

    Request-URI, Call-ID, From, To, CSeq number, Route and the top Via
    (hence the branch) are those of the INVITE; Max-Forwards is 70.
    """
    keep = ("call-id", "from", "to", "route")
    fields = [HeaderField(f.key, f.name, f.value, f.raw) for f in invite.fields if f.key in keep]
    top = invite.get("via")
    assert top is not None
    fields.insert(0, HeaderField("via", "Via", top))
    fields.append(HeaderField("cseq", "CSeq", f"{invite.cseq.seq} CANCEL"))
    fields.append(HeaderField("max-forwards", "Max-Forwards", str(DEFAULT_MAX_FORWARDS)))
    return Request("CANCEL", invite.uri_text, fields)


def options_response(req: Request, identity: LocalIdentity, config: ProxyConfig) -> Response:
    """200 to an OPTIONS addressed to the proxy itself (RFC 3261 §11.2)."""
    supported = sorted(set(config.supported) | config.proxy_require)
    return local_response(req, 200, identity, config, (
        ("Allow", ", ".join(config.allow)),
        ("Accept", ", ".join(config.accept)),
        ("Supported", ", ".join(supported)),
    ))


def self_response(req: Request, identity: LocalIdentity, config: ProxyConfig) -> Response:
    """Default answer to a non-OPTIONS request for a resource at the proxy (§16.5, §8.2.1).

    404 when the URI names a user (no such resource here), else 405 with
    Allow for a known method, 501 for an unknown one.
    """
    uri = req.uri
    if isinstance(uri, SipUri) and uri.user is not None:
        return local_response(req, 404, identity, config)
    if req.method in KNOWN_METHODS:
        return local_response(req, 405, identity, config, (("Allow", "OPTIONS"),))
    return local_response(req, 501, identity, config)
