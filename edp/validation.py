"""Allow-list checks for Socket.IO payloads, run before any rule."""
from __future__ import annotations

import json as _json
import math
from dataclasses import dataclass
from typing import Any

from socketio import packet as socketio_packet

from .workshop import fail


@dataclass(frozen=True)
class Field:
    kind: type | tuple[type, ...]
    required: bool = True
    max_len: int | None = None
    min: int | None = None
    max: int | None = None
    choices: tuple | None = None
    item: Field | None = None
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

# A client's id for one action (a retry after a lost ack sends the same one): see `propose`,
# `comment` and `join` in workshop.py. Accepted, and checked, on every participant event.
CLIENT_ID = Field(str, required=False, max_len=64)


# ---------------------------------------------------------------- decoding the wire


class Unreadable:
    """Stands for a number JSON can spell but Python should not hold (NaN, ±Infinity, 1e999,
    an integer of thousands of digits). No schema field accepts it, so it ends as bad_payload."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text[:40]

    def __repr__(self) -> str:
        return f"Unreadable({self.text!r})"


# A frame that names an event but cannot be read is delivered as this event, whose handler
# answers bad_payload through the frame's ack id instead of dropping it silently.
MALFORMED_EVENT = "edp:malformed"
RESERVED_EVENTS = ("connect", "disconnect", "connect_error", MALFORMED_EVENT)
MAX_INT_DIGITS = 50


def _parse_int(text: str):
    # Python refuses integers above 4,300 digits (and is slow well before that).
    return int(text) if len(text) <= MAX_INT_DIGITS else Unreadable(text)


def _parse_float(text: str):
    value = float(text)
    return value if math.isfinite(value) else Unreadable(text)


def finite(obj: Any) -> Any:
    """The same value with NaN and infinities as null, in nested dicts and lists: JSON has no
    spelling for them (browsers cannot parse them). The one NaN cleaner: socket payloads here,
    the JSON record in `exports`."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def _json_default(obj: Any) -> Any:
    from flask.json.provider import _default  # dates, decimals, uuids, dataclasses

    if isinstance(obj, Unreadable):
        return None
    return _default(obj)


class WireJSON:
    """Decodes without ever holding absurd numbers; encodes only what browsers can parse."""

    @staticmethod
    def loads(text, *args, **kwargs):
        return _json.loads(text, parse_int=_parse_int, parse_float=_parse_float,
                           parse_constant=Unreadable)

    @staticmethod
    def dumps(obj, *args, **kwargs):
        kwargs.setdefault("default", _json_default)
        kwargs.setdefault("separators", (",", ":"))
        try:
            return _json.dumps(obj, *args, allow_nan=False, **kwargs)
        except ValueError:
            return _json.dumps(finite(obj), *args, allow_nan=False, **kwargs)


class WirePacket(socketio_packet.Packet):
    """Socket.IO packets as this server reads them: an event frame that is not JSON, nests
    deeper than the parser follows, has no event name or broken binary attachments becomes a
    `MALFORMED_EVENT` (answered with bad_payload) instead of an exception in the transport."""

    json = WireJSON

    def decode(self, encoded_packet):
        try:
            count = super().decode(encoded_packet)
        except (ValueError, RecursionError, TypeError):
            if self.packet_type not in (socketio_packet.EVENT, socketio_packet.BINARY_EVENT):
                raise
            self.packet_type, self.data = socketio_packet.EVENT, [MALFORMED_EVENT]
            return 0
        if self.packet_type in (socketio_packet.EVENT, socketio_packet.BINARY_EVENT):
            data = self.data
            if (not isinstance(data, list) or not data or not isinstance(data[0], str)
                    or data[0] in RESERVED_EVENTS):
                self.packet_type, self.data = socketio_packet.EVENT, [MALFORMED_EVENT]
                return 0
        return count

    def add_attachment(self, attachment):
        try:
            return super().add_attachment(attachment)
        except (ValueError, IndexError, KeyError, TypeError, RecursionError):
            # Still a binary event (an ack would be misrouted): only its data is replaced.
            self.data = [MALFORMED_EVENT]
            return True
