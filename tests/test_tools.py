"""``@tool``: JSON Schema from type hints under the API's strict-mode rules, docstrings,
argument validation, decoration-time errors, and ``function_call_output``."""

import dataclasses
import enum
import importlib
import json
import re
import sys
import typing
from pathlib import Path
from typing import (
    Annotated,
    Any,
    Callable,
    Dict,
    FrozenSet,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

import pytest

import responses_stream as rs
from responses_stream import _schema as schema_module
from responses_stream import _type_hints
from responses_stream._docstrings import parse_docstring
from responses_stream._schema import json_schema
from responses_stream.tools import (
    Tool,
    UnknownToolError,
    encode_output,
    function_call_output,
    tool,
)

# --------------------------------------------------------------------- annotation table


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 0
    HIGH = 1


@dataclasses.dataclass
class Point:
    """A point on the map.

    Attributes:
        x: Horizontal position.
        y: Vertical position.
    """

    x: float
    y: float = 0.0


@dataclasses.dataclass
class Place:
    name: str
    at: Point
    tags: List[str] = dataclasses.field(default_factory=list)
    note: Optional[str] = dataclasses.field(default=None, metadata={"description": "A note."})


@dataclasses.dataclass
class Checked:
    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("value must be >= 0")


POINT_OBJECT = {
    "type": "object",
    "properties": {
        "x": {"type": "number", "description": "Horizontal position."},
        "y": {
            "type": ["number", "null"],
            "description": "Vertical position. (null means the default: 0.0)",
        },
    },
    "required": ["x", "y"],
    "additionalProperties": False,
}
POINT_SCHEMA = {**POINT_OBJECT, "description": "A point on the map."}

PAIRS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"key": {"type": "string"}, "value": {"type": "integer"}},
        "required": ["key", "value"],
        "additionalProperties": False,
    },
}
PAIRS_OF_INT = {**PAIRS, "description": "key/value pairs"}

# (annotation, schema, [(json value, python value)], [invalid json values])
CASES: List[Tuple[Any, Dict[str, Any], List[Tuple[Any, Any]], List[Any]]] = [
    (str, {"type": "string"}, [("a", "a"), ("", "")], [1, None, ["a"]]),
    (int, {"type": "integer"}, [(3, 3), (-1, -1), (3.0, 3)], ["3", True, 3.5, None]),
    (float, {"type": "number"}, [(2.5, 2.5), (1, 1.0)], ["1", False, None]),
    (bool, {"type": "boolean"}, [(True, True), (False, False)], [1, "true", None]),
    (type(None), {"type": "null"}, [(None, None)], [0, ""]),
    (None, {"type": "null"}, [(None, None)], [False]),
    (Optional[int], {"type": ["integer", "null"]}, [(None, None), (4, 4)], ["4"]),
    (Union[int, None], {"type": ["integer", "null"]}, [(None, None), (4, 4)], ["4"]),
    (Union[None, str], {"type": ["string", "null"]}, [(None, None), ("s", "s")], [1]),
    (
        Union[int, str],
        {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        [(1, 1), ("1", "1")],
        [None, 1.5, [1]],
    ),
    (
        Optional[Union[int, str]],
        {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
        [(None, None), (1, 1)],
        [[1]],
    ),
    (List[int], {"type": "array", "items": {"type": "integer"}}, [([1, 2], [1, 2])], [[1, "a"]]),
    (list[str], {"type": "array", "items": {"type": "string"}}, [([], [])], ["a", {"a": 1}]),
    (Sequence[bool], {"type": "array", "items": {"type": "boolean"}}, [([True], [True])], [[0]]),
    (Tuple[int, ...], {"type": "array", "items": {"type": "integer"}}, [([1], (1,))], [[None]]),
    (Set[str], {"type": "array", "items": {"type": "string"}}, [(["a", "a"], {"a"})], [[1]]),
    (FrozenSet[int], {"type": "array", "items": {"type": "integer"}}, [([1], frozenset({1}))], []),
    (
        List[List[float]],
        {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
        [([[1, 2.5]], [[1.0, 2.5]])],
        [[1.0]],
    ),
    (
        Optional[List[int]],
        {"anyOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}]},
        [(None, None), ([1], [1])],
        [1],
    ),
    (
        Dict[str, int],
        PAIRS_OF_INT,
        [([{"key": "a", "value": 1}, {"key": "b", "value": 2}], {"a": 1, "b": 2}), ([], {})],
        [[{"key": "a"}], [{"key": 1, "value": 1}], [{"key": "a", "value": "x"}], "a"],
    ),
    (dict[str, int], PAIRS_OF_INT, [({"a": 1}, {"a": 1})], [{"a": "x"}]),
    (Mapping[str, int], PAIRS_OF_INT, [([{"key": "k", "value": 0}], {"k": 0})], [3]),
    (
        Literal["a", "b"],
        {"type": "string", "enum": ["a", "b"]},
        [("a", "a"), ("b", "b")],
        ["c", None, 1],
    ),
    (Literal[1, 2], {"type": "integer", "enum": [1, 2]}, [(1, 1), (2.0, 2)], [3, True, "1"]),
    (Literal[True], {"type": "boolean", "enum": [True]}, [(True, True)], [1, False]),
    (
        Literal["x", 1, None],
        {"type": ["string", "integer", "null"], "enum": ["x", 1, None]},
        [("x", "x"), (1, 1), (None, None)],
        ["y", 2],
    ),
    (
        Optional[Literal["a", "b"]],
        {"type": ["string", "null"], "enum": ["a", "b", None]},
        [(None, None), ("a", "a")],
        ["c"],
    ),
    (
        Color,
        {"type": "string", "enum": ["red", "green"]},
        [("red", Color.RED), ("green", Color.GREEN)],
        ["RED", "blue", 1, None],
    ),
    (Level, {"type": "integer", "enum": [0, 1]}, [(0, Level.LOW), (1, Level.HIGH)], [2, "0"]),
    (
        Optional[Color],
        {"type": ["string", "null"], "enum": ["red", "green", None]},
        [(None, None), ("red", Color.RED)],
        ["blue"],
    ),
    (
        List[Color],
        {"type": "array", "items": {"type": "string", "enum": ["red", "green"]}},
        [(["red"], [Color.RED])],
        [["blue"]],
    ),
    (
        Point,
        POINT_SCHEMA,
        [({"x": 1, "y": 2}, Point(1.0, 2.0)), ({"x": 1, "y": None}, Point(1.0, 0.0))],
        [{"x": 1, "y": 2, "z": 3}, {"y": 2}, {"x": "1", "y": 2}, [1, 2], None],
    ),
    (
        Optional[Point],
        {"anyOf": [POINT_OBJECT, {"type": "null"}], "description": "A point on the map."},
        [(None, None), ({"x": 1, "y": 1}, Point(1.0, 1.0))],
        [{"x": None, "y": None}],
    ),
    (
        List[Point],
        {"type": "array", "items": POINT_SCHEMA},
        [([{"x": 0, "y": 0}], [Point(0.0, 0.0)])],
        [[{}]],
    ),
    (
        Annotated[int, "How many."],
        {"type": "integer", "description": "How many."},
        [(1, 1)],
        ["1"],
    ),
    (
        Annotated[Optional[str], "Maybe."],
        {"type": ["string", "null"], "description": "Maybe."},
        [(None, None)],
        [1],
    ),
]

if sys.version_info >= (3, 10):
    CASES.append((eval("int | None"), {"type": ["integer", "null"]}, [(None, None), (1, 1)], ["1"]))
    CASES.append(
        (
            eval("list[str] | None"),
            {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]},
            [(None, None)],
            ["a"],
        )
    )


def _tool_of(annotation: Any, *defaults: Any, strict: bool = True) -> Tool[Any]:
    def probe(x):  # type: ignore[no-untyped-def]
        return x

    probe.__annotations__ = {"x": annotation}
    if defaults:
        probe.__defaults__ = defaults
    return tool(probe, strict=strict)


def probe_schema(x: Dict[str, Any]) -> Dict[str, Any]:
    """The tool entry of ``probe`` (see :func:`_tool_of`) whose parameter ``x`` has schema ``x``."""
    return {
        "type": "function",
        "name": "probe",
        "description": "",
        "parameters": {
            "type": "object",
            "properties": {"x": x},
            "required": ["x"],
            "additionalProperties": False,
        },
        "strict": True,
    }


@pytest.mark.parametrize(
    ("annotation", "schema", "valid", "invalid"), CASES, ids=[repr(c[0]) for c in CASES]
)
def test_annotation(annotation: Any, schema: Dict[str, Any], valid: Any, invalid: Any) -> None:
    """Each supported annotation: the exact tool schema, valid JSON values converted to the
    Python type, invalid ones rejected with a message naming the tool and the parameter."""
    t = _tool_of(annotation)
    assert t.schema == probe_schema(schema)
    for raw, expected in valid:
        got = t.validate({"x": raw})["x"]
        assert got == expected and type(got) is type(expected), (raw, got)
        assert t(got) == got  # the tool stays callable as the function
    for raw in invalid:
        with pytest.raises(rs.errors.InvalidArgumentsError) as info:
            t.validate({"x": raw})
        assert info.value.name == "probe"
        assert "invalid arguments for tool 'probe': x" in str(info.value)


@pytest.mark.parametrize(
    ("annotation", "default", "schema"),
    [
        (str, "a", {"type": ["string", "null"], "description": 'Null means the default: "a"'}),
        (bool, True, {"type": ["boolean", "null"], "description": "Null means the default: true"}),
        (type(None), None, {"type": "null"}),
        (Optional[int], None, {"type": ["integer", "null"]}),
        (
            Union[int, str],
            1,
            {
                "anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}],
                "description": "Null means the default: 1",
            },
        ),
        (
            Optional[Union[int, str]],
            None,
            {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
        ),
        (
            List[int],
            [1, 2],
            {
                "anyOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}],
                "description": "Null means the default: [1, 2]",
            },
        ),
        (
            Set[str],
            {"a"},
            {
                "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
                "description": 'Null means the default: ["a"]',
            },
        ),
        (
            Dict[str, int],
            {"a": 1, "b": 2},
            {
                "anyOf": [PAIRS, {"type": "null"}],
                "description": 'key/value pairs (null means the default: {"a": 1, "b": 2})',
            },
        ),
        (
            Literal["a", "b"],
            "a",
            {
                "type": ["string", "null"],
                "enum": ["a", "b", None],
                "description": 'Null means the default: "a"',
            },
        ),
        (
            Literal["x", 1, None],
            "x",
            {
                "type": ["string", "integer", "null"],
                "enum": ["x", 1, None],
                "description": 'Null means the default: "x"',
            },
        ),
        (
            Color,
            Color.RED,
            {
                "type": ["string", "null"],
                "enum": ["red", "green", None],
                "description": 'Null means the default: "red"',
            },
        ),
        (
            Level,
            Level.LOW,
            {
                "type": ["integer", "null"],
                "enum": [0, 1, None],
                "description": "Null means the default: 0",
            },
        ),
        (
            Point,
            Point(1.0, 2.0),
            {
                "anyOf": [POINT_OBJECT, {"type": "null"}],
                "description": 'A point on the map. (null means the default: {"x": 1.0, "y": 2.0})',
            },
        ),
        (
            List[Point],
            [Point(0.0, 0.0)],
            {
                "anyOf": [{"type": "array", "items": POINT_SCHEMA}, {"type": "null"}],
                "description": 'Null means the default: [{"x": 0.0, "y": 0.0}]',
            },
        ),
        (
            Annotated[int, "How many."],
            1,
            {"type": ["integer", "null"], "description": "How many. (null means the default: 1)"},
        ),
        (
            Annotated[Optional[str], "Maybe."],
            None,
            {"type": ["string", "null"], "description": "Maybe."},
        ),
    ],
    ids=repr,
)
def test_a_default_makes_the_parameter_nullable(
    annotation: Any, default: Any, schema: Dict[str, Any]
) -> None:
    """With a default the parameter is still required (strict mode) but accepts null, and the
    description says which default null stands for (unless the default is null itself)."""
    assert _tool_of(annotation, default).schema == probe_schema(schema)


@pytest.mark.parametrize(
    ("annotation", "valid"), [(c[0], c[2]) for c in CASES], ids=[repr(c[0]) for c in CASES]
)
def test_null_or_nothing_selects_the_default(annotation: Any, valid: Any) -> None:
    """For every supported annotation with a default, null and a missing value both leave the
    argument out, so the function's own default applies."""
    default = valid[0][1]
    t = _tool_of(annotation, default)
    assert t.schema["parameters"]["required"] == ["x"]
    assert t.validate({"x": None}) == {}
    assert t.validate({}) == {}
    assert t() == default


# ------------------------------------------------------------------------ whole tools


@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius", days: int = 1):  # type: ignore[no-untyped-def]
    """Get the current weather for a city.

    Uses the national weather service; the answer is cached
    for ten minutes.

    Args:
        city (str): The city name, e.g.
            "Paris" or "Tokyo".
        unit: Temperature unit.
        days: How many days to forecast.

    Returns:
        A dict.
    """
    return {"city": city, "unit": unit, "days": days}


def test_weather_tool_schema_exact() -> None:
    assert get_weather.name == "get_weather"
    assert get_weather.schema == {
        "type": "function",
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {
                    "type": "string",
                    "description": 'The city name, e.g. "Paris" or "Tokyo".',
                },
                "unit": {
                    "type": ["string", "null"],
                    "enum": ["celsius", "fahrenheit", None],
                    "description": 'Temperature unit. (null means the default: "celsius")',
                },
                "days": {
                    "type": ["integer", "null"],
                    "description": "How many days to forecast. (null means the default: 1)",
                },
            },
            "required": ["city", "unit", "days"],
            "additionalProperties": False,
        },
        "strict": True,
    }


def test_tool_stays_the_function() -> None:
    assert isinstance(get_weather, Tool)
    assert get_weather("Paris") == {"city": "Paris", "unit": "celsius", "days": 1}
    assert get_weather(city="Oslo", days=3)["days"] == 3
    assert get_weather.__name__ == "get_weather"
    assert get_weather.__doc__ is not None and get_weather.__doc__.startswith("Get the current")
    assert callable(get_weather.__wrapped__)  # type: ignore[attr-defined]
    assert rs.tools.tool is tool


def test_schema_is_a_fresh_copy() -> None:
    first = get_weather.schema
    first["parameters"]["properties"].clear()
    assert get_weather.schema["parameters"]["properties"]


def test_validate_and_invoke() -> None:
    assert get_weather.validate({"city": "Paris", "unit": None, "days": 2}) == {
        "city": "Paris",
        "days": 2,
    }
    call = rs.FunctionCall.from_wire(
        {"type": "function_call", "name": "get_weather", "call_id": "c1", "arguments": ""}
    )
    with pytest.raises(rs.errors.InvalidArgumentsError, match="city: missing required property"):
        get_weather.invoke(call)
    call.arguments = '{"city":"Rome","unit":"fahrenheit","days":null}'
    assert get_weather.invoke(call) == {"city": "Rome", "unit": "fahrenheit", "days": 1}
    call.arguments = '{"city": "Rome", "extra": 1, "more": 2}'
    with pytest.raises(
        rs.errors.InvalidArgumentsError, match="unexpected properties 'extra', 'more'"
    ):
        get_weather.invoke(call)
    call.arguments = "{not json"
    with pytest.raises(rs.errors.InvalidArgumentsError, match="not valid JSON"):
        get_weather.invoke(call)


def test_nested_dataclasses_and_factories() -> None:
    """A dataclass inside a dataclass is an object inside an object; a field with a default
    factory accepts null (no default value to show); metadata descriptions are used; valid
    arguments build the dataclasses and errors name the nested path."""

    @tool
    def save(place: Place, level: Level = Level.LOW) -> str:
        """Save a place."""
        return f"{place.name}:{level.name}"

    assert save.schema["parameters"] == {
        "type": "object",
        "properties": {
            "place": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "at": POINT_SCHEMA,
                    "tags": {
                        "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
                        "description": "Null means the default",
                    },
                    "note": {"type": ["string", "null"], "description": "A note."},
                },
                "required": ["name", "at", "tags", "note"],
                "additionalProperties": False,
            },
            "level": {
                "type": ["integer", "null"],
                "enum": [0, 1, None],
                "description": "Null means the default: 0",
            },
        },
        "required": ["place", "level"],
        "additionalProperties": False,
    }
    kwargs = save.validate(
        {"place": {"name": "Home", "at": {"x": 1, "y": None}, "tags": None, "note": None}}
    )
    assert kwargs == {"place": Place("Home", Point(1.0, 0.0), [], None)}
    assert save(**kwargs) == "Home:LOW"
    with pytest.raises(rs.errors.InvalidArgumentsError, match=r"place\.at\.x: expected a number"):
        save.validate({"place": {"name": "H", "at": {"x": "1", "y": 0}, "tags": [], "note": None}})


def test_dataclass_post_init_error_is_invalid_arguments() -> None:
    @tool
    def check(item: Checked) -> int:
        """Check."""
        return item.value

    assert check.validate({"item": {"value": 1}}) == {"item": Checked(1)}
    with pytest.raises(rs.errors.InvalidArgumentsError, match="item: Checked: value must be >= 0"):
        check.validate({"item": {"value": -1}})


def test_no_parameters() -> None:
    @tool
    def now() -> str:
        return "12:00"

    assert now.schema == {
        "type": "function",
        "name": "now",
        "description": "",
        "parameters": {
            "type": "object",
            "properties": {},
            "required": [],
            "additionalProperties": False,
        },
        "strict": True,
    }
    assert now.description == ""
    assert now.validate({}) == {}


def test_decorator_options() -> None:
    @tool(name="lookup-v2", description="Find things.")
    def lookup(q: str) -> str:
        """Ignored docstring."""
        return q

    assert lookup.name == "lookup-v2"
    assert lookup.schema["description"] == "Find things."
    assert lookup("x") == "x"


def test_non_strict_mode() -> None:
    @tool(strict=False)
    def search(query: str, limit: int = 10, filters: Optional[Dict[str, str]] = None) -> str:
        """Search."""
        return query

    schema = search.schema
    assert schema["strict"] is False
    assert schema["parameters"] == {
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "limit": {"type": "integer", "default": 10},
            "filters": {
                "anyOf": [
                    {"type": "object", "additionalProperties": {"type": "string"}},
                    {"type": "null"},
                ],
                "default": None,
            },
        },
        "required": ["query"],
        "additionalProperties": False,
    }
    assert search.validate({"query": "q"}) == {"query": "q"}
    assert search.validate({"query": "q", "filters": {"a": "b"}}) == {
        "query": "q",
        "filters": {"a": "b"},
    }
    assert search.validate({"query": "q", "limit": None}) == {"query": "q"}


# ------------------------------------------------------------------------------ errors


def _unannotated(x):  # type: ignore[no-untyped-def]
    return x


@dataclasses.dataclass
class Node:
    value: int
    children: List["Node"]


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        (Any, "Any cannot be expressed in strict mode"),
        (object, "unsupported annotation"),
        (bytes, "unsupported annotation"),
        (complex, "unsupported annotation"),
        (list, "bare list needs type arguments"),
        (List, "bare List needs type arguments, e.g. list"),
        (Dict, "bare Dict needs type arguments, e.g. dict"),
        (Sequence, "bare Sequence needs type arguments"),
        (dict, "bare dict needs type arguments"),
        (Dict[int, str], "dict keys must be str"),
        (Tuple[int, str], "only tuple[X, ...] is supported"),
        (Callable[[int], int], "unsupported annotation"),
        (Literal[b"x"], "unsupported Literal/Enum value"),
        (Node, "recursive dataclass Node is not supported"),
        (List[Optional[bytes]], "unsupported annotation"),
    ],
)
def test_unsupported_annotation_fails_at_decoration(annotation: Any, message: str) -> None:
    with pytest.raises(TypeError, match=re.escape(message)) as info:
        _tool_of(annotation)
    assert str(info.value).startswith("tool 'probe' (parameter 'x")


def test_signature_errors_at_decoration() -> None:
    with pytest.raises(TypeError, match="parameter 'x' has no type annotation"):
        tool(_unannotated)

    def star(*args: int) -> None: ...

    with pytest.raises(TypeError, match=r"\*args and \*\*kwargs"):
        tool(star)

    def kw(**kwargs: int) -> None: ...

    with pytest.raises(TypeError, match=r"\*args and \*\*kwargs"):
        tool(kw)

    def positional(x: int, /) -> None: ...

    with pytest.raises(TypeError, match="positional-only parameter 'x'"):
        tool(positional)

    with pytest.raises(ValueError, match="not valid for the API"):
        tool(lambda: None)
    with pytest.raises(ValueError, match="not valid for the API"):
        tool(name="has space")(_unannotated)
    with pytest.raises(TypeError, match="needs a function"):
        Tool(42)  # type: ignore[type-var]


def test_any_is_allowed_when_not_strict() -> None:
    t = _tool_of(Any, strict=False)
    assert t.schema["parameters"]["properties"]["x"] == {}
    assert t.validate({"x": [1, {"a": None}]}) == {"x": [1, {"a": None}]}


# ------------------------------------------------------------------ string annotations


def _pep604(a: "int | None", b: "list[str | None]", c: "dict[str, int] | None" = None) -> None:
    """Strings a Python 3.9 runtime cannot evaluate with get_type_hints."""


PEP604_PROPERTIES = {
    "a": {"type": ["integer", "null"]},
    "b": {"type": "array", "items": {"type": ["string", "null"]}},
    "c": {"anyOf": [PAIRS, {"type": "null"}], "description": "key/value pairs"},
}


def test_pep604_strings() -> None:
    """``X | None`` in string annotations gives the same schema as Optional[X]."""
    params = tool(_pep604).schema["parameters"]
    assert params["properties"] == PEP604_PROPERTIES
    assert params["required"] == ["a", "b", "c"]


def test_pep604_strings_without_runtime_support(monkeypatch: pytest.MonkeyPatch) -> None:
    """On Python 3.9 get_type_hints fails on ``int | None``; the fallback rewrites the string."""

    def old_runtime(obj: Any, **kwargs: Any) -> Any:
        raise TypeError("unsupported operand type(s) for |: 'type' and 'NoneType'")

    monkeypatch.setattr(schema_module.typing, "get_type_hints", old_runtime)
    assert tool(_pep604).schema["parameters"]["properties"] == PEP604_PROPERTIES
    schema, convert = json_schema(_Pep604Fields)
    assert schema["properties"]["a"] == {"type": ["integer", "null"]}
    assert convert({"a": None, "b": [1]}) == _Pep604Fields(None, [1])


@dataclasses.dataclass
class _Pep604Fields:
    a: "int | None"
    b: "list[int]"


def test_unresolvable_string_annotation() -> None:
    def bad(x: "NoSuchType") -> None:  # type: ignore[name-defined] # noqa: F821
        ...

    with pytest.raises(TypeError, match="cannot evaluate the annotation of 'x'"):
        tool(bad)


def test_classes_and_functions_from_run_path(tmp_path: Any) -> None:
    """runpy.run_path drops the module from sys.modules: names still resolve (examples)."""
    import runpy

    source = tmp_path / "snippet.py"
    source.write_text(
        "from __future__ import annotations\n"
        "from dataclasses import dataclass\n"
        "from typing import Literal, Optional\n"
        "@dataclass\n"
        "class Report:\n"
        "    sky: Literal['sunny', 'rain']\n"
        "    temp: Optional[float]\n"
        "def lookup(city: str, report: Report) -> str:\n"
        "    return city\n"
    )
    namespace = runpy.run_path(str(source))
    schema, convert = json_schema(namespace["Report"])
    assert schema["properties"]["sky"] == {"type": "string", "enum": ["sunny", "rain"]}
    assert convert({"sky": "rain", "temp": None}).sky == "rain"
    assert tool(namespace["lookup"]).schema["parameters"]["required"] == ["city", "report"]


def test_eval_annotation_rewrites_unions() -> None:
    value = _type_hints._eval_annotation("list[int | None] | None", {})
    assert typing.get_origin(value) is Union
    inner = typing.get_args(value)[0]
    assert typing.get_origin(inner) is list
    assert typing.get_args(inner) == (Optional[int],)


# -------------------------------------------------------------------------- docstrings


def test_docstring_google() -> None:
    summary, params = parse_docstring(
        """Summary line
        continues here.

        Body text is not part of the summary.

        Args:
            a (int): First
                argument.

                Second paragraph of a.
            b: Second.
            **c: ignored pattern still parsed
        Returns:
            ignored: not a parameter.
        """
    )
    assert summary == "Summary line continues here."
    assert params["a"] == "First argument. Second paragraph of a."
    assert params["b"] == "Second."
    assert "ignored" not in params


def test_docstring_numpy() -> None:
    summary, params = parse_docstring(
        """Do a thing.

        Parameters
        ----------
        city : str
            The city.
        days : int, optional
            How many
            days.

        Returns
        -------
        dict
        """
    )
    assert summary == "Do a thing."
    assert params == {"city": "The city.", "days": "How many days."}


def test_docstring_rest() -> None:
    summary, params = parse_docstring(
        """Fetch it.

        :param str url: Where from.
        :param retries: How often
            to try.
        :returns: the body
        """
    )
    assert summary == "Fetch it."
    assert params == {"url": "Where from.", "retries": "How often to try."}


def test_docstring_empty() -> None:
    assert parse_docstring(None) == ("", {})
    assert parse_docstring("Args:\n    x: The x.") == ("", {"x": "The x."})


# ----------------------------------------------------------------------- tool outputs


def test_function_call_output() -> None:
    call = rs.FunctionCall.from_wire({"type": "function_call", "call_id": "call_9", "name": "f"})
    assert function_call_output(call, "plain text") == {
        "type": "function_call_output",
        "call_id": "call_9",
        "output": "plain text",
    }
    assert function_call_output("call_1", {"temp": 18, "city": "Zürich"})["output"] == (
        '{"temp":18,"city":"Zürich"}'
    )
    assert function_call_output("c", None)["output"] == "null"
    assert function_call_output("c", [1, 2.5, True])["output"] == "[1,2.5,true]"
    assert function_call_output("c", Point(1.0, 2.0))["output"] == '{"x":1.0,"y":2.0}'
    assert function_call_output("c", Color.RED)["output"] == '"red"'
    assert json.loads(function_call_output("c", {"s": {3}})["output"]) == {"s": [3]}
    with pytest.raises(TypeError, match="not JSON serializable"):
        function_call_output("c", object())
    with pytest.raises(ValueError, match="no call_id"):
        function_call_output(rs.FunctionCall.from_wire({"type": "function_call"}), "x")
    with pytest.raises(TypeError, match="cannot be sent as JSON") as caught:
        encode_output(float("nan"))
    assert isinstance(caught.value, ValueError)  # what it raised before, for old callers


def test_unknown_tool_error() -> None:
    exc = UnknownToolError("unknown tool 'x'", name="x")
    assert isinstance(exc, LookupError) and exc.name == "x"


def test_an_integer_too_large_for_a_float_parameter_is_invalid_arguments() -> None:
    """A model's 401-digit integer for a float raised OverflowError out of validate() (and
    out of client.run); it is an InvalidArgumentsError, answered to the model."""

    @tool
    def area(side: float) -> float:
        """Square area."""
        return side * side

    with pytest.raises(rs.errors.InvalidArgumentsError, match="side"):
        area.validate({"side": 10**400})


def test_a_number_too_large_for_a_float_in_arguments_is_not_infinity() -> None:
    call = rs.FunctionCall.from_wire({"type": "function_call", "arguments": '{"x": 1e400}'})
    with pytest.raises(rs.errors.InvalidArgumentsError, match="too large"):
        call.parsed_arguments


def test_a_return_or_class_constant_annotation_only_type_checkers_can_read_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``from __future__ import annotations`` and a type imported under TYPE_CHECKING: the
    return type and a ClassVar need no evaluation (they made @tool and text_format fail)."""
    (tmp_path / "checked_only_module.py").write_text(
        "from __future__ import annotations\n"
        "import dataclasses\n"
        "from typing import TYPE_CHECKING, ClassVar\n"
        "if TYPE_CHECKING:\n"
        "    from decimal import Decimal\n"
        "def price(sku: str) -> Decimal:\n"
        "    '''Price of a product.'''\n"
        "    return 0\n"
        "@dataclasses.dataclass\n"
        "class Out:\n"
        "    LIMIT: ClassVar[Decimal]\n"
        "    a: int\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace = vars(importlib.import_module("checked_only_module"))
    assert tool(namespace["price"]).parameters["properties"] == {"sku": {"type": "string"}}
    schema = rs.structured.text_format_schema(namespace["Out"])["schema"]
    assert list(schema["properties"]) == ["a"]


def test_typing_extensions_literal_is_a_literal() -> None:
    """On Python 3.9 it is another object than typing.Literal (it was refused there)."""
    typing_extensions = pytest.importorskip("typing_extensions")

    @tool
    def convert(unit: typing_extensions.Literal["c", "f"]) -> str:  # noqa: F821
        """Convert."""
        return unit

    assert convert.parameters["properties"]["unit"] == {"type": "string", "enum": ["c", "f"]}


def test_numpy_parameters_apart_by_blank_lines_keep_their_descriptions() -> None:
    @tool
    def weather(city: str, unit: str, days: int) -> str:
        """Weather forecast.

        Parameters
        ----------
        city : str
            The city name.

        unit : str
            Temperature unit, c or f.

        days : int
            How many days ahead.

        Returns
        -------
        str
            The forecast.
        """
        return ""

    properties = weather.parameters["properties"]
    assert {name: spec.get("description") for name, spec in properties.items()} == {
        "city": "The city name.",
        "unit": "Temperature unit, c or f.",
        "days": "How many days ahead.",
    }
