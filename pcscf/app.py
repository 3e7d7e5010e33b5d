"""P-CSCF process wiring: the UE's first hop (TS 24.229 §5.2).

The shared stateful proxy on the configured SIP listeners, specialised as
:class:`pcscf.service.PcscfService`: REGISTERs go to the home I-CSCF with
our Path, the registrations are cached from the 200 OKs, originating
requests follow the Service-Route with an asserted identity, terminating
ones reach the UE where it registered from. Until IPsec comes (a later
issue) sec-agree is refused (:class:`pcscf.router.SecAgreeUnavailable`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ims.runtime.config import Config
from ims.runtime.main import run
from ims.runtime.proxy_service import StaticResolver
from ims.runtime.sip_app import SipFunctionApp, listen_specs, resolver_table
from ims.sip.errors import SipError
from ims.sip.uri import SipUri, parse_uri
from ims.transport.stack import SipStack

from .router import PcscfSettings, SecAgreeUnavailable, path_value
from .service import PcscfService


class PcscfApp(SipFunctionApp):
    """The P-CSCF as ``ims.runtime.main`` runs it."""

    service: PcscfService

    def gauges(self) -> Mapping[str, float]:
        """SIP gauges plus the number of registered UEs."""
        values = dict(super().gauges())
        values["registered_ues"] = len(self.service.cache)
        return values

    def status_extra(self) -> Mapping[str, Any]:
        """The cached registrations (UE address, identities, contacts)."""
        return {"registrations": [
            {"ue": f"{reg.ue.transport}:{reg.ue.host}:{reg.ue.port}",
             "impus": [str(a.uri) for a in reg.associated],
             "contacts": [str(b.contact.uri) for b in reg.bindings]}
            for reg in self.service.cache
        ]}


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


def build(config: Config) -> PcscfApp:
    """Wire the P-CSCF from ``config`` (nothing is bound until ``start``)."""
    section = config.pcscf
    service = PcscfService(settings_of(config), SecAgreeUnavailable(),
                           resolver=StaticResolver(resolver_table(config)),
                           aliases=(section.name,))
    service.attach(SipStack(service, listen_specs(section)))
    return PcscfApp("pcscf", service)


def main() -> None:
    """``ims-pcscf [--config FILE] [--log-level LEVEL]``."""
    run(build, name="pcscf")


if __name__ == "__main__":
    main()
