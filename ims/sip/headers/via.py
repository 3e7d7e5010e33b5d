"""The Via header (RFC 3261 §20.42, §18.2.1; RFC 3581 rport)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ims.sip.errors import SipParseError
from ims.sip.headers.params import Params, parse_params
from ims.sip.uri import parse_hostport

#: RFC 3261 §8.1.1.7: branches of compliant elements start with this cookie.
MAGIC_COOKIE = "z9hG4bK"


@dataclass(slots=True)
class Via:
    """One Via value: ``SIP/2.0/UDP host:port;branch=...;received=...;rport``."""

    transport: str
    host: str
    port: int | None = None
    params: Params = field(default_factory=Params)
    protocol: str = "SIP/2.0"

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        """The ``received`` address (RFC 3261 §18.2.1), brackets of RFC 5118 §4.5 removed."""
        value = self.params.get("received")
        if value is not None and value.startswith("[") and value.endswith("]"):
            return value[1:-1]
        return value

    @property
    def maddr(self) -> str | None:
        """The ``maddr`` parameter (RFC 3261 §18.2.2)."""
        return self.params.get("maddr")

    @property
    def rport(self) -> int | None:
        """The filled-in ``rport`` value (RFC 3581 §4), None if absent or empty."""
        value = self.params.get("rport")
        if not value or not (value.isascii() and value.isdigit()) or len(value) > 5:
            return None
        return int(value)

    @property
    def wants_rport(self) -> bool:
        """True when the client asked for symmetric response routing (RFC 3581 §3)."""
        return "rport" in self.params

    @property
    def sent_by(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def is_rfc3261_branch(self) -> bool:
        """The branch carries the RFC 3261 magic cookie (§17.2.3 matching applies)."""
        return bool(self.branch and self.branch.startswith(MAGIC_COOKIE))

    def copy(self) -> Via:
        return Via(self.transport, self.host, self.port, self.params.copy(), self.protocol)

    def __str__(self) -> str:
        return f"{self.protocol}/{self.transport} {self.sent_by}{self.params}"


def parse_via(text: str) -> Via:
    """Parse one Via value (LWS allowed around ``/``, RFC 3261 §25.1).

    Raises:
        SipParseError: on a malformed sent-protocol or sent-by.
    """
    head, _, param_text = text.strip().partition(";")
    proto, sep, sent_by = _split_sent_protocol(head)
    if not sep:
        raise SipParseError(f"Bad Via {text[:60]!r}")
    parts = [p.strip() for p in proto.split("/")]
    if len(parts) != 3 or not all(parts):
        raise SipParseError(f"Bad Via sent-protocol {proto[:40]!r}")
    host, port = parse_hostport(sent_by.strip(), text)
    params = parse_params(param_text) if param_text else Params()
    return Via(parts[2].upper(), host, port, params, f"{parts[0]}/{parts[1]}")


def _split_sent_protocol(head: str) -> tuple[str, bool, str]:
    """Split ``SIP / 2.0 / UDP  host:port`` into protocol and sent-by."""
    tokens = head.replace("/", " / ").split()
    # protocol is exactly 5 tokens: name / version / transport
    if len(tokens) < 6:
        return head, False, ""
    return "".join(tokens[:5]), True, "".join(tokens[5:])
