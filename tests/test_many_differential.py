"""``stream_many`` against ``stream()`` on the same hostile deliveries: any recorded stream,
framed any way (chunked in random chunks, Content-Length, close-delimited, gzip), under odd
heads (HTTP/1.0, 100 Continue, error statuses, JSON), cut, reset, stalled or corrupted at any
byte, and written in random pieces. ``stream_many`` runs three such requests at once; each
must end the way ``stream()`` ends: the same outcome (the final response, or the same error
with the same partial response and cause) and the same callbacks with the same values.
``events_many`` is held to ``events()`` the same way (each stream's events and outcome).

``stream()`` is the reference: its byte layers are checked against the transcripts and
sseclient-py elsewhere; here the selector's non-blocking reads, its HTTP head parser and its
per-stream state machine must not change a single result."""

from __future__ import annotations

import dataclasses
import gzip
import random
import socket
import struct
import time
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import responses_stream as rs

from .scripts import ALL_TRANSCRIPTS, RawServer, Recorder, requests_on, transcript_id

MODEL = "gpt-5-mini"


@dataclasses.dataclass
class Delivery:
    """What the server sends for each POST: ``head``, then ``pieces`` one ``send`` each (a
    short pause between them, so they tend to arrive in separate reads), then ``end``:
    ``keep`` (the connection stays open, for the next request or for a stall), ``close`` or
    ``reset``."""

    head: bytes
    pieces: List[bytes]
    end: str


class DeliveryServer(RawServer):
    """Serves the current :class:`Delivery` to every POST (a 404 to anything else)."""

    def __init__(self) -> None:
        self.delivery = Delivery(b"", [], "close")
        super().__init__(self._deliver)

    def _deliver(self, sock: socket.socket) -> None:
        sock.settimeout(10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for head, _ in requests_on(sock):
            delivery = self.delivery
            if not head.startswith(b"POST "):
                sock.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                continue
            sock.sendall(delivery.head)
            for piece in delivery.pieces:
                time.sleep(0.001)
                sock.sendall(piece)
            if delivery.end == "reset":
                # Unread bytes die with a reset: give the client time to read them,
                # so both runs see the same bytes before it.
                time.sleep(0.2)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if delivery.end == "close":
                return


@pytest.fixture(scope="module")
def delivery_server() -> Iterator[DeliveryServer]:
    server = DeliveryServer()
    yield server
    server.close()


ERROR_BODY = (
    b'{"error": {"message": "no such model", "type": "invalid_request_error", "code": null}}'
)


@dataclasses.dataclass
class Head:
    """The status line and the fields that vary: most are a plain 200 event stream."""

    status: bytes = b"200 OK"
    version: bytes = b"HTTP/1.1"
    content_type: bytes = b"text/event-stream"
    interim: bool = False  # a "100 Continue" first
    error_body: bool = False  # the body is a JSON error, not the stream
    gzip: bool = False  # Content-Encoding: gzip


heads = st.one_of(
    st.just(Head()),
    st.builds(
        Head,
        status=st.sampled_from(
            [
                b"200 OK",
                b"200 ",
                b"201 Created",
                b"400 Bad Request",
                b"404 x",
                b"429 Too Many Requests",
                b"500 Oops",
                b"503 Busy",
            ]
        ),
        version=st.sampled_from([b"HTTP/1.1", b"HTTP/1.0"]),
        content_type=st.sampled_from(
            [b"text/event-stream", b"text/event-stream; charset=utf-8", b"application/json", b""]
        ),
        interim=st.booleans(),
        error_body=st.booleans(),
    ),
    st.builds(Head, gzip=st.just(True)),
)


def frame(body: bytes, framing: str, sizes: List[int], shape: Head = Head()) -> Tuple[bytes, bytes]:
    """The head and the wire bytes of ``body`` (or of an error, see :class:`Head`): chunked
    (chunks of ``sizes`` in turn), with a Content-Length, or ended by closing the connection."""
    if shape.error_body:
        body = ERROR_BODY
    head = b"HTTP/1.1 100 Continue\r\n\r\n" if shape.interim else b""
    head += shape.version + b" " + shape.status + b"\r\nx-request-id: req_diff\r\n"
    if shape.content_type:
        head += b"Content-Type: " + shape.content_type + b"\r\n"
    if shape.gzip:
        head += b"Content-Encoding: gzip\r\n"
        body = gzip.compress(body, mtime=0)
    if framing == "chunked":
        wire, at, turn = [], 0, 0
        while at < len(body):
            chunk = body[at : at + sizes[turn % len(sizes)]]
            wire.append(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            at += len(chunk)
            turn += 1
        return head + b"Transfer-Encoding: chunked\r\n\r\n", b"".join(wire) + b"0\r\n\r\n"
    if framing == "length":
        return head + b"Content-Length: %d\r\n\r\n" % len(body), body
    return head + b"Connection: close\r\n\r\n", body


def pieces_of(wire: bytes, cuts: List[float]) -> List[bytes]:
    """``wire`` split at the fractions ``cuts`` of its length."""
    points = sorted({int(f * len(wire)) for f in cuts} | {0, len(wire)})
    return [wire[a:b] for a, b in zip(points, points[1:]) if b > a]


def plain(value: Any) -> Any:
    """``value`` comparable across two runs: exceptions as (type, message, partial response)."""
    if isinstance(value, BaseException):
        partial = getattr(value, "response", None)
        return (
            type(value).__name__,
            str(value),
            partial.to_dict() if isinstance(partial, rs.Response) else partial,
            plain(value.__cause__) if value.__cause__ is not None else None,
        )
    if isinstance(value, rs.Response):
        return ("Response", value.to_dict())
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def run_both(url: str, read: float = 2, copies: int = 3) -> Tuple[Any, List[Any]]:
    """The outcome and the callbacks of ``stream()``, then of each of ``copies`` requests run
    together by one ``stream_many`` (every one gets the same delivery), with ``read`` as the
    read timeout."""
    options: Dict[str, Any] = {"timeout": rs.Timeout(connect=5, read=read), "max_retries": 0}
    recorder = Recorder()
    with rs.Client(api_key="sk-test", base_url=url, **options) as client:
        try:
            outcome: Any = client.stream(recorder, model=MODEL, input="hi")
        except rs.errors.ResponsesStreamError as exc:
            outcome = exc
    reference = (plain(outcome), plain(recorder.calls))
    recorders = [Recorder() for _ in range(copies)]
    with rs.Client(api_key="sk-test", base_url=url, **options) as client:
        outcomes = client.stream_many(
            [{"model": MODEL, "input": "hi"}] * copies, lambda i, p: recorders[i]
        )
    return reference, [(plain(o), plain(r.calls)) for o, r in zip(outcomes, recorders)]


def run_pull(url: str, read: float = 2, copies: int = 2) -> Tuple[Any, List[Any]]:
    """The outcome and the events of ``events()``, then of each of ``copies`` requests pulled
    together from one ``events_many``."""
    options: Dict[str, Any] = {"timeout": rs.Timeout(connect=5, read=read), "max_retries": 0}
    events: List[Any] = []
    with rs.Client(api_key="sk-test", base_url=url, **options) as client:
        try:
            with client.events(model=MODEL, input="hi") as stream:
                events.extend(event.to_dict() for event in stream)
            outcome: Any = stream.response
        except rs.errors.ResponsesStreamError as exc:
            outcome = exc
    reference = (plain(outcome), events)
    pulled: List[List[Any]] = [[] for _ in range(copies)]
    with rs.Client(api_key="sk-test", base_url=url, **options) as client:
        with client.events_many([{"model": MODEL, "input": "hi"}] * copies) as streams:
            for index, event in streams:
                pulled[index].append(event.to_dict())
        outcomes = streams.outcomes
    return reference, [(plain(o), e) for o, e in zip(outcomes, pulled)]


TRANSCRIPTS = {transcript_id(path): path.read_bytes() for path in ALL_TRANSCRIPTS}


@st.composite
def deliveries(draw: Any) -> Tuple[Delivery, float]:
    """Any recorded stream, framed any way, with any fault, in random pieces; and the read
    timeout to use (short when the delivery stalls)."""
    name = draw(st.sampled_from(sorted(TRANSCRIPTS)))
    framing = draw(st.sampled_from(["chunked", "chunked", "length", "close"]))
    shape = draw(heads)
    sizes = draw(st.lists(st.integers(1, 3000), min_size=1, max_size=4))
    cuts = draw(st.lists(st.floats(0, 1), max_size=5))
    fault = draw(
        st.sampled_from(["none", "none", "cut", "reset", "stall", "flip", "insert", "drop"])
    )
    head, wire = frame(TRANSCRIPTS[name], framing, sizes, shape)
    where = int(draw(st.floats(0, 1)) * len(wire))
    chance = random.Random(draw(st.integers(0, 2**16)))
    end = "close" if framing == "close" else "keep"
    if fault in ("cut", "stall"):
        wire, end = wire[:where], "close" if fault == "cut" else "keep"
    elif fault == "reset":
        # Bytes not yet read when the reset comes are lost: keep them few enough to be read
        # during the pause before it (see DeliveryServer), or the runs would differ by timing.
        wire, end = wire[: min(where, 30_000)], "reset"
    elif fault == "flip":
        wire = wire[:where] + bytes([chance.randrange(256)]) + wire[where + 1 :]
    elif fault == "insert":
        wire = wire[:where] + bytes(chance.randrange(256) for _ in range(3)) + wire[where:]
    elif fault == "drop":
        wire = wire[:where] + wire[where + chance.randrange(1, 40) :]
    if end == "keep" and fault not in ("none", "stall"):
        end = "close"  # a damaged body may never end on its own: do not wait for the timeout
    return Delivery(head, pieces_of(wire, cuts), end), 0.3 if fault == "stall" else 2


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=deliveries())
@pytest.mark.parametrize("run", [run_both, run_pull], ids=["stream_many", "events_many"])
def test_many_ends_every_delivery_the_way_one_stream_does(
    delivery_server: DeliveryServer, run: Callable[..., Any], case: Tuple[Delivery, float]
) -> None:
    """Push style (``stream_many``: outcome and callbacks of each stream) and pull style
    (``events_many``: outcome and events of each stream), against ``stream()`` and
    ``events()`` on the same delivery."""
    delivery_server.delivery, read = case
    reference, many = run(delivery_server.url, read=read)
    for outcome, seen in many:
        assert outcome == reference[0]
        assert seen == reference[1]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TRANSCRIPTS))
def test_every_transcript_starting_in_one_byte_pieces_ends_the_same_way(
    delivery_server: DeliveryServer, name: str
) -> None:
    """The head and the first events one byte per read (every piece of state the selector keeps
    between reads, from the status line on), then the rest at once."""
    head, wire = frame(TRANSCRIPTS[name], "chunked", [97, 5, 1024])
    whole = head + wire
    pieces = [whole[i : i + 1] for i in range(600)] + [whole[600:]]
    delivery_server.delivery = Delivery(b"", pieces, "keep")
    reference, many = run_both(delivery_server.url, copies=1)
    assert many == [reference]
    # The whole body came: it ends as it was recorded, not with a transport error.
    assert reference[0][0] not in ("StreamInterrupted", "ProtocolError", "APITimeoutError")


@pytest.mark.parametrize("run", [run_both, run_pull], ids=["stream_many", "events_many"])
def test_a_time_limit_never_completes_an_event_cut_short(
    delivery_server: DeliveryServer, run: Callable[..., Any]
) -> None:
    """A close-delimited body whose last event has no blank line after it yet, then silence:
    the read limit ends it, and that event, incomplete, is not applied (it was, in
    stream_many, whose limit shuts the socket: the end of the body looked like a close).
    Found by the test above."""
    from responses_stream.testing import Script

    body = Script(seed=4).text("nearly done").completed().to_bytes()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    delivery_server.delivery = Delivery(head, [body.rstrip(b"\n")], "keep")
    reference, many = run(delivery_server.url, read=0.3)
    assert reference[0][0] == "APITimeoutError"
    assert reference[0][2]["status"] == "in_progress"  # response.completed never ended
    for outcome, seen in many:
        assert outcome == reference[0]
        assert seen == reference[1]


def test_an_idle_limit_never_completes_an_event_cut_short(delivery_server: DeliveryServer) -> None:
    """The same with stream() and its idle limit, which the watchdog enforces by shutting
    the socket down: the end it makes is an error, not the body's end."""
    from responses_stream.testing import Script

    body = Script(seed=4).text("nearly done").completed().to_bytes()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    delivery_server.delivery = Delivery(head, [body.rstrip(b"\n")], "keep")
    timeout = rs.Timeout(connect=5, read=30, idle=0.3)
    with rs.Client(api_key="sk-test", base_url=delivery_server.url, timeout=timeout) as client:
        with pytest.raises(rs.errors.APITimeoutError, match="idle") as caught:
            client.stream(model=MODEL, input="hi")
    assert caught.value.response is not None
    assert caught.value.response.status == "in_progress"
