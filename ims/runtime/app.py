"""What ``ims.runtime.main.run`` expects from a function's ``build(config)``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class App(Protocol):
    """One network function, wired and ready to start.

    ``start`` binds every socket (raising ``OSError`` if one is taken);
    ``stop`` releases them all. The query methods feed ``/status`` and
    ``/metrics`` and must be cheap and non-blocking.
    """

    @property
    def name(self) -> str:
        """Function name: ``hss``, ``pcscf``, ``icscf`` or ``scscf``."""
        ...

    async def start(self) -> None:
        """Open the listeners and start serving."""
        ...

    async def stop(self) -> None:
        """Stop serving and close every socket."""
        ...

    def listening(self) -> list[str]:
        """Where it listens, one ``"<transport> <host>:<port>"`` per socket."""
        ...

    def counters(self) -> Mapping[str, float]:
        """Monotonic counters by name (messages, transactions, errors ...)."""
        ...

    def gauges(self) -> Mapping[str, float]:
        """Current values by name (connections, peers ...)."""
        ...

    def status_extra(self) -> Mapping[str, Any]:
        """Function-specific ``/status`` keys (e.g. the HSS's ``diameter_peers``)."""
        ...
