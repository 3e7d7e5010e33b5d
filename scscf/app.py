"""S-CSCF process wiring: registrar and session control (TS 24.229 §5.4).

At this stage the S-CSCF is the shared stateful proxy on its configured SIP
listeners: it answers OPTIONS addressed to itself with 200 and relays the
rest by Route and Request-URI. Its own logic plugs in here as ``route_hook``.
"""

from __future__ import annotations

from ims.runtime.config import Config
from ims.runtime.main import run
from ims.runtime.sip_app import SipFunctionApp, build_sip_function


def build(config: Config) -> SipFunctionApp:
    """Wire the S-CSCF from ``config`` (nothing is bound until ``start``)."""
    return build_sip_function("scscf", config.scscf, config)


def main() -> None:
    """``ims-scscf [--config FILE] [--log-level LEVEL]``."""
    run(build, name="scscf")


if __name__ == "__main__":
    main()
