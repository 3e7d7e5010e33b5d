"""Interfaces between the asyncio endpoints and the transport manager (RFC 3261 §18).

The endpoints (:mod:`udp`, :mod:`tcp`, :mod:`tls`) only move bytes: they
frame what arrives and hand each framed message to a :class:`MessageSink`
together with the :class:`~ims.sip.events.Peer` it came from.
"""

from __future__ import annotations

from typing import Protocol

from ims.sip.errors import SipError
from ims.sip.events import Peer


class MessageSink(Protocol):
    """Receives what the endpoints read."""

    def message_received(self, data: bytes, peer: Peer) -> None:
        """One whole framed SIP message arrived from ``peer``."""

    def framing_failed(self, data: bytes, peer: Peer, err: SipError) -> None:
        """Bytes from ``peer`` could not be framed; ``data`` is what was read."""


class ConnectionSink(MessageSink, Protocol):
    """Also told when stream connections come and go."""

    def connection_opened(self, conn_id: int) -> None:
        """Stream connection ``conn_id`` is established (incoming or outgoing)."""

    def connection_closed(self, conn_id: int) -> None:
        """Stream connection ``conn_id`` is gone (closed, reset, idle or failed)."""
