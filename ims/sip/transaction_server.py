"""SIP server transactions (RFC 3261 §17.2, RFC 6026 §7.1).

ServerInviteTransaction (§17.2.1) and ServerNonInviteTransaction (§17.2.2),
the factory that picks the machine for a new request, and when the TU sends
100 Trying at once. Run by the engine in :mod:`ims.sip.transaction_engine`;
re-exported by :mod:`ims.sip.transaction`.
"""

from __future__ import annotations

from ims.sip.events import Action, Peer, Send
from ims.sip.message import Request, Response
from ims.sip.retained import retained_request, retained_response
from ims.sip.transaction_engine import (
    SENT,
    Handler,
    MachineInput,
    TransactionMachine,
    by_status,
    expect_response,
)
from ims.sip.transaction_keys import TransactionKey, server_key
from ims.sip.transaction_tables import (
    DEFAULT_TIMERS,
    SERVER_INVITE_TIMERS,
    SERVER_INVITE_TRANSITIONS,
    SERVER_NON_INVITE_TIMERS,
    SERVER_NON_INVITE_TRANSITIONS,
    Effect,
    Event,
    State,
    Timers,
)


class _ServerTransaction(TransactionMachine):
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
        return self._fire(by_status(resp.status, SENT), now, resp)

    def _handlers(self) -> dict[Effect, Handler]:
        return super()._handlers() | {
            Effect.SEND_RESPONSE: self._send_response,
            Effect.RESEND_RESPONSE: self._resend_response,
        }

    def _send_response(self, inp: MachineInput) -> list[Action]:
        """Send ``response``; a final one is kept as bytes only (see ims.sip.retained)."""
        response = expect_response(inp.message)
        if response.status < 200:
            self.last_response = response
        else:
            # Only a 300-699 to INVITE (Timer G) and a non-INVITE final are resent.
            resend = not (self.peer.reliable or (self.request.method == "INVITE" and response.status < 300))
            self.last_response = retained_response(response, resend=resend)
            self.request = retained_request(self.request)
        return [Send(response, self.peer)]

    def _resend_response(self, inp: MachineInput) -> list[Action]:
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


ServerTransaction = ServerInviteTransaction | ServerNonInviteTransaction


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

