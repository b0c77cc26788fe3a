"""Allow-list checks for Socket.IO payloads, run before any rule."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .workshop import fail


@dataclass(frozen=True)
class Field:
    kind: type | tuple[type, ...]
    required: bool = True
    max_len: int | None = None
    min: int | None = None
    max: int | None = None
    choices: tuple | None = None
    item: "Field | None" = None
    max_items: int | None = None


def _check(spec: Field, value: Any) -> Any:
    if spec.kind is int or spec.kind is bool:
        # bool is an int in Python; never take one for the other.
        if type(value) is not spec.kind:
            raise fail("bad_payload")
    elif not isinstance(value, spec.kind):
        raise fail("bad_payload")
    if isinstance(value, str):
        if spec.max_len is not None and len(value) > spec.max_len:
            raise fail("bad_payload")
        if "\x00" in value:
            raise fail("bad_payload")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800") cannot be stored
            raise fail("bad_payload") from None
    if isinstance(value, int) and not isinstance(value, bool):
        if spec.min is not None and value < spec.min:
            raise fail("bad_payload")
        if spec.max is not None and value > spec.max:
            raise fail("bad_payload")
    if spec.choices is not None and value not in spec.choices:
        raise fail("bad_payload")
    if isinstance(value, list):
        if spec.max_items is not None and len(value) > spec.max_items:
            raise fail("bad_payload")
        if spec.item is not None:
            value = [_check(spec.item, v) for v in value]
    return value


def validate(schema: dict[str, Field], data: Any) -> dict[str, Any]:
    """Return only the known fields, checked; unknown keys are dropped."""
    if not isinstance(data, dict):
        raise fail("bad_payload")
    out: dict[str, Any] = {}
    for name, spec in schema.items():
        if name not in data or data[name] is None:
            if spec.required:
                raise fail("bad_payload")
            continue
        out[name] = _check(spec, data[name])
    return out


ID = Field(int, min=1, max=2**31 - 1)
