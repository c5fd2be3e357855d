"""The synchronous tool loop behind ``client.run()``.

Each turn is one ``client.stream()`` into the same handler. When the turn's response holds
function calls, the matching tools run and the next turn sends their ``function_call_output``
items: after ``previous_response_id`` (the server keeps the conversation), or, with
``store=False``, after the whole conversation so far, reasoning items and their
``encrypted_content`` included. The loop ends with the first turn that calls no function.
With tracing on, the run is an ``invoke_agent`` span: each turn's stream span and each tool's
``execute_tool`` span are its children.
"""

from __future__ import annotations

import contextlib
import dataclasses
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

from ._config import is_one_value
from .errors import ConfigurationError, InvalidArgumentsError, MaxTurnsExceeded
from .handler import ResponseHandler, handler_or_default
from .models import FunctionCall, Response
from .structured import bind_text_format, prepare_text_format
from .tools import Tool, UnknownToolError, encode_output, tool

if TYPE_CHECKING:
    from ._tracing import RunSpan, Tracing

__all__ = ["run"]

ENCRYPTED_REASONING = "reasoning.encrypted_content"
ToolSpec = Union[Tool[Any], Callable[..., Any], Mapping[str, Any]]
"""A decorated tool, a plain typed function (decorated for you), or a raw tool dict."""


@dataclasses.dataclass(frozen=True)
class _Outcome:
    """What answering one call produced: the output to send, and the error if any."""

    call: FunctionCall
    output: str
    error: Optional[Exception] = None
    raised_by_tool: bool = False


def _error_output(exc: Exception) -> str:
    text = str(exc)
    return f"Error: {type(exc).__name__}: {text}" if text else f"Error: {type(exc).__name__}"


def _execute(
    call: FunctionCall, registry: Mapping[str, Tool[Any]], run_span: Optional[RunSpan]
) -> _Outcome:
    """Answer one call, in an ``execute_tool`` span when the run is traced."""
    if run_span is None:
        return _answer_call(call, registry)
    found = registry.get(call.name or "")
    with run_span.tool_span(
        name=call.name or "",
        call_id=call.call_id,
        arguments=call.arguments,
        description=found.description if found is not None else None,
    ) as span:
        outcome = _answer_call(call, registry)
        if outcome.error is not None:
            span.set_error(outcome.error)
        else:
            span.set_result(outcome.output)
    return outcome


def _answer_call(call: FunctionCall, registry: Mapping[str, Tool[Any]]) -> _Outcome:
    """Answer one call: find the tool, validate the arguments, run it, encode the result."""
    found = registry.get(call.name or "")
    if found is None:
        names = ", ".join(sorted(registry)) or "none"
        unknown = UnknownToolError(
            f"unknown tool {call.name!r}; the available tools are: {names}", name=call.name
        )
        return _Outcome(call, f"Error: {unknown}", unknown)
    try:
        kwargs = found.validate(call.parsed_arguments)
    except InvalidArgumentsError as exc:
        return _Outcome(call, f"Error: {exc}", exc)
    try:
        output = encode_output(found.function(**kwargs))
    except Exception as exc:
        return _Outcome(call, _error_output(exc), exc, raised_by_tool=True)
    return _Outcome(call, output)


def _registry(tools: Iterable[ToolSpec]) -> Tuple[Dict[str, Tool[Any]], List[Any]]:
    """The runnable tools by name, and the request's ``tools`` list."""
    registry: Dict[str, Tool[Any]] = {}
    schemas: List[Any] = []
    named: Set[Any] = set()  # function names, of Tools and of raw function dicts alike
    for spec in tools:
        if isinstance(spec, Mapping):
            schema, name = dict(spec), spec.get("name") if spec.get("type") == "function" else None
        else:
            item = spec if isinstance(spec, Tool) else tool(spec)
            registry[item.name] = item
            schema, name = item.schema, item.name
        if name is not None:
            if name in named:  # the API refuses the request, after the tools are sent
                raise ConfigurationError(f"two tools are named {name!r}")
            named.add(name)
        schemas.append(schema)
    return registry, schemas


def _as_items(value: Any) -> List[Any]:
    """The request's ``input`` as a list of items (a string is one user message)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if isinstance(value, Mapping):
        return [dict(value)]
    return list(value)


def run(
    stream: Callable[..., Response],
    handler: Optional[ResponseHandler] = None,
    *,
    tools: Sequence[ToolSpec],
    max_turns: int = 10,
    tool_workers: Optional[int] = None,
    raise_tool_errors: bool = False,
    text_format: Optional[type] = None,
    tracing: Optional[Tracing] = None,
    **params: Any,
) -> Response:
    """Stream turns into ``handler`` and run the model's function calls until it answers.

    Each turn is ``stream(handler, **request)`` (``Client.stream``); see ``Client.run``.
    ``tracing`` is the client's: the run is then an ``invoke_agent`` span.
    Returns the last turn's response: the first one without function calls, or one that is
    not ``completed`` (incomplete: its calls may be cut, so they are not run), or the one during
    which ``handler.stop()`` was called (or the last one, for a stop() between turns). Raises
    :class:`~responses_stream.errors.MaxTurnsExceeded` when turn ``max_turns`` still calls
    functions.
    """
    if isinstance(max_turns, bool) or not isinstance(max_turns, int) or max_turns < 1:
        raise ConfigurationError(f"max_turns must be an int >= 1, got {max_turns!r}")
    if tool_workers is not None and (
        isinstance(tool_workers, bool) or not isinstance(tool_workers, int) or tool_workers < 1
    ):
        raise ConfigurationError(f"tool_workers must be None or an int >= 1, got {tool_workers!r}")
    if params.get("accumulate") is False:
        raise ConfigurationError("run() needs the accumulated response: drop accumulate=False")
    if is_one_value(tools) or callable(tools):
        raise ConfigurationError("tools must be a list of tools")
    handler = handler_or_default(handler)
    registry, schemas = _registry(tools)

    request: Dict[str, Any] = dict(params)
    request["tools"] = [*schemas]
    if text_format is not None:
        request = prepare_text_format(request, text_format)
    stateless = request.get("store") is False
    if stateless:
        include = list(request.get("include") or [])
        if ENCRYPTED_REASONING not in include:
            include.append(ENCRYPTED_REASONING)
        request["include"] = include
    run_span = tracing.start_run(request=request) if tracing is not None else None
    handler._stop_requested = False
    handler._in_run = True  # a stop() between two turns' streams is kept for the next check
    try:
        with run_span if run_span is not None else contextlib.nullcontext():
            final = _turns(
                stream,
                handler,
                request,
                registry,
                run_span,
                max_turns=max_turns,
                tool_workers=tool_workers,
                raise_tool_errors=raise_tool_errors,
                text_format=text_format,
            )
            if run_span is not None:
                run_span.finish(response=final)  # its output, for trace_content
    finally:
        handler._in_run = False
    return final


def _turns(
    stream: Callable[..., Response],
    handler: ResponseHandler,
    request: Dict[str, Any],
    registry: Mapping[str, Tool[Any]],
    run_span: Optional[RunSpan],
    *,
    max_turns: int,
    tool_workers: Optional[int],
    raise_tool_errors: bool,
    text_format: Optional[type],
) -> Response:
    """The turns of :func:`run`, from the first request on."""
    stateless = request.get("store") is False
    conversation: List[Any] = []  # every item sent and received so far
    whole = True  # this turn's input is the whole conversation (not just the tools' outputs)
    responses: List[Response] = []
    executor: Optional[Executor] = None
    try:
        for turn in range(1, max_turns + 1):
            handler.on_turn_start(turn, request)
            if _stopped(handler) and responses:
                return responses[-1]  # stopped between turns: no more requests
            # What is sent, with what on_turn_start changed, is what later turns replay.
            sent = _as_items(request.get("input"))
            conversation = sent if whole else conversation + sent
            response = stream(handler, **request)
            if handler.stopped and responses and response.id is None and not response.output:
                return responses[-1]  # stopped before this turn's response existed: between
            if text_format is not None:
                bind_text_format(response, text_format)
            responses.append(response)
            calls = response.function_calls
            if handler.stopped or response.status != "completed" or not calls:
                return response
            if turn == max_turns:
                break
            if executor is None and tool_workers is not None:
                executor = ThreadPoolExecutor(tool_workers, thread_name_prefix="rs-tool")
            outputs = _answer(
                calls,
                registry,
                handler,
                executor,
                raise_tool_errors=raise_tool_errors,
                span=run_span,
            )
            if _stopped(handler):  # stop() from on_tool_result / on_tool_error
                return response
            conversation = conversation + response.to_input_items()
            request = dict(request)
            whole = stateless or not response.id
            if whole:
                request["input"] = conversation + outputs
            else:
                request["input"] = outputs
                if "conversation" not in request:
                    request["previous_response_id"] = response.id
    finally:
        if executor is not None:
            executor.shutdown(wait=True)
    raise MaxTurnsExceeded(
        f"the model still called tools after {max_turns} turn{'s' if max_turns != 1 else ''}",
        responses=responses,
    )


def _stopped(handler: ResponseHandler) -> bool:
    return handler.stopped


def _answer(
    calls: List[FunctionCall],
    registry: Mapping[str, Tool[Any]],
    handler: ResponseHandler,
    executor: Optional[Executor],
    *,
    raise_tool_errors: bool,
    span: Optional[RunSpan],
) -> List[Dict[str, Any]]:
    """Answer every call, in call order; fire the tool callbacks from this thread."""
    outcomes: Iterable[_Outcome]
    if executor is None:
        outcomes = (_execute(call, registry, span) for call in calls)
    else:
        futures = [executor.submit(_execute, call, registry, span) for call in calls]
        outcomes = (future.result() for future in futures)
    items = []
    for outcome in outcomes:
        call = outcome.call
        if outcome.error is None:
            handler.on_tool_result(call, outcome.output)
        else:
            handler.on_tool_error(call, outcome.error)
            if raise_tool_errors and outcome.raised_by_tool:
                raise outcome.error
        items.append(
            {
                "type": "function_call_output",
                "call_id": call.call_id,
                "output": outcome.output,
            }
        )
    return items
