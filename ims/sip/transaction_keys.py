"""SIP transaction keys (RFC 3261 §17.1.3, §17.2.3, §9.2).

The driver keys its client transactions with :func:`client_key` (matching
responses), its server transactions with :func:`server_key` (matching
requests, with the RFC 2543 fallback), and finds the INVITE a CANCEL
cancels with :func:`cancel_target_key`. Re-exported by
:mod:`ims.sip.transaction`.
"""

from __future__ import annotations

from ims.sip.message import Request, Response

#: A transaction key: client (branch, CSeq method); server (branch, sent-by,
#: method) or, for RFC 2543 peers, ("rfc2543", ...). See the key functions.
TransactionKey = tuple[str, ...]


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
