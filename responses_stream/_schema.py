"""Type hints -> strict JSON Schema, with a validator that turns JSON back into Python values.

Used for tool parameters (:mod:`responses_stream.tools`) and structured outputs
(``text_format=``). The schema follows the API's strict mode by default (``strict=True``): every
object has ``additionalProperties: false`` and lists every property as required, so a field with
a default value accepts ``null``, which means "use the default". Supported annotations:
``str``, ``int``, ``float``, ``bool``, ``None``, ``Optional[X]`` / ``X | None``, ``Union``,
``list[X]`` (also ``List``, ``Sequence``, ``set[X]``, ``tuple[X, ...]``), ``dict[str, X]`` (sent
as a list of ``{"key", "value"}`` pairs in strict mode, which has no open-ended objects),
``Literal``, ``Enum`` subclasses, dataclasses (nested too) and ``Annotated[X, "description"]``.
Anything else raises :class:`TypeError` when the schema is built. A dataclass configured with
dataclasses-json (``@dataclass_json(letter_case=...)``, ``config(field_name=...)``) has its
fields under the JSON names that dataclasses-json would use (:func:`wire_names`).
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import sys
import types
import typing
from collections import abc
from typing import Any, Callable, Dict, List, Optional, Tuple, Type, Union

from ._base import json_default
from ._docstrings import FIELD_SECTIONS, parse_docstring
from ._type_hints import type_hints

JSONDict = Dict[str, Any]
Convert = Callable[[Any, str], Any]
"""Validates one JSON value (at a path, for messages) and returns the Python value."""

MISSING: Any = object()
"""A parameter or field without a default."""
_UnionType: Any = getattr(types, "UnionType", None)  # X | Y at runtime, Python 3.10+


def _hashable(tp: Any) -> bool:
    """Whether values of ``tp`` (as the converters make them) can go in a set."""
    origin = typing.get_origin(tp) or tp
    if origin in (list, dict, set, abc.Set, abc.Sequence, abc.Mapping, abc.MutableSequence):
        return False
    if origin in (typing.Union, getattr(types, "UnionType", typing.Union)):
        return all(_hashable(arg) for arg in typing.get_args(tp))
    if origin is typing.Annotated:
        return _hashable(typing.get_args(tp)[0])
    if dataclasses.is_dataclass(origin):
        return getattr(origin, "__hash__", None) is not None
    return True


class Invalid(ValueError):
    """A JSON value does not match the schema; the message names the path."""

    def __init__(self, message: str, *, path: str, expected: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.expected = expected


# ---------------------------------------------------------------------------------- schema


# JSON Schema type name and how an error message says it, by Python type of a JSON value
# (bool before int: a bool is an int).
_JSON_KINDS = (
    (type(None), "null", "null"),
    (bool, "boolean", "a boolean"),
    (int, "integer", "an integer"),
    (float, "number", "a number"),
    (str, "string", "a string"),
    (list, "array", "an array"),
    (dict, "object", "an object"),
)


def _json_kind(value: Any) -> Optional[str]:
    """The JSON Schema type name of a plain JSON value, or ``None`` for anything else."""
    for python_type, kind, _ in _JSON_KINDS:
        if isinstance(value, python_type):
            return kind
    return None


_KIND_WORDS = {kind: words for _, kind, words in _JSON_KINDS}


def _describe(value: Any) -> str:
    kind = _json_kind(value)
    return _KIND_WORDS[kind] if kind is not None else type(value).__name__


def _fail(path: str, expected: str, value: Any) -> Invalid:
    shown = json.dumps(value, ensure_ascii=False, default=repr)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return Invalid(
        f"{path or 'arguments'}: expected {expected}, got {_describe(value)} {shown}",
        path=path,
        expected=expected,
    )


def _json_type(value: Any) -> str:
    kind = _json_kind(value)
    if kind is None or kind in ("array", "object"):
        raise TypeError(
            f"unsupported Literal/Enum value {value!r}: use str, int, float, bool or None"
        )
    return kind


def _nullable(schema: JSONDict) -> JSONDict:
    """``schema`` or null, as a type union when ``schema`` is a plain scalar type."""
    kind = schema.get("type")
    if isinstance(kind, (str, list)) and kind not in ("object", "array") and "anyOf" not in schema:
        kinds = list(kind) if isinstance(kind, list) else [kind]
        if "null" in kinds:
            return schema
        out = {**schema, "type": [*kinds, "null"]}
        if "enum" in schema and None not in schema["enum"]:
            out["enum"] = [*schema["enum"], None]
        return out
    if "anyOf" in schema:
        if {"type": "null"} in schema["anyOf"]:
            return schema
        return {**schema, "anyOf": [*schema["anyOf"], {"type": "null"}]}
    description = schema.get("description")
    inner = {k: v for k, v in schema.items() if k != "description"}
    out = {"anyOf": [inner, {"type": "null"}]}
    if description:
        out["description"] = description
    return out


def _is_nullable(schema: JSONDict) -> bool:
    kind = schema.get("type")
    return (
        kind == "null"
        or (isinstance(kind, list) and "null" in kind)
        or {"type": "null"} in schema.get("anyOf", [])
    )


def _jsonable_default(value: Any) -> Any:
    """The JSON form of a default value (for descriptions), or ``MISSING``."""
    if isinstance(value, enum.Enum):
        value = value.value
    try:
        json.dumps(value, allow_nan=False, default=json_default)
    except (TypeError, ValueError):
        return MISSING
    return json.loads(json.dumps(value, default=json_default))


class SchemaBuilder:
    """Builds the JSON Schema and the converter of one annotation, recursively."""

    def __init__(self, owner: str, strict: bool) -> None:
        self.owner = owner
        self.strict = strict
        self._active: List[type] = []  # dataclasses being built, to reject recursion

    def error(self, path: str, message: str) -> TypeError:
        where = f" (parameter {path!r})" if path else ""
        return TypeError(f"{self.owner}{where}: {message}")

    def build(self, tp: Any, path: str) -> Tuple[JSONDict, Convert]:
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is typing.Annotated:
            schema, convert = self.build(args[0], path)
            notes = [a for a in args[1:] if isinstance(a, str)]
            if notes:
                schema = {**schema, "description": " ".join(notes)}
            return schema, convert
        if tp is Any:
            if self.strict:
                raise self.error(path, "Any cannot be expressed in strict mode; use a real type")
            return {}, lambda v, p: v
        if tp is None or tp is type(None):
            return {"type": "null"}, _check_null
        if tp is bool:
            return {"type": "boolean"}, _check_bool
        if tp is int:
            return {"type": "integer"}, _check_int
        if tp is float:
            return {"type": "number"}, _check_float
        if tp is str:
            return {"type": "string"}, _check_str
        if origin is Union or (_UnionType is not None and isinstance(tp, _UnionType)):
            return self.union(args, path)
        if origin is typing.Literal or _is_backported_literal(origin):
            return self.literal(args, path)
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return self.enum(tp, path)
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            return self.dataclass(tp, path)
        containers = (list, abc.Sequence, abc.MutableSequence, set, frozenset, abc.Set, tuple)
        mappings = (dict, abc.Mapping, abc.MutableMapping)
        bare = tp in (*containers, *mappings) or (origin in (*containers, *mappings) and not args)
        if bare:
            name = getattr(tp, "__name__", None) or getattr(tp, "_name", None) or repr(tp)
            example = "dict[str, int]" if (origin or tp) in mappings else "list[str]"
            raise self.error(path, f"bare {name} needs type arguments, e.g. {example}")
        if origin in containers:
            return self.array(tp, origin, args, path)
        if origin in mappings:
            return self.mapping(args, path)
        raise self.error(
            path,
            f"unsupported annotation {tp!r}; use str, int, float, bool, None, Optional/Union, "
            "list[...], dict[str, ...], Literal, an Enum or a dataclass",
        )

    def union(self, args: Tuple[Any, ...], path: str) -> Tuple[JSONDict, Convert]:
        members = [a for a in args if a is not type(None)]
        optional = len(members) < len(args)
        built = [self.build(m, path) for m in members]
        if len(built) == 1:
            schema, convert = built[0]
        else:
            # The members are tried in order; the first that accepts the value wins.
            schema = {"anyOf": [s for s, _ in built]}
            converters = [c for _, c in built]

            def convert(value: Any, p: str) -> Any:
                errors: List[Invalid] = []
                for c in converters:
                    try:
                        return c(value, p)
                    except Invalid as exc:
                        errors.append(exc)
                deeper = [e for e in errors if e.path != p]
                if deeper:  # a member matched the outer shape: its error is the useful one
                    raise deeper[0]
                raise _fail(p, " or ".join(e.expected for e in errors if e.expected), value)

        if not optional:
            return schema, convert
        inner = convert
        return _nullable(schema), lambda v, p: None if v is None else inner(v, p)

    def literal(self, values: Tuple[Any, ...], path: str) -> Tuple[JSONDict, Convert]:
        try:
            kinds = list(dict.fromkeys(_json_type(v) for v in values))
        except TypeError as exc:
            raise self.error(path, str(exc)) from None
        allowed = [(_json_type(v), v) for v in values]
        schema: JSONDict = {"type": kinds[0] if len(kinds) == 1 else kinds, "enum": list(values)}

        def convert(value: Any, p: str) -> Any:
            kind = _json_type(value) if _is_scalar(value) else None
            for k, v in allowed:
                if v == value and (k == kind or {k, kind} == {"integer", "number"}):
                    return v
            raise _fail(p, "one of " + json.dumps(list(values), ensure_ascii=False), value)

        return schema, convert

    def enum(self, cls: Type[enum.Enum], path: str) -> Tuple[JSONDict, Convert]:
        members = list(cls)
        if not members:
            raise self.error(path, f"enum {cls.__name__} has no members")
        schema, check = self.literal(tuple(m.value for m in members), path)
        by_value = {(_json_type(m.value), m.value): m for m in members}

        def convert(value: Any, p: str) -> Any:
            raw = check(value, p)
            member = by_value.get((_json_type(raw), raw))
            return member if member is not None else cls(raw)

        return schema, convert

    def array(
        self, tp: Any, origin: Any, args: Tuple[Any, ...], path: str
    ) -> Tuple[JSONDict, Convert]:
        if origin is tuple:
            if len(args) != 2 or args[1] is not Ellipsis:
                raise self.error(
                    path, f"{tp!r}: only tuple[X, ...] is supported (fixed tuples are not)"
                )
            args = args[:1]
        if len(args) != 1:
            raise self.error(path, f"{tp!r} needs one item type")
        items, convert_item = self.build(args[0], path + "[]")
        make: Callable[[List[Any]], Any] = list
        if origin is tuple:
            make = tuple
        elif origin in (set, abc.Set, frozenset):
            make = frozenset if origin is frozenset else set
            if not _hashable(args[0]):
                raise self.error(path, f"{tp!r}: the items of a set must be hashable")

        def convert(value: Any, p: str) -> Any:
            if not isinstance(value, list):
                raise _fail(p, "an array", value)
            items = [convert_item(v, f"{p}[{i}]") for i, v in enumerate(value)]
            try:
                return make(items)
            except TypeError as exc:  # an item that cannot go in a set after all
                raise Invalid(f"{p or 'arguments'}: {exc}", path=p) from None

        return {"type": "array", "items": items}, convert

    def mapping(self, args: Tuple[Any, ...], path: str) -> Tuple[JSONDict, Convert]:
        if len(args) != 2 or args[0] is not str:
            raise self.error(path, "dict keys must be str: use dict[str, X]")
        values, convert_value = self.build(args[1], path + "{}")
        if not self.strict:

            def convert_open(value: Any, p: str) -> Any:
                if not isinstance(value, dict):
                    raise _fail(p, "an object", value)
                return {k: convert_value(v, f"{p}.{k}") for k, v in value.items()}

            return {"type": "object", "additionalProperties": values}, convert_open
        pair = {
            "type": "object",
            "properties": {"key": {"type": "string"}, "value": values},
            "required": ["key", "value"],
            "additionalProperties": False,
        }

        def convert(value: Any, p: str) -> Any:
            if isinstance(value, dict):  # a lenient server may send a plain object
                return {k: convert_value(v, f"{p}.{k}") for k, v in value.items()}
            if not isinstance(value, list):
                raise _fail(p, "an array of key/value pairs", value)
            out = {}
            for i, entry in enumerate(value):
                here = f"{p}[{i}]"
                if not isinstance(entry, dict) or set(entry) != {"key", "value"}:
                    raise _fail(here, 'an object with "key" and "value"', entry)
                out[_check_str(entry["key"], here + ".key")] = convert_value(
                    entry["value"], here + ".value"
                )
            return out

        return {"type": "array", "description": "key/value pairs", "items": pair}, convert

    def dataclass(self, cls: type, path: str) -> Tuple[JSONDict, Convert]:
        if cls in self._active:
            raise self.error(path, f"recursive dataclass {cls.__name__} is not supported")
        self._active.append(cls)
        try:
            hints = type_hints(cls, f"{self.owner}: dataclass {cls.__name__}")
            doc = cls.__doc__ or ""
            if doc.startswith(cls.__name__ + "("):  # dataclasses' generated signature
                doc = ""
            description, field_docs = parse_docstring(doc, FIELD_SECTIONS)
            specs = []
            keys = []
            wire = wire_names(cls)
            self._check_init_only(cls, path)
            for f in dataclasses.fields(cls):
                if not f.init:
                    continue
                default = f.default
                factory = f.default_factory
                if factory is not dataclasses.MISSING:
                    default = _Factory(factory)
                elif default is dataclasses.MISSING:
                    default = MISSING
                note = f.metadata.get("description") or field_docs.get(f.name, "")
                specs.append((wire[f.name], hints[f.name], default, note))
                keys.append(f.name)
            schema, convert = self.object(specs, path, cls.__name__, keys)
        finally:
            self._active.pop()
        if description:
            schema = {**schema, "description": description}

        def build(value: Any, p: str) -> Any:
            kwargs = convert(value, p)
            try:
                return cls(**kwargs)
            except Exception as exc:  # a check in __post_init__, of any kind
                raise Invalid(f"{p or 'arguments'}: {cls.__name__}: {exc}", path=p) from None

        return schema, build

    def _check_init_only(self, cls: type, path: str) -> None:
        """A parameter of ``cls`` that is no field (an ``InitVar``) cannot come from JSON: one
        without a default would make every value fail to build."""
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            params = inspect.signature(cls).parameters.values()
        except (TypeError, ValueError):  # no signature to read: nothing to check
            return
        for param in params:
            if param.name not in names and param.default is inspect.Parameter.empty:
                raise self.error(
                    path,
                    f"dataclass {cls.__name__}: {param.name!r} is an init-only parameter "
                    "(InitVar) without a default, which JSON cannot fill: give it a default",
                )

    def object(
        self,
        specs: List[Tuple[str, Any, Any, str]],
        path: str,
        what: str,
        keys: Optional[List[str]] = None,
    ) -> Tuple[JSONDict, Callable[[Any, str], Dict[str, Any]]]:
        """Schema and converter of an object with the given (JSON name, type, default, doc).

        The converter returns the values by ``keys`` (the Python names, in the order of
        ``specs``; the JSON names when ``None``).
        """
        properties: JSONDict = {}
        required: List[str] = []
        fields: List[Tuple[str, Convert, Any, bool, str]] = []
        for (name, tp, default, note), key in zip(specs, keys or [s[0] for s in specs]):
            if name in properties:
                raise self.error(path, f"{what}: two fields have the JSON name {name!r}")
            schema, convert = self.build(tp, f"{path}.{name}" if path else name)
            has_default = default is not MISSING
            accepts_null = _is_nullable(schema)
            if note:
                schema = {**schema, "description": note}
            if has_default and self.strict and default is None and accepts_null:
                pass  # null is the default: nothing to explain
            elif has_default and self.strict:
                # Strict mode requires every property: null stands for "use the default".
                shown = MISSING if isinstance(default, _Factory) else _jsonable_default(default)
                if not accepts_null:
                    schema = _nullable(schema)
                hint = "null means the default"
                if shown is not MISSING:
                    hint += ": " + json.dumps(shown, ensure_ascii=False)
                text = schema.get("description")
                schema = {
                    **schema,
                    "description": f"{text} ({hint})" if text else hint[0].upper() + hint[1:],
                }
            elif has_default and not isinstance(default, _Factory):
                shown = _jsonable_default(default)
                if shown is not MISSING:
                    schema = {**schema, "default": shown}
            properties[name] = schema
            if self.strict or not has_default:
                required.append(name)
            fields.append((name, convert, default, accepts_null, key))
        names = [f[0] for f in fields]
        strict = self.strict

        def convert_object(value: Any, p: str) -> Dict[str, Any]:
            if not isinstance(value, dict):
                raise _fail(p, "an object", value)
            extra = [k for k in value if k not in properties]
            if extra:
                expected = ", ".join(names) or "none"
                plural = "property" if len(extra) == 1 else "properties"
                raise Invalid(
                    f"{p or 'arguments'}: unexpected {plural} {', '.join(map(repr, extra))} "
                    f"(expected only {expected})",
                    path=p,
                )
            out: Dict[str, Any] = {}
            for name, convert, default, accepts_null, key in fields:
                here = f"{p}.{name}" if p else name
                raw = value.get(name, MISSING)
                if raw is MISSING:
                    if default is MISSING:
                        raise Invalid(f"{here}: missing required property", path=here)
                    continue  # the Python default applies
                if raw is None and default is not MISSING and (strict or not accepts_null):
                    continue  # null selects the default
                out[key] = convert(raw, here)
            return out

        schema = {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        }
        return schema, convert_object


def wire_names(cls: type) -> Dict[str, str]:
    """The JSON name of each field of dataclass ``cls``, as dataclasses-json names it.

    ``dataclasses_json.config(letter_case=..., field_name=...)`` keeps the renaming as the
    ``letter_case`` of the mapping it returns, in a field's metadata or (``@dataclass_json(
    letter_case=...)``) in ``cls.dataclass_json_config``; the field's own setting wins.
    """
    class_config = getattr(cls, "dataclass_json_config", None) or {}
    names: Dict[str, str] = {}
    for f in dataclasses.fields(cls):
        field_config = f.metadata.get("dataclasses_json") or {}
        rename = field_config.get("letter_case") or class_config.get("letter_case")
        names[f.name] = str(rename(f.name)) if callable(rename) else f.name
    return names


@dataclasses.dataclass(frozen=True)
class _Factory:
    """A dataclass ``default_factory`` (the default is built when the field is left out)."""

    make: Callable[[], Any]


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _check_null(value: Any, path: str) -> Any:
    if value is not None:
        raise _fail(path, "null", value)
    return None


def _check_bool(value: Any, path: str) -> Any:
    if not isinstance(value, bool):
        raise _fail(path, "a boolean", value)
    return value


def _check_int(value: Any, path: str) -> Any:
    if isinstance(value, float) and value.is_integer() and not isinstance(value, bool):
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _fail(path, "an integer", value)
    return value


def _is_backported_literal(origin: Any) -> bool:
    """``typing_extensions.Literal``, another object than ``typing.Literal`` before 3.10
    (looked up only if the caller imported it)."""
    backport = sys.modules.get("typing_extensions")
    return backport is not None and origin is getattr(backport, "Literal", None)


def _check_float(value: Any, path: str) -> Any:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _fail(path, "a number", value)
    try:
        return float(value)
    except OverflowError:  # an integer of hundreds of digits
        raise _fail(path, "a number a float can hold", value) from None


def _check_str(value: Any, path: str) -> Any:
    if not isinstance(value, str):
        raise _fail(path, "a string", value)
    return value


def json_schema(tp: Any, *, strict: bool = True) -> Tuple[JSONDict, Callable[[Any], Any]]:
    """The JSON Schema of a type and a function that validates and converts a JSON value.

    The converter raises :class:`ValueError` naming the offending path. Used for tool
    parameters and for ``text_format`` dataclasses; raises :class:`TypeError` for annotations
    the API cannot express.
    """
    owner = getattr(tp, "__name__", repr(tp))
    schema, convert = SchemaBuilder(owner, strict).build(tp, "")
    return schema, lambda value: convert(value, "")
