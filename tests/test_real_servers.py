"""Integration tests against real Responses API servers: llama.cpp, transformers serve, LiteLLM.

Every test runs once per server, through ``Client.stream()`` or ``Client.events()``, against a
server started once per session by ``tests/real_servers/servers.py`` (own venv under
``.venv-real-servers/``, a tiny random-weight model built locally, 127.0.0.1 only).

Which servers run is ``RS_REAL_SERVERS``:

* unset or empty: none; every test here is skipped, so the default run stays fast and offline;
* ``llamacpp`` (or a comma-separated list such as ``llamacpp,litellm``): those run, and a server
  that cannot be installed or started is an error, never a skip;
* ``all``: llama.cpp, transformers serve and LiteLLM.

What each server reports differs (that is the point): :data:`EXPECT` says what each one does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple, Type

import pytest

import responses_stream as rs

from .real_servers import servers
from .real_servers.servers import RunningServer

pytestmark = pytest.mark.real_server

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
        "required": ["city"],
    },
}


@dataclass(frozen=True)
class Expect:
    """What one server (with its test model) does."""

    # usage.output_tokens for max_output_tokens=16 (LiteLLM's upstream stops after 10 words)
    tokens_for_16: int
    # max_output_tokens=4: the status and incomplete_details.reason the server reports
    truncated_status: str
    truncated_reason: Optional[str]
    # a request the server refuses before streaming, and how
    bad_params: Dict[str, Any] = field(default_factory=dict)
    bad_error: Type[rs.APIStatusError] = rs.errors.BadRequestError
    bad_message: str = ""
    # True when the server hands the client a function call (LiteLLM's scripted upstream does;
    # the random-weight models never call a tool even when offered one)
    calls_tools: bool = False
    # sequence_number on every event (True), on none (False), or on some (None)
    numbered: Optional[bool] = None
    # what `temperature: "hot"` raises, and a piece of its message
    wrong_type_error: Type[rs.ResponsesStreamError] = rs.errors.BadRequestError
    wrong_type_message: str = ""


EXPECT = {
    # llama.cpp reports a reply cut by max_output_tokens as completed, with no details.
    "llamacpp": Expect(
        tokens_for_16=16,
        truncated_status="completed",
        truncated_reason=None,
        bad_params={"previous_response_id": "resp_unknown"},
        bad_error=rs.errors.BadRequestError,
        bad_message="does not support 'previous_response_id'",
        numbered=False,
        wrong_type_message="Field 'temperature': [json.exception.type_error.302]",
    ),
    # transformers serve: also "completed"; request validation is FastAPI's 422 {"detail": ...}.
    "transformers": Expect(
        tokens_for_16=16,
        truncated_status="completed",
        truncated_reason=None,
        bad_params={"bogus_field": 1},
        bad_error=rs.errors.UnprocessableEntityError,
        bad_message="Unexpected fields in the request: {'bogus_field'}",
        numbered=True,
        # the handler crashes: a plain-text 500, which the client retries (max_retries=2)
        wrong_type_error=rs.errors.InternalServerError,
        wrong_type_message="HTTP 500 Internal Server Error",
    ),
    # LiteLLM maps the upstream's finish_reason "length" to response.incomplete.
    "litellm": Expect(
        tokens_for_16=10,
        truncated_status="incomplete",
        truncated_reason="max_output_tokens",
        bad_params={"model": "no-such-model"},
        bad_error=rs.errors.BadRequestError,
        bad_message="Invalid model name passed in model=no-such-model",
        calls_tools=True,
        numbered=None,
        wrong_type_error=rs.ResponseFailedError,
        wrong_type_message="temperature\n  Input should be a valid number",
    ),
}


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session", params=servers.NAMES)
def live(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """One running server per name, started once per session and stopped after its tests.

    Skipped unless ``RS_REAL_SERVERS`` selects it; once selected, a failure to install or start
    it is an error (with the server log's tail), not a skip.
    """
    name: str = request.param
    try:
        wanted = servers.selected(os.environ.get(servers.ENV_VAR))
    except ValueError as exc:
        pytest.fail(str(exc), pytrace=False)
    if name not in wanted:
        pytest.skip(f"real server {name}: set {servers.ENV_VAR}={name} (or all) to run")
    server = servers.start(name)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(
                f"[real_server] {name} ready at {server.base_url}: install/check "
                f"{server.install_seconds:.1f} s, start {server.start_seconds:.1f} s"
            )
    try:
        yield server
    finally:
        servers.stop(server)


@pytest.fixture
def client(live: RunningServer) -> Iterator[rs.Client]:
    with rs.Client(api_key=live.api_key, base_url=live.base_url, timeout=60) as c:
        yield c


def params(live: RunningServer, **extra: Any) -> Dict[str, Any]:
    """Request parameters every server accepts; temperature 0 makes the models deterministic."""
    return {"model": live.model, "input": "Say hello.", "temperature": 0, **extra}


class Recorder(rs.ResponseHandler):
    """Keeps every callback call in order."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: List[Tuple[str, Any]] = []
        self.deltas: List[Tuple[str, str]] = []

    def names(self) -> List[str]:
        return [name for name, _ in self.calls]

    def args(self, name: str) -> List[Any]:
        return [arg for n, arg in self.calls if n == name]

    def on_created(self, response: rs.Response) -> None:
        self.calls.append(("created", response.status))

    def on_completed(self, response: rs.Response) -> None:
        self.calls.append(("completed", response))

    def on_incomplete(self, response: rs.Response) -> None:
        self.calls.append(("incomplete", response))

    def on_failed(self, response: rs.Response) -> None:
        self.calls.append(("failed", response))

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        self.deltas.append((delta, snapshot))
        self.calls.append(("text_delta", delta))

    def on_text_done(self, text: str) -> None:
        self.calls.append(("text_done", text))

    def on_function_call_created(self, call: rs.FunctionCall) -> None:
        self.calls.append(("call_created", call.name))

    def on_function_call_delta(self, delta: str, snapshot: str, call: rs.FunctionCall) -> None:
        self.calls.append(("call_delta", delta))

    def on_function_call_done(self, call: rs.FunctionCall) -> None:
        self.calls.append(("call_done", call))

    def on_retry(self, error: Exception, attempt: int, delay: float) -> None:
        self.calls.append(("retry", error))

    def on_exception(self, exc: BaseException) -> None:
        self.calls.append(("exception", exc))

    def on_end(self) -> None:
        self.calls.append(("end", None))


def check_usage(final: rs.Response, output_tokens: int) -> None:
    usage = final.usage
    assert usage is not None
    assert usage.output_tokens == output_tokens
    assert usage.input_tokens is not None and usage.input_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


# ---------------------------------------------------------------------------------- tests


def test_stream_text_reaches_on_text_delta(live: RunningServer, client: rs.Client) -> None:
    """Every delta reaches on_text_delta with the running snapshot; together they are the final
    output_text; the final Response is completed, with the server's usage."""
    handler = Recorder()
    final = client.stream(handler, **params(live, max_output_tokens=16))
    assert handler.deltas, handler.names()
    text = ""
    for delta, snapshot in handler.deltas:
        text += delta
        assert snapshot == text
    assert text and text == final.output_text
    assert handler.args("text_done") == [final.output_text]
    assert final.status == "completed"
    assert final.id and final.id.startswith("resp")
    check_usage(final, EXPECT[live.name].tokens_for_16)
    names = handler.names()
    assert names[0] == "created" and names[-2:] == ["completed", "end"]
    assert handler.args("completed") == [final]
    assert handler.snapshot is final


def test_events_pull_style(live: RunningServer, client: rs.Client) -> None:
    """client.events(): typed events from created to completed; the deltas are the text; the
    numbering is what the server sends (llama.cpp none, transformers serve all, LiteLLM some)."""
    with client.events(**params(live, max_output_tokens=16)) as stream:
        events = list(stream)
        final = stream.response
    assert isinstance(events[0], rs.events.ResponseCreated)
    assert isinstance(events[-1], rs.events.ResponseCompleted)
    assert not any(isinstance(e, rs.events.UnknownEvent) for e in events)
    deltas = [e.delta for e in events if isinstance(e, rs.events.OutputTextDelta)]
    assert deltas and "".join(deltas) == final.output_text
    assert final.status == "completed" and final.usage is not None
    numbers = [e.sequence_number for e in events]
    numbered = EXPECT[live.name].numbered
    if numbered is True:
        assert numbers == list(range(len(events)))
    elif numbered is False:
        assert set(numbers) == {None}
    else:
        assert None in numbers


def test_max_output_tokens_truncation(live: RunningServer, client: rs.Client) -> None:
    """max_output_tokens cuts the reply; the Response says so exactly as the server does."""
    expect = EXPECT[live.name]
    handler = Recorder()
    final = client.stream(handler, **params(live, max_output_tokens=4))
    assert final.status == expect.truncated_status
    reason = final.incomplete_details.reason if final.incomplete_details else None
    assert reason == expect.truncated_reason
    check_usage(final, 4)
    assert final.output_text and final.output_text == "".join(d for d, _ in handler.deltas)
    assert handler.args(expect.truncated_status) == [final]
    assert handler.names()[-1] == "end"


def test_bad_request_raises_status_error(live: RunningServer, client: rs.Client) -> None:
    """A request the server refuses raises the APIStatusError subclass for its status, with
    the server's message, before any callback but on_exception and on_end."""
    expect = EXPECT[live.name]
    handler = Recorder()
    with pytest.raises(rs.APIStatusError) as info:
        client.stream(handler, **params(live, **expect.bad_params))
    err = info.value
    assert type(err) is expect.bad_error
    assert expect.bad_message in str(err)
    assert err.status_code == (
        422 if expect.bad_error is rs.errors.UnprocessableEntityError else 400
    )
    assert handler.names() == ["exception", "end"]
    assert handler.args("exception") == [err]


def test_tool_round_trip(live: RunningServer, client: rs.Client) -> None:
    """A tool definition goes to the server; where the server calls it (LiteLLM), the call
    reaches the callbacks with parsed arguments and its result goes back in the next request.
    Where the model never calls tools, the same tool history is accepted and answered."""
    history: List[Dict[str, Any]] = [{"role": "user", "content": "Weather in Paris?"}]
    if EXPECT[live.name].calls_tools:
        handler = Recorder()
        first = client.stream(handler, **params(live, input=history, tools=[WEATHER_TOOL]))
        assert first.status == "completed"
        (call,) = first.function_calls
        assert call.name == "get_weather" and call.call_id
        assert call.parsed_arguments == {"city": "Paris", "unit": "celsius"}
        assert handler.args("call_created") == ["get_weather"]
        assert "".join(handler.args("call_delta")) == call.arguments
        assert handler.args("call_done") == [call]
        call_id, arguments = call.call_id, call.arguments
    else:
        call_id, arguments = "call_1", '{"city": "Paris"}'
    history += [
        {
            "type": "function_call",
            "call_id": call_id,
            "name": "get_weather",
            "arguments": arguments,
        },
        {"type": "function_call_output", "call_id": call_id, "output": "21 C and sunny"},
    ]
    handler = Recorder()
    final = client.stream(
        handler, **params(live, input=history, tools=[WEATHER_TOOL], max_output_tokens=8)
    )
    assert final.status == "completed" and not final.function_calls
    assert final.output_text == "".join(d for d, _ in handler.deltas)
    if EXPECT[live.name].calls_tools:  # the upstream echoes the tool result it was given
        assert final.output_text == "Tool said: 21 C and sunny"
    else:
        assert final.output_text


def test_wrong_parameter_type(live: RunningServer, client: rs.Client) -> None:
    """``temperature: "hot"``: llama.cpp refuses it (400); transformers serve crashes (plain-text
    500, retried twice, then InternalServerError); LiteLLM only notices after answering 200, so
    its stream is a lone response.failed (then [DONE]): on_failed, then ResponseFailedError."""
    expect = EXPECT[live.name]
    handler = Recorder()
    with pytest.raises(rs.ResponsesStreamError) as info:
        client.stream(handler, **params(live, temperature="hot"))
    err = info.value
    assert type(err) is expect.wrong_type_error
    if isinstance(err, rs.ResponseFailedError):
        response = err.response
        assert response is not None and response.status == "failed"
        assert response.error is not None and response.error.code == "server_error"
        assert expect.wrong_type_message in (response.error.message or "")
        assert handler.names() == ["failed", "exception", "end"]
    else:
        assert expect.wrong_type_message in str(err)
        retries = 2 if isinstance(err, rs.errors.InternalServerError) else 0
        assert handler.names() == ["retry"] * retries + ["exception", "end"]
