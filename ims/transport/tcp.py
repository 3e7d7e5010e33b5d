"""TCP connections and listeners (RFC 3261 §18, §18.3 framing; RFC 5626 §3.5.1 keep-alive).

Theory of operation
-------------------
A :class:`StreamConnection` is one TCP (or, under :mod:`tls`, TLS)
connection, incoming or outgoing. It feeds what it reads into a
``StreamFramer`` (Content-Length framing, RFC 3261 §18.3) and hands each
whole message to its :class:`~ims.transport.base.ConnectionSink`. A
double-CRLF keep-alive ping is answered with a single CRLF pong (RFC 5626
§3.5.1). A framing error is reported to the sink (which may answer 400)
and the connection is closed, since the stream cannot be resynchronised.

An outgoing connection object exists before the socket is connected, so
the manager can register it at once (one connection per remote address,
RFC 3261 §18.1) and queue writes; they are flushed on ``connection_made``.

Idle connections close after ``idle_timeout`` seconds without traffic in
either direction. One ``loop.call_at`` per connection is armed at the
earliest possible expiry and re-armed from there (aioquic's single timer).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import cast

from ims.sip.errors import SipError
from ims.sip.events import Peer
from ims.sip.framing import PONG, StreamFramer
from ims.sip.framing import Limits as FramingLimits
from ims.sip.message import Limits
from ims.transport.base import ConnectionSink

logger = logging.getLogger(__name__)


class StreamConnection(asyncio.Protocol):
    """One TCP or TLS connection, incoming or outgoing."""

    def __init__(
        self,
        conn_id: int,
        transport_name: str,
        sink: ConnectionSink,
        limits: Limits,
        idle_timeout: float | None,
        remote: tuple[str, int] | None = None,
        local_port: int | None = None,
    ) -> None:
        self.conn_id = conn_id
        self.transport_name = transport_name
        self.remote = remote
        #: Our port when this connection belongs to a protected flow (TS 33.203 §7.1).
        self.local_port = local_port
        self.outgoing = remote is not None
        self._sink = sink
        self._framer = StreamFramer(framing_limits(limits))
        self._pings = 0
        self._unframed = bytearray()
        self._idle_timeout = idle_timeout
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._queued: list[bytes] = []
        self._idle_handle: asyncio.TimerHandle | None = None
        self.last_activity = self._loop.time()
        self.closing = False
        self.lost: asyncio.Future[None] = self._loop.create_future()

    # -- asyncio callbacks ------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        name = transport.get_extra_info("peername")
        if name:
            self.remote = (str(name[0]), int(name[1]))
        self._touch()
        self._arm_idle()
        self._sink.connection_opened(self.conn_id)
        for data in self._queued:
            self._transport.write(data)
        self._queued.clear()
        if self.closing:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        self._touch()
        self._unframed += data
        try:
            self._framer.feed(data)
            self._drain()
        except SipError as err:
            logger.info("%s: framing error: %s; closing", self._describe(), err.reason)
            self._sink.framing_failed(self._pending_bytes(), self.peer, err)
            self.close()
            return
        self._unframed[:] = self._pending_bytes()

    def _pending_bytes(self) -> bytes:
        """The received bytes the framer has not handed out (the bad message, on error)."""
        pending = self._framer.buffered
        return bytes(self._unframed[len(self._unframed) - pending :]) if pending else b""

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self._transport = None
        self._cancel_idle()
        logger.debug("%s: closed (%s)", self._describe(), exc or "clean")
        self._sink.connection_closed(self.conn_id)
        if not self.lost.done():
            self.lost.set_result(None)

    # -- API --------------------------------------------------------------
    @property
    def peer(self) -> Peer:
        """The remote end as a Peer carrying this connection's id (and protected port)."""
        host, port = self.remote or ("", 0)
        return Peer(self.transport_name, host, port, self.conn_id, self.local_port)

    @property
    def connected(self) -> bool:
        """True once the socket is up and until it starts closing."""
        return self._transport is not None and not self.closing

    def write(self, data: bytes) -> None:
        """Send ``data``, queueing it while an outgoing connection is being set up.

        Raises:
            ConnectionError: the connection is closing or closed.
        """
        if self.closing:
            raise ConnectionError(f"connection {self.conn_id} is closed")
        self._touch()
        if self._transport is None:
            self._queued.append(data)
        else:
            self._transport.write(data)

    def close(self) -> None:
        """Close after flushing what was written."""
        self.closing = True
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Close at once, dropping unsent data."""
        self.closing = True
        if self._transport is not None:
            self._transport.abort()

    def fail(self, reason: str) -> None:
        """An outgoing connection could not be opened: forget it."""
        logger.info("%s: connect failed: %s", self._describe(), reason)
        self._queued.clear()
        self.connection_lost(None)

    # -- internals ----------------------------------------------------------
    def _drain(self) -> None:
        while not self.closing:
            message = self._framer.next_message()
            self._answer_pings()
            if message is None:
                return
            self._sink.message_received(message, self.peer)

    def _answer_pings(self) -> None:
        """RFC 5626 §3.5.1: one CRLF pong per CRLFCRLF ping the framer consumed."""
        new = self._framer.pings_received - self._pings
        self._pings = self._framer.pings_received
        if new > 0 and self._transport is not None and not self.closing:
            self._transport.write(PONG * new)

    def _touch(self) -> None:
        self.last_activity = self._loop.time()

    def _arm_idle(self) -> None:
        if self._idle_timeout is not None and not self.closing:
            at = self.last_activity + self._idle_timeout
            self._idle_handle = self._loop.call_at(at, self._check_idle)

    def _check_idle(self) -> None:
        self._idle_handle = None
        if self._idle_timeout is None or self.closing:
            return
        if self._loop.time() >= self.last_activity + self._idle_timeout:
            logger.info("%s: idle for %.0f s; closing", self._describe(), self._idle_timeout)
            self.close()
        else:
            self._arm_idle()

    def _cancel_idle(self) -> None:
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None

    def _describe(self) -> str:
        host, port = self.remote or ("?", 0)
        return f"{self.transport_name}#{self.conn_id} {host}:{port}"


def framing_limits(limits: Limits) -> FramingLimits:
    """The framer's copy of the message size limits."""
    return FramingLimits(
        max_message_size=limits.max_message_size,
        max_headers=limits.max_headers,
        max_line_length=limits.max_line_length,
    )


async def listen_stream(
    host: str,
    port: int,
    factory: Callable[[], StreamConnection],
    ssl_context: ssl.SSLContext | None = None,
    reuse_port: bool = False,
) -> asyncio.Server:
    """Start a TCP (or TLS) listener whose connections ``factory()`` builds.

    ``reuse_port`` lets connections we open bind the same port (a protected
    port-c sends requests from it, TS 33.203 §7.1).

    Raises:
        OSError: the address cannot be bound.
    """
    loop = asyncio.get_running_loop()
    return await loop.create_server(factory, host, port, ssl=ssl_context, reuse_address=True,
                                    reuse_port=reuse_port or None)


async def connect_stream(
    conn: StreamConnection,
    host: str,
    port: int,
    timeout: float,
    ssl_context: ssl.SSLContext | None = None,
    local: tuple[str, int] | None = None,
) -> None:
    """Connect the already-registered outgoing ``conn`` to ``host``:``port``.

    With ``local`` the socket is bound there first: port 0 only pins the
    source address (the listener's, so the peer sees the address our Via
    names); a fixed port is a protected port-c, bound beside our listener on
    it (``SO_REUSEPORT``).
    On failure the connection is failed (its sink hears ``connection_closed``)
    instead of raising, so the caller's task never ends in an exception.
    """
    loop = asyncio.get_running_loop()
    server_hostname = host if ssl_context is not None else None
    try:
        opening: Awaitable[object] = (
            loop.create_connection(
                lambda: conn, host, port, ssl=ssl_context, server_hostname=server_hostname,
                local_addr=local,
            ) if local is None or not local[1] else _connect_from(loop, conn, local, (host, port))
        )
        await asyncio.wait_for(opening, timeout)
    except (OSError, TimeoutError) as exc:
        conn.fail(str(exc) or type(exc).__name__)
    except asyncio.CancelledError:
        conn.fail("cancelled")
        raise


async def _connect_from(
    loop: asyncio.AbstractEventLoop, conn: StreamConnection, local: tuple[str, int],
    remote: tuple[str, int],
) -> None:
    """A plain TCP connection from the fixed ``local`` address (shared with our listener)."""
    family = socket.AF_INET6 if ":" in local[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setblocking(False)
        sock.bind(local)
        await loop.sock_connect(sock, remote)
    except BaseException:
        sock.close()
        raise
    await loop.create_connection(lambda: conn, sock=sock)
