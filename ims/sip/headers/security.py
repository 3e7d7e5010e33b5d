"""Security-Client, Security-Server, Security-Verify: RFC 3329 §2.2; TS 33.203 Annex H.

Each header is a comma-separated list of ``sec-mechanism`` values::

    sec-mechanism   = mechanism-name *(SEMI mech-parameters)      ; RFC 3329 §2.2
    mech-parameters = preference / algorithm / protocol / mode
                      / encrypt-algorithm / spi / port1 / port2    ; TS 33.203 Annex H

For ``ipsec-3gpp`` (TS 33.203 §7.1, Annex H; TS 24.229 §7.2A.7) the typed
properties read ``alg``, ``ealg``, ``spi-c``, ``spi-s``, ``port-c``, ``port-s``,
``prot``, ``mod`` and ``q``. Parameters keep their order and spelling, so a
value that is read and written again is unchanged; :func:`parse_security_mechanism`
checks the numeric parameters and raises :class:`SipParseError` naming the
defect (an SPI beyond 32 bits, a port beyond 65535, a bad q-value).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ims.sip.errors import SipParseError
from ims.sip.headers._abnf import QVALUE_RE, is_token
from ims.sip.headers.params import Params, parse_params, split_list

if TYPE_CHECKING:
    from ims.sip.message import Message

#: TS 33.203 Annex H: the mechanism name of 3GPP IMS IPsec.
IPSEC_3GPP = "ipsec-3gpp"
#: TS 33.203 Annex H ``algorithm`` (integrity) values.
INTEGRITY_ALGORITHMS = ("hmac-md5-96", "hmac-sha-1-96")
#: TS 33.203 Annex H ``encrypt-algorithm`` values.
ENCRYPTION_ALGORITHMS = ("des-ede3-cbc", "aes-cbc", "null")
#: TS 33.203 Annex H: ``spivalue = 10DIGIT`` holding a 32-bit SPI.
SPI_MAX = 2**32 - 1
PORT_MAX = 65535

_DIGITS_RE = re.compile(r"[0-9]{1,10}")
_NUMERIC = {"spi-c": SPI_MAX, "spi-s": SPI_MAX, "port-c": PORT_MAX, "port-s": PORT_MAX}


@dataclass(slots=True)
class SecurityMechanism:
    """One ``sec-mechanism``: a name and its parameters in wire order."""

    mechanism: str
    params: Params = field(default_factory=Params)

    @classmethod
    def ipsec_3gpp(
        cls,
        *,
        alg: str,
        spi_c: int,
        spi_s: int,
        port_c: int,
        port_s: int,
        ealg: str | None = None,
        prot: str | None = None,
        mod: str | None = None,
        q: float | None = None,
    ) -> SecurityMechanism:
        """Build ``ipsec-3gpp;alg=..;ealg=..;spi-c=..;spi-s=..;port-c=..;port-s=..``.

        ``prot``, ``mod`` and ``q`` follow when given; ``q`` is written with
        at most three decimals (RFC 3261 §25.1 ``qvalue``).

        Raises:
            SipParseError: if an SPI, port or q-value is out of range.
        """
        items: list[tuple[str, str | None]] = [("alg", alg)]
        items += [("ealg", ealg)] if ealg is not None else []
        items += [("spi-c", str(spi_c)), ("spi-s", str(spi_s))]
        items += [("port-c", str(port_c)), ("port-s", str(port_s))]
        q_text = None if q is None else _format_q(q)
        items += [(k, v) for k, v in (("prot", prot), ("mod", mod), ("q", q_text)) if v is not None]
        mech = cls(IPSEC_3GPP, Params(items))
        _check_params(mech)
        return mech

    @property
    def is_ipsec_3gpp(self) -> bool:
        return self.mechanism.lower() == IPSEC_3GPP

    @property
    def alg(self) -> str | None:
        """Integrity algorithm (``hmac-md5-96`` / ``hmac-sha-1-96``), lower-cased."""
        return _lower(self.params.get("alg"))

    @property
    def ealg(self) -> str | None:
        """Encryption algorithm; None when absent (TS 33.203 §7.1: then ``null``)."""
        return _lower(self.params.get("ealg"))

    @property
    def prot(self) -> str | None:
        """``esp`` or ``ah`` (TS 33.203 Annex H), lower-cased."""
        return _lower(self.params.get("prot"))

    @property
    def mod(self) -> str | None:
        """``trans``, ``tun`` or ``UDP-enc-tun`` (TS 33.203 Annex H), lower-cased."""
        return _lower(self.params.get("mod"))

    @property
    def spi_c(self) -> int | None:
        """SPI of the inbound SA at the protected client port (TS 33.203 §7.1)."""
        return _number(self.params, "spi-c")

    @property
    def spi_s(self) -> int | None:
        """SPI of the inbound SA at the protected server port (TS 33.203 §7.1)."""
        return _number(self.params, "spi-s")

    @property
    def port_c(self) -> int | None:
        """The protected client port, TS 33.203 §7.1."""
        return _number(self.params, "port-c")

    @property
    def port_s(self) -> int | None:
        """The protected server port, TS 33.203 §7.1."""
        return _number(self.params, "port-s")

    @property
    def q(self) -> float | None:
        """The preference (RFC 3329 §2.2 ``preference``), None when absent."""
        if "q" not in self.params:
            return None
        value = self.params.get("q") or ""
        if not QVALUE_RE.fullmatch(value):
            raise SipParseError(f"Bad q-value {value[:20]!r} in {self.mechanism}")
        return float(value)

    def copy(self) -> SecurityMechanism:
        return SecurityMechanism(self.mechanism, self.params.copy())

    def __str__(self) -> str:
        return f"{self.mechanism}{self.params}"


def _format_q(q: float) -> str:
    if not 0.0 <= q <= 1.0:
        raise SipParseError(f"Bad q-value {q!r}: not 0..1")
    return f"{q:.3f}".rstrip("0").rstrip(".")


def _lower(value: str | None) -> str | None:
    return value.lower() if value is not None else None


def _number(params: Params, name: str) -> int | None:
    if name not in params:
        return None
    value = params.get(name) or ""
    if not _DIGITS_RE.fullmatch(value) or int(value) > _NUMERIC[name]:
        raise SipParseError(f"Bad {name} {value[:20]!r}: not 0..{_NUMERIC[name]}")
    return int(value)


def _check_params(mech: SecurityMechanism) -> None:
    """Validate the typed parameters and refuse repeated ones."""
    names = mech.params.names()
    for name in names:
        if names.count(name) > 1:
            raise SipParseError(f"Repeated parameter {name!r} in {mech.mechanism}")
    for name in _NUMERIC:
        _number(mech.params, name)
    mech.q  # noqa: B018 -- validates the q-value


def parse_security_mechanism(text: str) -> SecurityMechanism:
    """Parse one ``sec-mechanism`` (RFC 3329 §2.2).

    Raises:
        SipParseError: bad mechanism name, repeated parameter, or an
            out-of-range SPI, port or q-value.
    """
    name, _, rest = text.strip().partition(";")
    name = name.strip()
    if not is_token(name):
        raise SipParseError(f"Bad security mechanism name {name[:40]!r}")
    mech = SecurityMechanism(name, parse_params(rest) if rest else Params())
    _check_params(mech)
    return mech


def parse_security_mechanisms(values: Iterable[str]) -> list[SecurityMechanism]:
    """Parse every ``sec-mechanism`` of the given header values (comma lists).

    Raises:
        SipParseError: if any mechanism is malformed.
    """
    return [parse_security_mechanism(item) for value in values for item in split_list(value)]


def security_mechanisms(msg: Message, header: str) -> list[SecurityMechanism]:
    """The mechanisms of Security-Client, -Server or -Verify (RFC 3329 §2.2), in order.

    An absent header gives an empty list (a plain SIP phone without
    sec-agree, TS 24.229 §5.2.2.1).

    Raises:
        SipParseError: if any mechanism is malformed.
    """
    return parse_security_mechanisms(msg.header_values(header))


def format_security_mechanisms(mechs: Iterable[SecurityMechanism]) -> str:
    """One header value listing ``mechs`` (RFC 3329 §2.2 ``*(COMMA sec-mechanism)``)."""
    return ", ".join(str(m) for m in mechs)


def same_mechanisms(a: Iterable[SecurityMechanism], b: Iterable[SecurityMechanism]) -> bool:
    """Whether two lists name the same mechanisms with the same parameters, in order.

    RFC 3329 §2.3.1 step 5 and TS 33.203 §7.4: the server compares the
    Security-Verify it receives with the Security-Server it sent. Names
    compare case-insensitively, parameters as :class:`Params` do.
    """
    left, right = list(a), list(b)
    return len(left) == len(right) and all(
        x.mechanism.lower() == y.mechanism.lower() and x.params == y.params
        for x, y in zip(left, right, strict=True)
    )
