"""SIP requests and responses (RFC 3261 §7, §20, §25), parsed lazily.

Theory of operation
-------------------
``parse_message`` does the least work that framing and routing need: it
splits the start line and the header lines, unfolds continuation lines and
maps compact names to full names (RFC 3261 §7.3.3). Nothing else is parsed
until somebody asks: a header value turns into a typed object (``Via``,
``NameAddr``, ``CSeq`` ...) on first access and is cached until the message
is changed. Each header line remembers its original text, so a header nobody
touched is forwarded byte for byte, whatever its case, spacing or folding.

A header may occur on several lines, and list-valued headers (Via, Route,
Contact ...; RFC 3261 §7.3.1) may also join several values with commas.
``get_all`` sees both forms as one list; ``count`` counts values;
``header_values`` returns one raw value per line (what a proxy sees of an
unknown ``X-`` header).

``validate_request``/``validate_response`` apply the checks a server makes
before it hands a message to a transaction (mandatory headers, CSeq, the
Request-URI, version), raising :class:`SipParseError` with a reason phrase
naming the defect; the transport layer answers it with 400 (or 505, 513).

Layout
------
This module is the public face; the code lives in modules named for their
concern, and every name below is re-exported here:

- :mod:`ims.sip.message_model`: ``HeaderField``, ``Message``, ``Request``,
  ``Response`` (the lazy model and its typed accessors);
- :mod:`ims.sip.message_parser`: ``parse_message``;
- :mod:`ims.sip.message_validation`: ``validate_request``, ``validate_response``;
- :mod:`ims.sip.message_build`: ``make_response``, ``build_request``;
- :mod:`ims.sip.framing` (``Limits``) and :mod:`ims.sip.names` (header names).
"""

from __future__ import annotations

from ims.sip.framing import DEFAULT_LIMITS as DEFAULT_LIMITS
from ims.sip.framing import Limits as Limits
from ims.sip.message_build import build_request as build_request
from ims.sip.message_build import make_response as make_response
from ims.sip.message_model import SIP_VERSION as SIP_VERSION
from ims.sip.message_model import HeaderField as HeaderField
from ims.sip.message_model import Message as Message
from ims.sip.message_model import Request as Request
from ims.sip.message_model import Response as Response
from ims.sip.message_parser import parse_message as parse_message
from ims.sip.message_validation import validate_request as validate_request
from ims.sip.message_validation import validate_response as validate_response
from ims.sip.names import CANONICAL_NAMES as CANONICAL_NAMES
from ims.sip.names import COMPACT_FORMS as COMPACT_FORMS
from ims.sip.names import LIST_HEADERS as LIST_HEADERS
from ims.sip.names import REASON_PHRASES as REASON_PHRASES
from ims.sip.names import SINGLE_HEADERS as SINGLE_HEADERS
from ims.sip.names import canonical_key as canonical_key
from ims.sip.names import display_name_for as display_name_for
