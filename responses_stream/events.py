"""Typed events: one frozen dataclass per Responses streaming event type.

Every wire ``type`` in the Responses API (the 59 of the official SDK, plus
``response.apply_patch_call_operation_diff.delta/.done`` and ``keepalive`` seen on the wire) has a
class here, named after the type without ``response.`` in CamelCase
(``response.output_text.delta`` -> :class:`OutputTextDelta`; lifecycle events keep the prefix:
:class:`ResponseCompleted`; ``error`` is :class:`ErrorEvent`). Each class carries its wire type
in ``TYPE`` and the handler method it dispatches to in ``HANDLER``.

:func:`parse_event` turns a decoded JSON payload into an event without validation and without
dataclasses-json (it is ~200x slower, see ``research/PERF-BASELINE.md``): unknown keys are kept as
attributes, missing ones read as ``None``, and ``event.to_dict()`` gives back exactly what
arrived. A ``type`` this version does not know becomes :class:`UnknownEvent`; parsing never
raises.
"""

from __future__ import annotations

import copy
from dataclasses import field, fields
from typing import (
    Any,
    ClassVar,
    Dict,
    FrozenSet,
    List,
    Mapping,
    Optional,
    Tuple,
    Type,
    TypeVar,
)

from ._json import JsonMixin
from ._records import dataclass
from .models import (
    ContentPart,
    OutputItem,
    Response,
    _dump,
    output_item_from_dict,
    part_from_dict,
)

E = TypeVar("E", bound="Event")


def _field_values(obj: Any) -> Tuple[Any, ...]:
    return tuple(getattr(obj, f.name) for f in fields(obj) if f.compare)


@dataclass(frozen=True, repr=False, eq=False)
class Event(JsonMixin):
    """Base class of every event.

    ``type`` is the wire type; ``sequence_number`` the event's position in its response's stream
    (the resume cursor; ``None`` when the server does not send it).
    """

    TYPE: ClassVar[str] = ""
    HANDLER: ClassVar[str] = "on_unknown_event"
    _CONVERT: ClassVar[Tuple[Tuple[str, Any], ...]] = ()
    _RESERVED: ClassVar[FrozenSet[str]] = frozenset()

    type: str = ""
    sequence_number: Optional[int] = None

    # repr/eq are written once here instead of generated for each of the ~60 event classes:
    # generating them cost ~30 ms of import time. They behave like the generated ones.
    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _field_values(self) == _field_values(other)

    def __hash__(self) -> int:
        return hash(_field_values(self))

    @classmethod
    def from_wire(cls: Type[E], data: Dict[str, Any]) -> E:
        """Build the event from its decoded JSON payload (the SDK's hot path; never raises)."""
        obj = object.__new__(cls)
        attrs = obj.__dict__
        if cls._RESERVED.isdisjoint(data):
            attrs.update(data)
        else:
            # A key named like a method would shadow it; such keys stay in to_dict() only.
            attrs.update({k: v for k, v in data.items() if k not in cls._RESERVED})
        for key, convert in cls._CONVERT:
            value = attrs.get(key)
            if value is not None:
                attrs[key] = convert(value)
        attrs["_raw"] = data
        return obj

    @classmethod
    def from_dict(cls: Type[E], kvs: Any, *, infer_missing: bool = False) -> E:
        """Build an event from a dict; on the base class the ``type`` key picks the class."""
        if not isinstance(kvs, Mapping):
            raise TypeError(f"{cls.__name__}.from_dict() needs a mapping, got {type(kvs).__name__}")
        if cls is Event:
            return parse_event(dict(kvs))  # type: ignore[return-value]
        return cls.from_wire(dict(kvs))

    def to_dict(self, encode_json: bool = False) -> Dict[str, Any]:
        """Return the event as JSON data: every key and value that arrived, unchanged.

        An event you built yourself (not from the wire) gives its fields.
        """
        raw = self.__dict__.get("_raw")
        if raw is not None:
            return copy.deepcopy(raw)
        if isinstance(self, UnknownEvent):
            return dict(self.data)
        return {f.name: _dump(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True, repr=False, eq=False)
class UnknownEvent(Event):
    """An event whose ``type`` this version does not know; ``data`` is its whole payload.

    Dispatched to ``on_unknown_event``; never raises, so new API event types cannot break you.
    """

    HANDLER: ClassVar[str] = "on_unknown_event"
    data: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, repr=False, eq=False)
class KeepAlive(Event):
    """A heartbeat: a ``keepalive`` event, or an SSE comment line (then ``comment`` holds it).

    Dispatched to ``on_keep_alive()``; it changes nothing in the response.
    """

    TYPE: ClassVar[str] = "keepalive"
    HANDLER: ClassVar[str] = "on_keep_alive"
    type: str = "keepalive"
    comment: Optional[str] = None


@dataclass(frozen=True, repr=False, eq=False)
class ErrorEvent(Event):
    """``error``: Emitted when an error occurs."""

    TYPE: ClassVar[str] = "error"
    HANDLER: ClassVar[str] = "on_error"
    type: str = "error"
    code: Optional[str] = None
    message: Optional[str] = None
    param: Optional[str] = None
    error_type: Optional[str] = None
    headers: Optional[Dict[str, str]] = None
    error: Optional[Dict[str, Any]] = None


@dataclass(frozen=True, repr=False, eq=False)
class ApplyPatchCallOperationDiffDelta(Event):
    """``response.apply_patch_call_operation_diff.delta``: Emitted when a delta is added to an
    apply_patch call's diff (seen on the wire, not in the official SDK).
    """

    TYPE: ClassVar[str] = "response.apply_patch_call_operation_diff.delta"
    HANDLER: ClassVar[str] = "on_apply_patch_call_operation_diff_delta"
    type: str = "response.apply_patch_call_operation_diff.delta"
    delta: Optional[str] = None
    item_id: Optional[str] = None
    output_index: Optional[int] = None
    obfuscation: Optional[str] = None


@dataclass(frozen=True, repr=False, eq=False)
class ApplyPatchCallOperationDiffDone(Event):
    """``response.apply_patch_call_operation_diff.done``: Emitted when an apply_patch call's diff
    is complete (seen on the wire, not in the official SDK).
    """

    TYPE: ClassVar[str] = "response.apply_patch_call_operation_diff.done"
    HANDLER: ClassVar[str] = "on_apply_patch_call_operation_diff_done"
    type: str = "response.apply_patch_call_operation_diff.done"
    diff: Optional[str] = None
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class AudioDelta(Event):
    """``response.audio.delta``: Emitted when there is a partial audio response."""

    TYPE: ClassVar[str] = "response.audio.delta"
    HANDLER: ClassVar[str] = "on_audio_delta"
    type: str = "response.audio.delta"
    delta: Optional[str] = None


@dataclass(frozen=True, repr=False, eq=False)
class AudioDone(Event):
    """``response.audio.done``: Emitted when the audio response is complete."""

    TYPE: ClassVar[str] = "response.audio.done"
    HANDLER: ClassVar[str] = "on_audio_done"
    type: str = "response.audio.done"


@dataclass(frozen=True, repr=False, eq=False)
class AudioTranscriptDelta(Event):
    """``response.audio.transcript.delta``: Emitted when there is a partial transcript of audio."""

    TYPE: ClassVar[str] = "response.audio.transcript.delta"
    HANDLER: ClassVar[str] = "on_audio_transcript_delta"
    type: str = "response.audio.transcript.delta"
    delta: Optional[str] = None


@dataclass(frozen=True, repr=False, eq=False)
class AudioTranscriptDone(Event):
    """``response.audio.transcript.done``: Emitted when the full audio transcript is completed."""

    TYPE: ClassVar[str] = "response.audio.transcript.done"
    HANDLER: ClassVar[str] = "on_audio_transcript_done"
    type: str = "response.audio.transcript.done"


@dataclass(frozen=True, repr=False, eq=False)
class CodeInterpreterCallCompleted(Event):
    """``response.code_interpreter_call.completed``: Emitted when the code interpreter call is
    completed.
    """

    TYPE: ClassVar[str] = "response.code_interpreter_call.completed"
    HANDLER: ClassVar[str] = "on_code_interpreter_call_completed"
    type: str = "response.code_interpreter_call.completed"
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class CodeInterpreterCallInProgress(Event):
    """``response.code_interpreter_call.in_progress``: Emitted when a code interpreter call is in
    progress.
    """

    TYPE: ClassVar[str] = "response.code_interpreter_call.in_progress"
    HANDLER: ClassVar[str] = "on_code_interpreter_call_in_progress"
    type: str = "response.code_interpreter_call.in_progress"
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class CodeInterpreterCallInterpreting(Event):
    """``response.code_interpreter_call.interpreting``: Emitted when the code interpreter is
    actively interpreting the code snippet.
    """

    TYPE: ClassVar[str] = "response.code_interpreter_call.interpreting"
    HANDLER: ClassVar[str] = "on_code_interpreter_call_interpreting"
    type: str = "response.code_interpreter_call.interpreting"
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class CodeInterpreterCallCodeDelta(Event):
    """``response.code_interpreter_call_code.delta``: Emitted when a partial code snippet is
    streamed by the code interpreter.
    """

    TYPE: ClassVar[str] = "response.code_interpreter_call_code.delta"
    HANDLER: ClassVar[str] = "on_code_interpreter_call_code_delta"
    type: str = "response.code_interpreter_call_code.delta"
    delta: Optional[str] = None
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class CodeInterpreterCallCodeDone(Event):
    """``response.code_interpreter_call_code.done``: Emitted when the code snippet is finalized by
    the code interpreter.
    """

    TYPE: ClassVar[str] = "response.code_interpreter_call_code.done"
    HANDLER: ClassVar[str] = "on_code_interpreter_call_code_done"
    type: str = "response.code_interpreter_call_code.done"
    code: Optional[str] = None
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class CompactionCompacting(Event):
    """``response.compaction.compacting``: Emitted when new summary content is sampled for a
    compaction trigger.
    """

    TYPE: ClassVar[str] = "response.compaction.compacting"
    HANDLER: ClassVar[str] = "on_compaction_compacting"
    type: str = "response.compaction.compacting"
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class ResponseCompleted(Event):
    """``response.completed``: Emitted when the model response is complete."""

    TYPE: ClassVar[str] = "response.completed"
    HANDLER: ClassVar[str] = "on_completed"
    type: str = "response.completed"
    response: Optional[Response] = None
    _CONVERT: ClassVar[Tuple[Tuple[str, Any], ...]] = (("response", Response.from_wire),)


@dataclass(frozen=True, repr=False, eq=False)
class ContentPartAdded(Event):
    """``response.content_part.added``: Emitted when a new content part is added."""

    TYPE: ClassVar[str] = "response.content_part.added"
    HANDLER: ClassVar[str] = "on_content_part_added"
    type: str = "response.content_part.added"
    content_index: Optional[int] = None
    item_id: Optional[str] = None
    output_index: Optional[int] = None
    part: Optional[ContentPart] = None
    _CONVERT: ClassVar[Tuple[Tuple[str, Any], ...]] = (("part", part_from_dict),)


@dataclass(frozen=True, repr=False, eq=False)
class ContentPartDone(Event):
    """``response.content_part.done``: Emitted when a content part is done."""

    TYPE: ClassVar[str] = "response.content_part.done"
    HANDLER: ClassVar[str] = "on_content_part_done"
    type: str = "response.content_part.done"
    content_index: Optional[int] = None
    item_id: Optional[str] = None
    output_index: Optional[int] = None
    part: Optional[ContentPart] = None
    _CONVERT: ClassVar[Tuple[Tuple[str, Any], ...]] = (("part", part_from_dict),)


@dataclass(frozen=True, repr=False, eq=False)
class ResponseCreated(Event):
    """``response.created``: An event that is emitted when a response is created."""

    TYPE: ClassVar[str] = "response.created"
    HANDLER: ClassVar[str] = "on_created"
    type: str = "response.created"
    response: Optional[Response] = None
    _CONVERT: ClassVar[Tuple[Tuple[str, Any], ...]] = (("response", Response.from_wire),)


@dataclass(frozen=True, repr=False, eq=False)
class CustomToolCallInputDelta(Event):
    """``response.custom_tool_call_input.delta``: Event representing a delta (partial update) to
    the input of a custom tool call.
    """

    TYPE: ClassVar[str] = "response.custom_tool_call_input.delta"
    HANDLER: ClassVar[str] = "on_custom_tool_call_input_delta"
    type: str = "response.custom_tool_call_input.delta"
    delta: Optional[str] = None
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class CustomToolCallInputDone(Event):
    """``response.custom_tool_call_input.done``: Event indicating that input for a custom tool call
    is complete.
    """

    TYPE: ClassVar[str] = "response.custom_tool_call_input.done"
    HANDLER: ClassVar[str] = "on_custom_tool_call_input_done"
    type: str = "response.custom_tool_call_input.done"
    input: Optional[str] = None
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class ResponseFailed(Event):
    """``response.failed``: An event that is emitted when a response fails."""

    TYPE: ClassVar[str] = "response.failed"
    HANDLER: ClassVar[str] = "on_failed"
    type: str = "response.failed"
    response: Optional[Response] = None
    _CONVERT: ClassVar[Tuple[Tuple[str, Any], ...]] = (("response", Response.from_wire),)


@dataclass(frozen=True, repr=False, eq=False)
class FileSearchCallCompleted(Event):
    """``response.file_search_call.completed``: Emitted when a file search call is completed
    (results found).
    """

    TYPE: ClassVar[str] = "response.file_search_call.completed"
    HANDLER: ClassVar[str] = "on_file_search_call_completed"
    type: str = "response.file_search_call.completed"
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class FileSearchCallInProgress(Event):
    """``response.file_search_call.in_progress``: Emitted when a file search call is initiated."""

    TYPE: ClassVar[str] = "response.file_search_call.in_progress"
    HANDLER: ClassVar[str] = "on_file_search_call_in_progress"
    type: str = "response.file_search_call.in_progress"
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class FileSearchCallSearching(Event):
    """``response.file_search_call.searching``: Emitted when a file search is searching."""

    TYPE: ClassVar[str] = "response.file_search_call.searching"
    HANDLER: ClassVar[str] = "on_file_search_call_searching"
    type: str = "response.file_search_call.searching"
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class FunctionCallArgumentsDelta(Event):
    """``response.function_call_arguments.delta``: Emitted when there is a partial function-call
    arguments delta.
    """

    TYPE: ClassVar[str] = "response.function_call_arguments.delta"
    HANDLER: ClassVar[str] = "on_function_call_arguments_delta"
    type: str = "response.function_call_arguments.delta"
    delta: Optional[str] = None
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class FunctionCallArgumentsDone(Event):
    """``response.function_call_arguments.done``: Emitted when function-call arguments are
    finalized.
    """

    TYPE: ClassVar[str] = "response.function_call_arguments.done"
    HANDLER: ClassVar[str] = "on_function_call_arguments_done"
    type: str = "response.function_call_arguments.done"
    arguments: Optional[str] = None
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class ImageGenerationCallCompleted(Event):
    """``response.image_generation_call.completed``: Emitted when an image generation tool call has
    completed and the final image is available.
    """

    TYPE: ClassVar[str] = "response.image_generation_call.completed"
    HANDLER: ClassVar[str] = "on_image_generation_call_completed"
    type: str = "response.image_generation_call.completed"
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class ImageGenerationCallGenerating(Event):
    """``response.image_generation_call.generating``: Emitted when an image generation tool call is
    actively generating an image (intermediate state).
    """

    TYPE: ClassVar[str] = "response.image_generation_call.generating"
    HANDLER: ClassVar[str] = "on_image_generation_call_generating"
    type: str = "response.image_generation_call.generating"
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class ImageGenerationCallInProgress(Event):
    """``response.image_generation_call.in_progress``: Emitted when an image generation tool call
    is in progress.
    """

    TYPE: ClassVar[str] = "response.image_generation_call.in_progress"
    HANDLER: ClassVar[str] = "on_image_generation_call_in_progress"
    type: str = "response.image_generation_call.in_progress"
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class ImageGenerationCallPartialImage(Event):
    """``response.image_generation_call.partial_image``: Emitted when a partial image is available
    during image generation streaming.
    """

    TYPE: ClassVar[str] = "response.image_generation_call.partial_image"
    HANDLER: ClassVar[str] = "on_image_generation_call_partial_image"
    type: str = "response.image_generation_call.partial_image"
    item_id: Optional[str] = None
    output_index: Optional[int] = None
    partial_image_b64: Optional[str] = None
    partial_image_index: Optional[int] = None
    background: Optional[str] = None
    output_format: Optional[str] = None
    quality: Optional[str] = None
    size: Optional[str] = None


@dataclass(frozen=True, repr=False, eq=False)
class ResponseInProgress(Event):
    """``response.in_progress``: Emitted when the response is in progress."""

    TYPE: ClassVar[str] = "response.in_progress"
    HANDLER: ClassVar[str] = "on_in_progress"
    type: str = "response.in_progress"
    response: Optional[Response] = None
    _CONVERT: ClassVar[Tuple[Tuple[str, Any], ...]] = (("response", Response.from_wire),)


@dataclass(frozen=True, repr=False, eq=False)
class ResponseIncomplete(Event):
    """``response.incomplete``: An event that is emitted when a response finishes as incomplete."""

    TYPE: ClassVar[str] = "response.incomplete"
    HANDLER: ClassVar[str] = "on_incomplete"
    type: str = "response.incomplete"
    response: Optional[Response] = None
    _CONVERT: ClassVar[Tuple[Tuple[str, Any], ...]] = (("response", Response.from_wire),)


@dataclass(frozen=True, repr=False, eq=False)
class McpCallCompleted(Event):
    """``response.mcp_call.completed``: Emitted when an MCP tool call has completed successfully."""

    TYPE: ClassVar[str] = "response.mcp_call.completed"
    HANDLER: ClassVar[str] = "on_mcp_call_completed"
    type: str = "response.mcp_call.completed"
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class McpCallFailed(Event):
    """``response.mcp_call.failed``: Emitted when an MCP tool call has failed."""

    TYPE: ClassVar[str] = "response.mcp_call.failed"
    HANDLER: ClassVar[str] = "on_mcp_call_failed"
    type: str = "response.mcp_call.failed"
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class McpCallInProgress(Event):
    """``response.mcp_call.in_progress``: Emitted when an MCP tool call is in progress."""

    TYPE: ClassVar[str] = "response.mcp_call.in_progress"
    HANDLER: ClassVar[str] = "on_mcp_call_in_progress"
    type: str = "response.mcp_call.in_progress"
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class McpCallArgumentsDelta(Event):
    """``response.mcp_call_arguments.delta``: Emitted when there is a delta (partial update) to the
    arguments of an MCP tool call.
    """

    TYPE: ClassVar[str] = "response.mcp_call_arguments.delta"
    HANDLER: ClassVar[str] = "on_mcp_call_arguments_delta"
    type: str = "response.mcp_call_arguments.delta"
    delta: Optional[str] = None
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class McpCallArgumentsDone(Event):
    """``response.mcp_call_arguments.done``: Emitted when the arguments for an MCP tool call are
    finalized.
    """

    TYPE: ClassVar[str] = "response.mcp_call_arguments.done"
    HANDLER: ClassVar[str] = "on_mcp_call_arguments_done"
    type: str = "response.mcp_call_arguments.done"
    arguments: Optional[str] = None
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class McpListToolsCompleted(Event):
    """``response.mcp_list_tools.completed``: Emitted when the list of available MCP tools has been
    successfully retrieved.
    """

    TYPE: ClassVar[str] = "response.mcp_list_tools.completed"
    HANDLER: ClassVar[str] = "on_mcp_list_tools_completed"
    type: str = "response.mcp_list_tools.completed"
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class McpListToolsFailed(Event):
    """``response.mcp_list_tools.failed``: Emitted when the attempt to list available MCP tools has
    failed.
    """

    TYPE: ClassVar[str] = "response.mcp_list_tools.failed"
    HANDLER: ClassVar[str] = "on_mcp_list_tools_failed"
    type: str = "response.mcp_list_tools.failed"
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class McpListToolsInProgress(Event):
    """``response.mcp_list_tools.in_progress``: Emitted when the system is in the process of
    retrieving the list of available MCP tools.
    """

    TYPE: ClassVar[str] = "response.mcp_list_tools.in_progress"
    HANDLER: ClassVar[str] = "on_mcp_list_tools_in_progress"
    type: str = "response.mcp_list_tools.in_progress"
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class OutputItemAdded(Event):
    """``response.output_item.added``: Emitted when a new output item is added."""

    TYPE: ClassVar[str] = "response.output_item.added"
    HANDLER: ClassVar[str] = "on_output_item_added"
    type: str = "response.output_item.added"
    item: Optional[OutputItem] = None
    output_index: Optional[int] = None
    _CONVERT: ClassVar[Tuple[Tuple[str, Any], ...]] = (("item", output_item_from_dict),)


@dataclass(frozen=True, repr=False, eq=False)
class OutputItemDone(Event):
    """``response.output_item.done``: Emitted when an output item is marked done."""

    TYPE: ClassVar[str] = "response.output_item.done"
    HANDLER: ClassVar[str] = "on_output_item_done"
    type: str = "response.output_item.done"
    item: Optional[OutputItem] = None
    output_index: Optional[int] = None
    _CONVERT: ClassVar[Tuple[Tuple[str, Any], ...]] = (("item", output_item_from_dict),)


@dataclass(frozen=True, repr=False, eq=False)
class OutputTextAnnotationAdded(Event):
    """``response.output_text.annotation.added``: Emitted when an annotation is added to output
    text content.
    """

    TYPE: ClassVar[str] = "response.output_text.annotation.added"
    HANDLER: ClassVar[str] = "on_output_text_annotation_added"
    type: str = "response.output_text.annotation.added"
    annotation: Any = None
    annotation_index: Optional[int] = None
    content_index: Optional[int] = None
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class OutputTextDelta(Event):
    """``response.output_text.delta``: Emitted when there is an additional text delta."""

    TYPE: ClassVar[str] = "response.output_text.delta"
    HANDLER: ClassVar[str] = "on_output_text_delta"
    type: str = "response.output_text.delta"
    content_index: Optional[int] = None
    delta: Optional[str] = None
    item_id: Optional[str] = None
    logprobs: Optional[List[Any]] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class OutputTextDone(Event):
    """``response.output_text.done``: Emitted when text content is finalized."""

    TYPE: ClassVar[str] = "response.output_text.done"
    HANDLER: ClassVar[str] = "on_output_text_done"
    type: str = "response.output_text.done"
    content_index: Optional[int] = None
    item_id: Optional[str] = None
    logprobs: Optional[List[Any]] = None
    output_index: Optional[int] = None
    text: Optional[str] = None


@dataclass(frozen=True, repr=False, eq=False)
class ResponseQueued(Event):
    """``response.queued``: Emitted when a response is queued and waiting to be processed."""

    TYPE: ClassVar[str] = "response.queued"
    HANDLER: ClassVar[str] = "on_queued"
    type: str = "response.queued"
    response: Optional[Response] = None
    _CONVERT: ClassVar[Tuple[Tuple[str, Any], ...]] = (("response", Response.from_wire),)


@dataclass(frozen=True, repr=False, eq=False)
class ReasoningSummaryPartAdded(Event):
    """``response.reasoning_summary_part.added``: Emitted when a new reasoning summary part is
    added.
    """

    TYPE: ClassVar[str] = "response.reasoning_summary_part.added"
    HANDLER: ClassVar[str] = "on_reasoning_summary_part_added"
    type: str = "response.reasoning_summary_part.added"
    item_id: Optional[str] = None
    output_index: Optional[int] = None
    part: Optional[ContentPart] = None
    summary_index: Optional[int] = None
    _CONVERT: ClassVar[Tuple[Tuple[str, Any], ...]] = (("part", part_from_dict),)


@dataclass(frozen=True, repr=False, eq=False)
class ReasoningSummaryPartDone(Event):
    """``response.reasoning_summary_part.done``: Emitted when a reasoning summary part is
    completed.
    """

    TYPE: ClassVar[str] = "response.reasoning_summary_part.done"
    HANDLER: ClassVar[str] = "on_reasoning_summary_part_done"
    type: str = "response.reasoning_summary_part.done"
    item_id: Optional[str] = None
    output_index: Optional[int] = None
    part: Optional[ContentPart] = None
    summary_index: Optional[int] = None
    status: Optional[str] = None
    _CONVERT: ClassVar[Tuple[Tuple[str, Any], ...]] = (("part", part_from_dict),)


@dataclass(frozen=True, repr=False, eq=False)
class ReasoningSummaryTextDelta(Event):
    """``response.reasoning_summary_text.delta``: Emitted when a delta is added to a reasoning
    summary text.
    """

    TYPE: ClassVar[str] = "response.reasoning_summary_text.delta"
    HANDLER: ClassVar[str] = "on_reasoning_summary_text_delta"
    type: str = "response.reasoning_summary_text.delta"
    delta: Optional[str] = None
    item_id: Optional[str] = None
    output_index: Optional[int] = None
    summary_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class ReasoningSummaryTextDone(Event):
    """``response.reasoning_summary_text.done``: Emitted when a reasoning summary text is
    completed.
    """

    TYPE: ClassVar[str] = "response.reasoning_summary_text.done"
    HANDLER: ClassVar[str] = "on_reasoning_summary_text_done"
    type: str = "response.reasoning_summary_text.done"
    item_id: Optional[str] = None
    output_index: Optional[int] = None
    summary_index: Optional[int] = None
    text: Optional[str] = None


@dataclass(frozen=True, repr=False, eq=False)
class ReasoningTextDelta(Event):
    """``response.reasoning_text.delta``: Emitted when a delta is added to a reasoning text."""

    TYPE: ClassVar[str] = "response.reasoning_text.delta"
    HANDLER: ClassVar[str] = "on_reasoning_text_delta"
    type: str = "response.reasoning_text.delta"
    content_index: Optional[int] = None
    delta: Optional[str] = None
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class ReasoningTextDone(Event):
    """``response.reasoning_text.done``: Emitted when a reasoning text is completed."""

    TYPE: ClassVar[str] = "response.reasoning_text.done"
    HANDLER: ClassVar[str] = "on_reasoning_text_done"
    type: str = "response.reasoning_text.done"
    content_index: Optional[int] = None
    item_id: Optional[str] = None
    output_index: Optional[int] = None
    text: Optional[str] = None


@dataclass(frozen=True, repr=False, eq=False)
class RefusalDelta(Event):
    """``response.refusal.delta``: Emitted when there is a partial refusal text."""

    TYPE: ClassVar[str] = "response.refusal.delta"
    HANDLER: ClassVar[str] = ""  # on_refusal_delta(delta, snapshot) covers it
    type: str = "response.refusal.delta"
    content_index: Optional[int] = None
    delta: Optional[str] = None
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class RefusalDone(Event):
    """``response.refusal.done``: Emitted when refusal text is finalized."""

    TYPE: ClassVar[str] = "response.refusal.done"
    HANDLER: ClassVar[str] = ""  # on_refusal_done(refusal) covers it
    type: str = "response.refusal.done"
    content_index: Optional[int] = None
    item_id: Optional[str] = None
    output_index: Optional[int] = None
    refusal: Optional[str] = None


@dataclass(frozen=True, repr=False, eq=False)
class ShellCallCommandAdded(Event):
    """``response.shell_call_command.added``: A streaming event that indicated a shell command was
    added to a tool call.
    """

    TYPE: ClassVar[str] = "response.shell_call_command.added"
    HANDLER: ClassVar[str] = "on_shell_call_command_added"
    type: str = "response.shell_call_command.added"
    command: Optional[str] = None
    command_index: Optional[int] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class ShellCallCommandDelta(Event):
    """``response.shell_call_command.delta``: A streaming event that indicated a shell command was
    incrementally updated.
    """

    TYPE: ClassVar[str] = "response.shell_call_command.delta"
    HANDLER: ClassVar[str] = "on_shell_call_command_delta"
    type: str = "response.shell_call_command.delta"
    command_index: Optional[int] = None
    delta: Optional[str] = None
    output_index: Optional[int] = None
    obfuscation: Optional[str] = None


@dataclass(frozen=True, repr=False, eq=False)
class ShellCallCommandDone(Event):
    """``response.shell_call_command.done``: A streaming event that indicated a shell command was
    completed.
    """

    TYPE: ClassVar[str] = "response.shell_call_command.done"
    HANDLER: ClassVar[str] = "on_shell_call_command_done"
    type: str = "response.shell_call_command.done"
    command: Optional[str] = None
    command_index: Optional[int] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class ShellCallOutputContentDelta(Event):
    """``response.shell_call_output_content.delta``: A streaming event that indicated shell call
    output was incrementally added.
    """

    TYPE: ClassVar[str] = "response.shell_call_output_content.delta"
    HANDLER: ClassVar[str] = "on_shell_call_output_content_delta"
    type: str = "response.shell_call_output_content.delta"
    command_index: Optional[int] = None
    delta: Any = None
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class ShellCallOutputContentDone(Event):
    """``response.shell_call_output_content.done``: A streaming event that indicated shell call
    output was completed.
    """

    TYPE: ClassVar[str] = "response.shell_call_output_content.done"
    HANDLER: ClassVar[str] = "on_shell_call_output_content_done"
    type: str = "response.shell_call_output_content.done"
    command_index: Optional[int] = None
    item_id: Optional[str] = None
    output: Optional[List[Any]] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class WebSearchCallCompleted(Event):
    """``response.web_search_call.completed``: Emitted when a web search call is completed."""

    TYPE: ClassVar[str] = "response.web_search_call.completed"
    HANDLER: ClassVar[str] = "on_web_search_call_completed"
    type: str = "response.web_search_call.completed"
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class WebSearchCallInProgress(Event):
    """``response.web_search_call.in_progress``: Emitted when a web search call is initiated."""

    TYPE: ClassVar[str] = "response.web_search_call.in_progress"
    HANDLER: ClassVar[str] = "on_web_search_call_in_progress"
    type: str = "response.web_search_call.in_progress"
    item_id: Optional[str] = None
    output_index: Optional[int] = None


@dataclass(frozen=True, repr=False, eq=False)
class WebSearchCallSearching(Event):
    """``response.web_search_call.searching``: Emitted when a web search call is executing."""

    TYPE: ClassVar[str] = "response.web_search_call.searching"
    HANDLER: ClassVar[str] = "on_web_search_call_searching"
    type: str = "response.web_search_call.searching"
    item_id: Optional[str] = None
    output_index: Optional[int] = None


_GENERATED = (
    ErrorEvent,
    ApplyPatchCallOperationDiffDelta,
    ApplyPatchCallOperationDiffDone,
    AudioDelta,
    AudioDone,
    AudioTranscriptDelta,
    AudioTranscriptDone,
    CodeInterpreterCallCompleted,
    CodeInterpreterCallInProgress,
    CodeInterpreterCallInterpreting,
    CodeInterpreterCallCodeDelta,
    CodeInterpreterCallCodeDone,
    CompactionCompacting,
    ResponseCompleted,
    ContentPartAdded,
    ContentPartDone,
    ResponseCreated,
    CustomToolCallInputDelta,
    CustomToolCallInputDone,
    ResponseFailed,
    FileSearchCallCompleted,
    FileSearchCallInProgress,
    FileSearchCallSearching,
    FunctionCallArgumentsDelta,
    FunctionCallArgumentsDone,
    ImageGenerationCallCompleted,
    ImageGenerationCallGenerating,
    ImageGenerationCallInProgress,
    ImageGenerationCallPartialImage,
    ResponseInProgress,
    ResponseIncomplete,
    McpCallCompleted,
    McpCallFailed,
    McpCallInProgress,
    McpCallArgumentsDelta,
    McpCallArgumentsDone,
    McpListToolsCompleted,
    McpListToolsFailed,
    McpListToolsInProgress,
    OutputItemAdded,
    OutputItemDone,
    OutputTextAnnotationAdded,
    OutputTextDelta,
    OutputTextDone,
    ResponseQueued,
    ReasoningSummaryPartAdded,
    ReasoningSummaryPartDone,
    ReasoningSummaryTextDelta,
    ReasoningSummaryTextDone,
    ReasoningTextDelta,
    ReasoningTextDone,
    RefusalDelta,
    RefusalDone,
    ShellCallCommandAdded,
    ShellCallCommandDelta,
    ShellCallCommandDone,
    ShellCallOutputContentDelta,
    ShellCallOutputContentDone,
    WebSearchCallCompleted,
    WebSearchCallInProgress,
    WebSearchCallSearching,
)

EVENT_TYPES: Dict[str, Type[Event]] = {cls.TYPE: cls for cls in (*_GENERATED, KeepAlive)}
"""Every known wire ``type`` mapped to its event class."""
EVENT_TYPES["response.keep_alive"] = KeepAlive


def _reserved(cls: type) -> FrozenSet[str]:
    names = {
        name
        for klass in cls.__mro__
        for name, value in vars(klass).items()
        if callable(value) or isinstance(value, (classmethod, staticmethod, property))
    }
    return frozenset(n for n in names if not n.startswith("__")) | {"_raw"}


_EVENT_CLASSES: Tuple[Type[Event], ...] = (*EVENT_TYPES.values(), UnknownEvent)
for _cls in _EVENT_CLASSES:
    _cls._RESERVED = _reserved(_cls)


_PLAIN_EVENT_TYPES: Dict[str, Type[Event]] = {
    kind: cls for kind, cls in EVENT_TYPES.items() if not cls._CONVERT and cls is not ErrorEvent
}
"""The wire types whose events are a plain copy of the payload (no nested objects to build):
the stream loop builds these inline, as :meth:`Event.from_wire` would, to save a call per event."""


def _error_event(data: Dict[str, Any]) -> ErrorEvent:
    # OpenAI documents a flat error event but sends a nested one; accept both, flat first.
    nested = data.get("error")
    inner: Dict[str, Any] = nested if isinstance(nested, dict) else {}
    event = ErrorEvent.from_wire(data)
    attrs = event.__dict__
    for key in ("code", "message", "param"):
        if attrs.get(key) is None and inner.get(key) is not None:
            attrs[key] = inner[key]
    if attrs.get("code") is not None and not isinstance(attrs["code"], str):
        attrs["code"] = str(attrs["code"])  # vLLM sends the HTTP status as an int
    if isinstance(nested, str) and attrs.get("message") is None:
        attrs["message"] = nested
    attrs["error_type"] = inner.get("type") or (
        data["type"] if data.get("type") not in (None, "error") else None
    )
    headers = inner.get("headers", data.get("headers"))
    attrs["headers"] = dict(headers) if isinstance(headers, dict) else None
    return event


def parse_event(data: Dict[str, Any]) -> Event:
    """Turn one decoded JSON payload into its typed event; never raises.

    The JSON ``type`` picks the class; a payload without a ``type`` but with an ``error`` key (as
    LiteLLM sends on mid-stream failure) is an :class:`ErrorEvent`; anything else unknown is an
    :class:`UnknownEvent` carrying the whole payload.
    """
    kind = data.get("type")
    cls = EVENT_TYPES.get(kind) if type(kind) is str else None
    if cls is not None:
        if cls is ErrorEvent:
            return _error_event(data)
        return cls.from_wire(data)
    if "error" in data and "type" not in data:
        return _error_event(data)
    return _unknown(data)


def _unknown(data: Dict[str, Any]) -> UnknownEvent:
    event = object.__new__(UnknownEvent)
    seq = data.get("sequence_number")
    kind = data.get("type")
    event.__dict__.update(
        type=kind if isinstance(kind, str) else "",
        sequence_number=seq if isinstance(seq, int) else None,
        data=data,
        _raw=data,
    )
    return event


__all__ = [
    "EVENT_TYPES",
    "ApplyPatchCallOperationDiffDelta",
    "ApplyPatchCallOperationDiffDone",
    "AudioDelta",
    "AudioDone",
    "AudioTranscriptDelta",
    "AudioTranscriptDone",
    "CodeInterpreterCallCodeDelta",
    "CodeInterpreterCallCodeDone",
    "CodeInterpreterCallCompleted",
    "CodeInterpreterCallInProgress",
    "CodeInterpreterCallInterpreting",
    "CompactionCompacting",
    "ContentPartAdded",
    "ContentPartDone",
    "CustomToolCallInputDelta",
    "CustomToolCallInputDone",
    "ErrorEvent",
    "Event",
    "FileSearchCallCompleted",
    "FileSearchCallInProgress",
    "FileSearchCallSearching",
    "FunctionCallArgumentsDelta",
    "FunctionCallArgumentsDone",
    "ImageGenerationCallCompleted",
    "ImageGenerationCallGenerating",
    "ImageGenerationCallInProgress",
    "ImageGenerationCallPartialImage",
    "KeepAlive",
    "McpCallArgumentsDelta",
    "McpCallArgumentsDone",
    "McpCallCompleted",
    "McpCallFailed",
    "McpCallInProgress",
    "McpListToolsCompleted",
    "McpListToolsFailed",
    "McpListToolsInProgress",
    "OutputItemAdded",
    "OutputItemDone",
    "OutputTextAnnotationAdded",
    "OutputTextDelta",
    "OutputTextDone",
    "ReasoningSummaryPartAdded",
    "ReasoningSummaryPartDone",
    "ReasoningSummaryTextDelta",
    "ReasoningSummaryTextDone",
    "ReasoningTextDelta",
    "ReasoningTextDone",
    "RefusalDelta",
    "RefusalDone",
    "ResponseCompleted",
    "ResponseCreated",
    "ResponseFailed",
    "ResponseInProgress",
    "ResponseIncomplete",
    "ResponseQueued",
    "ShellCallCommandAdded",
    "ShellCallCommandDelta",
    "ShellCallCommandDone",
    "ShellCallOutputContentDelta",
    "ShellCallOutputContentDone",
    "UnknownEvent",
    "WebSearchCallCompleted",
    "WebSearchCallInProgress",
    "WebSearchCallSearching",
    "parse_event",
]
