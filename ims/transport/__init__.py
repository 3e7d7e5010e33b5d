"""The SIP transport layer (RFC 3261 §18): the only package that owns sockets.

``SipStack`` (transactions over transports) is what a network function
uses; ``TransportManager`` is the socket layer beneath it; ``rules`` holds
the pure §18 decisions (received/rport, response routing, UDP-to-TCP).
"""

from ims.transport.config import ListenSpec, TransportConfig
from ims.transport.manager import Receiver, TransportManager
from ims.transport.rules import choose_transport, format_hostport, make_via
from ims.transport.stack import (
    ClientResult,
    ServerTransactionHandle,
    SipStack,
    TransactionUser,
)

__all__ = [
    "ClientResult", "ListenSpec", "Receiver", "ServerTransactionHandle", "SipStack",
    "TransactionUser", "TransportConfig", "TransportManager", "choose_transport",
    "format_hostport", "make_via",
]
