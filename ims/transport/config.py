"""Configuration of the SIP transport layer (RFC 3261 §18; RFC 5626 §3.5.1 keep-alives).

Frozen dataclasses with a docstring per field, passed in explicitly
(aioquic's ``QuicConfiguration``); nothing here reads files or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ims.sip.message import DEFAULT_LIMITS, Limits

#: RFC 3261 §18.1.1: a request larger than this goes over a congestion-controlled
#: transport when the path MTU is unknown.
UNKNOWN_MTU_LIMIT = 1300

#: RFC 3261 §19.1.2 default ports.
DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "tls": 5061}

TRANSPORTS = ("udp", "tcp", "tls")


@dataclass(frozen=True, slots=True)
class ListenSpec:
    """One listening socket.

    A ``tls`` spec needs ``tls_cert`` and ``tls_key`` (PEM files); without
    them the spec is refused (TLS only where a certificate is configured).
    """

    transport: str
    """``"udp"``, ``"tcp"`` or ``"tls"``."""
    host: str
    """Bare IP address to bind (``"127.0.0.1"``, ``"::1"``, ``"0.0.0.0"``); no brackets."""
    port: int
    """Port to bind; 0 picks a free port (tests), see ``TransportManager.local_address``."""
    tls_cert: str | None = None
    """PEM certificate chain file for a ``tls`` listener."""
    tls_key: str | None = None
    """PEM private key file for a ``tls`` listener."""
    advertised_host: str | None = None
    """Address written into Via/Record-Route when ``host`` is a wildcard."""
    protected: bool = False
    """An IPsec protected port (TS 33.203 §7.1): messages received here carry
    ``Peer.local_port``, pass the manager's ``gate``, and a TCP listener
    shares its port with connections we open from it (``SO_REUSEPORT``)."""

    def __post_init__(self) -> None:
        if self.transport not in TRANSPORTS:
            raise ValueError(f"unknown transport {self.transport!r}")
        if self.transport == "tls" and not (self.tls_cert and self.tls_key):
            raise ValueError("a tls listener needs tls_cert and tls_key")
        if self.protected and self.transport == "tls":
            raise ValueError("a protected listener is udp or tcp (ESP protects it, not TLS)")


@dataclass(frozen=True, slots=True)
class TransportConfig:
    """Tunables of :class:`ims.transport.manager.TransportManager`."""

    limits: Limits = field(default=DEFAULT_LIMITS)
    """Size and count limits applied before parsing (architecture: boundaries)."""
    idle_timeout: float = 300.0
    """Seconds without traffic after which a TCP/TLS connection is closed."""
    mtu: int | None = None
    """Path MTU if known; ``None`` means unknown, i.e. the 1300-byte rule (§18.1.1)."""
    connect_timeout: float = 10.0
    """Seconds allowed to open an outgoing TCP/TLS connection."""
    tls_ca_file: str | None = None
    """PEM bundle used to verify TLS servers we connect to (system store if None)."""
    tls_verify: bool = True
    """Verify the certificate and host of TLS servers we connect to."""
    tls_client_cert: str | None = None
    """PEM certificate presented when we open TLS connections (mutual TLS)."""
    tls_client_key: str | None = None
    """PEM private key for ``tls_client_cert``."""
