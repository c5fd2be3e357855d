"""``Script``: builds valid Responses event streams shaped like the real wire format.

Part of :mod:`responses_stream.testing`; standard library only.
"""

import copy
import json
import random
import string
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence, Union

from ._items import (
    Chunking,
    Deltas,
    Emitter,
    FunctionCallItem,
    Item,
    JSONDict,
    MessageItem,
    ReasoningItem,
    WebSearchItem,
    split_text,
)

__all__ = ["Script"]

_HEX = "0123456789abcdef"
_ALNUM = string.ascii_letters + string.digits
_FRAMINGS = ("event", "data")
_LINE_ENDINGS = ("\n", "\r\n", "\r")


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
        self._items: List[Item] = []
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

    def _deltas(self, text: str, chunk: Chunking, obfuscate: bool = True) -> Deltas:
        pieces = tuple(split_text(text, chunk))
        if not (obfuscate and self._obfuscate):
            return Deltas(pieces, None)
        # OpenAI pads each delta so that delta + obfuscation is a multiple of 16 characters.
        pads = tuple("".join(self._rng.choice(_ALNUM) for _ in range(-len(p) % 16)) for p in pieces)
        return Deltas(pieces, pads)

    def _add(self, item: Item) -> "Script":
        if self._ending is not None:
            raise ValueError(f"the script already ended with {self._ending.kind}()")
        self._items.append(item)
        return self

    # -- output items ---------------------------------------------------------------------------

    def text(self, text: str, chunk: Chunking = None) -> "Script":
        """Add an assistant ``message`` item with one ``output_text`` part.

        ``chunk`` controls the ``response.output_text.delta`` pieces. ``None`` splits into
        word-ish tokens like a model (``"Hello"``, ``"!"``, ``" How"``). An int gives
        fixed-size pieces of that many characters. A sequence of strings gives exactly those
        pieces; they must join to ``text``.
        """
        deltas = self._deltas(text, chunk)
        item_id = self._new_id("msg")
        return self._add(MessageItem(item_id, "output_text", text, deltas, len(deltas.pieces)))

    def refusal(self, text: str, chunk: Chunking = None) -> "Script":
        """Add an assistant ``message`` item with one ``refusal`` part (``response.refusal.*``).

        A refusal is not a failure: the response still completes normally.
        """
        deltas = self._deltas(text, chunk, obfuscate=False)
        item_id = self._new_id("msg")
        return self._add(MessageItem(item_id, "refusal", text, deltas, len(deltas.pieces)))

    def reasoning(
        self,
        summary: Union[str, Sequence[str]] = (),
        encrypted_content: Optional[str] = None,
        chunk: Chunking = None,
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
            ReasoningItem(
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
        chunk: Chunking = None,
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
            FunctionCallItem(item_id, call, name, args, deltas, len(deltas.pieces), 0, tool)
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
        return self._add(WebSearchItem(self._new_id("ws"), query, tool=tool))

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

    def _tools(self) -> List[JSONDict]:
        """The request's tools as the response echoes them: each one once, however many
        times the model called it (as the real wire does)."""
        tools: List[JSONDict] = []
        for item in self._items:
            if item.tool is not None and item.tool not in tools:
                tools.append(copy.deepcopy(item.tool))
        return tools

    def _usage(self, override: Optional[Mapping[str, Any]]) -> JSONDict:
        tools = self._tools()
        reasoning = sum(item.reasoning_tokens for item in self._items)
        visible = sum(item.tokens for item in self._items)
        over = dict(override or {})
        input_tokens = int(over.get("input_tokens", 11 + 40 * len(tools)))
        output_tokens = int(over.get("output_tokens", visible + reasoning))
        return copy.deepcopy(  # fresh on every render: the caller's dicts stay theirs
            {
                "input_tokens": input_tokens,
                "input_tokens_details": over.get("input_tokens_details", {"cached_tokens": 0}),
                "output_tokens": output_tokens,
                "output_tokens_details": over.get(
                    "output_tokens_details", {"reasoning_tokens": reasoning}
                ),
                "total_tokens": int(over.get("total_tokens", input_tokens + output_tokens)),
            }
        )

    def _response(self, status: str, output: List[JSONDict], **final: Any) -> JSONDict:
        has_reasoning = any(isinstance(item, ReasoningItem) for item in self._items)
        tools = self._tools()
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

    def events(self) -> List[JSONDict]:
        """Render the stream as a list of event payloads (fresh dicts on every call).

        ``sequence_number`` runs from 0 and goes up by exactly 1 per event.
        """
        out = Emitter()
        first = "queued" if self.background else "in_progress"
        out.emit("response.created", response=self._response(first, []))
        if self.background:
            out.emit("response.queued", response=self._response("queued", []))
        out.emit("response.in_progress", response=self._response("in_progress", []))

        ending = self._ending
        output: List[JSONDict] = []
        for index, item in enumerate(self._items):
            cut = (
                ending is not None
                and ending.kind == "incomplete"
                and index == len(self._items) - 1
                and isinstance(item, (MessageItem, FunctionCallItem))
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
