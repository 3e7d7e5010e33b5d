"""P-CSCF process wiring: the UE's first hop (TS 24.229 §5.2).

The shared stateful proxy on the configured SIP listeners, specialised as
:class:`pcscf.service.PcscfService`: REGISTERs go to the home I-CSCF with
our Path, the registrations are cached from the 200 OKs, originating
requests follow the Service-Route with an asserted identity, terminating
ones reach the UE where it registered from. IPsec (TS 33.203) follows
``[pcscf] ipsec`` and what the kernel can do (:mod:`pcscf.ipsec`): the
kernel is probed once here, ``required`` without ESP refuses to start.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ims.ipsec.xfrm import NetlinkXfrm, XfrmPort
from ims.runtime.config import Config
from ims.runtime.main import EXIT_FAILURE, run
from ims.runtime.proxy_service import StaticResolver
from ims.runtime.sip_app import SipFunctionApp, listen_specs, resolver_table
from ims.sip.errors import SipError
from ims.sip.proxy import ProxyConfig
from ims.sip.uri import SipUri, parse_uri
from ims.transport.config import ListenSpec
from ims.transport.stack import SipStack

from .ipsec import IpsecSecAgree, IpsecStatus, IpsecUnavailable, probe, select_sec_agree
from .router import SEC_AGREE, PcscfSettings, path_value
from .secagree import ProtectedPortPool
from .service import PcscfService
from .sessions import SecAgreeResources

logger = logging.getLogger(__name__)


class PcscfApp(SipFunctionApp):
    """The P-CSCF as ``ims.runtime.main`` runs it."""

    service: PcscfService

    def __init__(self, name: str, service: PcscfService, ipsec: IpsecStatus) -> None:
        super().__init__(name, service)
        self.ipsec = ipsec

    @property
    def _kernel_sa(self) -> IpsecSecAgree | None:
        sec = self.service.sec_agree
        return sec if isinstance(sec, IpsecSecAgree) else None

    async def start(self) -> None:
        """Remove SAs an earlier run left behind, then serve."""
        if self._kernel_sa is not None:
            self._kernel_sa.start()
        await super().start()

    async def stop(self) -> None:
        """Stop serving, then remove every UE's SAs."""
        await super().stop()
        if self._kernel_sa is not None:
            self._kernel_sa.close()

    def counters(self) -> Mapping[str, float]:
        """SIP counters plus the IPsec ones."""
        values = dict(super().counters())
        if self._kernel_sa is not None:
            values.update(self._kernel_sa.counters)
        return values

    def gauges(self) -> Mapping[str, float]:
        """SIP gauges plus the number of registered UEs and installed SA sets."""
        values = dict(super().gauges())
        values["registered_ues"] = len(self.service.cache)
        kernel = self._kernel_sa
        values["ipsec_sa_sets"] = len(kernel.installed) if kernel is not None else 0
        return values

    def ipsec_status(self) -> dict[str, Any]:
        """Mode, kernel ESP support, and our SAs per UE read from the kernel."""
        ues = self._kernel_sa.sa_status() if self._kernel_sa is not None else []
        return {**self.ipsec.as_dict(), "sa_count": sum(len(ue["sas"]) for ue in ues),
                "ues": ues}

    def status_extra(self) -> Mapping[str, Any]:
        """The cached registrations (UE address, identities, contacts) and IPsec."""
        return {"registrations": [
            {"ue": f"{reg.ue.transport}:{reg.ue.host}:{reg.ue.port}",
             "impus": [str(a.uri) for a in reg.associated],
             "contacts": [str(b.contact.uri) for b in reg.bindings]}
            for reg in self.service.cache
        ], "ipsec": self.ipsec_status()}


def settings_of(config: Config) -> PcscfSettings:
    """Path, I-CSCF URI and visited network from ``[pcscf]``.

    Raises:
        ValueError: ``pcscf.icscf_uri`` is not a SIP URI.
    """
    section = config.pcscf
    try:
        icscf = parse_uri(section.icscf_uri)
    except SipError as err:
        raise ValueError(f"pcscf.icscf_uri: {err.reason}") from err
    if not isinstance(icscf, SipUri):
        raise ValueError(f"pcscf.icscf_uri: not a SIP URI: {section.icscf_uri}")
    return PcscfSettings(path_value(section.name, section.port), icscf,
                         section.visited_network_id, f"sip:{section.name}:{section.port}")


def preference_of(pairs: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``["hmac-sha-1-96/aes-cbc", ...]`` as (alg, ealg) pairs (validated by the config)."""
    return tuple((alg, ealg) for alg, _, ealg in (pair.partition("/") for pair in pairs))


def protected_specs(config: Config) -> list[ListenSpec]:
    """Listeners on the protected port pools (TS 33.203 §7.1), both transports.

    On ``host`` and, when set, ``ipv6_host``: a UE on IPv6 gets its SAs there.
    """
    section = config.pcscf
    firsts = (section.ipsec_port_s, section.ipsec_port_c)
    return [ListenSpec(transport, host, first + index, protected=True)
            for host in section.hosts() for first in firsts
            for index in range(section.ipsec_pool_size) for transport in ("udp", "tcp")]


def build(config: Config, xfrm: Callable[[], XfrmPort] = NetlinkXfrm) -> PcscfApp:
    """Wire the P-CSCF from ``config`` (nothing is bound until ``start``).

    ``xfrm`` opens the kernel's XFRM database (tests on a kernel without ESP
    pass :class:`~ims.ipsec.xfrm.FakeXfrm` to exercise the flows).

    Raises:
        IpsecUnavailable: ``ipsec = "required"`` on a kernel without ESP.
    """
    section = config.pcscf
    status = probe(section.ipsec, xfrm)
    resources = SecAgreeResources(section.host, ProtectedPortPool(
        section.ipsec_port_s, section.ipsec_port_c, section.ipsec_pool_size),
        preference=preference_of(section.ipsec_algorithms),
        pcscf_ipv6_host=section.ipv6_host or None)
    sec_agree = select_sec_agree(status, resources, xfrm, section.esp_keys_file)
    service = PcscfService(settings_of(config), sec_agree,
                           resolver=StaticResolver(resolver_table(config)),
                           config=ProxyConfig(proxy_require=frozenset({SEC_AGREE})),
                           aliases=(section.name,))
    specs = listen_specs(section) + (protected_specs(config) if status.active else [])
    stack = SipStack(service, specs)
    stack.transport.gate = sec_agree.accepts  # TS 33.203 §7.1: only SA flows on those ports
    if isinstance(sec_agree, IpsecSecAgree):
        transport = stack.transport
        sec_agree.close_flows = lambda plan: transport.close_flows(
            plan.ue_host, (plan.port_ps, plan.port_pc))
    service.attach(stack)
    return PcscfApp("pcscf", service, status)


def main() -> None:
    """``ims-pcscf [--config FILE] [--log-level LEVEL]``; exit 1 when IPsec cannot be had."""
    try:
        run(build, name="pcscf")
    except IpsecUnavailable as error:
        logger.error("cannot start: %s", error)
        print(f"ims-pcscf: cannot start: {error}", file=sys.stderr)
        sys.exit(EXIT_FAILURE)


if __name__ == "__main__":
    main()
