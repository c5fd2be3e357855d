"""Unit tests with the `responses` library (requests mocked in-process, no sockets)."""

from __future__ import annotations

import json

import pytest
import responses

import responses_stream as rs
from responses_stream.testing import Script

from .scripts import CLIENT_ERROR_STATUSES

BASE = "https://api.example.test/v1"


@responses.activate
def test_request_body_headers_and_final_response() -> None:
    """Every parameter goes into the JSON body unchanged, stream: true is set, auth is sent."""
    script = Script(seed=21).text("mocked answer").completed()
    responses.add(
        responses.POST,
        f"{BASE}/responses",
        body=script.to_bytes(),
        content_type="text/event-stream",
        headers={"x-request-id": "req_123"},
    )
    with rs.Client(api_key="sk-test", base_url=BASE, organization="org_1", project="p_1") as c:
        final = c.stream(
            model="gpt-5",
            input=[{"role": "user", "content": "hi"}],
            reasoning={"effort": "low"},
            some_future_param={"nested": [1, 2]},
            extra_headers={"X-Trace": "t1"},
        )
    assert final.output_text == "mocked answer"
    sent = responses.calls[0].request
    assert json.loads(sent.body) == {
        "model": "gpt-5",
        "input": [{"role": "user", "content": "hi"}],
        "reasoning": {"effort": "low"},
        "some_future_param": {"nested": [1, 2]},
        "stream": True,
    }
    assert sent.headers["Authorization"] == "Bearer sk-test"
    assert sent.headers["OpenAI-Organization"] == "org_1"
    assert sent.headers["OpenAI-Project"] == "p_1"
    assert sent.headers["Accept"] == "text/event-stream"
    assert sent.headers["X-Trace"] == "t1"


@responses.activate
@pytest.mark.parametrize(
    ("status", "cls"),
    CLIENT_ERROR_STATUSES,
)
def test_status_errors_map_to_classes(status: int, cls: type) -> None:
    """Non-retried statuses raise their class with OpenAI's error fields and the request id."""
    body = {
        "error": {
            "message": "Invalid value for 'model'.",
            "type": "invalid_request_error",
            "param": "model",
            "code": "invalid_value",
        }
    }
    responses.add(
        responses.POST,
        f"{BASE}/responses",
        json=body,
        status=status,
        headers={"x-request-id": "req_e"},
    )
    with rs.Client(api_key="sk-test", base_url=BASE) as client, pytest.raises(cls) as info:
        client.stream(model="nope", input="x")
    err = info.value
    assert isinstance(err, rs.APIStatusError)
    assert (err.status_code, err.code, err.param, err.type) == (
        status,
        "invalid_value",
        "model",
        "invalid_request_error",
    )
    assert err.request_id == "req_e" and "Invalid value for 'model'." in str(err)
    assert err.body == body
    assert len(responses.calls) == 1


@responses.activate
def test_429_then_success_retries_with_server_delay() -> None:
    """A 429 with retry-after-ms is retried after exactly that delay (no real sleeping)."""
    responses.add(
        responses.POST,
        f"{BASE}/responses",
        status=429,
        json={"error": {"message": "slow"}},
        headers={"retry-after-ms": "250"},
    )
    responses.add(
        responses.POST,
        f"{BASE}/responses",
        body=Script(seed=22).text("ok").completed().to_bytes(),
        content_type="text/event-stream",
    )
    slept: list = []
    retries: list = []

    class Watch(rs.ResponseHandler):
        def on_retry(self, error: Exception, attempt: int, delay: float) -> None:
            retries.append((type(error).__name__, attempt, delay))

    with rs.Client(api_key="sk-test", base_url=BASE) as client:
        client._transport.sleep = slept.append
        assert client.stream(Watch(), model="m", input="x").output_text == "ok"
    assert slept == [0.25]
    assert retries == [("RateLimitError", 1, 0.25)]


def test_missing_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key for a remote server fails before any request; localhost needs none."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(rs.ConfigurationError, match="OPENAI_API_KEY"):
        rs.Client()
    with rs.Client(base_url="http://localhost:8080/v1") as client:
        assert "localhost" in repr(client)


@responses.activate
def test_unserialisable_params_fail_before_sending() -> None:
    """Parameters that are not JSON give ConfigurationError, and no request is sent."""
    with rs.Client(api_key="k", base_url=BASE) as client, pytest.raises(rs.ConfigurationError):
        client.stream(model="m", input=object())
    assert len(responses.calls) == 0


def test_key_not_in_repr() -> None:
    """repr(client) never shows the API key."""
    with rs.Client(api_key="sk-secret-123", base_url=BASE) as client:
        assert "sk-secret" not in repr(client)
