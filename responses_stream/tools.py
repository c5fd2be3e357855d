"""Function tools from plain typed Python functions: :func:`tool` and :func:`function_call_output`.

``@rs.tool`` reads a function's signature, type hints and docstring once, at decoration time,
and builds the tool definition the Responses API expects (``tool.schema``) together with a
validator for the arguments the model sends back. ::

    @rs.tool
    def get_weather(city: str, unit: Literal["c", "f"] = "c") -> dict:
        \"\"\"Current weather for a city.

        Args:
            city: The city name, e.g. "Paris".
            unit: Temperature unit.
        \"\"\"

The schema follows the API's strict mode by default (``strict: True``): every object has
``additionalProperties: false`` and lists every property as required, so a parameter with a
default value accepts ``null``, which means "use the default". Supported annotations: ``str``,
``int``, ``float``, ``bool``, ``None``, ``Optional[X]`` / ``X | None``, ``Union``, ``list[X]``
(also ``List``, ``Sequence``, ``set[X]``, ``tuple[X, ...]``), ``dict[str, X]`` (sent as a list
of ``{"key", "value"}`` pairs in strict mode, which has no open-ended objects), ``Literal``,
``Enum`` subclasses, dataclasses (nested too) and ``Annotated[X, "description"]``. Anything
else raises :class:`TypeError` when the function is decorated.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import functools
import inspect
import json
import re
import sys
import types
import typing
from collections import abc
from typing import (
    Any,
    Callable,
    Dict,
    Generic,
    List,
    Mapping,
    Optional,
    Tuple,
    Type,
    TypeVar,
    Union,
    overload,
)

from .errors import InvalidArgumentsError
from .models import FunctionCall, Model

__all__ = ["Tool", "UnknownToolError", "function_call_output", "json_schema", "tool"]

F = TypeVar("F", bound=Callable[..., Any])
JSONDict = Dict[str, Any]
Convert = Callable[[Any, str], Any]
"""Validates one JSON value (at a path, for messages) and returns the Python value."""

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MISSING: Any = object()
_UnionType: Any = getattr(types, "UnionType", None)  # X | Y at runtime, Python 3.10+


class UnknownToolError(LookupError):
    """The model called a function that is not among the loop's tools.

    Passed to ``handler.on_tool_error``; the loop answers the model with the message and goes
    on. ``name`` is the name the model used.
    """

    def __init__(self, message: str, *, name: Optional[str]) -> None:
        super().__init__(message)
        self.name = name


class _Invalid(ValueError):
    """A JSON value does not match the schema; the message names the path."""

    def __init__(self, message: str, *, path: str, expected: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.expected = expected


# ------------------------------------------------------------------------------- docstrings

_SECTION = re.compile(
    r"^(args|arguments|parameters|params|keyword args|keyword arguments|other parameters|"
    r"attributes|fields|returns?|yields?|raises|examples?|notes?|see also|warnings?|"
    r"references|todo)\s*:?\s*$",
    re.IGNORECASE,
)
_ARG_SECTIONS = ("args", "arguments", "parameters", "params", "keyword args", "keyword arguments")
_FIELD_SECTIONS = ("attributes", "fields", *_ARG_SECTIONS)
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\*{0,2}\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_NUMPY_ENTRY = re.compile(r"^(\w+)\s*(?::.*)?$")
_REST_PARAM = re.compile(
    r"^:(?:param|parameter|arg|argument|ivar|var)\s+(?:[^:]*\s)?(\w+)\s*:(.*)$"
)


def _join(lines: List[str]) -> str:
    return " ".join(line.strip() for line in lines if line.strip())


def parse_docstring(
    doc: Optional[str], sections: Tuple[str, ...] = _ARG_SECTIONS
) -> Tuple[str, Dict[str, str]]:
    """Split a docstring into its first paragraph and the descriptions of named parameters.

    Understands Google style (``Args:`` then ``name (type): text``), NumPy style
    (``Parameters`` underlined with dashes, ``name : type`` then indented text) and reST
    (``:param name: text``). Continuation lines are joined with single spaces.
    """
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    summary: List[str] = []
    for line in lines:
        if not line.strip() or _SECTION.match(line.strip()) or line.strip().startswith(":"):
            break
        summary.append(line)
    params: Dict[str, str] = {}
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        rest = _REST_PARAM.match(stripped)
        if rest:
            text = [rest.group(2)]
            i += 1
            while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith(":"):
                text.append(lines[i])
                i += 1
            params[rest.group(1)] = _join(text)
            continue
        header = _SECTION.match(stripped)
        numpy = (
            header is not None
            and i + 1 < len(lines)
            and set(lines[i + 1].strip()) == {"-"}
            and not stripped.endswith(":")
        )
        if header is None or (not numpy and not stripped.endswith(":")):
            i += 1
            continue
        wanted = header.group(1).lower() in sections
        i += 2 if numpy else 1
        base = None
        name: Optional[str] = None
        text = []
        while i < len(lines):
            line = lines[i]
            if not line.strip():
                if i + 1 < len(lines) and lines[i + 1].startswith(" "):
                    i += 1
                    continue
                break
            indent = len(line) - len(line.lstrip())
            if base is None:
                base = indent
            if indent < base or (numpy and indent == 0 and _SECTION.match(line.strip())):
                break
            if indent == base:
                if name is not None and wanted:
                    params[name] = _join(text)
                entry = (_NUMPY_ENTRY if numpy else _GOOGLE_ENTRY).match(line.strip())
                name = entry.group(1) if entry else None
                text = [] if numpy or entry is None else [entry.group(2)]
            else:
                text.append(line)
            i += 1
        if name is not None and wanted:
            params[name] = _join(text)
    return _join(summary), params


# ------------------------------------------------------------------------------ type hints


class _UnionRewriter(ast.NodeTransformer):
    """``A | B`` -> ``__rs_Union__[A, B]``, so PEP 604 strings evaluate on Python 3.9."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        if not isinstance(node.op, ast.BitOr):
            return self.generic_visit(node)
        members: List[ast.expr] = []

        def flatten(n: ast.expr) -> None:
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr):
                flatten(n.left)
                flatten(n.right)
            else:
                members.append(typing.cast(ast.expr, self.visit(n)))

        flatten(node)
        return ast.Subscript(
            value=ast.Name(id="__rs_Union__", ctx=ast.Load()),
            slice=typing.cast(Any, ast.Tuple(elts=members, ctx=ast.Load())),
            ctx=ast.Load(),
        )


def _eval_annotation(text: str, namespace: Dict[str, Any]) -> Any:
    tree = ast.fix_missing_locations(_UnionRewriter().visit(ast.parse(text, mode="eval")))
    code = compile(tree, "<annotation>", "eval")
    return eval(code, {**namespace, "__rs_Union__": Union})


def _lost_module_globals(cls: type) -> Optional[Dict[str, Any]]:
    """The namespace of a class whose module is gone from ``sys.modules`` (a class from
    ``runpy.run_path`` or ``exec``): the globals of one of its functions, else ``None``."""
    if cls.__module__ in sys.modules:
        return None
    for value in vars(cls).values():
        found = getattr(value, "__globals__", None)  # e.g. the dataclass __init__
        if isinstance(found, dict):
            return found
    return None


def _type_hints(obj: Any, owner: str) -> Dict[str, Any]:
    """``get_type_hints`` with extras, falling back to rewriting ``X | Y`` on old Pythons."""
    lost = _lost_module_globals(obj) if isinstance(obj, type) else None
    try:
        return typing.get_type_hints(obj, globalns=lost, include_extras=True)
    except Exception as exc:
        first_error = exc
    target = inspect.unwrap(obj) if callable(obj) and not isinstance(obj, type) else obj
    namespace: Dict[str, Any] = {}
    if isinstance(target, type):
        raw: Dict[str, Any] = {}
        for klass in reversed(target.__mro__):
            raw.update(getattr(klass, "__annotations__", {}))
        module = sys.modules.get(target.__module__)
        namespace.update(vars(module) if module is not None else lost or {})
        namespace.update({target.__name__: target})
    else:
        raw = dict(getattr(target, "__annotations__", {}))
        namespace.update(getattr(target, "__globals__", {}))
    hints: Dict[str, Any] = {}
    for name, value in raw.items():
        if not isinstance(value, str):
            hints[name] = value
            continue
        try:
            hints[name] = _eval_annotation(value, namespace)
        except Exception as exc:
            raise TypeError(
                f"{owner}: cannot evaluate the annotation of {name!r} ({value!r}): "
                f"{exc} (first error: {first_error})"
            ) from exc
    return hints


# ---------------------------------------------------------------------------------- schema


def _json_kind(value: Any) -> Optional[str]:
    """The JSON Schema type name of a plain JSON value, or ``None`` for anything else."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return None


_KIND_WORDS = {
    "null": "null",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "array": "an array",
    "object": "an object",
}


def _describe(value: Any) -> str:
    kind = _json_kind(value)
    return _KIND_WORDS[kind] if kind is not None else type(value).__name__


def _fail(path: str, expected: str, value: Any) -> _Invalid:
    shown = json.dumps(value, ensure_ascii=False, default=repr)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return _Invalid(
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
    """The JSON form of a default value (for descriptions), or ``_MISSING``."""
    if isinstance(value, enum.Enum):
        value = value.value
    try:
        json.dumps(value, allow_nan=False, default=_json_default)
    except (TypeError, ValueError):
        return _MISSING
    return json.loads(json.dumps(value, default=_json_default))


class _Builder:
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
        if origin is typing.Literal:
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
                errors: List[_Invalid] = []
                for c in converters:
                    try:
                        return c(value, p)
                    except _Invalid as exc:
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
        elif origin in (set, abc.Set):
            make = set
        elif origin is frozenset:
            make = frozenset

        def convert(value: Any, p: str) -> Any:
            if not isinstance(value, list):
                raise _fail(p, "an array", value)
            return make([convert_item(v, f"{p}[{i}]") for i, v in enumerate(value)])

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
            hints = _type_hints(cls, f"{self.owner}: dataclass {cls.__name__}")
            doc = cls.__doc__ or ""
            if doc.startswith(cls.__name__ + "("):  # dataclasses' generated signature
                doc = ""
            description, field_docs = parse_docstring(doc, _FIELD_SECTIONS)
            specs = []
            for f in dataclasses.fields(cls):
                if not f.init:
                    continue
                default = f.default
                factory = f.default_factory
                if factory is not dataclasses.MISSING:
                    default = _Factory(factory)
                elif default is dataclasses.MISSING:
                    default = _MISSING
                note = f.metadata.get("description") or field_docs.get(f.name, "")
                specs.append((f.name, hints[f.name], default, note))
            schema, convert = self.object(specs, path, cls.__name__)
        finally:
            self._active.pop()
        if description:
            schema = {**schema, "description": description}

        def build(value: Any, p: str) -> Any:
            kwargs = convert(value, p)
            try:
                return cls(**kwargs)
            except (TypeError, ValueError) as exc:  # e.g. a check in __post_init__
                raise _Invalid(f"{p or 'arguments'}: {cls.__name__}: {exc}", path=p) from None

        return schema, build

    def object(
        self, specs: List[Tuple[str, Any, Any, str]], path: str, what: str
    ) -> Tuple[JSONDict, Callable[[Any, str], Dict[str, Any]]]:
        """Schema and converter of an object with the given (name, type, default, doc)."""
        properties: JSONDict = {}
        required: List[str] = []
        fields: List[Tuple[str, Convert, Any, bool]] = []
        for name, tp, default, note in specs:
            schema, convert = self.build(tp, f"{path}.{name}" if path else name)
            has_default = default is not _MISSING
            accepts_null = _is_nullable(schema)
            if note:
                schema = {**schema, "description": note}
            if has_default and self.strict and default is None and accepts_null:
                pass  # null is the default: nothing to explain
            elif has_default and self.strict:
                # Strict mode requires every property: null stands for "use the default".
                shown = _MISSING if isinstance(default, _Factory) else _jsonable_default(default)
                if not accepts_null:
                    schema = _nullable(schema)
                hint = "null means the default"
                if shown is not _MISSING:
                    hint += ": " + json.dumps(shown, ensure_ascii=False)
                text = schema.get("description")
                schema = {
                    **schema,
                    "description": f"{text} ({hint})" if text else hint[0].upper() + hint[1:],
                }
            elif has_default and not isinstance(default, _Factory):
                shown = _jsonable_default(default)
                if shown is not _MISSING:
                    schema = {**schema, "default": shown}
            properties[name] = schema
            if self.strict or not has_default:
                required.append(name)
            fields.append((name, convert, default, accepts_null))
        names = [f[0] for f in fields]
        strict = self.strict

        def convert_object(value: Any, p: str) -> Dict[str, Any]:
            if not isinstance(value, dict):
                raise _fail(p, "an object", value)
            extra = [k for k in value if k not in properties]
            if extra:
                expected = ", ".join(names) or "none"
                plural = "property" if len(extra) == 1 else "properties"
                raise _Invalid(
                    f"{p or 'arguments'}: unexpected {plural} {', '.join(map(repr, extra))} "
                    f"(expected only {expected})",
                    path=p,
                )
            out: Dict[str, Any] = {}
            for name, convert, default, accepts_null in fields:
                here = f"{p}.{name}" if p else name
                raw = value.get(name, _MISSING)
                if raw is _MISSING:
                    if default is _MISSING:
                        raise _Invalid(f"{here}: missing required property", path=here)
                    continue  # the Python default applies
                if raw is None and default is not _MISSING and (strict or not accepts_null):
                    continue  # null selects the default
                out[name] = convert(raw, here)
            return out

        schema = {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        }
        return schema, convert_object


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


def _check_float(value: Any, path: str) -> Any:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _fail(path, "a number", value)
    return float(value)


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
    schema, convert = _Builder(owner, strict).build(tp, "")
    return schema, lambda value: convert(value, "")


# ------------------------------------------------------------------------------------ tools


class Tool(Generic[F]):
    """A Python function exposed to the model as a function tool (made by :func:`tool`).

    Calling the tool calls the function. ``name``, ``description``, ``parameters`` (the JSON
    Schema) and ``strict`` describe it; ``schema`` is the entry for the request's ``tools``.
    """

    def __init__(
        self,
        function: F,
        *,
        name: Optional[str] = None,
        description: Optional[str] = None,
        strict: bool = True,
    ) -> None:
        if not callable(function):
            raise TypeError(f"@tool needs a function, got {function!r}")
        functools.update_wrapper(self, function)
        self.function: F = function
        self.name: str = name if name else str(getattr(function, "__name__", ""))
        if not _NAME.match(self.name):
            raise ValueError(
                f"tool name {self.name!r} is not valid for the API (letters, digits, _ and -, "
                "at most 64 characters): pass @tool(name=...)"
            )
        self.strict = strict
        summary, param_docs = parse_docstring(inspect.getdoc(function))
        self.description: str = description if description is not None else summary
        owner = f"tool {self.name!r}"
        signature = inspect.signature(function)
        hints = _type_hints(function, owner)
        specs = []
        for param in signature.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise TypeError(f"{owner}: *args and **kwargs cannot be tool parameters")
            if param.kind is param.POSITIONAL_ONLY:
                raise TypeError(
                    f"{owner}: positional-only parameter {param.name!r} is not supported"
                )
            if param.name not in hints:
                raise TypeError(f"{owner}: parameter {param.name!r} has no type annotation")
            default = _MISSING if param.default is param.empty else param.default
            specs.append((param.name, hints[param.name], default, param_docs.get(param.name, "")))
        self.parameters, self._convert = _Builder(owner, strict).object(specs, "", owner)

    @property
    def schema(self) -> JSONDict:
        """The tool's entry for the request's ``tools`` list (a fresh copy)."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": json.loads(json.dumps(self.parameters)),
            "strict": self.strict,
        }

    if typing.TYPE_CHECKING:
        __call__: F
    else:

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return self.function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<responses_stream.Tool {self.name}>"

    def validate(self, arguments: Mapping[str, Any]) -> Dict[str, Any]:
        """Check decoded ``arguments`` against the schema; return the keyword arguments.

        Nested dataclasses and enums are built, key/value pair lists become dicts, and a
        left-out (or, in strict mode, ``null``) parameter with a default gets its default.
        Raises :class:`~responses_stream.InvalidArgumentsError` naming the offending field.
        """
        try:
            kwargs = self._convert(
                dict(arguments) if isinstance(arguments, Mapping) else arguments, ""
            )
        except _Invalid as exc:
            raise InvalidArgumentsError(
                f"invalid arguments for tool {self.name!r}: {exc}",
                name=self.name,
                arguments=json.dumps(arguments, ensure_ascii=False, default=repr),
            ) from None
        return kwargs

    def invoke(self, call: FunctionCall) -> Any:
        """Run the function for a model's ``call``: parse, validate, call; return its result."""
        return self.function(**self.validate(call.parsed_arguments))


@overload
def tool(function: F) -> Tool[F]: ...


@overload
def tool(
    *, name: Optional[str] = None, description: Optional[str] = None, strict: bool = True
) -> Callable[[F], Tool[F]]: ...


def tool(
    function: Optional[F] = None,
    *,
    name: Optional[str] = None,
    description: Optional[str] = None,
    strict: bool = True,
) -> Union[Tool[F], Callable[[F], Tool[F]]]:
    """Turn a typed function into a function tool; use as ``@tool`` or ``@tool(name=...)``.

    The name is the function's (or ``name``), the description the docstring's first paragraph
    (or ``description``), parameter descriptions come from the docstring's ``Args:`` section
    and the JSON Schema from the type hints. ``strict=True`` (the default) makes the schema
    follow the API's strict mode. Raises :class:`TypeError` here, not when the model calls
    the tool, for a parameter whose annotation cannot be expressed.
    """
    if function is not None:
        return Tool(function, name=name, description=description, strict=strict)

    def decorate(func: F) -> Tool[F]:
        return Tool(func, name=name, description=description, strict=strict)

    return decorate


# ---------------------------------------------------------------------------------- outputs


def _json_default(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if isinstance(value, Model):
            return value.to_dict()
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_output(value: Any) -> str:
    """A tool result as the string sent to the model: ``str`` as is, anything else as JSON.

    Dataclasses, enums and sets are encoded too; raises :class:`TypeError` for values JSON
    cannot hold.
    """
    if isinstance(value, str):
        return value
    return json.dumps(
        value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_default
    )


def function_call_output(call: Union[FunctionCall, str], output: Any) -> JSONDict:
    """The ``function_call_output`` input item answering ``call`` (or a ``call_id``).

    ``output`` is sent as is when it is a string, JSON-encoded otherwise. Put the item in the
    next request's ``input`` (with ``previous_response_id``, or after the previous turn's
    ``response.to_input_items()``).
    """
    call_id = call if isinstance(call, str) else call.call_id
    if not call_id:
        raise ValueError("the function call has no call_id")
    return {"type": "function_call_output", "call_id": call_id, "output": encode_output(output)}
