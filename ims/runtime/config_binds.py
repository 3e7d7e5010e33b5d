"""The sockets a configuration makes its processes bind, and the clash check on them.

Every listener (SIP per transport and host, TLS, Diameter, REST, the IPsec
protected port pools of TS 33.203 §7.1, management) is a :class:`Bind`;
:func:`check_binds` rejects a configuration in which two of them could not
be bound at once. Re-exported by :mod:`ims.runtime.config`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ims.runtime.config_schema import FUNCTIONS, Config, InvalidKey, SipFunctionConfig


@dataclass(frozen=True)
class Bind:
    """A socket (or a range of them) some process binds, for clash checks."""

    function: str
    """Function owning the socket."""
    key: str
    """Config key that sets the port."""
    service: str
    """``sip``, ``mgmt``, ``diameter``, ``rest`` or ``ipsec``."""
    transport: str
    """``udp`` or ``tcp``."""
    host: str
    """Bound address."""
    port: int
    """(First) port."""
    last_port: int
    """Last port of a range (== ``port`` for one socket)."""

    def clashes(self, other: Bind) -> bool:
        """True if both could not be bound at once."""
        same_host = self.host == other.host or _wildcard(self.host) or _wildcard(other.host)
        overlap = self.port <= other.last_port and other.port <= self.last_port
        return same_host and overlap and self.transport == other.transport

    def describe(self) -> str:
        """``127.0.0.1:5060/udp`` (or a range)."""
        ports = str(self.port) if self.port == self.last_port else f"{self.port}-{self.last_port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{ports}/{self.transport}"


def _wildcard(host: str) -> bool:
    return host in ("0.0.0.0", "::", "")


def binds(config: Config) -> list[Bind]:
    """Every socket the processes of this config bind, in start order."""
    found = [
        Bind("hss", "hss.diameter_port", "diameter", "tcp",
             config.hss.diameter_host, config.hss.diameter_port, config.hss.diameter_port),
        Bind("hss", "hss.rest_port", "rest", "tcp",
             config.hss.rest_host, config.hss.rest_port, config.hss.rest_port),
    ]
    for name in FUNCTIONS[1:]:
        found += _sip_binds(name, getattr(config, name))
    pcscf = config.pcscf
    for key, first in (("ipsec_port_s", pcscf.ipsec_port_s), ("ipsec_port_c", pcscf.ipsec_port_c)):
        if pcscf.ipsec != "off":
            last = first + pcscf.ipsec_pool_size - 1
            found += [Bind("pcscf", f"pcscf.{key}", "ipsec", transport, host, first, last)
                      for host in pcscf.hosts() for transport in ("udp", "tcp")]
    for name in FUNCTIONS:
        host, port = config.mgmt_address(name)
        found.append(Bind(name, f"{name}.mgmt_port", "mgmt", "tcp", host, port, port))
    return found


def _sip_binds(name: str, sip: SipFunctionConfig) -> list[Bind]:
    """The SIP listeners of one CSCF: each transport on each host, TLS (a TCP socket)."""
    found = [Bind(name, f"{name}.port", "sip", transport, host, sip.port, sip.port)
             for host in sip.hosts() for transport in sip.transports]
    if sip.tls_enabled:
        found += [Bind(name, f"{name}.tls_port", "sip", "tcp", host, sip.tls_port, sip.tls_port)
                  for host in sip.hosts()]
    return found



def check_binds(config: Config) -> None:
    """Reject two sockets of ``config`` that could not be bound at once.

    Raises:
        InvalidKey: at the key of the later socket, naming the earlier one.
    """
    seen: list[Bind] = []
    for bind in binds(config):
        other = next((earlier for earlier in seen if earlier.clashes(bind)), None)
        if other is not None:
            raise InvalidKey(bind.key, f"{bind.describe()} clashes with {other.key} "
                                      f"({other.describe()})")
        seen.append(bind)
