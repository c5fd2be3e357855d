"""Typed snapshots of what the Responses API returns: :class:`Response`, its output items and
their content parts.

They are plain (mutable) dataclasses. The SDK builds them straight from the decoded JSON, without
dataclasses-json on the hot path, and keeps every key that arrived, including keys this version
does not know about: they are readable as attributes and come back from :meth:`Model.to_dict`.
``to_json()``, ``from_dict()`` and ``schema()`` come from dataclasses-json's mixin as
conveniences. An output item of a type this SDK does not know stays the raw ``dict`` it was.
"""

from __future__ import annotations

import json
from dataclasses import Field, field, fields
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
    Union,
)

from ._json import JsonMixin
from ._records import dataclass
from .errors import InvalidArgumentsError

__all__ = [
    "AdditionalTools",
    "ApplyPatchCall",
    "ApplyPatchCallOutput",
    "CodeInterpreterCall",
    "Compaction",
    "ComputerCall",
    "ComputerCallOutput",
    "ContentPart",
    "CustomToolCall",
    "CustomToolCallOutput",
    "FileSearchCall",
    "FunctionCall",
    "FunctionCallOutput",
    "ImageGenerationCall",
    "IncompleteDetails",
    "LocalShellCall",
    "LocalShellCallOutput",
    "McpApprovalRequest",
    "McpApprovalResponse",
    "McpCall",
    "McpListTools",
    "Message",
    "Model",
    "OutputItem",
    "OutputItemBase",
    "OutputText",
    "Program",
    "ProgramOutput",
    "Reasoning",
    "ReasoningText",
    "Refusal",
    "Response",
    "ResponseError",
    "ShellCall",
    "ShellCallOutput",
    "SummaryText",
    "ToolSearchCall",
    "ToolSearchOutput",
    "Usage",
    "WebSearchCall",
    "output_item_from_dict",
]

M = TypeVar("M", bound="Model")


def _fields(obj: Any) -> Tuple[Field[Any], ...]:
    """The dataclass fields of a model instance (every concrete model is a dataclass)."""
    return fields(obj)


def _dump(value: Any) -> Any:
    """Turn a model tree back into plain JSON-compatible values (copying containers)."""
    if isinstance(value, Model):
        return value.to_dict()
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


class Model(JsonMixin):
    """Base of every model: wire construction that keeps unknown keys, and ``to_dict``."""

    # (key, converter) pairs applied to a key's non-null value when built from the wire.
    _CONVERT: ClassVar[Tuple[Tuple[str, Any], ...]] = ()
    # Keys whose absence would break accumulation; filled with an empty list when missing.
    _LISTS: ClassVar[Tuple[str, ...]] = ()
    # Class attributes a wire key must not shadow (methods); set per class below.
    _RESERVED: ClassVar[FrozenSet[str]] = frozenset()

    @classmethod
    def from_wire(cls: Type[M], data: Mapping[str, Any]) -> M:
        """Build an instance from decoded JSON, keeping every key (unknown ones too).

        Called by the SDK for every object it receives; cheap (no validation, no copies of
        nested containers it does not convert).
        """
        obj = cls.__new__(cls)
        attrs = obj.__dict__
        if cls._RESERVED.isdisjoint(data):
            attrs.update(data)
        else:
            # A key named like a method would shadow it; keep such keys aside.
            extra = {k: v for k, v in data.items() if k in cls._RESERVED}
            attrs.update({k: v for k, v in data.items() if k not in cls._RESERVED})
            attrs["_extra"] = extra
        for key, convert in cls._CONVERT:
            value = attrs.get(key)
            if value is not None:
                attrs[key] = convert(value)
        for key in cls._LISTS:
            if attrs.get(key) is None:
                attrs[key] = []
        return obj

    @classmethod
    def from_dict(cls: Type[M], kvs: Any, *, infer_missing: bool = False) -> M:
        """Build an instance from a ``dict`` (same as the SDK does for wire data)."""
        if not isinstance(kvs, Mapping):
            raise TypeError(f"{cls.__name__}.from_dict() needs a mapping, got {type(kvs).__name__}")
        return cls.from_wire(kvs)

    # repr/eq are written once here instead of generated for each model class (import time).
    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in _fields(self) if f.repr)
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        names = [f.name for f in _fields(self) if f.compare]
        return [getattr(self, n) for n in names] == [getattr(other, n) for n in names]

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dataclass with eq=True

    def to_dict(self, encode_json: bool = False) -> Dict[str, Any]:
        """Return the object as plain JSON data: every key that arrived, with current values."""
        out = {k: _dump(v) for k, v in self.__dict__.items() if not k.startswith("_")}
        extra = self.__dict__.get("_extra")
        if extra:
            out.update(_dump(extra))
        return out


@dataclass(repr=False, eq=False)
class Usage(Model):
    """Token usage of a response (``response.usage``).

    ``input_tokens_details`` / ``output_tokens_details`` are the raw detail dicts
    (``cached_tokens``, ``reasoning_tokens``); servers add their own keys (OpenRouter ``cost``).
    """

    input_tokens: Optional[int] = None
    output_tokens: Optional[int] = None
    total_tokens: Optional[int] = None
    input_tokens_details: Optional[Dict[str, Any]] = None
    output_tokens_details: Optional[Dict[str, Any]] = None


@dataclass(repr=False, eq=False)
class ResponseError(Model):
    """Why a response failed (``response.error``): ``code`` and ``message``."""

    code: Optional[str] = None
    message: Optional[str] = None
    param: Optional[str] = None
    type: Optional[str] = None


@dataclass(repr=False, eq=False)
class IncompleteDetails(Model):
    """Why a response is incomplete (``response.incomplete_details.reason``)."""

    reason: Optional[str] = None


# ----------------------------------------------------------------------------- content parts


@dataclass(repr=False, eq=False)
class OutputText(Model):
    """A text part of a :class:`Message` (``output_text``), with annotations and logprobs."""

    TYPE: ClassVar[str] = "output_text"
    type: str = "output_text"
    text: str = ""
    annotations: List[Any] = field(default_factory=list)
    logprobs: Optional[List[Any]] = None
    _LISTS: ClassVar[Tuple[str, ...]] = ("annotations",)


@dataclass(repr=False, eq=False)
class Refusal(Model):
    """A refusal part of a :class:`Message`: the model declined; ``refusal`` says why."""

    TYPE: ClassVar[str] = "refusal"
    type: str = "refusal"
    refusal: str = ""


@dataclass(repr=False, eq=False)
class ReasoningText(Model):
    """A raw reasoning text part (``reasoning_text``: gpt-oss via OpenRouter, vLLM, DeepSeek)."""

    TYPE: ClassVar[str] = "reasoning_text"
    type: str = "reasoning_text"
    text: str = ""


@dataclass(repr=False, eq=False)
class SummaryText(Model):
    """One part of a reasoning summary (``summary_text``)."""

    TYPE: ClassVar[str] = "summary_text"
    type: str = "summary_text"
    text: str = ""


ContentPart = Union[OutputText, Refusal, ReasoningText, SummaryText, Dict[str, Any]]
"""A content part: typed when the SDK knows its ``type``, else the raw dict."""

_PART_TYPES: Dict[str, Type[Model]] = {
    "output_text": OutputText,
    "refusal": Refusal,
    "reasoning_text": ReasoningText,
    "summary_text": SummaryText,
}


def part_from_dict(data: Any) -> ContentPart:
    """Build a typed content part from its dict; unknown types stay the raw dict."""
    if isinstance(data, dict):
        cls = _PART_TYPES.get(data.get("type"))  # type: ignore[arg-type]
        if cls is not None:
            return cls.from_wire(data)  # type: ignore[return-value]
    return data  # type: ignore[no-any-return]


def _parts(values: Any) -> Any:
    if isinstance(values, list):
        return [part_from_dict(v) for v in values]
    return values


# ------------------------------------------------------------------------------ output items


class OutputItemBase(Model):
    """Base of every typed output item; ``TYPE`` is the wire ``type`` it stands for."""

    TYPE: ClassVar[str] = ""


@dataclass(repr=False, eq=False)
class Message(OutputItemBase):
    """Output item ``message``: the assistant's answer; ``content`` holds its parts.

    ``text`` joins the :class:`OutputText` parts; ``refusal`` joins the :class:`Refusal` parts
    (``None`` when there is none).
    """

    TYPE: ClassVar[str] = "message"
    type: str = "message"
    id: Optional[str] = None
    role: Optional[str] = "assistant"
    status: Optional[str] = None
    content: List[ContentPart] = field(default_factory=list)
    phase: Optional[str] = None
    _CONVERT: ClassVar[Tuple[Tuple[str, Any], ...]] = (("content", _parts),)
    _LISTS: ClassVar[Tuple[str, ...]] = ("content",)

    @property
    def text(self) -> str:
        """The text of every ``output_text`` part, joined."""
        return "".join(p.text for p in self.content if isinstance(p, OutputText))

    @property
    def refusal(self) -> Optional[str]:
        """The refusal text if the model refused, else ``None``."""
        parts = [p.refusal for p in self.content if isinstance(p, Refusal)]
        return "".join(parts) if parts else None


@dataclass(repr=False, eq=False)
class FunctionCall(OutputItemBase):
    """Output item ``function_call``: the model asks you to call function ``name``.

    ``arguments`` is the JSON string the model wrote; ``parsed_arguments`` decodes it. Answer
    with a ``function_call_output`` item carrying the same ``call_id``.
    """

    TYPE: ClassVar[str] = "function_call"
    type: str = "function_call"
    id: Optional[str] = None
    call_id: Optional[str] = None
    name: Optional[str] = None
    arguments: str = ""
    status: Optional[str] = None
    namespace: Optional[str] = None
    caller: Any = None

    @property
    def parsed_arguments(self) -> Dict[str, Any]:
        """``arguments`` decoded as a JSON object (``{}`` when the model sent no arguments).

        Raises :class:`~responses_stream.InvalidArgumentsError` (a ``ValueError``) with the raw
        string when it is not valid JSON or not an object.
        """
        raw = self.arguments
        if raw is None or not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise InvalidArgumentsError(
                f"function call {self.name!r} ({self.call_id}) has arguments that are not valid "
                f"JSON: {exc}; raw arguments: {raw[:200]!r}",
                name=self.name,
                arguments=raw,
            ) from exc
        if not isinstance(value, dict):
            raise InvalidArgumentsError(
                f"function call {self.name!r} ({self.call_id}) has arguments that are JSON but "
                f"not an object: {raw[:200]!r}",
                name=self.name,
                arguments=raw,
            )
        return value


@dataclass(repr=False, eq=False)
class Reasoning(OutputItemBase):
    """Output item ``reasoning``: the model's reasoning summary and (encrypted) reasoning.

    ``summary_text`` joins the summary parts with blank lines; ``encrypted_content`` is what
    you send back with ``store=False`` to keep reasoning across turns.
    """

    TYPE: ClassVar[str] = "reasoning"
    type: str = "reasoning"
    id: Optional[str] = None
    summary: List[ContentPart] = field(default_factory=list)
    content: Optional[List[ContentPart]] = None
    encrypted_content: Optional[str] = None
    status: Optional[str] = None
    _CONVERT: ClassVar[Tuple[Tuple[str, Any], ...]] = (("summary", _parts), ("content", _parts))
    _LISTS: ClassVar[Tuple[str, ...]] = ("summary",)

    @property
    def summary_text(self) -> str:
        """Every summary part's text, joined with a blank line."""
        return "\n\n".join(p.text for p in self.summary if isinstance(p, SummaryText))

    @property
    def reasoning_text(self) -> str:
        """Every raw ``reasoning_text`` content part, joined (empty for OpenAI models)."""
        return "".join(p.text for p in (self.content or []) if isinstance(p, ReasoningText))


@dataclass(repr=False, eq=False)
class FileSearchCall(OutputItemBase):
    """Output item ``file_search_call``: The results of a file search tool call."""

    TYPE: ClassVar[str] = "file_search_call"
    type: str = "file_search_call"
    id: Optional[str] = None
    queries: Optional[List[Any]] = None
    status: Optional[str] = None
    results: Optional[List[Any]] = None


@dataclass(repr=False, eq=False)
class FunctionCallOutput(OutputItemBase):
    """Output item ``function_call_output``: function call output."""

    TYPE: ClassVar[str] = "function_call_output"
    type: str = "function_call_output"
    id: Optional[str] = None
    output: Any = None
    status: Optional[str] = None
    call_id: Optional[str] = None
    caller: Any = None
    created_by: Optional[str] = None
    name: Optional[str] = None
    namespace: Optional[str] = None


@dataclass(repr=False, eq=False)
class WebSearchCall(OutputItemBase):
    """Output item ``web_search_call``: The results of a web search tool call."""

    TYPE: ClassVar[str] = "web_search_call"
    type: str = "web_search_call"
    id: Optional[str] = None
    action: Any = None
    status: Optional[str] = None


@dataclass(repr=False, eq=False)
class ComputerCall(OutputItemBase):
    """Output item ``computer_call``: A tool call to a computer use tool."""

    TYPE: ClassVar[str] = "computer_call"
    type: str = "computer_call"
    id: Optional[str] = None
    call_id: Optional[str] = None
    pending_safety_checks: Optional[List[Any]] = None
    status: Optional[str] = None
    action: Any = None
    actions: Optional[List[Any]] = None


@dataclass(repr=False, eq=False)
class ComputerCallOutput(OutputItemBase):
    """Output item ``computer_call_output``: computer call output."""

    TYPE: ClassVar[str] = "computer_call_output"
    type: str = "computer_call_output"
    id: Optional[str] = None
    call_id: Optional[str] = None
    output: Any = None
    status: Optional[str] = None
    acknowledged_safety_checks: Optional[List[Any]] = None
    created_by: Optional[str] = None


@dataclass(repr=False, eq=False)
class Program(OutputItemBase):
    """Output item ``program``: program."""

    TYPE: ClassVar[str] = "program"
    type: str = "program"
    id: Optional[str] = None
    call_id: Optional[str] = None
    code: Optional[str] = None
    fingerprint: Optional[str] = None


@dataclass(repr=False, eq=False)
class ProgramOutput(OutputItemBase):
    """Output item ``program_output``: program output."""

    TYPE: ClassVar[str] = "program_output"
    type: str = "program_output"
    id: Optional[str] = None
    call_id: Optional[str] = None
    result: Optional[str] = None
    status: Optional[str] = None


@dataclass(repr=False, eq=False)
class ToolSearchCall(OutputItemBase):
    """Output item ``tool_search_call``: tool search call."""

    TYPE: ClassVar[str] = "tool_search_call"
    type: str = "tool_search_call"
    id: Optional[str] = None
    arguments: Any = None
    call_id: Optional[str] = None
    execution: Optional[str] = None
    status: Optional[str] = None
    created_by: Optional[str] = None


@dataclass(repr=False, eq=False)
class ToolSearchOutput(OutputItemBase):
    """Output item ``tool_search_output``: tool search output."""

    TYPE: ClassVar[str] = "tool_search_output"
    type: str = "tool_search_output"
    id: Optional[str] = None
    call_id: Optional[str] = None
    execution: Optional[str] = None
    status: Optional[str] = None
    tools: Optional[List[Any]] = None
    created_by: Optional[str] = None


@dataclass(repr=False, eq=False)
class AdditionalTools(OutputItemBase):
    """Output item ``additional_tools``: additional tools."""

    TYPE: ClassVar[str] = "additional_tools"
    type: str = "additional_tools"
    id: Optional[str] = None
    role: Optional[str] = None
    tools: Optional[List[Any]] = None


@dataclass(repr=False, eq=False)
class Compaction(OutputItemBase):
    """Output item ``compaction``: A compaction item generated by the [`v1/responses/compact`
    API](https://developers.openai.com/api/reference/resources/responses/methods/compact).
    """

    TYPE: ClassVar[str] = "compaction"
    type: str = "compaction"
    id: Optional[str] = None
    encrypted_content: Optional[str] = None
    created_by: Optional[str] = None


@dataclass(repr=False, eq=False)
class ImageGenerationCall(OutputItemBase):
    """Output item ``image_generation_call``: An image generation request made by the model."""

    TYPE: ClassVar[str] = "image_generation_call"
    type: str = "image_generation_call"
    id: Optional[str] = None
    result: Optional[str] = None
    status: Optional[str] = None
    action: Optional[str] = None
    background: Optional[str] = None
    error: Any = None
    output_format: Optional[str] = None
    quality: Optional[str] = None
    revised_prompt: Optional[str] = None
    size: Any = None
    svg_usage: Any = None


@dataclass(repr=False, eq=False)
class CodeInterpreterCall(OutputItemBase):
    """Output item ``code_interpreter_call``: A tool call to run code."""

    TYPE: ClassVar[str] = "code_interpreter_call"
    type: str = "code_interpreter_call"
    id: Optional[str] = None
    code: Optional[str] = None
    container_id: Optional[str] = None
    outputs: Optional[List[Any]] = None
    status: Optional[str] = None


@dataclass(repr=False, eq=False)
class LocalShellCall(OutputItemBase):
    """Output item ``local_shell_call``: A tool call to run a command on the local shell."""

    TYPE: ClassVar[str] = "local_shell_call"
    type: str = "local_shell_call"
    id: Optional[str] = None
    action: Any = None
    call_id: Optional[str] = None
    status: Optional[str] = None


@dataclass(repr=False, eq=False)
class LocalShellCallOutput(OutputItemBase):
    """Output item ``local_shell_call_output``: The output of a local shell tool call."""

    TYPE: ClassVar[str] = "local_shell_call_output"
    type: str = "local_shell_call_output"
    id: Optional[str] = None
    output: Optional[str] = None
    status: Optional[str] = None


@dataclass(repr=False, eq=False)
class ShellCall(OutputItemBase):
    """Output item ``shell_call``: A tool call that executes one or more shell commands in a
    managed environment.
    """

    TYPE: ClassVar[str] = "shell_call"
    type: str = "shell_call"
    id: Optional[str] = None
    action: Any = None
    call_id: Optional[str] = None
    environment: Any = None
    status: Optional[str] = None
    caller: Any = None
    created_by: Optional[str] = None


@dataclass(repr=False, eq=False)
class ShellCallOutput(OutputItemBase):
    """Output item ``shell_call_output``: The output of a shell tool call that was emitted."""

    TYPE: ClassVar[str] = "shell_call_output"
    type: str = "shell_call_output"
    id: Optional[str] = None
    call_id: Optional[str] = None
    max_output_length: Optional[int] = None
    output: Optional[List[Any]] = None
    status: Optional[str] = None
    caller: Any = None
    created_by: Optional[str] = None


@dataclass(repr=False, eq=False)
class ApplyPatchCall(OutputItemBase):
    """Output item ``apply_patch_call``: A tool call that applies file diffs by creating, deleting,
    or updating files.
    """

    TYPE: ClassVar[str] = "apply_patch_call"
    type: str = "apply_patch_call"
    id: Optional[str] = None
    call_id: Optional[str] = None
    operation: Any = None
    status: Optional[str] = None
    caller: Any = None
    created_by: Optional[str] = None


@dataclass(repr=False, eq=False)
class ApplyPatchCallOutput(OutputItemBase):
    """Output item ``apply_patch_call_output``: The output emitted by an apply patch tool call."""

    TYPE: ClassVar[str] = "apply_patch_call_output"
    type: str = "apply_patch_call_output"
    id: Optional[str] = None
    call_id: Optional[str] = None
    status: Optional[str] = None
    caller: Any = None
    created_by: Optional[str] = None
    output: Optional[str] = None


@dataclass(repr=False, eq=False)
class McpCall(OutputItemBase):
    """Output item ``mcp_call``: An invocation of a tool on an MCP server."""

    TYPE: ClassVar[str] = "mcp_call"
    type: str = "mcp_call"
    id: Optional[str] = None
    arguments: Optional[str] = None
    name: Optional[str] = None
    server_label: Optional[str] = None
    approval_request_id: Optional[str] = None
    error: Any = None
    output: Optional[str] = None
    status: Optional[str] = None


@dataclass(repr=False, eq=False)
class McpListTools(OutputItemBase):
    """Output item ``mcp_list_tools``: A list of tools available on an MCP server."""

    TYPE: ClassVar[str] = "mcp_list_tools"
    type: str = "mcp_list_tools"
    id: Optional[str] = None
    server_label: Optional[str] = None
    tools: Optional[List[Any]] = None
    error: Optional[str] = None


@dataclass(repr=False, eq=False)
class McpApprovalRequest(OutputItemBase):
    """Output item ``mcp_approval_request``: A request for human approval of a tool invocation."""

    TYPE: ClassVar[str] = "mcp_approval_request"
    type: str = "mcp_approval_request"
    id: Optional[str] = None
    arguments: Optional[str] = None
    name: Optional[str] = None
    server_label: Optional[str] = None


@dataclass(repr=False, eq=False)
class McpApprovalResponse(OutputItemBase):
    """Output item ``mcp_approval_response``: A response to an MCP approval request."""

    TYPE: ClassVar[str] = "mcp_approval_response"
    type: str = "mcp_approval_response"
    id: Optional[str] = None
    approval_request_id: Optional[str] = None
    approve: Optional[bool] = None
    reason: Optional[str] = None


@dataclass(repr=False, eq=False)
class CustomToolCall(OutputItemBase):
    """Output item ``custom_tool_call``: A call to a custom tool created by the model."""

    TYPE: ClassVar[str] = "custom_tool_call"
    type: str = "custom_tool_call"
    call_id: Optional[str] = None
    input: Optional[str] = None
    name: Optional[str] = None
    id: Optional[str] = None
    caller: Any = None
    namespace: Optional[str] = None


@dataclass(repr=False, eq=False)
class CustomToolCallOutput(OutputItemBase):
    """Output item ``custom_tool_call_output``: The output of a custom tool call from your code,
    being sent back to the model.
    """

    TYPE: ClassVar[str] = "custom_tool_call_output"
    type: str = "custom_tool_call_output"
    call_id: Optional[str] = None
    output: Any = None
    id: Optional[str] = None
    caller: Any = None
    status: Optional[str] = None
    created_by: Optional[str] = None


_GENERATED_ITEMS = (
    FileSearchCall,
    FunctionCallOutput,
    WebSearchCall,
    ComputerCall,
    ComputerCallOutput,
    Program,
    ProgramOutput,
    ToolSearchCall,
    ToolSearchOutput,
    AdditionalTools,
    Compaction,
    ImageGenerationCall,
    CodeInterpreterCall,
    LocalShellCall,
    LocalShellCallOutput,
    ShellCall,
    ShellCallOutput,
    ApplyPatchCall,
    ApplyPatchCallOutput,
    McpCall,
    McpListTools,
    McpApprovalRequest,
    McpApprovalResponse,
    CustomToolCall,
    CustomToolCallOutput,
)

OutputItem = Union[
    Message,
    FunctionCall,
    Reasoning,
    FileSearchCall,
    FunctionCallOutput,
    WebSearchCall,
    ComputerCall,
    ComputerCallOutput,
    Program,
    ProgramOutput,
    ToolSearchCall,
    ToolSearchOutput,
    AdditionalTools,
    Compaction,
    ImageGenerationCall,
    CodeInterpreterCall,
    LocalShellCall,
    LocalShellCallOutput,
    ShellCall,
    ShellCallOutput,
    ApplyPatchCall,
    ApplyPatchCallOutput,
    McpCall,
    McpListTools,
    McpApprovalRequest,
    McpApprovalResponse,
    CustomToolCall,
    CustomToolCallOutput,
    Dict[str, Any],
]
"""An output item: a typed dataclass when the SDK knows its ``type``, else the raw dict."""

ITEM_TYPES: Dict[str, Type[OutputItemBase]] = {
    cls.TYPE: cls for cls in (Message, FunctionCall, Reasoning, *_GENERATED_ITEMS)
}


def output_item_from_dict(data: Any) -> OutputItem:
    """Build a typed output item from its dict; an unknown ``type`` keeps the raw dict."""
    if isinstance(data, dict):
        cls = ITEM_TYPES.get(data.get("type"))  # type: ignore[arg-type]
        if cls is not None:
            return cls.from_wire(data)  # type: ignore[return-value]
    return data  # type: ignore[no-any-return]


def _items(values: Any) -> Any:
    if isinstance(values, list):
        return [output_item_from_dict(v) for v in values]
    return values


@dataclass(repr=False, eq=False)
class Response(Model):
    """A response: the payload of lifecycle events, and the SDK's running snapshot.

    During a stream, ``handler.snapshot`` / ``stream.response`` is a ``Response`` that the SDK
    keeps up to date with every event; at the end it is the final response. ``status`` is one of
    ``queued``, ``in_progress``, ``completed``, ``incomplete``, ``failed``, ``cancelled``.
    Every other key the server sent is readable as an attribute and kept by ``to_dict()``.
    """

    id: Optional[str] = None
    object: Optional[str] = "response"
    created_at: Optional[float] = None
    status: Optional[str] = None
    model: Optional[str] = None
    output: List[OutputItem] = field(default_factory=list)
    usage: Optional[Usage] = None
    error: Optional[ResponseError] = None
    incomplete_details: Optional[IncompleteDetails] = None
    background: Optional[bool] = None
    previous_response_id: Optional[str] = None
    instructions: Any = None
    metadata: Optional[Dict[str, Any]] = None
    max_output_tokens: Optional[int] = None
    parallel_tool_calls: Optional[bool] = None
    reasoning: Optional[Dict[str, Any]] = None
    store: Optional[bool] = None
    temperature: Optional[float] = None
    text: Optional[Dict[str, Any]] = None
    tool_choice: Any = None
    tools: Optional[List[Any]] = None
    top_p: Optional[float] = None
    truncation: Optional[str] = None
    user: Optional[str] = None
    completed_at: Optional[float] = None

    _CONVERT: ClassVar[Tuple[Tuple[str, Any], ...]] = (
        ("output", _items),
        ("usage", Usage.from_wire),
        ("error", ResponseError.from_wire),
        ("incomplete_details", IncompleteDetails.from_wire),
    )
    _LISTS: ClassVar[Tuple[str, ...]] = ("output",)

    @property
    def output_text(self) -> str:
        """The text of every ``output_text`` part of every message, joined."""
        return "".join(item.text for item in self.output if isinstance(item, Message))

    @property
    def refusal(self) -> Optional[str]:
        """The refusal text when the model refused, else ``None``."""
        parts = [item.refusal for item in self.output if isinstance(item, Message)]
        found = [p for p in parts if p is not None]
        return "".join(found) if found else None

    @property
    def function_calls(self) -> List[FunctionCall]:
        """The ``function_call`` items of the output, in order."""
        return [item for item in self.output if isinstance(item, FunctionCall)]

    @property
    def reasoning_items(self) -> List[Reasoning]:
        """The ``reasoning`` items of the output, in order."""
        return [item for item in self.output if isinstance(item, Reasoning)]

    def to_input_items(self) -> List[Dict[str, Any]]:
        """The output items as plain dicts to put in the next request's ``input``.

        For a conversation you keep yourself (``store=False``): send the previous input, these
        items, then your ``function_call_output`` items. Reasoning items keep their
        ``encrypted_content`` (ask for it with ``include=["reasoning.encrypted_content"]``).
        Keys whose value is ``null`` are left out.
        """
        items = []
        for item in self.output:
            data = _dump(item)
            if isinstance(data, dict):
                data = {k: v for k, v in data.items() if v is not None}
            items.append(data)
        return items

    @property
    def output_parsed(self) -> Any:
        """The output text parsed into the ``text_format`` dataclass, else ``None``.

        Set only when the response was requested with ``text_format=`` and has ``completed``:
        it is ``None`` while streaming, for an ``incomplete`` response and for a refusal
        (see :attr:`refusal`). Parsed on first access; raises
        :class:`~responses_stream.OutputParseError` when the text does not match.
        """
        attrs = self.__dict__
        if "_output_parsed" in attrs:
            return attrs["_output_parsed"]
        text_format = attrs.get("_text_format")
        if text_format is None or self.status != "completed":
            return None
        from .structured import parse_output

        value = parse_output(self, text_format)
        attrs["_output_parsed"] = value
        return value


def _reserved(cls: type) -> FrozenSet[str]:
    names = set()
    for klass in cls.__mro__:
        for name, value in vars(klass).items():
            if callable(value) or isinstance(value, (classmethod, staticmethod)):
                names.add(name)
    return frozenset(n for n in names if not n.startswith("__"))


_MODEL_CLASSES: Tuple[Type[Model], ...] = (
    Usage,
    ResponseError,
    IncompleteDetails,
    Response,
    *_PART_TYPES.values(),
    *ITEM_TYPES.values(),
)
for _cls in _MODEL_CLASSES:
    _cls._RESERVED = _reserved(_cls)
