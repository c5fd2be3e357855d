"""Turns OpenTelemetry on for a client and starts its stream, run and tool spans (``otel`` extra).

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

The work is split in steps: this module decides whether tracing is on and starts the spans;
:mod:`~responses_stream._tracing_spans` ends them and records their outcome;
:mod:`~responses_stream._tracing_attributes` names the attributes and derives their values;
:mod:`~responses_stream._tracing_metrics` holds the histograms. The span classes are imported
from here, as before.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional

from ._tracing_attributes import (
    _AGENT_NAME,
    _OPERATION,
    _PROVIDER,
    _REQUEST_MODEL,
    _REQUEST_STREAM,
    _SERVER_ADDRESS,
    _SERVER_PORT,
    _request_attributes,
    _request_content,
)
from ._tracing_metrics import Instruments
from ._tracing_spans import _CURRENT_RUN, RunSpan, StreamSpan, ToolSpan
from .errors import ConfigurationError

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter
    from opentelemetry.trace import Tracer

__all__ = ["RunSpan", "StreamSpan", "ToolSpan", "Tracing"]


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
        self._instruments = Instruments(meter) if meter is not None else None

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
        for name, provider, method in (
            ("tracer_provider", tracers, "get_tracer"),
            ("meter_provider", meters, "get_meter"),
        ):
            if not callable(getattr(provider, method, None)):
                raise ConfigurationError(
                    f"{name} must be an OpenTelemetry {name.replace('_', ' ')} "
                    f"(with .{method}()), got {provider!r}"
                )
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
