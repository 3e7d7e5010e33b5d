"""From the merged TOML tree to a :class:`~ims.runtime.config_schema.Config`.

First placeholders are filled in: the core keys (``{domain}``, ``{realm}``,
``{epc_realm}``, ``{mgmt_host}``) and any scalar key of a value's own
section. Then each section is converted into its dataclass, driven by the
type hints of :mod:`ims.runtime.config_schema`: an unknown key, a value of
the wrong type or out of range raises :class:`InvalidKey` at its key path.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

from ims.runtime.config_schema import Config, InvalidKey


def build_config(tree: dict[str, Any]) -> Config:
    """Fill in the placeholders of ``tree``, then convert it into a :class:`Config`.

    Raises:
        InvalidKey: a placeholder is unknown, or a key is unknown, missing,
            mistyped or out of range.
    """
    config = _build(Config, _resolve_placeholders(tree), "")
    assert isinstance(config, Config)
    return config


# --------------------------------------------------------------------------- placeholders

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _scalars(section: Any) -> dict[str, str]:
    if not isinstance(section, Mapping):
        return {}
    return {key: str(value) for key, value in section.items()
            if isinstance(value, str | int) and not isinstance(value, bool)}


def _resolve_placeholders(tree: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(tree.get("core"), Mapping):
        raise InvalidKey("core", f"expected a table, got {_describe(tree.get('core'))}")
    core = _substitute(tree["core"], _scalars(tree["core"]), "core")
    resolved = dict(tree, core=core)
    for name, section in tree.items():
        if name != "core":
            context = {**_scalars(core), **_scalars(section)}
            resolved[name] = _substitute(section, context, name)
    return resolved


def _substitute(value: Any, context: Mapping[str, str], key: str) -> Any:
    if isinstance(value, str):
        return _fill(value, context, key)
    if isinstance(value, list):
        return [_substitute(item, context, f"{key}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, Mapping):
        return {_fill(name, context, f"{key}.{name}"): _substitute(item, context, f"{key}.{name}")
                for name, item in value.items()}
    return value


def _fill(text: str, context: Mapping[str, str], key: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in context:
            known = ", ".join(sorted(context))
            raise InvalidKey(key, f"unknown placeholder {{{name}}} (known here: {known})")
        if "{" in context[name]:
            raise InvalidKey(key, f"placeholder {{{name}}} refers to a value with placeholders")
        return context[name]

    return _PLACEHOLDER.sub(replace, text)


# --------------------------------------------------------------------------- conversion

_TYPE_NAMES = {str: "a string", int: "an integer", bool: "a boolean (true/false)"}


def _describe(value: Any) -> str:
    kinds = {bool: "boolean", int: "integer", float: "float", str: "string",
             list: "array", dict: "table"}
    kind = next((name for cls, name in kinds.items() if isinstance(value, cls)), "value")
    return f"{kind} {value!r}" if kind in ("string", "integer", "float") else kind


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _build(cls: type[Any], value: Any, key: str) -> Any:
    if not isinstance(value, Mapping):
        raise InvalidKey(key or "<top level>", f"expected a table, got {_describe(value)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise InvalidKey(_join(key, unknown[0]),
                        f"unknown key (known in {key or 'the file'}: {', '.join(fields)})")
    hints = get_type_hints(cls, include_extras=True)
    kwargs: dict[str, Any] = {}
    for name, spec in fields.items():
        if name in value:
            kwargs[name] = _convert(value[name], hints[name], _join(key, name))
        elif spec.default is dataclasses.MISSING:
            raise InvalidKey(_join(key, name), "missing")
    return cls(**kwargs)


def _convert(value: Any, hint: Any, key: str) -> Any:
    checks: tuple[Callable[[Any, str], None], ...] = ()
    if get_origin(hint) is Annotated:
        hint, *extra = get_args(hint)
        checks = tuple(extra)
    result = _convert_plain(value, hint, key)
    for check in checks:
        check(result, key)
    return result


def _convert_plain(value: Any, hint: Any, key: str) -> Any:
    origin = get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key)  # type: ignore[arg-type]
    if origin is Literal:
        return _literal(value, get_args(hint), key)
    if origin is tuple:
        return _tuple(value, get_args(hint)[0], key)
    if origin is Mapping:
        return _mapping(value, get_args(hint)[1], key)
    return _scalar(value, hint, key)


def _scalar(value: Any, hint: type[Any], key: str) -> Any:
    if isinstance(value, bool) and hint is not bool or not isinstance(value, hint):
        raise InvalidKey(key, f"expected {_TYPE_NAMES[hint]}, got {_describe(value)}")
    return value


def _literal(value: Any, choices: tuple[str, ...], key: str) -> str:
    if value not in choices:
        wanted = ", ".join(f'"{choice}"' for choice in choices)
        raise InvalidKey(key, f"expected one of {wanted}, got {_describe(value)}")
    return str(value)


def _tuple(value: Any, item: Any, key: str) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise InvalidKey(key, f"expected an array, got {_describe(value)}")
    return tuple(_convert(entry, item, f"{key}[{index}]") for index, entry in enumerate(value))


def _mapping(value: Any, item: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidKey(key, f"expected a table, got {_describe(value)}")
    return {name: _convert(entry, item, f'{key}."{name}"') for name, entry in value.items()}

