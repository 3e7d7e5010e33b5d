"""A CSCF's Diameter client of the HSS: Cx over one python-diameter node (TS 29.229 §6).

Theory of operation
-------------------
:class:`DiameterClient` is a client-only :class:`~ims.diameter.node.DiameterNode`
(no listener) configured with the HSS as its one persistent peer; the
library runs CER/CEA, DWR/DWA and reconnection itself. Two directions meet
asyncio here, as ``bridge.py`` describes:

* out: :meth:`DiameterClient.request` runs the node's blocking
  ``send_request`` in the loop's executor, so a slow HSS never blocks the
  event loop; the library's timeout becomes :class:`DiameterTimeout` and a
  missing ready peer :class:`DiameterUnreachable`;
* in: the HSS's RTR and PPR (TS 29.229 §6.1.9, §6.1.11) reach a library
  worker thread, which hands them to the coroutine registered with
  :meth:`DiameterClient.on_request` through ``run_coroutine_threadsafe``
  and waits (bounded) for its answer. No handler, or no answer in time,
  raises in the worker thread and the library answers 5012.

:class:`CxClient` is the typed side: :class:`CxPort` methods taking plain
values and returning the ``read_*`` dataclasses of :mod:`ims.diameter.cx`,
so the CSCF orchestrators never see a Diameter message and are tested with
a fake port. :func:`serve_cx` reads incoming RTR/PPR and builds RTA/PPA
around two plain callbacks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from diameter.message import Message
from diameter.node.application import EmptyAnswer

from . import cx
from .node import (
    APP_CX,
    DiameterNode,
    DiameterTimeout,
    DiameterUnreachable,
    NodeSettings,
    PeerSettings,
    PeerState,
)
from .results import Answer, Envelope, Result

__all__ = [
    "CMD_PPR", "CMD_RTR", "ClientSettings", "CxClient", "CxPort", "DiameterClient",
    "DiameterTimeout", "DiameterUnreachable", "serve_cx",
]

logger = logging.getLogger(__name__)

#: Command codes of the requests the HSS sends us (TS 29.229 §6.1.9, §6.1.11).
CMD_RTR = 304
CMD_PPR = 305

#: An incoming request handler run on the event loop: request in, answer out.
AsyncHandler = Callable[[Message], Coroutine[Any, Any, Message]]


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Our identity and the HSS we connect to."""

    identity: str
    """Our DiameterIdentity (Origin-Host)."""
    realm: str
    """Our realm (Origin-Realm)."""
    hss_identity: str
    """The HSS's DiameterIdentity (Destination-Host)."""
    hss_realm: str
    """The HSS's realm (Destination-Realm)."""
    hss_address: str
    """Address to connect to."""
    hss_port: int = 3868
    """TCP port to connect to."""
    timeout: float = 5.0
    """Seconds to wait for an answer to each request (RFC 6733 Tx)."""
    watchdog_interval: int = 30
    """Idle seconds before a DWR (RFC 6733 Tw)."""


class DiameterClient:
    """A client-only Cx node connected to the HSS (see the module docstring)."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self._incoming: dict[int, AsyncHandler] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        peer = PeerSettings(settings.hss_identity, settings.hss_realm, settings.hss_address,
                            settings.hss_port, connect=True)
        node_settings = NodeSettings(
            identity=settings.identity, realm=settings.realm, listen_host=None, listen_port=0,
            applications=(APP_CX,), peers=(peer,),
            watchdog_interval=settings.watchdog_interval,
        )
        table = {code: partial(self._dispatch, code) for code in (CMD_RTR, CMD_PPR)}
        self.node = DiameterNode(node_settings, {APP_CX: table})

    def on_request(self, command_code: int, handler: AsyncHandler) -> None:
        """Answer incoming requests of ``command_code`` with ``handler`` (on the loop)."""
        self._incoming[command_code] = handler

    async def start(self) -> None:
        """Start the node's threads; it connects to the HSS and keeps reconnecting."""
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self.node.start)

    async def stop(self) -> None:
        """DPR to the HSS and close (blocking work off the loop)."""
        await asyncio.to_thread(self.node.stop)
        self._loop = None

    def peers(self) -> list[PeerState]:
        """The HSS peer and its state."""
        return self.node.peers()

    def counters(self) -> dict[str, int]:
        """Messages sent and received per command."""
        return self.node.counters()

    async def request(self, message: Message, timeout: float | None = None) -> Message:
        """Send ``message`` to the HSS and return its answer.

        Raises:
            DiameterTimeout: no answer within ``timeout`` (default: the settings').
            DiameterUnreachable: no ready connection to the HSS.
        """
        wait = self.settings.timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                None, self.node.send_request, APP_CX, message, wait)
        except EmptyAnswer as exc:
            raise DiameterTimeout("empty answer") from exc

    def _dispatch(self, command_code: int, message: Message) -> Message:
        """Run the registered coroutine for ``message`` (in a library worker thread)."""
        handler = self._incoming.get(command_code)
        loop = self._loop
        if handler is None or loop is None:
            raise LookupError(f"no handler for command {command_code}")
        future: concurrent.futures.Future[Message] = asyncio.run_coroutine_threadsafe(
            handler(message), loop)
        try:
            return future.result(timeout=self.settings.timeout)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise DiameterTimeout(f"command {command_code} not answered in time") from exc


class CxPort(Protocol):
    """The Cx requests a CSCF sends (TS 29.228 §6); each returns the read answer.

    Every method raises :class:`DiameterTimeout` or :class:`DiameterUnreachable`
    when the HSS does not answer, and ``AvpError`` for an unreadable answer.
    """

    async def mar(self, impi: str, impu: str, server_name: str, items: int = 1,
                  resync: tuple[bytes, bytes] | None = None) -> cx.Maa:
        """Multimedia-Auth (TS 29.228 §6.3); ``resync`` is (RAND, AUTS)."""
        ...

    async def sar(self, impi: str | None, impus: tuple[str, ...], server_name: str,
                  assignment_type: cx.ServerAssignmentType,
                  user_data_already_available: cx.UserDataAlreadyAvailable = (
                      cx.UserDataAlreadyAvailable.USER_DATA_NOT_AVAILABLE)) -> cx.Saa:
        """Server-Assignment (TS 29.228 §6.1.2)."""
        ...

    async def lir(self, impu: str) -> cx.Lia:
        """Location-Info (TS 29.228 §6.1.4)."""
        ...

    async def uar(self, impi: str, impu: str, visited_network: str,
                  authorization_type: cx.UserAuthorizationType = (
                      cx.UserAuthorizationType.REGISTRATION)) -> cx.Uaa:
        """User-Authorization (TS 29.228 §6.1.1)."""
        ...


class CxClient:
    """:class:`CxPort` over a :class:`DiameterClient`."""

    def __init__(self, client: DiameterClient) -> None:
        self.client = client
        self._ids = itertools.count(1)
        self._boot = int(time.time())

    def envelope(self) -> Envelope:
        """A fresh Session-Id and our routing AVPs (RFC 6733 §8.8)."""
        s = self.client.settings
        sid = f"{s.identity};{self._boot};{next(self._ids)}"
        return Envelope(sid, s.identity, s.realm, s.hss_realm, s.hss_identity)

    async def mar(self, impi: str, impu: str, server_name: str, items: int = 1,
                  resync: tuple[bytes, bytes] | None = None) -> cx.Maa:
        data = (cx.AuthDataItem(cx.AuthScheme.UNKNOWN) if resync is None
                else cx.resync_item(*resync))
        mar = cx.Mar(self.envelope(), impi, impu, server_name, data, items)
        return cx.read_maa(await self.client.request(cx.build_mar(mar)))

    async def sar(self, impi: str | None, impus: tuple[str, ...], server_name: str,
                  assignment_type: cx.ServerAssignmentType,
                  user_data_already_available: cx.UserDataAlreadyAvailable = (
                      cx.UserDataAlreadyAvailable.USER_DATA_NOT_AVAILABLE)) -> cx.Saa:
        sar = cx.Sar(self.envelope(), server_name, assignment_type, impus, impi,
                     user_data_already_available)
        return cx.read_saa(await self.client.request(cx.build_sar(sar)))

    async def lir(self, impu: str) -> cx.Lia:
        return cx.read_lia(await self.client.request(cx.build_lir(cx.Lir(self.envelope(), impu))))

    async def uar(self, impi: str, impu: str, visited_network: str,
                  authorization_type: cx.UserAuthorizationType = (
                      cx.UserAuthorizationType.REGISTRATION)) -> cx.Uaa:
        uar = cx.Uar(self.envelope(), impi, impu, visited_network, authorization_type)
        return cx.read_uaa(await self.client.request(cx.build_uar(uar)))


#: What the S-CSCF does with an RTR / PPR: the Result of the answer.
RtrCallback = Callable[[cx.Rtr], Awaitable[Result]]
PprCallback = Callable[[cx.Ppr], Awaitable[Result]]


def serve_cx(client: DiameterClient, on_rtr: RtrCallback, on_ppr: PprCallback) -> None:
    """Answer the HSS's RTR and PPR with ``on_rtr``/``on_ppr`` (TS 29.229 §6.1.10, §6.1.12).

    A request missing a mandatory AVP raises ``AvpError`` from its reader,
    which the bridge answers 5005/5004.
    """
    s = client.settings

    async def rtr(message: Message) -> Message:
        request = cx.read_rtr(message)
        result = await on_rtr(request)
        answer = Answer(request.envelope.session_id, s.identity, s.realm, result)
        return cx.build_rta(message, cx.Rta(answer))

    async def ppr(message: Message) -> Message:
        request = cx.read_ppr(message)
        result = await on_ppr(request)
        answer = Answer(request.envelope.session_id, s.identity, s.realm, result)
        return cx.build_ppa(message, cx.Ppa(answer))

    client.on_request(CMD_RTR, rtr)
    client.on_request(CMD_PPR, ppr)
