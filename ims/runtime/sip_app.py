"""A CSCF process: one :class:`SipStack` with a :class:`ProxyService` on top.

Each CSCF's ``app.py`` calls :func:`build_sip_function` with its config
section and its own routing logic (``route_hook``); this module turns the
config into listen specs and a static resolver, and presents the result as
an :class:`ims.runtime.app.App` (listening addresses, counters).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from ims.runtime.config import Config, SipFunctionConfig
from ims.runtime.proxy_service import (
    LocalHandler,
    ProxyService,
    RouteHook,
    StaticResolver,
    tune_gc,
)
from ims.sip.proxy import ProxyConfig
from ims.transport.config import ListenSpec
from ims.transport.rules import host_family
from ims.transport.stack import SipStack

#: Stack values that are current levels, not running totals.
GAUGE_KEYS = frozenset({"transactions_active", "connections"})
#: Seconds between full GC sweeps in a CSCF (the Diameter side may make cycles).
GC_SWEEP_INTERVAL = 60.0


class SipFunctionApp:
    """A CSCF as ``ims.runtime.main`` runs it."""

    def __init__(self, name: str, service: ProxyService) -> None:
        self._name = name
        self.service = service

    @property
    def name(self) -> str:
        """``pcscf``, ``icscf`` or ``scscf``."""
        return self._name

    async def start(self) -> None:
        """Bind the SIP listeners (``OSError`` if one is taken) and serve.

        Once started, the GC is tuned as for the bare proxy (see
        :func:`ims.runtime.proxy_service.tune_gc`): start-up objects frozen,
        automatic collection off, a full sweep every ``GC_SWEEP_INTERVAL``.
        """
        await self.service.start()
        tune_gc(asyncio.get_running_loop(), GC_SWEEP_INTERVAL)

    async def stop(self) -> None:
        """Stop the proxy and close every SIP socket."""
        await self.service.stop()

    def listening(self) -> list[str]:
        """``sip udp 127.0.0.1:5060`` per bound listener."""
        transport = self.service.stack.transport
        found = []
        for spec in transport.specs:
            try:
                host, port = transport.local_address(spec.transport, host_family(spec.host))
            except LookupError:
                continue
            found.append(f"sip {spec.transport} {host}:{port}")
        return found

    def _stack_values(self) -> dict[str, int]:
        return self.service.stack.counters

    def counters(self) -> Mapping[str, float]:
        """Transport and proxy counters, prefixed ``sip_``."""
        values = {key: value for key, value in self._stack_values().items()
                  if key not in GAUGE_KEYS}
        values.update(self.service.counters)
        return {f"sip_{key}": value for key, value in values.items()}

    def gauges(self) -> Mapping[str, float]:
        """Open transactions and connections."""
        stack = self._stack_values()
        return {f"sip_{key}": stack[key] for key in GAUGE_KEYS if key in stack}

    def status_extra(self) -> Mapping[str, Any]:
        """Nothing beyond the common keys yet."""
        return {}


def listen_specs(section: SipFunctionConfig) -> list[ListenSpec]:
    """One spec per configured transport on ``host:port`` (and ``ipv6_host:port``),
    plus TLS on ``tls_port`` of each when ``section.tls_enabled``."""
    specs = [ListenSpec(transport, host, section.port)
             for host in section.hosts() for transport in section.transports]
    if section.tls_enabled:
        specs += [ListenSpec("tls", host, section.tls_port, section.tls_cert, section.tls_key)
                  for host in section.hosts()]
    return specs


def resolver_table(config: Config) -> dict[str, tuple[str, int]]:
    """The static DNS table as :class:`StaticResolver` wants it (port 0: keep the URI's)."""
    table = {}
    for name, targets in config.static_dns().items():
        host, _, port = targets[0].rpartition(":") if targets else ("", "", "")
        if not host or not port.isdigit():
            host, port = (targets[0] if targets else name), "0"
        table[name] = (host.strip("[]"), int(port))
    return table


def build_sip_function(name: str, section: SipFunctionConfig, config: Config,
                       route_hook: RouteHook | None = None,
                       local_handler: LocalHandler | None = None,
                       proxy_config: ProxyConfig | None = None,
                       aliases: Sequence[str] = ()) -> SipFunctionApp:
    """Wire a CSCF: stack on ``section``'s listeners, proxy service as its TU.

    Args:
        name: function name.
        section: the function's config section.
        config: the whole config (static DNS table).
        route_hook: the function's routing logic (default: Route, then Request-URI).
        local_handler: answers requests addressed to the function itself.
        proxy_config: proxy behaviour switches.
        aliases: host names meaning this function besides ``section.name``.
    """
    service = ProxyService(None, route_hook=route_hook,
                           resolver=StaticResolver(resolver_table(config)),
                           config=proxy_config, local_handler=local_handler,
                           aliases=(section.name, *aliases))
    service.attach(SipStack(service, listen_specs(section)))
    return SipFunctionApp(name, service)
