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
# The tables (in ims.sip.transaction_tables) are the whole protocol; they
# transcribe the figures of RFC 3261 §17 (Figures 5-8) and RFC 6026 §7
# (Figures 3 and 4). A pair that is
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
#
# Layout: this module is the public face and re-exports every name in
# __all__; the code lives in modules named for their concern:
#
#   ims.sip.transaction_tables   states, events, effects, timers (Table 4), tables
#   ims.sip.transaction_engine   what the four machines share: lookup, state entry, timers
#   ims.sip.transaction_client   the client machines (§17.1), build_ack
#   ims.sip.transaction_server   the server machines (§17.2), needs_immediate_trying
#   ims.sip.transaction_keys     client_key, server_key, cancel_target_key

from __future__ import annotations

from ims.sip.transaction_client import (
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    ClientTransaction,
    build_ack,
    new_client_transaction,
)
from ims.sip.transaction_engine import TransactionStateError
from ims.sip.transaction_keys import TransactionKey, cancel_target_key, client_key, server_key
from ims.sip.transaction_server import (
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    ServerTransaction,
    needs_immediate_trying,
    new_server_transaction,
)
from ims.sip.transaction_tables import (
    DEFAULT_TIMERS,
    T1,
    T2,
    T4,
    Effect,
    Event,
    State,
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
