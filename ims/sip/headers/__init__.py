"""Typed parsers for the SIP headers the IMS core acts on.

One module per header family (Kamailio's ``parser/`` split); each exposes a
``parse_*`` function and a dataclass whose ``str()`` serialises it again.
"""

from ims.sip.headers.cseq import CSeq, parse_cseq
from ims.sip.headers.nameaddr import NameAddr, parse_name_addr
from ims.sip.headers.params import Params, parse_params, quote, split_list, unquote
from ims.sip.headers.via import MAGIC_COOKIE, Via, parse_via

__all__ = [
    "MAGIC_COOKIE", "CSeq", "NameAddr", "Params", "Via", "parse_cseq", "parse_name_addr",
    "parse_params", "parse_via", "quote", "split_list", "unquote",
]
