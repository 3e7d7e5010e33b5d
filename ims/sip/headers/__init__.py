"""Typed parsers for the SIP headers the IMS core acts on (RFC 3261 §20).

One module per header family (Kamailio's ``parser/`` split); each exposes a
``parse_*`` function and a dataclass whose ``str()`` serialises it again.

The names below are loaded on first use (PEP 562): ``ims.sip.uri`` needs
``headers.params`` while ``headers.nameaddr`` and ``headers.via`` need
``ims.sip.uri``, so importing them all here eagerly would make the import
order matter.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ims.sip.headers.cseq import CSeq, parse_cseq
    from ims.sip.headers.nameaddr import NameAddr, parse_name_addr
    from ims.sip.headers.params import Params, parse_params, quote, split_list, unquote
    from ims.sip.headers.via import MAGIC_COOKIE, Via, parse_via

_EXPORTS = {
    "CSeq": "cseq", "parse_cseq": "cseq",
    "NameAddr": "nameaddr", "parse_name_addr": "nameaddr",
    "Params": "params", "parse_params": "params", "quote": "params",
    "split_list": "params", "unquote": "params",
    "MAGIC_COOKIE": "via", "Via": "via", "parse_via": "via",
}

__all__ = [
    "MAGIC_COOKIE", "CSeq", "NameAddr", "Params", "Via", "parse_cseq", "parse_name_addr",
    "parse_params", "parse_via", "quote", "split_list", "unquote",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ims.sip.headers' has no attribute {name!r}")
    return getattr(importlib.import_module(f"ims.sip.headers.{module}"), name)
