"""Time limits that hold whatever the server does: ``total`` bounds the whole call and
``idle`` the wait for the next event, against servers that trickle, keep alive or go quiet.

Each test's server is a raw socket on 127.0.0.1 that plays a scripted misbehaviour; every call
must end with APITimeoutError carrying the partial response, within the limit plus a margin.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any, Callable, Dict, Iterator, List

import pytest

import responses_stream as rs
from responses_stream.testing import Script

from .scripts import read_request

MARGIN = 1.5
"""How far past its limit a call may end (the watchdog, the scheduler, a loaded machine)."""

Behaviour = Callable[[socket.socket, int], None]
"""What the server does on its n-th connection (0-based), after reading the request."""


class TrickleServer:
    """A raw HTTP server on 127.0.0.1 that runs ``behaviour`` for each connection."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.requests: List[bytes] = []
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            n = len(self.requests)
            self.requests.append(b"")
            worker = threading.Thread(target=self._handle, args=(conn, n), daemon=True)
            worker.start()
            self._threads.append(worker)

    def _handle(self, conn: socket.socket, n: int) -> None:
        with conn:
            conn.settimeout(10)
            try:
                request = read_request(conn)
                if request is None:
                    return
                self.requests[n] = request[0]
                self.behaviour(conn, n)
            except OSError:
                pass  # the client went away: that is what these tests provoke

    def close(self) -> None:
        self._stop.set()
        self._accept.join(5)
        self.listener.close()
        for worker in self._threads:
            worker.join(10)


@pytest.fixture
def serve() -> Iterator[Callable[[Behaviour], TrickleServer]]:
    servers: List[TrickleServer] = []

    def start(behaviour: Behaviour) -> TrickleServer:
        servers.append(TrickleServer(behaviour))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nx-request-id: req_slow\r\n"
    b"Connection: close\r\n\r\n"
)
SCRIPT = Script(seed=5, background=True).text("partial words before the trouble").completed()


def _events(script: Script = SCRIPT) -> List[Dict[str, Any]]:
    return script.events()


def _sse(event: Dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def _first_events(n: int = 6) -> bytes:
    """The first ``n`` events (created ... some text deltas) of the script."""
    return b"".join(_sse(e) for e in _events()[:n])


def _sent_text(n: int = 6) -> str:
    return "".join(e["delta"] for e in _events()[:n] if e["type"] == "response.output_text.delta")


def _drip(conn: socket.socket, data: bytes, every: float, until: float = 30.0) -> None:
    """Send ``data`` one byte every ``every`` seconds, repeating it, for ``until`` seconds."""
    end = time.monotonic() + until
    while time.monotonic() < end:
        for byte in data:
            conn.sendall(bytes([byte]))
            time.sleep(every)
            if time.monotonic() >= end:
                return


def _timed(call: Callable[[], Any]) -> tuple:  # type: ignore[type-arg]
    start = time.monotonic()
    with pytest.raises(rs.APITimeoutError) as caught:
        call()
    return caught.value, time.monotonic() - start


def _stream(server: TrickleServer, timeout: rs.Timeout, **kwargs: Any) -> Callable[[], Any]:
    def call() -> Any:
        with rs.Client(api_key="sk-test", base_url=server.url, max_retries=0) as client:
            return client.stream(model="m", input="hi", timeout=timeout, **kwargs)

    return call


LIMITS = rs.Timeout(read=1.0, total=2.5)


@pytest.mark.slow
def test_total_bounds_a_stream_kept_alive_by_comments(serve: Any) -> None:
    """Keep-alive comments every 0.2 s reset the read timeout but not the total one."""

    def behaviour(conn: socket.socket, n: int) -> None:
        conn.sendall(SSE_HEAD + _first_events())
        end = time.monotonic() + 30
        while time.monotonic() < end:
            conn.sendall(b": keep-alive\n\n")
            time.sleep(0.2)

    server = serve(behaviour)
    error, took = _timed(_stream(server, LIMITS))
    assert took < LIMITS.total + MARGIN
    assert "total" in str(error)
    assert error.response is not None and error.response.output_text == _sent_text()
    assert error.request_id == "req_slow"


@pytest.mark.slow
def test_total_bounds_a_data_line_sent_one_byte_at_a_time(serve: Any) -> None:
    """A data line dripped a byte every 0.2 s never trips the read timeout; total ends it."""

    def behaviour(conn: socket.socket, n: int) -> None:
        conn.sendall(SSE_HEAD + _first_events())
        _drip(conn, _sse(_events()[6]), 0.2)

    server = serve(behaviour)
    error, took = _timed(_stream(server, LIMITS))
    assert took < LIMITS.total + MARGIN
    assert error.response.output_text == _sent_text()


@pytest.mark.slow
def test_total_bounds_trickled_status_line_and_headers(serve: Any) -> None:
    """The status line and headers sent a byte every 0.2 s end within the total limit."""

    def behaviour(conn: socket.socket, n: int) -> None:
        _drip(conn, SSE_HEAD + _first_events(), 0.2)

    server = serve(behaviour)
    error, took = _timed(_stream(server, LIMITS))
    assert took < LIMITS.total + MARGIN
    assert "total" in str(error)


@pytest.mark.slow
def test_total_bounds_a_trickled_error_body(serve: Any) -> None:
    """A 400 whose JSON body trickles in ends with APITimeoutError, not a hang."""
    body = json.dumps({"error": {"message": "bad " * 200, "type": "invalid_request_error"}})

    def behaviour(conn: socket.socket, n: int) -> None:
        head = (
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
            f"x-request-id: req_trickle\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        conn.sendall(head.encode())
        _drip(conn, body.encode(), 0.2)

    server = serve(behaviour)
    error, took = _timed(_stream(server, LIMITS))
    assert took < LIMITS.total + MARGIN
    assert error.request_id == "req_trickle"  # the server had answered: its id is kept


@pytest.mark.slow
def test_total_bounds_a_background_stream_whose_connections_are_all_cut(serve: Any) -> None:
    """Resumes and their back-off stay inside the total limit; the error has the partial."""

    def behaviour(conn: socket.socket, n: int) -> None:
        events = _events()
        if n == 0:
            conn.sendall(SSE_HEAD + b"".join(_sse(e) for e in events[:6]))
        else:
            after = events[5]["sequence_number"]
            conn.sendall(SSE_HEAD + b"".join(_sse(e) for e in events[after + 1 : after + 2]))
        # Connection: close, cut before the terminal event.

    server = serve(behaviour)
    limits = rs.Timeout(read=1.0, total=3.0)
    error, took = _timed(_stream(server, limits, background=True, max_resumes=50))
    assert took < limits.total + MARGIN
    assert error.response.output_text.startswith(_sent_text())
    assert len(server.requests) >= 2  # it did resume before the limit


def test_idle_ends_a_stream_whose_model_went_quiet_behind_keep_alives(serve: Any) -> None:
    """Keep-alive comments and keepalive events do not reset the idle limit."""

    def behaviour(conn: socket.socket, n: int) -> None:
        conn.sendall(SSE_HEAD + _first_events())
        end = time.monotonic() + 30
        while time.monotonic() < end:
            conn.sendall(b": ping\n\n" + _sse({"type": "keepalive", "sequence_number": 99}))
            time.sleep(0.2)

    server = serve(behaviour)
    limits = rs.Timeout(read=5.0, idle=1.5)
    start = time.monotonic()
    error, took = _timed(_stream(server, limits))
    assert 1.5 <= took < 1.5 + MARGIN, time.monotonic() - start
    assert "idle" in str(error)
    assert error.response.output_text == _sent_text()


def test_idle_counts_from_the_last_event_not_from_partial_bytes(serve: Any) -> None:
    """Bytes of an event that never completes do not reset the idle limit."""

    def behaviour(conn: socket.socket, n: int) -> None:
        conn.sendall(SSE_HEAD + _first_events())
        _drip(conn, _sse(_events()[6]), 0.1)

    server = serve(behaviour)
    error, took = _timed(_stream(server, rs.Timeout(read=5.0, idle=1.0)))
    assert took < 1.0 + MARGIN
    assert error.response.output_text == _sent_text()


@pytest.mark.slow
def test_events_that_keep_coming_never_trip_idle(serve: Any) -> None:
    """A slow but steady stream (an event every 0.3 s) completes under idle=1."""

    def behaviour(conn: socket.socket, n: int) -> None:
        conn.sendall(SSE_HEAD)
        for event in _events():
            conn.sendall(_sse(event))
            time.sleep(0.3 if event["type"] == "response.output_text.delta" else 0)

    server = serve(behaviour)
    with rs.Client(api_key="sk-test", base_url=server.url) as client:
        final = client.stream(model="m", input="hi", timeout=rs.Timeout(idle=1.0))
    assert (
        final.status == "completed"
        and final.output_text == SCRIPT.events()[-1]["response"]["output"][0]["content"][0]["text"]
    )


def test_idle_on_a_background_stream_resumes_instead_of_failing(serve: Any) -> None:
    """The first connection goes quiet; the stream resumes after its last event and
    completes, with every event delivered once."""
    events = _events()

    def behaviour(conn: socket.socket, n: int) -> None:
        if n == 0:
            conn.sendall(SSE_HEAD + b"".join(_sse(e) for e in events[:6]))
            end = time.monotonic() + 30
            while time.monotonic() < end:
                conn.sendall(b": still thinking\n\n")
                time.sleep(0.2)
        else:
            after = events[5]["sequence_number"]
            conn.sendall(SSE_HEAD + b"".join(_sse(e) for e in events[after + 1 :]))

    server = serve(behaviour)
    deltas: List[str] = []

    class Collect(rs.ResponseHandler):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            deltas.append(delta)

    with rs.Client(api_key="sk-test", base_url=server.url) as client:
        final = client.stream(
            Collect(), model="m", input="hi", background=True, timeout=rs.Timeout(idle=1.0)
        )
    assert final.status == "completed"
    expected = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert "".join(deltas) == final.output_text == expected
    assert b"starting_after=" in server.requests[1]
    assert final.metrics is not None and final.metrics.resumes == 1


@pytest.mark.parametrize("verb", ["stream", "stream_many", "stream_many_other"])
@pytest.mark.parametrize("limit", ["idle", "read"])
def test_time_in_slow_callbacks_is_no_silence_of_the_server(
    serve: Any, verb: str, limit: str
) -> None:
    """Events every 0.1 s, a limit of 0.6 s and a callback that takes 1.5 s (the stream's own,
    or in stream_many another stream's): the server never went quiet, so nothing times out."""

    def behaviour(conn: socket.socket, n: int) -> None:
        conn.sendall(SSE_HEAD)
        for event in _events():
            conn.sendall(_sse(event))
            time.sleep(0.1)

    class Slow(rs.ResponseHandler):
        def __init__(self, slow: bool) -> None:
            self.slow, self.deltas = slow, 0

        def on_text_delta(self, delta: str, snapshot: str) -> None:
            self.deltas += 1
            if self.slow and self.deltas == 2:
                time.sleep(1.5)

    server = serve(behaviour)
    timeout = rs.Timeout(**{"read": 0.6} if limit == "read" else {"idle": 0.6})
    request = {"model": "m", "input": "hi", "timeout": timeout}
    with rs.Client(api_key="sk-test", base_url=server.url, max_retries=0) as client:
        if verb == "stream":
            outcomes = [client.stream(Slow(True), **request)]
        else:
            slow_one = 0 if verb == "stream_many" else 1
            outcomes = client.stream_many([request, request], lambda i, p: Slow(i == slow_one))
    expected = SCRIPT.events()[-1]["response"]["output"][0]["content"][0]["text"]
    for outcome in outcomes:
        assert isinstance(outcome, rs.Response), outcome
        assert outcome.status == "completed" and outcome.output_text == expected


@pytest.mark.parametrize("limit", ["idle", "read"])
def test_a_silent_server_still_times_out_in_stream_many(serve: Any, limit: str) -> None:
    """The check above does not hide a server that really went quiet: the limit fires."""

    def behaviour(conn: socket.socket, n: int) -> None:
        conn.sendall(SSE_HEAD + _first_events())
        time.sleep(5)

    server = serve(behaviour)
    timeout = rs.Timeout(**{"read": 0.8} if limit == "read" else {"idle": 0.8})
    request = {"model": "m", "input": "hi", "timeout": timeout}
    start = time.monotonic()
    with rs.Client(api_key="sk-test", base_url=server.url, max_retries=0) as client:
        (outcome,) = client.stream_many([request])
    assert time.monotonic() - start < 0.8 + MARGIN
    assert isinstance(outcome, rs.APITimeoutError) and limit in str(outcome)
    assert outcome.response is not None and outcome.response.output_text == _sent_text()
