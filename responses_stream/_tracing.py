"""OpenTelemetry spans and metrics for streams and the tool loop (the ``otel`` extra).

Nothing here imports ``opentelemetry`` at module level: the package may import this module at
any time, and an application that never configured OpenTelemetry must not pay for it. The
OpenTelemetry API is imported inside :meth:`Tracing.configure` and only once tracing is on.

What is recorded follows the OpenTelemetry GenAI semantic conventions (the
``semantic-conventions-genai`` repository: ``gen-ai-spans.md``, ``gen-ai-agent-spans.md``,
``gen-ai-metrics.md``, ``openai.md`` and the message JSON schemas):

* One ``CLIENT`` span per stream, named ``chat {gen_ai.request.model}``. ``gen_ai.operation.name``
  is ``chat``: the conventions define no Responses-specific operation name and OpenTelemetry's own
  OpenAI instrumentation records Responses calls as ``chat``; ``openai.api.type`` is
  ``responses``. A stream is one logical operation: retries and resumes stay inside its span.
* ``client.run()``: one ``INTERNAL`` span named ``invoke_agent`` (``invoke_agent {name}`` when an
  agent name is given), as the conventions' "invoke agent internal span" for an agent loop that
  runs in-process; each turn's stream span and each tool's ``execute_tool {gen_ai.tool.name}``
  span (``INTERNAL``, ``gen_ai.tool.type`` = ``function``) are its children. Its usage
  attributes are the sums over the turns; its finish reasons are the last turn's.
* ``gen_ai.response.finish_reasons`` has one entry, since a Responses call makes one generation:
  ``completed`` -> ``stop``, or ``tool_call`` when the output holds a call the client must run
  (function, custom, computer, shell, local shell or apply-patch call; ``tool_call`` is the
  spelling of the conventions' output-message schema); ``incomplete`` ->
  ``incomplete_details.reason`` (``max_output_tokens`` -> ``length``, ``content_filter`` as is,
  missing -> ``length``); ``failed`` -> ``error``; ``cancelled`` -> ``cancelled``; a stream that
  ended before a terminal status -> ``error`` when an error ended it, else ``cancelled`` (the
  caller stopped reading).
* ``error.type``: the provider's error code for an in-band ``error`` event
  (:class:`~responses_stream.StreamError` ``code``) or a ``response.failed``
  (``response.error.code``), else the exception's class name (``APITimeoutError``,
  ``RateLimitError``, ``KeyboardInterrupt``, ``ValueError`` from a callback...), ``_OTHER`` for
  a failed response without a code. The span status is then ``ERROR`` with the message.
  ``GeneratorExit`` is not an error: it means the consumer closed the stream early, like
  ``stop()`` or an abandoned iterator.
* Time to first token: the ``gen_ai.response.time_to_first_chunk`` attribute (seconds from the
  span's start to the first output delta); the conventions define no span event for it.
* Content (``gen_ai.system_instructions``, ``gen_ai.input.messages``, ``gen_ai.output.messages``,
  ``gen_ai.tool.call.arguments``, ``gen_ai.tool.call.result``) only with ``trace_content=True``,
  as JSON strings in the conventions' message schema (the Python API has no structured span
  attributes in every supported version).
* ``openai.*`` attributes only when the provider is ``openai``: the conventions make
  ``gen_ai.provider.name`` the discriminator for provider-specific attributes.
* Metrics, with the conventions' advisory bucket boundaries: ``gen_ai.client.operation.duration``
  (s), ``gen_ai.client.token.usage`` ({token}, ``gen_ai.token.type`` input/output),
  ``gen_ai.client.operation.time_to_first_chunk`` (s), ``gen_ai.invoke_agent.duration`` (s) and
  ``gen_ai.execute_tool.duration`` (s). ``gen_ai.client.operation.time_per_output_chunk`` is not
  recorded: it needs work on every event, and nothing here runs per event.
* Library-specific extras, from the stream's metrics when the core has them:
  ``responses_stream.request_id`` (the ``x-request-id``), ``responses_stream.retries`` and
  ``responses_stream.resumes``.

A span ends exactly once: :meth:`StreamSpan.finish` is idempotent and thread-safe, and
:meth:`StreamSpan.bind` ends the span when its owner is garbage-collected without a finish.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
import weakref
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type

from .errors import ConfigurationError, ResponseFailedError, StreamError

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.metrics import Histogram, Meter
    from opentelemetry.trace import Span, Tracer

__all__ = ["RunSpan", "StreamSpan", "ToolSpan", "Tracing"]

_log = logging.getLogger("responses_stream")

# Attribute keys, spelled out rather than taken from opentelemetry-semantic-conventions: that
# package is not a dependency of the extra, and its GenAI names are marked as moved.
_OPERATION = "gen_ai.operation.name"
_PROVIDER = "gen_ai.provider.name"
_REQUEST_MODEL = "gen_ai.request.model"
_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
_REQUEST_STREAM = "gen_ai.request.stream"
_RESPONSE_ID = "gen_ai.response.id"
_RESPONSE_MODEL = "gen_ai.response.model"
_FINISH_REASONS = "gen_ai.response.finish_reasons"
_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
_INPUT_TOKENS = "gen_ai.usage.input_tokens"
_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
_CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
_REASONING_TOKENS = "gen_ai.usage.reasoning.output_tokens"
_OUTPUT_TYPE = "gen_ai.output.type"
_CONVERSATION_ID = "gen_ai.conversation.id"
_AGENT_NAME = "gen_ai.agent.name"
_TOKEN_TYPE = "gen_ai.token.type"
_TOOL_NAME = "gen_ai.tool.name"
_TOOL_CALL_ID = "gen_ai.tool.call.id"
_TOOL_TYPE = "gen_ai.tool.type"
_TOOL_DESCRIPTION = "gen_ai.tool.description"
_TOOL_ARGUMENTS = "gen_ai.tool.call.arguments"
_TOOL_RESULT = "gen_ai.tool.call.result"
_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
_INPUT_MESSAGES = "gen_ai.input.messages"
_OUTPUT_MESSAGES = "gen_ai.output.messages"
_OPENAI_API_TYPE = "openai.api.type"
_OPENAI_REQUEST_SERVICE_TIER = "openai.request.service_tier"
_OPENAI_RESPONSE_SERVICE_TIER = "openai.response.service_tier"
_SERVER_ADDRESS = "server.address"
_SERVER_PORT = "server.port"
_ERROR_TYPE = "error.type"
_REQUEST_ID = "responses_stream.request_id"
_RETRIES = "responses_stream.retries"
_RESUMES = "responses_stream.resumes"

_REQUEST_NUMBERS = (
    ("temperature", "gen_ai.request.temperature"),
    ("top_p", "gen_ai.request.top_p"),
    ("frequency_penalty", "gen_ai.request.frequency_penalty"),
    ("presence_penalty", "gen_ai.request.presence_penalty"),
)

# The conventions' ExplicitBucketBoundaries advice for each histogram.
_DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
_TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
_AGENT_BUCKETS = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6)

# Output items the client must act on: a turn that ends with one stopped to request a tool.
_CLIENT_CALLS = frozenset(
    {
        "function_call",
        "custom_tool_call",
        "computer_call",
        "local_shell_call",
        "shell_call",
        "apply_patch_call",
    }
)
_INCOMPLETE_REASONS = {"max_output_tokens": "length", "max_tokens": "length"}

_CURRENT_RUN: ContextVar[Optional[RunSpan]] = ContextVar("responses_stream_run", default=None)


# ------------------------------------------------------------------------------ configuration


def _global_tracer_provider_set() -> bool:
    """Whether the application installed a real global tracer provider.

    Looks in ``sys.modules`` instead of importing: an application that configured
    OpenTelemetry has imported ``opentelemetry.trace`` already, and one that did not must not
    have it imported on its behalf.
    """
    trace: Any = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return False
    provider = trace.get_tracer_provider()
    return not isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))


class _Instruments:
    """The histograms, created once per :class:`Tracing`."""

    def __init__(self, meter: Meter) -> None:
        self.duration = _histogram(
            meter,
            "gen_ai.client.operation.duration",
            "s",
            "GenAI operation duration.",
            _DURATION_BUCKETS,
        )
        self.tokens = _histogram(
            meter,
            "gen_ai.client.token.usage",
            "{token}",
            "Number of input and output tokens used.",
            _TOKEN_BUCKETS,
        )
        self.time_to_first_chunk = _histogram(
            meter,
            "gen_ai.client.operation.time_to_first_chunk",
            "s",
            "Time to receive the first chunk, measured from when the client issues the "
            "generation request to when the first chunk is received in the response stream.",
            _DURATION_BUCKETS,
        )
        self.agent_duration = _histogram(
            meter,
            "gen_ai.invoke_agent.duration",
            "s",
            "The end-to-end duration of a single agent invocation.",
            _AGENT_BUCKETS,
        )
        self.tool_duration = _histogram(
            meter,
            "gen_ai.execute_tool.duration",
            "s",
            "The duration of a single tool execution.",
            _DURATION_BUCKETS,
        )


def _histogram(
    meter: Meter, name: str, unit: str, description: str, buckets: Sequence[float]
) -> Histogram:
    try:
        return meter.create_histogram(
            name, unit, description, explicit_bucket_boundaries_advisory=buckets
        )
    except TypeError:
        # opentelemetry-api < 1.30 has no advisory parameter: default buckets beat no metric.
        return meter.create_histogram(name, unit, description)


class Tracing:
    """OpenTelemetry instrumentation for one client: its tracer, meter and settings.

    Build it with :meth:`configure` (``None`` means tracing is off). Then, per stream,
    :meth:`start_stream` gives a :class:`StreamSpan` that the stream must
    :meth:`~StreamSpan.finish`; per ``run()``, :meth:`start_run` gives a :class:`RunSpan`
    context manager; per tool call, :meth:`tool_span` (or :meth:`RunSpan.tool_span`) gives a
    :class:`ToolSpan` context manager.
    """

    def __init__(
        self,
        *,
        tracer: Tracer,
        meter: Optional[Meter] = None,
        trace_content: bool = False,
        provider_name: str = "openai",
    ) -> None:
        self.tracer = tracer
        self.trace_content = trace_content
        self.provider_name = provider_name
        self._instruments = _Instruments(meter) if meter is not None else None

    @classmethod
    def configure(
        cls,
        *,
        enabled: Optional[bool],
        tracer_provider: Any = None,
        meter_provider: Any = None,
        trace_content: bool = False,
        provider_name: str = "openai",
    ) -> Optional[Tracing]:
        """Return the client's instrumentation, or ``None`` when tracing is off.

        ``enabled=False``: off. ``enabled=True``: on, with ``tracer_provider`` /
        ``meter_provider`` or else the global ones; raises
        :class:`~responses_stream.ConfigurationError` when OpenTelemetry is not installed.
        ``enabled=None`` (the default): on when a provider is passed, or when the application
        has installed a real global tracer provider; decided now, without importing
        ``opentelemetry`` when the application has not. ``provider_name`` is
        ``gen_ai.provider.name``: ``openai``, or ``azure.ai.openai`` for Azure OpenAI.
        """
        if enabled not in (None, True, False):
            raise ConfigurationError(f"tracing must be None, True or False, got {enabled!r}")
        if not isinstance(trace_content, bool):
            raise ConfigurationError(f"trace_content must be a bool, got {trace_content!r}")
        if not isinstance(provider_name, str) or not provider_name:
            raise ConfigurationError(
                f"provider_name must be a non-empty str, got {provider_name!r}"
            )
        if enabled is False:
            return None
        explicit = tracer_provider is not None or meter_provider is not None
        if enabled is None and not explicit and not _global_tracer_provider_set():
            return None
        try:
            from opentelemetry import metrics, trace
        except ImportError as exc:
            raise ConfigurationError(
                "tracing needs OpenTelemetry: pip install 'responses-stream[otel]'"
            ) from exc
        from . import __version__

        # The global providers may still be proxies: their tracers and instruments start
        # recording once the application installs real providers.
        tracers = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
        meters = meter_provider if meter_provider is not None else metrics.get_meter_provider()
        return cls(
            tracer=tracers.get_tracer("responses_stream", __version__),
            meter=meters.get_meter("responses_stream", __version__),
            trace_content=trace_content,
            provider_name=provider_name,
        )

    @property
    def _openai(self) -> bool:
        return self.provider_name == "openai"

    def start_stream(
        self,
        *,
        request: Mapping[str, Any],
        server_address: str,
        server_port: Optional[int],
        parent: Optional[RunSpan] = None,
    ) -> StreamSpan:
        """Start the span of one stream, just before its request is sent.

        The span is never made the current context (a stream may be closed on another thread).
        Its parent is ``parent``, else the :class:`RunSpan` entered on this thread, else the
        current span. Call :meth:`StreamSpan.finish` on every path.
        """
        from opentelemetry import trace

        run = parent if parent is not None else _CURRENT_RUN.get()
        # A run entered on this thread is the current span already; an explicit parent may be
        # used from any thread, so it is set as the parent outright.
        context = trace.set_span_in_context(parent.span) if parent is not None else None
        base: Dict[str, Any] = {_OPERATION: "chat", _PROVIDER: self.provider_name}
        model = request.get("model")
        if isinstance(model, str) and model:
            base[_REQUEST_MODEL] = model
        if server_address:
            base[_SERVER_ADDRESS] = server_address
            if isinstance(server_port, int):
                base[_SERVER_PORT] = server_port
        attributes = {**base, **_request_attributes(request, self._openai), _REQUEST_STREAM: True}
        if self.trace_content:
            attributes.update(_request_content(request))
        span = self.tracer.start_span(
            f"chat {model}" if _REQUEST_MODEL in base else "chat",
            context=context,
            kind=trace.SpanKind.CLIENT,
            attributes=attributes,
        )
        return StreamSpan(self, span, base, run)

    def start_run(self, *, request: Mapping[str, Any], agent_name: Optional[str] = None) -> RunSpan:
        """Start the ``invoke_agent`` span of one ``client.run()``; use it as a context manager.

        Inside ``with run_span:`` (on that thread) it is the current span, and the streams
        started there are its children. ``server.*`` is not recorded on it: the conventions
        define none for an in-process agent span; each turn's span carries them.
        """
        from opentelemetry import trace

        name = f"invoke_agent {agent_name}" if agent_name else "invoke_agent"
        attributes: Dict[str, Any] = {_OPERATION: "invoke_agent", _PROVIDER: self.provider_name}
        if agent_name:
            attributes[_AGENT_NAME] = agent_name
        attributes.update(_request_attributes(request, openai=False))
        if self.trace_content:
            attributes.update(_request_content(request))
        span = self.tracer.start_span(name, kind=trace.SpanKind.INTERNAL, attributes=attributes)
        return RunSpan(self, span, attributes.get(_REQUEST_MODEL), agent_name)

    def tool_span(
        self,
        *,
        name: str,
        call_id: Optional[str],
        arguments: Optional[str],
        parent: Optional[RunSpan] = None,
        description: Optional[str] = None,
    ) -> ToolSpan:
        """An ``execute_tool {name}`` span around one tool execution: ``with`` it.

        Its parent is ``parent`` (pass it when tools run on worker threads), else the current
        span. Inside the ``with`` block it is the current span, so the tool's own instrumented
        calls nest under it. An exception that leaves the block is recorded (``error.type``)
        and re-raised; :meth:`ToolSpan.set_error` records one the caller caught.
        """
        return ToolSpan(
            self,
            name=name,
            call_id=call_id,
            arguments=arguments,
            parent=parent,
            description=description,
        )


# ------------------------------------------------------------------------------ spans


class StreamSpan:
    """The span of one stream. :meth:`finish` ends it exactly once, whatever the path."""

    def __init__(
        self, tracing: Tracing, span: Span, base: Dict[str, Any], run: Optional[RunSpan]
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
        try:
            self._record(response, metrics, error, elapsed)
        except Exception:
            # Telemetry must never break the stream it describes.
            _log.debug("could not record the stream's span attributes", exc_info=True)
        finally:
            self.span.end()

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
        if error_type is not None:
            attributes[_ERROR_TYPE] = error_type
        self.span.set_attributes(attributes)
        if error_type is not None:
            _set_error_status(self.span, _error_message(error, response))
        instruments = tracing._instruments
        if instruments is not None:
            duration_attributes = dict(metric_base)
            if error_type is not None:
                duration_attributes[_ERROR_TYPE] = error_type
            instruments.duration.record(elapsed, duration_attributes)
            for token_type, count in zip(("input", "output"), usage):
                if count is not None:
                    instruments.tokens.record(count, {**metric_base, _TOKEN_TYPE: token_type})
            if first_chunk is not None:
                # The OpenAI refinement adds the service tier to duration and usage only.
                chunk_attributes = dict(metric_base)
                chunk_attributes.pop(_OPENAI_RESPONSE_SERVICE_TIER, None)
                instruments.time_to_first_chunk.record(first_chunk, chunk_attributes)
        if self._run is not None:
            self._run._turn_done(usage, reason)


class RunSpan:
    """The ``invoke_agent`` span of one ``client.run()``: a context manager.

    ``with run_span:`` makes it the current span on this thread (``run()`` enters and leaves
    it in one frame, so the context is restored where it was set); leaving the block ends it,
    recording the exception that left it, if any. :meth:`finish` may be called before that to
    pass the last response (for the opt-in output content).
    """

    def __init__(
        self, tracing: Tracing, span: Span, model: Optional[str], agent_name: Optional[str]
    ) -> None:
        self.span = span
        self._tracing = tracing
        self._model = model
        self._agent_name = agent_name
        self._started = time.perf_counter()
        self._lock = threading.Lock()
        self._ended = False
        self._input_tokens: Optional[int] = None
        self._output_tokens: Optional[int] = None
        self._finish_reason: Optional[str] = None
        self._tokens: List[Tuple[Token[Optional[RunSpan]], Token[Context]]] = []

    @property
    def ended(self) -> bool:
        """Whether the span has ended."""
        return self._ended

    def __enter__(self) -> RunSpan:
        from opentelemetry import context, trace

        run_token = _CURRENT_RUN.set(self)
        context_token = context.attach(trace.set_span_in_context(self.span))
        self._tokens.append((run_token, context_token))
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        from opentelemetry import context

        try:
            self.finish(error=exc)
        finally:
            run_token, context_token = self._tokens.pop()
            context.detach(context_token)
            _CURRENT_RUN.reset(run_token)

    def tool_span(
        self,
        *,
        name: str,
        call_id: Optional[str],
        arguments: Optional[str],
        description: Optional[str] = None,
    ) -> ToolSpan:
        """An ``execute_tool`` span that is a child of this run, from any thread."""
        return self._tracing.tool_span(
            name=name, call_id=call_id, arguments=arguments, parent=self, description=description
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
        try:
            self._record(response, error, elapsed)
        except Exception:
            _log.debug("could not record the run's span attributes", exc_info=True)
        finally:
            self.span.end()

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
        if error_type is not None:
            attributes[_ERROR_TYPE] = error_type
        self.span.set_attributes(attributes)
        if error_type is not None:
            _set_error_status(self.span, _error_message(error, None))
        if tracing._instruments is not None:
            metric: Dict[str, Any] = {}
            if self._model is not None:
                metric[_REQUEST_MODEL] = self._model
            if self._agent_name:
                metric[_AGENT_NAME] = self._agent_name
            if error_type is not None:
                metric[_ERROR_TYPE] = error_type
            tracing._instruments.agent_duration.record(elapsed, metric)


class ToolSpan:
    """The ``execute_tool`` span of one tool call: a context manager (enter it once)."""

    def __init__(
        self,
        tracing: Tracing,
        *,
        name: str,
        call_id: Optional[str],
        arguments: Optional[str],
        parent: Optional[RunSpan],
        description: Optional[str],
    ) -> None:
        self.span: Optional[Span] = None
        self._tracing = tracing
        self._name = name
        self._call_id = call_id
        self._arguments = arguments
        self._parent = parent
        self._description = description
        self._error: Optional[BaseException] = None
        self._started = 0.0
        self._context_token: Optional[Token[Context]] = None

    def set_result(self, output: Any) -> None:
        """Record the tool's output (``gen_ai.tool.call.result``, only with ``trace_content``)."""
        if self.span is not None and self._tracing.trace_content:
            value = output if isinstance(output, str) else _dumps(output)
            self.span.set_attribute(_TOOL_RESULT, value)

    def set_error(self, error: BaseException) -> None:
        """Record an error the caller caught (unknown tool, invalid arguments, tool raised)."""
        self._error = error

    def __enter__(self) -> ToolSpan:
        from opentelemetry import context, trace

        attributes: Dict[str, Any] = {
            _OPERATION: "execute_tool",
            _TOOL_NAME: self._name,
            _TOOL_TYPE: "function",
        }
        if self._call_id:
            attributes[_TOOL_CALL_ID] = self._call_id
        if self._description:
            attributes[_TOOL_DESCRIPTION] = self._description
        if self._tracing.trace_content and self._arguments is not None:
            attributes[_TOOL_ARGUMENTS] = self._arguments
        parent = self._parent
        self.span = span = self._tracing.tracer.start_span(
            f"execute_tool {self._name}",
            context=trace.set_span_in_context(parent.span) if parent is not None else None,
            kind=trace.SpanKind.INTERNAL,
            attributes=attributes,
        )
        self._started = time.perf_counter()
        self._context_token = context.attach(trace.set_span_in_context(span))
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        from opentelemetry import context

        span, token = self.span, self._context_token
        if span is None or token is None:
            return  # never entered: there is no span to end
        elapsed = time.perf_counter() - self._started
        error = exc if exc is not None else self._error
        try:
            context.detach(token)
            error_type = _error_type(error, None)
            if error_type is not None:
                span.set_attribute(_ERROR_TYPE, error_type)
                _set_error_status(span, _error_message(error, None))
            instruments = self._tracing._instruments
            if instruments is not None:
                metric: Dict[str, Any] = {_TOOL_NAME: self._name, _TOOL_TYPE: "function"}
                if error_type is not None:
                    metric[_ERROR_TYPE] = error_type
                instruments.tool_duration.record(elapsed, metric)
        except Exception:
            _log.debug("could not record the tool's span attributes", exc_info=True)
        finally:
            span.end()


# ------------------------------------------------------------------------------ helpers


def _get(obj: Any, key: str) -> Any:
    """``obj[key]`` for a mapping, else ``obj.key``; ``None`` when missing."""
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_jsonable)


def _jsonable(value: Any) -> Any:
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else str(value)


def _parse_arguments(arguments: Any) -> Any:
    """The arguments as an object when they are a JSON string (the conventions ask for one)."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def _request_attributes(request: Mapping[str, Any], openai: bool) -> Dict[str, Any]:
    """The request's recommended and conditionally required attributes that are present."""
    attributes: Dict[str, Any] = {}
    model = request.get("model")
    if isinstance(model, str) and model:
        attributes[_REQUEST_MODEL] = model
    max_tokens = request.get("max_output_tokens")
    if _is_int(max_tokens):
        attributes[_REQUEST_MAX_TOKENS] = max_tokens
    for key, attribute in _REQUEST_NUMBERS:
        value: Any = request.get(key)
        if _is_number(value):
            attributes[attribute] = float(value)
    format_type = _get(_get(request.get("text"), "format"), "type")
    if format_type in ("json_schema", "json_object"):
        attributes[_OUTPUT_TYPE] = "json"
    elif format_type == "text":
        attributes[_OUTPUT_TYPE] = "text"
    conversation = request.get("conversation")
    conversation_id = conversation if isinstance(conversation, str) else _get(conversation, "id")
    if isinstance(conversation_id, str) and conversation_id:
        attributes[_CONVERSATION_ID] = conversation_id
    if openai:
        attributes[_OPENAI_API_TYPE] = "responses"
        tier = request.get("service_tier")
        # Conditionally required "if the request includes a service_tier and it is not auto".
        if isinstance(tier, str) and tier and tier != "auto":
            attributes[_OPENAI_REQUEST_SERVICE_TIER] = tier
    return attributes


def _response_attributes(response: Any, openai: bool) -> Dict[str, Any]:
    attributes: Dict[str, Any] = {}
    for key, attribute in (("id", _RESPONSE_ID), ("model", _RESPONSE_MODEL)):
        value = _get(response, key)
        if isinstance(value, str) and value:
            attributes[attribute] = value
    usage = _get(response, "usage")
    if usage is not None:
        for key, attribute in (("input_tokens", _INPUT_TOKENS), ("output_tokens", _OUTPUT_TOKENS)):
            value = _get(usage, key)
            if _is_int(value):
                attributes[attribute] = value
        cached = _get(_get(usage, "input_tokens_details"), "cached_tokens")
        if _is_int(cached):
            attributes[_CACHE_READ_TOKENS] = cached
        reasoning = _get(_get(usage, "output_tokens_details"), "reasoning_tokens")
        if _is_int(reasoning):
            attributes[_REASONING_TOKENS] = reasoning
    if openai:
        tier = _get(response, "service_tier")
        if isinstance(tier, str) and tier:
            attributes[_OPENAI_RESPONSE_SERVICE_TIER] = tier
    return attributes


def _finish_reason(response: Any, *, failed: bool) -> str:
    """The response's finish reason (see the module docstring for the mapping)."""
    status = _get(response, "status")
    if status == "completed":
        items = _get(response, "output") or ()
        calls = any(_get(item, "type") in _CLIENT_CALLS for item in items)
        return "tool_call" if calls else "stop"
    if status == "incomplete":
        reason = _get(_get(response, "incomplete_details"), "reason")
        if isinstance(reason, str) and reason:
            return _INCOMPLETE_REASONS.get(reason, reason)
        return "length"
    if status == "failed" or failed:
        return "error"
    return "cancelled"


def _first_chunk(first_token: Optional[float], started: float, metrics: Any) -> Optional[float]:
    if first_token is not None:
        return max(first_token - started, 0.0)
    # The core measured it without calling first_token(): take its figure.
    value: Any = _get(metrics, "time_to_first_token") if metrics is not None else None
    return float(value) if _is_number(value) else None


def _stream_extras(metrics: Any) -> Dict[str, Any]:
    if metrics is None:
        return {}
    extras: Dict[str, Any] = {}
    request_id = _get(metrics, "request_id")
    if isinstance(request_id, str) and request_id:
        extras[_REQUEST_ID] = request_id
    for key, attribute in (("retries", _RETRIES), ("resumes", _RESUMES)):
        value = _get(metrics, key)
        if _is_int(value) and value > 0:
            extras[attribute] = value
    return extras


def _error_type(error: Optional[BaseException], response: Any) -> Optional[str]:
    """``error.type``: the provider's error code when there is one, else the class name."""
    if error is not None:
        if isinstance(error, StreamError) and error.code:
            return error.code
        if isinstance(error, ResponseFailedError):
            failed = error.response if error.response is not None else response
            code = _get(_get(failed, "error"), "code")
            if isinstance(code, str) and code:
                return code
        return type(error).__qualname__
    if response is not None and _get(response, "status") == "failed":
        code = _get(_get(response, "error"), "code")
        return code if isinstance(code, str) and code else "_OTHER"
    return None


def _error_message(error: Optional[BaseException], response: Any) -> str:
    if error is not None:
        return str(error) or type(error).__qualname__
    message = _get(_get(response, "error"), "message")
    return message if isinstance(message, str) else "response.failed"


def _set_error_status(span: Span, message: str) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_status(Status(StatusCode.ERROR, message))


# ------------------------------------------------------------------------------ content


def _request_content(request: Mapping[str, Any]) -> Dict[str, Any]:
    """The opt-in instructions and input messages, as JSON strings."""
    attributes: Dict[str, Any] = {}
    instructions = request.get("instructions")
    if isinstance(instructions, str) and instructions:
        attributes[_SYSTEM_INSTRUCTIONS] = _dumps([{"type": "text", "content": instructions}])
    messages = _input_messages(request.get("input"))
    if messages:
        attributes[_INPUT_MESSAGES] = _dumps(messages)
    return attributes


def _input_messages(value: Any) -> List[Dict[str, Any]]:
    """The request's ``input`` in the conventions' input-messages schema, one per item.

    Items that carry no message content (item references, compaction) are left out.
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [{"role": "user", "parts": [{"type": "text", "content": value}]}]
    items = [value] if isinstance(value, Mapping) else list(value)
    messages: List[Dict[str, Any]] = []
    for item in items:
        kind = _get(item, "type")
        role = _get(item, "role")
        if isinstance(role, str) and kind in (None, "message"):
            messages.append({"role": role, "parts": _content_parts(_get(item, "content"))})
        elif kind == "function_call_output":
            part = {"type": "tool_call_response", "id": _get(item, "call_id")}
            part["response"] = _get(item, "output")
            messages.append({"role": "tool", "parts": [part]})
        elif isinstance(kind, str):
            part_or_none = _item_part(item, kind)
            if part_or_none is not None:
                messages.append({"role": "assistant", "parts": [part_or_none]})
    return messages


def _content_parts(content: Any) -> List[Dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: List[Dict[str, Any]] = []
    for part in content or ():
        kind = _get(part, "type")
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "content": _get(part, "text") or ""})
        elif kind == "refusal":
            parts.append({"type": "text", "content": _get(part, "refusal") or ""})
        elif kind == "input_image" and _get(part, "image_url"):
            parts.append({"type": "uri", "modality": "image", "uri": _get(part, "image_url")})
        elif kind in ("input_image", "input_file") and _get(part, "file_id"):
            modality = "image" if kind == "input_image" else "document"
            parts.append({"type": "file", "modality": modality, "file_id": _get(part, "file_id")})
        elif isinstance(kind, str):
            parts.append({"type": kind})
    return parts


def _item_part(item: Any, kind: str) -> Optional[Dict[str, Any]]:
    """An output (or replayed input) item as one message part, ``None`` if it has no content."""
    if kind in _CLIENT_CALLS:
        arguments = _get(item, "arguments")
        if arguments is None:
            arguments = _get(item, "input") if kind == "custom_tool_call" else _get(item, "action")
        return {
            "type": "tool_call",
            "id": _get(item, "call_id"),
            "name": _get(item, "name") or kind,
            "arguments": _parse_arguments(arguments),
        }
    if kind == "reasoning":
        texts = [_get(p, "text") for p in (_get(item, "summary") or ())]
        texts += [_get(p, "text") for p in (_get(item, "content") or ())]
        text = "\n".join(t for t in texts if isinstance(t, str) and t)
        return {"type": "reasoning", "content": text} if text else None
    if kind.endswith("_call"):
        # Built-in tools the server ran (web search, file search, code interpreter, MCP...).
        return {
            "type": "server_tool_call",
            "id": _get(item, "id"),
            "name": kind,
            "server_tool_call": {"type": kind},
        }
    return None


def _output_messages(response: Any, finish_reason: str) -> List[Dict[str, Any]]:
    """The response's output as one assistant message (one generation) of the schema."""
    parts: List[Dict[str, Any]] = []
    for item in _get(response, "output") or ():
        kind = _get(item, "type")
        if kind == "message":
            parts.extend(_content_parts(_get(item, "content")))
        elif isinstance(kind, str):
            part = _item_part(item, kind)
            if part is not None:
                parts.append(part)
    return [{"role": "assistant", "parts": parts, "finish_reason": finish_reason}]
