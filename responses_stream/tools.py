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

The parameters' JSON Schema comes from the type hints (see ``responses_stream._schema`` for the
supported annotations; anything else raises :class:`TypeError` when the function is decorated)
and their descriptions from the docstring.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import typing
from typing import Any, Callable, Dict, Generic, Mapping, Optional, TypeVar, Union, overload

from ._base import json_default
from ._docstrings import parse_docstring
from ._schema import MISSING, Invalid, JSONDict, SchemaBuilder
from ._type_hints import type_hints
from .errors import InvalidArgumentsError
from .models import FunctionCall

__all__ = ["Tool", "UnknownToolError", "encode_output", "function_call_output", "tool"]

F = TypeVar("F", bound=Callable[..., Any])
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class UnknownToolError(LookupError):
    """The model called a function that is not among the loop's tools.

    Passed to ``handler.on_tool_error``; the loop answers the model with the message and goes
    on. ``name`` is the name the model used.
    """

    def __init__(self, message: str, *, name: Optional[str]) -> None:
        super().__init__(message)
        self.name = name


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
        strict: bool = True,
        name: Optional[str] = None,
        description: Optional[str] = None,
    ) -> None:
        if not callable(function):
            raise TypeError(f"@tool needs a function, got {function!r}")
        functools.update_wrapper(self, function)
        self.function: F = function
        self.name: str = name if name else str(getattr(function, "__name__", ""))
        if not _NAME.fullmatch(self.name):
            raise ValueError(
                f"tool name {self.name!r} is not valid for the API (letters, digits, _ and -, "
                "at most 64 characters): pass @tool(name=...)"
            )
        if not isinstance(strict, bool):
            raise TypeError(f"@tool(strict=...) must be True or False, got {strict!r}")
        self.strict = strict
        summary, param_docs = parse_docstring(inspect.getdoc(function))
        self.description: str = description if description is not None else summary
        owner = f"tool {self.name!r}"
        signature = inspect.signature(function)
        hints = type_hints(function, owner)
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
            default = MISSING if param.default is param.empty else param.default
            specs.append((param.name, hints[param.name], default, param_docs.get(param.name, "")))
        self.parameters, self._convert = SchemaBuilder(owner, strict).object(specs, "", owner)

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
        except (Invalid, RecursionError) as exc:  # RecursionError: deeper than the stack
            why = exc if isinstance(exc, Invalid) else "they nest too deeply"
            try:
                raw = json.dumps(arguments, ensure_ascii=False, default=repr)
            except (ValueError, RecursionError):
                raw = repr(arguments)[:200]
            raise InvalidArgumentsError(
                f"invalid arguments for tool {self.name!r}: {why}", name=self.name, arguments=raw
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


class _Unencodable(TypeError, ValueError):
    """A value JSON cannot hold: a TypeError as documented, and the ValueError that
    ``json.dumps`` raised for it before, for code written against that."""


def encode_output(value: Any) -> str:
    """A tool result as the string sent to the model: ``str`` as is, anything else as JSON.

    Dataclasses, enums and sets are encoded too; raises :class:`TypeError` for values JSON
    cannot hold.
    """
    if isinstance(value, str):
        return value
    try:
        return json.dumps(
            value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=json_default
        )
    except ValueError as exc:  # NaN, infinity, a circular reference
        raise _Unencodable(f"the value cannot be sent as JSON: {exc}") from exc


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
