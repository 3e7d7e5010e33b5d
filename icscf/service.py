"""The I-CSCF's async route hook: Cx queries around the pure decisions.

Thin orchestration (TS 24.229 §5.3): :mod:`icscf.router` says which query a
request needs and what its answer means; this module makes the query
through an injected :class:`~icscf.router.CxPort`, bounded by a timeout so a
silent HSS gives a 504 instead of a hung transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from ims.diameter.node import DiameterTimeout, DiameterUnreachable
from ims.diameter.results import AvpError
from ims.sip.errors import SipError
from ims.sip.message import Request, Response, make_response
from ims.sip.proxy import Target

from . import router
from .scscf_select import ScscfCandidate

T = TypeVar("T")

#: Exceptions meaning "no usable answer from the HSS", and what each means.
_FAILURES: tuple[tuple[type[BaseException], router.CxFailure], ...] = (
    (TimeoutError, router.CxFailure.TIMEOUT),
    (DiameterTimeout, router.CxFailure.TIMEOUT),
    (DiameterUnreachable, router.CxFailure.UNREACHABLE),
    (ConnectionError, router.CxFailure.UNREACHABLE),
    (AvpError, router.CxFailure.BAD_ANSWER),
)


class CxFailed(Exception):
    """A Cx query gave no usable answer."""

    def __init__(self, failure: router.CxFailure) -> None:
        super().__init__(failure.value)
        self.failure = failure

logger = logging.getLogger(__name__)


class IcscfRouting:
    """``route_hook`` of the I-CSCF's :class:`~ims.runtime.proxy_service.ProxyService`.

    Args:
        cx: the Cx client (UAR, LIR).
        candidates: the configured S-CSCFs with their capabilities.
        home_network: Visited-Network-Identifier when the request has none.
        timeout: seconds to wait for the HSS before answering 504.
    """

    def __init__(self, cx: router.CxPort, candidates: Sequence[ScscfCandidate],
                 home_network: str, timeout: float = 5.0) -> None:
        self.cx = cx
        self.candidates = tuple(candidates)
        self.home_network = home_network
        self.timeout = timeout
        self.counters: dict[str, int] = {"uar_sent": 0, "lir_sent": 0, "cx_failures": 0}

    async def __call__(self, req: Request) -> Target | Response | None:
        """Decide where ``req`` goes (None: the proxy's default routing)."""
        try:
            if req.method == "REGISTER":
                return await self.register(req)
            if router.needs_location_query(req):
                return await self.terminating(req)
        except SipError as err:
            return make_response(req, err.status_hint, err.reason)
        return None

    async def register(self, req: Request) -> Target | Response:
        """UAR, then forward to the S-CSCF (TS 24.229 §5.3.1.2)."""
        q = router.uar_query(req, self.home_network)
        self.counters["uar_sent"] += 1
        try:
            uaa = await self._ask(self.cx.uar(q.user_name, q.public_identity, q.visited_network,
                                              q.authorization_type))
        except CxFailed as failed:
            return self._failed(req, failed.failure)
        return router.registration_decision(req, uaa, self.candidates)

    async def terminating(self, req: Request) -> Target | Response:
        """LIR, then forward to the serving S-CSCF (TS 24.229 §5.3.2.1)."""
        query = router.lir_query(req)
        self.counters["lir_sent"] += 1
        try:
            lia = await self._ask(self.cx.lir(query.public_identity))
        except CxFailed as failed:
            return self._failed(req, failed.failure)
        return router.location_decision(req, lia, self.candidates)

    async def _ask(self, query: Awaitable[T]) -> T:
        """Await ``query`` within the timeout; failures become :class:`CxFailed`."""
        try:
            return await asyncio.wait_for(query, self.timeout)
        except Exception as exc:
            for kind, failure in _FAILURES:
                if isinstance(exc, kind):
                    raise CxFailed(failure) from exc
            raise

    def _failed(self, req: Request, failure: router.CxFailure) -> Response:
        self.counters["cx_failures"] += 1
        logger.warning("Cx query for %s %s failed: %s", req.method, req.uri_text, failure.value)
        return router.failure_response(req, failure)
