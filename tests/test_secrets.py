"""Secrets and HTTP: keys and tokens checked before they are sent and never quoted, credentials
in ``base_url`` used but masked, account headers kept from other origins, and no redirect that
turns the POST into a GET.

Every case runs over a real server on 127.0.0.1; "no request" is what that server recorded.
"""

from __future__ import annotations

import base64
import logging
import socket
import traceback
from pathlib import Path
from typing import Any, Iterator, List, Optional

import pytest
import requests

import responses_stream as rs
from responses_stream.testing import MockServer, Script

from .scripts import RawServer, closed_port_url, read_request, text_script

SECRET = "sk-secret-0123456789abcdef"
PASSWORD = "hunter2-pw-9f8e7d"

UNSENDABLE = {
    "newline inside": "sk-secret-0123\n456789abcdef",
    "carriage return": "sk-secret-0123\r456789abcdef",
    "NUL": "sk-secret-0123\x00456789abcdef",
    "DEL": "sk-secret-0123\x7f456789abcdef",
    "C1 control": "sk-secret-0123\x85456789abcdef",
    "euro sign": "sk-secret-0123\u20ac456789abcdef",
    "cyrillic": "sk-secret-0123\u043a\u043b456789abcdef",
    "emoji": "sk-secret-0123\U0001f600456789abcdef",
}
"""Keys that cannot be a header value, even stripped: control or non-latin-1 characters."""


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every log record at DEBUG (responses_stream, urllib3, requests...)."""
    caplog.set_level(logging.DEBUG)
    yield caplog


def _chain(exc: Optional[BaseException]) -> List[BaseException]:
    out: List[BaseException] = []
    while exc is not None and exc not in out:
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


def assert_hidden(secret: str, error: BaseException, logs: pytest.LogCaptureFixture) -> None:
    """``secret`` (or its long fragments) is in no message, repr, attribute, traceback or log."""
    fragments = {secret, secret[:10], secret[-10:]}
    texts = ["".join(traceback.format_exception(type(error), error, error.__traceback__))]
    for exc in _chain(error):
        texts += [str(exc), repr(exc), repr(exc.args), repr(vars(exc))]
    texts += [logs.text] + [record.getMessage() for record in logs.records]
    for text in texts:
        for fragment in fragments:
            assert fragment not in text, f"a secret leaked: {text[:300]}"


# --------------------------------------------------------------------------- keys and tokens


@pytest.mark.parametrize("source", ["argument", "environment"])
def test_surrounding_whitespace_is_stripped_from_the_key(
    server: MockServer, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    """A key read from a file (a trailing newline, CRLF, spaces) is sent without them."""
    server.add(text_script())
    raw = f"  {SECRET}\r\n"
    if source == "environment":
        monkeypatch.setenv("OPENAI_API_KEY", raw)
        client = rs.Client(base_url=server.url)
    else:
        client = rs.Client(api_key=raw, base_url=server.url)
    with client:
        assert client.stream(model="m", input="x").status == "completed"
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"


_SOURCES = ["api_key", "OPENAI_API_KEY", "azure api_key", "AZURE_OPENAI_API_KEY"]


@pytest.mark.parametrize(
    ("name", "where"),
    # An environment variable cannot hold a NUL.
    [(n, w) for n in sorted(UNSENDABLE) for w in _SOURCES if not (n == "NUL" and w.isupper())],
)
def test_unsendable_key_is_refused_before_any_request(
    server: MockServer,
    monkeypatch: pytest.MonkeyPatch,
    logs: pytest.LogCaptureFixture,
    name: str,
    where: str,
) -> None:
    """A key with an inner control or non-latin-1 character is a ConfigurationError at
    construction that names the setting and the character's code point, never the key."""
    key = UNSENDABLE[name]
    azure = {"azure_endpoint": f"http://127.0.0.1:{server.port}"}
    with pytest.raises(rs.ConfigurationError) as info:
        if where == "api_key":
            rs.Client(api_key=key, base_url=server.url)
        elif where == "OPENAI_API_KEY":
            monkeypatch.setenv("OPENAI_API_KEY", key)
            rs.Client(base_url=server.url)
        elif where == "azure api_key":
            rs.Client(api_key=key, **azure)
        else:
            monkeypatch.setenv(where, key)
            rs.Client(**azure)
    message = str(info.value)
    assert where.rsplit(maxsplit=1)[-1] in message
    assert "U+" in message and "not shown" in message
    assert_hidden(key, info.value, logs)
    assert server.requests == []


@pytest.mark.parametrize("name", ["newline inside", "euro sign"])
def test_unsendable_azure_ad_token_and_account_ids_are_refused(
    server: MockServer, logs: pytest.LogCaptureFixture, name: str
) -> None:
    """azure_ad_token, organization and project are checked like a key."""
    bad = UNSENDABLE[name]
    endpoint = f"http://127.0.0.1:{server.port}"
    attempts: List[Any] = [
        lambda: rs.Client(azure_endpoint=endpoint, azure_ad_token=bad),
        lambda: rs.Client(api_key="k", base_url=server.url, organization=bad),
        lambda: rs.Client(api_key="k", base_url=server.url, project=bad),
    ]
    for attempt in attempts:
        with pytest.raises(rs.ConfigurationError) as info:
            attempt()
        assert_hidden(bad, info.value, logs)
    assert server.requests == []


def test_azure_ad_token_is_stripped(logs: pytest.LogCaptureFixture) -> None:
    with MockServer(prefix="/openai/v1") as azure:
        azure.add(text_script())
        endpoint = f"http://127.0.0.1:{azure.port}"
        with rs.Client(azure_endpoint=endpoint, azure_ad_token=f"{SECRET}\n") as client:
            client.stream(model="d", input="x")
        assert azure.requests[0].headers["authorization"] == f"Bearer {SECRET}"


def test_token_from_provider_is_checked_before_each_request(
    logs: pytest.LogCaptureFixture,
) -> None:
    """A provider's token is stripped; one that cannot be sent (or is not a string, or is
    empty) stops the call with a ConfigurationError before its request, not quoting it."""
    tokens: List[Any] = [f" {SECRET}\n", UNSENDABLE["NUL"], UNSENDABLE["emoji"], 42, "  "]
    with MockServer(prefix="/openai/v1") as azure:
        azure.add(text_script())
        endpoint = f"http://127.0.0.1:{azure.port}"
        with rs.Client(azure_endpoint=endpoint, azure_ad_token_provider=tokens.pop) as client:
            tokens.reverse()
            client.stream(model="d", input="x")
            for bad in list(reversed(tokens)):
                with pytest.raises(rs.ConfigurationError) as info:
                    client.stream(model="d", input="x")
                assert "azure_ad_token_provider" in str(info.value)
                if isinstance(bad, str) and bad.strip():
                    assert_hidden(bad, info.value, logs)
        assert [r.headers["authorization"] for r in azure.requests] == [f"Bearer {SECRET}"]


def test_unsendable_default_and_extra_headers_are_refused_without_quoting(
    server: MockServer, logs: pytest.LogCaptureFixture
) -> None:
    """Any header value (a custom auth header, say) is checked too: the error names the header."""
    bad = UNSENDABLE["newline inside"]
    with pytest.raises(rs.ConfigurationError, match="X-Gateway-Key") as info:
        rs.Client(base_url=server.url, default_headers={"X-Gateway-Key": bad})
    assert_hidden(bad, info.value, logs)
    with rs.Client(base_url=server.url) as client:
        with pytest.raises(rs.ConfigurationError, match="X-Gateway-Key") as info:
            client.stream(model="m", input="x", extra_headers={"X-Gateway-Key": bad})
        assert_hidden(bad, info.value, logs)
        with pytest.raises(rs.ConfigurationError, match="header name"):
            client.stream(model="m", input="x", extra_headers={"Bad Name": "v"})
    assert server.requests == []


class _Sneaky(requests.Session):
    """Adds a header after the SDK has checked its headers: what ``requests`` or ``http.client``
    then refuse must still come out as an SDK error that does not quote the value."""

    def __init__(self, value: str) -> None:
        super().__init__()
        self.value = value

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs["headers"] = {**kwargs["headers"], "X-Sneaky": self.value}
        return super().request(method, url, *args, **kwargs)


@pytest.mark.parametrize("name", ["newline inside", "euro sign"])
def test_header_refused_by_the_http_layer_is_scrubbed(
    server: MockServer, logs: pytest.LogCaptureFixture, name: str
) -> None:
    """requests' InvalidHeader and http.client's UnicodeEncodeError quote the value: both become
    a ConfigurationError, the originals (chained as the cause) are scrubbed, nothing is sent."""
    bad = UNSENDABLE[name]
    with _Sneaky(bad) as session, rs.Client(base_url=server.url, session=session) as client:
        with pytest.raises(rs.ConfigurationError) as info:
            client.stream(model="m", input="x")
    assert info.value.__cause__ is not None
    assert_hidden(bad, info.value, logs)
    assert server.requests == []


def test_key_echoed_by_the_server_is_scrubbed(
    server: MockServer, logs: pytest.LogCaptureFixture
) -> None:
    """A server that quotes the key in its error body: the message and .body show ***."""
    server.add_error(401, f"Incorrect API key provided: {SECRET}.", code="invalid_api_key")
    with rs.Client(api_key=SECRET, base_url=server.url) as client:
        with pytest.raises(rs.errors.AuthenticationError) as info:
            client.stream(model="m", input="x")
    assert "Incorrect API key provided: ***" in str(info.value)
    assert_hidden(SECRET, info.value, logs)


# ------------------------------------------------------------------------ credentials in URLs


def _with_password(server: MockServer) -> str:
    return f"http://user:{PASSWORD}@127.0.0.1:{server.port}/v1"


def test_password_in_base_url_is_used_and_masked(
    server: MockServer, logs: pytest.LogCaptureFixture
) -> None:
    """user:password@ is sent as HTTP Basic (as requests would) and appears as user:*** in the
    repr; base_url and every log line are without it."""
    server.add(text_script())
    with rs.Client(base_url=_with_password(server)) as client:
        assert f"user:***@127.0.0.1:{server.port}/v1" in repr(client)
        assert client.base_url == server.url
        final = client.stream(model="m", input="x")
        for text in (repr(client), str(client), repr(client.settings), client.base_url):
            assert PASSWORD not in text
    assert final.status == "completed"
    expected = base64.b64encode(f"user:{PASSWORD}".encode()).decode()
    assert server.requests[0].headers["authorization"] == f"Basic {expected}"
    assert PASSWORD not in logs.text


def test_percent_encoded_credentials_and_a_lone_user_name(server: MockServer) -> None:
    """Credentials are percent-decoded; a lone user name (often a token) is masked whole."""
    server.add(text_script())
    server.add(text_script())
    with rs.Client(base_url=f"http://me%40corp:p%3Aw@127.0.0.1:{server.port}/v1") as client:
        client.stream(model="m", input="x")
    with rs.Client(base_url=f"http://{PASSWORD}@127.0.0.1:{server.port}/v1") as client:
        assert "***@127.0.0.1" in repr(client) and PASSWORD not in repr(client)
        client.stream(model="m", input="x")
    basics = [r.headers["authorization"].split()[1] for r in server.requests]
    assert [base64.b64decode(b).decode() for b in basics] == ["me@corp:p:w", f"{PASSWORD}:"]


def test_password_in_base_url_never_appears_in_errors(logs: pytest.LogCaptureFixture) -> None:
    """Connection refused (the URL in the message has no credentials), and a bad scheme (the
    URL in the message is masked)."""
    dead = closed_port_url().replace("http://", f"http://user:{PASSWORD}@")
    with rs.Client(base_url=dead, max_retries=0) as client:
        with pytest.raises(rs.APIConnectionError) as refused:
            client.stream(model="m", input="x")
    assert "could not connect to http://127.0.0.1:" in str(refused.value)
    assert_hidden(PASSWORD, refused.value, logs)
    with pytest.raises(rs.ConfigurationError) as scheme:
        rs.Client(base_url=f"ftp://user:{PASSWORD}@127.0.0.1/v1")
    assert "user:***@" in str(scheme.value)
    assert_hidden(PASSWORD, scheme.value, logs)


def test_credentials_in_url_count_as_authentication() -> None:
    """A remote base_url with user:password@ needs no separate API key."""
    client = rs.Client(base_url=f"https://user:{PASSWORD}@gateway.example.com/v1")
    assert client.base_url == "https://gateway.example.com/v1"
    client.close()


# ---------------------------------------------------------------------------------- redirects


def test_account_headers_are_dropped_on_a_cross_origin_redirect() -> None:
    """OpenAI-Organization and OpenAI-Project go the way of Authorization to another origin,
    and stay on a same-origin redirect."""
    with MockServer() as first, MockServer() as second:
        other = second.url.replace("127.0.0.1", "localhost") + "/responses"
        first.add_json({}, status=307, headers={"Location": first.url + "/responses"})
        first.add_json({}, status=307, headers={"Location": other})
        first.add(text_script())
        second.add(text_script())
        ids = {"organization": "org-private", "project": "proj_private"}
        with rs.Client(api_key=SECRET, base_url=first.url, **ids) as client:
            client.stream(model="m", input="x")  # same origin
            client.stream(model="m", input="x")  # another origin
        kept = first.requests[1].headers
        assert kept["openai-organization"] == "org-private"
        assert kept["openai-project"] == "proj_private"
        assert kept["authorization"] == f"Bearer {SECRET}"
        moved = second.requests[0].headers
        for name in ("openai-organization", "openai-project", "authorization", "api-key"):
            assert name not in moved
        assert second.requests[0].json["model"] == "m"


@pytest.mark.parametrize("verb", ["stream", "stream_many"])
@pytest.mark.parametrize("status", [301, 302, 303])
def test_method_changing_redirect_of_the_post_is_an_error(status: int, verb: str) -> None:
    """301/302/303 to the POST would be followed as a body-less GET whose answer was taken for
    the stream: it is an APIStatusError naming the redirect and its (masked) Location, and the
    target is never asked, nor the POST sent again (a 303 says it was processed)."""
    with MockServer() as first, MockServer() as second:
        target = f"http://user:{PASSWORD}@127.0.0.1:{second.port}/v1/elsewhere"
        first.add_json({}, status=status, headers={"Location": target})
        second.add(
            Script(seed=9).text("not the answer").completed(), method="GET", path="elsewhere"
        )
        with rs.Client(api_key="k", base_url=first.url) as client:
            if verb == "stream":
                with pytest.raises(rs.APIStatusError) as info:
                    client.stream(model="m", input="x")
                error = info.value
            else:
                (outcome,) = client.stream_many([{"model": "m", "input": "x"}])
                assert isinstance(outcome, rs.APIStatusError)
                error = outcome
        assert error.status_code == status
        message = str(error)
        assert f"HTTP {status}" in message and "redirect" in message
        assert f"user:***@127.0.0.1:{second.port}/v1/elsewhere" in message
        assert "does not follow redirects that change the method" in message
        assert PASSWORD not in message  # the server's Location is on .headers, as sent
        assert len(first.requests) == 1  # not retried
        assert second.requests == []


@pytest.mark.parametrize("status", [307, 308])
def test_method_keeping_redirect_keeps_method_and_body(server: MockServer, status: int) -> None:
    """307 and 308 are followed with the same method, body and (same origin) credentials."""
    server.add_json({}, status=status, headers={"Location": server.url + "/moved"})
    server.add(text_script(), path="moved")
    with rs.Client(api_key=SECRET, base_url=server.url) as client:
        final = client.stream(model="m", input="x", temperature=0.5)
    assert final.status == "completed"
    original, moved = server.requests
    assert (moved.method, moved.path) == ("POST", "/v1/moved")
    assert moved.body == original.body and moved.json["temperature"] == 0.5
    assert moved.headers["authorization"] == f"Bearer {SECRET}"


def test_redirect_of_a_get_is_still_followed(server: MockServer) -> None:
    """A GET (retrieve, resume) keeps its method through any redirect, so it is followed."""
    wire = {"id": "resp_1", "object": "response", "status": "completed", "output": []}
    location = server.url + "/moved/resp_1"
    server.add_json(
        {}, status=302, headers={"Location": location}, method="GET", path="responses/resp_1"
    )
    server.add_json(wire, method="GET", path="moved/resp_1")
    with rs.Client(base_url=server.url) as client:
        assert client.retrieve("resp_1").id == "resp_1"
    assert [r.path for r in server.requests] == ["/v1/responses/resp_1", "/v1/moved/resp_1"]


# ---------------------------------------------------------------------------------- record_to


def test_record_to_a_bad_path_costs_no_request(server: MockServer, tmp_path: Path) -> None:
    """record_to is opened before the request: a path that cannot be written is a
    ConfigurationError and the server sees nothing."""
    server.add(text_script())
    bad = tmp_path / "no-such-dir" / "out.sse"
    with rs.Client(base_url=server.url) as client:
        with pytest.raises(rs.ConfigurationError, match="record_to"):
            client.stream(model="m", input="x", record_to=bad)
        with pytest.raises(rs.ConfigurationError, match="record_to"):
            client.events(model="m", input="x", record_to=bad)
    assert server.requests == []
    assert server.pending == 1


@pytest.mark.parametrize(
    "url",
    [
        f"user:{PASSWORD}@127.0.0.1/v1",  # no scheme: urlsplit sees no credentials
        f"user:{PASSWORD}@127.0.0.1:8080/v1",
        f"http://user:{PASSWORD}@127.0.0.1:99999/v1",
        f"http://user:{PASSWORD}@127.0.0.1:port/v1",
        f"http://user:{PASSWORD}@[::1/v1",
        "http:///v1",
        "https://",
    ],
)
def test_a_malformed_base_url_is_a_configuration_error_without_the_password(
    url: str, logs: pytest.LogCaptureFixture
) -> None:
    """A port out of range or not a number, a broken IPv6 address, no host: ConfigurationError
    (a ValueError, as before), and never the URL's password in it."""
    with pytest.raises(rs.ConfigurationError) as info:
        rs.Client(base_url=url)
    assert isinstance(info.value, ValueError)
    assert_hidden(PASSWORD, info.value, logs)


class EchoServer:
    """Answers every request with ``status``, ``content_type`` and a body (and a header) that
    echo the Authorization header it received, as a debugging endpoint or a proxy might."""

    def __init__(self, status: str, content_type: str) -> None:
        def serve(sock: socket.socket) -> None:
            request = read_request(sock)
            if request is None:
                return
            auth = next(
                (
                    line.split(b":", 1)[1].strip()
                    for line in request[0].split(b"\r\n")
                    if line.lower().startswith(b"authorization:")
                ),
                b"",
            )
            if content_type == "application/json":
                body = b'{"you_sent": "' + auth + b'"}'
            else:
                body = b"<html>you sent " + auth + b"</html>"
            sock.sendall(
                b"HTTP/1.1 "
                + status.encode()
                + b"\r\nContent-Type: "
                + content_type.encode()
                + b"\r\nX-Echo: "
                + auth
                + b"\r\nx-request-id: req_echo\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )

        self.server = RawServer(serve)
        self.url = self.server.url


@pytest.mark.parametrize(
    ("call", "status", "content_type", "raised"),
    [
        ("stream", "200 OK", "application/json", rs.ProtocolError),
        ("stream", "200 OK", "text/html", rs.ProtocolError),
        ("stream", "401 Unauthorized", "application/json", rs.errors.AuthenticationError),
        ("retrieve", "200 OK", "text/html", rs.ProtocolError),
        ("stream_many", "200 OK", "application/json", rs.ProtocolError),
    ],
)
def test_a_server_that_echoes_the_key_never_gets_it_into_an_error(
    call: str, status: str, content_type: str, raised: type, logs: pytest.LogCaptureFixture
) -> None:
    """The key the request carried, echoed in a body that is no event stream (or no JSON),
    or in an error's header, is *** in the error's message, data, body and headers."""
    echo = EchoServer(status, content_type)
    try:
        with rs.Client(api_key=SECRET, base_url=echo.url, max_retries=0) as client:
            if call == "stream_many":
                (error,) = client.stream_many([{"model": "m", "input": "x"}])
            else:
                with pytest.raises(raised) as info:
                    if call == "stream":
                        client.stream(model="m", input="x")
                    else:
                        client.retrieve("resp_1")
                error = info.value
    finally:
        echo.server.close()
    assert isinstance(error, raised) and error.request_id == "req_echo"
    assert_hidden(SECRET, error, logs)
    for value in (getattr(error, "data", None), getattr(error, "body", None)):
        assert SECRET not in repr(value)
    assert SECRET not in repr(dict(getattr(error, "headers", None) or {}))
