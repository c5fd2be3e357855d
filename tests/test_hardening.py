"""Promises kept under hostile input and careless callers: one exception tree carrying the
partial response, exceptions that cross process boundaries, time limits validated up front."""

from __future__ import annotations

import inspect
import json
import math
import pickle
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Dict, List, Tuple, Type

import pytest

import responses_stream as rs
from responses_stream import errors
from responses_stream.testing import MockServer, Script

# ------------------------------------------------------------------------------ pickling


def _error_classes() -> List[Type[errors.ResponsesStreamError]]:
    return [
        cls
        for cls in vars(errors).values()
        if inspect.isclass(cls) and issubclass(cls, errors.ResponsesStreamError)
    ]


def _sample(cls: Type[errors.ResponsesStreamError]) -> errors.ResponsesStreamError:
    """An instance of ``cls`` with every attribute it declares set to a distinct value."""
    values: Dict[str, Any] = {}
    for name in errors._declared(cls):
        if name == "headers":
            values[name] = {"x-ratelimit-remaining": "0"}
        elif name in ("status_code", "last_sequence_number", "sequence_number"):
            values[name] = 429
        elif name == "retryable":
            values[name] = True
        elif name == "response":
            values[name] = rs.Response.from_wire({"id": "resp_1", "status": "in_progress"})
        else:
            values[name] = f"{name}-value"
    if cls is errors.MaxTurnsExceeded:
        return cls("too many turns", responses=[values["response"]])
    return cls(f"{cls.__name__} happened", **values)


def test_every_error_class_is_covered() -> None:
    """The sample covers the whole tree (a new class cannot slip past the pickling tests)."""
    names = {cls.__name__ for cls in _error_classes()}
    assert names == {n for n in errors.__all__ if n in names}
    assert len(names) >= 20


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: c.__name__)
def test_every_error_survives_pickle_with_type_message_and_attributes(
    cls: Type[errors.ResponsesStreamError],
) -> None:
    """A pickled exception comes back as the same class with the same message and attributes
    (a ProcessPoolExecutor worker sends what it raises this way)."""
    original = _sample(cls)
    clone = pickle.loads(pickle.dumps(original))
    assert type(clone) is cls
    assert str(clone) == str(original) and clone.message == original.message
    for name in errors._declared(cls) | {"message", "responses"}:
        if hasattr(original, name):
            assert getattr(clone, name) == getattr(original, name), name


def _raise_in_worker(name: str) -> None:
    raise _sample(getattr(errors, name))


def test_an_error_raised_in_a_process_pool_worker_reaches_the_caller_intact() -> None:
    """The pool stays usable and the caller catches the SDK's own class with its status."""
    with ProcessPoolExecutor(1) as pool:
        with pytest.raises(errors.RateLimitError) as caught:
            pool.submit(_raise_in_worker, "RateLimitError").result(timeout=60)
        assert caught.value.status_code == 429
        assert caught.value.headers == {"x-ratelimit-remaining": "0"}
        with pytest.raises(errors.StreamInterrupted) as cut:
            pool.submit(_raise_in_worker, "StreamInterrupted").result(timeout=60)
        assert cut.value.response.id == "resp_1"


def test_error_constructors_reject_keywords_their_class_does_not_declare() -> None:
    """A misspelt attribute is a TypeError, not an attribute silently set."""
    with pytest.raises(TypeError, match="statuscode"):
        errors.APIStatusError("x", status_code=400, statuscode=400)
    assert errors.APIStatusError("x", status_code=400).headers == {}


# ------------------------------------------------------------------------- time limits


@pytest.mark.parametrize("field", ["connect", "read", "idle", "total"])
@pytest.mark.parametrize("bad", [-1, 0, -0.5, math.nan, "5", True, [1]], ids=repr)
def test_a_bad_time_limit_is_a_configuration_error_naming_the_field(field: str, bad: Any) -> None:
    """Negative, zero, NaN and non-numeric limits fail when given, naming the field."""
    with pytest.raises(rs.ConfigurationError, match=rf"Timeout\.{field} .*{bad!r}"):
        rs.Timeout(**{field: bad})


@pytest.mark.parametrize("bad", [-1, 0, math.nan, "30", False])
def test_a_bad_plain_timeout_fails_before_any_request(server: MockServer, bad: Any) -> None:
    """``timeout=`` on the client or on a call is checked before anything is sent."""
    with pytest.raises(rs.ConfigurationError, match="timeout"):
        rs.Client(api_key="sk-test", base_url=server.url, timeout=bad)
    with rs.Client(api_key="sk-test", base_url=server.url) as client:
        with pytest.raises(rs.ConfigurationError, match="timeout"):
            client.stream(model="m", input="hi", timeout=bad)
    assert server.requests == []


def test_infinity_means_no_limit(server: MockServer) -> None:
    """``float("inf")`` is the same as ``None`` for every limit, and a stream runs under it."""
    inf = math.inf
    limits = rs.Timeout(connect=inf, read=inf, idle=inf, total=inf)
    assert (limits.connect, limits.read, limits.idle, limits.total) == (None,) * 4
    assert rs.Timeout.coerce(inf) == rs.Timeout(connect=None, read=None)
    server.add(Script(seed=1).text("fine").completed())
    with rs.Client(api_key="sk-test", base_url=server.url, timeout=limits) as client:
        assert client.stream(model="m", input="hi").output_text == "fine"


# ---------------------------------------------------------------- malformed events


def _events_with(kind: str, change: Dict[str, Any]) -> Tuple[bytes, str]:
    """A valid stream whose first event of type ``kind`` gets ``change``; the text sent
    before that event."""
    events = Script(seed=3).text("Hello world, this is text.").completed().events()
    out: List[bytes] = []
    before = ""
    hit = False
    for original in events:
        event = original
        if not hit and event["type"] == kind:
            event = {**original, **change}
            hit = True
        elif not hit and event["type"] == "response.output_text.delta":
            before += event["delta"]
        data = json.dumps(event).replace('"<DEEP>"', DEEP)
        out.append(f"event: {event['type']}\ndata: {data}\n\n".encode())
    assert hit, kind
    return b"".join(out), before


DEEP = "[" * 100_000 + "]" * 100_000
"""An array nested deeper than any JSON decoder recurses (spliced into the bytes as is)."""


MALFORMED = {
    "delta as a number": ("response.output_text.delta", {"delta": 42}),
    "response as a string": ("response.in_progress", {"response": "nope"}),
    "item as a string": ("response.output_item.added", {"item": "nope"}),
    "output_index as a list": ("response.output_text.delta", {"output_index": [0]}),
    "item.content as a string": (
        "response.output_item.done",
        {"item": {"type": "message", "id": "m", "role": "assistant", "content": "text"}},
    ),
    "deeply nested array": ("response.output_text.delta", {"logprobs": "<DEEP>"}),
    "numeric text in output_text.done": ("response.output_text.done", {"text": 12345}),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_event_is_a_protocol_error_with_what_arrived_before(
    server: MockServer, case: str
) -> None:
    """Over HTTP, each malformed shape ends the call with ProtocolError (never a built-in
    exception, and never later when the result is read); ``.response`` has the text so far."""
    kind, change = MALFORMED[case]
    body, before = _events_with(kind, change)
    server.add(body)
    with rs.Client(api_key="sk-test", base_url=server.url) as client:
        with pytest.raises(rs.ProtocolError) as caught:
            client.stream(model="m", input="hi")
    assert caught.value.response is not None
    assert caught.value.response.output_text == before


@pytest.mark.parametrize(
    "value",
    [None, 1, 1.5, "text", [], [1, 2], True, {"type": 5}, {"type": "error", "error": 7}],
    ids=repr,
)
def test_parse_event_raises_only_protocol_error_for_any_json_value(value: Any) -> None:
    """Any JSON value gives an event or a ProtocolError, nothing else."""
    try:
        event = rs.events.parse_event(value)
    except rs.ProtocolError:
        return
    assert isinstance(event, rs.events.Event)


# ------------------------------------------------------------------ resume integrity


def _background(seed: int = 4) -> Script:
    return Script(seed=seed, background=True).text("one two three four five six").completed()


def _client(server: MockServer) -> rs.Client:
    client = rs.Client(api_key="sk-test", base_url=server.url, max_retries=0)
    client._transport.sleep = lambda seconds: None
    return client


def test_a_resumed_connection_that_skips_events_is_not_accepted(server: MockServer) -> None:
    """Asked for the events after K, the server answers from K+4: the gap is asked for again
    (from K, every time), then StreamInterrupted with the partial response, never a response
    with a hole in it."""
    script = _background()
    chunks = script.to_sse_chunks()
    server.add(b"".join(chunks[:6]), framing="close")
    server.add(b"".join(chunks[10:]), method="GET", path=f"responses/{script.response_id}")
    with _client(server) as client, pytest.raises(rs.StreamInterrupted) as caught:
        client.stream(model="m", input="hi", background=True)
    assert "skipped" in str(caught.value)
    partial = caught.value.response
    assert partial is not None and partial.id == script.response_id
    sent = "".join(e.get("delta", "") for e in script.events()[:6])
    assert partial.output_text == sent
    resumes = server.requests[1:]
    last = script.events()[5]["sequence_number"]
    assert resumes and all(r.method == "GET" for r in resumes)
    assert {r.query.get("starting_after") for r in resumes} == {str(last)}


def test_a_stream_without_sequence_numbers_is_never_resumed(server: MockServer) -> None:
    """Without sequence numbers a resume would deliver events twice: the break is raised,
    with the partial response, and no resume request is sent."""
    script = _background()
    events = [dict(e) for e in script.events()[:6]]
    for event in events:
        event.pop("sequence_number", None)
    server.add(b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events), framing="close")
    with _client(server) as client, pytest.raises(rs.StreamInterrupted) as caught:
        client.stream(model="m", input="hi", background=True)
    texts = "".join(e.get("delta", "") for e in events if e["type"].endswith("text.delta"))
    assert caught.value.response.output_text == texts
    assert [r.method for r in server.requests] == ["POST"]


@pytest.mark.parametrize("failure", ["404", "refused"])
def test_an_error_while_resuming_carries_the_partial_response(
    server: MockServer, failure: str
) -> None:
    """A resume answered 404, or refused, raises with ``.response`` holding the partial."""
    script = _background()
    chunks = script.to_sse_chunks()
    server.add(b"".join(chunks[:6]), framing="close")
    path = f"responses/{script.response_id}"
    if failure == "404":
        server.add_error(404, "no such response", method="GET", path=path)
        expected: Any = rs.errors.NotFoundError
    else:
        server.add(b"", method="GET", path=path, close_after=0, reset=True)
        expected = (rs.APIConnectionError, rs.StreamInterrupted)
    with _client(server) as client, pytest.raises(expected) as caught:
        client.stream(model="m", input="hi", background=True, max_resumes=1)
    partial = caught.value.response
    assert partial is not None and partial.id == script.response_id
    assert partial.output_text  # the text received before the break


class Interrupt(Exception):
    """What a signal handler of the caller's own code raises (like Celery's soft limit)."""


def test_an_exception_raised_by_a_signal_handler_reaches_the_caller_unchanged(
    server: MockServer,
) -> None:
    """Raised asynchronously while the SDK is blocked in a read, the caller's own exception
    is not translated into an SDK error."""
    import signal

    server.add(_background(), stall=30, stall_after_events=4)

    def on_alarm(signum: int, frame: Any) -> None:
        raise Interrupt("soft time limit")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with _client(server) as client, pytest.raises(Interrupt):
            client.stream(model="m", input="hi")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(
    "terminal, raised",
    [
        ("response.completed", None),
        ("response.incomplete", None),
        ("response.failed", rs.StreamError),
        (None, rs.StreamError),
    ],
)
def test_an_error_event_raises_unless_the_response_still_ends_normally(
    server: MockServer, terminal: Any, raised: Any
) -> None:
    """An in-band error event is handed to on_error; StreamError is raised at the end unless
    a completed or incomplete response follows it (as on_error's documentation says)."""

    class Errors(rs.ResponseHandler):
        seen: List[str] = []

        def on_error(self, error: rs.events.ErrorEvent) -> None:
            self.seen = [*self.seen, error.message or ""]

    events: List[Dict[str, Any]] = [
        {"type": "response.created", "response": {"id": "r", "status": "in_progress"}},
        {"type": "error", "code": "server_error", "message": "hiccup"},
    ]
    if terminal is not None:
        events.append({"type": terminal, "response": {"id": "r", "output": []}})
    server.add(b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events))
    handler = Errors()
    with rs.Client(base_url=server.url, max_retries=0) as client:
        if raised is None:
            assert client.stream(handler, model="m", input="x").status == terminal.split(".")[1]
        else:
            with pytest.raises(raised):
                client.stream(handler, model="m", input="x")
    assert handler.seen == ["hiccup"]


@pytest.mark.parametrize("callback", ["on_retry", "on_resume"])
@pytest.mark.parametrize("verb", ["stream", "stream_many"])
def test_a_stop_iteration_from_a_callback_reaches_the_caller_unchanged(
    server: MockServer, callback: str, verb: str
) -> None:
    """on_retry and on_resume run inside the SDK's generators, which turn a StopIteration
    into RuntimeError (PEP 479): it still reaches on_exception and the caller as raised."""
    raised = StopIteration("from the callback")
    seen: List[BaseException] = []

    class Raises(rs.ResponseHandler):
        def on_exception(self, exc: BaseException) -> None:
            seen.append(exc)

    def fail(self: Any, *args: Any) -> None:
        raise raised

    setattr(Raises, callback, fail)
    script = Script(background=True, seed=2).text("alpha beta gamma").completed()
    if callback == "on_retry":
        server.add_error(500, "retry me", type="server_error")
        server.add(script)
    else:
        server.add(script, close_after=len(script.to_bytes()) // 2)
    with rs.Client(base_url=server.url, max_retries=1) as client:
        client._transport.sleep = lambda seconds: None
        request = {"model": "m", "input": "x", "background": True}
        if verb == "stream":
            with pytest.raises(StopIteration) as info:
                client.stream(Raises(), **request)
            got = info.value
        else:
            (got,) = client.stream_many([request], lambda i, p: Raises())  # type: ignore[assignment]
    assert got is raised and seen == [raised]


@pytest.mark.parametrize("raised", [KeyError("retry"), StopIteration("retry")], ids=repr)
def test_fail_fast_raises_an_error_of_on_retry_too(server: MockServer, raised: Exception) -> None:
    """stream_many(fail_fast=True): an exception from on_retry (run by the loop, not in an
    event callback) also closes every stream and is raised, unchanged."""

    class Raises(rs.ResponseHandler):
        def on_retry(self, error: Exception, attempt: int, delay: float) -> None:
            raise raised

    server.add_error(500, "retry me", type="server_error", match={"input": "a"})
    server.add(Script(seed=3).text("slow").completed(), match={"input": "b"}, delay=0.2)
    requests = [{"model": "m", "input": "a"}, {"model": "m", "input": "b"}]
    with rs.Client(base_url=server.url, max_retries=1) as client:
        client._transport.sleep = lambda seconds: None
        with pytest.raises(type(raised)) as info:
            client.stream_many(requests, lambda i, p: Raises(), fail_fast=True)
        assert info.value is raised
        # without fail_fast it is that stream's outcome, and the other one completes
        server.add_error(500, "retry me", type="server_error", match={"input": "a"})
        server.add(Script(seed=3).text("slow").completed(), match={"input": "b"})
        first, second = client.stream_many(requests, lambda i, p: Raises())
    assert first is raised and isinstance(second, rs.Response)


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        ({"type": "server_error", "code": None, "message": "Sorry"}, True),  # a null code
        ({"type": "server_error", "code": "server_error", "message": "m"}, True),
        ({"type": "tokens", "code": "rate_limit_exceeded", "message": "m"}, True),
        ({"type": "internal", "code": 503, "message": "vLLM"}, True),  # an HTTP status as code
        ({"type": "rate", "code": 429, "message": "vLLM"}, True),
        ({"type": "invalid_request_error", "code": 400, "message": "bad"}, False),
        ({"type": "insufficient_quota", "code": "insufficient_quota", "message": "m"}, False),
        ({"type": "insufficient_quota", "code": None, "message": "m"}, False),
    ],
)
def test_a_stream_error_is_retryable_for_rate_limits_and_server_errors_however_named(
    server: MockServer, error: Dict[str, Any], retryable: bool
) -> None:
    """StreamError.retryable (before any output): by the error's code, else by its type when
    the code is null (a shape seen in production), and for a code that is an HTTP status."""
    events: List[Dict[str, Any]] = [
        {"type": "response.created", "response": {"id": "r", "status": "in_progress"}},
        {"type": "error", "error": error},
    ]
    server.add(b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events))
    with rs.Client(base_url=server.url, max_retries=0) as client:
        with pytest.raises(rs.StreamError) as info:
            client.stream(model="m", input="x")
    assert info.value.retryable is retryable


# ------------------------------------------------------------- careless arguments, up front


class _Counted:
    """A MockServer with one stream queued; ``sent`` is how many requests reached it."""

    def __init__(self, server: MockServer) -> None:
        self.server = server
        server.add(Script(seed=3).text("fine").completed())

    @property
    def sent(self) -> int:
        return len(self.server.requests)


_CARELESS_CALLS = {
    "a handler class": lambda c: c.stream(rs.ResponseHandler, model="m", input="x"),
    "an object as handler": lambda c: c.stream(object(), model="m", input="x"),
    "run with a handler class": lambda c: c.run(rs.ResponseHandler, tools=[], model="m", input="x"),
    "resume with a handler class": lambda c: c.resume("resp_1", rs.ResponseHandler),
    "accumulate=None": lambda c: c.stream(model="m", input="x", accumulate=None),
    "events(accumulate='no')": lambda c: c.events(model="m", input="x", accumulate="no"),
    "cancel_on_stop=None": lambda c: c.stream(model="m", input="x", cancel_on_stop=None),
    "extra_headers as a list": lambda c: c.stream(model="m", input="x", extra_headers=[("a", "b")]),
    "stream_many(None)": lambda c: c.stream_many(None),
    "stream_many(one dict)": lambda c: c.stream_many({"model": "m", "input": "x"}),
    "events_many(None)": lambda c: c.events_many(None),
    "run(tools=None)": lambda c: c.run(tools=None, model="m", input="x"),
    "resume(starting_after='3')": lambda c: c.resume("resp_1", starting_after="3"),
    "resume(starting_after=True)": lambda c: c.resume("resp_1", starting_after=True),
    "resume(starting_after=-1)": lambda c: c.resume("resp_1", starting_after=-1),
}


@pytest.mark.parametrize("name", sorted(_CARELESS_CALLS))
def test_careless_arguments_are_a_configuration_error_before_any_request(
    server: MockServer, name: str
) -> None:
    """Nonsense a caller can pass is refused with a ConfigurationError naming it, before a
    (billed) request goes out; it used to fail after the request, with a bare error."""
    counted = _Counted(server)
    with rs.Client(api_key="sk-test", base_url=server.url) as client:
        with pytest.raises(errors.ConfigurationError):
            _CARELESS_CALLS[name](client)
    assert counted.sent == 0


def test_a_handler_class_keeps_no_state_for_later_handlers(server: MockServer) -> None:
    _Counted(server)
    with rs.Client(api_key="sk-test", base_url=server.url) as client:
        with pytest.raises(errors.ConfigurationError, match="pass an instance"):
            client.stream(rs.ResponseHandler, model="m", input="x")
    fresh = rs.ResponseHandler()
    assert fresh.snapshot is None and fresh.metrics is None and not fresh.stopped


@pytest.mark.parametrize(
    "settings",
    [
        {"default_headers": [("a", "b")]},
        {"tracer_provider": "x"},
        {"meter_provider": object()},
        {"azure_endpoint": "https://x.openai.azure.com", "azure_ad_token_provider": "a-token"},
    ],
    ids=["default_headers", "tracer_provider", "meter_provider", "azure_ad_token_provider"],
)
def test_client_settings_of_the_wrong_kind_are_a_configuration_error(
    settings: Dict[str, Any],
) -> None:
    pytest.importorskip("opentelemetry")
    with pytest.raises(errors.ConfigurationError):
        rs.Client(api_key="sk-test", base_url="http://127.0.0.1:9/v1", **settings)


def test_replay_refuses_what_stream_refuses_up_front() -> None:
    body = Script().text('{"a": 1}').completed().to_bytes()
    with pytest.raises(errors.ConfigurationError):
        rs.replay(body, accumulate=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="dataclass"):
        rs.replay(body, text_format=int)
    with pytest.raises(errors.ConfigurationError, match="pass an instance"):
        rs.replay(body, rs.ResponseHandler)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [math.nan, math.inf, object()])
def test_tool_results_json_cannot_hold_are_a_type_error(value: Any) -> None:
    """As encode_output's documentation says: TypeError, whatever json.dumps raised."""
    with pytest.raises(TypeError):
        rs.tools.encode_output(value)
    with pytest.raises(TypeError):
        rs.function_call_output("call_1", {"score": value})


def test_tool_strict_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="strict"):
        rs.tool(name="t", strict="no")(lambda: 1)  # type: ignore[call-overload]


def test_mock_server_match_must_be_a_dict(server: MockServer) -> None:
    with pytest.raises(TypeError, match="match"):
        server.add(Script().text("x").completed(), match=["input", "q1"])  # type: ignore[arg-type]
    _Counted(server)  # the route still serves what is queued after the mistake
    with rs.Client(api_key="sk-test", base_url=server.url) as client:
        assert client.stream(model="m", input="x").output_text == "fine"


# ------------------------------------------------------- text of the wrong type, huge numbers


def _sse(events: List[Dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)


_CREATED = {"type": "response.created", "response": {"id": "r1", "status": "in_progress"}}


def _completed(output: List[Any], **response: Any) -> Dict[str, Any]:
    payload = {"id": "r1", "status": "completed", "output": output, **response}
    return {"type": "response.completed", "response": payload}


_CALL = {
    "type": "function_call",
    "id": "fc1",
    "call_id": "c1",
    "name": "add",
    "status": "completed",
}
_WRONG_TEXT = {
    "function_call arguments as an object": [
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {**_CALL, "arguments": {"a": 1}},
        },
    ],
    "a part's text as a number": [
        {
            "type": "response.content_part.added",
            "output_index": 0,
            "content_index": 0,
            "item_id": "m1",
            "part": {"type": "output_text", "text": 5, "annotations": []},
        },
    ],
    "a refusal as a number, in the final output": [
        _completed(
            [{"type": "message", "id": "m1", "content": [{"type": "refusal", "refusal": 5}]}]
        )
    ],
    "mcp_call arguments as a list": [
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"type": "mcp_call", "arguments": [1]},
        }
    ],
}


@pytest.mark.parametrize("name", sorted(_WRONG_TEXT))
def test_text_of_the_wrong_type_in_an_item_or_part_is_a_protocol_error(
    server: MockServer, name: str
) -> None:
    """A number where text belongs is a ProtocolError with the response so far, as the README
    says; it used to be accepted, then break output_text or parsed_arguments later."""
    events = [_CREATED, *_WRONG_TEXT[name]]
    if events[-1]["type"] != "response.completed":
        events.append(_completed([]))
    server.add(_sse(events))
    with rs.Client(api_key="sk-test", base_url=server.url) as client:
        with pytest.raises(errors.ProtocolError) as caught:
            client.stream(model="m", input="x")
    assert "must be a string" in str(caught.value) and caught.value.response is not None


def test_null_text_in_a_part_reads_as_empty(server: MockServer) -> None:
    message = {"type": "message", "id": "m1", "content": [{"type": "output_text", "text": None}]}
    server.add(_sse([_CREATED, _completed([message])]))
    with rs.Client(api_key="sk-test", base_url=server.url) as client:
        final = client.stream(model="m", input="x")
    assert final.output_text == "" and final.status == "completed"


def test_arguments_set_by_hand_to_a_non_string_are_invalid_arguments() -> None:
    call = rs.FunctionCall(name="add", call_id="c1", arguments=5)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidArgumentsError, match="not a JSON string"):
        call.parsed_arguments


def test_a_token_count_too_large_for_a_float_leaves_the_rate_out(server: MockServer) -> None:
    """usage.output_tokens of 10**400 (valid JSON) raised a bare OverflowError at the end of
    every stream; the response completes and the rate is simply not known."""
    events = [
        _CREATED,
        {
            "type": "response.output_text.delta",
            "output_index": 0,
            "content_index": 0,
            "delta": "Hi",
        },
        {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "!"},
    ]
    usage = {"input_tokens": 1, "output_tokens": 10**400, "total_tokens": 10**400}
    events.append(_completed([], usage=usage))
    server.add(_sse(events))
    server.add(_sse(events))
    with rs.Client(api_key="sk-test", base_url=server.url) as client:
        final = client.stream(model="m", input="x")
        [many] = client.stream_many([{"model": "m", "input": "x"}])
    for response in (final, many):
        assert isinstance(response, rs.Response) and response.status == "completed"
        assert response.metrics is not None and response.metrics.output_tokens_per_second is None
