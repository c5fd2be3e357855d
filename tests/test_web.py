"""responses_stream.web over plain HTTP, end to end on 127.0.0.1.

MockServer -> tap -> SDK -> relay -> a real WSGI server -> requests: Flask's example app on
werkzeug's server, and the Django example project (Django's own WSGI handler) on the stdlib's
wsgiref server. Every test of the relay's behaviour runs against both.

The tap is a TCP forwarder between the SDK and the MockServer. It shows, from the network side,
when the relay closed its upstream connection and whether the MockServer was still in the middle
of the body then: the proof that a browser leaving stops the upstream, independent of the SDK.
"""

from __future__ import annotations

import functools
import json
import math
import runpy
import select
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any, Callable, Dict, Iterator, List, Optional
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler as WerkzeugRequestHandler
from werkzeug.serving import make_server as make_werkzeug_server

import responses_stream as rs
from responses_stream import web
from responses_stream.testing import MockServer, Script

EXAMPLES = Path(__file__).parent.parent / "examples"
DJANGO_PROJECT = EXAMPLES / "django_relay"
SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # the client's key (Azure-style: no "sk-" to spot)
OTHER_KEY = "sk-proj-ANOTHERKEYxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx0123"
PUMP = "responses_stream.web-pump"
TEXT = "Every token crosses the relay as its own message, in order, and nothing is lost on the way."
LONG = "word " * 400  # 800 deltas: ~16 s at 0.02 s each, far longer than any test waits
TIMEOUT = 10  # seconds: requests' connect/read timeouts and every bounded wait


# --------------------------------------------------------------------------- the tap


class TapConnection:
    """One TCP connection through the tap: what went each way and which side closed first."""

    def __init__(self) -> None:
        self.request_head = b""  # the first bytes the SDK sent (the request line)
        self.to_client = 0  # body and header bytes the MockServer sent
        self.server_tail = b""  # the last bytes the MockServer sent
        self.client_closed_at: Optional[float] = None  # the SDK closed the connection
        self.server_closed_at: Optional[float] = None  # the MockServer closed it
        self.closed = threading.Event()

    @property
    def request_line(self) -> str:
        return self.request_head.split(b"\r\n", 1)[0].decode("latin-1")

    @property
    def body_finished(self) -> bool:
        """The MockServer had sent the end of a chunked body (the last-chunk marker)."""
        return self.server_tail.endswith(b"0\r\n\r\n")


class UpstreamTap:
    """A TCP forwarder on 127.0.0.1 in front of ``port``, recording each connection's end."""

    def __init__(self, port: int) -> None:
        self._target = port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self.connections: List[TapConnection] = []
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, name="tap-accept", daemon=True)
        self._accepter.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except socket.timeout:
                continue
            client.settimeout(None)
            server = socket.create_connection(("127.0.0.1", self._target), timeout=TIMEOUT)
            server.settimeout(None)
            conn = TapConnection()
            self.connections.append(conn)
            thread = threading.Thread(
                target=self._forward, args=(conn, client, server), name="tap-conn", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _forward(self, conn: TapConnection, client: socket.socket, server: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([client, server], [], [], 0.05)
                for sock in ready:
                    other = server if sock is client else client
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        data = b""
                    gone = sock if not data else None
                    if data:
                        try:
                            other.sendall(data)
                        except OSError:
                            gone = other
                    if gone is not None:
                        if gone is client:
                            conn.client_closed_at = time.monotonic()
                        else:
                            conn.server_closed_at = time.monotonic()
                        return
                    if sock is client:
                        conn.request_head = conn.request_head or data[:200]
                    else:
                        conn.to_client += len(data)
                        conn.server_tail = (conn.server_tail + data)[-16:]
        finally:
            for sock in (client, server):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            conn.closed.set()

    def stream_connection(self, timeout: float = TIMEOUT) -> TapConnection:
        """The connection that carried ``POST /v1/responses`` (the stream)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for conn in list(self.connections):
                if conn.request_line.startswith("POST /v1/responses "):
                    return conn
            time.sleep(0.01)
        raise AssertionError("no POST /v1/responses went through the tap")

    def close(self) -> None:
        self._stop.set()
        self._accepter.join()
        for thread in self._threads:
            thread.join()
        self._listener.close()


@dataclass
class Upstream:
    server: MockServer
    tap: UpstreamTap
    client: rs.Client

    def requests_to(self, method: str, path: str) -> List[Any]:
        return [r for r in self.server.requests if r.method == method and r.path == path]

    def wait_for_request(self, method: str, path: str, timeout: float = TIMEOUT) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.requests_to(method, path)
            if found:
                return found[0]
            time.sleep(0.01)
        seen = [(r.method, r.path) for r in self.server.requests]
        raise AssertionError(f"no {method} {path} reached the MockServer; it saw {seen}")


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = MockServer()
    tap = UpstreamTap(server.port)
    client = rs.Client(base_url=tap.url, api_key=SECRET, max_retries=0)
    try:
        yield Upstream(server, tap, client)
    finally:
        server.close()
        tap.close()
        client.close()


# --------------------------------------------------------------------------- the apps


IDLE_TIMEOUT = 1.0
"""Seconds a request thread waits for a request on an idle connection. A browser keeps
connections open (keep-alive, preconnect) after its page is done; without this, joining the
request threads would wait for the browser to drop them."""


class ThreadingWsgirefServer(ThreadingMixIn, WSGIServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins every request thread: nothing outlives a test

    def handle_error(self, request: Any, client_address: Any) -> None:
        # An idle connection timing out, or a client gone, is expected here.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class QuietWsgirefHandler(WSGIRequestHandler):
    timeout = IDLE_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        pass


class IdleTimeoutWerkzeugHandler(WerkzeugRequestHandler):
    timeout = IDLE_TIMEOUT


@functools.cache
def flask_example() -> Dict[str, Any]:
    return runpy.run_path(str(EXAMPLES / "flask_relay.py"))


def django_application(monkeypatch: pytest.MonkeyPatch, client: rs.Client, **options: Any) -> Any:
    """The Django example project's WSGI handler (Django's own), relaying through ``client``."""
    monkeypatch.syspath_prepend(str(DJANGO_PROJECT))
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "relaysite.settings")
    from relaysite.wsgi import create_application

    return create_application(client, **options)


class AppServer:
    """A real WSGI server on a free port, in a thread; close() joins every request thread."""

    def __init__(self, framework: str, app: Any) -> None:
        if framework == "flask":
            self.server: Any = make_werkzeug_server(
                "127.0.0.1", 0, app, threaded=True, request_handler=IdleTimeoutWerkzeugHandler
            )
            self.server.daemon_threads = False  # so server_close() joins request threads
        else:
            self.server = make_server(
                "127.0.0.1", 0, app, ThreadingWsgirefServer, QuietWsgirefHandler
            )
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self._thread.join()
        self.server.server_close()


@pytest.fixture(params=["flask", "django"])
def framework(request: pytest.FixtureRequest) -> str:
    if request.param == "django":
        pytest.importorskip("django")
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def serve(
    framework: str, upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., str]]:
    """``serve(**options)``: the framework's example app relaying through ``upstream``, with
    ``options`` for ``web.flask_response`` / ``web.django_response``; returns its /stream URL."""
    servers: List[AppServer] = []

    def start(**options: Any) -> str:
        if framework == "flask":
            app = flask_example()["create_app"](upstream.client, **options)
        else:
            app = django_application(monkeypatch, upstream.client, **options)
        servers.append(AppServer(framework, app))
        return servers[-1].url + "/stream"

    try:
        yield start
    finally:
        upstream.server.close()  # ends any stream still running, so request threads can end
        for server in servers:
            server.close()


@pytest.fixture(autouse=True)
def no_pump_thread_left() -> Iterator[None]:
    """After every test (its servers closed), no relay reader thread is left running."""
    yield
    assert pump_threads_gone(TIMEOUT), [t.name for t in threading.enumerate()]


def pump_threads_gone(timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(t.name.startswith(PUMP) for t in threading.enumerate()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# --------------------------------------------------------------------------- reading SSE


@dataclass
class Block:
    """One SSE block as received: a comment, or a message (event name, decoded data, id)."""

    at: float
    comment: Optional[str] = None
    event: str = "message"
    data: Any = None
    id: Optional[str] = None


def blocks(resp: requests.Response, limit: float = 30) -> Iterator[Block]:
    """Each SSE block of a streamed response as soon as it arrives, with its arrival time.

    Reads with ``read1`` (whatever has arrived): ``iter_content`` would hold back a
    close-delimited body (wsgiref's) until its end.
    """
    deadline = time.monotonic() + limit
    buffer = b""
    for chunk in iter(functools.partial(resp.raw.read1, 65536), b""):
        now = time.monotonic()
        assert now < deadline, "the stream went on for too long"
        buffer += chunk
        while b"\n\n" in buffer:
            raw, buffer = buffer.split(b"\n\n", 1)
            yield parse_block(raw.decode("utf-8"), now)
    assert not buffer, f"the body ended inside a block: {buffer!r}"


def parse_block(text: str, at: float) -> Block:
    block = Block(at)
    data_lines: List[str] = []
    comments: List[str] = []
    for line in text.split("\n"):
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "":
            comments.append(value)
        elif name == "event":
            block.event = value
        elif name == "data":
            data_lines.append(value)
        elif name == "id":
            block.id = value
        else:
            raise AssertionError(f"unexpected SSE line {line!r}")
    if data_lines:
        block.data = json.loads("\n".join(data_lines))
    else:
        assert comments, f"an empty block: {text!r}"
        block.comment = "\n".join(comments)
    return block


def messages(found: List[Block]) -> List[Block]:
    return [b for b in found if b.comment is None]


def get(url: str, **params: str) -> requests.Response:
    return requests.get(url, params={"prompt": "Go", **params}, stream=True, timeout=TIMEOUT)


def read_all(url: str) -> List[Block]:
    with get(url) as resp:
        assert resp.status_code == 200
        return list(blocks(resp))


def delta_count(script: Script) -> int:
    return sum(1 for e in script.events() if e["type"] == "response.output_text.delta")


# --------------------------------------------------------------------------- headers, modes


def test_headers_are_those_of_an_unbuffered_event_stream(
    serve: Callable[..., str], upstream: Upstream
) -> None:
    upstream.server.add(Script().text(TEXT).completed())
    with get(serve()) as resp:
        headers = resp.headers
        list(blocks(resp))
    assert resp.status_code == 200
    assert headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["X-Accel-Buffering"] == "no"
    # Nothing that lets a proxy (or the server) buffer or compress the body.
    assert "Content-Length" not in headers
    assert "Content-Encoding" not in headers


def test_text_mode_sends_each_delta_as_a_json_string_then_done(
    serve: Callable[..., str], upstream: Upstream
) -> None:
    script = Script().text(TEXT).completed()
    upstream.server.add(script, delay=0.01)
    found = read_all(serve())

    assert found[0].comment == "open"  # sent at once, so the headers reach the browser
    got = messages(found)
    deltas = got[:-1]
    assert [b.event for b in deltas] == ["message"] * delta_count(script)
    assert all(isinstance(b.data, str) for b in deltas)
    assert "".join(b.data for b in deltas) == TEXT
    done = got[-1]
    assert done.event == "done"
    final = rs.Response.from_dict(done.data)
    assert final.status == "completed" and final.output_text == TEXT
    assert final.id == script.response_id
    # No keep-alive: the upstream was never silent for 15 s.
    assert [b.comment for b in found if b.comment is not None] == ["open"]
    assert upstream.server.requests[0].json["input"] == "Go"


def test_events_mode_sends_every_event_with_its_type_then_done(
    serve: Callable[..., str], upstream: Upstream
) -> None:
    script = Script().reasoning(summary=["Thinking."]).text(TEXT).completed()
    upstream.server.add(script)
    got = messages(read_all(serve(mode="events")))

    wire = script.events()
    assert [b.event for b in got[:-1]] == [e["type"] for e in wire]
    assert [b.data for b in got[:-1]] == wire  # to_dict(): every key as it arrived
    assert got[-1].event == "done"
    assert got[-1].data["status"] == "completed"
    assert rs.Response.from_dict(got[-1].data).output_text == TEXT


def test_a_message_mapper_chooses_what_the_browser_gets(
    serve: Callable[..., str], upstream: Upstream
) -> None:
    def mapper(event: rs.events.Event) -> Iterator[web.SSEMessage]:
        if isinstance(event, rs.events.OutputTextDelta):
            yield web.SSEMessage({"t": event.delta}, event="token", id=str(event.sequence_number))
        elif isinstance(event, rs.events.ResponseCreated):
            yield web.SSEMessage("started", event="status")
            yield web.SSEMessage(event.response.id, event="id")

    script = Script().text(TEXT).completed()
    upstream.server.add(script)
    got = messages(read_all(serve(mode=mapper)))

    assert [(b.event, b.data) for b in got[:2]] == [
        ("status", "started"),
        ("id", script.response_id),
    ]
    tokens = got[2:-1]
    assert {b.event for b in tokens} == {"token"}
    assert "".join(b.data["t"] for b in tokens) == TEXT
    wire_seq = [e["sequence_number"] for e in script.events() if e["type"].endswith("text.delta")]
    assert [b.id for b in tokens] == [str(n) for n in wire_seq]
    assert got[-1].event == "done"


# --------------------------------------------------------------------------- failures


def test_a_refused_request_ends_with_a_failed_done_event_without_secrets(
    serve: Callable[..., str], upstream: Upstream
) -> None:
    # A server that echoes the credentials back must not get them to the browser.
    upstream.server.add_error(
        401,
        f"Incorrect API key provided: {SECRET} (Authorization: Bearer {SECRET}); "
        f"the previous key {OTHER_KEY} was revoked",
        type="invalid_request_error",
        code="invalid_api_key",
    )
    url = serve()
    with get(url) as resp:
        body = resp.raw.read()
    assert resp.status_code == 200  # the stream had started (":open") before the refusal
    text = body.decode("utf-8")
    assert SECRET not in text and SECRET[8:] not in text
    assert OTHER_KEY not in text and OTHER_KEY[8:] not in text
    assert "Traceback" not in text and "File " not in text
    got = messages([parse_block(b, 0) for b in text.split("\n\n") if b])
    assert len(got) == 1 and got[0].event == "done"
    assert set(got[0].data) == {"status", "error", "type"}
    assert got[0].data["status"] == "failed"
    assert got[0].data["type"] == "AuthenticationError"
    assert "Incorrect API key provided" in got[0].data["error"]


def test_a_stream_that_fails_midway_ends_with_a_failed_done_after_the_text(
    serve: Callable[..., str], upstream: Upstream
) -> None:
    script = Script().text(TEXT).error("server_error", "The server had an error")
    upstream.server.add(script)
    got = messages(read_all(serve()))
    assert "".join(b.data for b in got[:-1]) == TEXT
    assert got[-1].event == "done"
    assert got[-1].data["status"] == "failed"
    assert got[-1].data["type"] == "StreamError"
    assert "The server had an error" in got[-1].data["error"]


def test_a_cut_upstream_connection_ends_with_a_failed_done(
    serve: Callable[..., str], upstream: Upstream
) -> None:
    script = Script().text(TEXT).completed()
    body = b"".join(script.to_sse_chunks())
    upstream.server.add(script, close_after=len(body) // 2)
    got = messages(read_all(serve()))
    assert got[-1].event == "done"
    assert got[-1].data["status"] == "failed"
    assert got[-1].data["type"] == "StreamInterrupted"
    assert TEXT.startswith("".join(b.data for b in got[:-1]))


# --------------------------------------------------------------------------- keep-alive


@pytest.mark.slow
def test_keepalive_comments_flow_while_the_upstream_is_silent(
    serve: Callable[..., str], upstream: Upstream
) -> None:
    upstream.server.add(Script().text(TEXT).completed(), stall=1.2, stall_after_events=0)
    url = serve(keepalive=0.2)
    with get(url) as resp:
        opened = time.monotonic()
        found = list(blocks(resp))

    assert found[0].comment == "open" and found[0].at - opened < 1.0
    first_message = next(i for i, b in enumerate(found) if b.comment is None)
    silent = found[1:first_message]
    assert {b.comment for b in silent} == {"keep-alive"}
    assert len(silent) >= 3, [round(b.at - opened, 2) for b in found]  # ~1.2 s / 0.2 s
    gaps = [b.at - a.at for a, b in zip(found[:first_message], silent)]
    assert all(0.15 < gap < 1.0 for gap in gaps), gaps  # periodic, not a flood
    got = messages(found)
    assert "".join(b.data for b in got[:-1]) == TEXT and got[-1].data["status"] == "completed"


# --------------------------------------------------------------------------- disconnect


def leave_after_first_token(url: str) -> float:
    """Read until the first text delta, then drop the connection; returns when it left."""
    with get(url) as resp:
        first = next(b for b in blocks(resp) if b.comment is None)
        assert first.event == "message" and first.data == "word"
    return time.monotonic()


def assert_upstream_cut(upstream: Upstream, script: Script, left: float) -> TapConnection:
    """The relay closed the upstream connection soon after ``left``, in the middle of the body."""
    conn = upstream.tap.stream_connection()
    assert conn.closed.wait(5), "the relay kept reading the upstream after the client left"
    assert conn.client_closed_at is not None, "the MockServer ended it, not the relay"
    assert conn.client_closed_at - left < 3
    assert not conn.body_finished
    assert conn.to_client < len(b"".join(script.to_sse_chunks()))
    return conn


def test_a_client_that_leaves_closes_the_upstream_connection(
    serve: Callable[..., str], upstream: Upstream
) -> None:
    script = Script().text(LONG).completed()
    upstream.server.add(script, delay=0.02)
    left = leave_after_first_token(serve())
    assert_upstream_cut(upstream, script, left)
    assert pump_threads_gone(3)
    # A foreground response ends with its connection: there is nothing to cancel.
    assert [r.method for r in upstream.server.requests] == ["POST"]


def test_a_client_that_leaves_cancels_a_background_response(
    serve: Callable[..., str], upstream: Upstream
) -> None:
    script = Script(background=True).text(LONG).completed()
    upstream.server.add(script, delay=0.02)
    left = leave_after_first_token(serve(background=True))

    assert_upstream_cut(upstream, script, left)
    cancel_path = f"/v1/responses/{script.response_id}/cancel"
    cancel = upstream.wait_for_request("POST", cancel_path, timeout=5)
    assert cancel is not None
    assert upstream.server.requests[0].json["background"] is True
    assert pump_threads_gone(3)
    # Once the browser has left, the relay does not resume the stream either.
    resumes = upstream.requests_to("GET", f"/v1/responses/{script.response_id}")
    assert resumes == []


def test_cancel_on_disconnect_can_be_turned_off(
    serve: Callable[..., str], upstream: Upstream
) -> None:
    script = Script(background=True).text(LONG).completed()
    upstream.server.add(script, delay=0.02)
    left = leave_after_first_token(serve(background=True, cancel_on_disconnect=False))
    assert_upstream_cut(upstream, script, left)
    assert pump_threads_gone(3)
    assert not any(r.path.endswith("/cancel") for r in upstream.server.requests)


def test_a_client_that_leaves_while_the_model_is_silent_is_noticed_by_keepalive(
    serve: Callable[..., str], upstream: Upstream
) -> None:
    """The upstream sends one delta, then nothing for 8 s: the keep-alive write finds the
    client gone, and closing the upstream must not wait for the upstream's next byte."""
    script = Script().text(LONG).completed()
    first_delta = next(
        i for i, e in enumerate(script.events()) if e["type"] == "response.output_text.delta"
    )
    upstream.server.add(script, stall=8, stall_after_events=first_delta + 1)
    left = leave_after_first_token(serve(keepalive=0.2))
    assert_upstream_cut(upstream, script, left)
    assert pump_threads_gone(3)


def test_the_reader_thread_ends_with_the_response(
    serve: Callable[..., str], upstream: Upstream
) -> None:
    upstream.server.add(Script().text(TEXT).completed())
    url = serve()
    with get(url) as resp:
        found = list(blocks(resp))
        assert messages(found)[-1].event == "done"
        # The response's end reached the client; the server side is finishing: bounded wait.
        assert pump_threads_gone(3), [t.name for t in threading.enumerate()]


# --------------------------------------------------------------------------- the core alone


def test_sse_message_encoding() -> None:
    assert web.SSEMessage("a\nb").encode() == b'data: "a\\nb"\n\n'
    assert web.SSEMessage({"x": "é"}, event="e", id="7").encode() == (
        'event: e\nid: 7\ndata: {"x":"é"}\n\n'.encode()
    )
    with pytest.raises(ValueError):
        web.SSEMessage(1, event="a\ndata: injected").encode()
    with pytest.raises(ValueError):
        web.SSEMessage(1, id="1\r").encode()


def _page_parse(text: str) -> Any:
    """What the page's JSON.parse accepts: strict JSON (no NaN or Infinity)."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(
    ("data", "parsed"),
    [
        ("\ud83d", "\ud83d"),  # half of a character: the other half comes in the next delta
        ({"t": "smile \ude00", "x": "é"}, {"t": "smile \ude00", "x": "é"}),
        (
            {"logprob": float("nan"), "top": [float("-inf"), 1.5]},
            {"logprob": None, "top": [None, 1.5]},
        ),
    ],
    ids=["lone-surrogate", "nested-surrogate", "non-finite"],
)
def test_sse_messages_are_always_json_the_page_can_parse(data: Any, parsed: Any) -> None:
    """Whatever a delta holds (half of a surrogate pair, from a server that split a character;
    NaN or infinities, from a lenient one), the message is UTF-8 the page can parse: lone
    surrogates as \\u escapes, non-finite numbers as null (as JSON.stringify writes them)."""
    encoded = web.SSEMessage(data, event="e").encode()
    line = encoded.decode("utf-8").splitlines()[1]
    assert line.startswith("data: ") and _page_parse(line[6:]) == parsed


def test_bad_options_are_refused_before_anything_starts(upstream: Upstream) -> None:
    with pytest.raises(ValueError):
        web.SSERelay(upstream.client, mode="tokens", model="m", input="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        web.SSERelay(upstream.client, keepalive=0, model="m", input="x")
    assert upstream.server.requests == []


@pytest.mark.parametrize("keepalive", [math.inf, 1e10])
def test_a_keepalive_longer_than_any_wait_means_never(upstream: Upstream, keepalive: float) -> None:
    """Infinity (or more seconds than a wait can take) is no keep-alive at all; it used to
    overflow the wait right after ``: open``, so the page never got its ``done``."""
    upstream.server.add(Script().text("hello").completed())
    relay = web.SSERelay(upstream.client, keepalive=keepalive, model="m", input="x")
    try:
        sent = b"".join(relay)
    finally:
        relay.close()
    assert relay.keepalive is None
    assert b"event: done" in sent and b"keep-alive" not in sent


def test_a_relay_that_is_never_iterated_starts_nothing(upstream: Upstream) -> None:
    relay = web.SSERelay(upstream.client, model="m", input="x")
    relay.close()
    assert relay.thread is None
    assert upstream.server.requests == []


def test_a_failing_mapper_ends_with_a_generic_done_then_raises(upstream: Upstream) -> None:
    """A bug in the mapper: the page gets a clean end without details, the server the error."""
    upstream.server.add(Script().text(LONG).completed(), delay=0.02)

    def mapper(event: rs.events.Event) -> Iterator[web.SSEMessage]:
        if isinstance(event, rs.events.OutputTextDelta):
            raise KeyError("secret detail")
        return iter(())

    relay = web.SSERelay(upstream.client, mode=mapper, model="m", input="x")
    body = iter(relay)
    assert next(body) == web.OPEN_COMMENT
    done = parse_block(next(body).decode().rstrip("\n"), 0)
    assert done.event == "done"
    assert done.data == {
        "status": "failed",
        "error": "the relay failed; see the server log",
        "type": "InternalError",
    }
    with pytest.raises(KeyError, match="secret detail"):
        next(body)
    assert relay.stopped_early
    conn = upstream.tap.stream_connection()
    assert conn.closed.wait(5) and conn.client_closed_at is not None
    assert not conn.body_finished
    assert relay.thread is not None and not relay.thread.is_alive()


# --------------------------------------------------------------------------- the example


def test_the_django_example_runs_and_prints_the_text(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("django")
    monkeypatch.syspath_prepend(str(DJANGO_PROJECT))
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "relaysite.settings")
    final = runpy.run_path(str(DJANGO_PROJECT / "run.py"))["main"]()
    assert final.status == "completed"
    assert final.output_text and final.output_text in capsys.readouterr().out
