"""The management endpoint of a process: ``GET /status`` (JSON) and ``GET /metrics``.

A deliberately tiny HTTP/1.1 server on the loopback address from the config
(``core.mgmt_host`` and the function's ``mgmt_port``): one request per
connection, ``Connection: close``, only ``GET``. ``ims-cli status`` and
Prometheus are its clients. It is the one listening socket outside
``ims/transport`` (architecture: the transport owns the SIP sockets; this
serves operators, not the network).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

logger = logging.getLogger(__name__)

#: Largest request head accepted (request line plus headers).
MAX_HEAD = 8192
#: Seconds a client may take to send its request head.
READ_TIMEOUT = 10.0

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}

StatusSource = Callable[[], Mapping[str, Any]]


class StatusUnavailable(Exception):
    """Nothing (valid) answered on a management endpoint."""


class MgmtServer:
    """Serves ``/status`` from ``status()`` and ``/metrics`` from ``registry``."""

    def __init__(self, host: str, port: int, status: StatusSource,
                 registry: CollectorRegistry) -> None:
        self.host = host
        self.port = port
        self._status = status
        self._registry = registry
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Bind and listen; ``port`` 0 picks a free port, stored back in ``self.port``.

        Raises:
            OSError: the address cannot be bound (e.g. ``EADDRINUSE``).
        """
        self._server = await asyncio.start_server(self._serve, self.host, self.port,
                                                  limit=MAX_HEAD, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        logger.info("management endpoint on http://%s:%d (/status, /metrics)",
                    self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and wait for open requests to finish."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            status, content_type, body = self.respond(head)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            status, content_type, body = 400, "text/plain", b"bad request\n"
        try:
            writer.write(_response(status, content_type, body))
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def respond(self, head: bytes) -> tuple[int, str, bytes]:
        """Answer one request head: ``(status, content type, body)``."""
        parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return 400, "text/plain", b"bad request\n"
        method, target = parts[0], parts[1].split("?", 1)[0]
        if target not in ("/status", "/metrics"):
            return 404, "text/plain", b"not found: try /status or /metrics\n"
        if method != "GET":
            return 405, "text/plain", b"only GET\n"
        if target == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self._registry)
        body = json.dumps(self._status(), indent=2, sort_keys=True) + "\n"
        return 200, "application/json", body.encode()


def _response(status: int, content_type: str, body: bytes) -> bytes:
    head = (f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n")
    return head.encode("latin-1") + body


def fetch_status(host: str, port: int, timeout: float = 2.0) -> dict[str, Any]:
    """``GET /status`` of the process managed at ``host:port`` (blocking).

    Raises:
        StatusUnavailable: refused, timed out, or not a JSON object; the
            message says which.
    """
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", "/status")
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as error:
        raise StatusUnavailable(str(error) or type(error).__name__) from None
    finally:
        connection.close()
    if response.status != 200:
        raise StatusUnavailable(f"HTTP {response.status}")
    try:
        document = json.loads(body)
    except ValueError as error:
        raise StatusUnavailable(f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise StatusUnavailable("not a JSON object")
    return document
