"""Chunked transfer decoding off the socket (responses_stream._body): the decoder alone,
with hypothesis over chunk layouts and read boundaries, then over real loopback HTTP:
connection reuse, trailers, extensions, gzip, cuts at every kind of place."""

from __future__ import annotations

import gzip
import socket
import time
from typing import Callable, Iterator, List, Optional, Tuple, Union

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import responses_stream as rs
from responses_stream import _body
from responses_stream._body import ChunkedBodyError, decode_chunked
from responses_stream.testing import Script

from .scripts import RawServer, read_request

# ------------------------------------------------------------------------------ the decoder


def encode(
    payloads: List[bytes],
    extensions: Optional[List[bytes]] = None,
    upper: bool = False,
    trailers: Tuple[bytes, ...] = (),
) -> Tuple[bytes, List[bool]]:
    """A chunked body, and for each of its bytes whether it is payload."""
    out, mask = bytearray(), []
    for i, data in enumerate(payloads):
        size = format(len(data), "X" if upper else "x").encode()
        ext = extensions[i] if extensions else b""
        head = size + ext + b"\r\n"
        out += head + data + b"\r\n"
        mask += [False] * len(head) + [True] * len(data) + [False, False]
    end = b"0\r\n" + b"".join(t + b"\r\n" for t in trailers) + b"\r\n"
    out += end
    mask += [False] * len(end)
    return bytes(out), mask


class Feed:
    """A read(n) over fixed pieces that checks nothing received is held back."""

    def __init__(self, body: bytes, cuts: List[int], mask: List[bool]) -> None:
        bounds = [*sorted({c for c in cuts if 0 < c < len(body)}), len(body)]
        starts = [0, *bounds[:-1]]
        self.pieces = [body[a:b] for a, b in zip(starts, bounds)]
        self.mask = mask
        self.handed = 0  # bytes handed out so far
        self.yielded = 0  # payload bytes the decoder has yielded so far
        self.finished = 0

    def read(self, size: int) -> bytes:
        # Before more bytes are read, every payload byte already received was passed on.
        assert self.yielded == sum(self.mask[: self.handed])
        if not self.pieces:
            return b""
        piece = self.pieces.pop(0)
        self.handed += len(piece)
        return piece

    def run(self) -> bytes:
        got = bytearray()
        for data in decode_chunked(self.read, 65536, self.finish):
            assert data  # never an empty yield
            got += data
            self.yielded = len(got)
        return bytes(got)

    def finish(self) -> None:
        self.finished += 1


chunk_lists = st.lists(st.binary(min_size=1, max_size=300), max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    payloads=chunk_lists,
    cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=30),
    upper=st.booleans(),
    with_ext=st.booleans(),
    trailers=st.lists(st.sampled_from([b"X-Trailer: 1", b"Server-Timing: x;dur=3"]), max_size=3),
)
def test_decoder_returns_every_payload_byte_whatever_the_read_boundaries(
    payloads: List[bytes], cuts: List[int], upper: bool, with_ext: bool, trailers: List[bytes]
) -> None:
    """Any chunk layout (extensions, upper-case hex, trailers), read in any pieces: the payload
    comes out whole, in order, and each piece's payload is passed on before the next read."""
    extensions = [b";name=value" if i % 2 else b" ;x" for i in range(len(payloads))]
    body, mask = encode(payloads, extensions if with_ext else None, upper, tuple(trailers))
    feed = Feed(
        body + b"NEXT RESPONSE",
        [c for c in cuts if c < len(body)] + [len(body)],
        mask + [False] * 13,
    )
    assert feed.run() == b"".join(payloads)
    assert feed.finished == 1
    # The decoder stops at the end of the body: the next response's bytes are not read.
    assert feed.pieces == [b"NEXT RESPONSE"]


@settings(max_examples=100, deadline=None)
@given(payloads=chunk_lists, data=st.data())
def test_a_body_cut_anywhere_raises_after_passing_on_what_arrived(
    payloads: List[bytes], data: st.DataObject
) -> None:
    """Cut before the last chunk's trailers end: ChunkedBodyError, after every payload byte
    that did arrive was passed on; finish() is not called."""
    body, mask = encode(payloads, trailers=(b"A: b",))
    cut = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    feed = Feed(body[:cut], [data.draw(st.integers(0, max(cut, 1)))], mask[:cut])
    got = bytearray()
    with pytest.raises(ChunkedBodyError):
        for piece in decode_chunked(feed.read, 65536, feed.finish):
            got += piece
            feed.yielded = len(got)
    assert bytes(got) == bytes(b for b, m in zip(body, mask[:cut]) if m)
    assert feed.finished == 0


@settings(max_examples=200, deadline=None)
@given(
    payloads=chunk_lists.filter(bool),
    data=st.data(),
    garbage=st.sampled_from([b"X!", b"\x00", b"-", b"0x", b"\n\n\n"]),
)
def test_damage_in_the_framing_raises_after_every_chunk_before_it_whatever_the_reads(
    payloads: List[bytes], data: st.DataObject, garbage: bytes
) -> None:
    """Bytes that are no chunk-size line, before chunk ``i``: ChunkedBodyError, after exactly
    the payload of the chunks before it, however the body is split into reads (a read that
    brings good chunks and the damage together must not lose the good ones)."""
    damaged = data.draw(st.integers(0, len(payloads) - 1))
    before, _ = encode(payloads[:damaged])
    before = before[: -len(b"0\r\n\r\n")]
    body = before + garbage + encode(payloads[damaged:])[0]
    cuts = data.draw(st.lists(st.integers(1, len(body)), max_size=6))
    feed = Feed(body, cuts, [False] * len(body))
    got = bytearray()
    with pytest.raises(ChunkedBodyError, match="malformed"):
        for piece in decode_chunked(feed.read, 65536, feed.finish):
            got += piece
    assert bytes(got) == b"".join(payloads[:damaged])
    assert feed.finished == 0


def test_one_read_brings_many_chunks_and_they_come_out_as_one_piece() -> None:
    """The point of decoding here: a burst of events is one read and one yield."""
    body, mask = encode([b"data: a\n\n", b"data: b\n\n", b"data: c\n\n"])
    feed = Feed(body, [], mask)
    pieces = list(decode_chunked(feed.read, 65536, feed.finish))
    assert pieces == [b"data: a\n\ndata: b\n\ndata: c\n\n"]


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nabc\r\n0\r\n\r\n",  # not hex
        b"-3\r\nabc\r\n0\r\n\r\n",  # sign
        b"0x3\r\nabc\r\n0\r\n\r\n",  # prefix int() would accept
        b"1_0\r\n" + b"a" * 16 + b"\r\n0\r\n\r\n",  # underscore int() would accept
        b"\r\nabc\r\n0\r\n\r\n",  # empty size line
        b"3\r\nabcX\r\n0\r\n\r\n",  # payload longer than its size
        b"1" * 17 + b"\r\n",  # size beyond 64 bits
    ],
)
def test_malformed_chunk_framing_is_an_error(body: bytes) -> None:
    feed = Feed(body, [], [False] * len(body))
    with pytest.raises(ChunkedBodyError, match="malformed"):
        feed.run()


def test_endless_size_line_and_endless_trailers_are_bounded() -> None:
    """Garbage without newlines, or trailers without end, is refused, not buffered forever."""
    long_line = b"a" * 70000
    with pytest.raises(ChunkedBodyError, match="too long"):
        list(decode_chunked(_reader([long_line]), 65536))
    many = b"0\r\n" + b"X: y\r\n" * 101 + b"\r\n"
    with pytest.raises(ChunkedBodyError, match="too many trailer"):
        list(decode_chunked(_reader([many]), 65536))
    with pytest.raises(ChunkedBodyError, match="trailer line too long"):
        list(decode_chunked(_reader([b"0\r\n" + b"T" * 70000]), 65536))


def test_bare_lf_line_ends_are_accepted() -> None:
    """Lenient like http.client: LF alone after sizes, payloads and trailers."""
    got = b"".join(decode_chunked(_reader([b"3\nabc\n2;x\nde\n0\nT: 1\n\n"]), 65536))
    assert got == b"abcde"


def test_remembered_size_lines_are_bounded_and_a_bad_line_is_refused_every_time() -> None:
    """Size lines are remembered to skip parsing them again; never more than a bounded set,
    and a malformed line (never remembered) is refused on every stream."""
    lines = [b"1;n=%d\r\nx\r\n" % n for n in range(_body._SIZES_CACHED + 500)]
    got = b"".join(decode_chunked(_reader([b"".join(lines) + b"0\r\n\r\n"]), 65536))
    assert got == b"x" * len(lines)
    assert len(_body._SIZES) <= _body._SIZES_CACHED
    for _ in range(2):
        with pytest.raises(ChunkedBodyError, match="bad chunk size"):
            list(decode_chunked(_reader([b"1x\r\na\r\n0\r\n\r\n"]), 65536))
    assert b"1x\r" not in _body._SIZES


def test_a_whole_chunk_without_its_crlf_is_refused() -> None:
    """The path for a chunk that arrived whole checks its CRLF like the piecewise one."""
    with pytest.raises(ChunkedBodyError, match="no CRLF after a chunk"):
        list(decode_chunked(_reader([b"3\r\nabcXY0\r\n\r\n"]), 65536))


def test_an_empty_read_after_the_caller_closed_ends_quietly() -> None:
    closed = [False]

    def read(size: int) -> bytes:
        closed[0] = True
        return b""

    assert list(decode_chunked(read, 65536, closed=lambda: closed[0])) == []


def _reader(pieces: List[bytes]) -> Callable[[int], bytes]:
    queue = list(pieces)
    return lambda size: queue.pop(0) if queue else b""


# ------------------------------------------------------------------- over a real socket


Reply = Union[bytes, List[Tuple[float, bytes]]]
"""A whole reply, or (seconds to wait, bytes to send) pieces."""


class RawHTTPServer:
    """Serves canned HTTP/1.1 responses, in order, on as many connections as clients open
    (a :class:`RawServer`); counts connections so keep-alive can be checked."""

    def __init__(self, replies: List[Reply]) -> None:
        self.replies = list(replies)
        self.requests = 0
        self._server = RawServer(self._connection)
        self.url = self._server.url

    @property
    def connections(self) -> int:
        return self._server.connections

    def _connection(self, conn: socket.socket) -> None:
        buf = b""
        while self.replies:
            request = read_request(conn, buf)
            if request is None:
                return
            buf = request[2]
            self.requests += 1
            reply = self.replies.pop(0)
            pieces = [(0.0, reply)] if isinstance(reply, bytes) else reply
            try:
                for delay, piece in pieces:
                    time.sleep(delay)
                    conn.sendall(piece)
            except OSError:
                return  # the client has gone
            if b"Connection: close" in pieces[0][1].split(b"\r\n\r\n", 1)[0]:
                return

    def close(self) -> None:
        self._server.close()


def chunked_reply(
    body_chunks: List[bytes], extra_headers: bytes = b"", tail: bytes = b"0\r\n\r\n"
) -> bytes:
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Transfer-Encoding: chunked\r\n" + extra_headers + b"\r\n"
    )
    body = b"".join(format(len(c), "X").encode() + b";ext=1\r\n" + c + b"\r\n" for c in body_chunks)
    return head + body + tail


def stream_times(server: RawHTTPServer, times: int, text: str) -> Tuple[int, int]:
    """Stream ``times`` times on one client, checking the text; the server's (requests,
    connections) afterwards."""
    with rs.Client(base_url=server.url, api_key="k") as client:
        for _ in range(times):
            assert client.stream(model="m", input="x").output_text == text
    return server.requests, server.connections


@pytest.fixture
def make_server() -> Iterator[Callable[[List[Reply]], RawHTTPServer]]:
    servers: List[RawHTTPServer] = []

    def make(replies: List[Reply]) -> RawHTTPServer:
        servers.append(RawHTTPServer(replies))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def test_two_streams_share_one_connection_after_trailers(
    make_server: Callable[[List[Reply]], RawHTTPServer],
) -> None:
    """After the last chunk and its trailers the connection goes back to the pool: the
    second stream (and the third) are sent on the same TCP connection."""
    script = Script(seed=3).text("Reuse the socket, please.", chunk=4).completed()
    reply = chunked_reply(script.to_sse_chunks(), tail=b"0\r\nX-Trailer: done\r\n\r\n")
    server = make_server([reply, reply, reply])
    assert stream_times(server, 3, "Reuse the socket, please.") == (3, 1)


def test_many_events_in_one_chunk_and_one_event_over_many_chunks(
    make_server: Callable[[List[Reply]], RawHTTPServer],
) -> None:
    """Chunk boundaries need not match event boundaries in either direction."""
    script = Script(seed=4).text("ünïcödé 漢字 🎉 over odd chunks", chunk=3).completed()
    body = script.to_bytes()
    odd = [body[:7], body[7:8], body[8:500], body[500:501], body[501:]]
    server = make_server([chunked_reply([b for b in odd if b])])
    with rs.Client(base_url=server.url, api_key="k") as client:
        final = client.stream(model="m", input="x")
    assert final.output_text == "ünïcödé 漢字 🎉 over odd chunks"


def test_gzip_chunked_body_is_still_decompressed(
    make_server: Callable[[List[Reply]], RawHTTPServer],
) -> None:
    """A content coding keeps urllib3's reader, which decompresses."""
    script = Script(seed=5).text("compressed text", chunk=5).completed()
    packed = gzip.compress(script.to_bytes())
    reply = chunked_reply([packed[:40], packed[40:]], extra_headers=b"Content-Encoding: gzip\r\n")
    server = make_server([reply])
    with rs.Client(base_url=server.url, api_key="k") as client:
        assert client.stream(model="m", input="x").output_text == "compressed text"


@pytest.mark.parametrize(
    "cut",
    ["inside-size-line", "inside-payload", "before-crlf", "before-last-chunk", "inside-trailers"],
)
def test_connection_closed_inside_chunk_framing_is_interrupted(
    make_server: Callable[[List[Reply]], RawHTTPServer], cut: str
) -> None:
    """The server closes the connection somewhere inside the chunked framing: the stream ends
    with StreamInterrupted (never a silent success), keeping the text that arrived."""
    script = Script(seed=6).text("partial text here", chunk=8).completed()
    events = script.to_sse_chunks()
    first_two = chunked_reply(events[:5], tail=b"")  # created .. first delta
    nxt = events[5]
    tails = {
        "inside-size-line": format(len(nxt), "x").encode()[:1],
        "inside-payload": format(len(nxt), "x").encode() + b"\r\n" + nxt[:10],
        "before-crlf": format(len(nxt), "x").encode() + b"\r\n" + nxt,
        "before-last-chunk": b"",
        "inside-trailers": b"0\r\nX-Trailer: 1\r\n",
    }
    head, body = first_two.split(b"\r\n\r\n", 1)
    reply = head.replace(b"\r\n", b"\r\nConnection: close\r\n", 1) + b"\r\n\r\n" + body
    server = make_server([reply + tails[cut]])
    with rs.Client(base_url=server.url, api_key="k", max_retries=0) as client:
        with pytest.raises(rs.StreamInterrupted) as info:
            client.stream(model="m", input="x")
    assert info.value.response is not None
    assert info.value.response.output_text.startswith("partial ")


def plain_reply(body: bytes, length: bool) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    if length:
        head += b"Content-Length: %d\r\n" % len(body)
    else:
        head += b"Connection: close\r\n"
    return head + b"\r\n" + body


def test_content_length_streams_share_one_connection(
    make_server: Callable[[List[Reply]], RawHTTPServer],
) -> None:
    """A Content-Length body read to its length leaves the connection for the next request."""
    script = Script(seed=7).text("sized body", chunk=3).completed()
    reply = plain_reply(script.to_bytes(), length=True)
    server = make_server([reply, reply])
    assert stream_times(server, 2, "sized body") == (2, 1)


def test_close_delimited_stream_then_a_new_connection(
    make_server: Callable[[List[Reply]], RawHTTPServer],
) -> None:
    """A body that ends with its connection: the next request opens a new one and works."""
    script = Script(seed=8).text("until close", chunk=3).completed()
    reply = plain_reply(script.to_bytes(), length=False)
    server = make_server([reply, reply])
    assert stream_times(server, 2, "until close") == (2, 2)


def test_content_length_body_cut_short_is_interrupted(
    make_server: Callable[[List[Reply]], RawHTTPServer],
) -> None:
    """Fewer bytes than Content-Length, then the connection closes: StreamInterrupted with the
    text that arrived, even though the cut falls between two whole events."""
    script = Script(seed=9).text("cut short here", chunk=5).completed()
    events = script.to_sse_chunks()
    body = script.to_bytes()
    sent = b"".join(events[:5])
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
    reply = head + b"Content-Length: %d\r\n\r\n" % len(body) + sent
    server = make_server([reply])
    with rs.Client(base_url=server.url, api_key="k", max_retries=0) as client:
        with pytest.raises(rs.StreamInterrupted, match="short of its Content-Length") as info:
            client.stream(model="m", input="x")
    assert info.value.response is not None
    assert info.value.response.output_text == "cut s"


def test_end_of_body_in_a_later_read_still_reuses_the_connection(
    make_server: Callable[[List[Reply]], RawHTTPServer],
) -> None:
    """The final chunk comes 20 ms after the terminal event (and a trailing data: [DONE]): the
    stream waits for it briefly and the connection is reused."""
    script = Script(seed=10).text("late end", chunk=3).completed()
    body = chunked_reply([*script.to_sse_chunks(), b"data: [DONE]\n\n"], tail=b"")
    reply: Reply = [(0.0, body), (0.02, b"0\r\n\r\n")]
    server = make_server([reply, reply])
    assert stream_times(server, 2, "late end") == (2, 1)


def test_a_body_that_does_not_end_costs_only_the_connection(
    make_server: Callable[[List[Reply]], RawHTTPServer],
) -> None:
    """No final chunk for 3 s after the terminal event: the stream returns at once with the
    completed response, and the next request opens a new connection."""
    script = Script(seed=11).text("slow end", chunk=3).completed()
    body = chunked_reply(script.to_sse_chunks(), tail=b"")
    server = make_server(
        [[(0.0, body), (3.0, b"0\r\n\r\n")], chunked_reply(script.to_sse_chunks())]
    )
    with rs.Client(base_url=server.url, api_key="k") as client:
        start = time.monotonic()
        assert client.stream(model="m", input="x").output_text == "slow end"
        assert time.monotonic() - start < 2.0
        assert client.stream(model="m", input="x").output_text == "slow end"
    assert (server.requests, server.connections) == (2, 2)


def test_bytes_after_the_terminal_event_are_not_delivered_and_cost_the_connection(
    make_server: Callable[[List[Reply]], RawHTTPServer],
) -> None:
    """An event after response.completed is never delivered; a body that keeps going past
    the drain limit without ending is dropped with its connection, and nothing fails."""
    script = Script(seed=12).text("extra", chunk=3).completed()
    events = script.to_sse_chunks()
    junk = b"event: response.output_text.delta\ndata: " + b"x" * 70000 + b"\n\n"
    late = chunked_reply([junk], tail=b"").split(b"\r\n\r\n", 1)[1]
    reply: Reply = [(0.0, chunked_reply(events, tail=b"")), (0.02, late), (3.0, b"0\r\n\r\n")]
    server = make_server([reply, reply])
    seen: List[str] = []

    class Deltas(rs.ResponseHandler):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            seen.append(delta)

    with rs.Client(base_url=server.url, api_key="k") as client:
        for _ in range(2):
            assert client.stream(Deltas(), model="m", input="x").output_text == "extra"
    assert "".join(seen) == "extra" * 2
    assert (server.requests, server.connections) == (2, 2)


def test_a_body_that_trickles_after_the_terminal_event_is_not_waited_for(
    make_server: Callable[[List[Reply]], RawHTTPServer],
) -> None:
    """Keep-alive comments every 20 ms after the terminal event (each read well within the
    per-read wait): the drain gives up after its total bound, not after 64 KiB of comments."""
    script = Script(seed=13).text("trickle", chunk=3).completed()
    comment = chunked_reply([b": keep-alive\n\n"], tail=b"").split(b"\r\n\r\n", 1)[1]
    pieces: Reply = [(0.0, chunked_reply(script.to_sse_chunks(), tail=b""))]
    pieces += [(0.02, comment)] * 150  # 3 s of comments
    server = make_server([pieces])
    with rs.Client(base_url=server.url, api_key="k") as client:
        start = time.monotonic()
        assert client.stream(model="m", input="x").output_text == "trickle"
        assert time.monotonic() - start < 1.5
