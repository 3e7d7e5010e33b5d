"""Transport-layer rules of RFC 3261 §18, RFC 3581 and RFC 5118, as pure functions.

Nothing here touches a socket: these functions decide what the asyncio
endpoints do (which address a response goes to, whether a request must go
over TCP) and apply the received-side Via rules, so every rule is tested
with plain data.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache

from ims.sip.errors import SipError
from ims.sip.events import Peer
from ims.sip.headers.via import Via
from ims.sip.message import Request, Response
from ims.transport.config import DEFAULT_PORTS, UNKNOWN_MTU_LIMIT

#: RFC 3261 §18.1.1: a request within this many bytes of the path MTU goes over TCP.
MTU_MARGIN = 200


# -- addresses (RFC 5118) ----------------------------------------------------
def bare_host(host: str) -> str:
    """``host`` without IPv6 reference brackets (``[::1]`` -> ``::1``), for socket calls."""
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def is_ipv6(host: str) -> bool:
    """True when ``host`` (bracketed or not) is an IPv6 address literal."""
    return ":" in bare_host(host)


def format_host(host: str) -> str:
    """``host`` as written in a URI or Via sent-by: IPv6 in brackets (RFC 5118 §4.1)."""
    bare = bare_host(host)
    return f"[{bare}]" if ":" in bare else bare


def format_hostport(host: str, port: int | None) -> str:
    """``host[:port]`` with IPv6 bracketed, e.g. ``[::1]:5060``."""
    return format_host(host) if port is None else f"{format_host(host)}:{port}"


def host_family(host: str) -> socket.AddressFamily:
    """``AF_INET6`` for an IPv6 literal, else ``AF_INET``."""
    return socket.AF_INET6 if is_ipv6(host) else socket.AF_INET


#: Distinct host spellings whose address checks are remembered (one parse each).
ADDRESS_CACHE_SIZE = 4096


@lru_cache(maxsize=ADDRESS_CACHE_SIZE)
def is_ip_literal(host: str) -> bool:
    """True when ``host`` is an IPv4 or IPv6 address rather than a name."""
    try:
        ipaddress.ip_address(bare_host(host).split("%", 1)[0])
    except ValueError:
        return False
    return True


@lru_cache(maxsize=ADDRESS_CACHE_SIZE)
def address_key(host: str) -> str:
    """A canonical spelling of ``host`` for table keys and comparisons.

    IPv6 addresses are compressed (``0:0::1`` and ``::1`` are equal); names are
    lower-cased.
    """
    bare = bare_host(host)
    try:
        return ipaddress.ip_address(bare.split("%", 1)[0]).compressed
    except ValueError:
        return bare.lower()


def same_address(a: str, b: str) -> bool:
    """True when two host spellings denote the same address (RFC 3261 §18.2.1)."""
    return address_key(a) == address_key(b)


# -- received side (RFC 3261 §18.2.1, RFC 3581 §4) ---------------------------
def stamp_received(req: Request | Response, source: Peer) -> bool:
    """Add ``received`` and fill an empty ``rport`` in the top Via.

    RFC 3261 §18.2.1: ``received`` is added when the sent-by host differs
    from the packet's source address. RFC 3581 §4: an ``rport`` without a
    value gets the source port, and then ``received`` is added even when it
    equals sent-by. The transport also applies this to the stateless error
    response it builds for an unparseable request, whose Via was never
    stamped. The received value is the bare address, as the
    ``received`` ABNF (IPv4address / IPv6address) writes it; readers accept
    brackets too (RFC 5118 §4.5).

    Returns:
        True when the Via was changed.

    Raises:
        SipParseError: when the top Via is missing or malformed.
    """
    via = req.top_via.copy()
    changed = False
    if via.wants_rport and via.rport is None:
        via.params.set("rport", str(source.port))
        via.params.set("received", bare_host(source.host))
        changed = True
    elif not same_address(via.host, source.host):
        via.params.set("received", bare_host(source.host))
        changed = True
    if changed:
        replace_top_via(req, via)
    return changed


def replace_top_via(msg: Request | Response, via: Via) -> None:
    """Replace the topmost Via value by ``via``, leaving the others untouched."""
    msg.pop_first("via")
    msg.add("via", str(via), first=True)


def response_target(resp: Response, transport: str) -> tuple[str, int] | None:
    """Where a response goes when it cannot use the request's connection.

    RFC 3261 §18.2.2: ``maddr`` first; otherwise the ``received`` address
    (else the sent-by host) at the sent-by port (else the default port).
    RFC 3581 §4: over UDP, a filled ``rport`` replaces the port.

    Returns:
        ``(bare host, port)``, or None when the Via is unusable or names a
        host rather than an address (RFC 3263 §5 lookups are not done here;
        the caller falls back to the request's source).
    """
    try:
        via = resp.top_via
    except SipError:
        return None
    port = via.port or DEFAULT_PORTS.get(transport, 5060)
    maddr = via.params.get("maddr")
    if maddr:
        host = maddr
    else:
        host = via.received or via.host
        if transport == "udp" and via.rport is not None:
            port = via.rport
    host = bare_host(host)
    return (host, port) if is_ip_literal(host) else None


# -- sending side (RFC 3261 §18.1.1) -----------------------------------------
def udp_size_limit(mtu: int | None) -> int:
    """Largest request sent over UDP: 1300 bytes if the MTU is unknown, else MTU - 200."""
    return UNKNOWN_MTU_LIMIT if mtu is None else max(mtu - MTU_MARGIN, 0)


def choose_transport(
    msg: Request | Response,
    peer: Peer,
    mtu: int | None = None,
    *,
    tcp_available: bool = True,
    size: int | None = None,
) -> Peer:
    """Pick the transport for ``msg`` per RFC 3261 §18.1.1.

    A request bound for UDP that is larger than ``udp_size_limit(mtu)`` goes
    over TCP to the same address and port (the peer is assumed to listen on
    TCP there), provided we have a TCP transport for that address family.
    Responses are never switched (§18.2.2 answers over the request's
    transport). The caller must then rewrite the top Via transport
    (:func:`rewrite_top_via`) before the message is sent.

    Args:
        msg: the message to send.
        peer: where it goes, with the transport chosen by routing.
        mtu: the path MTU if known, else None.
        tcp_available: whether a TCP transport exists for the peer's family.
        size: the serialised size if already known.

    Returns:
        ``peer`` unchanged, or a copy with transport ``"tcp"`` and no conn_id
        (a protected flow's ``local_port`` is kept: TCP goes through the SA too).
    """
    if not isinstance(msg, Request) or peer.transport != "udp" or not tcp_available:
        return peer
    length = len(msg.to_bytes()) if size is None else size
    if length <= udp_size_limit(mtu):
        return peer
    return Peer("tcp", peer.host, peer.port, None, peer.local_port)


def rewrite_top_via(msg: Request, transport: str, host: str, port: int) -> None:
    """Set the transport and sent-by of the top Via (before a §18.1.1 switch to TCP).

    The sent-by host is bracketed when it is IPv6 (RFC 5118 §4.1); all Via
    parameters (branch, rport ...) are kept.

    Raises:
        SipParseError: when the top Via is missing or malformed.
    """
    via = msg.top_via.copy()
    via.transport = transport.upper()
    via.host = format_host(host)
    via.port = port
    replace_top_via(msg, via)


def make_via(transport: str, host: str, port: int, branch: str, *, rport: bool = True) -> str:
    """A Via value for a request we send: ``SIP/2.0/UDP [::1]:5060;branch=...;rport``.

    ``rport`` asks for symmetric response routing (RFC 3581 §3).
    """
    value = f"SIP/2.0/{transport.upper()} {format_hostport(host, port)};branch={branch}"
    return value + ";rport" if rport else value
