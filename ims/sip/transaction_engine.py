"""The engine of the RFC 3261 §17 / RFC 6026 §7 transaction machines.

What the four machines share: the transition-table lookup, entering a state
(cancelling and arming the timers that live there, RFC 3261 Table 4) and the
effects common to client and server (retransmit, deliver, time out, report a
transport error, §17.1.4, §17.2.4). The theory of operation is in
:mod:`ims.sip.transaction`; the tables are in :mod:`ims.sip.transaction_tables`;
the client and server machines are in :mod:`ims.sip.transaction_client` and
:mod:`ims.sip.transaction_server`. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from ims.sip.errors import SipError
from ims.sip.events import (
    Action,
    CancelTimer,
    Deliver,
    Peer,
    Send,
    StartTimer,
    Terminated,
    Timeout,
    TransportError,
)
from ims.sip.message import Request, Response
from ims.sip.retained import retained_request, retained_response
from ims.sip.transaction_keys import TransactionKey
from ims.sip.transaction_tables import (
    DEFAULT_TIMERS,
    RETRANSMISSION_TIMERS,
    Effect,
    Event,
    State,
    Table,
    Timers,
    Transition,
)


class TransactionStateError(SipError):
    """An input that the machine does not accept in its current state.

    Raised by the machines for a pair missing from their transition table:
    a bug in the driver or the TU, never a reaction to network input that
    the RFC allows. The machine is left unchanged. ``status_hint`` is 500.

    Attributes:
        state: the state the machine was in.
        event: the rejected input.
    """

    def __init__(self, state: State, event: Event, machine: str = "transaction",
                 detail: str = "") -> None:
        text = f"{machine} cannot handle {event.value!r} in state {state.name}"
        super().__init__(f"{text}: {detail}" if detail else text, 500)
        self.state = state
        self.event = event


@dataclass(frozen=True, slots=True)
class MachineInput:
    """One classified input as an effect handler sees it."""

    event: Event
    message: Request | Response | None
    now: float


#: An effect handler: the actions of one transition's effect.
Handler = Callable[[MachineInput], list[Action]]


class TransactionMachine:
    """What the four machines share: table lookup, state entry, timers.

    Subclasses set ``TRANSITIONS``, ``STATE_TIMERS`` and ``INITIAL_STATE``
    and add their inputs and effects (see ims.sip.transaction_client and
    ims.sip.transaction_server).
    """

    TRANSITIONS: ClassVar[Table]
    STATE_TIMERS: ClassVar[Mapping[State, tuple[str, ...]]]
    INITIAL_STATE: ClassVar[State]

    def __init__(self, request: Request, peer: Peer, *, timers: Timers = DEFAULT_TIMERS) -> None:
        self.request = request
        self.peer = peer
        self.timers = timers
        self.key: TransactionKey = self._make_key(request)
        self.state = self.INITIAL_STATE
        self.last_response: Response | None = None
        self._armed: dict[str, float] = {}
        self._interval = timers.t1
        self._started = False

    def _make_key(self, request: Request) -> TransactionKey:
        raise NotImplementedError

    @property
    def armed_timers(self) -> dict[str, float]:
        """The armed timers: letter -> absolute deadline (a copy)."""
        return dict(self._armed)

    def handle_timer(self, name: str, now: float) -> list[Action]:
        """Timer ``name`` fired at ``now`` (RFC 3261 §17 timer rules).

        Raises:
            ValueError: ``name`` is not a transaction timer letter.
            TransactionStateError: the timer is not armed (it was cancelled,
                or never started), or the state has no rule for it.
        """
        event = _timer_event(name)
        if name not in self._armed:
            raise self._error(event, f"Timer {name} is not armed")
        self._lookup(event)
        del self._armed[name]
        return self._fire(event, now)

    def transport_error(self, now: float) -> list[Action]:
        """The transport failed to send for this transaction (§17.1.4, §17.2.4).

        Returns TransportError for the TU and Terminated.
        """
        return self._fire(Event.TRANSPORT_ERROR, now)

    # -- the engine -------------------------------------------------------
    def _error(self, event: Event, detail: str = "") -> TransactionStateError:
        return TransactionStateError(self.state, event, type(self).__name__, detail)

    def _lookup(self, event: Event) -> Transition:
        if not self._started and event is not Event.START:
            raise self._error(event, "the transaction has not been started")
        if self._started and event is Event.START:
            raise self._error(event, "the transaction was already started")
        transition = self.TRANSITIONS.get(self.state, {}).get(event)
        if transition is None:
            raise self._error(event)
        return transition

    def _fire(
        self, event: Event, now: float, message: Request | Response | None = None
    ) -> list[Action]:
        transition = self._lookup(event)
        actions = self._handlers()[transition.effect](MachineInput(event, message, now))
        if transition.target is not self.state or event is Event.START:
            actions += self._enter(transition.target, now)
        return actions

    def _enter(self, state: State, now: float) -> list[Action]:
        """Move to ``state``: cancel the timers that do not live there, arm those that do."""
        self.state = state
        keep = self.STATE_TIMERS.get(state, ())
        actions: list[Action] = []
        for name in [n for n in self._armed if n not in keep]:
            del self._armed[name]
            actions.append(CancelTimer(name))
        if state is State.TERMINATED:
            return [*actions, Terminated(self.key)]
        for name in keep:
            if name not in self._armed and self.state is state:
                actions += self._arm(name, now)
        return actions

    def _arm(self, name: str, now: float) -> list[Action]:
        duration = self.timers.duration(name, self.peer.reliable)
        if duration is None:
            return []
        if duration <= 0:
            # Table 4: zero on a reliable transport; the timer fires at once.
            return self._fire(_timer_event(name), now)
        if name in RETRANSMISSION_TIMERS:
            self._interval = duration
        self._armed[name] = now + duration
        return [StartTimer(name, now + duration)]

    # -- effects ----------------------------------------------------------
    def _handlers(self) -> dict[Effect, Handler]:
        return {
            Effect.NONE: _nothing,
            Effect.RETRANSMIT: self._retransmit,
            Effect.DELIVER: self._deliver,
            Effect.TIME_OUT: _time_out,
            Effect.REPORT_TRANSPORT_ERROR: self._report_transport_error,
        }

    def _retransmitted(self) -> Request | Response | None:
        raise NotImplementedError

    def _retransmit(self, inp: MachineInput) -> list[Action]:
        """Timers A, E, G: send again and re-arm (§17.1.1.2, §17.1.2.2, §17.2.1)."""
        name = inp.event.timer
        if name == "A":
            self._interval *= 2
        elif self.state is State.PROCEEDING:
            self._interval = self.timers.t2
        else:
            self._interval = min(2 * self._interval, self.timers.t2)
        self._armed[name] = inp.now + self._interval
        message = self._retransmitted()
        sent: list[Action] = [] if message is None else [Send(message, self.peer)]
        return [*sent, StartTimer(name, inp.now + self._interval)]

    def _deliver(self, inp: MachineInput) -> list[Action]:
        message = _required(inp.message)
        if isinstance(message, Response):
            self._keep_response(message)
        return [Deliver(message)]

    def _keep_response(self, resp: Response) -> None:
        """Remember ``resp``; after a final one, drop the parsed messages (see ims.sip.retained)."""
        if resp.status < 200:
            self.last_response = resp
            return
        self.last_response = retained_response(resp, resend=False)
        self.request = retained_request(self.request)

    def _report_transport_error(self, inp: MachineInput) -> list[Action]:
        peer = self.peer
        return [TransportError(
            f"cannot send {self.request.method} transaction message to "
            f"{peer.transport}:{peer.host}:{peer.port} in state {self.state.name}"
        )]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.request.method} {self.state.name} {self.key}>"


def _nothing(inp: MachineInput) -> list[Action]:
    return []


def _time_out(inp: MachineInput) -> list[Action]:
    return [Timeout(inp.event.timer)]


def _required(message: Request | Response | None) -> Request | Response:
    if message is None:
        raise TypeError("this effect needs a message")
    return message


def expect_response(message: Request | Response | None) -> Response:
    """The input's message, which this effect needs to be a response."""
    if not isinstance(message, Response):
        raise TypeError("this effect needs a response")
    return message


def _timer_event(name: str) -> Event:
    event = Event.__members__.get(f"TIMER_{name}")
    if event is None:
        raise ValueError(f"no transaction timer {name!r}")
    return event


def by_status(status: int, events: tuple[Event, Event, Event]) -> Event:
    """Classify a status code: 1xx, 2xx or 300-699 (RFC 3261 §7.2)."""
    if 100 <= status <= 199:
        return events[0]
    if 200 <= status <= 299:
        return events[1]
    if 300 <= status <= 699:
        return events[2]
    raise ValueError(f"status code {status} out of range 100-699")


#: Events of a response from the transport / from the TU, by status class.
RECEIVED = (Event.RECV_1XX, Event.RECV_2XX, Event.RECV_3XX_6XX)
SENT = (Event.SEND_1XX, Event.SEND_2XX, Event.SEND_3XX_6XX)
