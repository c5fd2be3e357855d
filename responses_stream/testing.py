"""Test helpers for code that consumes OpenAI Responses streams.

This module is public API. It has two tools, and both depend only on the standard library:

* :class:`Script` builds a valid Responses event sequence with the same shape as the real API
  (``response.created`` ... ``response.completed``). It can render the sequence as JSON payloads
  or as SSE bytes. Use it to unit-test event handlers offline, or feed it to :class:`MockServer`.
* :class:`MockServer` is a real HTTP/1.1 server on ``127.0.0.1``. It serves queued scripts,
  recorded ``.sse`` files and JSON error bodies on ``POST /v1/responses``. It can cut,
  stall or reset the connection, and it implements the background routes: resume
  (``GET /v1/responses/{id}?stream=true&starting_after=N``), retrieve, and cancel.

Example::

    from responses_stream.testing import MockServer, Script

    script = Script(seed=1).text("Hello! How can I help?").completed()
    with MockServer() as server:
        server.add(script, delay=0.01)
        ...  # point the client at server.url ("http://127.0.0.1:PORT/v1")
        assert server.requests[0].json["stream"] is True

For pytest, wrap :func:`mock_server` in a fixture::

    @pytest.fixture
    def server():
        yield from mock_server()
"""

import contextlib
import copy
import json
import os
import random
import re
import socket
import string
import struct
import sys
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Generator, List, Mapping, Optional, Sequence, Tuple, Union

__all__ = ["MockServer", "RecordedRequest", "Script", "mock_server"]

_JSONDict = Dict[str, Any]
_Chunking = Union[int, Sequence[str], None]

_HEX = "0123456789abcdef"
_ALNUM = string.ascii_letters + string.digits
# Real deltas are split like model tokens: a word with its leading space, or one or two
# punctuation marks with the word glued to them ('"password', '":', '**Providing').
_TOKEN = re.compile(r"\s*\w+|\s*[^\w\s]{1,2}\w*|\s+")
_FRAMINGS = ("event", "data")
_LINE_ENDINGS = ("\n", "\r\n", "\r")
_TERMINAL_TYPES = ("response.completed", "response.incomplete", "response.failed")


# --------------------------------------------------------------------------------------------
# Script
# --------------------------------------------------------------------------------------------


def _split(text: str, chunk: _Chunking) -> List[str]:
    """Split ``text`` into deltas: word-ish tokens, fixed-size pieces or explicit pieces."""
    if chunk is None:
        return _TOKEN.findall(text)
    if isinstance(chunk, int):
        if chunk <= 0:
            raise ValueError(f"chunk must be a positive int, got {chunk}")
        return [text[i : i + chunk] for i in range(0, len(text), chunk)]
    if isinstance(chunk, str):
        raise TypeError("chunk must be an int or a sequence of strings, not a str")
    pieces = list(chunk)
    if "".join(pieces) != text:
        raise ValueError("the chunk pieces must join to exactly the text")
    return pieces


class _Emitter:
    """Collects events during one render and numbers them from 0."""

    def __init__(self) -> None:
        self.events: List[_JSONDict] = []

    def emit(self, type_: str, **fields: Any) -> None:
        self.events.append({"type": type_, "sequence_number": len(self.events), **fields})


@dataclass(frozen=True)
class _Deltas:
    """Pieces of one streamed string, with the obfuscation padding sent next to each piece."""

    pieces: Tuple[str, ...]
    obfuscation: Optional[Tuple[str, ...]]

    def fields(self, index: int) -> _JSONDict:
        extra: _JSONDict = {"delta": self.pieces[index]}
        if self.obfuscation is not None:
            extra["obfuscation"] = self.obfuscation[index]
        return extra


@dataclass(frozen=True)
class _Message:
    item_id: str
    part_type: str  # "output_text" or "refusal"
    text: str
    deltas: _Deltas
    tokens: int = 0
    reasoning_tokens: int = 0
    tool: Optional[_JSONDict] = None

    def part(self, text: str) -> _JSONDict:
        if self.part_type == "refusal":
            return {"type": "refusal", "refusal": text}
        return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}

    def render(self, index: int, status: str, out: _Emitter) -> _JSONDict:
        ids = {"item_id": self.item_id, "output_index": index, "content_index": 0}
        added = {"id": self.item_id, "type": "message", "status": "in_progress", "content": []}
        out.emit(
            "response.output_item.added", output_index=index, item={**added, "role": "assistant"}
        )
        out.emit("response.content_part.added", **ids, part=self.part(""))
        for i in range(len(self.deltas.pieces)):
            if self.part_type == "refusal":
                out.emit("response.refusal.delta", **ids, **self.deltas.fields(i))
            else:
                fields = self.deltas.fields(i)
                fields = {"delta": fields.pop("delta"), "logprobs": [], **fields}
                out.emit("response.output_text.delta", **ids, **fields)
        if self.part_type == "refusal":
            out.emit("response.refusal.done", **ids, refusal=self.text)
        else:
            out.emit("response.output_text.done", **ids, text=self.text, logprobs=[])
        out.emit("response.content_part.done", **ids, part=self.part(self.text))
        item = {
            "id": self.item_id,
            "type": "message",
            "status": status,
            "content": [self.part(self.text)],
            "role": "assistant",
        }
        out.emit("response.output_item.done", output_index=index, item=item)
        return item


@dataclass(frozen=True)
class _Reasoning:
    item_id: str
    summary: Tuple[_Deltas, ...]
    encrypted_content: Optional[str]
    tokens: int = 0
    reasoning_tokens: int = 0
    tool: Optional[_JSONDict] = None

    def item(self, summary: List[_JSONDict]) -> _JSONDict:
        item: _JSONDict = {"id": self.item_id, "type": "reasoning"}
        if self.encrypted_content is not None:
            item["encrypted_content"] = self.encrypted_content
        item["summary"] = summary
        return item

    def render(self, index: int, status: str, out: _Emitter) -> _JSONDict:
        out.emit("response.output_item.added", output_index=index, item=self.item([]))
        parts = []
        for s, deltas in enumerate(self.summary):
            ids = {"item_id": self.item_id, "output_index": index, "summary_index": s}
            text = "".join(deltas.pieces)
            out.emit("response.reasoning_summary_part.added", **ids, part=_summary_part(""))
            for i in range(len(deltas.pieces)):
                out.emit("response.reasoning_summary_text.delta", **ids, **deltas.fields(i))
            out.emit("response.reasoning_summary_text.done", **ids, text=text)
            out.emit("response.reasoning_summary_part.done", **ids, part=_summary_part(text))
            parts.append(_summary_part(text))
        item = self.item(parts)
        out.emit("response.output_item.done", output_index=index, item=item)
        return item


def _summary_part(text: str) -> _JSONDict:
    return {"type": "summary_text", "text": text}


@dataclass(frozen=True)
class _FunctionCall:
    item_id: str
    call_id: str
    name: str
    arguments: str
    deltas: _Deltas
    tokens: int = 0
    reasoning_tokens: int = 0
    tool: Optional[_JSONDict] = None

    def item(self, status: str, arguments: str) -> _JSONDict:
        return {
            "id": self.item_id,
            "type": "function_call",
            "status": status,
            "arguments": arguments,
            "call_id": self.call_id,
            "name": self.name,
        }

    def render(self, index: int, status: str, out: _Emitter) -> _JSONDict:
        ids = {"item_id": self.item_id, "output_index": index}
        out.emit(
            "response.output_item.added", output_index=index, item=self.item("in_progress", "")
        )
        for i in range(len(self.deltas.pieces)):
            out.emit("response.function_call_arguments.delta", **ids, **self.deltas.fields(i))
        out.emit("response.function_call_arguments.done", **ids, arguments=self.arguments)
        item = self.item(status, self.arguments)
        out.emit("response.output_item.done", output_index=index, item=item)
        return item


@dataclass(frozen=True)
class _WebSearch:
    item_id: str
    query: str
    tokens: int = 0
    reasoning_tokens: int = 0
    tool: Optional[_JSONDict] = None

    def render(self, index: int, status: str, out: _Emitter) -> _JSONDict:
        ids = {"item_id": self.item_id, "output_index": index}
        added = {"id": self.item_id, "type": "web_search_call", "status": "in_progress"}
        out.emit("response.output_item.added", output_index=index, item=added)
        for phase in ("in_progress", "searching", "completed"):
            out.emit(f"response.web_search_call.{phase}", **ids)
        action = {"type": "search", "query": self.query, "queries": [self.query]}
        item = {
            "id": self.item_id,
            "type": "web_search_call",
            "status": "completed",
            "action": action,
        }
        out.emit("response.output_item.done", output_index=index, item=item)
        return item


_Item = Union[_Message, _Reasoning, _FunctionCall, _WebSearch]


@dataclass(frozen=True)
class _Ending:
    kind: str  # "completed", "incomplete", "failed", "error"
    usage: Optional[Mapping[str, Any]] = None
    reason: Optional[str] = None
    code: Optional[str] = None
    message: Optional[str] = None
    error_type: Optional[str] = None
    param: Optional[str] = None


class Script:
    """Builder for a valid OpenAI Responses event stream, shaped like the real wire format.

    Use it wherever a test needs a stream: render it with :meth:`events` (JSON payloads),
    :meth:`to_bytes` or :meth:`to_sse_chunks` (SSE), or queue it on a :class:`MockServer`.
    Each builder method adds one output item (with the next ``output_index``) and returns the
    script, so calls chain::

        script = (
            Script(model="o3-mini", seed=7)
            .reasoning(summary=["**Planning**\\n\\nLook up the weather."])
            .function_call("get_weather", {"city": "Paris"})
            .completed()
        )

    The stream starts with ``response.created`` (plus ``response.queued`` when ``background``)
    and ``response.in_progress``. It ends with the event of the ending method that was called:
    :meth:`completed`, :meth:`incomplete`, :meth:`failed` or :meth:`error`. If no ending method
    is called, the stream has no terminal event, like a stream whose connection dropped. The
    terminal ``response.output`` holds exactly the ``response.output_item.done`` items.

    Ids (``resp_…``, ``msg_…``, ``fc_…``, ``rs_…``, ``ws_…``, ``call_…``), ``created_at`` and
    the ``obfuscation`` padding are drawn from ``random.Random(seed)`` while the script is built.
    With the same ``seed`` and the same calls you get the same bytes. Rendering never changes
    a script, so it can be rendered or served any number of times.

    Args:
        model: echoed in every response object.
        response_id: the ``resp_…`` id; generated when ``None``.
        background: start like a background response (``status: "queued"``,
            ``response.queued``, ``background: true``, no obfuscation).
        seed: seed for ids and padding; ``None`` draws fresh ones.
        created_at: unix time of creation; derived from ``seed`` when ``None``.
        obfuscation: add the ``obfuscation`` field to delta events, as OpenAI does for
            foreground streams. Defaults to ``not background``.
    """

    def __init__(
        self,
        model: str = "gpt-4o-mini",
        response_id: Optional[str] = None,
        background: bool = False,
        *,
        seed: Optional[int] = None,
        created_at: Optional[int] = None,
        obfuscation: Optional[bool] = None,
    ) -> None:
        self._rng = random.Random(seed)
        self.model = model
        self.background = background
        self.created_at = (
            created_at if created_at is not None else 1_750_000_000 + self._rng.randrange(10**7)
        )
        self._items: List[_Item] = []
        self._ending: Optional[_Ending] = None
        self._obfuscate = (not background) if obfuscation is None else obfuscation
        self._stem = self._hex(16)
        self.response_id = response_id or self._new_id("resp")

    # -- ids and padding ----------------------------------------------------------------------

    def _hex(self, n: int) -> str:
        return "".join(self._rng.choice(_HEX) for _ in range(n))

    def _new_id(self, prefix: str) -> str:
        # Same layout as OpenAI ids: shared stem, "00", a time field, then random hex.
        stamp = (self.created_at + len(self._items)) & 0xFFFFFFFF
        return f"{prefix}_{self._stem}00{stamp:08x}{self._hex(24)}"

    def _deltas(self, text: str, chunk: _Chunking, obfuscate: bool = True) -> _Deltas:
        pieces = tuple(_split(text, chunk))
        if not (obfuscate and self._obfuscate):
            return _Deltas(pieces, None)
        # OpenAI pads each delta so that delta + obfuscation is a multiple of 16 characters.
        pads = tuple(
            "".join(self._rng.choice(_ALNUM) for _ in range(16 - len(p) % 16)) for p in pieces
        )
        return _Deltas(pieces, pads)

    def _add(self, item: _Item) -> "Script":
        if self._ending is not None:
            raise ValueError(f"the script already ended with {self._ending.kind}()")
        self._items.append(item)
        return self

    # -- output items ---------------------------------------------------------------------------

    def text(self, text: str, chunk: _Chunking = None) -> "Script":
        """Add an assistant ``message`` item with one ``output_text`` part.

        ``chunk`` controls the ``response.output_text.delta`` pieces. ``None`` splits into
        word-ish tokens like a model (``"Hello"``, ``"!"``, ``" How"``). An int gives
        fixed-size pieces of that many characters. A sequence of strings gives exactly those
        pieces; they must join to ``text``.
        """
        deltas = self._deltas(text, chunk)
        item_id = self._new_id("msg")
        return self._add(_Message(item_id, "output_text", text, deltas, len(deltas.pieces)))

    def refusal(self, text: str, chunk: _Chunking = None) -> "Script":
        """Add an assistant ``message`` item with one ``refusal`` part (``response.refusal.*``).

        A refusal is not a failure: the response still completes normally.
        """
        deltas = self._deltas(text, chunk, obfuscate=False)
        item_id = self._new_id("msg")
        return self._add(_Message(item_id, "refusal", text, deltas, len(deltas.pieces)))

    def reasoning(
        self,
        summary: Union[str, Sequence[str]] = (),
        encrypted_content: Optional[str] = None,
        chunk: _Chunking = None,
    ) -> "Script":
        """Add a ``reasoning`` item; each summary string is one streamed summary part.

        For each part the stream has ``reasoning_summary_part.added``, the
        ``reasoning_summary_text.delta`` events, ``reasoning_summary_text.done`` and
        ``reasoning_summary_part.done``. With an empty ``summary`` the item is added and done
        with nothing in between, as with gpt-5 when no summary was asked for.
        ``encrypted_content`` is copied to the item as given.
        """
        texts = [summary] if isinstance(summary, str) else list(summary)
        parts = tuple(self._deltas(t, chunk) for t in texts)
        streamed = sum(len(p.pieces) for p in parts)
        return self._add(
            _Reasoning(
                self._new_id("rs"),
                parts,
                encrypted_content,
                tokens=0,
                reasoning_tokens=64 + 2 * streamed,
            )
        )

    def function_call(
        self,
        name: str,
        arguments: Union[str, Mapping[str, Any]] = "{}",
        call_id: Optional[str] = None,
        chunk: _Chunking = None,
    ) -> "Script":
        """Add a ``function_call`` item whose arguments stream as ``function_call_arguments.delta``.

        A mapping is dumped as compact JSON, as models write it. A str is sent as given, so
        you can test invalid JSON arguments too. ``call_id`` defaults to a generated
        ``call_…`` id. The function is also listed in the response's ``tools``.
        """
        if isinstance(arguments, str):
            args = arguments
        else:
            args = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
        deltas = self._deltas(args, chunk)
        item_id = self._new_id("fc")
        call = call_id or "call_" + "".join(self._rng.choice(_ALNUM) for _ in range(24))
        tool = {
            "type": "function",
            "description": None,
            "name": name,
            "parameters": {"type": "object", "properties": {}, "additionalProperties": True},
            "strict": False,
        }
        return self._add(
            _FunctionCall(item_id, call, name, args, deltas, len(deltas.pieces), 0, tool)
        )

    def web_search(self, query: str) -> "Script":
        """Add a ``web_search_call`` item (``web_search_call.in_progress/searching/completed``).

        The done item carries ``action: {"type": "search", "query": query, "queries": [query]}``.
        """
        tool = {
            "type": "web_search",
            "filters": None,
            "search_context_size": "medium",
            "user_location": {
                "type": "approximate",
                "city": None,
                "country": "US",
                "region": None,
                "timezone": None,
            },
        }
        return self._add(_WebSearch(self._new_id("ws"), query, tool=tool))

    # -- endings ------------------------------------------------------------------------------

    def _end(self, ending: _Ending) -> "Script":
        if self._ending is not None:
            raise ValueError(f"the script already ended with {self._ending.kind}()")
        self._ending = ending
        return self

    def completed(self, usage: Optional[Mapping[str, Any]] = None) -> "Script":
        """End with ``response.completed`` (``status: "completed"``).

        ``usage`` replaces the computed token counts. Keys you leave out are computed, and
        ``total_tokens`` defaults to input plus output.
        """
        return self._end(_Ending("completed", usage=usage))

    def incomplete(
        self, reason: str = "max_output_tokens", usage: Optional[Mapping[str, Any]] = None
    ) -> "Script":
        """End with ``response.incomplete`` and ``incomplete_details: {"reason": reason}``.

        As in the real API, the last item gets ``status: "incomplete"`` if it is a message or
        a function call.
        """
        return self._end(_Ending("incomplete", usage=usage, reason=reason))

    def failed(
        self,
        code: str = "server_error",
        message: str = "An error occurred while processing your request.",
    ) -> "Script":
        """End with ``response.failed`` carrying ``error: {"code": code, "message": message}``."""
        return self._end(_Ending("failed", code=code, message=message))

    def error(
        self,
        code: str = "server_error",
        message: str = "An error occurred while processing your request.",
        type: Optional[str] = None,
        param: Optional[str] = None,
    ) -> "Script":
        """End with an in-band ``error`` event, then ``response.failed``, as OpenAI does.

        The error event is nested like the production wire, not flat like the SDK models::

            {"type": "error", "sequence_number": n,
             "error": {"type": ..., "code": ..., "message": ..., "param": null}}

        ``type`` defaults to ``code`` (for example ``"insufficient_quota"``).
        """
        return self._end(
            _Ending("error", code=code, message=message, error_type=type or code, param=param)
        )

    # -- rendering ----------------------------------------------------------------------------

    def _usage(self, override: Optional[Mapping[str, Any]]) -> _JSONDict:
        tools = [item.tool for item in self._items if item.tool is not None]
        reasoning = sum(item.reasoning_tokens for item in self._items)
        visible = sum(item.tokens for item in self._items)
        over = dict(override or {})
        input_tokens = int(over.get("input_tokens", 11 + 40 * len(tools)))
        output_tokens = int(over.get("output_tokens", visible + reasoning))
        return {
            "input_tokens": input_tokens,
            "input_tokens_details": over.get("input_tokens_details", {"cached_tokens": 0}),
            "output_tokens": output_tokens,
            "output_tokens_details": over.get(
                "output_tokens_details", {"reasoning_tokens": reasoning}
            ),
            "total_tokens": int(over.get("total_tokens", input_tokens + output_tokens)),
        }

    def _response(self, status: str, output: List[_JSONDict], **final: Any) -> _JSONDict:
        has_reasoning = any(isinstance(item, _Reasoning) for item in self._items)
        tools = [copy.deepcopy(item.tool) for item in self._items if item.tool is not None]
        return {
            "id": self.response_id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": self.background,
            "completed_at": final.get("completed_at"),
            "error": final.get("error"),
            "incomplete_details": final.get("incomplete_details"),
            "instructions": None,
            "max_output_tokens": None,
            "max_tool_calls": None,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "prompt_cache_key": None,
            "reasoning": (
                {"effort": "medium", "summary": "detailed"}
                if has_reasoning
                else {"effort": None, "summary": None}
            ),
            "safety_identifier": None,
            "service_tier": "default" if status in ("completed", "incomplete") else "auto",
            "store": True,
            "temperature": 1.0,
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": "auto",
            "tools": tools,
            "top_logprobs": 0,
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": final.get("usage"),
            "user": None,
            "metadata": {},
        }

    def events(self) -> List[_JSONDict]:
        """Render the stream as a list of event payloads (fresh dicts on every call).

        ``sequence_number`` runs from 0 and goes up by exactly 1 per event.
        """
        out = _Emitter()
        first = "queued" if self.background else "in_progress"
        out.emit("response.created", response=self._response(first, []))
        if self.background:
            out.emit("response.queued", response=self._response("queued", []))
        out.emit("response.in_progress", response=self._response("in_progress", []))

        ending = self._ending
        output: List[_JSONDict] = []
        for index, item in enumerate(self._items):
            cut = (
                ending is not None
                and ending.kind == "incomplete"
                and index == len(self._items) - 1
                and isinstance(item, (_Message, _FunctionCall))
            )
            output.append(item.render(index, "incomplete" if cut else "completed", out))
        if ending is None:
            return out.events

        final_output = copy.deepcopy(output)
        if ending.kind == "completed":
            done_at = self.created_at + 1 + len(out.events) // 50
            response = self._response(
                "completed",
                final_output,
                completed_at=done_at,
                usage=self._usage(ending.usage),
            )
            out.emit("response.completed", response=response)
        elif ending.kind == "incomplete":
            response = self._response(
                "incomplete",
                final_output,
                incomplete_details={"reason": ending.reason},
                usage=self._usage(ending.usage),
            )
            out.emit("response.incomplete", response=response)
        else:
            if ending.kind == "error":
                error = {
                    "type": ending.error_type,
                    "code": ending.code,
                    "message": ending.message,
                    "param": ending.param,
                }
                out.emit("error", error=error)
            failure = {"code": ending.code, "message": ending.message}
            out.emit(
                "response.failed", response=self._response("failed", final_output, error=failure)
            )
        return out.events

    def to_sse_chunks(
        self, framing: str = "event", line_ending: str = "\n", done_sentinel: bool = False
    ) -> List[bytes]:
        """Render the stream as SSE, one ``bytes`` per event (each ends with a blank line).

        ``framing="event"`` writes an ``event: <type>`` line then a ``data: <json>`` line, like
        OpenAI. ``framing="data"`` writes only ``data:`` lines, like OpenRouter or LiteLLM.
        ``line_ending`` is ``"\\n"`` (OpenAI), ``"\\r\\n"`` or ``"\\r"``. ``done_sentinel``
        appends a ``data: [DONE]`` chunk, which OpenAI never sends but some compatible servers do.
        JSON is compact and UTF-8, not ASCII-escaped, as on the wire.
        """
        if framing not in _FRAMINGS:
            raise ValueError(f"framing must be one of {_FRAMINGS}, got {framing!r}")
        if line_ending not in _LINE_ENDINGS:
            raise ValueError(f"line_ending must be one of {_LINE_ENDINGS}, got {line_ending!r}")
        chunks = []
        for event in self.events():
            data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
            head = f"event: {event['type']}{line_ending}" if framing == "event" else ""
            chunks.append(f"{head}data: {data}{line_ending}{line_ending}".encode())
        if done_sentinel:
            chunks.append(f"data: [DONE]{line_ending}{line_ending}".encode())
        return chunks

    def to_bytes(
        self, framing: str = "event", line_ending: str = "\n", done_sentinel: bool = False
    ) -> bytes:
        """Render the whole stream as one SSE body; arguments as in :meth:`to_sse_chunks`."""
        return b"".join(self.to_sse_chunks(framing, line_ending, done_sentinel))

    def __repr__(self) -> str:
        kinds = [type(item).__name__.lstrip("_") for item in self._items]
        end = self._ending.kind if self._ending else None
        return f"Script(response_id={self.response_id!r}, items={kinds}, ending={end!r})"


# --------------------------------------------------------------------------------------------
# SSE bookkeeping for stored (resumable) responses
# --------------------------------------------------------------------------------------------

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_LINE = re.compile(rb"\r\n|\r|\n")


def _split_events(body: bytes) -> List[bytes]:
    """Split an SSE body into event blocks, each keeping its trailing blank line."""
    chunks, start = [], 0
    for match in _EVENT_END.finditer(body):
        chunks.append(body[start : match.end()])
        start = match.end()
    if start < len(body):
        chunks.append(body[start:])
    return chunks


def _payload(chunk: bytes) -> Optional[_JSONDict]:
    """The JSON object in one SSE block's ``data:`` lines, or ``None`` (comments, ``[DONE]``)."""
    data = [line[5:] for line in _LINE.split(chunk) if line.startswith(b"data:")]
    if not data:
        return None
    text = b"\n".join(d[1:] if d.startswith(b" ") else d for d in data)
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass
class _Stored:
    """A response the server has seen, kept for retrieve, resume and cancel."""

    events: List[Tuple[float, bytes, Optional[_JSONDict]]]
    cancelled: bool = False

    @classmethod
    def index(cls, chunks: Sequence[bytes]) -> Tuple[Optional[str], "_Stored"]:
        # Each block gets its sequence_number (or its position among JSON events). A block
        # without JSON (a comment, [DONE]) sorts just after the block before it.
        entries: List[Tuple[float, bytes, Optional[_JSONDict]]] = []
        position, previous, response_id = 0, -1.0, None
        for chunk in chunks:
            payload = _payload(chunk)
            if payload is None:
                seq = previous + 0.5
            else:
                number = payload.get("sequence_number")
                seq = float(number) if isinstance(number, int) else float(position)
                position += 1
                response = payload.get("response")
                if response_id is None and isinstance(response, dict):
                    rid = response.get("id")
                    response_id = rid if isinstance(rid, str) else None
            entries.append((seq, chunk, payload))
            previous = seq
        return response_id, cls(entries)

    def latest(self) -> _JSONDict:
        """The newest response object in the stream (status ``cancelled`` once cancelled)."""
        response: _JSONDict = {}
        for _, _, payload in self.events:
            if payload is not None and isinstance(payload.get("response"), dict):
                response = payload["response"]
        response = copy.deepcopy(response)
        if self.cancelled:
            response["status"] = "cancelled"
        return response


# --------------------------------------------------------------------------------------------
# MockServer
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request received by a :class:`MockServer` (see ``MockServer.requests``).

    ``path`` has no query string; ``query`` maps each parameter to its last value.
    ``headers`` keys are lower-cased. ``json`` is the decoded body, or ``None`` when the body
    is not JSON.
    """

    method: str
    path: str
    query: Dict[str, str]
    headers: Dict[str, str]
    body: bytes
    json: Any


_Source = Union[Script, bytes, str, os.PathLike[str]]


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: List[Tuple[str, str]]
    pieces: List[bytes]
    framing: str = "length"
    delay: float = 0.0
    close_after: Optional[int] = None
    stall: Optional[float] = None
    stall_after_events: int = 0
    reset: bool = False
    stored: Optional[Tuple[str, _Stored]] = None


_SSE_HEADERS = [
    ("Content-Type", "text/event-stream; charset=utf-8"),
    ("openai-version", "2020-10-01"),
    ("openai-processing-ms", "27"),
]
_JSON_HEADERS = [("Content-Type", "application/json"), ("openai-version", "2020-10-01")]
_SERVER_FRAMINGS = ("chunked", "close", "length")


def _merge_headers(
    base: List[Tuple[str, str]], extra: Optional[Mapping[str, str]]
) -> List[Tuple[str, str]]:
    if not extra:
        return list(base)
    names = {name.lower() for name in extra}
    return [h for h in base if h[0].lower() not in names] + [(k, str(v)) for k, v in extra.items()]


def _error_body(message: str, type_: str, code: Optional[str] = None) -> bytes:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return json.dumps(body, indent=2).encode()


class _Abort(Exception):
    """Raised inside a handler to drop the connection without finishing the response."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: Tuple[str, int], mock: "MockServer") -> None:
        self.mock = mock
        self.lock = threading.Lock()
        self.active: Dict[threading.Thread, socket.socket] = {}
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Like ThreadingMixIn, but tracks every connection so close() can end and join it.
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name=f"MockServer-conn-{client_address[1]}",
            daemon=True,
        )
        with self.lock:
            self.active[thread] = request
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self.lock:
                self.active.pop(threading.current_thread(), None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up mid-stream are normal in these tests; anything else is a bug.
        if not isinstance(sys.exc_info()[1], (OSError, _Abort)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read ``MockServer.requests`` instead of a log."""

    def _dispatch(self) -> None:
        try:
            self.server.mock._handle(self)
        except (OSError, _Abort):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is not None:
            return self.rfile.read(int(length))
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            return b""
        body = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(body)
            body += self.rfile.read(size)
            self.rfile.readline()


class MockServer:
    """A real HTTP/1.1 Responses API server on ``127.0.0.1``, for integration tests.

    It listens on a free port and serves from a daemon thread. Use it as a context manager,
    or call :meth:`close` yourself. Closing ends open keep-alive connections, stalls and
    delays, then joins every thread, so nothing leaks (tests can run with ``-W error``).

    Queue replies with :meth:`add` (SSE streams), :meth:`add_json` or :meth:`add_error`.
    Each route (method and path, by default ``POST /v1/responses``) has its own FIFO queue.
    When a route's queue is empty, the built-in routes answer:

    * ``POST /v1/responses``: 500, with an OpenAI-shaped error saying nothing was queued;
    * ``GET /v1/responses/{id}?stream=true[&starting_after=N]``: replays the stored events of
      that response whose ``sequence_number`` is greater than ``N``, byte for byte. A cancelled
      response replays nothing;
    * ``GET /v1/responses/{id}``: the latest response object as JSON;
    * ``POST /v1/responses/{id}/cancel``: the response object with ``status: "cancelled"``.
      This is idempotent. The mock cancels even a finished response;
    * any other route, or an unknown id: 404 with an OpenAI-shaped error.

    A stream served through a queue is stored under its response id (the ``id`` of the first
    ``response`` object in it) when serving starts, so a test can resume it. The whole stream
    is stored even if ``close_after`` cuts the connection. Every request is recorded in
    :attr:`requests`.

    Args:
        host: interface to bind (keep the loopback default).
        port: port to bind; 0 picks a free one.
        prefix: path prefix of the API routes, ``"/v1"`` like OpenAI.

    Attributes:
        requests: every :class:`RecordedRequest` received, in arrival order.
        host, port, prefix: where the server listens; :attr:`url` joins them.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, prefix: str = "/v1") -> None:
        self.prefix = prefix.rstrip("/")
        self.requests: List[RecordedRequest] = []
        self._lock = threading.Lock()
        self._queues: Dict[Tuple[str, str], List[_Reply]] = {}
        self._stored: Dict[str, _Stored] = {}
        self._closing = threading.Event()
        self._request_count = 0
        self._closed = False
        self._httpd = _HTTPServer((host, port), self)
        self.host: str = host
        self.port: int = self._httpd.server_port
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"MockServer-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """Base URL to give the client, e.g. ``http://127.0.0.1:54321/v1``."""
        return f"http://{self.host}:{self.port}{self.prefix}"

    @property
    def base_url(self) -> str:
        """Same as :attr:`url`."""
        return self.url

    @property
    def pending(self) -> int:
        """How many queued replies have not been served yet (all routes)."""
        with self._lock:
            return sum(len(queue) for queue in self._queues.values())

    def __enter__(self) -> "MockServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MockServer(url={self.url!r}, pending={self.pending})"

    # -- queueing ---------------------------------------------------------------------------

    def _route(self, method: str, path: Optional[str]) -> Tuple[str, str]:
        if path is None:
            path = f"{self.prefix}/responses"
        elif not path.startswith(self.prefix + "/"):
            path = self.prefix + "/" + path.lstrip("/")
        return method.upper(), path

    def _enqueue(self, method: str, path: Optional[str], reply: _Reply) -> None:
        with self._lock:
            self._queues.setdefault(self._route(method, path), []).append(reply)

    @staticmethod
    def _chunks(source: _Source) -> List[bytes]:
        if isinstance(source, Script):
            return source.to_sse_chunks()
        if isinstance(source, (bytes, bytearray, memoryview)):
            return _split_events(bytes(source))
        if isinstance(source, str) and ("\n" in source or "\r" in source):
            raise TypeError("a str is a file path; pass bytes for literal SSE content")
        return _split_events(Path(source).read_bytes())

    def add(
        self,
        source: _Source,
        *,
        status: int = 200,
        headers: Optional[Mapping[str, str]] = None,
        chunk_size: Optional[int] = None,
        delay: float = 0.0,
        close_after: Optional[int] = None,
        stall: Optional[float] = None,
        stall_after_events: int = 0,
        reset: bool = False,
        framing: str = "chunked",
        method: str = "POST",
        path: Optional[str] = None,
    ) -> None:
        """Queue one SSE reply (``text/event-stream``) for a route.

        Args:
            source: a :class:`Script`, the raw body as ``bytes``, or the path of a recorded
                ``.sse`` file (``str`` or ``pathlib.Path``). Bytes and files are served
                verbatim. A script or file is rendered or read now, when it is queued.
            status: HTTP status code.
            headers: extra response headers; they replace default headers of the same name.
            chunk_size: write pieces of this many bytes instead of one piece per SSE event.
            delay: seconds to wait between pieces. Each piece is written and sent at once
                (``TCP_NODELAY``), so the client sees the events one by one.
            close_after: close the connection after this many body bytes, without the
                terminating chunk. The client gets exactly that prefix of the body.
            stall: seconds to wait, without sending, after ``stall_after_events`` pieces
                (0 = right after the headers, before any event).
            stall_after_events: see ``stall``.
            reset: end the connection with a TCP RST (``SO_LINGER`` 0), not a FIN. On its
                own it resets after the whole body instead of sending the terminating
                chunk; with ``close_after`` it resets at that byte.
            framing: ``"chunked"`` (``Transfer-Encoding: chunked``, like OpenAI),
                ``"close"`` (no length, the body ends when the connection closes;
                ``Connection: close``) or ``"length"`` (``Content-Length``).
            method: HTTP method of the route.
            path: route path (``"/v1/responses/resp_1"`` or ``"responses/resp_1"``);
                defaults to ``{prefix}/responses``.
        """
        if framing not in _SERVER_FRAMINGS:
            raise ValueError(f"framing must be one of {_SERVER_FRAMINGS}, got {framing!r}")
        if chunk_size is not None and chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        chunks = self._chunks(source)
        response_id, stored = _Stored.index(chunks)
        pieces = chunks
        if chunk_size is not None:
            body = b"".join(chunks)
            pieces = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]
        reply = _Reply(
            status=status,
            headers=_merge_headers(_SSE_HEADERS, headers),
            pieces=pieces,
            framing=framing,
            delay=delay,
            close_after=close_after,
            stall=stall,
            stall_after_events=stall_after_events,
            reset=reset,
            stored=(response_id, stored) if response_id is not None else None,
        )
        self._enqueue(method, path, reply)

    def add_json(
        self,
        body: Any,
        *,
        status: int = 200,
        headers: Optional[Mapping[str, str]] = None,
        method: str = "POST",
        path: Optional[str] = None,
    ) -> None:
        """Queue a JSON reply (pretty-printed like OpenAI's), e.g. an HTTP error or a
        non-streamed response object. ``body`` must be JSON-serialisable; ``bytes`` are
        sent as they are."""
        data = body if isinstance(body, bytes) else json.dumps(body, indent=2).encode()
        headers_list = _merge_headers(_JSON_HEADERS, headers)
        self._enqueue(method, path, _Reply(status, headers_list, [data]))

    def add_error(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: Optional[str] = None,
        param: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        method: str = "POST",
        path: Optional[str] = None,
    ) -> None:
        """Queue an OpenAI-shaped HTTP error.

        The body is ``{"error": {"message", "type", "param", "code"}}``. For example,
        ``add_error(429, "Rate limit reached", type="requests", code="rate_limit_exceeded",
        headers={"retry-after": "1"})``.
        """
        error = {"message": message, "type": type, "param": param, "code": code}
        self.add_json({"error": error}, status=status, headers=headers, method=method, path=path)

    def store(self, source: _Source) -> str:
        """Store a stream for the resume, retrieve and cancel routes without serving it.

        Use this to test a client that starts by resuming. Returns the response id.
        """
        response_id, stored = _Stored.index(self._chunks(source))
        if response_id is None:
            raise ValueError("the stream has no response object with an id")
        with self._lock:
            self._stored[response_id] = stored
        return response_id

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the server and drop open connections. Returns once every thread has ended.

        Calling it again does nothing.
        """
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        self._httpd.shutdown()
        self._thread.join()
        self._httpd.server_close()
        with self._httpd.lock:
            active = list(self._httpd.active.items())
        for _, conn in active:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread, _ in active:
            thread.join(timeout=5)

    # -- serving --------------------------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        split = urllib.parse.urlsplit(handler.path)
        body = handler.read_body()
        try:
            decoded: Any = json.loads(body) if body else None
        except ValueError:
            decoded = None
        request = RecordedRequest(
            method=handler.command,
            path=split.path,
            query=dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in handler.headers.items()},
            body=body,
            json=decoded,
        )
        with self._lock:
            self.requests.append(request)
            self._request_count += 1
            request_id = f"req_{self._request_count:032x}"
            queue = self._queues.get((request.method, request.path))
            reply = queue.pop(0) if queue else None
            if reply is not None and reply.stored is not None:
                response_id, stored = reply.stored
                self._stored[response_id] = _Stored(list(stored.events))
        if reply is None:
            reply = self._builtin(request)
        self._send(handler, reply, request_id)

    def _builtin(self, request: RecordedRequest) -> _Reply:
        """Answer a request for which nothing was queued."""
        base = f"{self.prefix}/responses"
        path, method = request.path, request.method
        if method == "POST" and path == base:
            message = (
                f"MockServer had nothing queued for POST {path}: "
                "call server.add(...) once per expected request."
            )
            return _Reply(500, list(_JSON_HEADERS), [_error_body(message, "server_error")])
        rest = path[len(base) + 1 :].split("/") if path.startswith(base + "/") else []
        cancel = method == "POST" and len(rest) == 2 and rest[1] == "cancel"
        retrieve = method == "GET" and len(rest) == 1
        if not (rest and rest[0] and (cancel or retrieve)):
            message = f"Invalid URL ({method} {path})"
            return _Reply(404, list(_JSON_HEADERS), [_error_body(message, "invalid_request_error")])
        response_id = rest[0]
        with self._lock:
            stored = self._stored.get(response_id)
            if stored is not None and cancel:
                stored.cancelled = True
            response = stored.latest() if stored is not None else None
        if stored is None or response is None:
            message = f"Response with id '{response_id}' not found."
            return _Reply(404, list(_JSON_HEADERS), [_error_body(message, "invalid_request_error")])
        if retrieve and request.query.get("stream") == "true":
            try:
                after = float(request.query.get("starting_after", "-1"))
            except ValueError:
                message = "Invalid 'starting_after': expected an integer."
                error = _error_body(message, "invalid_request_error")
                return _Reply(400, list(_JSON_HEADERS), [error])
            pieces = [] if stored.cancelled else [c for s, c, _ in stored.events if s > after]
            return _Reply(200, list(_SSE_HEADERS), pieces, framing="chunked")
        return _Reply(200, list(_JSON_HEADERS), [json.dumps(response, indent=2).encode()])

    def _wait(self, seconds: float) -> None:
        if seconds > 0 and self._closing.wait(seconds):
            raise _Abort("server closing")

    def _send(self, handler: _Handler, reply: _Reply, request_id: str) -> None:
        handler.send_response(reply.status)
        for name, value in _merge_headers(reply.headers, {"x-request-id": request_id}):
            handler.send_header(name, value)
        if reply.framing == "chunked":
            handler.send_header("Transfer-Encoding", "chunked")
        elif reply.framing == "length":
            handler.send_header("Content-Length", str(sum(len(p) for p in reply.pieces)))
        else:
            handler.send_header("Connection", "close")
        handler.end_headers()

        write = handler.wfile.write
        sent, limit = 0, reply.close_after
        cut = limit is not None and limit <= 0
        for number, whole in enumerate(reply.pieces):
            piece = whole
            if cut:
                break
            if reply.stall is not None and number == reply.stall_after_events:
                self._wait(reply.stall)
            if number:
                self._wait(reply.delay)
            if limit is not None and sent + len(piece) >= limit:
                piece, cut = piece[: limit - sent], True
            sent += len(piece)
            if not piece:
                continue
            if reply.framing == "chunked":
                write(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                write(piece)
        if not cut and reply.stall is not None and reply.stall_after_events >= len(reply.pieces):
            self._wait(reply.stall)
        if cut or reply.reset:
            self._drop(handler, reply.reset)
        elif reply.framing == "chunked":
            write(b"0\r\n\r\n")

    @staticmethod
    def _drop(handler: _Handler, reset: bool) -> None:
        """End the connection mid-response: a FIN, or an RST when ``reset``."""
        handler.close_connection = True
        if reset:
            linger = struct.pack("ii", 1, 0)
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            # The real close (and so the RST) happens when the handler closes its rfile,
            # before the server's usual shutdown(SHUT_WR) could send a FIN.
            handler.connection.close()


def mock_server(*, prefix: str = "/v1") -> Generator[MockServer, None, None]:
    """Yield a running :class:`MockServer` and close it afterwards, for a pytest fixture.

    pytest stays optional: this is a plain generator. Wrap it in your ``conftest.py``::

        @pytest.fixture
        def server():
            yield from mock_server()
    """
    with MockServer(prefix=prefix) as server:
        yield server
