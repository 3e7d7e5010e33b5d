"""Serve the provisioning REST API from inside the HSS process.

:func:`start_rest_server` binds werkzeug's threaded WSGI server (one thread
per request) and runs it in a daemon thread, so the HSS can host the API
beside its Diameter node; :meth:`RestServer.stop` shuts it down and closes
the socket. Port 0 binds a free port (tests); :attr:`RestServer.address`
tells which.
"""

from __future__ import annotations

import logging
import threading

from werkzeug.serving import BaseWSGIServer, make_server

from hss.store import Store
from provisioning.actions import NetworkActions
from provisioning.api import create_app

__all__ = ["RestServer", "start_rest_server"]

log = logging.getLogger(__name__)


class RestServer:
    """A running REST server; see :func:`start_rest_server`."""

    def __init__(self, server: BaseWSGIServer) -> None:
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="rest-provisioning",
                                        daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        """The bound host and port."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """``http://host:port`` of the server."""
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> None:
        """Start serving in the daemon thread."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, close the listening socket and wait for the thread."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout)
        self._server.server_close()
        log.info("REST provisioning on %s stopped", self.url)


def start_rest_server(store: Store, host: str, port: int, token: str, *,
                      domain: str | None = None,
                      actions: NetworkActions | None = None) -> RestServer:
    """Serve the provisioning API for ``store`` on ``host:port`` in a daemon thread.

    Args:
        store: the migrated HSS store.
        host, port: where to listen (port 0: any free port, see ``.address``).
        token: the bearer token (config ``hss.rest_token``).
        domain: home domain for generated identities.
        actions: the HSS's Diameter client for the network actions (RTR, PPR, IDR, CLR).

    Raises:
        OSError: the address cannot be bound (e.g. the port is taken).
        ValueError: an empty token.
    """
    app = create_app(store, token, domain=domain, actions=actions)
    server = RestServer(make_server(host, port, app, threaded=True))
    server.start()
    log.info("REST provisioning listening on %s", server.url)
    return server
