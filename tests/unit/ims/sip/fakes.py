"""In-memory clock, network and drivers for the transaction tests.

Follows aioquic's ``tests/test_connection.py``: two sides run their sans-I/O
machines in memory, ``FakeNetwork.transfer(sender, receiver)`` carries what
one side sent to the other (serialised to bytes and parsed again, as a real
transport would), ``drop(sender)`` loses it. ``FakeClock.advance(seconds)``
fires the timers the machines armed, in deadline order, each at its own
deadline, so retransmission times can be asserted exactly. Nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

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
from ims.sip.message import Request, Response, make_response, parse_message
from ims.sip.transaction import (
    DEFAULT_TIMERS,
    ClientTransaction,
    ServerTransaction,
    Timers,
    TransactionKey,
    client_key,
    new_client_transaction,
    new_server_transaction,
    server_key,
)

Message = Request | Response
Txn = TypeVar("Txn", ClientTransaction, ServerTransaction)

CLIENT_ADDR = ("192.0.2.1", 5060)
SERVER_ADDR = ("192.0.2.2", 5060)


@dataclass(order=True)
class _Scheduled:
    at: float
    seq: int
    key: Hashable = field(compare=False)
    callback: Callable[[float], None] = field(compare=False)


class FakeClock:
    """A clock that only moves when told to, firing the timers that fall due."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self._timers: dict[Hashable, _Scheduled] = {}
        self._seq = 0

    def call_at(self, key: Hashable, at: float, callback: Callable[[float], None]) -> None:
        """Arm (or re-arm) timer ``key``: ``callback(at)`` runs when the clock passes ``at``."""
        self._seq += 1
        self._timers[key] = _Scheduled(at, self._seq, key, callback)

    def cancel(self, key: Hashable) -> None:
        self._timers.pop(key, None)

    def pending(self) -> list[tuple[float, Hashable]]:
        """The armed timers as (deadline, key), earliest first."""
        return [(t.at, t.key) for t in sorted(self._timers.values())]

    def advance(self, seconds: float) -> None:
        """Move ``seconds`` ahead, firing each due timer at its own deadline."""
        end = self.now + seconds
        while True:
            due = [t for t in self._timers.values() if t.at <= end]
            if not due:
                break
            first = min(due)
            del self._timers[first.key]
            self.now = first.at
            first.callback(first.at)
        self.now = end


class Side(Generic[Txn]):
    """One element on the fake network: carries out what its transactions return."""

    def __init__(self, clock: FakeClock, peer: Peer, timers: Timers = DEFAULT_TIMERS) -> None:
        self.clock = clock
        self.peer = peer
        self.timers = timers
        self.outbox: list[Message] = []
        self.sent: list[tuple[float, Message]] = []
        self.delivered: list[Message] = []
        self.timeouts: list[str] = []
        self.transport_errors: list[str] = []
        self.terminated: list[TransactionKey] = []
        self.strays: list[Message] = []
        self.transactions: dict[TransactionKey, Txn] = {}

    def receive(self, message: Message) -> None:
        raise NotImplementedError

    def perform(self, txn: Txn, actions: list[Action]) -> None:
        """Carry out ``actions`` as a transport driver would."""
        for action in actions:
            self._perform(txn, action)

    def _perform(self, txn: Txn, action: Action) -> None:
        timer_key = (id(self), txn.key, getattr(action, "name", ""))
        match action:
            case Send(message=message):
                self.outbox.append(message)
                self.sent.append((self.clock.now, message))
            case StartTimer(name=name, at=at):
                self.clock.call_at(timer_key, at, self._timer_callback(txn, name))
            case CancelTimer():
                self.clock.cancel(timer_key)
            case Deliver(message=message):
                self.delivered.append(message)
            case Timeout(timer=timer):
                self.timeouts.append(timer)
            case TransportError(reason=reason):
                self.transport_errors.append(reason)
            case Terminated(key=key):
                self.terminated.append(key)
                self.transactions.pop(key, None)

    def _timer_callback(self, txn: Txn, name: str) -> Callable[[float], None]:
        return lambda now: self.perform(txn, txn.handle_timer(name, now))

    def sent_times(self, method_or_status: str | int | None = None) -> list[float]:
        """When each message (optionally only one method or status) was sent."""
        return [t for t, m in self.sent if _matches(m, method_or_status)]


def _matches(message: Message, method_or_status: str | int | None) -> bool:
    if method_or_status is None:
        return True
    if isinstance(message, Request):
        return message.method == method_or_status
    return message.status == method_or_status


class ClientSide(Side[ClientTransaction]):
    """A UAC (or a proxy's client half) running one client transaction."""

    def __init__(self, clock: FakeClock, request: Request, peer: Peer,
                 timers: Timers = DEFAULT_TIMERS) -> None:
        super().__init__(clock, peer, timers)
        self.txn = new_client_transaction(request, peer, timers)
        self.transactions[self.txn.key] = self.txn

    def start(self) -> None:
        self.perform(self.txn, self.txn.start(self.clock.now))

    def receive(self, message: Message) -> None:
        """Match a response to the transaction by its client key (§17.1.3)."""
        txn = self.transactions.get(client_key(message))
        if isinstance(message, Response) and txn is not None:
            self.perform(txn, txn.receive_response(message, self.clock.now))
        else:
            self.strays.append(message)


class ServerSide(Side[ServerTransaction]):
    """A UAS (or a proxy's server half): creates server transactions as requests come."""

    requests: list[Request]

    def __init__(self, clock: FakeClock, peer: Peer, timers: Timers = DEFAULT_TIMERS) -> None:
        super().__init__(clock, peer, timers)
        self.requests = []

    @property
    def txn(self) -> ServerTransaction:
        """The first server transaction still alive."""
        return next(iter(self.transactions.values()))

    def receive(self, message: Message) -> None:
        """Match a request by its server key (§17.2.3); a new one goes to the TU."""
        if not isinstance(message, Request):
            self.strays.append(message)
            return
        txn = self.transactions.get(server_key(message))
        if txn is not None:
            self.perform(txn, txn.receive_request(message, self.clock.now))
        elif message.method == "ACK":
            self.strays.append(message)
        else:
            new = new_server_transaction(message, self.peer, self.timers)
            self.transactions[new.key] = new
            self.requests.append(message)
            self.perform(new, new.start(self.clock.now))

    def respond(self, status: int, txn: ServerTransaction | None = None) -> Response:
        """The TU answers ``status`` on ``txn`` (default: the first one)."""
        txn = txn or self.txn
        response = make_response(txn.request, status, to_tag="uas-tag")
        self.perform(txn, txn.send_response(response, self.clock.now))
        return response


class FakeNetwork:
    """A lossless in-memory link between sides that share one clock."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()

    def client(self, request: Request, transport: str = "udp",
               timers: Timers = DEFAULT_TIMERS) -> ClientSide:
        return ClientSide(self.clock, request, Peer(transport, *SERVER_ADDR), timers)

    def server(self, transport: str = "udp", timers: Timers = DEFAULT_TIMERS) -> ServerSide:
        return ServerSide(self.clock, Peer(transport, *CLIENT_ADDR), timers)

    def transfer(self, sender: ClientSide | ServerSide, receiver: ClientSide | ServerSide) -> int:
        """Carry everything ``sender`` sent to ``receiver``; returns how many messages."""
        messages, sender.outbox = sender.outbox, []
        for message in messages:
            receiver.receive(parse_message(message.to_bytes()))
        return len(messages)

    def drop(self, sender: ClientSide | ServerSide) -> int:
        """Lose everything ``sender`` sent; returns how many messages."""
        lost = len(sender.outbox)
        sender.outbox = []
        return lost

    def roundtrip(self, client: ClientSide, server: ServerSide) -> int:
        """Transfer both ways until nothing moves (fewer than 10 rounds)."""
        moved = 0
        for _ in range(10):
            step = self.transfer(client, server) + self.transfer(server, client)
            if not step:
                return moved
            moved += step
        raise AssertionError("roundtrip did not settle in 10 rounds")
