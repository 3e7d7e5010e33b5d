"""Answer routing per connection and election draining (RFC 6733 §6.2, §5.6.4).

:class:`AnswerRoutes` remembers which connection each request in flight
arrived on, so its answer goes back on it, and which connections lost an
election and close once their last request is answered. Used by
:mod:`ims.diameter.node`; thread-safe (the library's connection thread and
the request workers both call it).
"""

from __future__ import annotations

import threading

from diameter.message import Message
from diameter.node.peer import PeerConnection

__all__ = ["AnswerRoutes"]


class AnswerRoutes:
    """Which connection each request in flight arrived on, and which connections drain.

    RFC 6733 §6.2: an answer is sent on the connection its request came in on.
    An election loser (§5.6.4) keeps its connection until every request
    received on it has been answered, then closes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conns: dict[tuple[int, int], PeerConnection] = {}
        self._draining: set[str] = set()

    @staticmethod
    def _key(message: Message) -> tuple[int, int]:
        return message.header.hop_by_hop_identifier, message.header.end_to_end_identifier

    def remember(self, request: Message, conn: PeerConnection) -> None:
        """``request`` arrived on ``conn``."""
        with self._lock:
            self._conns[self._key(request)] = conn

    def connection_of(self, answer: Message) -> PeerConnection | None:
        """The connection the request of ``answer`` arrived on."""
        with self._lock:
            return self._conns.get(self._key(answer))

    def answered(self, answer: Message, conn: PeerConnection) -> bool:
        """Forget the request of ``answer``; True if it was the last one of a draining ``conn``."""
        with self._lock:
            self._conns.pop(self._key(answer), None)
            return conn.ident in self._draining and not self._pending(conn)

    def drain(self, conn: PeerConnection) -> bool:
        """Mark ``conn`` draining; True when nothing is in flight on it (close it now)."""
        with self._lock:
            self._draining.add(conn.ident)
            return not self._pending(conn)

    def draining(self, conn: PeerConnection) -> bool:
        """True once ``conn`` lost an election."""
        with self._lock:
            return conn.ident in self._draining

    def forget(self, conn: PeerConnection) -> None:
        """``conn`` is gone: drop what it had in flight."""
        with self._lock:
            self._draining.discard(conn.ident)
            self._conns = {key: c for key, c in self._conns.items() if c is not conn}

    def _pending(self, conn: PeerConnection) -> bool:
        return any(c is conn for c in self._conns.values())
