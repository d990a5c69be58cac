"""Typed configuration: dataclasses, filled from an optional TOML file, then from command-line flags.

Every command that writes outputs also writes the resolved configuration next to them (`config.toml`), so a
run can be repeated and audited. Unknown TOML keys are an error, not a silent no-op.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import tomli_w

from warble.errors import ConfigError

T = TypeVar("T")
NONE = "none"  # how an optional value that is unset (None) is spelled in TOML


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and (value is None or (isinstance(value, str) and value.lower() == NONE)):
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table")
        return from_dict(tp, value, where)
    if origin in (tuple, list, set, frozenset):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list")
        items = [_coerce(args[0], v, where) for v in value] if args else list(value)
        return (origin or list)(items)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool) and not isinstance(value, tp):
        raise ConfigError(f"{where} must be {tp.__name__}, got {value!r}")
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Build dataclass `cls` from a (TOML) dict, type-checking each value; missing keys keep defaults."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"unknown config key(s) in [{where or cls.__name__}]: {', '.join(sorted(unknown))}")
    kwargs = {k: _coerce(hints[k], v, f"{where}.{k}" if where else k) for k, v in data.items()}
    return cls(**kwargs)


def load_toml(path: str | Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    p = Path(path)
    try:
        with open(p, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {p} is not valid TOML: {e}") from None


def to_dict(cfg: Any) -> dict[str, Any]:
    """A TOML-writable dict. TOML has no null, so None (a check switched off) is written as the string "none"."""

    def clean(v: Any) -> Any:
        if v is None:
            return NONE
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple, set, frozenset)):
            return [clean(x) for x in (sorted(v) if isinstance(v, (set, frozenset)) else v)]
        return v

    return clean(dataclasses.asdict(cfg))


def save_toml(cfg: Any, path: str | Path) -> None:
    Path(path).write_text(tomli_w.dumps(to_dict(cfg)), encoding="utf-8")
