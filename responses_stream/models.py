"""What the Responses API returns: :class:`Response`, its output items and their content parts.

They are plain (mutable) dataclasses built straight from decoded JSON: every key that arrived
is kept, including keys this version does not know about; they are readable as attributes and
come back from ``to_dict()`` (``to_json()`` and ``from_dict()`` too). An output item or content
part of a type this SDK does not know stays the raw ``dict`` it was.

The objects with behaviour of their own are written here (:class:`Response`, :class:`Message`,
:class:`FunctionCall`, :class:`Reasoning`; :class:`McpCall` and :class:`CustomToolCall` add the
JSON parsed so far to their generated classes); the rest are generated from the catalogue and
re-exported (``responses_stream._model_types``).
"""

from __future__ import annotations

from dataclasses import field
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    ClassVar,
    Dict,
    List,
    Mapping,
    Optional,
    Tuple,
    Type,
    TypeVar,
    Union,
)

from . import _model_types
from ._base import Model, OutputItemBase, dump, loads_strict, text_field
from ._json_items import CustomToolCall, McpCall, parsed_so_far
from ._metrics import StreamMetrics

# The generated catalogue is part of this module. It rebinds McpCall and CustomToolCall to
# their generated bases: they are imported again below (type checkers keep the first import).
from ._model_types import *  # type: ignore[assignment]  # noqa: F403
from ._model_types import (
    ITEM_CLASSES,
    PART_CLASSES,
    CatalogueItem,
    ErrorDetails,
    IncompleteDetails,
    OutputText,
    ReasoningText,
    Refusal,
    SummaryText,
    Usage,
)
from ._records import dataclass
from .errors import InvalidArgumentsError

if not TYPE_CHECKING:  # after the catalogue: its generated bases must not replace them
    from ._json_items import CustomToolCall, McpCall

ContentPart = Union[OutputText, Refusal, ReasoningText, SummaryText, Dict[str, Any]]
"""A content part: typed when the SDK knows its ``type``, else the raw dict."""

PART_TYPES: Dict[str, Type[Model]] = {cls.TYPE: cls for cls in PART_CLASSES}
"""Every typed content part by its wire ``type``."""


def part_from_dict(data: Any) -> ContentPart:
    """Build a typed content part from its dict; unknown types stay the raw dict.

    Raises ``TypeError`` when ``data`` is not a dict.
    """
    return _typed(data, PART_TYPES, "content part")  # type: ignore[no-any-return]


def _typed(data: Any, types: Mapping[str, Type[Model]], what: str) -> Any:
    if not isinstance(data, dict):
        article = "an" if what[:1] in "aeiou" else "a"
        raise TypeError(f"{article} {what} must be a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    cls = types.get(kind) if type(kind) is str else None
    return data if cls is None else cls.from_wire(data)


def _each(build: Callable[[Any], Any]) -> Callable[[Any], List[Any]]:
    """A converter for a list of objects built by ``build``."""

    def convert(values: Any) -> List[Any]:
        if not isinstance(values, list):
            raise TypeError(f"expected a JSON array, got {type(values).__name__}")
        return [build(v) for v in values]

    return convert


_parts = _each(part_from_dict)


def _joined(texts: List[Optional[str]]) -> Optional[str]:
    """The texts that are present, joined; ``None`` when there are none."""
    present = [text for text in texts if text is not None]
    return "".join(present) if present else None


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
        return "".join(p.text or "" for p in self.content if isinstance(p, OutputText))

    @property
    def refusal(self) -> Optional[str]:
        """The refusal text if the model refused, else ``None``."""
        return _joined([p.refusal for p in self.content if isinstance(p, Refusal)])


@dataclass(repr=False, eq=False)
class FunctionCall(OutputItemBase):
    """Output item ``function_call``: the model asks you to call function ``name``.

    ``arguments`` is the JSON string the model wrote; ``parsed_arguments`` decodes it, and
    ``partial_arguments`` gives what has arrived while it streams. Answer with a
    ``function_call_output`` item carrying the same ``call_id``.
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
    _CONVERT: ClassVar[Tuple[Tuple[str, Any], ...]] = (("arguments", text_field),)

    @property
    def parsed_arguments(self) -> Dict[str, Any]:
        """``arguments`` decoded as a JSON object (``{}`` when the model sent no arguments).

        Raises :class:`~responses_stream.errors.InvalidArgumentsError` (a ``ValueError``) with
        the raw string when it is not valid JSON or not an object.
        """
        raw: Any = self.arguments  # a str from the wire (checked); by hand, anything
        if not isinstance(raw, str) and raw is not None:
            raise InvalidArgumentsError(
                f"function call {self.name!r} ({self.call_id}) has arguments that are not a "
                f"JSON string: {raw!r:.200}",
                name=self.name,
                arguments=raw,
            )
        if raw is None or not raw.strip():
            return {}
        try:
            value = loads_strict(raw)
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

    @property
    def partial_arguments(self) -> Any:
        """``arguments`` parsed as far as they have arrived: read it in
        ``on_function_call_delta(delta, snapshot, call)`` or at any time on the snapshot.

        While the call streams, objects and arrays appear at once and grow, an object key
        appears once its value has started, a string may be partial, and a number, ``true``,
        ``false`` or ``null`` appears once complete. Once the call has completed, the value
        equals ``json.loads(arguments)``. ``None`` before the value starts, and when the text
        is not JSON. Parsed when read, from where the last read stopped: linear in the length
        however often you read it, and nothing is parsed if you never do. The dicts and lists
        are updated in place by later deltas: copy them to keep a snapshot, and do not change
        them. Read it on the stream's thread (in a callback) or after the stream.
        """
        return parsed_so_far(self, "arguments", complete=self.status == "completed")


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
        return "\n\n".join(p.text or "" for p in self.summary if isinstance(p, SummaryText))

    @property
    def reasoning_text(self) -> str:
        """Every raw ``reasoning_text`` content part, joined (empty for OpenAI models)."""
        return "".join(p.text or "" for p in (self.content or []) if isinstance(p, ReasoningText))


OutputItem = Union[Message, FunctionCall, Reasoning, CatalogueItem, Dict[str, Any]]
"""An output item: a typed dataclass when the SDK knows its ``type``, else the raw dict."""
_Item = TypeVar("_Item", bound=OutputItemBase)

_TYPED_ITEMS: Tuple[Type[OutputItemBase], ...] = (Message, FunctionCall, Reasoning, *ITEM_CLASSES)
ITEM_TYPES: Dict[str, Type[OutputItemBase]] = {cls.TYPE: cls for cls in _TYPED_ITEMS}
ITEM_TYPES.update({cls.TYPE: cls for cls in (McpCall, CustomToolCall)})  # over their bases
"""Every typed output item by its wire ``type``."""


def output_item_from_dict(data: Any) -> OutputItem:
    """Build a typed output item from its dict; an unknown ``type`` keeps the raw dict.

    Raises ``TypeError`` when ``data`` is not a dict.
    """
    return _typed(data, ITEM_TYPES, "output item")  # type: ignore[no-any-return]


_items = _each(output_item_from_dict)


TERMINAL_STATUSES = frozenset({"completed", "incomplete", "failed", "cancelled"})
"""Response statuses after which nothing more will stream."""


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
    error: Optional[ErrorDetails] = None
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
        ("error", ErrorDetails.from_wire),
        ("incomplete_details", IncompleteDetails.from_wire),
    )
    _LISTS: ClassVar[Tuple[str, ...]] = ("output",)

    @property
    def metrics(self) -> Optional[StreamMetrics]:
        """How the stream that built this response went (:class:`StreamMetrics`): set on the
        response ``stream()``, ``run()``, ``replay()`` and ``events()`` give; ``None`` for one
        that was not streamed. Not part of :meth:`to_dict`."""
        return self.__dict__.get("_metrics")

    def _outputs(self, kind: Type[_Item]) -> List[_Item]:
        """The output items of class ``kind``, in order (a new list)."""
        return [item for item in self.output if isinstance(item, kind)]

    @property
    def output_text(self) -> str:
        """The text of every ``output_text`` part of every message, joined."""
        return "".join(message.text for message in self._outputs(Message))

    @property
    def refusal(self) -> Optional[str]:
        """The refusal text when the model refused, else ``None``."""
        return _joined([message.refusal for message in self._outputs(Message)])

    @property
    def function_calls(self) -> List[FunctionCall]:
        """The ``function_call`` items of the output, in order."""
        return self._outputs(FunctionCall)

    @property
    def reasoning_items(self) -> List[Reasoning]:
        """The ``reasoning`` items of the output, in order."""
        return self._outputs(Reasoning)

    def to_input_items(self) -> List[Dict[str, Any]]:
        """The output items as plain dicts to put in the next request's ``input``.

        For a conversation you keep yourself (``store=False``): send the previous input, these
        items, then your ``function_call_output`` items. Reasoning items keep their
        ``encrypted_content`` (ask for it with ``include=["reasoning.encrypted_content"]``).
        Keys whose value is ``null`` are left out.
        """
        items = []
        for item in self.output:
            data = dump(item)
            if isinstance(data, dict):
                data = {k: v for k, v in data.items() if v is not None}
            items.append(data)
        return items

    @property
    def output_parsed(self) -> Any:
        """The output text parsed into the ``text_format`` class, else ``None``.

        Set only when the response was requested with ``text_format=`` and has ``completed``:
        it is ``None`` while streaming, for an ``incomplete`` response and for a refusal
        (see :attr:`refusal`). Parsed on first access; raises
        :class:`~responses_stream.errors.OutputParseError` when the text does not match.
        """
        attrs = self.__dict__
        if "_output_parsed" in attrs:
            return attrs["_output_parsed"]
        parse: Optional[Callable[[Response], Any]] = attrs.get("_output_parser")
        if parse is None or self.status != "completed":
            return None
        value = parse(self)
        attrs["_output_parsed"] = value
        return value


__all__ = [
    "ITEM_TYPES",
    "PART_TYPES",
    "ContentPart",
    "CustomToolCall",
    "FunctionCall",
    "McpCall",
    "Message",
    "Model",
    "OutputItem",
    "OutputItemBase",
    "Reasoning",
    "Response",
    "output_item_from_dict",
    "part_from_dict",
]
__all__ += [name for name in _model_types.__all__ if name not in __all__]
