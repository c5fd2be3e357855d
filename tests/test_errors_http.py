"""End-to-end error handling of ``Client`` over a real loopback server (``testing.MockServer``):
HTTP status errors, retries, broken and stalled streams, in-band errors, configuration errors,
and that the API key never leaks. Retry sleeps are recorded (the ``sleeps`` fixture), never
slept.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, List, Optional, Type

import pytest
import requests

import responses_stream as rs
from responses_stream.testing import MockServer, Script

from .scripts import (
    CLIENT_ERROR_STATUSES,
    Recorder,
    closed_port_url,
    request_id,
    text_script,
)

KEY = "sk-proj-SECRETa1b2c3d4e5f6g7h8i9j0"
KEY_FRAGMENT = "SECRETa1b2c3d4"


# ----------------------------------------------------------------------- HTTP status errors


def test_400_with_openai_error_body(
    server: MockServer, client: rs.Client, sleeps: List[float]
) -> None:
    """A 400 with an OpenAI error body raises BadRequestError carrying code, param, type,
    message, body and request_id, and is not retried."""
    message = "Invalid value for 'temperature': must be between 0 and 2."
    server.add_error(
        400, message, type="invalid_request_error", code="invalid_value", param="temperature"
    )
    handler = Recorder()

    with pytest.raises(rs.errors.BadRequestError) as info:
        client.stream(handler, model="gpt-4o", input="hi", temperature=7)

    exc = info.value
    assert exc.status_code == 400
    assert exc.code == "invalid_value"
    assert exc.param == "temperature"
    assert exc.type == "invalid_request_error"
    assert message in exc.message
    assert message in str(exc)
    assert exc.request_id == request_id(1)
    assert exc.body == {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": "temperature",
            "code": "invalid_value",
        }
    }
    assert exc.response is None
    assert len(server.requests) == 1
    assert sleeps == []
    assert handler.calls == [("exception", exc), ("end",)]


@pytest.mark.parametrize(
    ("status", "cls"),
    CLIENT_ERROR_STATUSES,
)
def test_client_errors_are_not_retried(
    server: MockServer, client: rs.Client, sleeps: List[float], status: int, cls: Type[Exception]
) -> None:
    """4xx statuses other than 408/409/429 raise their own APIStatusError subclass after
    exactly one request (a success queued behind is never fetched)."""
    server.add_error(status, f"status {status}", code=f"code_{status}")
    server.add(text_script())
    handler = Recorder()

    with pytest.raises(cls) as info:
        client.stream(handler, model="m", input="hi")

    assert type(info.value) is cls
    assert isinstance(info.value, rs.APIStatusError)
    assert info.value.status_code == status
    assert info.value.code == f"code_{status}"
    assert len(server.requests) == 1
    assert server.pending == 1
    assert sleeps == []
    assert handler.retries() == []


def test_401_is_authentication_error_and_not_retried(
    server: MockServer, client: rs.Client, sleeps: List[float]
) -> None:
    """401 raises AuthenticationError after exactly 1 request, with no retry callback."""
    server.add_error(
        401,
        "Incorrect API key provided: sk-proj-****0j0.",
        type="invalid_request_error",
        code="invalid_api_key",
    )
    server.add_error(401, "second", code="invalid_api_key")
    handler = Recorder()

    with pytest.raises(rs.errors.AuthenticationError) as info:
        client.stream(handler, model="m", input="hi")

    assert info.value.status_code == 401
    assert info.value.code == "invalid_api_key"
    assert "Incorrect API key provided" in str(info.value)
    assert len(server.requests) == 1
    assert sleeps == []
    assert handler.names() == ["exception", "end"]


# ---------------------------------------------------------------------------------- retries


def test_429_with_retry_after_is_retried_after_that_delay(
    server: MockServer, client: rs.Client, sleeps: List[float]
) -> None:
    """429 with retry-after: 1 then 200: one retry, on_retry(RateLimitError, 1, 1.0), sleep(1.0),
    the same request sent twice, and the stream succeeds."""
    server.add_error(
        429,
        "Rate limit reached for gpt-4o.",
        type="requests",
        code="rate_limit_exceeded",
        headers={"retry-after": "1"},
    )
    script = text_script("Retried fine.")
    server.add(script)
    handler = Recorder()

    final = client.stream(handler, model="gpt-4o", input="hi", temperature=0.5)

    assert final.status == "completed"
    assert final.output_text == "Retried fine."
    assert sleeps == [1.0]
    (retry,) = handler.retries()
    _, error, attempt, delay = retry
    assert isinstance(error, rs.RateLimitError)
    assert error.status_code == 429
    assert error.request_id == request_id(1)
    assert (attempt, delay) == (1, 1.0)
    assert handler.names()[0] == "retry"
    assert handler.names()[-2:] == ["completed", "end"]
    assert "exception" not in handler.names()
    first, second = server.requests
    assert first.body == second.body
    assert first.json == {"model": "gpt-4o", "input": "hi", "temperature": 0.5, "stream": True}


def test_retry_after_ms_takes_precedence(
    server: MockServer, client: rs.Client, sleeps: List[float]
) -> None:
    """retry-after-ms: 250 gives a 0.25 s delay even when retry-after is also sent."""
    server.add_error(429, "slow down", headers={"retry-after-ms": "250", "retry-after": "7"})
    server.add(text_script())
    assert client.stream(model="m", input="hi").status == "completed"
    assert sleeps == [0.25]


@pytest.mark.parametrize(
    "date",
    ["Wed, 21 Oct 99999999999 07:28:00 GMT", "Wed, 21 Oct 99999999999 07:28:00"],
    ids=["with-zone", "without-zone"],
)
def test_a_retry_after_date_out_of_the_clocks_range_is_ignored(
    server: MockServer, client: rs.Client, sleeps: List[float], date: str
) -> None:
    """A Retry-After date no clock can hold is no usable wish: the usual back-off is used,
    and nothing but the SDK's own errors can come of it."""
    server.add_error(429, "slow down", headers={"retry-after": date})
    server.add(text_script())
    assert client.stream(model="m", input="hi").status == "completed"
    assert len(sleeps) == 1 and 0.375 <= sleeps[0] <= 0.5


def test_500_then_200_succeeds_after_backoff(
    server: MockServer, client: rs.Client, sleeps: List[float]
) -> None:
    """500 then 200: success after one retry whose jittered backoff is in [0.375, 0.5] s."""
    server.add_error(500, "The server had an error.", type="server_error")
    server.add(text_script("After the 500."))
    handler = Recorder()

    final = client.stream(handler, model="m", input="hi")

    assert final.output_text == "After the 500."
    assert len(sleeps) == 1
    assert 0.375 <= sleeps[0] <= 0.5
    (retry,) = handler.retries()
    assert isinstance(retry[1], rs.errors.InternalServerError)
    assert retry[2:] == (1, sleeps[0])
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (408, rs.APIStatusError),
        (409, rs.errors.ConflictError),
        (429, rs.RateLimitError),
        (502, rs.errors.InternalServerError),
        (503, rs.errors.InternalServerError),
        (504, rs.errors.InternalServerError),
    ],
)
def test_retryable_statuses_are_retried(
    server: MockServer, client: rs.Client, sleeps: List[float], status: int, cls: Type[Exception]
) -> None:
    """408, 409, 429 and 5xx are retried once and the second answer is streamed."""
    server.add_error(status, f"status {status}")
    server.add(text_script())
    handler = Recorder()

    assert client.stream(handler, model="m", input="hi").status == "completed"

    (retry,) = handler.retries()
    assert isinstance(retry[1], cls)
    assert len(server.requests) == 2
    assert len(sleeps) == 1


def test_500_three_times_raises_after_three_requests(
    server: MockServer, client: rs.Client, sleeps: List[float]
) -> None:
    """With max_retries=2, three 500s raise InternalServerError (of the last request) after
    exactly 3 requests and two growing backoff sleeps."""
    for i in range(3):
        server.add_error(500, f"failure {i}", type="server_error")
    server.add(text_script())
    handler = Recorder()

    with pytest.raises(rs.errors.InternalServerError) as info:
        client.stream(handler, model="m", input="hi")

    assert "failure 2" in str(info.value)
    assert info.value.request_id == request_id(3)
    assert len(server.requests) == 3
    assert server.pending == 1
    assert len(sleeps) == 2
    assert 0.375 <= sleeps[0] <= 0.5
    assert 0.75 <= sleeps[1] <= 1.0
    assert [(c[2], c[3]) for c in handler.retries()] == [(1, sleeps[0]), (2, sleeps[1])]
    assert handler.calls[-2:] == [("exception", info.value), ("end",)]


def test_max_retries_zero_per_call(
    server: MockServer, client: rs.Client, sleeps: List[float]
) -> None:
    """stream(max_retries=0) overrides the client's 2: one 500 raises at once."""
    assert client.settings.max_retries == 2
    server.add_error(500, "boom")
    server.add(text_script())
    with pytest.raises(rs.errors.InternalServerError):
        client.stream(model="m", input="hi", max_retries=0)
    assert len(server.requests) == 1
    assert sleeps == []


def test_per_call_max_retries_overrides_client_zero(
    server: MockServer, sleeps: List[float]
) -> None:
    """A client built with max_retries=0 retries when a call asks for max_retries=1."""
    server.add_error(500, "boom")
    server.add(text_script())
    with rs.Client(api_key=KEY, base_url=server.url, max_retries=0) as client:
        client._transport.sleep = sleeps.append
        assert client.stream(model="m", input="hi", max_retries=1).status == "completed"
    assert len(server.requests) == 2
    assert len(sleeps) == 1


def test_x_should_retry_false_on_500_is_not_retried(
    server: MockServer, client: rs.Client, sleeps: List[float]
) -> None:
    """x-should-retry: false makes a 500 final after one request."""
    server.add_error(500, "do not retry me", headers={"x-should-retry": "false"})
    server.add(text_script())
    with pytest.raises(rs.errors.InternalServerError):
        client.stream(model="m", input="hi")
    assert len(server.requests) == 1
    assert sleeps == []


def test_x_should_retry_true_on_400_is_retried(
    server: MockServer, client: rs.Client, sleeps: List[float]
) -> None:
    """x-should-retry: true makes even a 400 retryable."""
    server.add_error(400, "transient", headers={"x-should-retry": "true"})
    server.add(text_script())
    assert client.stream(model="m", input="hi").status == "completed"
    assert len(server.requests) == 2
    assert len(sleeps) == 1


def test_retry_after_300_is_not_retried(
    server: MockServer, client: rs.Client, sleeps: List[float]
) -> None:
    """A 429 asking to wait 300 s is raised at once instead of blocking for minutes."""
    server.add_error(429, "quota", code="rate_limit_exceeded", headers={"retry-after": "300"})
    server.add(text_script())
    with pytest.raises(rs.RateLimitError) as info:
        client.stream(model="m", input="hi")
    assert info.value.headers.get("retry-after") == "300"
    assert len(server.requests) == 1
    assert sleeps == []


def test_html_502_from_a_proxy(server: MockServer, client: rs.Client) -> None:
    """An HTML 502 page from a proxy raises InternalServerError whose message has a text snippet
    of the page and whose body is the page text."""
    html = (
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    server.add_json(html.encode(), status=502, headers={"Content-Type": "text/html"})

    with pytest.raises(rs.errors.InternalServerError) as info:
        client.stream(model="m", input="hi", max_retries=0)

    exc = info.value
    assert exc.status_code == 502
    assert exc.body == html
    assert "502 Bad Gateway" in str(exc)
    assert "\r\n" not in str(exc)
    assert len(str(exc)) < 500
    assert exc.code is None and exc.param is None
    assert exc.request_id == request_id(1)


# -------------------------------------------------------------------- not an event stream


def test_200_json_instead_of_a_stream_is_protocol_error(
    server: MockServer, client: rs.Client, sleeps: List[float]
) -> None:
    """A 200 with Content-Type application/json (stream ignored) raises ProtocolError carrying
    the body, without retrying."""
    body = {"id": "resp_123", "object": "response", "status": "completed", "output": []}
    server.add_json(body)

    with pytest.raises(rs.ProtocolError) as info:
        client.stream(model="m", input="hi")

    assert json.loads(info.value.data) == body
    assert "application/json" in str(info.value)
    assert info.value.request_id == request_id(1)
    assert len(server.requests) == 1
    assert sleeps == []


def test_body_that_is_not_sse_is_protocol_error(server: MockServer, client: rs.Client) -> None:
    """A text/event-stream body with no SSE field at all ("hello world") raises ProtocolError
    carrying the bytes, quickly (nothing hangs)."""
    server.add(b"hello world\n\n")
    start = time.monotonic()

    with pytest.raises(rs.ProtocolError) as info:
        client.stream(model="m", input="hi")

    assert time.monotonic() - start < 2.0
    data = info.value.data
    text = data.decode() if isinstance(data, bytes) else str(data)
    assert "hello world" in text


def test_data_line_that_is_not_json_is_protocol_error(
    server: MockServer, client: rs.Client
) -> None:
    """An SSE data line that is not JSON raises ProtocolError carrying that data."""
    server.add(b"event: response.created\ndata: hello world\n\n")
    with pytest.raises(rs.ProtocolError) as info:
        client.stream(model="m", input="hi")
    assert "hello world" in str(info.value.data)


# ------------------------------------------------------------------------- broken streams


CUT_PIECES = ["Hello", " wörld", ",", " ça", " va", "?"]


def _cut_offset(chunks: List[bytes], where: str) -> int:
    """Byte offset inside the 4th text delta event (chunk 7) for a given kind of cut."""
    before = sum(len(c) for c in chunks[:7])
    event = chunks[7]
    assert b'"delta":" \xc3\xa7a"' in event
    if where == "after-event-line":
        return before + event.index(b"\n") + 1
    if where == "mid-json":
        return before + event.index(b'"delta"') + 3
    # between the two bytes of "ç"
    return before + event.index(b"\xc3\xa7") + 1


@pytest.mark.parametrize("framing", ["chunked", "close"])
@pytest.mark.parametrize("where", ["after-event-line", "mid-json", "mid-utf8"])
def test_stream_cut_mid_event_raises_stream_interrupted(
    server: MockServer, client: rs.Client, where: str, framing: str
) -> None:
    """A connection closed in the middle of an event raises StreamInterrupted whose response
    holds exactly the text of the deltas fully sent, with the right last_sequence_number."""
    script = Script(seed=5).text("".join(CUT_PIECES), chunk=CUT_PIECES).completed()
    chunks = script.to_sse_chunks()
    events = script.events()
    assert [e["type"] for e in events[4:7]] == ["response.output_text.delta"] * 3
    server.add(script, close_after=_cut_offset(chunks, where), framing=framing)
    handler = Recorder()

    with pytest.raises(rs.StreamInterrupted) as info:
        client.stream(handler, model="m", input="hi")

    exc = info.value
    assert exc.response is not None
    assert exc.response.output_text == "Hello wörld,"
    assert exc.last_sequence_number == events[6]["sequence_number"] == 6
    assert exc.response_id == script.response_id
    assert exc.response.status == "in_progress"
    assert exc.request_id == request_id(1)
    assert [c[1] for c in handler.calls if c[0] == "text_delta"] == CUT_PIECES[:3]
    assert handler.calls[-2:] == [("exception", exc), ("end",)]
    assert len(server.requests) == 1  # a started stream is never sent again


def test_connection_refused_raises_api_connection_error_after_retries(sleeps: List[float]) -> None:
    """Connecting to a closed port raises APIConnectionError (chained to the requests error)
    after max_retries backoff sleeps."""
    handler = Recorder()
    with rs.Client(api_key=KEY, base_url=closed_port_url(), max_retries=2) as client:
        client._transport.sleep = sleeps.append
        with pytest.raises(rs.APIConnectionError) as info:
            client.stream(handler, model="m", input="hi")

    exc = info.value
    assert type(exc) is rs.APIConnectionError
    assert isinstance(exc.__cause__, requests.ConnectionError)
    assert exc.response is None
    assert len(sleeps) == 2
    assert 0.375 <= sleeps[0] <= 0.5 and 0.75 <= sleeps[1] <= 1.0
    retries = handler.retries()
    assert [c[2] for c in retries] == [1, 2]
    assert all(type(c[1]) is rs.APIConnectionError for c in retries)
    assert handler.calls[-2:] == [("exception", exc), ("end",)]


@pytest.mark.parametrize("after", [6, 0])
def test_stall_past_read_timeout_raises_api_timeout_error(
    server: MockServer, sleeps: List[float], after: int
) -> None:
    """A stream silent for longer than the read timeout raises APITimeoutError within about
    that timeout, with the partial response, and is not sent again."""
    script = (
        Script(seed=6)
        .text("Hello there, friend", chunk=["Hello", " there", ",", " friend"])
        .completed()
    )
    server.add(script, stall=3, stall_after_events=after)
    handler = Recorder()
    with rs.Client(
        api_key=KEY, base_url=server.url, timeout=rs.Timeout(connect=2, read=0.5)
    ) as client:
        client._transport.sleep = sleeps.append
        start = time.monotonic()
        with pytest.raises(rs.APITimeoutError) as info:
            client.stream(handler, model="m", input="hi")
        elapsed = time.monotonic() - start

    exc = info.value
    assert 0.4 < elapsed < 2.5
    assert exc.response is not None
    assert exc.request_id == request_id(1)
    if after == 6:
        assert exc.response.output_text == "Hello there"
        assert exc.last_sequence_number == 5
        assert exc.response.id == script.response_id
        assert exc.response.status == "in_progress"
    else:
        assert exc.response.output_text == ""
        assert exc.last_sequence_number is None
    assert len(server.requests) == 1
    assert sleeps == []
    assert handler.calls[-2:] == [("exception", exc), ("end",)]


# ------------------------------------------------------------------------ in-band failures


def test_error_event_raises_retryable_stream_error(server: MockServer, client: rs.Client) -> None:
    """An in-band rate_limit_exceeded error event before any output raises StreamError with
    retryable=True, after on_error (once) and on_failed."""
    message = "Rate limit reached for gpt-4o in organization org-x on tokens per min."
    script = Script(seed=7).error("rate_limit_exceeded", message, type="tokens")
    events = script.events()
    server.add(script)
    handler = Recorder()

    with pytest.raises(rs.StreamError) as info:
        client.stream(handler, model="gpt-4o", input="hi")

    exc = info.value
    assert exc.code == "rate_limit_exceeded"
    assert exc.type == "tokens"
    assert exc.retryable is True
    assert message in str(exc)
    assert exc.sequence_number == events[-2]["sequence_number"]
    assert exc.request_id == request_id(1)
    assert exc.response is not None and exc.response.status == "failed"
    assert handler.names().count("error") == 1
    assert ("error", "rate_limit_exceeded", message) in handler.calls
    assert handler.names()[-4:] == ["error", "failed", "exception", "end"]
    assert len(server.requests) == 1


def test_error_event_after_output_is_not_retryable(server: MockServer, client: rs.Client) -> None:
    """The same error event after text was streamed gives retryable=False (a resend would
    duplicate output) and the partial text stays on the error's response."""
    script = Script(seed=8).text("Partial answer").error("rate_limit_exceeded", "slow down")
    server.add(script)
    with pytest.raises(rs.StreamError) as info:
        client.stream(model="m", input="hi")
    assert info.value.retryable is False
    assert info.value.response is not None
    assert info.value.response.output_text == "Partial answer"


def test_failed_response_raises_response_failed_error(
    server: MockServer, client: rs.Client
) -> None:
    """response.failed raises ResponseFailedError after on_failed, with the failed response
    and its error."""
    script = Script(seed=9).text("Half").failed("server_error", "The model crashed.")
    server.add(script)
    handler = Recorder()

    with pytest.raises(rs.ResponseFailedError) as info:
        client.stream(handler, model="m", input="hi")

    response = info.value.response
    assert response is not None
    assert response.status == "failed"
    assert response.error is not None
    assert response.error.code == "server_error"
    assert response.error.message == "The model crashed."
    assert response.to_dict() == script.events()[-1]["response"]
    assert "The model crashed." in str(info.value)
    assert info.value.request_id == request_id(1)
    assert handler.names()[-3:] == ["failed", "exception", "end"]
    assert "completed" not in handler.names()


def test_incomplete_returns_response_and_calls_on_incomplete(
    server: MockServer, client: rs.Client
) -> None:
    """response.incomplete is not an error: stream() returns the response with status
    "incomplete" after on_incomplete."""
    script = Script(seed=10).text("Cut short by the token li").incomplete("max_output_tokens")
    server.add(script)
    handler = Recorder()

    final = client.stream(handler, model="m", input="hi", max_output_tokens=8)

    assert final.status == "incomplete"
    assert final.incomplete_details is not None
    assert final.incomplete_details.reason == "max_output_tokens"
    assert final.output_text == "Cut short by the token li"
    assert final.to_dict() == script.events()[-1]["response"]
    assert handler.names().count("incomplete") == 1
    assert handler.names()[-2:] == ["incomplete", "end"]
    assert "exception" not in handler.names()


# --------------------------------------------------------------------------- configuration


def test_missing_api_key_for_openai_raises_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without OPENAI_API_KEY, a client for api.openai.com raises ConfigurationError (a
    ValueError) at construction, and rs.stream() too, without sending anything."""

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a request was sent")

    monkeypatch.setattr(requests.Session, "send", no_network)
    monkeypatch.setattr(requests.Session, "request", no_network)

    with pytest.raises(rs.ConfigurationError) as info:
        rs.Client()
    assert isinstance(info.value, ValueError)
    assert "OPENAI_API_KEY" in str(info.value)
    with pytest.raises(rs.ConfigurationError):
        rs.Client(base_url="https://api.openai.com/v1")
    with pytest.raises(rs.ConfigurationError):
        rs.Client(api_key="", base_url="https://api.openai.com/v1")
    with pytest.raises(rs.ConfigurationError):
        rs.stream(model="gpt-4o", input="hi")


def test_no_api_key_needed_for_localhost(server: MockServer) -> None:
    """A localhost base_url works without a key, and no Authorization header is sent."""
    server.add(text_script())
    with rs.Client(base_url=server.url) as client:
        assert client.stream(model="m", input="hi").status == "completed"
    assert "authorization" not in server.requests[0].headers


# ------------------------------------------------------------------------------- secrecy


def _chain(exc: Optional[BaseException]) -> List[BaseException]:
    out: List[BaseException] = []
    while exc is not None and exc not in out:
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


def test_api_key_never_leaks(
    server: MockServer, caplog: pytest.LogCaptureFixture, sleeps: List[float]
) -> None:
    """The API key appears neither in repr(client) nor in any failing call's exception chain
    (str, repr, attributes) nor in DEBUG logs of responses_stream and urllib3."""
    caplog.set_level(logging.DEBUG, logger="responses_stream")
    caplog.set_level(logging.DEBUG, logger="urllib3")
    server.add_error(401, "Incorrect API key provided.", code="invalid_api_key")
    server.add_error(500, "first")
    server.add_error(500, "second")
    server.add(Script(seed=3).error("server_error", "boom"))
    server.add(text_script(), close_after=300)
    errors: List[BaseException] = []

    with rs.Client(api_key=KEY, base_url=server.url, organization="org-1") as client:
        client._transport.sleep = sleeps.append
        assert KEY_FRAGMENT not in repr(client)
        assert KEY_FRAGMENT not in str(client)
        for _ in range(4):  # 401; 500 retried into 500; error event; cut stream
            with pytest.raises(rs.ResponsesStreamError) as info:
                client.stream(model="m", input="hi", max_retries=1)
            errors.append(info.value)
    with rs.Client(api_key=KEY, base_url=closed_port_url()) as dead:
        dead._transport.sleep = sleeps.append
        with pytest.raises(rs.APIConnectionError) as refused:
            dead.stream(model="m", input="hi")
        errors.append(refused.value)

    kinds = [type(e) for e in errors]
    assert kinds == [
        rs.errors.AuthenticationError,
        rs.errors.InternalServerError,
        rs.StreamError,
        rs.StreamInterrupted,
        rs.APIConnectionError,
    ]
    # The key was really sent, so there was something to leak.
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in server.requests)
    for error in errors:
        for exc in _chain(error):
            texts = [str(exc), repr(exc), repr(exc.args), repr(vars(exc))]
            for text in texts:
                assert KEY_FRAGMENT not in text, f"key leaked by {type(exc).__name__}: {text}"
    names = {r.name for r in caplog.records}
    assert any(n.startswith("urllib3") for n in names)
    assert "responses_stream" in names
    assert KEY_FRAGMENT not in caplog.text
    for record in caplog.records:
        assert KEY_FRAGMENT not in record.getMessage()
        assert KEY_FRAGMENT not in repr(record.args)


def test_an_error_answer_to_a_json_request_keeps_the_servers_message(server: MockServer) -> None:
    """retrieve() and cancel() are not streamed: requests reads the error's body before the
    SDK looks at it, and the message must still be the server's."""
    with rs.Client(api_key="sk-test", base_url=server.url, max_retries=0) as client:
        with pytest.raises(rs.errors.NotFoundError) as caught:
            client.retrieve("resp_x")  # MockServer has no such response
    assert "Response with id 'resp_x' not found" in str(caught.value)
    assert "(empty body)" not in str(caught.value)
