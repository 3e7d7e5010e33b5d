"""SIP transactions: the four state machines of RFC 3261 §17, as corrected by RFC 6026.

ClientInviteTransaction (§17.1.1), ClientNonInviteTransaction (§17.1.2),
ServerInviteTransaction (§17.2.1) and ServerNonInviteTransaction (§17.2.2),
with the Accepted state and Timers L and M of RFC 6026 §7, plus the
transaction keys of §17.1.3, §17.2.3 and §9.2.
"""

# Theory of operation
# -------------------
#
# A transaction is one request plus its responses (and, for a non-2xx final
# response to an INVITE, its ACK). This module keeps the four RFC machines as
# plain objects that never do I/O and never read a clock: every input carries
# `now` (seconds on whatever clock the driver uses) and every method returns
# a list of actions from ims.sip.events for the driver to carry out:
#
#   Send(message, peer)     pass a message to the transport
#   StartTimer(name, at)    arm timer `name` (an RFC letter) to fire at `at`;
#                           re-arming a running timer replaces its deadline
#   CancelTimer(name)       disarm it
#   Deliver(message)        hand a message to the transaction user (TU)
#   Timeout(timer)          Timer B, F or H expired: the TU acts as on a 408
#   TransportError(reason)  sending failed (§17.1.4, §17.2.4): the TU acts as on 503
#   Terminated(key)         the machine reached Terminated: the driver forgets it
#
# The inputs are the RFC's: the TU starts a client transaction (`start`) or
# passes a response down to a server transaction (`send_response`); the
# network delivers a response (`receive_response`) or a retransmitted request
# or ACK (`receive_request`); a timer fires (`handle_timer`); the transport
# reports a failure (`transport_error`). Each input is classified into an
# Event (a response by its status class, a request by ACK or not, a timer by
# its letter) and looked up in the machine's transition table:
#
#   TRANSITIONS[state][event] -> Transition(target state, effect)
#
# The tables (in ims.sip.transaction_tables, so that this module stays the
# engine) are the whole protocol; they transcribe the figures of RFC 3261
# §17 (Figures 5-8) and RFC 6026 §7 (Figures 3 and 4). A pair that is
# missing from a table is an illegal input and raises TransactionStateError
# naming the machine, the state and the event; nothing changes in that case.
# Inputs the RFC says to absorb (a retransmitted final response in Completed,
# a retransmitted INVITE in Accepted ...) are listed with Effect.NONE, so that
# every legal input is visible in the table, and an illegal one is a bug of
# the driver or the TU (a response after the final one, a timer that is not
# armed, any input after Terminated).
#
# Transport errors are accepted in every live state (the table builder adds
# them). Timers are not in the effects: each machine lists, per state, the
# timers that live in it (STATE_TIMERS). Entering a state cancels the armed timers
# that do not belong to it and arms the ones that do and are not yet armed,
# with the durations of Timers.duration (RFC 3261 §17, Table 4). On a reliable
# transport the retransmission timers A, E and G are never armed, and D, I, J
# and K have zero duration: a zero-length timer fires at once, inside the same
# call, so such a machine passes straight through Completed or Confirmed to
# Terminated and the caller sees Terminated in the returned list. The only
# effect that touches a timer itself is RETRANSMIT, which re-arms A, E or G
# with the next interval (A doubles; E and G double up to T2; E in Proceeding
# uses T2).
#
# The driver keys its transaction tables with client_key (responses, §17.1.3)
# and server_key (requests, §17.2.3, with the RFC 2543 fallback); a CANCEL
# finds the INVITE it cancels with cancel_target_key (§9.2). A server
# transaction never delivers the request that created it: the driver hands
# that request to the TU when it creates the transaction, and the TU decides
# about 100 Trying (see needs_immediate_trying).

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
from ims.sip.message import Request, Response, build_request
from ims.sip.retained import retained_request, retained_response
from ims.sip.transaction_tables import (
    CLIENT_INVITE_TIMERS,
    CLIENT_INVITE_TRANSITIONS,
    CLIENT_NON_INVITE_TIMERS,
    CLIENT_NON_INVITE_TRANSITIONS,
    DEFAULT_TIMERS,
    RETRANSMISSION_TIMERS,
    SERVER_INVITE_TIMERS,
    SERVER_INVITE_TRANSITIONS,
    SERVER_NON_INVITE_TIMERS,
    SERVER_NON_INVITE_TRANSITIONS,
    T1,
    T2,
    T4,
    Effect,
    Event,
    State,
    Table,
    Timers,
    Transition,
)

__all__ = [
    "DEFAULT_TIMERS", "T1", "T2", "T4", "ClientInviteTransaction", "ClientNonInviteTransaction",
    "ClientTransaction", "Effect", "Event", "ServerInviteTransaction", "ServerNonInviteTransaction",
    "ServerTransaction", "State", "Timers", "TransactionKey", "Transition", "TransactionStateError",
    "build_ack", "cancel_target_key", "client_key", "needs_immediate_trying",
    "new_client_transaction", "new_server_transaction", "server_key",
]

#: A transaction key: client (branch, CSeq method); server (branch, sent-by,
#: method) or, for RFC 2543 peers, ("rfc2543", ...). See the key functions.
TransactionKey = tuple[str, ...]


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
class _Input:
    event: Event
    message: Request | Response | None
    now: float


_Handler = Callable[[_Input], list[Action]]


class _Transaction:
    """What the four machines share: table lookup, state entry, timers."""

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
        actions = self._handlers()[transition.effect](_Input(event, message, now))
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
    def _handlers(self) -> dict[Effect, _Handler]:
        return {
            Effect.NONE: _nothing,
            Effect.RETRANSMIT: self._retransmit,
            Effect.DELIVER: self._deliver,
            Effect.TIME_OUT: _time_out,
            Effect.REPORT_TRANSPORT_ERROR: self._report_transport_error,
        }

    def _retransmitted(self) -> Request | Response | None:
        raise NotImplementedError

    def _retransmit(self, inp: _Input) -> list[Action]:
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

    def _deliver(self, inp: _Input) -> list[Action]:
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

    def _report_transport_error(self, inp: _Input) -> list[Action]:
        peer = self.peer
        return [TransportError(
            f"cannot send {self.request.method} transaction message to "
            f"{peer.transport}:{peer.host}:{peer.port} in state {self.state.name}"
        )]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.request.method} {self.state.name} {self.key}>"


def _nothing(inp: _Input) -> list[Action]:
    return []


def _time_out(inp: _Input) -> list[Action]:
    return [Timeout(inp.event.timer)]


def _required(message: Request | Response | None) -> Request | Response:
    if message is None:
        raise TypeError("this effect needs a message")
    return message


def _response(message: Request | Response | None) -> Response:
    if not isinstance(message, Response):
        raise TypeError("this effect needs a response")
    return message


def _timer_event(name: str) -> Event:
    event = Event.__members__.get(f"TIMER_{name}")
    if event is None:
        raise ValueError(f"no transaction timer {name!r}")
    return event


def _by_status(status: int, events: tuple[Event, Event, Event]) -> Event:
    """Classify a status code: 1xx, 2xx or 300-699 (RFC 3261 §7.2)."""
    if 100 <= status <= 199:
        return events[0]
    if 200 <= status <= 299:
        return events[1]
    if 300 <= status <= 699:
        return events[2]
    raise ValueError(f"status code {status} out of range 100-699")


_RECEIVED = (Event.RECV_1XX, Event.RECV_2XX, Event.RECV_3XX_6XX)
_SENT = (Event.SEND_1XX, Event.SEND_2XX, Event.SEND_3XX_6XX)


# -- client transactions (RFC 3261 §17.1) --------------------------------------
class _ClientTransaction(_Transaction):
    def _make_key(self, request: Request) -> TransactionKey:
        return client_key(request)

    def start(self, now: float) -> list[Action]:
        """Send the request and arm the timers of the initial state (§17.1.1.2, §17.1.2.2).

        Raises:
            TransactionStateError: the transaction was already started.
        """
        return self._fire(Event.START, now)

    def receive_response(self, resp: Response, now: float) -> list[Action]:
        """A response matching this transaction (by :func:`client_key`) arrived.

        Responses the TU must see are returned as Deliver; retransmissions
        are absorbed (for an INVITE, a retransmitted 300-699 sends the ACK
        again). ``last_response`` is the last response passed to the TU.

        Raises:
            TransactionStateError: before ``start`` or after Terminated.
        """
        return self._fire(_by_status(resp.status, _RECEIVED), now, resp)

    def _handlers(self) -> dict[Effect, _Handler]:
        return super()._handlers() | {Effect.SEND_REQUEST: self._send_request}

    def _send_request(self, inp: _Input) -> list[Action]:
        self._started = True
        return [Send(self.request, self.peer)]

    def _retransmitted(self) -> Request:
        return self.request


class ClientInviteTransaction(_ClientTransaction):
    """The INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §7.2).

    Calling retransmits on Timer A (unreliable transports) and gives up on
    Timer B. A 2xx moves to Accepted, where further 2xx responses (other
    forks, retransmissions) go to the TU, which ACKs them itself, until
    Timer M. A 300-699 moves to Completed: the transaction ACKs it (see
    :func:`build_ack`, kept in ``ack``) and ACKs each retransmission until
    Timer D.
    """

    TRANSITIONS = CLIENT_INVITE_TRANSITIONS
    STATE_TIMERS = CLIENT_INVITE_TIMERS
    INITIAL_STATE = State.CALLING

    def __init__(self, request: Request, peer: Peer, *, timers: Timers = DEFAULT_TIMERS) -> None:
        super().__init__(request, peer, timers=timers)
        self.ack: Request | None = None

    def _handlers(self) -> dict[Effect, _Handler]:
        return super()._handlers() | {
            Effect.ACK_AND_DELIVER: self._ack_and_deliver,
            Effect.RESEND_ACK: self._resend_ack,
        }

    def _ack_and_deliver(self, inp: _Input) -> list[Action]:
        """§17.1.1.2: pass the 300-699 up and ACK it to the same peer."""
        response = _response(inp.message)
        self.ack = build_ack(self.request, response)
        self._keep_response(response)
        return [Deliver(response), Send(self.ack, self.peer)]

    def _resend_ack(self, inp: _Input) -> list[Action]:
        """§17.1.1.2: a retransmitted final response in Completed is ACKed again."""
        return [] if self.ack is None else [Send(self.ack, self.peer)]


class ClientNonInviteTransaction(_ClientTransaction):
    """The non-INVITE client transaction (RFC 3261 §17.1.2).

    Trying retransmits on Timer E (doubling up to T2; every T2 once a
    provisional arrived) until a final response or Timer F. Completed
    absorbs response retransmissions until Timer K.
    """

    TRANSITIONS = CLIENT_NON_INVITE_TRANSITIONS
    STATE_TIMERS = CLIENT_NON_INVITE_TIMERS
    INITIAL_STATE = State.TRYING


def build_ack(invite: Request, resp: Response) -> Request:
    """The ACK a client transaction sends for a 300-699 response (RFC 3261 §17.1.1.3).

    Request-URI, Call-ID and From come from the INVITE; To from the response
    (so it carries the UAS's tag); a single Via equal to the INVITE's top Via
    (same branch); the INVITE's Route header fields; the INVITE's CSeq number
    with method ACK; Max-Forwards 70 (§8.1.1.6). No body.

    Args:
        invite: the INVITE as the transaction sent it.
        resp: the 300-699 response being acknowledged.
    """
    headers: list[tuple[str, str]] = [("Via", invite.get("via") or "")]
    headers += [("Route", value) for value in invite.header_values("route")]
    headers += [
        ("Max-Forwards", "70"),
        ("From", invite.header_values("from")[0]),
        ("To", resp.header_values("to")[0]),
        ("Call-ID", invite.call_id),
        ("CSeq", f"{invite.cseq.seq} ACK"),
    ]
    return build_request("ACK", invite.uri_text, headers)


# -- server transactions (RFC 3261 §17.2) --------------------------------------
class _ServerTransaction(_Transaction):
    def __init__(self, request: Request, peer: Peer, *, timers: Timers = DEFAULT_TIMERS) -> None:
        super().__init__(request, peer, timers=timers)
        self._started = True  # §17.2: live from construction

    def _make_key(self, request: Request) -> TransactionKey:
        return server_key(request)

    def start(self, now: float) -> list[Action]:
        """Nothing to do: the machine enters its initial state when constructed.

        The driver hands the request to the TU; the TU sends 100 Trying
        through :meth:`send_response` when :func:`needs_immediate_trying`
        says so (RFC 3261 §17.2.1).
        """
        return []

    def receive_request(self, req: Request, now: float) -> list[Action]:
        """A request matching this transaction (by :func:`server_key`) arrived.

        A retransmission of the request is answered with the last response
        (the last provisional in Proceeding, the final in Completed) or
        absorbed; an ACK is handled as §17.2.1 and RFC 6026 §7.1 say.

        Raises:
            TransactionStateError: after Terminated, or an ACK on a
                non-INVITE transaction.
        """
        event = Event.RECV_ACK if req.method == "ACK" else Event.RECV_REQUEST
        return self._fire(event, now, req)

    def send_response(self, resp: Response, now: float) -> list[Action]:
        """The TU passes ``resp`` down: it is sent to ``peer`` (§17.2.1, §17.2.2).

        Raises:
            TransactionStateError: the state does not allow it, e.g. a
                provisional after the final response, or any response
                after Terminated.
        """
        return self._fire(_by_status(resp.status, _SENT), now, resp)

    def _handlers(self) -> dict[Effect, _Handler]:
        return super()._handlers() | {
            Effect.SEND_RESPONSE: self._send_response,
            Effect.RESEND_RESPONSE: self._resend_response,
        }

    def _send_response(self, inp: _Input) -> list[Action]:
        """Send ``response``; a final one is kept as bytes only (see ims.sip.retained)."""
        response = _response(inp.message)
        if response.status < 200:
            self.last_response = response
        else:
            # Only a 300-699 to INVITE (Timer G) and a non-INVITE final are resent.
            resend = not (self.peer.reliable or (self.request.method == "INVITE" and response.status < 300))
            self.last_response = retained_response(response, resend=resend)
            self.request = retained_request(self.request)
        return [Send(response, self.peer)]

    def _resend_response(self, inp: _Input) -> list[Action]:
        response = self.last_response
        return [] if response is None else [Send(response, self.peer)]

    def _retransmitted(self) -> Response | None:
        return self.last_response


class ServerInviteTransaction(_ServerTransaction):
    """The INVITE server transaction (RFC 3261 §17.2.1, RFC 6026 §7.1).

    Proceeding re-sends the last provisional on a retransmitted INVITE. A
    2xx moves to Accepted: the TU retransmits its 2xx itself (sent as
    passed), INVITE retransmissions are absorbed, an ACK goes to the TU,
    until Timer L. A 300-699 moves to Completed: Timer G retransmits it (on
    unreliable transports) until the ACK (-> Confirmed, absorbing ACKs until
    Timer I) or Timer H (a timeout for the TU).
    """

    TRANSITIONS = SERVER_INVITE_TRANSITIONS
    STATE_TIMERS = SERVER_INVITE_TIMERS
    INITIAL_STATE = State.PROCEEDING


class ServerNonInviteTransaction(_ServerTransaction):
    """The non-INVITE server transaction (RFC 3261 §17.2.2).

    Trying absorbs retransmissions, Proceeding answers them with the last
    provisional, Completed with the final response until Timer J.
    """

    TRANSITIONS = SERVER_NON_INVITE_TRANSITIONS
    STATE_TIMERS = SERVER_NON_INVITE_TIMERS
    INITIAL_STATE = State.TRYING


ClientTransaction = ClientInviteTransaction | ClientNonInviteTransaction
ServerTransaction = ServerInviteTransaction | ServerNonInviteTransaction


def new_client_transaction(request: Request, peer: Peer,
                           timers: Timers = DEFAULT_TIMERS) -> ClientTransaction:
    """The client transaction for ``request``: INVITE or non-INVITE (§17.1).

    Raises:
        ValueError: for ACK, which never has a client transaction (an ACK
            for 2xx is sent by the TU directly, §17.1, §13.2.2.4).
    """
    if request.method == "ACK":
        raise ValueError("ACK does not create a client transaction (RFC 3261 §17.1)")
    if request.method == "INVITE":
        return ClientInviteTransaction(request, peer, timers=timers)
    return ClientNonInviteTransaction(request, peer, timers=timers)


def new_server_transaction(request: Request, peer: Peer,
                           timers: Timers = DEFAULT_TIMERS) -> ServerTransaction:
    """The server transaction for a new ``request``; ``peer`` is where responses go.

    Raises:
        ValueError: for ACK: an ACK matching no transaction goes to the TU
            (§17.2.3, §13.3.2.5 for the ACK of a 2xx).
    """
    if request.method == "ACK":
        raise ValueError("ACK does not create a server transaction (RFC 3261 §17.2.3)")
    if request.method == "INVITE":
        return ServerInviteTransaction(request, peer, timers=timers)
    return ServerNonInviteTransaction(request, peer, timers=timers)


def needs_immediate_trying(request: Request) -> bool:
    """Whether the TU answers ``request`` with 100 Trying as soon as it arrives.

    RFC 3261 §17.2.1 makes an INVITE server transaction send 100 Trying
    unless the TU answers within 200 ms; a proxy cannot know that it will,
    so it sends 100 at once (§16.2: it is what stops the upstream Timer A).
    Non-INVITE requests never get a 100 from us: RFC 4320 §4.1 forbids it
    over UDP before the client's Timer E reaches T2, and nothing is gained
    on TCP.
    """
    return request.method == "INVITE"


# -- keys (RFC 3261 §17.1.3, §17.2.3, §9.2) ------------------------------------
def client_key(msg: Request | Response) -> TransactionKey:
    """The client transaction key: top Via branch and CSeq method (§17.1.3).

    Computed on the request the transaction sends and on each response it
    receives; a response to a CANCEL does not match the INVITE it cancels
    (same branch, §9.1) because the CSeq methods differ.
    """
    return (msg.top_via.branch or "", msg.cseq.method)


def server_key(req: Request) -> TransactionKey:
    """The server transaction key of a request (§17.2.3).

    With a branch that starts with the magic cookie: (branch, sent-by, method),
    ACK counting as INVITE, so the ACK of a non-2xx final response finds
    its INVITE transaction. Otherwise the RFC 2543 rules: Request-URI, To
    tag, From tag, Call-ID, CSeq and top Via. The To tag is left out for
    INVITE and ACK, because the ACK carries the tag of the response while
    the INVITE usually has none (§17.2.3 compares the ACK's To tag with
    the response's); CSeq number, Call-ID, From tag and Via still tell the
    transactions apart.
    """
    method = "INVITE" if req.method == "ACK" else req.method
    return _key(req, method)


def cancel_target_key(cancel: Request) -> TransactionKey:
    """The key of the INVITE server transaction a CANCEL cancels (§9.2).

    The CANCEL matches by the rules of §17.2.3 except for the method: its
    branch and sent-by (or, from an RFC 2543 peer, Request-URI, tags,
    Call-ID, CSeq number and top Via) equal the INVITE's.
    """
    return _key(cancel, "INVITE")


def _key(req: Request, method: str) -> TransactionKey:
    via = req.top_via
    if via.is_rfc3261_branch and via.branch:
        return (via.branch, via.sent_by.lower(), method)
    to_tag = "" if method == "INVITE" else (req.to.tag or "")
    return ("rfc2543", req.uri_text, to_tag, req.from_.tag or "", req.call_id,
            str(req.cseq.seq), method, str(via))
