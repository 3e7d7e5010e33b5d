"""Logging helpers of the transport layer: a ``LoggerAdapter`` adding the Call-ID.

Each SIP message sent or received gives one debug line, each transaction
one info summary line (project logging rules); the adapter prefixes every
line with ``[call-id]`` so one call can be followed with ``grep``.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from ims.sip.events import Peer
from ims.sip.message import Request, Response


class CallIdAdapter(logging.LoggerAdapter[logging.Logger]):
    """Prefix each record with the Call-ID it concerns (``extra["call_id"]``)."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        call_id = self.extra.get("call_id", "-") if self.extra else "-"
        return f"[{call_id}] {msg}", kwargs


def for_message(logger: logging.Logger, msg: Request | Response | None) -> CallIdAdapter:
    """An adapter over ``logger`` for the Call-ID of ``msg`` (``-`` if none)."""
    call_id = (msg.get("call-id") if msg is not None else None) or "-"
    return CallIdAdapter(logger, {"call_id": call_id})


def describe(msg: Request | Response) -> str:
    """A one-line summary: ``INVITE sip:bob@x cseq=1 INVITE`` or ``200 OK cseq=1 INVITE``."""
    head = f"{msg.method} {msg.uri_text}" if isinstance(msg, Request) else f"{msg.status} {msg.reason}"
    return f"{head} cseq={msg.get('cseq', '-')} ({len(msg.body)} body bytes)"


def peer_text(peer: Peer) -> str:
    """``udp:[::1]:5060#3`` style rendering of a peer (``#`` = connection id)."""
    host = f"[{peer.host}]" if ":" in peer.host else peer.host
    conn = f"#{peer.conn_id}" if peer.conn_id is not None else ""
    return f"{peer.transport}:{host}:{peer.port}{conn}"


def log_message(logger: logging.Logger, direction: str, msg: Request | Response, peer: Peer) -> None:
    """The one debug line per SIP message (``direction`` is ``"recv"`` or ``"send"``)."""
    if logger.isEnabledFor(logging.DEBUG):
        arrow = "<-" if direction == "recv" else "->"
        for_message(logger, msg).debug("%s %s %s %s", direction, arrow, peer_text(peer), describe(msg))
