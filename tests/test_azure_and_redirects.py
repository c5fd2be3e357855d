"""Azure OpenAI routes and auth, and credentials never following a redirect to another host."""

from __future__ import annotations

from typing import Iterator, List

import pytest

import responses_stream as rs
from responses_stream.testing import MockServer, Script, mock_server


def _endpoint(server: MockServer) -> str:
    # An Azure endpoint is the bare origin; the client adds /openai[/v1].
    return f"http://127.0.0.1:{server.port}"


@pytest.fixture
def azure() -> Iterator[MockServer]:
    """A MockServer answering under Azure's /openai/v1 prefix."""
    yield from mock_server(prefix="/openai/v1")


def test_azure_v1_route_and_api_key_header(azure: MockServer) -> None:
    """azure_endpoint + api_key: POST /openai/v1/responses with `api-key`, no Bearer."""
    azure.add(Script(seed=1).text("hi from azure").completed())
    with rs.Client(azure_endpoint=_endpoint(azure), api_key="azkey") as client:
        assert client.is_azure and "azkey" not in repr(client)
        final = client.stream(model="my-deployment", input="x")
    assert final.output_text == "hi from azure"
    request = azure.requests[0]
    assert request.path == "/openai/v1/responses" and request.query == {}
    assert request.headers["api-key"] == "azkey"
    assert "authorization" not in request.headers
    assert request.json["model"] == "my-deployment"


def test_azure_dated_route_on_every_call() -> None:
    """api_version switches to /openai/responses?api-version=... for create, resume, retrieve
    and cancel."""
    with MockServer(prefix="/openai") as server:
        script = Script(background=True, seed=2).text("dated").completed()
        server.add(script)
        response_id = script.response_id
        with rs.Client(
            azure_endpoint=_endpoint(server), api_key="k", api_version="2025-04-01-preview"
        ) as client:
            client.stream(model="d", input="x", background=True)
            client.resume(response_id)
            client.retrieve(response_id)
            client.cancel(response_id)
        paths = [(r.method, r.path, r.query) for r in server.requests]
        version = {"api-version": "2025-04-01-preview"}
        assert paths == [
            ("POST", "/openai/responses", version),
            ("GET", f"/openai/responses/{response_id}", {**version, "stream": "true"}),
            ("GET", f"/openai/responses/{response_id}", version),
            ("POST", f"/openai/responses/{response_id}/cancel", version),
        ]


def test_azure_ad_token_provider_is_called_per_request(azure: MockServer) -> None:
    """azure_ad_token_provider: a fresh Bearer token on each request, no api-key."""
    tokens: List[str] = []

    def provider() -> str:
        tokens.append(f"tok{len(tokens)}")
        return tokens[-1]

    azure.add(Script(seed=3).text("a").completed())
    azure.add_error(503, "busy", type="server_error")  # a retry is a request too
    azure.add(Script(seed=4).text("b").completed())
    with rs.Client(azure_endpoint=_endpoint(azure), azure_ad_token_provider=provider) as c:
        c._transport.sleep = lambda seconds: None
        c.stream(model="d", input="x")
        c.stream(model="d", input="y")
    auth = [r.headers["authorization"] for r in azure.requests]
    assert auth == ["Bearer tok0", "Bearer tok1", "Bearer tok2"]
    assert all("api-key" not in r.headers for r in azure.requests)


def test_azure_from_environment(azure: MockServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """AZURE_OPENAI_ENDPOINT / AZURE_OPENAI_API_KEY / OPENAI_API_VERSION configure Client()."""
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", _endpoint(azure))
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "envkey")
    azure.add(Script(seed=5).text("env").completed())
    with rs.Client() as client:
        assert client.is_azure
        assert client.stream(model="d", input="x").output_text == "env"
    assert azure.requests[0].headers["api-key"] == "envkey"
    assert azure.requests[0].path == "/openai/v1/responses"
    with MockServer(prefix="/openai") as dated:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", _endpoint(dated))
        monkeypatch.setenv("OPENAI_API_VERSION", "2025-04-01-preview")
        dated.add(Script(seed=5).text("dated").completed())
        with rs.Client() as client:
            assert client.stream(model="d", input="x").output_text == "dated"
        (request,) = dated.requests
    assert request.path == "/openai/responses"
    assert request.query == {"api-version": "2025-04-01-preview"}


def test_azure_without_credentials_is_a_configuration_error() -> None:
    """No key and no token: a clear error before any request."""
    with pytest.raises(rs.ConfigurationError, match="Azure"):
        rs.Client(azure_endpoint="https://example.openai.azure.com")


@pytest.mark.parametrize("azure_mode", [False, True])
def test_credentials_are_not_sent_to_another_host_on_redirect(azure_mode: bool) -> None:
    """A redirect to another host drops Authorization and api-key; the body still arrives."""
    prefix = "/openai/v1" if azure_mode else "/v1"
    with MockServer(prefix=prefix) as first, MockServer(prefix=prefix) as second:
        # Same port space, different host name: 127.0.0.1 -> localhost.
        target = second.url.replace("127.0.0.1", "localhost") + "/responses"
        first.add_json({}, status=307, headers={"Location": target})
        second.add(Script(seed=6).text("moved").completed())
        if azure_mode:
            client = rs.Client(azure_endpoint=_endpoint(first), api_key="secret-key")
        else:
            client = rs.Client(api_key="secret-key", base_url=first.url)
        with client:
            assert client.stream(model="m", input="x").output_text == "moved"
        sent = first.requests[0].headers
        assert "secret-key" in (sent.get("authorization", "") + sent.get("api-key", ""))
        moved = second.requests[0]
        assert "authorization" not in moved.headers and "api-key" not in moved.headers
        assert moved.json["model"] == "m"


def test_same_host_redirect_keeps_credentials(server: MockServer) -> None:
    """A redirect on the same host keeps the Authorization header."""
    server.add_json({}, status=307, headers={"Location": server.url + "/responses"})
    server.add(Script(seed=7).text("same").completed())
    with rs.Client(api_key="k", base_url=server.url) as client:
        assert client.stream(model="m", input="x").output_text == "same"
    assert server.requests[1].headers["authorization"] == "Bearer k"
