"""OpenTelemetry instrumentation (responses_stream._tracing) against the real SDK.

Spans go to the SDK's in-memory exporter and metrics to its in-memory reader; the providers
are passed explicitly, so no test touches the process-wide globals. What needs a fresh
interpreter (the default activation, OpenTelemetry missing) runs in a subprocess.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, Iterator, List, Optional

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, Metric
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import responses_stream as rs
from responses_stream import errors
from responses_stream._tracing import StreamSpan, Tracing

ROOT = Path(__file__).resolve().parent.parent

# The conventions' advisory bucket boundaries (gen-ai-metrics.md).
DURATION_BOUNDS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
TOKEN_BOUNDS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
AGENT_BOUNDS = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6)

PROMPT = "What is the secret word? (prompt-7f3a)"
INSTRUCTIONS = "Answer in one word. (instructions-91bc)"
ANSWER = "Swordfish (answer-c0de)"
TOOL_ARGUMENTS = '{"city": "Paris (args-5e5e)"}'
TOOL_RESULT = '{"sky": "sunny (result-beef)"}'
SECRETS = ("prompt-7f3a", "instructions-91bc", "answer-c0de", "args-5e5e", "result-beef")

REQUEST: Dict[str, Any] = {
    "model": "gpt-5-mini",
    "input": PROMPT,
    "instructions": INSTRUCTIONS,
    "max_output_tokens": 256,
    "temperature": 0.5,
    "top_p": 1,
    "service_tier": "flex",
    "text": {"format": {"type": "json_schema", "name": "word", "schema": {}}},
    "stream": True,
}


class Otel:
    """A tracer and a meter provider backed by the SDK's in-memory exporter and reader."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def tracing(self, **kwargs: Any) -> Tracing:
        tracing = Tracing.configure(
            enabled=None,
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            **kwargs,
        )
        assert tracing is not None
        return tracing

    def spans(self) -> List[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        (found,) = [s for s in self.spans() if s.name == name]
        return found

    def metrics(self) -> Dict[str, Metric]:
        data = self.reader.get_metrics_data()
        if data is None:
            return {}
        return {
            metric.name: metric
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        }

    def points(self, name: str) -> List[HistogramDataPoint]:
        points = list(self.metrics()[name].data.data_points)
        assert all(isinstance(p, HistogramDataPoint) for p in points)
        return points  # type: ignore[return-value]

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


@pytest.fixture
def otel() -> Iterator[Otel]:
    kit = Otel()
    yield kit
    kit.shutdown()


def message(text: str = ANSWER) -> Dict[str, Any]:
    return {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def function_call(name: str = "get_weather", call_id: str = "call_1") -> Dict[str, Any]:
    return {
        "type": "function_call",
        "id": "fc_1",
        "call_id": call_id,
        "name": name,
        "arguments": TOOL_ARGUMENTS,
        "status": "completed",
    }


def response(
    status: str = "completed",
    *,
    output: Optional[List[Dict[str, Any]]] = None,
    input_tokens: int = 12,
    output_tokens: int = 5,
    **extra: Any,
) -> rs.Response:
    data: Dict[str, Any] = {
        "id": "resp_123",
        "object": "response",
        "status": status,
        "model": "gpt-5-mini-2025-08-07",
        "output": [message()] if output is None else output,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
            "input_tokens_details": {"cached_tokens": 4},
            "output_tokens_details": {"reasoning_tokens": 2},
        },
        "service_tier": "flex",
    }
    data.update(extra)
    return rs.Response.from_dict(data)


def start(tracing: Tracing, **request: Any) -> StreamSpan:
    return tracing.start_stream(
        request={**REQUEST, **request}, server_address="api.openai.com", server_port=443
    )


def duration_of(span: ReadableSpan) -> float:
    assert span.start_time is not None and span.end_time is not None
    return (span.end_time - span.start_time) / 1e9


# ------------------------------------------------------------------------------ stream spans


def test_completed_stream_span_has_the_conventions_name_kind_and_attributes(otel: Otel) -> None:
    tracing = otel.tracing()
    stream = start(tracing)
    stream.first_token()
    metrics = SimpleNamespace(
        time_to_first_token=9.0, request_id="req_abc", retries=1, resumes=0, duration=None
    )
    stream.finish(response=response(), metrics=metrics)

    (span,) = otel.spans()
    assert span.name == "chat gpt-5-mini"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    attributes = dict(span.attributes or {})
    first_chunk = attributes.pop("gen_ai.response.time_to_first_chunk")
    # Measured from the span's start by first_token(), not taken from the core's metrics.
    assert isinstance(first_chunk, float) and 0.0 <= first_chunk <= duration_of(span)
    assert attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-5-mini",
        "gen_ai.request.max_tokens": 256,
        "gen_ai.request.temperature": 0.5,
        "gen_ai.request.top_p": 1.0,
        "gen_ai.request.stream": True,
        "gen_ai.output.type": "json",
        "openai.api.type": "responses",
        "openai.request.service_tier": "flex",
        "server.address": "api.openai.com",
        "server.port": 443,
        "gen_ai.response.id": "resp_123",
        "gen_ai.response.model": "gpt-5-mini-2025-08-07",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 5,
        "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.usage.reasoning.output_tokens": 2,
        "openai.response.service_tier": "flex",
        "responses_stream.request_id": "req_abc",
        "responses_stream.retries": 1,
    }


def test_request_attributes_are_set_at_span_creation_for_sampling(otel: Otel) -> None:
    """operation, provider, model and server are on the span before it ends (the conventions
    ask for them at creation time, where samplers see them)."""
    seen: List[Dict[str, Any]] = []

    class Recorder(SimpleSpanProcessor):
        def on_start(self, span: Any, parent_context: Any = None) -> None:
            seen.append(dict(span.attributes))

    otel.tracer_provider.add_span_processor(Recorder(InMemorySpanExporter()))
    start(otel.tracing()).finish()
    (at_start,) = seen
    assert at_start["gen_ai.operation.name"] == "chat"
    assert at_start["gen_ai.provider.name"] == "openai"
    assert at_start["gen_ai.request.model"] == "gpt-5-mini"
    assert (at_start["server.address"], at_start["server.port"]) == ("api.openai.com", 443)


def test_time_to_first_chunk_falls_back_to_the_core_metrics(otel: Otel) -> None:
    stream = start(otel.tracing())
    stream.finish(response=response(), metrics=SimpleNamespace(time_to_first_token=0.25))
    (span,) = otel.spans()
    assert (span.attributes or {})["gen_ai.response.time_to_first_chunk"] == 0.25


def test_no_time_to_first_chunk_without_a_first_token(otel: Otel) -> None:
    start(otel.tracing()).finish(response=response())
    (span,) = otel.spans()
    assert "gen_ai.response.time_to_first_chunk" not in (span.attributes or {})
    assert "gen_ai.client.operation.time_to_first_chunk" not in otel.metrics()


def test_azure_provider_name_and_no_openai_specific_attributes(otel: Otel) -> None:
    tracing = otel.tracing(provider_name="azure.ai.openai")
    start(tracing).finish(response=response())
    (span,) = otel.spans()
    attributes = span.attributes or {}
    assert attributes["gen_ai.provider.name"] == "azure.ai.openai"
    assert not [key for key in attributes if key.startswith("openai.")]


def test_auto_service_tier_is_not_recorded(otel: Otel) -> None:
    start(otel.tracing(), service_tier="auto").finish()
    (span,) = otel.spans()
    assert "openai.request.service_tier" not in (span.attributes or {})


def test_span_name_without_a_model(otel: Otel) -> None:
    otel.tracing().start_stream(
        request={"input": "hi"}, server_address="", server_port=None
    ).finish()
    (span,) = otel.spans()
    assert span.name == "chat"
    assert "server.address" not in (span.attributes or {})


def test_the_stream_span_is_never_the_current_span(otel: Otel) -> None:
    """A stream may be closed on another thread: its span is a parent only explicitly."""
    tracing = otel.tracing()
    app = otel.tracer_provider.get_tracer("app")
    with app.start_as_current_span("app request") as outer:
        stream = start(tracing)
        assert trace.get_current_span() is outer
        stream.finish()
        assert trace.get_current_span() is outer
    chat = otel.span("chat gpt-5-mini")
    assert chat.parent is not None and chat.parent.span_id == outer.get_span_context().span_id


# ------------------------------------------------------------------------------ exactly once


def test_finish_twice_ends_one_span_with_the_first_outcome(otel: Otel) -> None:
    stream = start(otel.tracing())
    stream.finish(response=response())
    stream.finish(error=ValueError("late"))
    stream.first_token()
    assert stream.ended
    (span,) = otel.spans()
    assert span.status.status_code is StatusCode.UNSET
    assert "error.type" not in (span.attributes or {})
    (point,) = otel.points("gen_ai.client.operation.duration")
    assert point.count == 1


def test_concurrent_finishes_end_one_span(otel: Otel) -> None:
    stream = start(otel.tracing())
    barrier = threading.Barrier(8)

    def finish() -> None:
        barrier.wait()
        stream.finish(response=response())

    threads = [threading.Thread(target=finish) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(otel.spans()) == 1


def test_the_finalizer_ends_the_span_of_an_abandoned_iterator(otel: Otel) -> None:
    stream = start(otel.tracing())

    def events() -> Iterator[int]:
        yield 1
        yield 2

    iterator = events()
    stream.bind(iterator)
    assert next(iterator) == 1
    assert otel.spans() == []
    del iterator
    gc.collect()
    assert stream.ended
    (span,) = otel.spans()
    # Abandoning a stream is the caller's choice, not a failure of the operation.
    assert span.status.status_code is StatusCode.UNSET
    assert "error.type" not in (span.attributes or {})
    stream.finish(error=ValueError("after the fact"))
    assert len(otel.spans()) == 1


def test_finish_disarms_the_finalizer(otel: Otel) -> None:
    """After finish() the owner no longer holds the span alive, nor ends it again."""

    class Owner:
        pass

    owner = Owner()
    stream = start(otel.tracing())
    stream.bind(owner)
    stream.finish(response=response())
    alive = weakref.ref(stream)
    del stream
    gc.collect()
    assert alive() is None
    del owner
    gc.collect()
    assert len(otel.spans()) == 1


def test_a_recording_failure_still_ends_the_span(otel: Otel) -> None:
    class Broken:
        status = "completed"

        @property
        def usage(self) -> Any:
            raise RuntimeError("a response object that fails to read")

    stream = start(otel.tracing())
    stream.finish(response=Broken())
    assert stream.ended
    assert [s.name for s in otel.spans()] == ["chat gpt-5-mini"]


# ------------------------------------------------------------------------------ errors


def failed_response(code: str = "server_error") -> rs.Response:
    return response("failed", output=[], error={"code": code, "message": "The model crashed"})


@pytest.mark.parametrize("content", [False, True])
@pytest.mark.parametrize(
    ("error", "error_type", "safe"),
    [
        (
            errors.StreamError("Rate limited", code="rate_limit_exceeded"),
            "rate_limit_exceeded",
            "StreamError (code rate_limit_exceeded)",
        ),
        (
            errors.ResponseFailedError("failed", response=failed_response()),
            "server_error",
            "ResponseFailedError",
        ),
        (errors.APITimeoutError("no byte within 600 s"), "APITimeoutError", "APITimeoutError"),
        (
            errors.RateLimitError("slow down", status_code=429),
            "RateLimitError",
            "RateLimitError (HTTP 429)",
        ),
        (ValueError("handler callback broke"), "ValueError", "ValueError"),
        (KeyboardInterrupt(), "KeyboardInterrupt", "KeyboardInterrupt"),
        (
            errors.StreamInterrupted("EOF before a terminal event"),
            "StreamInterrupted",
            "StreamInterrupted",
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else None,
)
def test_an_error_sets_status_error_and_error_type(
    otel: Otel, error: BaseException, error_type: str, safe: str, content: bool
) -> None:
    """The status quotes the error's message only with trace_content (it may hold prompts,
    answers or arguments); without, its type, HTTP status and error code."""
    stream = start(otel.tracing(trace_content=content))
    stream.finish(response=response("in_progress", output=[]), error=error)
    (span,) = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == ((str(error) or type(error).__name__) if content else safe)
    attributes = span.attributes or {}
    assert attributes["error.type"] == error_type
    assert attributes["gen_ai.response.finish_reasons"] == ("error",)
    (point,) = otel.points("gen_ai.client.operation.duration")
    assert point.attributes is not None and point.attributes["error.type"] == error_type


@pytest.mark.parametrize("content", [False, True])
def test_a_failed_response_without_an_exception_is_an_error(otel: Otel, content: bool) -> None:
    start(otel.tracing(trace_content=content)).finish(response=failed_response("invalid_prompt"))
    (span,) = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == ("The model crashed" if content else "invalid_prompt")
    attributes = span.attributes or {}
    assert attributes["error.type"] == "invalid_prompt"
    assert attributes["gen_ai.response.finish_reasons"] == ("error",)


@pytest.mark.parametrize("error", [None, GeneratorExit()], ids=["stop", "GeneratorExit"])
def test_stopping_or_closing_early_is_not_an_error(
    otel: Otel, error: Optional[BaseException]
) -> None:
    start(otel.tracing()).finish(response=response("in_progress", output=[]), error=error)
    (span,) = otel.spans()
    assert span.status.status_code is StatusCode.UNSET
    attributes = span.attributes or {}
    assert "error.type" not in attributes
    assert attributes["gen_ai.response.finish_reasons"] == ("cancelled",)


@pytest.mark.parametrize(
    ("status", "extra", "output", "reason"),
    [
        ("completed", {}, [message()], "stop"),
        ("completed", {}, [message(), function_call()], "tool_call"),
        ("incomplete", {"incomplete_details": {"reason": "max_output_tokens"}}, [], "length"),
        ("incomplete", {"incomplete_details": {"reason": "content_filter"}}, [], "content_filter"),
        ("incomplete", {}, [], "length"),
        ("cancelled", {}, [], "cancelled"),
    ],
)
def test_finish_reasons_map_the_response_status(
    otel: Otel, status: str, extra: Dict[str, Any], output: List[Dict[str, Any]], reason: str
) -> None:
    start(otel.tracing()).finish(response=response(status, output=output, **extra))
    (span,) = otel.spans()
    assert (span.attributes or {})["gen_ai.response.finish_reasons"] == (reason,)
    assert span.status.status_code is StatusCode.UNSET


# ------------------------------------------------------------------------------ content


def all_values(spans: List[ReadableSpan]) -> str:
    return json.dumps(
        [[s.name, dict(s.attributes or {}), [e.name for e in s.events]] for s in spans],
        default=str,
    )


def run_everything(tracing: Tracing) -> None:
    """A run with one turn that calls a tool, the tool, and a final turn."""
    with tracing.start_run(request=REQUEST) as run:
        start(tracing).finish(response=response(output=[function_call()]))
        with run.tool_span(name="get_weather", call_id="call_1", arguments=TOOL_ARGUMENTS) as tool:
            tool.set_result(TOOL_RESULT)
        start(tracing).finish(response=response())
        run.finish(response=response())


def test_content_is_not_recorded_by_default(otel: Otel) -> None:
    run_everything(otel.tracing())
    spans = otel.spans()
    assert len(spans) == 4
    dumped = all_values(spans)
    assert not [secret for secret in SECRETS if secret in dumped]
    content_keys = {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
    }
    assert not [key for s in spans for key in (s.attributes or {}) if key in content_keys]


def test_content_is_recorded_with_trace_content(otel: Otel) -> None:
    run_everything(otel.tracing(trace_content=True))
    dumped = all_values(otel.spans())
    assert [secret for secret in SECRETS if secret in dumped] == list(SECRETS)

    chats = [s for s in otel.spans() if s.name == "chat gpt-5-mini"]
    first = chats[0].attributes or {}
    assert json.loads(str(first["gen_ai.system_instructions"])) == [
        {"type": "text", "content": INSTRUCTIONS}
    ]
    assert json.loads(str(first["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": PROMPT}]}
    ]
    assert json.loads(str(first["gen_ai.output.messages"])) == [
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_1",
                    "name": "get_weather",
                    "arguments": {"city": "Paris (args-5e5e)"},
                }
            ],
            "finish_reason": "tool_call",
        }
    ]
    last = chats[1].attributes or {}
    assert json.loads(str(last["gen_ai.output.messages"])) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": ANSWER}],
            "finish_reason": "stop",
        }
    ]
    tool = otel.span("execute_tool get_weather").attributes or {}
    assert tool["gen_ai.tool.call.arguments"] == TOOL_ARGUMENTS
    assert tool["gen_ai.tool.call.result"] == TOOL_RESULT
    run = otel.span("invoke_agent").attributes or {}
    assert json.loads(str(run["gen_ai.input.messages"]))[0]["parts"][0]["content"] == PROMPT


def test_input_items_follow_the_input_messages_schema(otel: Otel) -> None:
    items: List[Any] = [
        {"role": "developer", "content": "Be brief."},
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Look:"},
                {"type": "input_image", "image_url": "https://example.com/cat.png"},
                {"type": "input_file", "file_id": "file_1"},
            ],
        },
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Hmm."}]},
        function_call(),
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {"type": "item_reference", "id": "msg_0"},
    ]
    start(otel.tracing(trace_content=True), input=items).finish()
    (span,) = otel.spans()
    assert json.loads(str((span.attributes or {})["gen_ai.input.messages"])) == [
        {"role": "developer", "parts": [{"type": "text", "content": "Be brief."}]},
        {
            "role": "user",
            "parts": [
                {"type": "text", "content": "Look:"},
                {"type": "uri", "modality": "image", "uri": "https://example.com/cat.png"},
                {"type": "file", "modality": "document", "file_id": "file_1"},
            ],
        },
        {"role": "assistant", "parts": [{"type": "reasoning", "content": "Hmm."}]},
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_1",
                    "name": "get_weather",
                    "arguments": {"city": "Paris (args-5e5e)"},
                }
            ],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "call_1", "response": "sunny"}],
        },
    ]


# ------------------------------------------------------------------------------ run and tools


def test_the_run_span_is_the_parent_of_turns_and_tools(otel: Otel) -> None:
    tracing = otel.tracing()
    with tracing.start_run(request=REQUEST) as run:
        assert trace.get_current_span() is run.span
        turn = start(tracing)
        assert trace.get_current_span() is run.span
        turn.finish(response=response(output=[function_call()], input_tokens=10, output_tokens=3))

        def execute() -> None:  # tools may run on worker threads: the parent is explicit
            with run.tool_span(name="get_weather", call_id="call_1", arguments="{}"):
                pass

        with ThreadPoolExecutor(1) as pool:
            pool.submit(execute).result()

        def stream_elsewhere() -> None:
            start_elsewhere = tracing.start_stream(
                request=REQUEST, server_address="api.openai.com", server_port=443, parent=run
            )
            start_elsewhere.finish(response=response(input_tokens=20, output_tokens=7))

        worker = threading.Thread(target=stream_elsewhere)
        worker.start()
        worker.join()
    assert not trace.get_current_span().get_span_context().is_valid
    assert run.ended

    root = otel.span("invoke_agent")
    turns = [s for s in otel.spans() if s.name == "chat gpt-5-mini"]
    tool = otel.span("execute_tool get_weather")
    assert len(turns) == 2
    root_context = root.get_span_context()
    assert root_context is not None
    assert root.parent is None
    for child in [*turns, tool]:
        assert child.parent is not None
        assert child.parent.span_id == root_context.span_id
        assert child.context is not None and child.context.trace_id == root_context.trace_id
    assert root.kind is SpanKind.INTERNAL
    assert tool.kind is SpanKind.INTERNAL
    assert dict(root.attributes or {}) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-5-mini",
        "gen_ai.request.max_tokens": 256,
        "gen_ai.request.temperature": 0.5,
        "gen_ai.request.top_p": 1.0,
        "gen_ai.output.type": "json",
        "gen_ai.usage.input_tokens": 30,
        "gen_ai.usage.output_tokens": 10,
        "gen_ai.response.finish_reasons": ("stop",),
    }
    assert dict(tool.attributes or {}) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.call.id": "call_1",
        "gen_ai.tool.type": "function",
    }
    assert tool.status.status_code is StatusCode.UNSET


def test_an_agent_name_names_the_run_span(otel: Otel) -> None:
    with otel.tracing().start_run(request=REQUEST, agent_name="Weather bot"):
        pass
    span = otel.span("invoke_agent Weather bot")
    assert (span.attributes or {})["gen_ai.agent.name"] == "Weather bot"


def test_an_error_that_leaves_the_run_is_recorded(otel: Otel) -> None:
    tracing = otel.tracing()
    with pytest.raises(errors.MaxTurnsExceeded), tracing.start_run(request=REQUEST):
        raise errors.MaxTurnsExceeded("still calling tools after 1 turn", responses=[])
    assert not trace.get_current_span().get_span_context().is_valid
    span = otel.span("invoke_agent")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "MaxTurnsExceeded"
    (point,) = otel.points("gen_ai.invoke_agent.duration")
    assert dict(point.attributes or {}) == {
        "gen_ai.request.model": "gpt-5-mini",
        "error.type": "MaxTurnsExceeded",
    }


@pytest.mark.parametrize("content", [False, True])
def test_a_tool_that_raises_is_recorded_and_the_exception_propagates(
    otel: Otel, content: bool
) -> None:
    tracing = otel.tracing(trace_content=content)
    with (
        pytest.raises(ZeroDivisionError),
        tracing.tool_span(name="divide", call_id="call_9", arguments='{"a": 1, "b": 0}'),
    ):
        _ = 1 / 0
    span = otel.span("execute_tool divide")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == ("division by zero" if content else "ZeroDivisionError")
    assert (span.attributes or {})["error.type"] == "ZeroDivisionError"


def test_a_tool_error_the_caller_caught_is_recorded(otel: Otel) -> None:
    tracing = otel.tracing()
    with tracing.tool_span(name="get_weather", call_id="call_2", arguments="{") as tool:
        tool.set_error(errors.InvalidArgumentsError("not JSON", name="get_weather", arguments="{"))
    span = otel.span("execute_tool get_weather")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "InvalidArgumentsError"
    (point,) = otel.points("gen_ai.execute_tool.duration")
    assert dict(point.attributes or {}) == {
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.type": "function",
        "error.type": "InvalidArgumentsError",
    }


def test_the_tool_span_is_current_inside_its_block(otel: Otel) -> None:
    """Instrumented calls made by the tool nest under its span."""
    tracing = otel.tracing()
    app = otel.tracer_provider.get_tracer("app")
    with tracing.tool_span(name="lookup", call_id=None, arguments=None) as tool:
        assert trace.get_current_span() is tool.span
        with app.start_as_current_span("database query"):
            pass
    query, lookup = otel.span("database query"), otel.span("execute_tool lookup")
    assert query.parent is not None and lookup.context is not None
    assert query.parent.span_id == lookup.context.span_id
    assert "gen_ai.tool.call.id" not in (lookup.attributes or {})


# ------------------------------------------------------------------------------ metrics


def test_stream_metrics_follow_the_conventions(otel: Otel) -> None:
    stream = start(otel.tracing())
    stream.first_token()
    stream.finish(response=response(input_tokens=120, output_tokens=30))
    failed = start(otel.tracing())
    failed.finish(error=errors.APITimeoutError("idle"))

    metrics = otel.metrics()
    assert {name: (m.unit, type(m.data).__name__) for name, m in metrics.items()} == {
        "gen_ai.client.operation.duration": ("s", "Histogram"),
        "gen_ai.client.token.usage": ("{token}", "Histogram"),
        "gen_ai.client.operation.time_to_first_chunk": ("s", "Histogram"),
    }
    base = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-5-mini",
        "server.address": "api.openai.com",
        "server.port": 443,
    }
    with_response = {
        **base,
        "gen_ai.response.model": "gpt-5-mini-2025-08-07",
        "openai.response.service_tier": "flex",
    }
    durations = {
        str((p.attributes or {}).get("error.type")): p
        for p in otel.points("gen_ai.client.operation.duration")
    }
    assert dict(durations["None"].attributes or {}) == with_response
    assert dict(durations["APITimeoutError"].attributes or {}) == {
        **base,
        "error.type": "APITimeoutError",
    }
    for point in durations.values():
        assert point.count == 1
        assert tuple(point.explicit_bounds) == DURATION_BOUNDS

    tokens = {
        str((p.attributes or {})["gen_ai.token.type"]): p
        for p in otel.points("gen_ai.client.token.usage")
    }
    assert sorted(tokens) == ["input", "output"]
    assert (tokens["input"].sum, tokens["output"].sum) == (120, 30)
    for token_type, point in tokens.items():
        assert dict(point.attributes or {}) == {**with_response, "gen_ai.token.type": token_type}
        assert tuple(point.explicit_bounds) == TOKEN_BOUNDS

    (first_chunk,) = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert dict(first_chunk.attributes or {}) == {
        **base,
        "gen_ai.response.model": "gpt-5-mini-2025-08-07",
    }
    assert first_chunk.count == 1
    assert tuple(first_chunk.explicit_bounds) == DURATION_BOUNDS


def test_run_and_tool_metrics_follow_the_conventions(otel: Otel) -> None:
    run_everything(otel.tracing())
    metrics = otel.metrics()
    assert metrics["gen_ai.invoke_agent.duration"].unit == "s"
    assert metrics["gen_ai.execute_tool.duration"].unit == "s"
    (agent,) = otel.points("gen_ai.invoke_agent.duration")
    assert dict(agent.attributes or {}) == {"gen_ai.request.model": "gpt-5-mini"}
    assert tuple(agent.explicit_bounds) == AGENT_BOUNDS
    assert agent.sum == pytest.approx(duration_of(otel.span("invoke_agent")), abs=0.05)
    (tool,) = otel.points("gen_ai.execute_tool.duration")
    assert dict(tool.attributes or {}) == {
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.type": "function",
    }
    assert tuple(tool.explicit_bounds) == DURATION_BOUNDS
    (turns,) = otel.points("gen_ai.client.operation.duration")  # same attributes: one point
    assert turns.count == 2


# ------------------------------------------------------------------------------ activation


def test_configure_off_and_explicit_providers(otel: Otel) -> None:
    assert (
        Tracing.configure(
            enabled=False,
            tracer_provider=otel.tracer_provider,
            meter_provider=otel.meter_provider,
        )
        is None
    )
    assert Tracing.configure(enabled=None, tracer_provider=otel.tracer_provider) is not None
    assert Tracing.configure(enabled=True, tracer_provider=otel.tracer_provider) is not None


@pytest.mark.parametrize(
    "arguments",
    [
        {"enabled": "yes"},
        {"enabled": True, "trace_content": 1},
        {"enabled": True, "provider_name": ""},
    ],
)
def test_configure_rejects_bad_arguments(arguments: Dict[str, Any]) -> None:
    with pytest.raises(errors.ConfigurationError):
        Tracing.configure(**arguments)


def run_python(code: str) -> List[str]:
    """Run ``code`` in a fresh interpreter that imports this checkout; return its stdout lines."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for name in [n for n in env if n.startswith("OTEL_")]:
        del env[name]  # no OpenTelemetry configuration leaks in from the environment
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_default_is_off_and_imports_nothing_when_opentelemetry_was_never_imported() -> None:
    lines = run_python(
        "import sys\n"
        "import responses_stream\n"
        "from responses_stream._tracing import Tracing\n"
        "print(Tracing.configure(enabled=None))\n"
        "print(Tracing.configure(enabled=False))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'opentelemetry'))\n"
    )
    assert lines == ["None", "None", "[]"]


GLOBAL_PROVIDER = (
    "from opentelemetry import trace\n"
    "from opentelemetry.sdk.trace import TracerProvider\n"
    "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
    "from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter\n"
    "exporter = InMemorySpanExporter()\n"
    "provider = TracerProvider()\n"
    "provider.add_span_processor(SimpleSpanProcessor(exporter))\n"
    "trace.set_tracer_provider(provider)\n"
)
"""Code for ``run_python``: install a global tracer provider whose spans go to ``exporter``."""


def test_default_follows_the_global_tracer_provider() -> None:
    lines = run_python(
        "from responses_stream._tracing import Tracing\n"
        "print(Tracing.configure(enabled=None))\n"  # imported, but no provider installed
        + GLOBAL_PROVIDER
        + "tracing = Tracing.configure(enabled=None)\n"
        "print(type(tracing).__name__)\n"
        "tracing.start_stream(request={'model': 'm'}, server_address='localhost',"
        " server_port=8080).finish()\n"
        "print([span.name for span in exporter.get_finished_spans()])\n"
    )
    assert lines == ["None", "Tracing", "['chat m']"]


def test_default_is_off_with_the_no_op_tracer_provider() -> None:
    lines = run_python(
        "from opentelemetry import trace\n"
        "trace.set_tracer_provider(trace.NoOpTracerProvider())\n"
        "from responses_stream._tracing import Tracing\n"
        "print(Tracing.configure(enabled=None))\n"
    )
    assert lines == ["None"]


def test_tracing_without_opentelemetry_installed_is_a_configuration_error() -> None:
    lines = run_python(
        "import sys\n"
        "class NoOpenTelemetry:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'opentelemetry':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "        return None\n"
        "sys.meta_path.insert(0, NoOpenTelemetry())\n"
        "import responses_stream\n"
        "from responses_stream.errors import ConfigurationError\n"
        "from responses_stream._tracing import Tracing\n"
        "print(Tracing.configure(enabled=None))\n"
        "for kwargs in ({'enabled': True}, {'enabled': None, 'tracer_provider': object()}):\n"
        "    try:\n"
        "        Tracing.configure(**kwargs)\n"
        "    except ConfigurationError as exc:\n"
        "        print(type(exc).__name__, exc, type(exc.__cause__).__name__)\n"
    )
    expected = (
        "ConfigurationError tracing needs OpenTelemetry: pip install 'responses-stream[otel]' "
        "ModuleNotFoundError"
    )
    assert lines == ["None", expected, expected]
