"""Dataclass <-> python-diameter mapping for the Cx, Sh and S6a helpers (RFC 6733 §4.4).

Theory of operation. Every command helper in ``cx.py``, ``sh.py`` and
``s6a.py`` has one shape: a frozen dataclass on our side, a python-diameter
command or grouped-AVP class on the library's, and one line per AVP between
them. That line is data here, as python-diameter's own ``avp_def`` is, and
one generic copy runs each way, so each command is a table declared once:

* ``Avp(field, name, codec)`` ties the dataclass ``field`` to the library
  attribute named after the AVP (``"User-Name"`` -> ``user_name``).
  ``codec.put`` turns our value into the library's; ``codec.get`` checks the
  library's value and converts it back, naming the AVP in any ``AvpError``;
* ``absent`` says what reading does when the AVP is missing: ``REQUIRED``
  raises ``AvpError`` (5005 DIAMETER_MISSING_AVP), any other value is the
  field's value (``None`` for an optional AVP). Building leaves a ``None``
  field unset;
* ``Within(name, cls, *avps)`` carries several fields of the same dataclass
  inside one grouped AVP (RTR's Deregistration-Reason); the group is left
  out when none of its members is set;
* ``Shape`` maps a dataclass to a grouped AVP (through ``grouped``);
  ``RequestShape`` and ``AnswerShape`` add the envelope of ``results.py`` and
  give the ``build``/``read`` pair of one command.

Only values are mapped: the library encodes and decodes every AVP. Its
grouped classes default some members to the class itself (Allocation-
Retention-Priority of EPS-Subscribed-QoS-Profile); reading treats a class as
absent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Any, Final, Generic, Protocol, TypeVar

from diameter.message import Message

from .results import (
    Answer,
    ApplicationId,
    AvpError,
    Envelope,
    decode_tbcd,
    encode_tbcd,
    enum_value,
    fill_answer,
    fill_request,
    integer,
    octets,
    read_answer,
    read_envelope,
    text,
)

T = TypeVar("T")
E = TypeVar("E", bound=IntEnum)
F = TypeVar("F", bound=IntFlag)


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: ``Avp(absent=REQUIRED)``: a missing AVP raises ``AvpError``.
REQUIRED: Final = _Required()


def attribute(avp: str) -> str:
    """The library attribute of the AVP named ``avp`` (``"Visited-PLMN-Id"`` -> ``visited_plmn_id``)."""
    return avp.lower().replace("-", "_")


# -- codecs -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Codec:
    """How one AVP's value goes into the library (``put``) and comes back (``get``).

    ``put`` never sees ``None``; ``get(value, avp)`` never sees an absent AVP.
    """

    put: Callable[[Any], Any]
    get: Callable[[Any, str], Any]


def _same(value: Any) -> Any:
    return value


#: UTF8String or DiameterIdentity.
TEXT = Codec(str, text)
#: OctetString holding UTF-8 text (User-Data XML, TS 29.229 §6.3.7).
UTF8 = Codec(str.encode, text)
#: Unsigned32 or Integer32.
INT = Codec(int, integer)
#: OctetString.
OCTETS = Codec(_same, octets)
#: OctetString of TBCD digits (MSISDN: TS 29.329 §6.3.2, TS 29.272 §7.3.2).
TBCD = Codec(encode_tbcd, lambda value, avp: decode_tbcd(octets(value, avp)))


def enum(kind: type[E]) -> Codec:
    """Enumerated, read into ``kind`` (an unknown value is 5004 INVALID_AVP_VALUE)."""
    return Codec(int, lambda value, avp: enum_value(kind, value, avp))


def flags(kind: type[F]) -> Codec:
    """Unsigned32 bit flags, read into ``kind``."""
    return Codec(int, lambda value, avp: kind(integer(value, avp)))


def _listed(value: Any) -> list[Any]:
    """``value`` as a list, whether the library holds one value or several."""
    return value if isinstance(value, list) else [value]


def seq(codec: Codec, *, at_least_one: bool = False) -> Codec:
    """An AVP that may repeat, as a tuple of ``codec`` values."""

    def get(value: Any, avp: str) -> tuple[Any, ...]:
        values = _listed(value)
        if at_least_one and not values:
            raise AvpError(avp)
        return tuple(codec.get(v, avp) for v in values)

    return Codec(lambda values: [codec.put(v) for v in values], get)


def first(codec: Codec) -> Codec:
    """One value sent where the library declares a list; read as the first received."""

    def get(value: Any, avp: str) -> Any:
        values = _listed(value)
        if not values:
            raise AvpError(avp)
        return codec.get(values[0], avp)

    return Codec(lambda value: [codec.put(value)], get)


# -- members of a shape -----------------------------------------------------
class Member(Protocol):
    """One row of a shape: copies between a dataclass and a library object."""

    def put(self, target: Any, value: Any) -> None:
        """Set ``target``'s attributes from the dataclass ``value``."""

    def get(self, source: Any, fields: dict[str, Any]) -> None:
        """Read ``source`` (None: absent) into the dataclass ``fields``."""

    def attributes(self) -> tuple[str, ...]:
        """The library attributes this member sets."""


class Avp:
    """One dataclass field carried by one AVP."""

    __slots__ = ("field", "name", "codec", "absent", "attr")

    def __init__(self, field: str, name: str, codec: Codec, *, absent: Any = REQUIRED) -> None:
        self.field = field
        self.name = name
        self.codec = codec
        self.absent = absent
        self.attr = attribute(name)

    def put(self, target: Any, value: Any) -> None:
        """Set the AVP's attribute on ``target`` from ``value.<field>`` (None stays unset)."""
        ours = getattr(value, self.field)
        setattr(target, self.attr, None if ours is None else self.codec.put(ours))

    def get(self, source: Any, fields: dict[str, Any]) -> None:
        """Read the AVP's attribute of ``source`` into ``fields[<field>]``.

        Raises:
            AvpError: the AVP is required and absent, or its value is unusable.
        """
        raw = None if source is None else getattr(source, self.attr)
        if raw is None or isinstance(raw, type):
            if self.absent is REQUIRED:
                raise AvpError(self.name)
            fields[self.field] = self.absent
        else:
            fields[self.field] = self.codec.get(raw, self.name)

    def attributes(self) -> tuple[str, ...]:
        """The one attribute this AVP sets."""
        return (self.attr,)


class Within:
    """Fields of one dataclass carried inside one grouped AVP of the library class ``cls``."""

    __slots__ = ("name", "cls", "avps", "required", "attr")

    def __init__(self, name: str, cls: Any, *avps: Avp, required: bool = False) -> None:
        self.name = name
        self.cls = cls
        self.avps = avps
        self.required = required
        self.attr = attribute(name)
        _check(cls, avps)

    def put(self, target: Any, value: Any) -> None:
        """Set the group on ``target``, or leave it unset when none of its members is."""
        group = self.cls()
        for avp in self.avps:
            avp.put(group, value)
        members = (getattr(group, avp.attr) for avp in self.avps)
        present = any(m is not None and m != [] for m in members)
        setattr(target, self.attr, group if present else None)

    def get(self, source: Any, fields: dict[str, Any]) -> None:
        """Read the group's members into ``fields`` (absent members, if it is absent).

        Raises:
            AvpError: the group is required and absent, or a member is.
        """
        group = None if source is None else getattr(source, self.attr)
        if group is None and self.required:
            raise AvpError(self.name)
        for avp in self.avps:
            avp.get(group, fields)

    def attributes(self) -> tuple[str, ...]:
        """The grouped AVP's attribute."""
        return (self.attr,)


def _check(cls: Any, members: tuple[Member, ...]) -> None:
    """Fail at import when a member names an AVP ``cls`` does not declare."""
    declared = {d.attr_name for d in cls.avp_def}
    unknown = [a for m in members for a in m.attributes() if a not in declared]
    if unknown:
        raise TypeError(f"{cls.__name__} declares no {', '.join(unknown)}")


# -- shapes -----------------------------------------------------------------
class Shape(Generic[T]):
    """The dataclass ``kind`` as the library class ``cls``, one member per AVP."""

    def __init__(self, kind: Callable[..., T], cls: Any, *members: Member) -> None:
        self.kind = kind
        self.cls = cls
        self.members = members
        _check(cls, members)

    def put(self, target: Any, value: T) -> Any:
        """Set every member of ``target`` from ``value``; returns ``target``."""
        for member in self.members:
            member.put(target, value)
        return target

    def get(self, source: Any, **known: Any) -> T:
        """The dataclass read from ``source``, with the ``known`` fields given.

        Raises:
            AvpError: a required AVP is absent, or a value is unusable.
        """
        fields = dict(known)
        for member in self.members:
            member.get(source, fields)
        return self.kind(**fields)


def grouped(shape: Shape[Any]) -> Codec:
    """A grouped AVP holding the dataclass of ``shape``."""
    return Codec(lambda value: shape.put(shape.cls(), value), lambda group, _avp: shape.get(group))


class _Request(Protocol):
    @property
    def envelope(self) -> Envelope: ...


class _Answer(Protocol):
    @property
    def answer(self) -> Answer: ...


Rq = TypeVar("Rq", bound=_Request)
An = TypeVar("An", bound=_Answer)


def _as(cls: Any, msg: Message) -> Any:
    """``msg`` re-read through ``cls`` (a corrected class), itself if it already is one."""
    return msg if isinstance(msg, cls) else cls(msg.header, list(msg.avps))


class RequestShape(Shape[Rq]):
    """A request: ``build`` and ``read`` for the dataclass with an ``envelope``."""

    def __init__(self, kind: Callable[..., Rq], cls: Any, app: ApplicationId,
                 *members: Member) -> None:
        super().__init__(kind, cls, *members)
        self.app = app

    def build(self, value: Rq) -> Message:
        """The request for ``value``, its envelope included."""
        return self.put(fill_request(self.cls(), self.app, value.envelope), value)

    def read(self, msg: Message) -> Rq:
        """Read a received request.

        Raises:
            AvpError: a mandatory AVP is missing, or a value is unusable.
        """
        msg = _as(self.cls, msg)
        return self.get(msg, envelope=read_envelope(msg))


class AnswerShape(Shape[An]):
    """An answer: ``build`` from the request and ``read`` for the dataclass with an ``answer``."""

    def build(self, request: Message, value: An) -> Message:
        """The answer to ``request`` for ``value`` (header identifiers copied, result set)."""
        return self.put(fill_answer(self.cls(), request, value.answer), value)

    def read(self, msg: Message) -> An:
        """Read a received answer.

        Raises:
            AvpError: a mandatory AVP or the result is missing, or a value is unusable.
        """
        msg = _as(self.cls, msg)
        return self.get(msg, answer=read_answer(msg))
