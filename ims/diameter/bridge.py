"""Where python-diameter's threads meet our handlers (RFC 6733 §6.2 answers; TS 29.229 §6.2).

Theory of operation
-------------------
python-diameter's Node reads requests on its own thread. A
:class:`HandlerApplication` hands each one to a fixed pool of worker threads
(``workers``, from :attr:`ims.diameter.node.NodeSettings.request_workers`)
through one queue; a worker calls the synchronous handler and sends the
answer itself. (The library's ``ThreadingApplication`` starts a thread per
request and passes every message through two more queues and consumer
threads: 0.5 ms of CPU per answer, measured in ``bench/README.md``.) The HSS
handlers are synchronous and talk only to :class:`hss.store.Store`, which is
thread-safe (one SQLAlchemy engine with a connection pool at least as large
as the worker pool; every call is its own transaction), so no asyncio loop
sits on this path and nothing here calls ``run_coroutine_threadsafe``.
Should a handler ever need the event loop (the CSCFs' outgoing requests),
it belongs here too: ``loop.run_in_executor`` around ``send_request`` out,
``run_coroutine_threadsafe`` in.

A handler is ``Callable[[Message], Message]``: it reads the request, decides
and builds the answer (parse → decide → build). The bridge adds the two
answers a handler cannot build itself:

* a command the application has no handler for: base Result-Code 3001
  DIAMETER_COMMAND_UNSUPPORTED with the E bit (RFC 6733 §7.1.3);
* a request the handler's reader refused (:class:`AvpError`): the base
  Result-Code it carries, 5005 DIAMETER_MISSING_AVP or 5004
  DIAMETER_INVALID_AVP_VALUE (RFC 6733 §7.1.5), with the missing AVP named
  in Error-Message.

Anything else a handler raises is logged with its traceback and answered
5012 DIAMETER_UNABLE_TO_COMPLY, as the library's ``ThreadingApplication``
does; the HSS handlers already map store failures to 5012 themselves, so
that path is a last resort for bugs.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping

from diameter.message import Message, constants
from diameter.node.application import Application
from diameter.node.node import NotRoutable

from .results import Answer, AvpError, Result, ResultCode, fill_answer, session_id

logger = logging.getLogger(__name__)

#: A request handler: the request in, its answer out (called in a library thread).
Handler = Callable[[Message], Message]


#: Worker threads per application when the settings do not say.
DEFAULT_WORKERS = 8
#: Seconds :meth:`HandlerApplication.stop` waits for each worker.
STOP_JOIN = 2.0


class HandlerApplication(Application):  # type: ignore[misc]
    """An auth application whose requests are answered by per-command handlers.

    Args:
        application_id: the Diameter application (Cx, Sh, S6a ...).
        handlers: command code → handler.
        workers: threads answering requests (at least 1).
    """

    def __init__(self, application_id: int, handlers: Mapping[int, Handler],
                 workers: int = DEFAULT_WORKERS) -> None:
        super().__init__(application_id, is_auth_application=True)
        self._handlers = dict(handlers)
        self._workers = max(1, workers)
        self._requests: queue.SimpleQueue[Message | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def receive_request(self, message: Message) -> None:
        """Queue ``message`` for a worker (called on the Node's thread)."""
        self._requests.put(message)

    def start(self) -> None:
        """Start the worker threads (the Node calls this when the application is added)."""
        for number in range(self._workers - len(self._threads)):
            thread = threading.Thread(target=self._work, daemon=True,
                                      name=f"diameter-{self.application_id}-{number}")
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Let every worker finish its request and exit (the Node calls this when stopping)."""
        for _ in self._threads:
            self._requests.put(None)
        for thread in self._threads:
            thread.join(STOP_JOIN)
        self._threads = []

    def _work(self) -> None:
        while (message := self._requests.get()) is not None:
            answer = self._answer(message)
            try:
                self.send_answer(answer)
            except NotRoutable as exc:
                logger.warning("answer to command %d not sent: %s",
                               message.header.command_code, exc)

    def _answer(self, message: Message) -> Message:
        try:
            return self.handle_request(message)
        except Exception:
            logger.exception("handler for command %d failed", message.header.command_code)
            answer: Message = self.generate_answer(
                message, result_code=constants.E_RESULT_CODE_DIAMETER_UNABLE_TO_COMPLY)
            return answer

    @property
    def commands(self) -> tuple[int, ...]:
        """The command codes this application answers."""
        return tuple(sorted(self._handlers))

    def handle_request(self, message: Message) -> Message:
        """Answer ``message`` (runs in one of the pool's worker threads)."""
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
