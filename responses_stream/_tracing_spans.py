"""Ends each stream, run and tool span exactly once, recording its outcome on the span.

:class:`~responses_stream._tracing.Tracing` starts the spans; the classes here carry them to
their end: :class:`StreamSpan` (``finish`` or the garbage-collection safety net),
:class:`RunSpan` and :class:`ToolSpan` (context managers that make their span the current
one). ``opentelemetry`` is imported inside the methods only, like everywhere in the tracing
code: a span exists only once tracing is on, so the API is installed by then.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Protocol, Tuple

from ._tracing_attributes import (
    _ERROR_TYPE,
    _FINISH_REASONS,
    _INPUT_TOKENS,
    _OPENAI_RESPONSE_SERVICE_TIER,
    _OPERATION,
    _OUTPUT_MESSAGES,
    _OUTPUT_TOKENS,
    _RESPONSE_MODEL,
    _TIME_TO_FIRST_CHUNK,
    _TOOL_ARGUMENTS,
    _TOOL_CALL_ID,
    _TOOL_DESCRIPTION,
    _TOOL_NAME,
    _TOOL_RESULT,
    _TOOL_TYPE,
    _dumps,
    _error_message,
    _error_type,
    _finish_reason,
    _first_chunk,
    _output_messages,
    _response_attributes,
    _stream_extras,
)

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer

    from ._tracing_metrics import Instruments

__all__ = ["RunSpan", "StreamSpan", "ToolSpan"]


class _Settings(Protocol):
    """What a span needs of the :class:`~responses_stream._tracing.Tracing` that made it.

    A protocol rather than that class: ``_tracing`` imports this module, so this module must
    not import ``_tracing`` back, not even for type checking.
    """

    tracer: Tracer
    trace_content: bool
    _instruments: Optional[Instruments]

    @property
    def _openai(self) -> bool: ...


_log = logging.getLogger("responses_stream")

# The run entered on this thread (or task): the parent of the streams started inside it.
_CURRENT_RUN: ContextVar[Optional[RunSpan]] = ContextVar("responses_stream_run", default=None)


def _end(span: Span, what: str, record: Callable[[], None]) -> None:
    """Run ``record``, then end ``span`` whatever happened."""
    try:
        record()
    except Exception:
        # Telemetry must never break the stream, run or tool it describes.
        _log.debug("could not record the %s's span attributes", what, exc_info=True)
    finally:
        span.end()


def _set_outcome(
    span: Span,
    attributes: Dict[str, Any],
    error_type: Optional[str],
    error: Optional[BaseException],
    response: Any,
    *,
    content: bool,
) -> None:
    """Set ``attributes``, with ``error.type`` and an ``ERROR`` status when the call failed
    (its description quotes the error's message only with ``content``: see _error_message)."""
    if error_type is not None:
        attributes[_ERROR_TYPE] = error_type
    if attributes:
        span.set_attributes(attributes)
    if error_type is not None:
        from opentelemetry.trace import Status, StatusCode

        span.set_status(Status(StatusCode.ERROR, _error_message(error, response, content)))


class StreamSpan:
    """The span of one stream. :meth:`finish` ends it exactly once, whatever the path."""

    def __init__(
        self, tracing: _Settings, span: Span, base: Dict[str, Any], run: Optional[RunSpan]
    ) -> None:
        self.span = span
        self._tracing = tracing
        self._base = base
        self._run = run
        self._started = time.perf_counter()
        self._first_token: Optional[float] = None
        # Reentrant: a garbage-collection finalizer may fire on this thread inside finish().
        self._lock = threading.RLock()
        self._ended = False
        self._finalizer: Optional[weakref.finalize[Any, Any]] = None

    @property
    def ended(self) -> bool:
        """Whether the span has ended."""
        return self._ended

    def first_token(self) -> None:
        """Note the first output delta (text, refusal, reasoning or tool arguments).

        Only the first call counts; it costs one attribute check after that.
        """
        if self._first_token is None:
            self._first_token = time.perf_counter()

    def bind(self, owner: object) -> None:
        """End the span when ``owner`` is garbage-collected before :meth:`finish` is called.

        The safety net for an abandoned iterator: the span then ends as a caller cancellation
        (no error). ``finish()`` disarms it.
        """
        with self._lock:
            if self._ended:
                return
            if self._finalizer is not None:
                self._finalizer.detach()
            # The finalizer holds this span, never the owner, so the owner can be collected.
            self._finalizer = weakref.finalize(owner, self.finish)

    def finish(
        self,
        *,
        response: Any = None,
        metrics: Any = None,
        error: Optional[BaseException] = None,
    ) -> None:
        """Record the outcome and end the span; every call after the first does nothing.

        ``response`` is the final (or last snapshot) :class:`~responses_stream.Response`,
        ``metrics`` the stream's ``StreamMetrics``, ``error`` the exception that ended the
        stream (``None`` for a normal end, ``stop()`` or an early close).
        """
        with self._lock:
            if self._ended:
                return
            self._ended = True
            finalizer, self._finalizer = self._finalizer, None
        if finalizer is not None:
            finalizer.detach()
        elapsed = time.perf_counter() - self._started
        _end(self.span, "stream", lambda: self._record(response, metrics, error, elapsed))

    def _record(
        self, response: Any, metrics: Any, error: Optional[BaseException], elapsed: float
    ) -> None:
        tracing = self._tracing
        if isinstance(error, GeneratorExit):
            error = None
        error_type = _error_type(error, response)
        attributes: Dict[str, Any] = {}
        metric_base = dict(self._base)
        reason: Optional[str] = None
        usage: Tuple[Optional[int], Optional[int]] = (None, None)
        if response is not None:
            reason = _finish_reason(response, failed=error_type is not None)
            attributes.update(_response_attributes(response, tracing._openai))
            attributes[_FINISH_REASONS] = (reason,)
            for key in (_RESPONSE_MODEL, _OPENAI_RESPONSE_SERVICE_TIER):
                if key in attributes:
                    metric_base[key] = attributes[key]
            usage = (attributes.get(_INPUT_TOKENS), attributes.get(_OUTPUT_TOKENS))
            if tracing.trace_content:
                messages = _output_messages(response, reason)
                attributes[_OUTPUT_MESSAGES] = _dumps(messages)
        first_chunk = _first_chunk(self._first_token, self._started, metrics)
        if first_chunk is not None:
            attributes[_TIME_TO_FIRST_CHUNK] = first_chunk
        attributes.update(_stream_extras(metrics))
        _set_outcome(
            self.span, attributes, error_type, error, response, content=tracing.trace_content
        )
        if tracing._instruments is not None:
            tracing._instruments.record_stream(elapsed, metric_base, error_type, usage, first_chunk)
        if self._run is not None:
            self._run._turn_done(usage, reason)


class _Scope:
    """A span that is the current one inside ``with`` blocks: the base of the two below."""

    def __init__(self, tracing: _Settings) -> None:
        self._tracing = tracing
        self._started = time.perf_counter()
        # One entry per open ``with`` block, so that each exit restores what its entry replaced.
        self._scopes: List[Tuple[Token[Context], Optional[Token[Optional[RunSpan]]]]] = []

    def _attach(self, span: Span, run: Optional[RunSpan] = None) -> None:
        """Make ``span`` (and ``run``, when given) current until the block is left."""
        from opentelemetry import context, trace

        context_token = context.attach(trace.set_span_in_context(span))
        self._scopes.append((context_token, _CURRENT_RUN.set(run) if run is not None else None))

    def _leave(self, error: Optional[BaseException]) -> None:
        """End the span, recording ``error``, the exception that left the block (if any)."""
        raise NotImplementedError

    def __exit__(self, exc_type: object, exc: Optional[BaseException], tb: object) -> None:
        """Leave the block: end the span, then restore the context the entry replaced."""
        from opentelemetry import context

        if not self._scopes:
            return  # never entered: there is no span to end
        try:
            self._leave(exc)
        finally:
            context_token, run_token = self._scopes.pop()
            if run_token is not None:
                _CURRENT_RUN.reset(run_token)
            context.detach(context_token)


class RunSpan(_Scope):
    """The ``invoke_agent`` span of one ``client.run()``: a context manager.

    ``with run_span:`` makes it the current span on this thread (``run()`` enters and leaves
    it in one frame, so the context is restored where it was set); leaving the block ends it,
    recording the exception that left it, if any. :meth:`finish` may be called before that to
    pass the last response (for the opt-in output content).
    """

    def __init__(
        self, tracing: _Settings, span: Span, model: Optional[str], agent_name: Optional[str]
    ) -> None:
        super().__init__(tracing)
        self.span = span
        self._model = model
        self._agent_name = agent_name
        self._lock = threading.Lock()
        self._ended = False
        self._input_tokens: Optional[int] = None
        self._output_tokens: Optional[int] = None
        self._finish_reason: Optional[str] = None

    @property
    def ended(self) -> bool:
        """Whether the span has ended."""
        return self._ended

    def __enter__(self) -> RunSpan:
        self._attach(self.span, self)
        return self

    def _leave(self, error: Optional[BaseException]) -> None:
        self.finish(error=error)

    def tool_span(
        self,
        *,
        name: str,
        call_id: Optional[str],
        arguments: Optional[str],
        description: Optional[str] = None,
    ) -> ToolSpan:
        """An ``execute_tool`` span that is a child of this run, from any thread."""
        return ToolSpan(
            self._tracing,
            name=name,
            call_id=call_id,
            arguments=arguments,
            parent=self,
            description=description,
        )

    def _turn_done(self, usage: Tuple[Optional[int], Optional[int]], reason: Optional[str]) -> None:
        with self._lock:
            if usage[0] is not None:
                self._input_tokens = (self._input_tokens or 0) + usage[0]
            if usage[1] is not None:
                self._output_tokens = (self._output_tokens or 0) + usage[1]
            if reason is not None:
                self._finish_reason = reason

    def finish(self, *, response: Any = None, error: Optional[BaseException] = None) -> None:
        """Record the run's outcome and end its span; every call after the first does nothing.

        ``response`` is the last turn's response (used for the opt-in output content);
        ``error`` the exception that ended the run (``MaxTurnsExceeded``, a stream error...).
        """
        with self._lock:
            if self._ended:
                return
            self._ended = True
        elapsed = time.perf_counter() - self._started
        _end(self.span, "run", lambda: self._record(response, error, elapsed))

    def _record(self, response: Any, error: Optional[BaseException], elapsed: float) -> None:
        tracing = self._tracing
        if isinstance(error, GeneratorExit):
            error = None
        error_type = _error_type(error, None)
        attributes: Dict[str, Any] = {}
        if self._input_tokens is not None:
            attributes[_INPUT_TOKENS] = self._input_tokens
        if self._output_tokens is not None:
            attributes[_OUTPUT_TOKENS] = self._output_tokens
        reason = self._finish_reason
        if response is not None:
            reason = _finish_reason(response, failed=error_type is not None)
            if tracing.trace_content:
                attributes[_OUTPUT_MESSAGES] = _dumps(_output_messages(response, reason))
        if reason is not None:
            attributes[_FINISH_REASONS] = (reason,)
        _set_outcome(self.span, attributes, error_type, error, None, content=tracing.trace_content)
        if tracing._instruments is not None:
            tracing._instruments.record_run(elapsed, self._model, self._agent_name, error_type)


class ToolSpan(_Scope):
    """The ``execute_tool`` span of one tool call: a context manager (enter it once)."""

    def __init__(
        self,
        tracing: _Settings,
        *,
        name: str,
        call_id: Optional[str],
        arguments: Optional[str],
        parent: Optional[RunSpan],
        description: Optional[str],
    ) -> None:
        super().__init__(tracing)
        attributes: Dict[str, Any] = {
            _OPERATION: "execute_tool",
            _TOOL_NAME: name,
            _TOOL_TYPE: "function",
        }
        if call_id:
            attributes[_TOOL_CALL_ID] = call_id
        if description:
            attributes[_TOOL_DESCRIPTION] = description
        if tracing.trace_content and arguments is not None:
            attributes[_TOOL_ARGUMENTS] = arguments
        self.span: Optional[Span] = None
        self._name = name
        self._parent = parent
        self._attributes = attributes
        self._error: Optional[BaseException] = None

    def set_result(self, output: Any) -> None:
        """Record the tool's output (``gen_ai.tool.call.result``, only with ``trace_content``)."""
        if self.span is not None and self._tracing.trace_content:
            value = output if isinstance(output, str) else _dumps(output)
            self.span.set_attribute(_TOOL_RESULT, value)

    def set_error(self, error: BaseException) -> None:
        """Record an error the caller caught (unknown tool, invalid arguments, tool raised)."""
        self._error = error

    def __enter__(self) -> ToolSpan:
        from opentelemetry import trace

        parent = self._parent
        self.span = span = self._tracing.tracer.start_span(
            f"execute_tool {self._name}",
            context=trace.set_span_in_context(parent.span) if parent is not None else None,
            kind=trace.SpanKind.INTERNAL,
            attributes=self._attributes,
        )
        self._started = time.perf_counter()
        self._attach(span)
        return self

    def _leave(self, error: Optional[BaseException]) -> None:
        span = self.span
        if span is None:
            return
        elapsed = time.perf_counter() - self._started
        error = error if error is not None else self._error
        _end(span, "tool", lambda: self._record(span, error, elapsed))

    def _record(self, span: Span, error: Optional[BaseException], elapsed: float) -> None:
        error_type = _error_type(error, None)
        _set_outcome(span, {}, error_type, error, None, content=self._tracing.trace_content)
        if self._tracing._instruments is not None:
            self._tracing._instruments.record_tool(elapsed, self._name, error_type)
