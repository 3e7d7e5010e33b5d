"""TLS for SIP (RFC 3261 §26.3.1, §18; RFC 5630 for sips: semantics).

TLS connections are :class:`~ims.transport.tcp.StreamConnection` objects
over an ``ssl``-wrapped asyncio transport: framing, keep-alives, reuse and
idle close are the same as for TCP. This module only builds the SSL
contexts and opens listeners/connections with them. A TLS listener exists
only where a certificate and key are configured.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

from ims.transport.config import TransportConfig
from ims.transport.tcp import StreamConnection, connect_stream, listen_stream

#: RFC 3261 §26.3.1 requires TLS; anything older than 1.2 is refused.
MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2


def server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """The context of a TLS listener presenting ``cert_file`` (PEM chain) and ``key_file``.

    Raises:
        OSError: a file cannot be read.
        ssl.SSLError: the certificate or key is invalid or they do not match.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_VERSION
    context.load_cert_chain(cert_file, key_file)
    return context


def client_context(config: TransportConfig) -> ssl.SSLContext:
    """The context for TLS connections we open.

    Servers are verified against ``config.tls_ca_file`` (or the system store)
    unless ``config.tls_verify`` is off; a client certificate is presented
    when configured (mutual TLS between network elements).

    Raises:
        OSError: a configured file cannot be read.
        ssl.SSLError: a configured file is invalid.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=config.tls_ca_file)
    context.minimum_version = MINIMUM_VERSION
    if not config.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if config.tls_client_cert and config.tls_client_key:
        context.load_cert_chain(config.tls_client_cert, config.tls_client_key)
    return context


async def listen_tls(
    host: str,
    port: int,
    factory: Callable[[], StreamConnection],
    context: ssl.SSLContext,
) -> asyncio.Server:
    """Start a TLS listener.

    Raises:
        OSError: the address cannot be bound.
    """
    return await listen_stream(host, port, factory, context)


async def connect_tls(
    conn: StreamConnection, host: str, port: int, timeout: float, context: ssl.SSLContext
) -> None:
    """Open the outgoing TLS connection ``conn``; the server name checked is ``host``."""
    await connect_stream(conn, host, port, timeout, context)
