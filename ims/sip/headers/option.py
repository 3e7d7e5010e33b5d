"""Option tags and expiry: RFC 3261 §19.2, §20.19, §20.23, §20.29, §20.32, §20.37, §20.40.

Supported, Require, Proxy-Require and Unsupported list option tags (RFC 3261
§19.2 ``option-tag = token``); the IMS ones the CSCFs look at are ``path``
(RFC 3327), ``sec-agree`` (RFC 3329), ``gruu`` (RFC 5627), ``outbound``
(RFC 5626) and ``100rel`` (RFC 3262). Tags are compared lower-cased, as
:meth:`Message.option_tags` returns them.

The expiry of a registration binding comes from the Contact ``expires``
parameter, else from the Expires header (RFC 3261 §10.2.1.1, §10.3 step 7).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ims.sip.errors import SipParseError
from ims.sip.headers._abnf import is_token
from ims.sip.headers.nameaddr import NameAddr

if TYPE_CHECKING:
    from ims.sip.message import Message

#: RFC 3261 §20.19: expiry values lie between 0 and (2**32)-1 seconds.
MAX_DELTA_SECONDS = 2**32 - 1
#: RFC 3261 §20.10: a malformed Contact ``expires`` counts as 3600 seconds.
MALFORMED_EXPIRES = 3600
# RFC 3261 §25.1: delta-seconds = 1*DIGIT (ASCII digits only)
_DELTA_SECONDS_RE = re.compile(r"[0-9]+")


def option_tags(msg: Message, header: str = "supported") -> list[str]:
    """The option tags of Supported, Require, Proxy-Require or Unsupported.

    Tags are lower-cased, in order; an absent or empty header gives ``[]``
    (RFC 3261 §20.37 allows an empty Supported).

    Raises:
        SipParseError: if a tag is not a token (RFC 3261 §19.2).
    """
    tags = msg.option_tags(header)
    for tag in tags:
        if not is_token(tag):
            raise SipParseError(f"Bad option-tag {tag[:40]!r}")
    return tags


def requires(msg: Message, tag: str) -> bool:
    """Whether the Require header lists ``tag`` (RFC 3261 §20.32).

    Raises:
        SipParseError: if the header is malformed.
    """
    return tag.lower() in option_tags(msg, "require")


def supports(msg: Message, tag: str) -> bool:
    """Whether the Supported header lists ``tag`` (RFC 3261 §20.37).

    Raises:
        SipParseError: if the header is malformed.
    """
    return tag.lower() in option_tags(msg, "supported")


def unsupported_tags(
    msg: Message, understood: Iterable[str], header: str = "require"
) -> list[str]:
    """Tags of ``header`` not in ``understood``: the Unsupported list of a 420.

    A UAS checks Require (RFC 3261 §8.2.2.3), a proxy Proxy-Require
    (RFC 3261 §16.3 item 5).

    Raises:
        SipParseError: if the header is malformed.
    """
    known = {t.lower() for t in understood}
    return [tag for tag in option_tags(msg, header) if tag not in known]


def contact_expiry(contact: NameAddr, msg: Message) -> int | None:
    """The expiry requested for one Contact binding (RFC 3261 §10.2.1.1).

    The Contact ``expires`` parameter wins over the Expires header; a
    malformed parameter counts as 3600 (RFC 3261 §20.10) and a value beyond
    (2**32)-1 is cut to it (§20.19). None when neither is present: the
    registrar then applies its default (§10.3 step 7).

    Raises:
        SipParseError: if the Expires header is malformed.
    """
    if "expires" in contact.params:
        return _contact_param_expiry(contact.params.get("expires") or "")
    return _delta_seconds(msg, "expires", "Expires")


def _contact_param_expiry(value: str) -> int:
    if not _DELTA_SECONDS_RE.fullmatch(value):
        return MALFORMED_EXPIRES
    digits = value.lstrip("0") or "0"
    if len(digits) > 10 or int(digits) > MAX_DELTA_SECONDS:
        return MAX_DELTA_SECONDS
    return int(digits)


def min_expires(msg: Message) -> int | None:
    """The Min-Expires header of a 423 response (RFC 3261 §20.23), None if absent.

    Raises:
        SipParseError: if the value is not delta-seconds within (2**32)-1.
    """
    return _delta_seconds(msg, "min-expires", "Min-Expires")


def _delta_seconds(msg: Message, key: str, name: str) -> int | None:
    """A header holding delta-seconds up to (2**32)-1 (RFC 3261 §20.19, §20.23)."""
    value = msg.get(key)
    if value is None:
        return None
    digits = value.lstrip("0") or "0"
    valid = _DELTA_SECONDS_RE.fullmatch(value) is not None and len(digits) <= 10
    if not valid or int(digits) > MAX_DELTA_SECONDS:
        raise SipParseError(f"Bad {name} {value[:20]!r}")
    return int(digits)
