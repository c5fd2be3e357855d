"""Typed events: one frozen dataclass per Responses streaming event type, and the parser.

Every wire ``type`` of the Responses API (the official SDK's, plus
``response.apply_patch_call_operation_diff.delta/.done`` and ``keepalive`` seen on the wire) has
a class, named after the type without ``response.`` in CamelCase (``response.output_text.delta``
-> :class:`OutputTextDelta`; lifecycle events keep the prefix: :class:`ResponseCompleted`;
``error`` is :class:`ErrorEvent`). Each class carries its wire type in ``TYPE`` and the handler
method it dispatches to in ``HANDLER``. The classes come from the catalogue
(``responses_stream/_catalogue.json``): a new event type is one line there.

:func:`parse_event` turns a decoded JSON payload into an event without validation: unknown
keys are kept as attributes, missing ones read as ``None``, and ``event.to_dict()`` gives back
exactly what arrived. A ``type`` this version does not know becomes :class:`UnknownEvent`.
"""

from __future__ import annotations

import json
from typing import Any, Callable, ClassVar, Dict, Mapping, Optional, Tuple, Type, TypeVar

from . import _event_types
from ._base import Event, UnknownEvent, event_class, event_types
from ._event_types import *  # noqa: F403 - the generated catalogue is part of this module
from ._event_types import LIFECYCLE_STATUS, TERMINAL_TYPES
from ._records import dataclass
from .errors import ProtocolError

E = TypeVar("E", bound=Event)


@dataclass(frozen=True, repr=False, eq=False)
class KeepAlive(Event):
    """A heartbeat: a ``keepalive`` event, or an SSE comment line (then ``comment`` holds it).

    Dispatched to ``on_keep_alive()``; it changes nothing in the response.
    """

    TYPE: ClassVar[str] = "keepalive"
    HANDLER: ClassVar[str] = "on_keep_alive"
    ALIASES: ClassVar[Tuple[str, ...]] = ("response.keep_alive",)
    type: str = "keepalive"
    comment: Optional[str] = None


@dataclass(frozen=True, repr=False, eq=False)
class ErrorEvent(Event):
    """``error``: the server reports an error in the stream.

    OpenAI documents a flat event but sends a nested one (``{"error": {"code": ...}}``); both
    are normalised to ``code``, ``message``, ``param``, ``error_type`` and ``headers`` (rate-limit
    headers some servers put inside the error); ``error`` keeps the nested object as it came.
    """

    TYPE: ClassVar[str] = "error"
    HANDLER: ClassVar[str] = "on_error"
    type: str = "error"
    code: Optional[str] = None
    message: Optional[str] = None
    param: Optional[str] = None
    error_type: Optional[str] = None
    headers: Optional[Dict[str, str]] = None
    error: Optional[Dict[str, Any]] = None

    @classmethod
    def from_wire(cls: Type[E], data: Mapping[str, Any]) -> E:
        event = super().from_wire(data)
        nested = data.get("error")
        inner: Mapping[str, Any] = nested if isinstance(nested, dict) else {}
        attrs = event.__dict__
        for key in ("code", "message", "param"):  # flat first, then nested
            if attrs.get(key) is None and inner.get(key) is not None:
                attrs[key] = inner[key]
        for key in ("code", "message", "param"):
            value = attrs.get(key)
            if value is not None and not isinstance(value, str):
                attrs[key] = str(value)  # vLLM sends the HTTP status as an int code
        if isinstance(nested, str) and attrs.get("message") is None:
            attrs["message"] = nested
        kind = data.get("type")
        error_type = inner.get("type") or (kind if kind not in (None, "error") else None)
        attrs["error_type"] = error_type if isinstance(error_type, str) else None
        headers = inner.get("headers", data.get("headers"))
        attrs["headers"] = dict(headers) if isinstance(headers, dict) else None
        return event


EVENT_TYPES: Dict[str, Type[Event]] = event_types()
"""Every known wire ``type`` mapped to its event class."""

_DATA_ERRORS = (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError)
"""What malformed JSON or a payload of the wrong shape raises while it is parsed."""


def parse_event(data: Any) -> Event:
    """Turn one decoded JSON payload into its typed event.

    The JSON ``type`` picks the class; a payload without a ``type`` but with an ``error`` key (as
    LiteLLM sends on mid-stream failure) is an :class:`ErrorEvent`; anything else unknown is an
    :class:`UnknownEvent` carrying the whole payload. Raises
    :class:`~responses_stream.errors.ProtocolError`, and nothing else, for a value that is not
    a JSON object or an object of the wrong shape (``response`` or ``item`` that is not an
    object, for instance).
    """
    if type(data) is not dict:
        raise ProtocolError(f"an event must be a JSON object, got {_shown(data)}", data=data)
    try:
        return event_class(data).from_wire(data)
    except _DATA_ERRORS as exc:
        raise _malformed(exc, data) from exc


def decode(name: str, text: str) -> Event:
    """One SSE message (its event name and data) -> its typed event: the SDK's per-event step.

    A payload without ``type`` takes it from the SSE ``event:`` name (some servers put it only
    there). Raises :class:`~responses_stream.errors.ProtocolError` for data that is not a JSON
    object or has the wrong shape.
    """
    try:
        # The C scanner directly: json.loads would add three Python frames per event. Text
        # it does not consume whole (whitespace around it, garbage) goes through json.loads,
        # which accepts the first and raises the usual JSONDecodeError for the rest.
        try:
            data, end = _scan(text, 0)
            if end != len(text):
                data = _loads(text)
        except StopIteration:
            data = _loads(text)
        if type(data) is not dict:
            raise ProtocolError(f"an SSE data line is JSON but not an object: {text[:200]!r}")
        kind = data.get("type")
        cls = _EVENT_CLASSES.get(kind) if type(kind) is str else None
        if cls is not None:
            return cls.from_wire(data)
        if kind is None and name != "message" and "type" not in data:
            named = dict(data, type=name)
            event = event_class(named).from_wire(named)
            event.__dict__["_raw"] = data  # to_dict() gives back what arrived
            return event
        return event_class(data).from_wire(data)
    except ProtocolError as exc:
        exc.data = text
        raise
    except json.JSONDecodeError as exc:
        raise ProtocolError(
            f"an SSE data line is not valid JSON ({exc}): {text[:200]!r}", data=text
        ) from exc
    except _DATA_ERRORS as exc:
        raise _malformed(exc, text) from exc


_loads = json.loads
# The scanner json.loads ends in (C in CPython); typeshed does not declare the attribute.
_scan: Callable[[str, int], Tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_EVENT_CLASSES = EVENT_TYPES


def _shown(data: Any) -> str:
    text = repr(data)
    return text if len(text) <= 200 else text[:200] + "..."


def _malformed(exc: BaseException, data: Any) -> ProtocolError:
    what = "nested too deeply" if isinstance(exc, RecursionError) else f"malformed ({exc})"
    return ProtocolError(f"an event is {what}: {_shown(data)}", data=data)


__all__ = [
    "EVENT_TYPES",
    "LIFECYCLE_STATUS",
    "TERMINAL_TYPES",
    "ErrorEvent",
    "Event",
    "KeepAlive",
    "UnknownEvent",
    "parse_event",
]
__all__ += _event_types.__all__
