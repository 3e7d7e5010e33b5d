"""The RFC 3261 §17 / RFC 6026 §7 transaction machines as data.

States, inputs (events), effects, the timer values of RFC 3261 Table 4 and
one transition table per machine, transcribed from the RFC figures. The
engine that runs them is :mod:`ims.sip.transaction_engine`; the theory of
operation is in :mod:`ims.sip.transaction`, which re-exports the public names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

#: RFC 3261 §17.1.1.1, Table 4: RTT estimate, the first retransmission interval.
T1 = 0.5
#: RFC 3261 §17.1.2.2: the longest retransmission interval for non-INVITE
#: requests and INVITE responses.
T2 = 4.0
#: RFC 3261 §17.1.2.2: the longest time a message stays in the network.
T4 = 5.0
#: RFC 3261 §17.1.1.2: Timer D is "at least 32 seconds" on unreliable transports.
TIMER_D = 32.0

#: Timers that retransmit; never armed on a reliable transport (§17.1.1.2,
#: §17.1.2.2, §17.2.1).
RETRANSMISSION_TIMERS = frozenset({"A", "E", "G"})
#: Timers that absorb retransmissions; zero on a reliable transport (Table 4).
ZERO_ON_RELIABLE = frozenset({"D", "I", "J", "K"})


@dataclass(frozen=True, slots=True)
class Timers:
    """The timer base values of one transaction (RFC 3261 §17, Table 4)."""

    t1: float = T1
    """RTT estimate: first interval of Timers A, E and G; 64*T1 bounds a transaction."""
    t2: float = T2
    """Cap on the Timer E and G intervals."""
    t4: float = T4
    """Maximum message lifetime: Timers I and K on unreliable transports."""
    d: float = TIMER_D
    """Timer D on unreliable transports (at least 32 s, §17.1.1.2)."""

    def duration(self, name: str, reliable: bool) -> float | None:
        """The initial duration of timer ``name`` (RFC 3261 Table 4; RFC 6026 §7).

        Args:
            name: the timer letter, ``"A"`` .. ``"M"`` (C is the proxy's).
            reliable: whether the transport is reliable (TCP, TLS, SCTP).

        Returns:
            Seconds, ``0.0`` for a timer that fires at once, or ``None`` for
            a retransmission timer that is not used on a reliable transport.

        Raises:
            ValueError: for a letter that is not a transaction timer.
        """
        if reliable and name in RETRANSMISSION_TIMERS:
            return None
        if reliable and name in ZERO_ON_RELIABLE:
            return 0.0
        bound = 64 * self.t1
        values = {"A": self.t1, "B": bound, "D": self.d, "E": self.t1, "F": bound,
                  "G": self.t1, "H": bound, "I": self.t4, "J": bound, "K": self.t4,
                  "L": bound, "M": bound}
        if name not in values:
            raise ValueError(f"no transaction timer {name!r}")
        return values[name]


DEFAULT_TIMERS = Timers()


class State(Enum):
    """Transaction states, named as in RFC 3261 §17 and RFC 6026 §7."""

    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class Event(Enum):
    """The inputs of the machines, as the RFC figures label their arrows."""

    START = "request from TU"
    RECV_1XX = "1xx from transport"
    RECV_2XX = "2xx from transport"
    RECV_3XX_6XX = "300-699 from transport"
    RECV_REQUEST = "request retransmission from transport"
    RECV_ACK = "ACK from transport"
    SEND_1XX = "1xx from TU"
    SEND_2XX = "2xx from TU"
    SEND_3XX_6XX = "300-699 from TU"
    TIMER_A = "Timer A fires"
    TIMER_B = "Timer B fires"
    TIMER_D = "Timer D fires"
    TIMER_E = "Timer E fires"
    TIMER_F = "Timer F fires"
    TIMER_G = "Timer G fires"
    TIMER_H = "Timer H fires"
    TIMER_I = "Timer I fires"
    TIMER_J = "Timer J fires"
    TIMER_K = "Timer K fires"
    TIMER_L = "Timer L fires"
    TIMER_M = "Timer M fires"
    TRANSPORT_ERROR = "transport error"

    @property
    def timer(self) -> str:
        """The timer letter of a ``TIMER_*`` event (``""`` for other events)."""
        return self.name[-1] if self.name.startswith("TIMER_") else ""


class Effect(Enum):
    """What a transition does besides changing state and timers."""

    NONE = "nothing (absorbed)"
    SEND_REQUEST = "send the request"
    RETRANSMIT = "retransmit and re-arm the timer"
    DELIVER = "pass the message to the TU"
    ACK_AND_DELIVER = "pass the response to the TU and send the ACK"
    RESEND_ACK = "send the ACK again"
    SEND_RESPONSE = "send the TU's response"
    RESEND_RESPONSE = "send the last response again"
    TIME_OUT = "inform the TU of a timeout"
    REPORT_TRANSPORT_ERROR = "inform the TU of a transport error"


class Transition(NamedTuple):
    """One arrow of a machine: the state it leads to and its effect."""

    target: State
    effect: Effect


Table = Mapping[State, Mapping[Event, Transition]]
Row = tuple[State, Event, State, Effect]


def _table(*rows: Row) -> Table:
    """Build a transition table from (state, event, target, effect) rows.

    Every state that appears, except Terminated, also accepts a transport
    error: it reports it to the TU and terminates (§17.1.4, §17.2.4).
    """
    table: dict[State, dict[Event, Transition]] = {State.TERMINATED: {}}
    for state, event, target, effect in rows:
        table.setdefault(state, {})[event] = Transition(target, effect)
    for state, events in table.items():
        if state is not State.TERMINATED:
            events[Event.TRANSPORT_ERROR] = Transition(
                State.TERMINATED, Effect.REPORT_TRANSPORT_ERROR)
    return table


_S, _E, _X = State, Event, Effect

# RFC 3261 §17.1.1.2 Figure 5, with RFC 6026 §7.2 Figure 4 (Accepted, Timer M).
CLIENT_INVITE_TRANSITIONS = _table(
    (_S.CALLING, _E.START, _S.CALLING, _X.SEND_REQUEST),
    (_S.CALLING, _E.TIMER_A, _S.CALLING, _X.RETRANSMIT),
    (_S.CALLING, _E.TIMER_B, _S.TERMINATED, _X.TIME_OUT),
    (_S.CALLING, _E.RECV_1XX, _S.PROCEEDING, _X.DELIVER),
    (_S.CALLING, _E.RECV_2XX, _S.ACCEPTED, _X.DELIVER),
    (_S.CALLING, _E.RECV_3XX_6XX, _S.COMPLETED, _X.ACK_AND_DELIVER),
    (_S.PROCEEDING, _E.RECV_1XX, _S.PROCEEDING, _X.DELIVER),
    (_S.PROCEEDING, _E.RECV_2XX, _S.ACCEPTED, _X.DELIVER),
    (_S.PROCEEDING, _E.RECV_3XX_6XX, _S.COMPLETED, _X.ACK_AND_DELIVER),
    (_S.COMPLETED, _E.RECV_1XX, _S.COMPLETED, _X.NONE),
    (_S.COMPLETED, _E.RECV_2XX, _S.COMPLETED, _X.NONE),
    (_S.COMPLETED, _E.RECV_3XX_6XX, _S.COMPLETED, _X.RESEND_ACK),
    (_S.COMPLETED, _E.TIMER_D, _S.TERMINATED, _X.NONE),
    (_S.ACCEPTED, _E.RECV_1XX, _S.ACCEPTED, _X.NONE),
    (_S.ACCEPTED, _E.RECV_2XX, _S.ACCEPTED, _X.DELIVER),
    (_S.ACCEPTED, _E.RECV_3XX_6XX, _S.ACCEPTED, _X.NONE),
    (_S.ACCEPTED, _E.TIMER_M, _S.TERMINATED, _X.NONE),
)

# RFC 3261 §17.1.2.2 Figure 6.
CLIENT_NON_INVITE_TRANSITIONS = _table(
    (_S.TRYING, _E.START, _S.TRYING, _X.SEND_REQUEST),
    (_S.TRYING, _E.TIMER_E, _S.TRYING, _X.RETRANSMIT),
    (_S.TRYING, _E.TIMER_F, _S.TERMINATED, _X.TIME_OUT),
    (_S.TRYING, _E.RECV_1XX, _S.PROCEEDING, _X.DELIVER),
    (_S.TRYING, _E.RECV_2XX, _S.COMPLETED, _X.DELIVER),
    (_S.TRYING, _E.RECV_3XX_6XX, _S.COMPLETED, _X.DELIVER),
    (_S.PROCEEDING, _E.TIMER_E, _S.PROCEEDING, _X.RETRANSMIT),
    (_S.PROCEEDING, _E.TIMER_F, _S.TERMINATED, _X.TIME_OUT),
    (_S.PROCEEDING, _E.RECV_1XX, _S.PROCEEDING, _X.DELIVER),
    (_S.PROCEEDING, _E.RECV_2XX, _S.COMPLETED, _X.DELIVER),
    (_S.PROCEEDING, _E.RECV_3XX_6XX, _S.COMPLETED, _X.DELIVER),
    (_S.COMPLETED, _E.RECV_1XX, _S.COMPLETED, _X.NONE),
    (_S.COMPLETED, _E.RECV_2XX, _S.COMPLETED, _X.NONE),
    (_S.COMPLETED, _E.RECV_3XX_6XX, _S.COMPLETED, _X.NONE),
    (_S.COMPLETED, _E.TIMER_K, _S.TERMINATED, _X.NONE),
)

# RFC 3261 §17.2.1 Figure 7, with RFC 6026 §7.1 Figure 3 (Accepted, Timer L).
SERVER_INVITE_TRANSITIONS = _table(
    (_S.PROCEEDING, _E.RECV_REQUEST, _S.PROCEEDING, _X.RESEND_RESPONSE),
    (_S.PROCEEDING, _E.RECV_ACK, _S.PROCEEDING, _X.NONE),
    (_S.PROCEEDING, _E.SEND_1XX, _S.PROCEEDING, _X.SEND_RESPONSE),
    (_S.PROCEEDING, _E.SEND_2XX, _S.ACCEPTED, _X.SEND_RESPONSE),
    (_S.PROCEEDING, _E.SEND_3XX_6XX, _S.COMPLETED, _X.SEND_RESPONSE),
    (_S.COMPLETED, _E.RECV_REQUEST, _S.COMPLETED, _X.RESEND_RESPONSE),
    (_S.COMPLETED, _E.RECV_ACK, _S.CONFIRMED, _X.NONE),
    (_S.COMPLETED, _E.TIMER_G, _S.COMPLETED, _X.RETRANSMIT),
    (_S.COMPLETED, _E.TIMER_H, _S.TERMINATED, _X.TIME_OUT),
    (_S.CONFIRMED, _E.RECV_REQUEST, _S.CONFIRMED, _X.NONE),
    (_S.CONFIRMED, _E.RECV_ACK, _S.CONFIRMED, _X.NONE),
    (_S.CONFIRMED, _E.TIMER_I, _S.TERMINATED, _X.NONE),
    (_S.ACCEPTED, _E.RECV_REQUEST, _S.ACCEPTED, _X.NONE),
    (_S.ACCEPTED, _E.RECV_ACK, _S.ACCEPTED, _X.DELIVER),
    (_S.ACCEPTED, _E.SEND_2XX, _S.ACCEPTED, _X.SEND_RESPONSE),
    (_S.ACCEPTED, _E.TIMER_L, _S.TERMINATED, _X.NONE),
)

# RFC 3261 §17.2.2 Figure 8. In Completed, "any other final responses passed
# by the TU to the server transaction MUST be discarded".
SERVER_NON_INVITE_TRANSITIONS = _table(
    (_S.TRYING, _E.RECV_REQUEST, _S.TRYING, _X.NONE),
    (_S.TRYING, _E.SEND_1XX, _S.PROCEEDING, _X.SEND_RESPONSE),
    (_S.TRYING, _E.SEND_2XX, _S.COMPLETED, _X.SEND_RESPONSE),
    (_S.TRYING, _E.SEND_3XX_6XX, _S.COMPLETED, _X.SEND_RESPONSE),
    (_S.PROCEEDING, _E.RECV_REQUEST, _S.PROCEEDING, _X.RESEND_RESPONSE),
    (_S.PROCEEDING, _E.SEND_1XX, _S.PROCEEDING, _X.SEND_RESPONSE),
    (_S.PROCEEDING, _E.SEND_2XX, _S.COMPLETED, _X.SEND_RESPONSE),
    (_S.PROCEEDING, _E.SEND_3XX_6XX, _S.COMPLETED, _X.SEND_RESPONSE),
    (_S.COMPLETED, _E.RECV_REQUEST, _S.COMPLETED, _X.RESEND_RESPONSE),
    (_S.COMPLETED, _E.SEND_2XX, _S.COMPLETED, _X.NONE),
    (_S.COMPLETED, _E.SEND_3XX_6XX, _S.COMPLETED, _X.NONE),
    (_S.COMPLETED, _E.TIMER_J, _S.TERMINATED, _X.NONE),
)

#: The timers that live in each state; entering a state arms them (Table 4).
CLIENT_INVITE_TIMERS: Mapping[State, tuple[str, ...]] = {
    _S.CALLING: ("A", "B"), _S.COMPLETED: ("D",), _S.ACCEPTED: ("M",),
}
CLIENT_NON_INVITE_TIMERS: Mapping[State, tuple[str, ...]] = {
    _S.TRYING: ("E", "F"), _S.PROCEEDING: ("E", "F"), _S.COMPLETED: ("K",),
}
SERVER_INVITE_TIMERS: Mapping[State, tuple[str, ...]] = {
    _S.COMPLETED: ("G", "H"), _S.CONFIRMED: ("I",), _S.ACCEPTED: ("L",),
}
SERVER_NON_INVITE_TIMERS: Mapping[State, tuple[str, ...]] = {_S.COMPLETED: ("J",)}
