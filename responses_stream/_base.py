"""The shared base of events and models: building from wire JSON, ``to_dict``, repr, equality.

Everything the SDK receives is decoded JSON. :meth:`Record.from_wire` turns a payload into an
instance without validation and without dataclasses-json (it would cost more than parsing the
event): every key that arrived becomes an attribute, unknown keys included, and nested objects
listed in ``_CONVERT`` become models. :class:`Event` (frozen, keeps the payload it came from)
and :class:`Model` (mutable: the SDK updates snapshots in place) differ only where the rest of
the SDK needs them to.

Event classes register their wire ``type`` when they are defined; :func:`event_class` picks the
class for a payload, so the catalogue of types is data (``_catalogue.json``), not code here.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import decimal
import enum
import json
import math
import uuid
from dataclasses import field, fields
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Dict,
    FrozenSet,
    Mapping,
    Optional,
    Tuple,
    Type,
    TypeVar,
)

from ._records import dataclass

R = TypeVar("R", bound="Record")


def _reserved_names(cls: type) -> FrozenSet[str]:
    """Names a wire key must not shadow on instances of ``cls`` (its methods and properties)."""
    names = {
        name
        for klass in cls.__mro__
        for name, value in vars(klass).items()
        if callable(value) or isinstance(value, (classmethod, staticmethod, property))
    }
    return frozenset(n for n in names if not n.startswith("__"))


def _private(key: Any) -> bool:
    """A key shaped like the SDK's own state on a model (``_partial_arguments``, ...)."""
    return type(key) is str and key[:1] == "_"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError(f"the number {text[:40]} is too large for a float")
    return value


def loads_strict(text: str) -> Any:
    """``json.loads`` for JSON a model wrote (arguments, structured output): ``NaN`` and
    ``Infinity``, which JSON does not have, are refused (so is a number too large for a
    float, ``1e400``, which would read as infinity), and nesting too deep for Python is a
    ``ValueError`` like any other invalid JSON (not a ``RecursionError``)."""
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError("it nests too deeply") from None


def json_default(value: Any) -> Any:
    """``json.dumps(default=...)`` for values JSON has no type for (the wire only ever brings
    JSON types; objects you build yourself, tool results, may hold others)."""
    if isinstance(value, Record):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dump(value: Any) -> Any:
    """Turn a tree of records back into plain JSON-compatible values (copying containers)."""
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, list):
        return [dump(v) for v in value]
    if isinstance(value, dict):
        return {k: dump(v) for k, v in value.items()}
    return value


def _fields(obj: Any) -> Tuple[Any, ...]:
    """The dataclass fields of a record (every concrete record class is a dataclass)."""
    return fields(obj)


def _field_values(obj: Any) -> Tuple[Any, ...]:
    return tuple(getattr(obj, f.name) for f in _fields(obj) if f.compare)


def text_field(value: Any) -> str:
    """A ``_CONVERT`` step for a field the SDK joins, appends to or parses as text: a string
    (null never reaches it), else a TypeError, which makes the event a ProtocolError."""
    if type(value) is not str:
        raise TypeError(f"a text field must be a string, got {type(value).__name__}: {value!r:.80}")
    return value


class Record:  # noqa: PLW1641 - Model is unhashable, Event hashes its fields
    """Base of every event and model: wire construction, repr, equality, JSON conversions."""

    # (key, converter) pairs applied to a key's non-null value when built from the wire.
    _CONVERT: ClassVar[Tuple[Tuple[str, Any], ...]] = ()
    # Keys whose absence would break accumulation; filled with an empty list when missing.
    _LISTS: ClassVar[Tuple[str, ...]] = ()
    # Class attributes a wire key must not shadow (methods, properties); set per class.
    _RESERVED: ClassVar[FrozenSet[str]] = frozenset()
    # Keep the payload itself (events: to_dict() gives back exactly what arrived).
    _KEEP_RAW: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._RESERVED = _reserved_names(cls) | {"_raw", "_extra"}

    @classmethod
    def from_wire(cls: Type[R], data: Mapping[str, Any]) -> R:
        """Build an instance from decoded JSON, keeping every key (unknown ones too).

        Called by the SDK for every object it receives: no validation, no copies of nested
        containers it does not convert. A key named like a method is kept aside (it comes back
        from :meth:`to_dict`) so it cannot shadow the method; so is, on a model, a key that
        starts with ``_`` (still readable as an attribute), which cannot replace the state the
        SDK keeps on its snapshots.
        """
        if type(data) is not dict and not isinstance(data, Mapping):
            raise TypeError(f"{cls.__name__} needs a JSON object, got {type(data).__name__}")
        obj = object.__new__(cls)
        attrs = obj.__dict__
        reserved = cls._RESERVED
        if reserved.isdisjoint(data) and (cls._KEEP_RAW or not any(map(_private, data))):
            attrs.update(data)
        else:
            # Events keep their payload whole (``_raw``); a model keeps its own state under
            # ``_`` names, so a wire key starting with ``_`` is kept aside like a method's name.
            aside = {
                k: v
                for k, v in data.items()
                if k in reserved or (not cls._KEEP_RAW and _private(k))
            }
            attrs.update({k: v for k, v in data.items() if k not in aside})
            attrs["_extra"] = aside
        for key, convert in cls._CONVERT:
            value = attrs.get(key)
            if value is not None:
                attrs[key] = convert(value)
        for key in cls._LISTS:
            if attrs.get(key) is None:
                attrs[key] = []
        if cls._KEEP_RAW:
            attrs["_raw"] = data
        return obj

    @classmethod
    def from_dict(cls: Type[R], kvs: Any, *, infer_missing: bool = False) -> R:
        """Build an instance from a mapping, as the SDK does for wire data."""
        if not isinstance(kvs, Mapping):
            raise TypeError(f"{cls.__name__}.from_dict() needs a mapping, got {type(kvs).__name__}")
        return cls.from_wire(dict(kvs))

    @classmethod
    def from_json(cls: Type[R], text: str) -> R:
        """Build an instance from a JSON string (the inverse of :meth:`to_json`)."""
        return cls.from_dict(json.loads(text))

    def to_dict(self, encode_json: bool = False) -> Dict[str, Any]:
        """Return the object as plain JSON data: every key that arrived, with current values."""
        attrs = self.__dict__
        out = {k: dump(v) for k, v in attrs.items() if not k.startswith("_")}
        extra = attrs.get("_extra")
        if extra:
            out.update(dump(extra))
        return out

    def to_json(self, **kwargs: Any) -> str:
        """The object as a JSON string; ``json.dumps`` keywords pass through.

        Values JSON cannot hold natively (datetime, Decimal, UUID, Enum), which only objects
        you build yourself can contain, are encoded as timestamps, strings and values.
        """
        kwargs.setdefault("default", json_default)
        kwargs.setdefault("ensure_ascii", False)
        return json.dumps(self.to_dict(), **kwargs)

    # repr and equality are written once here instead of generated for each of the ~100
    # classes (import time); they behave like the ones dataclasses generates.
    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in _fields(self) if f.repr)
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _field_values(self) == _field_values(other)


class Model(Record):
    """Base of every model: a mutable snapshot object (the SDK updates it as events arrive)."""

    TYPE: ClassVar[str] = ""
    """The wire ``type`` of an output item or content part class (empty for other models)."""

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dataclass with eq=True

    if not TYPE_CHECKING:  # for type checkers, a model has only the attributes it declares

        def __getattr__(self, name: str) -> Any:
            # Only reached when the usual lookup fails: a wire key starting with "_", kept
            # aside by from_wire, reads as an attribute like any other key that arrived.
            if name[:1] == "_" and name[:2] != "__":
                extra = self.__dict__.get("_extra")
                if extra is not None and name in extra:
                    return extra[name]
            found = getattr(type(self), name, None)
            if isinstance(found, property) and found.fget is not None:
                # The property raised AttributeError: raise that one, not "no attribute".
                return found.fget(self)
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


class OutputItemBase(Model):
    """Base of every typed output item; ``TYPE`` is the wire ``type`` it stands for."""


E = TypeVar("E", bound="Event")

_EVENT_CLASSES: Dict[str, Type[Event]] = {}


@dataclass(frozen=True, repr=False, eq=False)
class Event(Record):
    """Base class of every event.

    ``type`` is the wire type; ``sequence_number`` the event's position in its response's stream
    (the resume cursor; ``None`` when the server does not send it). Events are frozen and keep
    the payload they were built from, so ``to_dict()`` gives back exactly what arrived.
    """

    TYPE: ClassVar[str] = ""
    HANDLER: ClassVar[str] = "on_unknown_event"
    ALIASES: ClassVar[Tuple[str, ...]] = ()
    _KEEP_RAW: ClassVar[bool] = True

    type: str = ""
    sequence_number: Optional[int] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Register the wire type(s) this class reads (see event_class).
        if cls.__dict__.get("TYPE"):
            for kind in (cls.TYPE, *cls.ALIASES):
                _EVENT_CLASSES[kind] = cls

    @classmethod
    def from_dict(cls: Type[E], kvs: Any, *, infer_missing: bool = False) -> E:
        """Build an event from a mapping; on :class:`Event` itself the ``type`` key picks the
        class (like :func:`responses_stream.events.parse_event`)."""
        if not isinstance(kvs, Mapping):
            raise TypeError(f"{cls.__name__}.from_dict() needs a mapping, got {type(kvs).__name__}")
        payload = dict(kvs)
        target = event_class(payload) if cls is Event else cls
        return target.from_wire(payload)  # type: ignore[return-value]

    def to_dict(self, encode_json: bool = False) -> Dict[str, Any]:
        """Return the event as JSON data: every key and value that arrived, unchanged.

        An event you built yourself (not from the wire) gives its fields.
        """
        raw = self.__dict__.get("_raw")
        if raw is not None:
            return copy.deepcopy(raw)
        return {f.name: dump(getattr(self, f.name)) for f in _fields(self)}

    def __hash__(self) -> int:
        return hash(_field_values(self))


@dataclass(frozen=True, repr=False, eq=False)
class UnknownEvent(Event):
    """An event whose ``type`` this version does not know; ``data`` is its whole payload.

    Dispatched to ``on_unknown_event``; never raises, so new API event types cannot break you.
    """

    HANDLER: ClassVar[str] = "on_unknown_event"
    data: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls: Type[E], data: Mapping[str, Any]) -> E:
        event = object.__new__(cls)
        seq = data.get("sequence_number")
        kind = data.get("type")
        event.__dict__.update(
            type=kind if isinstance(kind, str) else "",
            sequence_number=seq if type(seq) is int else None,
            data=data,
            _raw=data,
        )
        return event

    def to_dict(self, encode_json: bool = False) -> Dict[str, Any]:
        raw = self.__dict__.get("_raw")
        return copy.deepcopy(raw) if raw is not None else dict(self.data)


def event_class(payload: Mapping[str, Any]) -> Type[Event]:
    """The class that reads ``payload``: by its ``type``; a payload with no ``type`` but an
    ``error`` key (LiteLLM's mid-stream failure) is an error event; else :class:`UnknownEvent`."""
    kind = payload.get("type")
    cls = _EVENT_CLASSES.get(kind) if type(kind) is str else None
    if cls is not None:
        return cls
    if "type" not in payload and "error" in payload:
        return _EVENT_CLASSES["error"]
    return UnknownEvent


def event_types() -> Dict[str, Type[Event]]:
    """Every wire ``type`` with its registered class (a copy)."""
    return dict(_EVENT_CLASSES)


__all__ = [
    "Event",
    "Model",
    "OutputItemBase",
    "Record",
    "UnknownEvent",
    "dump",
    "event_class",
    "event_types",
    "json_default",
    "loads_strict",
]
