"""I-CSCF process wiring: the entry point of the home network (TS 24.229 §5.3).

At this stage the I-CSCF is the shared stateful proxy on its configured SIP
listeners: it answers OPTIONS addressed to itself with 200 and relays the
rest by Route and Request-URI. Its own logic plugs in here as ``route_hook``.
"""

from __future__ import annotations

from ims.runtime.config import Config
from ims.runtime.main import run
from ims.runtime.sip_app import SipFunctionApp, build_sip_function


def build(config: Config) -> SipFunctionApp:
    """Wire the I-CSCF from ``config`` (nothing is bound until ``start``)."""
    return build_sip_function("icscf", config.icscf, config)


def main() -> None:
    """``ims-icscf [--config FILE] [--log-level LEVEL]``."""
    run(build, name="icscf")


if __name__ == "__main__":
    main()
