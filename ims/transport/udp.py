"""UDP endpoint (RFC 3261 §18 over datagrams; RFC 5118 IPv6).

One :class:`UdpEndpoint` per bound socket. Each datagram is one message
(RFC 3261 §18.3): it goes through ``frame_datagram`` and is handed to the
sink with the source address as a :class:`~ims.sip.events.Peer`. Sending is
``sendto``; datagram errors (ICMP) are only logged, the transaction layer's
timers cover the loss.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any, cast

from ims.sip.errors import SipError
from ims.sip.events import Peer
from ims.sip.framing import frame_datagram
from ims.sip.message import DEFAULT_LIMITS, Limits
from ims.transport.base import MessageSink
from ims.transport.tcp import framing_limits

logger = logging.getLogger(__name__)


class UdpEndpoint(asyncio.DatagramProtocol):
    """A bound UDP socket feeding a :class:`MessageSink`."""

    def __init__(self, sink: MessageSink, limits: Limits = DEFAULT_LIMITS,
                 protected: bool = False) -> None:
        self._sink = sink
        self._limits = framing_limits(limits)
        self.protected = protected
        self._local_port: int | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # -- asyncio callbacks ------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)
        if self.protected:
            self._local_port = self.local_address[1]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        peer = Peer("udp", str(addr[0]), int(addr[1]), None, self._local_port)
        try:
            framed = frame_datagram(data, self._limits)
        except SipError as err:
            self._sink.framing_failed(data, peer, err)
            return
        if framed:
            self._sink.message_received(framed, peer)

    def error_received(self, exc: Exception) -> None:
        logger.debug("udp %s: %s", self.local_address, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if not self.closed.done():
            self.closed.set_result(None)

    # -- API --------------------------------------------------------------
    @property
    def family(self) -> socket.AddressFamily:
        """``AF_INET`` or ``AF_INET6``."""
        sock = self._transport.get_extra_info("socket") if self._transport else None
        return socket.AddressFamily(sock.family) if sock is not None else socket.AF_INET

    @property
    def local_address(self) -> tuple[str, int]:
        """The bound ``(host, port)``."""
        name = self._transport.get_extra_info("sockname") if self._transport else None
        return (str(name[0]), int(name[1])) if name else ("", 0)

    def send(self, data: bytes, host: str, port: int) -> None:
        """Send one datagram to ``host`` (an IP literal) and ``port``.

        Raises:
            ConnectionError: the endpoint is closed.
        """
        if self._transport is None or self._transport.is_closing():
            raise ConnectionError("udp endpoint closed")
        self._transport.sendto(data, (host, port))

    def close(self) -> None:
        """Close the socket; ``closed`` resolves once it is gone."""
        if self._transport is not None:
            self._transport.close()


async def open_udp(
    host: str, port: int, sink: MessageSink, limits: Limits = DEFAULT_LIMITS,
    protected: bool = False,
) -> UdpEndpoint:
    """Bind a UDP endpoint on ``host``:``port`` (``port`` 0 picks one).

    A ``protected`` endpoint (TS 33.203 §7.1) stamps ``Peer.local_port`` on
    what it receives.

    Raises:
        OSError: the address cannot be bound.
    """
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    _, endpoint = await loop.create_datagram_endpoint(
        lambda: UdpEndpoint(sink, limits, protected), local_addr=(host, port), family=family
    )
    return endpoint
