"""Tracing through ``rs.Client``: one span per stream, ended exactly once on every path, and the
``invoke_agent`` / ``chat`` / ``execute_tool`` tree of ``client.run()``.

Against the real OpenTelemetry SDK: spans go to its in-memory exporter, metrics to its in-memory
reader, and the providers are passed to the client (no test touches the process-wide globals,
except in a fresh interpreter). The span classes themselves are tested in ``test_tracing.py``.
"""

from __future__ import annotations

import gc
import os
import signal
import threading
from typing import Any, Dict, Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

import responses_stream as rs
from responses_stream import errors
from responses_stream.testing import MockServer, Script

from .scripts import Boom, closed_port_url
from .test_tracing import GLOBAL_PROVIDER, Otel, run_python

MODEL = "gpt-5-mini"
CHAT = f"chat {MODEL}"


@pytest.fixture
def otel() -> Iterator[Otel]:
    kit = Otel()
    yield kit
    kit.shutdown()


@pytest.fixture
def traced(server: MockServer, otel: Otel) -> Iterator[rs.Client]:
    """A client on ``server`` that traces into ``otel``."""
    with rs.Client(
        api_key="sk-test",
        base_url=server.url,
        timeout=rs.Timeout(2, 10),
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
    ) as client:
        client._transport.sleep = lambda seconds: None
        yield client


def answer(text: str = "Hello there, traced world.") -> Script:
    return Script(model=MODEL).text(text).completed()


def only_span(otel: Otel) -> ReadableSpan:
    spans = otel.spans()
    assert [s.name for s in spans] == [CHAT], [s.name for s in spans]
    return spans[0]


def attributes(span: ReadableSpan) -> Dict[str, Any]:
    return dict(span.attributes or {})


def assert_error(span: ReadableSpan, error_type: str) -> None:
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(span)["error.type"] == error_type


def assert_no_error(span: ReadableSpan, reason: str) -> None:
    assert span.status.status_code is StatusCode.UNSET
    assert "error.type" not in attributes(span)
    assert attributes(span)["gen_ai.response.finish_reasons"] == (reason,)


# ------------------------------------------------------------------------------ a stream


def test_a_completed_stream_is_one_client_span_with_the_conventions(
    server: MockServer, traced: rs.Client, otel: Otel
) -> None:
    server.add(answer(), delay=0.005)
    final = traced.stream(model=MODEL, input="Hi", max_output_tokens=64)
    span = only_span(otel)
    values = attributes(span)
    assert span.kind is SpanKind.CLIENT
    assert span.parent is None
    assert_no_error(span, "stop")
    assert final.usage is not None and final.metrics is not None
    expected = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": MODEL,
        "gen_ai.request.max_tokens": 64,
        "gen_ai.request.stream": True,
        "gen_ai.response.id": final.id,
        "gen_ai.response.model": MODEL,
        "gen_ai.usage.input_tokens": final.usage.input_tokens,
        "gen_ai.usage.output_tokens": final.usage.output_tokens,
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "responses_stream.request_id": final.metrics.request_id,
    }
    assert {key: values.get(key) for key in expected} == expected
    first = values["gen_ai.response.time_to_first_chunk"]
    assert first == final.metrics.time_to_first_token
    assert isinstance(first, float) and 0 < first
    # Content is not recorded unless asked.
    assert not [key for key in values if key.endswith("messages")]

    names = set(otel.metrics())
    assert {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"} <= names
    assert "gen_ai.client.operation.time_to_first_chunk" in names


def test_trace_content_records_the_prompt_and_the_answer(server: MockServer, otel: Otel) -> None:
    server.add(answer("The secret is 42."))
    with rs.Client(
        base_url=server.url, tracer_provider=otel.tracer_provider, trace_content=True
    ) as client:
        client.stream(model=MODEL, input="What is the secret?")
    values = attributes(only_span(otel))
    assert "What is the secret?" in str(values["gen_ai.input.messages"])
    assert "The secret is 42." in str(values["gen_ai.output.messages"])


def test_events_is_traced_like_stream(server: MockServer, traced: rs.Client, otel: Otel) -> None:
    server.add(answer())
    with traced.events(model=MODEL, input="Hi") as stream:
        for _ in stream:
            assert otel.spans() == []  # open while it streams
    assert_no_error(only_span(otel), "stop")


def test_an_incomplete_response_is_no_error(
    server: MockServer, traced: rs.Client, otel: Otel
) -> None:
    server.add(Script(model=MODEL).text("Cut sho").incomplete())
    assert traced.stream(model=MODEL, input="Hi").status == "incomplete"
    assert_no_error(only_span(otel), "length")


# ------------------------------------------------------------------------------ every ending


def test_a_failed_response(server: MockServer, traced: rs.Client, otel: Otel) -> None:
    server.add(Script(model=MODEL).text("Hm").failed(code="server_error"))
    with pytest.raises(errors.ResponseFailedError):
        traced.stream(model=MODEL, input="Hi")
    span = only_span(otel)
    assert_error(span, "server_error")
    assert attributes(span)["gen_ai.response.finish_reasons"] == ("error",)


def test_an_error_event(server: MockServer, traced: rs.Client, otel: Otel) -> None:
    server.add(Script(model=MODEL).text("Hm").error(code="rate_limit_exceeded"))
    with pytest.raises(errors.StreamError):
        traced.stream(model=MODEL, input="Hi")
    assert_error(only_span(otel), "rate_limit_exceeded")


class Raises(rs.ResponseHandler):
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        raise self.error


@pytest.mark.parametrize("error", [ValueError("callback broke"), KeyboardInterrupt()])
def test_an_exception_in_a_callback(
    server: MockServer, traced: rs.Client, otel: Otel, error: BaseException
) -> None:
    server.add(answer())
    with pytest.raises(type(error)):
        traced.stream(Raises(error), model=MODEL, input="Hi")
    span = only_span(otel)
    assert_error(span, type(error).__name__)
    assert attributes(span)["gen_ai.response.finish_reasons"] == ("error",)


def test_an_exception_in_an_events_loop(server: MockServer, traced: rs.Client, otel: Otel) -> None:
    server.add(answer())
    with pytest.raises(LookupError), traced.events(model=MODEL, input="Hi") as stream:
        for _ in stream:
            raise LookupError("the consumer broke")
    assert_error(only_span(otel), "LookupError")


def test_stop_in_a_callback(server: MockServer, traced: rs.Client, otel: Otel) -> None:
    class StopAtOnce(rs.ResponseHandler):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            self.stop()

    server.add(answer())
    assert traced.stream(StopAtOnce(), model=MODEL, input="Hi").status == "in_progress"
    assert_no_error(only_span(otel), "cancelled")


def test_stop_from_another_thread_during_a_stall(
    server: MockServer, traced: rs.Client, otel: Otel
) -> None:
    handler = rs.ResponseHandler()
    server.add(answer(), stall=30, stall_after_events=3)
    timer = threading.Timer(0.3, handler.stop)
    timer.start()
    try:
        traced.stream(handler, model=MODEL, input="Hi")
    finally:
        timer.cancel()
    assert_no_error(only_span(otel), "cancelled")


def test_keyboard_interrupt_during_a_blocked_read(
    server: MockServer, traced: rs.Client, otel: Otel
) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT does not raise KeyboardInterrupt here (ignored in the background)")
    server.add(answer(), stall=30, stall_after_events=3)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            traced.stream(model=MODEL, input="Hi")
    finally:
        timer.cancel()
    assert_error(only_span(otel), "KeyboardInterrupt")


@pytest.mark.parametrize("limit", ["idle", "total"])
def test_a_time_limit(server: MockServer, traced: rs.Client, otel: Otel, limit: str) -> None:
    server.add(answer(), stall=30, stall_after_events=3)
    with pytest.raises(errors.APITimeoutError):
        traced.stream(model=MODEL, input="Hi", timeout=rs.Timeout(**{limit: 0.3}))
    assert_error(only_span(otel), "APITimeoutError")


def test_a_body_cut_before_the_terminal_event(
    server: MockServer, traced: rs.Client, otel: Otel
) -> None:
    body = answer().to_bytes()
    server.add(body, close_after=len(body) // 2)
    with pytest.raises(errors.StreamInterrupted):
        traced.stream(model=MODEL, input="Hi")
    assert_error(only_span(otel), "StreamInterrupted")


def test_an_abandoned_events_iterator(server: MockServer, traced: rs.Client, otel: Otel) -> None:
    """The span ends when the stream is garbage-collected, with the response so far."""
    server.add(answer(), delay=0.005)
    events = iter(traced.events(model=MODEL, input="Hi"))
    next(events)
    assert otel.spans() == []
    del events  # freed by reference counting: no gc.collect() needed
    span = only_span(otel)
    assert_no_error(span, "cancelled")
    assert attributes(span)["gen_ai.response.id"].startswith("resp_")


def test_an_events_stream_closed_or_dropped_unread(
    server: MockServer, traced: rs.Client, otel: Otel
) -> None:
    server.add(answer())
    traced.events(model=MODEL, input="Hi").close()
    assert len(otel.spans()) == 1
    server.add(answer())
    traced.events(model=MODEL, input="Hi")  # never read, never closed: freed at once
    assert len(otel.spans()) == 2
    assert all(s.status.status_code is StatusCode.UNSET for s in otel.spans())


def test_failures_before_the_stream_starts(
    server: MockServer, traced: rs.Client, otel: Otel
) -> None:
    server.add_error(400, "Bad model", code="model_not_found")
    with pytest.raises(errors.BadRequestError):
        traced.stream(model=MODEL, input="Hi")
    server.add_json({"id": "resp_1", "object": "response"})  # JSON, not an event stream
    with pytest.raises(errors.ProtocolError):
        traced.stream(model=MODEL, input="Hi")
    spans = otel.spans()
    assert [attributes(s)["error.type"] for s in spans] == ["BadRequestError", "ProtocolError"]
    assert all(s.status.status_code is StatusCode.ERROR for s in spans)


def test_a_connection_that_fails(otel: Otel) -> None:
    with rs.Client(
        base_url=closed_port_url(), max_retries=0, tracer_provider=otel.tracer_provider
    ) as client:
        with pytest.raises(errors.APIConnectionError):
            client.stream(model=MODEL, input="Hi")
    assert_error(only_span(otel), "APIConnectionError")


def test_retries_and_resumes_stay_in_one_span(
    server: MockServer, traced: rs.Client, otel: Otel
) -> None:
    server.add_error(503, "Try again", type="server_error")
    script = Script(model=MODEL, background=True).text("Resumed answer " * 20).completed()
    body = script.to_bytes()
    server.add(body, close_after=len(body) // 2)
    final = traced.stream(model=MODEL, input="Hi", background=True)
    assert final.status == "completed"
    span = only_span(otel)
    assert_no_error(span, "stop")
    assert attributes(span)["responses_stream.retries"] == 1
    assert attributes(span)["responses_stream.resumes"] == 1


def test_every_path_ends_the_span_once(server: MockServer, traced: rs.Client, otel: Otel) -> None:
    """Closing again, and after the end, adds no span."""
    server.add(answer())
    with traced.events(model=MODEL, input="Hi") as stream:
        stream.until_done()
        stream.close()
    stream.close()
    gc.collect()
    assert len(otel.spans()) == 1


# ------------------------------------------------------------------------------ run()


def get_weather(city: str) -> str:
    """The weather in a city."""
    if city == "Atlantis":
        raise LookupError("no such city")
    return f"Sunny in {city}"


def test_run_is_an_agent_span_over_turns_and_tools(
    server: MockServer, traced: rs.Client, otel: Otel
) -> None:
    server.add(
        Script(model=MODEL)
        .function_call("get_weather", {"city": "Paris"})
        .function_call("get_weather", {"city": "Atlantis"})
        .completed()
    )
    server.add(answer("Sunny in Paris; Atlantis is unknown."))
    final = traced.run(tools=[get_weather], model=MODEL, input="Weather?", tool_workers=2)
    assert final.status == "completed"

    spans = otel.spans()
    (agent,) = [s for s in spans if s.name == "invoke_agent"]
    turns = [s for s in spans if s.name == CHAT]
    tools = [s for s in spans if s.name == "execute_tool get_weather"]
    assert len(spans) == 5 and len(turns) == 2 and len(tools) == 2
    assert agent.kind is SpanKind.INTERNAL and agent.parent is None
    agent_context = agent.get_span_context()
    assert agent_context is not None
    for child in [*turns, *tools]:
        assert child.parent is not None and child.parent.span_id == agent_context.span_id
    ok, failed = sorted(tools, key=lambda s: s.status.status_code is StatusCode.ERROR)
    assert ok.status.status_code is StatusCode.UNSET
    assert_error(failed, "LookupError")
    assert attributes(turns[0])["gen_ai.response.finish_reasons"] == ("tool_call",)
    values = attributes(agent)
    assert values["gen_ai.operation.name"] == "invoke_agent"
    assert values["gen_ai.response.finish_reasons"] == ("stop",)
    assert values["gen_ai.usage.output_tokens"] == sum(
        attributes(t)["gen_ai.usage.output_tokens"] for t in turns
    )
    assert agent.status.status_code is StatusCode.UNSET
    assert "gen_ai.invoke_agent.duration" in otel.metrics()
    assert "gen_ai.execute_tool.duration" in otel.metrics()


def test_a_run_that_raises_records_it(server: MockServer, traced: rs.Client, otel: Otel) -> None:
    server.add(Script(model=MODEL).function_call("get_weather", {"city": "Paris"}).completed())
    with pytest.raises(errors.MaxTurnsExceeded):
        traced.run(tools=[get_weather], model=MODEL, input="Weather?", max_turns=1)
    (agent,) = [s for s in otel.spans() if s.name == "invoke_agent"]
    assert_error(agent, "MaxTurnsExceeded")
    assert [s.name for s in otel.spans()] == [CHAT, "invoke_agent"]


def test_an_unknown_tool_and_invalid_arguments_are_tool_errors(
    server: MockServer, traced: rs.Client, otel: Otel
) -> None:
    server.add(
        Script(model=MODEL)
        .function_call("get_time", {})
        .function_call("get_weather", '{"town": 1}')
        .completed()
    )
    server.add(answer())
    traced.run(tools=[get_weather], model=MODEL, input="?")
    tools = [s for s in otel.spans() if s.name.startswith("execute_tool")]
    assert sorted((s.name, attributes(s)["error.type"]) for s in tools) == [
        ("execute_tool get_time", "UnknownToolError"),
        ("execute_tool get_weather", "InvalidArgumentsError"),
    ]


# ------------------------------------------------------------------------------ turning it on


def test_tracing_false_records_nothing(server: MockServer, otel: Otel) -> None:
    with rs.Client(
        base_url=server.url, tracing=False, tracer_provider=otel.tracer_provider
    ) as client:
        server.add(answer())
        client.stream(model=MODEL, input="Hi")
    assert otel.spans() == []


def test_bad_tracing_keywords_are_configuration_errors() -> None:
    for kwargs in ({"tracing": "yes"}, {"tracing": True, "trace_content": "no"}):
        with pytest.raises(errors.ConfigurationError):
            rs.Client(base_url="http://127.0.0.1:1/v1", **kwargs)


def test_the_azure_provider_name(otel: Otel) -> None:
    with rs.Client(
        azure_endpoint="https://example.openai.azure.com",
        api_key="k",
        tracer_provider=otel.tracer_provider,
    ) as client:
        assert client._tracing is not None
        assert client._tracing.provider_name == "azure.ai.openai"
        assert client._server == ("example.openai.azure.com", 443)


STREAM_ONCE = (
    "from responses_stream.testing import MockServer, Script\n"
    "import responses_stream as rs\n"
    "with MockServer() as server, rs.Client(base_url=server.url) as client:\n"
    "    server.add(Script(model='m').text('Hi').completed())\n"
    "    print(client.stream(model='m', input='x').output_text)\n"
)


def test_off_by_default_and_opentelemetry_never_imported() -> None:
    lines = run_python(
        "import sys\n" + STREAM_ONCE + "print(sorted({m.split('.')[0] for m in sys.modules"
        " if m.startswith('opentelemetry')}))\n"
    )
    assert lines == ["Hi", "[]"]


def test_on_by_default_with_a_global_tracer_provider() -> None:
    lines = run_python(
        GLOBAL_PROVIDER
        + STREAM_ONCE
        + "print([span.name for span in exporter.get_finished_spans()])\n"
    )
    assert lines == ["Hi", "['chat m']"]


SECRET = "4111-1111-1111-1111"


def test_without_trace_content_no_argument_or_text_reaches_a_span(
    server: MockServer, traced: rs.Client, otel: Otel
) -> None:
    """Bad tool arguments (their error quotes them), a tool whose error quotes them, and a
    malformed event (its error quotes the data): no span holds the secret they carry."""

    @rs.tool
    def lookup(card_number: str) -> str:
        """Look a card up."""
        raise ValueError(f"no card {card_number}")

    server.add(Script(seed=1).function_call("lookup", '{"card_number": "' + SECRET).completed())
    server.add(answer())
    server.add(Script(seed=2).function_call("lookup", {"card_number": SECRET}).completed())
    server.add(answer())
    server.add(
        b'data: {"type": "response.output_text.delta", "delta": ["' + SECRET.encode() + b'"]}\n\n'
    )
    traced.run(tools=[lookup], model=MODEL, input="x")
    traced.run(tools=[lookup], model=MODEL, input="x")
    with pytest.raises(errors.ProtocolError):
        traced.stream(model=MODEL, input="x")
    spans = otel.spans()
    assert {s.status.status_code for s in spans} >= {StatusCode.ERROR}
    for span in spans:
        assert SECRET not in (span.status.description or ""), span.name
        assert SECRET not in repr(dict(span.attributes or {})), span.name
        for event in span.events:
            assert SECRET not in repr(dict(event.attributes or {})), span.name


@pytest.mark.parametrize("accumulate", [True, False])
def test_a_call_ends_a_stream_as_tool_call_whether_or_not_output_is_kept(
    server: MockServer, traced: rs.Client, otel: Otel, accumulate: bool
) -> None:
    """accumulate=False keeps no output in the snapshot: the finish reason comes from the
    terminal event's response, which has it (it read "stop")."""
    server.add(
        Script(model=MODEL, seed=1).function_call("get_weather", {"city": "Paris"}).completed()
    )
    traced.stream(model=MODEL, input="x", accumulate=accumulate)
    assert_no_error(only_span(otel), "tool_call")


@pytest.mark.parametrize("how", ["stream_many, Ctrl-C in a callback", "events_many, an error"])
def test_what_ends_a_loop_of_many_streams_ends_their_spans_as_in_stream(
    server: MockServer, traced: rs.Client, otel: Otel, how: str
) -> None:
    """Every open stream's span ends with what ended the loop (as stream() ends its span
    with a Ctrl-C, or an error in an events() block), not as a quiet close."""
    for _ in range(3):
        server.add(Script(model=MODEL).text("word " * 50, chunk=5).completed(), delay=0.01)
    requests = [{"model": MODEL, "input": "x"} for _ in range(3)]
    expected = "KeyboardInterrupt" if how.startswith("stream_many") else "Boom"
    if how.startswith("stream_many"):

        class Interrupting(rs.ResponseHandler):
            def on_text_delta(self, delta: str, snapshot: str) -> None:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            traced.stream_many(requests, lambda index, params: Interrupting())
    else:
        with pytest.raises(Boom), traced.events_many(requests) as streams:
            for _, event in streams:
                if event.type == "response.output_text.delta":
                    raise Boom
    spans = otel.spans()
    assert len(spans) == 3
    for span in spans:
        assert_error(span, expected)
