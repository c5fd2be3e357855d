"""responses_stream: a synchronous, embeddable client for OpenAI Responses API streams.

Subclass :class:`ResponseHandler`, override the ``on_*`` methods you need, and call
:meth:`Client.stream`; or iterate typed events with :meth:`Client.events`::

    import responses_stream as rs

    class Printer(rs.ResponseHandler):
        def on_text_delta(self, delta, snapshot):
            print(delta, end="", flush=True)

    final = rs.Client().stream(handler=Printer(), model="gpt-5", input="Hi")

The names here are the ones most code needs. Every event class is in
:mod:`responses_stream.events`, every output item and content part in
:mod:`responses_stream.models`, every exception in :mod:`responses_stream.errors`, and the
test kit (``Script``, ``MockServer``) in :mod:`responses_stream.testing`.
"""

import importlib
import logging
from typing import TYPE_CHECKING, Any, List

from . import errors, events, models
from .__version__ import __version__
from ._config import Timeout
from ._events_stream import EventStream
from ._metrics import StreamMetrics
from ._replay import replay
from .client import Client, stream
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    ProtocolError,
    RateLimitError,
    ResponseFailedError,
    ResponsesStreamError,
    StreamError,
    StreamInterrupted,
)
from .handler import ResponseHandler
from .models import FunctionCall, Message, Reasoning, Response
from .tools import Tool, function_call_output, tool

if TYPE_CHECKING:
    from . import testing

# A library stays quiet unless the application configures logging.
logging.getLogger("responses_stream").addHandler(logging.NullHandler())

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "Client",
    "ConfigurationError",
    "EventStream",
    "FunctionCall",
    "Message",
    "ProtocolError",
    "RateLimitError",
    "Reasoning",
    "Response",
    "ResponseFailedError",
    "ResponseHandler",
    "ResponsesStreamError",
    "StreamError",
    "StreamInterrupted",
    "StreamMetrics",
    "Timeout",
    "Tool",
    "__version__",
    "errors",
    "events",
    "function_call_output",
    "models",
    "replay",
    "stream",
    "testing",
    "tool",
]


def __getattr__(name: str) -> Any:
    # The test kit (an HTTP server) is loaded on first use: most code never needs it.
    if name == "testing":
        return importlib.import_module(".testing", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted({*globals(), *__all__})
