"""Events in, a :class:`~responses_stream.Response` snapshot out. Pure: no I/O, no callbacks.

:meth:`Accumulator.feed` is the SDK's one per-event step after parsing: it tracks the sequence
number (dropping the events a resumed connection sends again), applies the event to the
snapshot and returns what it touched (the part, call or item) for the handler's callbacks.
The snapshot is right even when the stream is odd:

* items are keyed by ``output_index``, falling back to ``item_id`` (llama.cpp sends no indexes),
  then to the last item; an event for an item that was never announced creates it (LiteLLM
  omits ``output_item.added``);
* ``.done`` events are authoritative over accumulated deltas, and update the objects you may
  already hold in place, so a ``FunctionCall`` you kept stays current;
* a terminal payload with a non-empty ``output`` replaces the accumulated items (OpenRouter's ids
  change before ``response.completed``); an empty or missing one keeps them (LiteLLM, ChatGPT).

Text is appended in place, so accumulation stays linear. A payload of the wrong shape (a
number where text belongs) raises ``TypeError``/``ValueError``: a ``ProtocolError`` for the
stream."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Type

from . import events as ev
from ._snapshot_writes import (
    append,
    beside,
    fill_missing,
    final_text,
    fresh,
    fresh_items,
    id_of,
    index_of,
    merge_output,
    padded,
    parts_of,
    put_part,
    replace_text,
    text_of,
    update_in_place,
)
from .errors import ProtocolError, StreamInterrupted
from .events import LIFECYCLE_STATUS, TERMINAL_TYPES
from .models import (
    ITEM_TYPES,
    ApplyPatchCall,
    CodeInterpreterCall,
    CustomToolCall,
    FunctionCall,
    McpCall,
    Message,
    OutputItem,
    OutputText,
    Reasoning,
    ReasoningText,
    Refusal,
    Response,
    SummaryText,
    output_item_from_dict,
    part_from_dict,
)

REPEAT: Any = object()
"""What :meth:`Accumulator.feed` returns for an event a resumed connection sent again."""
# Item tool-call progress events (three dotted parts): the status they set, their suffix.
_SUFFIXES = ("in_progress", "searching", "interpreting", "generating", "completed", "failed")
_ITEM_STATUS = {
    kind: kind.rpartition(".")[2]
    for kind in ev.EVENT_TYPES
    if kind.rpartition(".")[2] in _SUFFIXES and kind.count(".") == 2
}
# ... and the item class each one is about ("response.web_search_call.searching": WebSearchCall),
# to create it when it was never announced.
_STATUS_ITEM_CLASSES = {kind: ITEM_TYPES[kind.split(".")[1]] for kind in _ITEM_STATUS}
# Streamed string fields of tool items: delta (and .done) type -> (attribute, item class).
_STREAMED_FIELDS: Dict[str, Any] = {
    "response.code_interpreter_call_code.delta": ("code", CodeInterpreterCall),
    "response.mcp_call_arguments.delta": ("arguments", McpCall),
    "response.custom_tool_call_input.delta": ("input", CustomToolCall),
}
_STREAMED_DONE = {kind[: -len("delta")] + "done": spec for kind, spec in _STREAMED_FIELDS.items()}
_FINAL_ITEM_STATUSES = ("completed", "incomplete", "failed")


Step = Callable[["Accumulator", Any], Any]
"""How one wire type changes the snapshot: ``step(accumulator, event)`` -> what it touched."""


class Accumulator:
    """Applies events to a :class:`Response` snapshot (:meth:`feed`).

    ``keep_output=False`` (``accumulate=False``) keeps no output: only what the stream's end and
    a resume need (the response's own fields, the terminal and error events, whether any
    output arrived), so memory stays flat on unbounded streams.
    """

    def __init__(
        self,
        response: Optional[Response] = None,
        *,
        keep_output: bool = True,
        open_items: Optional[List[int]] = None,
    ) -> None:
        self.response = response if response is not None else Response.from_wire({})
        self.last_sequence_number: Optional[int] = None
        """The highest integer ``sequence_number`` applied so far (the resume cursor)."""
        self.cursor_exact = True
        """False once an event came unnumbered, or not above the last: no exact resume."""
        self.error_event: Optional[ev.ErrorEvent] = None
        self.terminal: Optional[ev.Event] = None
        self.saw_output = False
        """True once any output (an item, a part or a delta) arrived."""
        self.unfinished_at_terminal: List[Any] = []
        """Items still open when the terminal event arrived (their ``*_done`` callbacks fire
        then)."""
        self.keep_output = keep_output
        self._resumed_after: Optional[int] = None
        self._by_index: Dict[float, OutputItem] = {}  # a typed item beside one: x.5
        self._by_id: Dict[str, OutputItem] = {}
        self._finished: Dict[int, bool] = {}  # id(item) -> output_item.done seen
        # The part the last text delta went to: deltas come in runs for one part.
        self._text_key: Any = None
        self._text_part: Any = None
        self._moved: Dict[Any, Any] = {}  # (id(parts), index, class) -> part: see beside()
        output = self.response.output
        for index, item in enumerate(output):
            self._register(index, item)
            # Continuing a snapshot (a checkpoint): the items not in open_items had finished;
            # without it (an older checkpoint), all but the last, unless its status says so.
            if open_items is not None:
                finished = index not in open_items
            else:
                status = (item if isinstance(item, dict) else item.__dict__).get("status")
                finished = index < len(output) - 1 or status in _FINAL_ITEM_STATUSES
            if finished:
                self._finished[id(item)] = True
        self.steps = _STEPS[keep_output]  # made once (below), not per stream
        """Wire type -> its :data:`Step` (a type without one changes nothing)."""

    # ----------------------------------------------------------------------- entry point

    def feed(self, event: ev.Event) -> Any:
        """Apply one event; return what it touched (the part, call, item or response), ``None``
        if nothing, or :data:`REPEAT` for an event a resumed connection sent again.

        Raises :class:`~responses_stream.errors.StreamInterrupted` when a resumed connection
        skips sequence numbers (nothing is applied then), and ``TypeError``/``ValueError`` for
        a payload of the wrong shape.
        """
        seq = event.sequence_number
        if type(seq) is int:  # anything else on the wire is no cursor: not compared
            last = self.last_sequence_number
            if self._resumed_after is not None and last is not None:
                # A resumed connection, from its first event to its last: the server is
                # replaying, so every number must follow the one applied before it.
                if seq <= last:
                    return REPEAT
                if seq != last + 1:
                    first = last == self._resumed_after
                    raise StreamInterrupted(
                        f"the resumed stream skipped events: asked for those after "
                        f"sequence_number {self._resumed_after}, got {seq} first"
                        if first
                        else f"the resumed stream skipped events: {seq} came after {last}",
                        last_sequence_number=last,
                    )
            if last is None or seq > last:
                self.last_sequence_number = seq
            else:
                self.cursor_exact = False  # numbers that do not grow (all 0, say)
        elif self.last_sequence_number is not None and not isinstance(event, ev.KeepAlive):
            self._unnumbered()
        step = self.steps.get(event.type)
        return None if step is None else step(self, event)

    def _unnumbered(self) -> None:
        """An event without a number after numbered ones: the cursor no longer says what was
        delivered, so a resume would deliver some of it again."""
        self.cursor_exact = False
        if self._resumed_after is not None:
            raise StreamInterrupted(
                "the resumed stream sent an event without a sequence_number: what it sends "
                "again cannot be told from what is new",
                last_sequence_number=self.last_sequence_number,
            )

    def open_items(self) -> List[int]:
        """The positions of the output items whose end (``output_item.done``) is to come."""
        finished = self._finished
        return [pos for pos, item in enumerate(self.response.output) if id(item) not in finished]

    def resuming(self) -> Optional[int]:
        """Before a resumed connection: from now on, drop every event numbered at or below the
        last sequence number applied, and check that each other one follows it (one more than
        the last applied). Returns the last sequence number applied."""
        self._resumed_after = self.last_sequence_number
        return self._resumed_after

    @classmethod
    def _output_steps(cls) -> Dict[str, Step]:
        steps: Dict[str, Step] = {
            "response.output_text.delta": cls._output_text_delta,
            "response.output_text.done": cls._output_text_done,
            "response.output_text.annotation.added": cls._annotation_added,
            "response.refusal.delta": cls._refusal_delta,
            "response.refusal.done": cls._refusal_done,
            "response.function_call_arguments.delta": cls._arguments_delta,
            "response.function_call_arguments.done": cls._arguments_done,
            "response.reasoning_summary_text.delta": cls._summary_delta,
            "response.reasoning_summary_text.done": cls._summary_done,
            "response.reasoning_summary_part.added": cls._summary_part,
            "response.reasoning_summary_part.done": cls._summary_part,
            "response.reasoning_text.delta": cls._reasoning_text_delta,
            "response.reasoning_text.done": cls._reasoning_text_done,
            "response.content_part.added": cls._content_part,
            "response.content_part.done": cls._content_part,
            "response.output_item.added": cls._item_added,
            "response.output_item.done": cls._item_done,
            "error": cls._error,
            "response.apply_patch_call_operation_diff.delta": cls._patch_diff,
            "response.apply_patch_call_operation_diff.done": cls._patch_diff,
        }
        for kind in LIFECYCLE_STATUS:
            steps[kind] = cls._lifecycle
        for kind in _STREAMED_FIELDS:
            steps[kind] = cls._streamed_delta
        for kind in _STREAMED_DONE:
            steps[kind] = cls._streamed_done
        for kind in _ITEM_STATUS:
            steps.setdefault(kind, cls._item_status)
        return steps

    @classmethod
    def _lifecycle_steps(cls) -> Dict[str, Step]:
        """``keep_output=False``: the response's own fields, the end, errors, output seen."""
        steps: Dict[str, Step] = {
            kind: cls._saw_delta for kind in ev.EVENT_TYPES if kind.endswith(".delta")
        }
        steps.update(dict.fromkeys(LIFECYCLE_STATUS, cls._lifecycle_fields))
        steps["error"] = cls._error
        return steps

    # --------------------------------------------------------------------- item bookkeeping

    def _register(self, index: float, item: OutputItem) -> None:
        self._by_index[index] = item
        item_id = id_of(item)
        if item_id is not None:
            self._by_id[item_id] = item

    def _place(self, index: Optional[float], item: OutputItem) -> None:
        """Put ``item`` at ``index`` (or after the last item) in the snapshot's output."""
        if index is None:
            index = max(self._by_index) + 1 if self._by_index else 0
        old = self._by_index.get(index)
        self._register(index, item)
        self._text_key = None  # the part it cached may belong to the item replaced
        output = self.response.output
        if old is not None:
            for pos, existing in enumerate(output):
                if existing is old:
                    output[pos] = item
                    return
        if all(k < index for k in self._by_index if k != index):
            output.append(item)
        else:
            output[:] = [self._by_index[k] for k in sorted(self._by_index)]

    def _lookup(self, event: Any) -> Optional[OutputItem]:
        index = getattr(event, "output_index", None)
        if index is not None:
            item = self._by_index.get(index)
            if item is not None:
                return item
        item_id = getattr(event, "item_id", None)
        if item_id is not None:
            found = self._by_id.get(item_id)
            if found is not None:
                return found
        if index is None and item_id is None and self.response.output:
            return self.response.output[-1]
        return None

    def _item(self, event: Any, cls: Type[Any]) -> Any:
        """The item ``event`` refers to, created as ``cls`` if it was never announced.

        When it points at an item of another type (one this SDK does not know, say), that one
        stays and a ``cls`` item goes right after it, where every later such event finds it."""
        item = self._lookup(event)
        if isinstance(item, cls):
            return item
        index: Optional[float] = getattr(event, "output_index", None)
        if item is not None:
            # Beside it, between its index and the next (the server's next item takes that).
            at = index_of(self._by_index, item, 0.0)
            key = ("item", at, cls)  # in _moved, beside the parts' keys (see beside())
            if key in self._moved:
                return self._moved[key]
            index = at + 0.5
            while index in self._by_index:  # another beside it already
                index = (index + float(int(at) + 1)) / 2
        seed: Dict[str, Any] = {"type": cls.TYPE, "status": "in_progress"}
        item_id = getattr(event, "item_id", None)
        if item_id is not None:
            seed["id"] = item_id
        created = cls.from_wire(seed)
        if item is not None:
            self._moved[key] = created
        self._place(index, created)
        return created

    # ---------------------------------------------------------------------------- lifecycle

    def _copy_fields(self, payload: Optional[Response]) -> None:
        """The lifecycle payload's own fields onto the snapshot (its output is handled apart)."""
        if payload is not None:
            attrs = self.response.__dict__
            output = attrs.get("output")
            extra = attrs.get("_extra")
            attrs.update(payload.__dict__)  # one C call for its thirty-odd fields
            attrs["output"] = output if output is not None else []
            if extra and attrs["_extra"] is not extra:
                # Keys kept aside (Record.from_wire) add up like the others.
                attrs["_extra"] = {**extra, **attrs["_extra"]}

    def _lifecycle(self, event: Any) -> Response:
        payload: Optional[Response] = event.response
        snapshot = self.response
        attrs = snapshot.__dict__
        theirs = payload.__dict__.get("id") if payload is not None else None
        if self._resumed_after is not None and theirs and attrs.get("id") not in (None, theirs):
            raise ProtocolError(
                f"the resumed stream is of response {theirs!r}, not {attrs['id']!r}"
            )
        self._copy_fields(payload)
        terminal = event.type in TERMINAL_TYPES
        # Items whose end the server never sent: their *_done callbacks fire at the terminal.
        finished = self._finished
        open_ids = {id(i) for i in snapshot.output if id(i) not in finished} if terminal else set()
        adopted: Optional[List[OutputItem]] = None
        if payload is not None:
            new_output = payload.__dict__.get("output")
            if new_output and (terminal or not snapshot.output):
                adopted = self._adopt_output(fresh_items(event))
        if terminal and adopted is None and event.type != "response.failed":
            # No authoritative output: items the server never closed end with the response.
            final = LIFECYCLE_STATUS[event.type]
            for item in snapshot.output:
                if not isinstance(item, dict) and item.__dict__.get("status") == "in_progress":
                    item.__dict__["status"] = final
        if terminal:
            # Held objects updated in place are still the open ones; an item the terminal
            # output brings that was never streamed (adopted holds it) ends now too.
            open_ids.update(map(id, adopted or ()))
            self.unfinished_at_terminal = [i for i in snapshot.output if id(i) in open_ids]
            if payload is None or payload.status is None:
                attrs["status"] = LIFECYCLE_STATUS[event.type]
            self.terminal = event
        elif attrs.get("status") is None:
            attrs["status"] = LIFECYCLE_STATUS[event.type]
        return snapshot

    def _lifecycle_fields(self, event: Any) -> Response:
        """A lifecycle event without output: the response's own fields and status only."""
        payload: Optional[Response] = event.response
        self._copy_fields(payload)
        if payload is None or payload.status is None:
            self.response.__dict__["status"] = LIFECYCLE_STATUS[event.type]
        if event.type in TERMINAL_TYPES:
            self.terminal = event
        return self.response

    def _saw_delta(self, event: Any) -> None:
        self.saw_output = True

    def _adopt_output(self, new_output: List[OutputItem]) -> List[OutputItem]:
        """Make ``new_output`` the snapshot's output, updating held objects in place
        (:func:`merge_output`); returns the items that matched no streamed one."""
        merged, fresh = merge_output(new_output, self._by_id, self._by_index)
        self.response.output[:] = merged
        self._by_index.clear()
        self._by_id.clear()
        for index, item in enumerate(merged):
            self._register(index, item)
            self._finished[id(item)] = True
        self._text_key = None
        return fresh

    # -------------------------------------------------------------------------------- items

    def _item_added(self, event: Any) -> Any:
        item = self._put_item(event, announced=True)
        if item is not None:
            self.saw_output = True
        return item

    def _item_done(self, event: Any) -> Any:
        item = self._put_item(event)
        if item is not None:
            self._finished[id(item)] = True
            self._text_key = None
            self.saw_output = True
        return item

    def _put_item(self, event: Any, *, announced: bool = False) -> Any:
        """The event's ``item`` placed in the snapshot; an item already there for it (by
        index, else id) is updated in place, so objects the caller holds stay current.

        ``announced`` (``output_item.added``): the same item announced again keeps what its
        deltas built, as an announcement carries only the item's empty start; it adds what
        the item lacks (the name of a call its deltas announced first).
        """
        item = fresh(event, "item", output_item_from_dict)
        if item is None:
            return None
        existing = self._lookup_for_item(event, item)
        if existing is None:
            self._place(event.output_index, item)
            return item
        same_model = type(existing) is type(item) and not isinstance(item, dict)
        item_id = id_of(item)
        if announced and same_model and item_id is not None and id_of(existing) in (item_id, None):
            return fill_missing(existing, item)  # a placeholder of its deltas (no id: by index)
        index = index_of(self._by_index, existing, None)
        item = update_in_place(existing, item)
        self._place(index, item)
        return item

    def _lookup_for_item(self, event: Any, item: Any) -> Optional[OutputItem]:
        index = event.output_index
        if index is not None:
            return self._by_index.get(index)
        item_id = id_of(item)
        return None if item_id is None else self._by_id.get(item_id)

    def _item_status(self, event: Any) -> Any:
        item = self._item(event, _STATUS_ITEM_CLASSES[event.type])
        item.__dict__["status"] = _ITEM_STATUS[event.type]
        return item

    def _streamed_delta(self, event: Any) -> Any:
        attr, cls = _STREAMED_FIELDS[event.type]
        item = self._item(event, cls)
        append(item, attr, event.delta)
        return item

    def _streamed_done(self, event: Any) -> Any:
        attr, cls = _STREAMED_DONE[event.type]
        item = self._item(event, cls)
        replace_text(item, attr, text_of(event, attr))
        return item

    # -------------------------------------------------------------------------------- parts

    def _part(self, item: Any, index: Optional[int], cls: Type[Any], attr: str = "content") -> Any:
        """The part at ``index`` of ``item.<attr>``, created as ``cls`` when missing."""
        parts = item.__dict__.get(attr)  # inline: deltas of refusals and reasoning come here
        if parts is None:
            parts = item.__dict__[attr] = []
        if index is None:
            index = len(parts) - 1
        if 0 <= index < len(parts):
            part = parts[index]
            if isinstance(part, cls):
                return part
            self._text_key = None  # it may have been the cached text part
            return beside(parts, index, cls, self._moved)
        return padded(parts, index, cls)

    def _content_part(self, event: Any) -> Any:
        part = fresh(event, "part", part_from_dict)
        if part is None:
            return None
        target_cls = Reasoning if isinstance(part, ReasoningText) else Message
        item = self._lookup(event)
        if item is None or isinstance(item, dict):
            item = self._item(event, target_cls)
        parts = parts_of(item, "content")
        index = event.content_index
        if index is None:
            index = len(parts) if event.type.endswith(".added") else len(parts) - 1
        part = put_part(parts, index, part, self._moved)
        self._text_key = None
        self.saw_output = True
        return part

    def _output_text_delta(self, event: Any) -> OutputText:
        key = (event.output_index, event.item_id, event.content_index)
        if key == self._text_key:
            part: OutputText = self._text_part
        else:
            part = self._part(self._item(event, Message), event.content_index, OutputText)
            self._text_key = key
            self._text_part = part
        append(part, "text", event.delta)
        self.saw_output = True
        return part

    def _output_text_done(self, event: Any) -> OutputText:
        part: OutputText = self._part(self._item(event, Message), event.content_index, OutputText)
        final_text(part, event, "text")
        if event.logprobs is not None:
            part.__dict__["logprobs"] = event.logprobs
        self._text_key = None
        return part

    def _annotation_added(self, event: Any) -> Any:
        part: OutputText = self._part(self._item(event, Message), event.content_index, OutputText)
        # A copy: the list may be shared with the content_part event that announced it.
        annotations = list(part.__dict__.get("annotations") or [])
        part.__dict__["annotations"] = annotations
        index = event.annotation_index
        if index is not None and 0 <= index < len(annotations):
            annotations[index] = event.annotation
        else:
            annotations.append(event.annotation)
        return part

    def _refusal_delta(self, event: Any) -> Refusal:
        part: Refusal = self._part(self._item(event, Message), event.content_index, Refusal)
        append(part, "refusal", event.delta)
        self.saw_output = True
        return part

    def _refusal_done(self, event: Any) -> Refusal:
        part: Refusal = self._part(self._item(event, Message), event.content_index, Refusal)
        return final_text(part, event, "refusal")

    def _arguments_delta(self, event: Any) -> FunctionCall:
        call: FunctionCall = self._item(event, FunctionCall)
        append(call, "arguments", event.delta)
        self.saw_output = True
        return call

    def _arguments_done(self, event: Any) -> FunctionCall:
        arguments, name = text_of(event, "arguments"), text_of(event, "name")  # both, or nothing
        call: FunctionCall = self._item(event, FunctionCall)
        replace_text(call, "arguments", arguments)
        if name is not None:
            call.__dict__["name"] = name
        return call

    def _summary_part(self, event: Any) -> Any:
        reasoning = self._item(event, Reasoning)
        part = fresh(event, "part", part_from_dict)
        if part is None:
            return self._part(reasoning, event.summary_index, SummaryText, "summary")
        summary = reasoning.__dict__.setdefault("summary", [])
        index = event.summary_index
        if index is None:
            index = len(summary) if event.type.endswith(".added") else len(summary) - 1
        if 0 <= index < len(summary):
            summary[index] = update_in_place(summary[index], part)
            return summary[index]
        summary.append(part)
        return part

    def _summary_delta(self, event: Any) -> SummaryText:
        reasoning = self._item(event, Reasoning)
        part: SummaryText = self._part(reasoning, event.summary_index, SummaryText, "summary")
        append(part, "text", event.delta)
        self.saw_output = True
        return part

    def _summary_done(self, event: Any) -> SummaryText:
        reasoning = self._item(event, Reasoning)
        part: SummaryText = self._part(reasoning, event.summary_index, SummaryText, "summary")
        return final_text(part, event, "text")

    def _reasoning_text_delta(self, event: Any) -> ReasoningText:
        reasoning = self._item(event, Reasoning)
        part: ReasoningText = self._part(reasoning, event.content_index, ReasoningText)
        append(part, "text", event.delta)
        self.saw_output = True
        return part

    def _reasoning_text_done(self, event: Any) -> ReasoningText:
        reasoning = self._item(event, Reasoning)
        part: ReasoningText = self._part(reasoning, event.content_index, ReasoningText)
        return final_text(part, event, "text")

    def _patch_diff(self, event: Any) -> Any:
        delta = event.type.endswith(".delta")
        text = text_of(event, "delta" if delta else "diff")  # checked before anything changes
        call = self._item(event, ApplyPatchCall)
        operation = dict(call.__dict__.get("operation") or {})
        if delta:
            operation["diff"] = (operation.get("diff") or "") + (text or "")
        elif text is not None:
            operation["diff"] = text
        call.__dict__["operation"] = operation
        return call

    def _error(self, event: Any) -> Any:
        self.error_event = event
        return event


_STEPS: Dict[bool, Dict[str, Step]] = {True: Accumulator._output_steps()}
_STEPS[False] = Accumulator._lifecycle_steps()
