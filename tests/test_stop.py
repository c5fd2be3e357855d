"""Stopping a stream from another thread: ``EventStream.close()`` and ``handler.stop()``.

Over a real server on 127.0.0.1 that sends a few events and then goes silent for 30 s: the
stop takes effect at once however the reader is blocked (on the body, before its first byte,
in a resume's back-off), returns the partial response without an error, never resumes a
background response, and the server sees its connection end. Time bounds are generous (2 s
against a 30 s stall); measured latencies belong to the benchmarks.
"""

from __future__ import annotations

import gc
import json
import os
import select
import socket
import ssl
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import responses_stream as rs
from responses_stream.testing import MockServer, Script

from .scripts import request_head, tls_server_context

STALL = 30.0  # the server's silence: far longer than any bound below
BOUND = 2.0  # a generous bound on "at once"
SENT_DELTAS = 3  # text deltas sent before the silence
TEXT = "Stop means stop, right now, whatever the socket is doing."


def _script(background: bool = False) -> Script:
    return Script(background=background, seed=13).text(TEXT, chunk=5).completed()


def _events_before_silence(script: Script) -> List[Dict[str, Any]]:
    """The events up to and including the SENT_DELTAS-th text delta."""
    events = script.events()
    deltas = [i for i, e in enumerate(events) if e["type"] == "response.output_text.delta"]
    return events[: deltas[SENT_DELTAS - 1] + 1]


def _partial_text(events: List[Dict[str, Any]]) -> str:
    return "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# ------------------------------------------------------------------------------ the server


@dataclass
class Connection:
    """One connection the server accepted: its request and when the client ended it."""

    request_line: str = ""
    closed_by_client_at: Optional[float] = None
    ended: threading.Event = field(default_factory=threading.Event)


class SilentServer:
    """Answers every request with SSE headers after ``header_delay``, the events of
    ``events`` (framed as ``framing``), then silence for ``STALL`` s, or until the client
    ends the connection, which it records. ``cut=True`` ends the connection after the events
    instead (a broken stream). Optionally over TLS."""

    def __init__(
        self,
        events: List[Dict[str, Any]],
        *,
        framing: str = "chunked",
        header_delay: float = 0.0,
        cut: bool = False,
        tls: Optional[ssl.SSLContext] = None,
        later_header_delay: Optional[float] = None,
    ) -> None:
        self.events = events
        self.framing = framing
        self.header_delay = header_delay
        self.later_header_delay = later_header_delay  # for every connection after the first
        self.cut = cut
        self.tls = tls
        self.connections: List[Connection] = []
        self.first_cut = threading.Event()  # the first connection was cut (cut=True)
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._threads: List[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, name="silent-accept", daemon=True)
        self._accepter.start()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}/v1"

    @property
    def request_lines(self) -> List[str]:
        return [c.request_line for c in self.connections if c.request_line]

    def close(self) -> None:
        self._stop.set()
        self._accepter.join(5)
        for thread in self._threads:
            thread.join(5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            conn = Connection()
            self.connections.append(conn)
            thread = threading.Thread(
                target=self._serve, args=(conn, sock), name="silent-conn", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: Connection, plain: socket.socket) -> None:
        sock = plain
        try:
            plain.settimeout(5)
            if self.tls is not None:
                sock = self.tls.wrap_socket(plain, server_side=True)
            head = request_head(sock)
            conn.request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            delay = self.header_delay
            if self.later_header_delay is not None and conn is not self.connections[0]:
                delay = self.later_header_delay
            if self._wait_for_client_close(sock, conn, delay):
                return
            sock.sendall(self._head())
            for event in self.events:
                sock.sendall(self._frame(b"data: " + json.dumps(event).encode() + b"\n\n"))
            if self.cut:
                self.first_cut.set()
                return
            self._wait_for_client_close(sock, conn, STALL)
        except (BrokenPipeError, ConnectionResetError):
            # The client closed with our bytes unread (so its side answered with a reset).
            conn.closed_by_client_at = time.monotonic()
        except OSError:
            pass  # the tests check what they expect of the connection
        finally:
            sock.close()
            conn.ended.set()

    def _head(self) -> bytes:
        lines = [b"HTTP/1.1 200 OK", b"Content-Type: text/event-stream"]
        if self.framing in ("chunked", "gzip"):
            lines.append(b"Transfer-Encoding: chunked")
        elif self.framing == "length":
            lines.append(b"Content-Length: 10000000")  # far more than is ever sent
        else:
            lines.append(b"Connection: close")
        if self.framing == "gzip":
            lines.append(b"Content-Encoding: gzip")  # read by urllib3, not off the socket
            self._gzip = zlib.compressobj(wbits=31)
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def _frame(self, data: bytes) -> bytes:
        if self.framing == "gzip":
            data = self._gzip.compress(data) + self._gzip.flush(zlib.Z_SYNC_FLUSH)
        if self.framing in ("chunked", "gzip"):
            return b"%x\r\n%s\r\n" % (len(data), data)
        return data

    def _wait_for_client_close(self, sock: socket.socket, conn: Connection, seconds: float) -> bool:
        """Wait ``seconds`` for the client to end the connection; True if it did."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            if sock.pending() if isinstance(sock, ssl.SSLSocket) else False:
                sock.recv(65536)
            ready, _, _ = select.select([sock], [], [], 0.05)
            if not ready:
                continue
            try:
                data = sock.recv(65536)
            except (OSError, ssl.SSLError):
                data = b""
            if not data:
                conn.closed_by_client_at = time.monotonic()
                return True
        return False


@pytest.fixture
def silent() -> Iterator[Callable[..., SilentServer]]:
    servers: List[SilentServer] = []

    def start(events: List[Dict[str, Any]], **kwargs: Any) -> SilentServer:
        server = SilentServer(events, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def _client(server: SilentServer, **kwargs: Any) -> rs.Client:
    # A read timeout longer than the silence: only the stop can end these streams early.
    return rs.Client(base_url=server.url, max_retries=0, timeout=rs.Timeout(read=60), **kwargs)


class Closer:
    """Calls ``action`` from a timer thread once ``ready`` returns True, then ``delay`` s
    later; records when, how long the call took, and anything it raised."""

    def __init__(
        self, action: Callable[[], None], ready: Callable[[], bool], delay: float = 0.2
    ) -> None:
        self.action = action
        self.ready = ready
        self.delay = delay
        self.called_at: Optional[float] = None
        self.took: Optional[float] = None
        self.raised: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, name="closer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        give_up = time.monotonic() + 10
        while not self.ready() and time.monotonic() < give_up:
            time.sleep(0.01)
        time.sleep(self.delay)
        self.called_at = time.monotonic()
        try:
            self.action()
        except BaseException as exc:
            self.raised = exc
        self.took = time.monotonic() - self.called_at

    def check(self) -> float:
        """The call happened, returned promptly without raising; returns when it was made."""
        self.thread.join(10)
        assert self.raised is None, f"the stop raised {self.raised!r}"
        assert self.called_at is not None and self.took is not None
        assert self.took < BOUND
        return self.called_at


def _assert_connection_ended(server: SilentServer, after: float) -> None:
    conn = server.connections[0]
    assert conn.ended.wait(BOUND), "the server still holds the connection"
    assert conn.closed_by_client_at is not None
    assert conn.closed_by_client_at - after < BOUND


class Texts(rs.ResponseHandler):
    def __init__(self) -> None:
        self.events: List[rs.events.Event] = []
        self.deltas: List[str] = []
        self.resumes: List[Any] = []
        self.errors: List[BaseException] = []

    def on_event(self, event: rs.events.Event) -> None:
        self.events.append(event)

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        self.deltas.append(delta)

    def on_resume(self, response_id: str, starting_after: Optional[int]) -> None:
        self.resumes.append((response_id, starting_after))

    def on_exception(self, exc: BaseException) -> None:
        self.errors.append(exc)


# ------------------------------------------------------------------------ while blocked


@pytest.mark.slow
@pytest.mark.parametrize("framing", ["chunked", "length", "close", "gzip"])
@pytest.mark.parametrize("background", [False, True], ids=["foreground", "background"])
def test_close_from_another_thread_ends_a_blocked_read_at_once(
    silent: Callable[..., SilentServer], framing: str, background: bool
) -> None:
    """EventStream.close() while the reader waits on a silent server: iteration ends at once
    with the partial response and no error; the server sees the connection end; a background
    response is not resumed."""
    events = _events_before_silence(_script(background))
    server = silent(events, framing=framing)
    received: List[rs.events.Event] = []
    fds = _fds()
    with _client(server) as client:
        with client.events(model="m", input="x", background=background) as stream:
            closer = Closer(stream.close, lambda: len(received) == len(events))
            for event in stream:
                received.append(event)
            ended = time.monotonic()
        called = closer.check()
        assert ended - called < BOUND
        assert stream.response.output_text == _partial_text(events)
        assert stream.response.status == "in_progress"
        assert stream.resumes == 0
        _assert_connection_ended(server, called)
        time.sleep(0.3)  # a resume would have been sent by now
    assert server.request_lines == ["POST /v1/responses HTTP/1.1"]
    gc.collect()
    assert _fds() <= fds


@pytest.mark.parametrize("background", [False, True], ids=["foreground", "background"])
def test_handler_stop_from_another_thread_returns_the_partial_at_once(
    silent: Callable[..., SilentServer], background: bool
) -> None:
    """handler.stop() from another thread while client.stream() waits: it returns the
    partial snapshot promptly, raises nothing, and resumes nothing."""
    events = _events_before_silence(_script(background))
    server = silent(events)
    handler = Texts()
    with _client(server) as client:
        closer = Closer(handler.stop, lambda: len(handler.deltas) == SENT_DELTAS)
        final = client.stream(handler, model="m", input="x", background=background)
        returned = time.monotonic()
        called = closer.check()
        assert returned - called < BOUND
        assert final.output_text == _partial_text(events)
        assert handler.stopped and handler.errors == [] and handler.resumes == []
        _assert_connection_ended(server, called)
        time.sleep(0.3)
    assert server.request_lines == ["POST /v1/responses HTTP/1.1"]


def test_close_over_tls_ends_the_read_at_once(
    silent: Callable[..., SilentServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same over HTTPS: the shutdown must not break the TLS socket under the reader."""
    context, cert = tls_server_context(tmp_path, monkeypatch)
    events = _events_before_silence(_script())
    server = silent(events, tls=context)
    handler = Texts()
    with _client(server) as client:
        client._transport.session.verify = str(cert)
        closer = Closer(handler.stop, lambda: len(handler.deltas) == SENT_DELTAS)
        final = client.stream(handler, model="m", input="x")
        returned = time.monotonic()
        called = closer.check()
    assert returned - called < BOUND
    assert final.output_text == _partial_text(events) and handler.errors == []
    _assert_connection_ended(server, called)


def test_stop_from_another_thread_closes_the_recording(
    silent: Callable[..., SilentServer], tmp_path: Path
) -> None:
    """With record_to, the reading thread closes the file on its way out (an unclosed file
    would fail this run under -W error) and the file replays as the stopped stream: the same
    partial response, without an error."""
    events = _events_before_silence(_script())
    server = silent(events)
    handler = Texts()
    path = tmp_path / "stream.sse"
    with _client(server) as client:
        closer = Closer(handler.stop, lambda: len(handler.deltas) == SENT_DELTAS)
        final = client.stream(handler, model="m", input="x", record_to=path)
        closer.check()
    assert final.output_text == _partial_text(events) and handler.errors == []
    assert rs.replay(path).to_dict() == final.to_dict()


# ---------------------------------------------------------------------- before any event


def test_close_before_the_first_body_byte(silent: Callable[..., SilentServer]) -> None:
    """Headers, then silence: a close from another thread ends the stream with nothing."""
    server = silent([])
    with _client(server) as client:
        with client.events(model="m", input="x", background=True) as stream:
            closer = Closer(stream.close, lambda: True, delay=0.3)
            received = list(stream)
            ended = time.monotonic()
        called = closer.check()
        assert received == [] and ended - called < BOUND
        assert stream.response.output == []
        _assert_connection_ended(server, called)
    assert server.request_lines == ["POST /v1/responses HTTP/1.1"]


def test_stop_before_the_headers_reads_nothing(
    silent: Callable[..., SilentServer], tmp_path: Path
) -> None:
    """stop() while the request waits for its headers: the call returns as soon as they
    arrive (the wait for headers happens inside requests, out of the stream's reach),
    without reading an event, and closes the connection. A background response is not
    resumed. Its recording replays to the same empty response."""
    header_delay = 1.0
    events = _events_before_silence(_script(background=True))
    server = silent(events, header_delay=header_delay)
    handler = Texts()
    with _client(server) as client:
        start = time.monotonic()
        closer = Closer(handler.stop, lambda: True, delay=0.2)
        path = tmp_path / "early.sse"
        final = client.stream(handler, model="m", input="x", background=True, record_to=path)
        took = time.monotonic() - start
        called = closer.check()
        assert took < header_delay + BOUND
        assert final.output == [] and handler.events == []
        assert handler.stopped and handler.errors == [] and handler.resumes == []
        _assert_connection_ended(server, called)
        time.sleep(0.3)
    assert server.request_lines == ["POST /v1/responses HTTP/1.1"]
    assert rs.replay(path).to_dict() == final.to_dict()


def test_close_during_the_resume_back_off_resumes_nothing(
    silent: Callable[..., SilentServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A background stream is cut and waits (here 30 s) before resuming: a close from
    another thread ends the wait at once, and no resume request is sent."""
    monkeypatch.setattr("responses_stream._resume.backoff_delay", lambda attempt: STALL)
    events = _events_before_silence(_script(background=True))
    server = silent(events, cut=True)
    handler = Texts()
    with _client(server) as client:
        closer = Closer(handler.stop, lambda: bool(handler.resumes), delay=0.3)
        final = client.stream(handler, model="m", input="x", background=True)
        returned = time.monotonic()
        called = closer.check()
        time.sleep(0.3)
    assert returned - called < BOUND
    assert final.output_text == _partial_text(events) and handler.errors == []
    assert len(handler.resumes) == 1  # it was about to resume
    assert server.request_lines == ["POST /v1/responses HTTP/1.1"]


class Backing(Texts):
    """Stops itself from another thread once the request is waiting to be sent again."""

    def __init__(self, stop_in_callback: bool = False) -> None:
        super().__init__()
        self.retries: List[float] = []
        self.ended = 0
        self.stop_in_callback = stop_in_callback

    def on_retry(self, error: Exception, attempt: int, delay: float) -> None:
        self.retries.append(delay)
        if self.stop_in_callback:
            self.stop()

    def on_end(self) -> None:
        self.ended += 1


def _rate_limited(server: MockServer) -> None:
    server.add_error(429, "slow down", code="rate_limit_exceeded", headers={"retry-after": "30"})
    server.add(_script())


@pytest.mark.parametrize("verb", ["stream", "run"])
@pytest.mark.parametrize("where", ["thread", "on_retry"])
def test_stop_during_the_back_off_before_a_retry_sends_nothing_more(
    server: MockServer, where: str, verb: str
) -> None:
    """A 429 asks for 30 s before the request is sent again: a stop() meanwhile (from another
    thread, or in on_retry) ends the call at once with an empty response, without an error,
    and the request is not sent again (in the tool loop too: no turn follows)."""
    _rate_limited(server)
    handler = Backing(stop_in_callback=where == "on_retry")
    with rs.Client(api_key="sk-test", base_url=server.url, max_retries=3) as client:
        closer = None
        if where == "thread":
            closer = Closer(handler.stop, lambda: bool(handler.retries), delay=0.2)
        started = time.monotonic()
        tools: Dict[str, Any] = {"tools": []} if verb == "run" else {}
        final = getattr(client, verb)(handler, model="m", input="x", **tools)
        took = time.monotonic() - started
        if closer is not None:
            closer.check()
    assert took < BOUND
    assert handler.retries == [30.0] and handler.stopped
    assert final.id is None and final.output == [] and handler.snapshot is final
    assert handler.events == [] and handler.errors == [] and handler.ended == 1
    assert len(server.requests) == 1


def test_stop_during_the_back_off_ends_that_stream_of_stream_many_only(server: MockServer) -> None:
    """In stream_many, the stopped stream's back-off ends at once (nothing sent again); the
    others run to their end."""
    server.add_error(
        429,
        "slow down",
        code="rate_limit_exceeded",
        headers={"retry-after": "30"},
        match={"input": "limited"},
    )
    for _ in range(3):
        server.add(_script(), match={"input": "fine"})
    handlers: Dict[int, Backing] = {}

    def make(index: int, params: Any) -> Backing:
        handlers[index] = Backing()
        return handlers[index]

    requests = [{"model": "m", "input": name} for name in ("fine", "limited", "fine", "fine")]
    with rs.Client(api_key="sk-test", base_url=server.url, max_retries=3) as client:

        def stop_limited() -> None:  # its handler is made once stream_many starts it
            handlers[1].stop()

        closer = Closer(stop_limited, lambda: 1 in handlers and bool(handlers[1].retries), 0.2)
        started = time.monotonic()
        results = client.stream_many(requests, make)
        took = time.monotonic() - started
        closer.check()
    assert took < BOUND
    stopped = results[1]
    assert isinstance(stopped, rs.Response) and stopped.id is None and stopped.output == []
    assert handlers[1].errors == [] and handlers[1].ended == 1
    for index in (0, 2, 3):
        done = results[index]
        assert isinstance(done, rs.Response) and done.output_text == TEXT
    assert sum(r.json.get("input") == "limited" for r in server.requests) == 1


@pytest.mark.parametrize("verb", ["stream", "stream_many"])
def test_stop_while_the_resume_request_waits_for_headers_ends_at_once(
    silent: Callable[..., SilentServer], verb: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The background stream is cut and its resume request gets no headers (for 30 s): a
    stop() from another thread ends that wait at once, as it ends a blocked read."""
    monkeypatch.setattr("responses_stream._resume.backoff_delay", lambda attempt: 0.0)
    events = _events_before_silence(_script(background=True))
    server = silent(events, cut=True, later_header_delay=STALL)
    handler = Texts()
    with _client(server) as client:
        closer = Closer(handler.stop, lambda: bool(handler.resumes), delay=0.3)
        if verb == "stream":
            final = client.stream(handler, model="m", input="x", background=True)
        else:
            [outcome] = client.stream_many(
                [{"model": "m", "input": "x", "background": True}], lambda i, p: handler
            )
            assert isinstance(outcome, rs.Response)
            final = outcome
        returned = time.monotonic()
        called = closer.check()
    assert returned - called < BOUND
    assert final.output_text == _partial_text(events) and handler.errors == []
    assert len(server.request_lines) == 2  # the POST, then the resume that never answered


# ------------------------------------------------------------ repeated, late and racing


def test_closing_twice_from_two_threads_and_after_the_end_is_harmless(
    server: MockServer,
) -> None:
    """Closes from several threads at once, and after the end, raise nothing; a close after
    the end does not touch the connection, which serves the next request."""
    server.add(_script(), stall=STALL, stall_after_events=8)
    server.add(_script())
    server.add(_script())
    with rs.Client(base_url=server.url, max_retries=0) as client:
        with client.events(model="m", input="x") as stream:
            closers = [Closer(stream.close, lambda: True, delay=0.3) for _ in range(3)]
            assert len(list(stream)) == 8
            for closer in closers:
                closer.check()
            stream.close()
        done = client.events(model="m", input="x")
        with done:
            assert done.until_done().output_text == TEXT
        late = Closer(done.close, lambda: True, delay=0)
        late.check()
        done.close()
        assert client.stream(model="m", input="x").output_text == TEXT
    assert len(server.requests) == 3


@pytest.mark.slow
@pytest.mark.parametrize("pause", [0.0, 0.001, 0.005, 0.02])
def test_close_while_the_reader_is_between_events_never_races(
    server: MockServer, pause: float
) -> None:
    """The reader busy in its loop body (not in a read) when the close comes, at many
    points: the close and the loop both end cleanly ("generator already executing" never)."""
    server.add(Script(seed=5).text("word " * 400, chunk=5).completed(), delay=0.001)
    with rs.Client(base_url=server.url, max_retries=0) as client:
        for attempt in range(5):
            received: List[rs.events.Event] = []
            with client.events(model="m", input="x") as stream:
                closer = Closer(stream.close, lambda: len(received) > 20, delay=0.01 * attempt)
                for event in stream:
                    received.append(event)
                    time.sleep(pause)
            closer.check()
            assert 20 < len(received) < 400
            assert stream.response.output_text.startswith("word word")
            server.add(Script(seed=5).text("word " * 400, chunk=5).completed(), delay=0.001)


def test_stop_from_a_callback_still_ends_after_that_callback(server: MockServer) -> None:
    """stop() from a callback on the reading thread keeps its meaning: the stream ends after
    the callback returns, with the text so far."""

    class StopAtThird(Texts):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            super().on_text_delta(delta, snapshot)
            if len(self.deltas) == 3:
                self.stop()

    server.add(_script())
    handler = StopAtThird()
    with rs.Client(base_url=server.url, max_retries=0) as client:
        final = client.stream(handler, model="m", input="x")
    assert len(handler.deltas) == 3 and final.output_text == "".join(handler.deltas)
    assert handler.errors == []


@pytest.mark.parametrize("how", ["stream", "iterator", "unread"])
def test_a_dropped_events_stream_lets_go_of_its_connection_at_once(
    silent: Callable[..., SilentServer], how: str
) -> None:
    """Without ``with`` or ``close()``: dropping the last reference closes the connection by
    reference counting, with the cycle collector off (no gc.collect() anywhere)."""
    events = _events_before_silence(_script())
    server = silent(events)
    fds = _fds()
    gc.disable()
    try:
        with _client(server) as client:
            stream = client.events(model="m", input="x")
            iterator = iter(stream)
            if how != "unread":
                assert next(iterator).type == "response.created"
            if how == "iterator":
                del stream  # the iterator alone keeps it open and readable
                assert next(iterator).type == "response.in_progress"
                dropped = time.monotonic()
                del iterator
            else:
                del iterator
                dropped = time.monotonic()
                del stream
            _assert_connection_ended(server, dropped)
    finally:
        gc.enable()
    assert _fds() <= fds


def test_for_over_an_unheld_events_stream_reads_it_all(
    silent: Callable[..., SilentServer],
) -> None:
    """``for event in client.events(...)``: the loop's iterator holds the stream."""
    from responses_stream.testing import MockServer

    with MockServer() as mock, rs.Client(base_url=mock.url) as client:
        mock.add(_script(), delay=0.001)
        gc.collect()
        types = [event.type for event in client.events(model="m", input="x")]
    assert types[0] == "response.created" and types[-1] == "response.completed"


@pytest.mark.parametrize("ending", ["failed", "error"])
def test_stop_in_the_failure_callback_returns_the_snapshot_without_an_error(
    server: MockServer, ending: str
) -> None:
    """stop() in on_failed or on_error wins, as their documentation says: the call returns the
    snapshot (failed, with its error) instead of raising; without stop() it raises."""

    class Stops(rs.ResponseHandler):
        def on_failed(self, response: rs.Response) -> None:
            self.stop()

        def on_error(self, error: rs.events.ErrorEvent) -> None:
            self.stop()

    def script() -> Script:
        base = Script(seed=4).text("hi")
        return base.failed() if ending == "failed" else base.error()

    with rs.Client(base_url=server.url, max_retries=0) as client:
        server.add(script())
        final = client.stream(Stops(), model="m", input="x")
        assert final.output_text == "hi"
        if ending == "failed":
            assert final.status == "failed" and final.error is not None
        server.add(script())
        with pytest.raises((rs.ResponseFailedError, rs.StreamError)):
            client.stream(rs.ResponseHandler(), model="m", input="x")


def test_closing_from_another_thread_after_its_reader_ended_closes_at_once(
    server: MockServer,
) -> None:
    """events() read for a while on a worker thread that then ended, and left by the main
    thread: the connection is closed there and then (no reader will come back to do it)."""
    server.add(Script(seed=8).text("one two three four five six seven", chunk=2).completed())
    with rs.Client(base_url=server.url, max_retries=0) as client:
        stream = client.events(model="m", input="x")
        with stream:
            worker = threading.Thread(target=lambda: [next(iter(stream)) for _ in range(3)])
            worker.start()
            worker.join()
        core = stream._core
        assert core._pairs is None and core._http is None  # closed here, not at collection
        gc.collect()  # -W error: an unclosed socket found by the collector would fail the test


def test_a_run_stopped_before_the_next_turn_exists_returns_the_last_turn(
    server: MockServer,
) -> None:
    """stop() while turn 2's request waits to be sent again: no turn 2, and run() returns
    turn 1's response (the last one there is), not an empty one."""

    @rs.tool
    def lookup(x: int) -> str:
        """Look up."""
        return "42"

    server.add(Script(seed=2).function_call("lookup", {"x": 1}).completed())
    server.add_error(429, "slow down", code="rate_limit_exceeded", headers={"retry-after": "30"})
    handler = Backing(stop_in_callback=True)
    with rs.Client(api_key="sk-test", base_url=server.url, max_retries=3) as client:
        started = time.monotonic()
        final = client.run(handler, tools=[lookup], model="m", input="q")
    assert time.monotonic() - started < BOUND
    assert final.id is not None and final.status == "completed"
    assert [call.name for call in final.function_calls] == ["lookup"]
    assert len(server.requests) == 2 and handler.retries == [30.0]
