"""Where python-diameter's threads meet our handlers (RFC 6733 §6.2 answers; TS 29.229 §6.2).

Theory of operation
-------------------
python-diameter delivers each received request on its own threads. For
the HSS, the chosen path is the simplest one: a :class:`HandlerApplication`
(a library ``ThreadingApplication``) calls a synchronous handler directly in
the request's worker thread and returns its answer. The HSS handlers are
synchronous and talk only to :class:`hss.store.Store`, which is thread-safe
(one SQLAlchemy engine with a connection pool; every call is its own
transaction), so no asyncio loop sits on this path and nothing here calls
``run_coroutine_threadsafe``. Should a handler ever need the event loop
(the CSCFs' outgoing requests), it belongs here too: ``loop.run_in_executor``
around ``send_request`` out, ``run_coroutine_threadsafe`` in.

A handler is ``Callable[[Message], Message]``: it reads the request, decides
and builds the answer (parse → decide → build). The bridge adds the two
answers a handler cannot build itself:

* a command the application has no handler for: base Result-Code 3001
  DIAMETER_COMMAND_UNSUPPORTED with the E bit (RFC 6733 §7.1.3);
* a request the handler's reader refused (:class:`AvpError`): the base
  Result-Code it carries, 5005 DIAMETER_MISSING_AVP or 5004
  DIAMETER_INVALID_AVP_VALUE (RFC 6733 §7.1.5), with the missing AVP named
  in Error-Message.

Anything else a handler raises is left to the library, which logs it and
answers 5012 DIAMETER_UNABLE_TO_COMPLY; the HSS handlers already map store
failures to 5012 themselves, so that path is a last resort for bugs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from diameter.message import Message
from diameter.node.application import ThreadingApplication

from .results import Answer, AvpError, Result, ResultCode, fill_answer, session_id

logger = logging.getLogger(__name__)

#: A request handler: the request in, its answer out (called in a library thread).
Handler = Callable[[Message], Message]


class HandlerApplication(ThreadingApplication):  # type: ignore[misc]
    """An auth application whose requests are answered by per-command handlers.

    Args:
        application_id: the Diameter application (Cx, Sh, S6a ...).
        handlers: command code → handler.
    """

    def __init__(self, application_id: int, handlers: Mapping[int, Handler]) -> None:
        super().__init__(application_id, is_auth_application=True)
        self._handlers = dict(handlers)

    @property
    def commands(self) -> tuple[int, ...]:
        """The command codes this application answers."""
        return tuple(sorted(self._handlers))

    def handle_request(self, message: Message) -> Message:
        """Answer ``message`` (runs in a worker thread of the library)."""
        handler = self._handlers.get(message.header.command_code)
        if handler is None:
            return self._error_answer(message, ResultCode.DIAMETER_COMMAND_UNSUPPORTED,
                                      "command not supported")
        try:
            return handler(message)
        except AvpError as exc:
            logger.info("refusing command %d: %s", message.header.command_code, exc)
            return self._error_answer(message, exc.result_hint, exc.avp)

    def _error_answer(self, request: Message, code: ResultCode, text: str) -> Message:
        """An answer carrying only the envelope and a base Result-Code."""
        answer = request.to_answer()
        origin = (self.node.origin_host, self.node.realm_name)
        if not hasattr(answer, "session_id"):  # a command class the library lacks
            answer = self.generate_answer(request, int(code), text)
            answer.header.is_error = 3000 <= int(code) < 4000
            return answer
        try:
            sid = session_id(request)
        except AvpError:
            sid = ""
        fill_answer(answer, request, Answer(sid, *origin, Result(int(code))))
        if sid == "":
            answer.session_id = None
        answer.error_message = text
        return answer
