"""responses_stream: a synchronous, embeddable client for OpenAI Responses API streams.

Subclass :class:`ResponseHandler`, override the ``on_*`` methods you need, and call
:meth:`Client.stream`; or iterate typed events with :meth:`Client.events`::

    import responses_stream as rs

    class Printer(rs.ResponseHandler):
        def on_text_delta(self, delta, snapshot):
            print(delta, end="", flush=True)

    final = rs.Client().stream(handler=Printer(), model="gpt-5", input="Hi")
"""

import logging

__version__ = "0.1.0.dev0"

from typing import TYPE_CHECKING, Any

from . import errors, events
from ._stream import EventStream
from ._transport import Timeout
from .client import DEFAULT_BASE_URL, Client, replay, stream
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    InternalServerError,
    InvalidArgumentsError,
    MaxTurnsExceeded,
    NotFoundError,
    OutputParseError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    ResponseFailedError,
    ResponsesStreamError,
    StreamError,
    StreamInterrupted,
    UnprocessableEntityError,
)
from .events import parse_event
from .handler import ResponseHandler
from .models import (
    AdditionalTools,
    ApplyPatchCall,
    ApplyPatchCallOutput,
    CodeInterpreterCall,
    Compaction,
    ComputerCall,
    ComputerCallOutput,
    ContentPart,
    CustomToolCall,
    CustomToolCallOutput,
    FileSearchCall,
    FunctionCall,
    FunctionCallOutput,
    ImageGenerationCall,
    IncompleteDetails,
    LocalShellCall,
    LocalShellCallOutput,
    McpApprovalRequest,
    McpApprovalResponse,
    McpCall,
    McpListTools,
    Message,
    OutputItem,
    OutputText,
    Program,
    ProgramOutput,
    Reasoning,
    ReasoningText,
    Refusal,
    Response,
    ResponseError,
    ShellCall,
    ShellCallOutput,
    SummaryText,
    ToolSearchCall,
    ToolSearchOutput,
    Usage,
    WebSearchCall,
)

if TYPE_CHECKING:
    from . import tools
    from .tools import Tool, UnknownToolError, function_call_output, tool

# The tool helpers pull in inspect, enum and a thread pool: load them on first use so that
# `import responses_stream` stays cheap for code that only streams.
_LAZY_TOOLS = ("Tool", "UnknownToolError", "function_call_output", "tool")


def __getattr__(name: str) -> Any:
    if name == "tools" or name in _LAZY_TOOLS:
        import importlib

        module = importlib.import_module(".tools", __name__)
        return module if name == "tools" else getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# A library stays quiet unless the application configures logging.
logging.getLogger("responses_stream").addHandler(logging.NullHandler())

__all__ = [
    "DEFAULT_BASE_URL",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AdditionalTools",
    "ApplyPatchCall",
    "ApplyPatchCallOutput",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "CodeInterpreterCall",
    "Compaction",
    "ComputerCall",
    "ComputerCallOutput",
    "ConfigurationError",
    "ConflictError",
    "ContentPart",
    "CustomToolCall",
    "CustomToolCallOutput",
    "EventStream",
    "FileSearchCall",
    "FunctionCall",
    "FunctionCallOutput",
    "ImageGenerationCall",
    "IncompleteDetails",
    "InternalServerError",
    "InvalidArgumentsError",
    "LocalShellCall",
    "LocalShellCallOutput",
    "MaxTurnsExceeded",
    "McpApprovalRequest",
    "McpApprovalResponse",
    "McpCall",
    "McpListTools",
    "Message",
    "NotFoundError",
    "OutputItem",
    "OutputParseError",
    "OutputText",
    "PermissionDeniedError",
    "Program",
    "ProgramOutput",
    "ProtocolError",
    "RateLimitError",
    "Reasoning",
    "ReasoningText",
    "Refusal",
    "Response",
    "ResponseError",
    "ResponseFailedError",
    "ResponseHandler",
    "ResponsesStreamError",
    "ShellCall",
    "ShellCallOutput",
    "StreamError",
    "StreamInterrupted",
    "SummaryText",
    "Timeout",
    "Tool",
    "ToolSearchCall",
    "ToolSearchOutput",
    "UnknownToolError",
    "UnprocessableEntityError",
    "Usage",
    "WebSearchCall",
    "__version__",
    "errors",
    "events",
    "function_call_output",
    "parse_event",
    "replay",
    "stream",
    "tool",
    "tools",
]
