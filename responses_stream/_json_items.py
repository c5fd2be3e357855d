"""The JSON of a streamed string parsed so far, and the tool-call items that carry one.

:func:`parsed_so_far` is what ``FunctionCall.partial_arguments`` (in ``models``),
:attr:`McpCall.partial_arguments`, :attr:`CustomToolCall.partial_input` and the handler's
``on_parsed_delta`` read: a :class:`~responses_stream._partial_json.PartialJSON` kept on the
object, fed lazily with the part of the string it has not consumed yet. Nothing is parsed
unless it is read, so a stream whose partial values nobody reads pays nothing for them.

:class:`McpCall` and :class:`CustomToolCall` are their generated classes plus that property;
``models`` exports them in place of the generated ones.
"""

from __future__ import annotations

import contextlib
from typing import Any, List, Optional

from . import _model_types
from ._base import Model
from ._partial_json import PartialJSON
from ._records import dataclass

__all__ = ["CustomToolCall", "McpCall", "parsed_so_far"]

_TAIL = 16
"""Characters kept of the string last parsed, to check that it only grew since then."""


def parsed_so_far(obj: Model, attr: str, *, complete: bool = False) -> Any:
    """The JSON value of the streamed string ``obj.<attr>``, as far as it has arrived.

    Only what was appended since the last call is parsed, by a parser kept in ``obj.__dict__``
    under a ``_`` key (``to_dict()`` skips it): reading after every delta costs time linear in
    the length. A string that did not just grow (a ``.done`` event or a terminal payload
    replaced it) is parsed again from its start. ``complete=True`` (the item has completed)
    ends the document, so that a top-level number appears too. ``None`` before the value
    starts, and when the text is not JSON.
    """
    attrs = obj.__dict__
    text = attrs.get(attr)
    if type(text) is not str:
        text = ""
    key = "_partial_" + attr
    state: Optional[List[Any]] = attrs.get(key)  # [parser, characters fed, their tail]
    if state is not None:
        fed, tail = state[1], state[2]
        if len(text) < fed or text[fed - len(tail) : fed] != tail:
            state = None
    if state is None:
        state = attrs[key] = [PartialJSON(), 0, ""]
    parser: PartialJSON = state[0]
    if len(text) > state[1]:
        # Only slices are kept: a second reference to ``text`` would make each append copy it.
        parser.feed(text[state[1] :])
        state[1] = len(text)
        state[2] = text[-_TAIL:]
    if complete and not parser.done and parser.error is None:
        with contextlib.suppress(ValueError):  # parser.error says why
            parser.finish()
    return None if parser.error is not None else parser.value


@dataclass(repr=False, eq=False)
class McpCall(_model_types.McpCall):
    """Output item ``mcp_call``: an invocation of a tool on an MCP server.

    ``partial_arguments`` is ``arguments`` parsed as far as they have arrived.
    """

    __module__ = "responses_stream.models"  # where it is exported, in place of its base

    @property
    def partial_arguments(self) -> Any:
        """``arguments`` parsed as far as they have arrived, by the rules of
        ``FunctionCall.partial_arguments``."""
        return parsed_so_far(self, "arguments", complete=self.status == "completed")


@dataclass(repr=False, eq=False)
class CustomToolCall(_model_types.CustomToolCall):
    """Output item ``custom_tool_call``: a call to a custom tool created by the model.

    ``partial_input`` is ``input`` parsed as JSON as far as it has arrived, when it is JSON.
    """

    __module__ = "responses_stream.models"

    @property
    def partial_input(self) -> Any:
        """``input`` parsed as JSON as far as it has arrived, by the rules of
        ``FunctionCall.partial_arguments`` (``None`` for free-form text)."""
        complete = self.__dict__.get("status") == "completed"
        return parsed_so_far(self, "input", complete=complete)
