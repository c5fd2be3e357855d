"""The output items a :class:`~responses_stream.testing.Script` renders, and their deltas.

Part of :mod:`responses_stream.testing`; standard library only.
"""

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

JSONDict = Dict[str, Any]
Chunking = Union[int, Sequence[str], None]
"""How a string is cut into deltas: word-ish tokens (None), fixed sizes, or given pieces."""

# Real deltas are split like model tokens: a word with its leading space, or one or two
# punctuation marks with the word glued to them ('"password', '":', '**Providing').
_TOKEN = re.compile(r"\s*\w+|\s*[^\w\s]{1,2}\w*|\s+")


def split_text(text: str, chunk: Chunking) -> List[str]:
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


class Emitter:
    """Collects events during one render and numbers them from 0."""

    def __init__(self) -> None:
        self.events: List[JSONDict] = []

    def emit(self, type_: str, **fields: Any) -> None:
        self.events.append({"type": type_, "sequence_number": len(self.events), **fields})


@dataclass(frozen=True)
class Deltas:
    """Pieces of one streamed string, with the obfuscation padding sent next to each piece."""

    pieces: Tuple[str, ...]
    obfuscation: Optional[Tuple[str, ...]]

    def fields(self, index: int) -> JSONDict:
        extra: JSONDict = {"delta": self.pieces[index]}
        if self.obfuscation is not None:
            extra["obfuscation"] = self.obfuscation[index]
        return extra


@dataclass(frozen=True)
class MessageItem:
    item_id: str
    part_type: str  # "output_text" or "refusal"
    text: str
    deltas: Deltas
    tokens: int = 0
    reasoning_tokens: int = 0
    tool: Optional[JSONDict] = None

    def part(self, text: str) -> JSONDict:
        if self.part_type == "refusal":
            return {"type": "refusal", "refusal": text}
        return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}

    def render(self, index: int, status: str, out: Emitter) -> JSONDict:
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
class ReasoningItem:
    item_id: str
    summary: Tuple[Deltas, ...]
    encrypted_content: Optional[str]
    tokens: int = 0
    reasoning_tokens: int = 0
    tool: Optional[JSONDict] = None

    def item(self, summary: List[JSONDict]) -> JSONDict:
        item: JSONDict = {"id": self.item_id, "type": "reasoning"}
        if self.encrypted_content is not None:
            item["encrypted_content"] = self.encrypted_content
        item["summary"] = summary
        return item

    def render(self, index: int, status: str, out: Emitter) -> JSONDict:
        out.emit("response.output_item.added", output_index=index, item=self.item([]))
        parts = []
        for s, deltas in enumerate(self.summary):
            ids = {"item_id": self.item_id, "output_index": index, "summary_index": s}
            text = "".join(deltas.pieces)
            out.emit("response.reasoning_summary_part.added", **ids, part=summary_part(""))
            for i in range(len(deltas.pieces)):
                out.emit("response.reasoning_summary_text.delta", **ids, **deltas.fields(i))
            out.emit("response.reasoning_summary_text.done", **ids, text=text)
            out.emit("response.reasoning_summary_part.done", **ids, part=summary_part(text))
            parts.append(summary_part(text))
        item = self.item(parts)
        out.emit("response.output_item.done", output_index=index, item=item)
        return item


def summary_part(text: str) -> JSONDict:
    return {"type": "summary_text", "text": text}


@dataclass(frozen=True)
class FunctionCallItem:
    item_id: str
    call_id: str
    name: str
    arguments: str
    deltas: Deltas
    tokens: int = 0
    reasoning_tokens: int = 0
    tool: Optional[JSONDict] = None

    def item(self, status: str, arguments: str) -> JSONDict:
        return {
            "id": self.item_id,
            "type": "function_call",
            "status": status,
            "arguments": arguments,
            "call_id": self.call_id,
            "name": self.name,
        }

    def render(self, index: int, status: str, out: Emitter) -> JSONDict:
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
class WebSearchItem:
    item_id: str
    query: str
    tokens: int = 0
    reasoning_tokens: int = 0
    tool: Optional[JSONDict] = None

    def render(self, index: int, status: str, out: Emitter) -> JSONDict:
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


Item = Union[MessageItem, ReasoningItem, FunctionCallItem, WebSearchItem]
