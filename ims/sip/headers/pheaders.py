"""IMS private and registration headers: RFC 7315, RFC 3325, RFC 3327, RFC 3608.

Typed values for P-Charging-Vector (RFC 7315 §4.6, TS 24.229 §7.2A.5),
P-Access-Network-Info (RFC 7315 §4.4, TS 24.229 §7.2A.4),
P-Visited-Network-ID (RFC 7315 §4.3) and P-Charging-Function-Addresses
(RFC 7315 §4.5), plus thin accessors for the address headers the CSCFs act
on: P-Asserted-Identity / P-Preferred-Identity (RFC 3325 §9), P-Associated-URI
(RFC 7315 §4.1), Path (RFC 3327 §4) and Service-Route (RFC 3608 §5).

Parameters keep their order and spelling; typed properties return values
with quotes removed. ``gen-value`` (RFC 3261 §25.1: token / host /
quoted-string) is written bare when it is a token or host, else quoted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ims.sip.errors import SipParseError
from ims.sip.headers._abnf import IPV6_REFERENCE_RE, is_quoted_string, is_token
from ims.sip.headers.nameaddr import NameAddr
from ims.sip.headers.params import Params, parse_params, quote, split_list, split_quoted, unquote

if TYPE_CHECKING:
    from ims.sip.message import Message

def _gen_value(value: str) -> str:
    """``gen-value = token / host / quoted-string`` (RFC 3261 §25.1) for ``value``."""
    if is_token(value) or IPV6_REFERENCE_RE.fullmatch(value):
        return value
    return quote(value)


def _unquoted(params: Params, name: str) -> str | None:
    value = params.get(name)
    return unquote(value) if value is not None else None


def _head_and_params(text: str, what: str) -> tuple[str, Params]:
    """Split ``head *(SEMI generic-param)``; the head is returned as written."""
    head, *rest = split_quoted(text.strip(), ";")
    head = head.strip()
    if not head:
        raise SipParseError(f"Empty {what}")
    return head, parse_params(";".join(rest)) if rest else Params()


def _single_value(msg: Message, header: str, what: str) -> str | None:
    values = msg.header_values(header)
    if len(values) > 1:
        raise SipParseError(f"Multiple {what} header fields")
    return values[0] if values else None


# -- P-Charging-Vector ------------------------------------------------------
@dataclass(slots=True)
class ChargingVector:
    """``P-Charging-Vector`` (RFC 7315 §4.6): the IMS charging identifier and IOIs.

    ``icid_value`` is stored without quotes; ``params`` holds every other
    parameter (icid-generated-at, orig-ioi, term-ioi, transit-ioi ...) as written.
    """

    icid_value: str
    params: Params = field(default_factory=Params)

    @property
    def icid_generated_at(self) -> str | None:
        """The host that generated the ICID (RFC 7315 §4.6 ``icid-gen-addr``)."""
        return _unquoted(self.params, "icid-generated-at")

    @property
    def orig_ioi(self) -> str | None:
        """Originating Inter Operator Identifier (RFC 7315 §4.6)."""
        return _unquoted(self.params, "orig-ioi")

    @property
    def term_ioi(self) -> str | None:
        """Terminating Inter Operator Identifier (RFC 7315 §4.6)."""
        return _unquoted(self.params, "term-ioi")

    def set_param(self, name: str, value: str) -> None:
        """Set ``name`` (e.g. ``orig-ioi``) to ``value``, quoting it if needed."""
        self.params.set(name, _gen_value(value))

    def __str__(self) -> str:
        return f"icid-value={_gen_value(self.icid_value)}{self.params}"


def parse_charging_vector(text: str) -> ChargingVector:
    """Parse a P-Charging-Vector value (RFC 7315 §4.6).

    ``icid-value`` is accepted in any position and written first.

    Raises:
        SipParseError: malformed parameters, or no (or a repeated) icid-value.
    """
    params = parse_params(text)
    names = params.names()
    if names.count("icid-value") != 1:
        raise SipParseError("P-Charging-Vector needs exactly one icid-value")
    icid = params.get("icid-value")
    if not icid:
        raise SipParseError("P-Charging-Vector with empty icid-value")
    params.remove("icid-value")
    return ChargingVector(unquote(icid), params)


def charging_vector(msg: Message) -> ChargingVector | None:
    """The P-Charging-Vector of ``msg`` (RFC 7315 §4.6), None if absent.

    Raises:
        SipParseError: malformed, or more than one header field.
    """
    value = _single_value(msg, "p-charging-vector", "P-Charging-Vector")
    return parse_charging_vector(value) if value is not None else None


# -- P-Charging-Function-Addresses -----------------------------------------
@dataclass(slots=True)
class ChargingFunctionAddresses:
    """``P-Charging-Function-Addresses`` (RFC 7315 §4.5): CCF and ECF lists."""

    params: Params = field(default_factory=Params)

    @classmethod
    def build(cls, ccf: list[str], ecf: list[str] | None = None) -> ChargingFunctionAddresses:
        """The value listing ``ccf`` then ``ecf`` addresses in order."""
        items: list[tuple[str, str | None]] = [("ccf", _gen_value(a)) for a in ccf]
        items += [("ecf", _gen_value(a)) for a in ecf or []]
        return cls(Params(items))

    @property
    def ccf(self) -> list[str]:
        """Charging Collection Function addresses, in preference order."""
        return self._all("ccf")

    @property
    def ecf(self) -> list[str]:
        """Event Charging Function addresses, in preference order."""
        return self._all("ecf")

    def _all(self, name: str) -> list[str]:
        return [unquote(v or "") for k, v in self.params.items() if k.lower() == name]

    def __str__(self) -> str:
        return str(self.params)[1:]


def parse_charging_function_addresses(text: str) -> ChargingFunctionAddresses:
    """Parse a P-Charging-Function-Addresses value (RFC 7315 §4.5).

    Raises:
        SipParseError: malformed or empty.
    """
    params = parse_params(text)
    if not len(params):
        raise SipParseError("Empty P-Charging-Function-Addresses")
    return ChargingFunctionAddresses(params)


def charging_function_addresses(msg: Message) -> ChargingFunctionAddresses | None:
    """The P-Charging-Function-Addresses of ``msg`` (RFC 7315 §4.5), None if absent.

    Raises:
        SipParseError: malformed, or more than one header field.
    """
    value = _single_value(msg, "p-charging-function-addresses", "P-Charging-Function-Addresses")
    return parse_charging_function_addresses(value) if value is not None else None


# -- P-Access-Network-Info --------------------------------------------------
@dataclass(slots=True)
class AccessNetworkInfo:
    """One ``access-net-spec`` of P-Access-Network-Info (RFC 7315 §4.4).

    ``access_type`` is the access-type or access-class token as written
    (``3GPP-E-UTRAN-FDD``, ``IEEE-802.11`` ...).
    """

    access_type: str
    params: Params = field(default_factory=Params)

    @property
    def utran_cell_id_3gpp(self) -> str | None:
        """MCC, MNC, TAC/LAC and cell identity (TS 24.229 §7.2A.4.3), unquoted."""
        return _unquoted(self.params, "utran-cell-id-3gpp")

    @property
    def cgi_3gpp(self) -> str | None:
        """The GERAN cell global identity (TS 24.229 §7.2A.4.3), unquoted."""
        return _unquoted(self.params, "cgi-3gpp")

    @property
    def network_provided(self) -> bool:
        """The ``network-provided`` flag (RFC 7315 §5.4 ``np``; TS 24.229 §7.2A.4.3).

        Set when the P-CSCF (not the UE) inserted this access-net-spec.
        """
        return "network-provided" in self.params

    def get(self, name: str) -> str | None:
        """Any access-info parameter, unquoted."""
        return _unquoted(self.params, name)

    def __str__(self) -> str:
        return f"{self.access_type}{self.params}"


def parse_access_network_info(text: str) -> AccessNetworkInfo:
    """Parse one access-net-spec (RFC 7315 §4.4).

    Raises:
        SipParseError: a missing or non-token access-type, bad parameters.
    """
    head, params = _head_and_params(text, "P-Access-Network-Info")
    if not is_token(head):
        raise SipParseError(f"Bad access-type {head[:40]!r}")
    return AccessNetworkInfo(head, params)


def access_network_info(msg: Message) -> list[AccessNetworkInfo]:
    """Every access-net-spec of P-Access-Network-Info, in order (RFC 7315 §4.4).

    Raises:
        SipParseError: if a value is malformed.
    """
    return [
        parse_access_network_info(item)
        for value in msg.header_values("p-access-network-info")
        for item in split_list(value)
    ]


# -- P-Visited-Network-ID ---------------------------------------------------
@dataclass(slots=True)
class VisitedNetworkId:
    """One ``vnetwork-spec`` of P-Visited-Network-ID (RFC 7315 §4.3).

    ``value`` is the network identifier without quotes.
    """

    value: str
    params: Params = field(default_factory=Params)

    def __str__(self) -> str:
        bare = is_token(self.value)
        return f"{self.value if bare else quote(self.value)}{self.params}"


def parse_visited_network_id(text: str) -> VisitedNetworkId:
    """Parse one ``vnetwork-spec = (token / quoted-string) *(SEMI vnetwork-param)``.

    Raises:
        SipParseError: if the identifier is neither a token nor a quoted string.
    """
    head, params = _head_and_params(text, "P-Visited-Network-ID")
    if not is_quoted_string(head) and not is_token(head):
        raise SipParseError(f"Bad P-Visited-Network-ID {head[:40]!r}")
    return VisitedNetworkId(unquote(head), params)


def visited_network_ids(msg: Message) -> list[VisitedNetworkId]:
    """Every P-Visited-Network-ID value, in order (RFC 7315 §4.3).

    The I-CSCF passes them to the HSS in the UAR (TS 29.228 §6.1.1).

    Raises:
        SipParseError: if a value is malformed.
    """
    return [
        parse_visited_network_id(item)
        for value in msg.header_values("p-visited-network-id")
        for item in split_list(value)
    ]


# -- identities and routes --------------------------------------------------
def _identity_kind(addr: NameAddr, header: str) -> str:
    scheme = addr.uri.scheme.lower()
    if scheme in ("sip", "sips"):
        return "sip"
    if scheme == "tel":
        return "tel"
    raise SipParseError(f"{header} with a {scheme}: URI (RFC 3325 §9: sip, sips or tel)")


def _identities(msg: Message, key: str, header: str) -> list[NameAddr]:
    """RFC 3325 §9.1/§9.2: one or two values, at most one sip/sips and one tel."""
    ids = msg.addresses(key)
    kinds = [_identity_kind(a, header) for a in ids]
    if len(kinds) != len(set(kinds)):
        raise SipParseError(f"{header} with two URIs of one kind (RFC 3325 §9)")
    return ids


def asserted_identities(msg: Message) -> list[NameAddr]:
    """P-Asserted-Identity values (RFC 3325 §9.1), empty when absent.

    Raises:
        SipParseError: a malformed value, a URI other than sip/sips/tel, or
            two sip/sips (or two tel) URIs.
    """
    return _identities(msg, "p-asserted-identity", "P-Asserted-Identity")


def preferred_identities(msg: Message) -> list[NameAddr]:
    """P-Preferred-Identity values (RFC 3325 §9.2), empty when absent.

    Raises:
        SipParseError: as for :func:`asserted_identities`.
    """
    return _identities(msg, "p-preferred-identity", "P-Preferred-Identity")


def select_identity(ids: list[NameAddr], scheme: str) -> NameAddr | None:
    """The identity with a ``sip`` (sip or sips) or ``tel`` URI, None if none."""
    want = "sip" if scheme.lower() in ("sip", "sips") else scheme.lower()
    for addr in ids:
        have = addr.uri.scheme.lower()
        if (have in ("sip", "sips") and want == "sip") or have == want:
            return addr
    return None


def associated_uris(msg: Message) -> list[NameAddr]:
    """P-Associated-URI values: the registered implicit set (RFC 7315 §4.1).

    Raises:
        SipParseError: if a value is malformed.
    """
    return msg.addresses("p-associated-uri")


def path(msg: Message) -> list[NameAddr]:
    """Path values, top first (RFC 3327 §4, §5).

    Raises:
        SipParseError: if a value is malformed.
    """
    return msg.addresses("path")


def service_routes(msg: Message) -> list[NameAddr]:
    """Service-Route values, top first (RFC 3608 §5, §6).

    Raises:
        SipParseError: if a value is malformed.
    """
    return msg.addresses("service-route")
