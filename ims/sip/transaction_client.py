"""SIP client transactions (RFC 3261 §17.1, RFC 6026 §7.2).

ClientInviteTransaction (§17.1.1) and ClientNonInviteTransaction (§17.1.2),
the ACK the INVITE machine sends for a 300-699 (§17.1.1.3) and the factory
that picks the machine for a request. Run by the engine in
:mod:`ims.sip.transaction_engine`; re-exported by :mod:`ims.sip.transaction`.
"""

from __future__ import annotations

from ims.sip.events import Action, Deliver, Peer, Send
from ims.sip.message import Request, Response, build_request
from ims.sip.transaction_engine import (
    RECEIVED,
    Handler,
    MachineInput,
    TransactionMachine,
    by_status,
    expect_response,
)
from ims.sip.transaction_keys import TransactionKey, client_key
from ims.sip.transaction_tables import (
    CLIENT_INVITE_TIMERS,
    CLIENT_INVITE_TRANSITIONS,
    CLIENT_NON_INVITE_TIMERS,
    CLIENT_NON_INVITE_TRANSITIONS,
    DEFAULT_TIMERS,
    Effect,
    Event,
    State,
    Timers,
)


class _ClientTransaction(TransactionMachine):
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
        return self._fire(by_status(resp.status, RECEIVED), now, resp)

    def _handlers(self) -> dict[Effect, Handler]:
        return super()._handlers() | {Effect.SEND_REQUEST: self._send_request}

    def _send_request(self, inp: MachineInput) -> list[Action]:
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

    def _handlers(self) -> dict[Effect, Handler]:
        return super()._handlers() | {
            Effect.ACK_AND_DELIVER: self._ack_and_deliver,
            Effect.RESEND_ACK: self._resend_ack,
        }

    def _ack_and_deliver(self, inp: MachineInput) -> list[Action]:
        """§17.1.1.2: pass the 300-699 up and ACK it to the same peer."""
        response = expect_response(inp.message)
        self.ack = build_ack(self.request, response)
        self._keep_response(response)
        return [Deliver(response), Send(self.ack, self.peer)]

    def _resend_ack(self, inp: MachineInput) -> list[Action]:
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


ClientTransaction = ClientInviteTransaction | ClientNonInviteTransaction


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
