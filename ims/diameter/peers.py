"""Diameter peer policy at CER time (RFC 6733 §5.3 capabilities exchange, §5.6.4 election).

Pure decisions, no sockets and no library objects: which peer may connect
(:class:`PeerPolicy`), whether a CER shares an application with us
(:func:`common_applications`) and who wins when a peer opens a second
connection (:func:`election_won`). :mod:`ims.diameter.node` applies them.

A CER is accepted when its Origin-Host is allowed by name (a configured
peer or an allowed host), or when its Origin-Realm is an allowed realm *and*
the connection comes from an allowed network. Anything else is answered
3010 DIAMETER_UNKNOWN_PEER (RFC 6733 §7.1.3) and the connection closed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

#: RFC 6733 §2.4: the Relay application id; a relay shares every application.
APP_RELAY = 0xFFFFFFFF

#: Networks the embedded default admits the served realms from: loopback.
LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class CerResult(IntEnum):
    """Result-Code of a CEA (RFC 6733 §7.1)."""

    DIAMETER_SUCCESS = 2001
    DIAMETER_UNKNOWN_PEER = 3010
    DIAMETER_ELECTION_LOST = 4003
    DIAMETER_NO_COMMON_APPLICATION = 5010


@dataclass(frozen=True)
class PeerPolicy:
    """Who may complete a capabilities exchange with us.

    Attributes are compared case-insensitively (DiameterIdentity, RFC 6733 §4.3.1).
    """

    hosts: frozenset[str] = frozenset()
    """Origin-Hosts accepted from any address (configured and allowed peers)."""
    realms: frozenset[str] = frozenset()
    """Origin-Realms accepted from ``networks``."""
    networks: tuple[IpNetwork, ...] = ()
    """Source networks for ``realms``."""
    accept_any: bool = False
    """Accept every peer (insecure lab mode)."""

    @classmethod
    def build(cls, hosts: Iterable[str] = (), realms: Iterable[str] = (),
              networks: Iterable[str] = LOOPBACK_NETWORKS, accept_any: bool = False) -> PeerPolicy:
        """A policy from plain strings.

        Raises:
            ValueError: a network is not valid CIDR notation.
        """
        return cls(frozenset(host.lower() for host in hosts),
                   frozenset(realm.lower() for realm in realms),
                   tuple(parse_network(net) for net in networks), accept_any)

    def allows(self, host: str, realm: str, address: str) -> bool:
        """True when ``host`` of ``realm`` connecting from ``address`` may connect."""
        if self.accept_any or host.lower() in self.hosts:
            return True
        return realm.lower() in self.realms and self.from_allowed_network(address)

    def from_allowed_network(self, address: str) -> bool:
        """True when ``address`` (an IPv4/IPv6 literal) lies in an allowed network."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip.version == net.version and ip in net for net in self.networks)


def parse_network(text: str) -> IpNetwork:
    """``"127.0.0.0/8"`` → network (a bare address is a /32 or /128).

    Raises:
        ValueError: not an address or CIDR network.
    """
    return ipaddress.ip_network(text.strip(), strict=False)


def common_applications(ours: Iterable[int], advertised: Iterable[int]) -> tuple[int, ...]:
    """The application ids both sides support; all of ours if the peer is a relay.

    RFC 6733 §5.3: a CER naming none of our applications (and not the relay
    id 0xffffffff) gets 5010 DIAMETER_NO_COMMON_APPLICATION.
    """
    mine = tuple(ours)
    theirs = set(advertised)
    if APP_RELAY in theirs:
        return mine
    return tuple(app for app in mine if app in theirs)


def election_won(local_host: str, remote_host: str) -> bool:
    """RFC 6733 §5.6.4: we win when our Origin-Host is the higher (case-insensitive) string.

    The winner keeps the connection the peer opened last and closes the other;
    the loser rejects the new connection (4003 DIAMETER_ELECTION_LOST).
    """
    return local_host.lower() > remote_host.lower()


def cer_verdict(policy: PeerPolicy, ours: Iterable[int], host: str, realm: str, address: str,
                advertised: Iterable[int]) -> CerResult:
    """The Result-Code for a CER before election: 3010, 5010 or 2001."""
    if not policy.allows(host, realm, address):
        return CerResult.DIAMETER_UNKNOWN_PEER
    if not common_applications(ours, advertised):
        return CerResult.DIAMETER_NO_COMMON_APPLICATION
    return CerResult.DIAMETER_SUCCESS
