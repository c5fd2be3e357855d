"""Structured outputs: ``text_format=SomeDataclass`` in, ``response.output_parsed`` out.

:func:`prepare_text_format` builds ``text.format`` (``json_schema``, strict) from a dataclass
before the request is sent; :func:`bind_text_format` ties the class to the response being
streamed, and ``Response.output_parsed`` parses the text on first access, and only once the
response has ``completed``: never from a partial stream, never for an ``incomplete`` response
(openai-python parses too early and fails there, openai/openai-python#3263), and ``None`` for a
refusal (``response.refusal`` says why).

A class set up with dataclasses-json (``@dataclass_json(letter_case=LetterCase.CAMEL)``,
``field(metadata=config(field_name=...))``) is sent and parsed under the JSON names that its
``to_json()`` writes and its ``from_json()`` reads.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Any, Callable, Dict, Mapping, Optional, Type, TypeVar, cast

from ._base import loads_strict
from ._schema import json_schema
from .errors import ConfigurationError, OutputParseError
from .models import Message, OutputText, Response

__all__ = ["bind_text_format", "parse_output", "prepare_text_format", "text_format_schema"]

T = TypeVar("T")

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def text_format_schema(cls: type) -> Dict[str, Any]:
    """The ``text.format`` object for dataclass ``cls``.

    ``{"type": "json_schema", "name": <class name>, "schema": ..., "strict": True}``, plus
    ``description`` from the class docstring. The schema follows the same rules as tool
    parameters (see ``responses_stream._schema``), with the field names dataclasses-json
    gives a class configured for it; raises :class:`TypeError` for a class that is not a
    dataclass or has a field type the API cannot express.
    """
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"text_format must be a dataclass type, got {cls!r}")
    schema, _ = json_schema(cls, strict=True)
    schema = dict(schema)
    description = schema.pop("description", None)
    fmt: Dict[str, Any] = {
        "type": "json_schema",
        "name": _NAME_CHARS.sub("_", cls.__name__)[:64] or "output",
        "schema": schema,
        "strict": True,
    }
    if description:
        fmt["description"] = description
    return fmt


def prepare_text_format(params: Mapping[str, Any], cls: type) -> Dict[str, Any]:
    """A copy of the request ``params`` with ``text.format`` built from dataclass ``cls``.

    Other ``text`` keys (``verbosity``) are kept. Raises
    :class:`~responses_stream.ConfigurationError` when ``params`` already set
    ``text.format``, and :class:`TypeError` for a class the API cannot express.
    """
    out = dict(params)
    text = out.get("text")
    if text is not None and not isinstance(text, Mapping):
        raise ConfigurationError(f"text must be a dict, got {type(text).__name__}")
    text = dict(text or {})
    if text.get("format") is not None:
        raise ConfigurationError("pass either text_format= or text={'format': ...}, not both")
    text["format"] = text_format_schema(cls)
    out["text"] = text
    return out


def asks_for_json(body: Mapping[str, Any]) -> bool:
    """Whether a request, or the response object echoing it, asks for JSON output (its
    ``text.format`` is ``json_schema``, as ``text_format=`` sets, or ``json_object``)."""
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, Mapping) else None
    return isinstance(fmt, Mapping) and fmt.get("type") in ("json_schema", "json_object")


def bind_text_format(response: Response, cls: type) -> Response:
    """Make ``response.output_parsed`` parse into ``cls`` once the response has completed.

    Call it on the snapshot before or after the stream ends (the snapshot object stays the
    same through the stream); returns ``response``.
    """
    attrs = response.__dict__
    attrs["_output_parser"] = functools.partial(parse_output, cls=cls)
    attrs.pop("_output_parsed", None)
    return response


@functools.lru_cache(maxsize=128)
def _converter(cls: type) -> Callable[[Any], Any]:
    return json_schema(cls, strict=True)[1]


def _final_text(response: Response) -> Optional[str]:
    """The text of the last message that has any ``output_text``."""
    for item in reversed(response.output):
        if isinstance(item, Message) and any(isinstance(p, OutputText) for p in item.content):
            return item.text
    return None


def parse_output(response: Response, cls: Type[T]) -> Optional[T]:
    """Parse a response's output text into dataclass ``cls``.

    Returns ``None`` unless the response ``completed``, when it holds a refusal, or when it
    has no output text at all (a turn of only tool calls). Raises
    :class:`~responses_stream.OutputParseError` when the text is not JSON matching ``cls``.
    """
    if response.status != "completed" or response.refusal is not None:
        return None
    text = _final_text(response)
    if text is None:
        return None
    convert = _converter(cast(Any, cls))
    try:
        data = loads_strict(text)
    except ValueError as exc:
        raise OutputParseError(
            f"the output is not valid JSON for {cls.__name__}: {exc}; text: {text[:200]!r}",
            text=text,
            response=response,
        ) from exc
    try:
        return cast(T, convert(data))
    except (ValueError, RecursionError) as exc:  # RecursionError: data deeper than the stack
        raise OutputParseError(
            f"the output does not match {cls.__name__}: {exc}", text=text, response=response
        ) from exc
