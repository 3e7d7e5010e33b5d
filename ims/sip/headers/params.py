"""Generic parameters and list splitting (RFC 3261 §7.3.1, §25.1 ``generic-param``).

Parameters keep the order and the spelling they arrived with, so a header
that is re-serialised unchanged reads the same; lookups are case-insensitive
on the name, as RFC 3261 §7.3.1 requires for parameter names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ims.sip.errors import SipParseError


class Params:
    """An ordered, case-insensitive mapping ``name -> value | None``.

    ``None`` is a flag parameter without value (``;lr``); ``""`` is a
    parameter written with an empty value (``;tag=``).
    """

    __slots__ = ("_items",)

    def __init__(self, items: list[tuple[str, str | None]] | None = None) -> None:
        self._items: list[tuple[str, str | None]] = list(items or [])

    def _index(self, name: str) -> int:
        low = name.lower()
        for i, (key, _) in enumerate(self._items):
            if key.lower() == low:
                return i
        return -1

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._index(name) >= 0

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of ``name`` (``None`` for a flag), or ``default`` if absent."""
        i = self._index(name)
        return self._items[i][1] if i >= 0 else default

    def set(self, name: str, value: str | None = None) -> None:
        """Set ``name`` in place if present (keeping its position), else append."""
        i = self._index(name)
        if i >= 0:
            self._items[i] = (self._items[i][0], value)
        else:
            self._items.append((name, value))

    def remove(self, name: str) -> None:
        """Remove ``name`` if present."""
        i = self._index(name)
        if i >= 0:
            del self._items[i]

    def items(self) -> list[tuple[str, str | None]]:
        """The parameters in their original order."""
        return list(self._items)

    def names(self) -> list[str]:
        """Lower-cased parameter names, in order."""
        return [key.lower() for key, _ in self._items]

    def copy(self) -> Params:
        """An independent copy."""
        return Params(self._items)

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Params):
            return NotImplemented
        mine = {k.lower(): v for k, v in self._items}
        theirs = {k.lower(): v for k, v in other._items}
        return mine == theirs

    def __repr__(self) -> str:
        return f"Params({self._items!r})"

    def __str__(self) -> str:
        """Serialise as ``;name=value;flag`` (empty string when there are none)."""
        return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self._items)


def parse_params(text: str, sep: str = ";") -> Params:
    """Parse ``;a=b;c;d="q;x"`` (leading separator optional) into :class:`Params`.

    Quoted values keep their quotes, so a value re-serialises byte for byte.
    LWS around ``;`` and ``=`` is allowed (RFC 3261 §25.1 ``SEMI``, ``EQUAL``);
    an empty parameter (``;;``, a trailing ``;``) is not: ``generic-param``
    needs a token (RFC 4475 §3.1.2.1).

    Raises:
        SipParseError: on an unterminated quoted string, an empty parameter,
            a bad name, or an unquoted value containing whitespace.
    """
    params = Params()
    items = params._items
    chunks = split_quoted(text, sep)
    if chunks and not chunks[0].strip(" \t"):
        del chunks[0]  # the optional leading separator
    for chunk in chunks:
        name, eq, value = chunk.partition("=")
        name = name.strip(" \t")
        if not name or not _is_param_name(name):
            raise SipParseError(f"Bad parameter name {name[:40]!r}" if name else "Empty parameter")
        if not eq:
            items.append((name, None))
            continue
        value = value.strip(" \t")
        if (" " in value or "\t" in value) and not value.startswith('"'):
            raise SipParseError(f"Whitespace in parameter value {value[:40]!r}")
        items.append((name, value))
    return params


_BAD_NAME_CHARS = frozenset(' \t"<>,;=@\r\n\0')


def _is_param_name(name: str) -> bool:
    """A parameter name: RFC 3261 ``token`` or URI ``paramchar`` text, no separators."""
    return _BAD_NAME_CHARS.isdisjoint(name)


def split_quoted(text: str, sep: str) -> list[str]:  # noqa: C901 -- one scanner loop
    """Split ``text`` on ``sep`` outside double quotes and angle brackets.

    Backslash escapes inside quoted strings are honoured (RFC 3261 §25.1
    ``quoted-pair``). Only the special characters are visited (one regex
    scan), so long plain stretches cost nothing in Python.

    Raises:
        SipParseError: on an unterminated quoted string or ``<``.
    """
    if '"' not in text and "<" not in text:
        return text.split(sep)
    parts: list[str] = []
    start = skip = 0
    in_quote = in_angle = False
    for match in _specials(sep).finditer(text):
        i = match.start()
        c = text[i]
        if i < skip:
            continue  # the character after a backslash
        if in_quote:
            if c == "\\":
                skip = i + 2
            elif c == '"':
                in_quote = False
        elif c == '"':
            in_quote = True
        elif c == "<" or c == ">":
            in_angle = c == "<"
        elif c == sep and not in_angle:
            parts.append(text[start:i])
            start = i + 1
    if in_quote:
        raise SipParseError("Unterminated quoted string")
    if in_angle:
        raise SipParseError("Unterminated <")
    parts.append(text[start:])
    return parts


_SPECIALS: dict[str, re.Pattern[str]] = {}


def _specials(sep: str) -> re.Pattern[str]:
    pattern = _SPECIALS.get(sep)
    if pattern is None:
        pattern = _SPECIALS[sep] = re.compile(f'["<>\\\\{re.escape(sep)}]')
    return pattern


def split_list(value: str) -> list[str]:
    """Split a comma-joined header value into its elements (RFC 3261 §7.3.1).

    Commas inside quoted strings and ``<...>`` do not split.
    Empty elements (``a,,b``) are dropped.
    """
    if "," not in value:
        stripped = value.strip()
        return [stripped] if stripped else []
    return [p.strip() for p in split_quoted(value, ",") if p.strip()]


def unquote(value: str) -> str:
    """Remove surrounding double quotes and resolve ``quoted-pair`` escapes."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        inner = value[1:-1]
        if "\\" not in inner:
            return inner
        out: list[str] = []
        i = 0
        while i < len(inner):
            if inner[i] == "\\" and i + 1 < len(inner):
                i += 1
            out.append(inner[i])
            i += 1
        return "".join(out)
    return value


def quote(value: str) -> str:
    """Quote ``value`` as a ``quoted-string``, escaping ``"`` and ``\\``."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
