"""Bounded memory and CPU under hostile bodies (responses_stream._sse, responses_stream._body).

No SSE line, comment, field or event grows past ``max_event_bytes`` (comments past
``MAX_COMMENT_BYTES``): the framer raises ProtocolError once the block being received passes
the limit, having buffered about the limit. A compressed body expands at most ``DECODE_STEP``
bytes at a time, so a gzip bomb meets the same limit. A block of a million ``data:`` lines
parses in linear time, with sseclient-py's field rules (checked against sseclient-py itself).

The framer is tested directly with small limits. The hostile bodies go over real HTTP, from a
raw-socket server on 127.0.0.1 to a client in a subprocess whose address space is capped at
1 GiB over its baseline, so a regression fails there instead of swapping the machine; the
subprocess prints what it measured (time to the error, peak RSS: run pytest with ``-s``).
Time bounds are generous, and the linear-time check counts instructions under callgrind.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import pytest
import sseclient
import urllib3.exceptions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import responses_stream as rs
from responses_stream import _sse
from responses_stream._inflate import DECODE_STEP, inflate
from responses_stream._sse import (
    COMMENT,
    DEFAULT_MAX_EVENT_BYTES,
    MAX_COMMENT_BYTES,
    FramedSSEClient,
)
from responses_stream.testing import MockServer, Script

from .scripts import request_head

MiB = 1024 * 1024
REPO = Path(__file__).resolve().parents[1]


class Source:
    """An iterator over ``pieces`` that counts the bytes the framer pulled from it."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        self._pieces = iter(pieces)
        self.pulled = 0

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        piece = next(self._pieces)
        self.pulled += len(piece)
        return piece


def endless(prefix: bytes, filler: bytes = b"x" * 1000) -> Iterator[bytes]:
    yield prefix
    while True:
        yield filler


def pieces_of(data: bytes, size: int) -> List[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def outcome(
    chunks: Iterable[bytes], limit: Optional[int] = DEFAULT_MAX_EVENT_BYTES
) -> Tuple[List[Tuple[str, str]], Optional[str]]:
    """The messages parsed, and the ProtocolError's message if one ended them."""
    got: List[Tuple[str, str]] = []
    try:
        for message in FramedSSEClient(iter(chunks), max_event_bytes=limit).messages():
            got.append(message)
    except rs.ProtocolError as exc:
        return got, str(exc)
    return got, None


def reference(body: bytes) -> List[Tuple[str, str]]:
    """sseclient-py's own parser over the whole body."""
    return [(e.event, e.data) for e in sseclient.SSEClient(iter([body])).events()]


# ------------------------------------------------------------------- the framer's limits


@pytest.mark.parametrize(
    "prefix, what",
    [
        (b"data: ", "data: line"),
        (b"event: ", "event: line"),
        (b"id: ", "id: line"),
        (b"retry:", "retry: line"),
        (b"data: 1\ndata: ", "event"),
        (b"unknown", "event"),
    ],
)
def test_an_endless_line_ends_once_past_the_limit(prefix: bytes, what: str) -> None:
    source = Source(endless(b"data: before\n\n" + prefix))
    messages = []
    with pytest.raises(rs.ProtocolError) as info:
        for message in FramedSSEClient(source, max_event_bytes=10_000).messages():
            messages.append(message)
    assert str(info.value) == f"an SSE {what} is larger than max_event_bytes (10000 bytes)"
    assert messages == [("message", "before")]  # what came before is delivered first
    assert source.pulled <= 10_000 + 1000 + 14 + len(prefix)  # at most one read past it
    assert info.value.data.startswith(prefix[:4])  # a sample of the offending bytes


def test_an_endless_comment_ends_at_the_comment_limit() -> None:
    source = Source(endless(b": "))
    with pytest.raises(rs.ProtocolError) as info:
        for _ in FramedSSEClient(source).messages():
            pass
    assert str(info.value) == "an SSE comment is larger than max_comment_bytes (65536 bytes)"
    assert source.pulled <= MAX_COMMENT_BYTES + 1000 + 2


def test_endless_comment_lines_in_one_block_end_at_the_event_limit() -> None:
    source = Source(endless(b"", b": ping\n" * 100))
    with pytest.raises(rs.ProtocolError, match="an SSE event is larger than max_event_bytes"):
        for _ in FramedSSEClient(source, max_event_bytes=100_000).messages():
            pass
    assert source.pulled <= 100_000 + 700


@pytest.mark.parametrize("read", [1, 7, 1000, 1 << 30])
def test_an_event_of_exactly_the_limit_passes_and_one_byte_more_fails(read: int) -> None:
    """The limit counts an event's lines and the line ends between them (CRLF as one byte),
    not the blank line after it, whatever the reads."""
    limit = 2000
    exact = b"data: a\r\nevent: e\r\ndata: " + b"x" * (limit - 23) + b"\r\n\r\n"
    assert len(exact.replace(b"\r\n", b"\n")) - 2 == limit
    assert outcome(pieces_of(exact, read), limit) == ([("e", "a\n" + "x" * (limit - 23))], None)
    over = exact.replace(b"xx", b"xxx", 1)
    assert outcome(pieces_of(over, read), limit) == (
        [],
        f"an SSE event is larger than max_event_bytes ({limit} bytes)",
    )
    one_line = b"data: " + b"y" * (limit - 6) + b"\n\n"
    assert outcome(pieces_of(one_line, read), limit) == ([("message", "y" * (limit - 6))], None)
    assert outcome(pieces_of(b"data: y" + one_line[5:], read), limit)[1] == (
        f"an SSE data: line is larger than max_event_bytes ({limit} bytes)"
    )


@pytest.mark.parametrize("read", [1000, 1 << 30])
def test_comments_are_bounded_on_their_own(read: int) -> None:
    """on_keep_alive never gets more than MAX_COMMENT_BYTES; a long comment line is refused
    even among fields, whose event is otherwise within the limit."""
    text = "c" * (MAX_COMMENT_BYTES - 1)
    assert outcome(pieces_of(f":{text}\n\n".encode(), read)) == ([(COMMENT, "#" + text)], None)
    too_long = "an SSE comment is larger than max_comment_bytes (65536 bytes)"
    for body in (f":{text}c\n\n", f":{text[:100]}\n:{text}\n\n", f"data: x\n:{text}c\n\n"):
        assert outcome(pieces_of(body.encode(), read)) == ([], too_long)
    assert outcome(pieces_of(f"data: x\n:{text}\n\n".encode(), read)) == ([("message", "x")], None)


def test_a_read_larger_than_the_limit_may_hold_many_small_events() -> None:
    body = b"".join(b"data: %d\n\n" % i for i in range(1000))
    got, error = outcome([body], 20)
    assert error is None and len(got) == 1000
    assert outcome([body + b"data: " + b"z" * 15 + b"\n\n"], 20)[1] is not None


def test_no_limit() -> None:
    big = b"x" * (3 * MAX_COMMENT_BYTES)
    body = b"data: " + big + b"\n\n:" + big + b"\n\n"
    assert outcome(pieces_of(body, 4096), None) == (
        [("message", big.decode()), (COMMENT, "#" + big.decode())],
        None,
    )


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10"])
def test_max_event_bytes_is_checked(bad: Any) -> None:
    with pytest.raises(rs.ConfigurationError, match="max_event_bytes"):
        FramedSSEClient(iter(()), max_event_bytes=bad)


# --------------------------------------------------- sseclient-py's rules, in linear time

_VALUE_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\ufeff")
_NAMES = ["data", "event", "id", "retry", "", "dat", "datas", "Data", " data", "event "]
_lines = st.one_of(
    st.tuples(
        st.sampled_from(_NAMES),
        st.sampled_from(["", ":", ": ", ":  "]),
        st.text(_VALUE_CHARS, max_size=10),
    ).map("".join),
    st.text(_VALUE_CHARS, max_size=10).map(lambda v: ":" + v),  # a comment
    st.text(st.characters(whitelist_categories=("Zs", "Cc"), blacklist_characters="\r\n")),
).filter(bool)
_blocks = st.lists(st.lists(_lines, min_size=1, max_size=6), min_size=1, max_size=6)


def _body(blocks: List[List[str]], eol: str, blank_lines: int, tail: List[str]) -> bytes:
    text = "".join(eol.join(lines) + eol * (2 + blank_lines) for lines in blocks)
    return (text + eol.join(tail)).encode()


def _split(data: bytes, cuts: List[int]) -> List[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


_cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _blocks,
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.integers(0, 2),
    st.lists(_lines, max_size=3),
    _cuts,
)
def test_any_split_gives_what_sseclient_py_gives_on_the_whole_body(
    blocks: List[List[str]], eol: str, blank_lines: int, tail: List[str], cuts: List[int]
) -> None:
    body = _body(blocks, eol, blank_lines, tail)
    got, error = outcome(_split(body, cuts))
    assert error is None
    assert [m for m in got if m[0] != COMMENT] == reference(body)
    assert outcome([body]) == (got, None)  # comments too, whatever the reads


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _blocks,
    st.sampled_from(["\n", "\r\n"]),
    st.lists(_lines, max_size=3),
    _cuts,
    st.integers(1, 120),
    st.integers(1, 40),
)
def test_where_a_limit_stops_a_body_does_not_depend_on_the_reads(
    blocks: List[List[str]],
    eol: str,
    tail: List[str],
    cuts: List[int],
    limit: int,
    comment_limit: int,
) -> None:
    """With both limits small: the same messages, then an error or not, for every split; and
    the messages are the unlimited parse's, up to the block that broke a limit."""
    body = _body(blocks, eol, 0, tail)
    saved = _sse.MAX_COMMENT_BYTES
    _sse.MAX_COMMENT_BYTES = comment_limit
    try:
        whole = outcome([body], limit)
        split = outcome(_split(body, cuts), limit)
    finally:
        _sse.MAX_COMMENT_BYTES = saved
    assert split[0] == whole[0] and (split[1] is None) == (whole[1] is None)
    unlimited, _ = outcome([body], None)
    if whole[1] is None:
        assert whole[0] == unlimited
    else:
        assert whole[0] == unlimited[: len(whole[0])]


def test_field_rules_at_the_edges() -> None:
    body = (
        b"data\n\n"  # no colon: an empty value
        b"data:\ndata:  two spaces\n\n"
        b"event: a\nevent:\ndata: x\n\n"  # the last event: wins; empty means message
        b"event: only\nid: 1\n\n"  # no data: not dispatched
        b": c\ndata:x\nretry: 5\nignored: y\n  \ndatax: z\n\n"
    )
    expected = [("message", ""), ("message", "\n two spaces"), ("message", "x")]
    expected.append(("message", "x"))
    assert outcome([body]) == (expected, None)
    assert reference(body) == expected


def test_a_million_data_lines_parse_in_linear_time() -> None:
    """A generous bound (about 0.3 s here; sseclient-py's parser takes minutes)."""
    n = 1_000_000
    body = b"event: big\n" + b"data: x\n" * n + b":c\n\n"
    started = time.process_time()
    got, error = outcome(pieces_of(body, 65536))
    took = time.process_time() - started
    assert error is None and got == [("big", "\n".join(["x"] * n))]
    assert took < 10, took


_WORK = textwrap.dedent(
    """
    import sys, types
    pkg = types.ModuleType("responses_stream")  # its modules, not the package's imports
    pkg.__path__ = [sys.argv[1]]
    sys.modules["responses_stream"] = pkg
    from responses_stream._sse import FramedSSEClient
    n = int(sys.argv[2])
    body = b"event: x\\n" + b"data: %s\\n" * n + b": c\\nid: 1\\n\\n"
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    for name, data in FramedSSEClient(iter(chunks)).messages():
        assert name == "x" and len(data) == (len(sys.argv[3]) + 1) * n - 1
    """
)


def _instructions(lines: int) -> int:
    """Instructions (callgrind) of a process that parses one event of ``lines`` data lines."""
    script = _WORK.replace("%s", "abc")
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
    cmd += ["-c", script, str(REPO / "responses_stream"), str(lines), "abc"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    for line in done.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1])
    raise AssertionError(done.stderr[-2000:])


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="needs valgrind")
def test_twice_the_data_lines_is_twice_the_work() -> None:
    """Instructions counted by callgrind (deterministic, unlike time): the extra work for 50k,
    then 100k more data lines doubles (a quadratic parser would quadruple it)."""
    with ThreadPoolExecutor(3) as pool:
        w1, w2, w4 = pool.map(_instructions, [50_000, 100_000, 200_000])
    ratio = (w4 - w2) / (w2 - w1)
    print(f"instructions: {w1} {w2} {w4}; ratio of increments {ratio:.2f}")
    assert 1.6 < ratio < 2.6, (w1, w2, w4)


# ------------------------------------------------------------------- compressed bodies


def _gzip_bomb(expanded: int, pattern: bytes = b"\0") -> Iterator[bytes]:
    """A gzip body expanding to ``expanded`` bytes of ``pattern``, made a piece at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = pattern * (MiB // len(pattern))
    for _ in range(expanded // len(block)):
        out = packer.compress(block)
        if out:
            yield out
    yield packer.flush()


def test_inflating_makes_bounded_steps_and_loses_nothing() -> None:
    compressed = b"".join(_gzip_bomb(64 * MiB))
    assert len(compressed) * 1000 < 64 * MiB  # expands more than 1,000 times
    steps = 0
    total = 0
    for piece in inflate(iter(pieces_of(compressed, 65536)), "gzip"):
        assert 0 < len(piece) <= DECODE_STEP
        assert piece.count(0) == len(piece)
        steps += 1
        total += len(piece)
    assert total == 64 * MiB and steps >= 64 * MiB // DECODE_STEP


@pytest.mark.parametrize("read", [1, 3, 65536])
def test_every_gzip_and_deflate_form_inflates(read: int) -> None:
    data = os.urandom(3000) + b"y" * 300_000
    raw = zlib.compressobj(wbits=-15)
    forms = {
        "gzip": gzip.compress(data),
        "x-gzip": gzip.compress(data[:10]) + gzip.compress(data[10:]),  # two members
        "deflate": zlib.compress(data),  # zlib-wrapped, as the RFC means it
    }
    for coding, packed in forms.items():
        assert b"".join(inflate(iter(pieces_of(packed, read)), coding)) == data, coding
    bare = raw.compress(data) + raw.flush()  # raw deflate, as some servers send it
    assert b"".join(inflate(iter(pieces_of(bare, read)), "deflate")) == data
    garbage_after = gzip.compress(data) + gzip.compress(b"!") + b"not gzip"
    assert b"".join(inflate(iter(pieces_of(garbage_after, read)), "gzip")) == data + b"!"
    with pytest.raises(urllib3.exceptions.DecodeError, match="content-encoding: gzip"):
        list(inflate(iter(pieces_of(b"not gzip at all", read)), "gzip"))


@settings(max_examples=100, deadline=None)
@given(at=st.integers(0, 10**6), read=st.sampled_from([7, 1000, 65536]), mask=st.integers(1, 255))
def test_what_comes_before_damaged_gzip_is_delivered_whatever_the_reads(
    at: int, read: int, mask: int
) -> None:
    """A gzip body with a damaged byte: the output before zlib finds the damage (which may be
    garbage: the checksum at the end finds what the data does not) is the same in any read
    size, all of what a byte-at-a-time decoder makes of it; then DecodeError."""
    data = b"".join(b"event %d: %s\n" % (i, os.urandom(8).hex().encode()) for i in range(400))
    packed = bytearray(gzip.compress(data))
    at %= len(packed)
    packed[at] ^= mask

    def run(pieces: List[bytes]) -> Tuple[bytes, bool]:
        got = bytearray()
        try:
            for piece in inflate(iter(pieces), "gzip"):
                got += piece
        except urllib3.exceptions.DecodeError:
            return bytes(got), True
        return bytes(got), False

    reference = run(pieces_of(bytes(packed), 1))
    assert run(pieces_of(bytes(packed), read)) == reference


# ------------------------------------------------------------------- over real HTTP


class BodyServer:
    """Answers each request on 127.0.0.1 with 200, ``text/event-stream`` (and ``headers``)
    and the chunked bytes of ``body()``, until they end or the client goes away."""

    def __init__(self, body: Callable[[], Iterable[bytes]], headers: bytes = b"") -> None:
        self.body = body
        self.headers = headers
        self.sent = 0
        self.requests: List[bytes] = []  # the head of each request
        self.client_left = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/v1"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="body-server", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._listener.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            with sock:
                self._serve(sock)

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(10)
        try:
            self.requests.append(request_head(sock))
            sock.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Transfer-Encoding: chunked\r\n" + self.headers + b"\r\n"
            )
            for piece in self.body():
                if self._stop.is_set():
                    return
                if piece:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.sent += len(piece)
            sock.sendall(b"0\r\n\r\n")
            while sock.recv(65536):  # until the client closes: no reset under its last read
                pass
        except OSError:  # the client ended the connection (reset or broken pipe)
            self.client_left.set()


@pytest.fixture
def serve() -> Iterator[Callable[..., BodyServer]]:
    servers: List[BodyServer] = []

    def start(body: Callable[[], Iterable[bytes]], headers: bytes = b"") -> BodyServer:
        servers.append(BodyServer(body, headers))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


_CLIENT = textwrap.dedent(
    """
    import json, resource, sys, time
    import responses_stream as rs

    def status(key):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024

    client = rs.Client(base_url=sys.argv[1], api_key="k", max_retries=0,
                       timeout=rs.Timeout(connect=5, read=10))
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (status("VmSize") + (1 << 30), hard))
    rss = status("VmRSS")
    started = time.monotonic()
    result = {"error": None, "message": ""}
    try:
        client.stream(model="m", input="x")
    except Exception as exc:
        partial = getattr(exc, "response", None)
        result = {"error": type(exc).__name__, "message": str(exc),
                  "text": partial.output_text if partial is not None else None}
    result.update(seconds=time.monotonic() - started, rss=rss, peak=status("VmHWM"))
    print(json.dumps(result))
    """
)


def run_client(url: str) -> Dict[str, Any]:
    """One client.stream() in a subprocess capped at 1 GiB of address space over its
    baseline: what it raised, how long it took, its RSS before and at its peak."""
    done = subprocess.run(
        [sys.executable, "-c", _CLIENT, url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: Dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    grew = (result["peak"] - result["rss"]) / MiB
    print(f"{result['error']} after {result['seconds']:.2f} s, peak RSS +{grew:.0f} MiB")
    print(result["message"][:300])
    return result


def _prelude() -> bytes:
    """The first events of a real stream, so the hostile bytes come mid-stream."""
    events = Script(seed=3).text("so far", chunk=3).events()[:-3]
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)


def _endless_body(prefix: bytes, filler: bytes = b"A" * 65536) -> Callable[[], Iterator[bytes]]:
    def body() -> Iterator[bytes]:
        yield _prelude()
        yield prefix
        for _ in range(20_000):  # 1.3 GB at most; the client leaves long before
            yield filler

    return body


def _big_event() -> Iterator[bytes]:
    yield _prelude()
    yield b'data: {"type":"response.output_text.delta","delta":"'
    for _ in range(200 * 16):  # 200 MB
        yield b"B" * 65536
    yield b'"}\n\n'


HOSTILE = {
    "endless data line": (_endless_body(b"data: "), "an SSE data: line is larger"),
    "endless event line": (_endless_body(b"event: "), "an SSE event: line is larger"),
    "endless comment": (_endless_body(b": "), "an SSE comment is larger"),
    "200 MB event": (_big_event, "an SSE data: line is larger"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_bodies_end_promptly_in_bounded_memory(
    case: str, serve: Callable[..., BodyServer]
) -> None:
    body, message = HOSTILE[case]
    server = serve(body)
    result = run_client(server.url)
    assert result["error"] == "ProtocolError" and result["message"].startswith(message), result
    assert result["text"] == "so far", result  # with the partial response
    assert result["seconds"] < 10, result
    assert result["peak"] - result["rss"] < 4 * DEFAULT_MAX_EVENT_BYTES, result
    # The client left; it did not read the rest.
    assert server.sent < 2 * DEFAULT_MAX_EVENT_BYTES, (server.sent, result)
    assert server.client_left.wait(5)


@pytest.mark.slow
@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_a_compression_bomb_ends_promptly_in_bounded_memory(
    coding: str, serve: Callable[..., BodyServer]
) -> None:
    """Sent though the client asked for identity: 1 GB of zeros, about 1 MB compressed."""
    server = serve(_bomb(coding), b"Content-Encoding: %s\r\n" % coding.encode())
    result = run_client(server.url)
    assert b"\r\naccept-encoding: identity\r\n" in server.requests[0].lower() + b"\r\n"
    assert result["error"] == "ProtocolError" and result["text"] == "so far", result
    assert result["message"].startswith("an SSE event is larger than max_event_bytes"), result
    assert result["seconds"] < 10, result
    assert result["peak"] - result["rss"] < 4 * DEFAULT_MAX_EVENT_BYTES, result


@pytest.mark.slow
def test_200_mb_of_ordinary_events_pass_quickly_in_little_memory(
    serve: Callable[..., BodyServer],
) -> None:
    """The limits cost nothing to a large stream of events within them: 200 events of 1 MB
    (of a type the SDK does not know, so the response does not keep them)."""
    events = Script(seed=3).text("all of it", chunk=3).completed().events()
    noise = b'data: {"type":"response.noise.delta","pad":"' + b"p" * MiB + b'"}\n\n'

    def body() -> Iterator[bytes]:
        yield b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events[:-1])
        for _ in range(200):
            yield noise
        yield b"data: " + json.dumps(events[-1]).encode() + b"\n\n"

    server = serve(body)
    result = run_client(server.url)
    assert result["error"] is None, result
    assert result["seconds"] < 10, result
    assert result["peak"] - result["rss"] < DEFAULT_MAX_EVENT_BYTES, result
    assert server.sent > 200 * MiB, (server.sent, result)


def _bomb(coding: str) -> Callable[[], Iterator[bytes]]:
    """A stream's first events, then 1 GB of zeros, compressed over 1,000 times."""

    def body() -> Iterator[bytes]:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31 if coding == "gzip" else 15)
        yield packer.compress(_prelude()) + packer.flush(zlib.Z_SYNC_FLUSH)
        zeros = bytes(MiB)
        for _ in range(1024):
            yield packer.compress(zeros)
        yield packer.flush()

    return body


@pytest.mark.slow
def test_a_million_data_lines_over_http(server: MockServer) -> None:
    """A valid stream whose one delta event spans a million data: lines (JSON whitespace)."""
    events = Script(seed=8).text("linear", chunk=2).completed().events()
    blocks = []
    for event in events:
        text = json.dumps(event)
        if event["type"] == "response.output_text.delta" and event["delta"] == "li":
            head, _, rest = text.partition(", ")
            text = head + "," + "\n" * 1_000_000 + rest
        blocks.append(b"".join(b"data: " + line.encode() + b"\n" for line in text.split("\n")))
    server.add(b"\n".join(blocks) + b"\n", chunk_size=65536)
    started = time.monotonic()
    with rs.Client(base_url=server.url, api_key="k", max_retries=0) as client:
        assert client.stream(model="m", input="x").output_text == "linear"
    assert time.monotonic() - started < 20


# ------------------------------------------------------------------ the client's setting


def test_the_client_setting_bounds_every_stream(server: MockServer) -> None:
    """``Client(max_event_bytes=N)``: an event over N bytes ends the stream with ProtocolError
    and the response so far; ``None`` lifts the limit; a bad value fails at construction."""
    big = "y" * 5000
    script = Script().text("small first. ").text(big).completed()
    with rs.Client(api_key="k", base_url=server.url, max_event_bytes=2000) as client:
        server.add(script)
        with pytest.raises(
            rs.ProtocolError, match=r"larger than max_event_bytes \(2000 bytes\)"
        ) as info:
            client.stream(model="m", input="x")
        assert info.value.response is not None
        assert info.value.response.output_text == "small first. "
        server.add(script)
        (outcome,) = client.stream_many([{"model": "m", "input": "x"}])
        assert isinstance(outcome, rs.ProtocolError)
    with rs.Client(api_key="k", base_url=server.url, max_event_bytes=None) as client:
        server.add(script)
        assert client.stream(model="m", input="x").output_text == "small first. " + big
    with rs.Client(api_key="k", base_url=server.url) as client:  # the default: 64 MiB
        server.add(script)
        assert client.stream(model="m", input="x").output_text == "small first. " + big
    for bad in (0, -1, 1.5, True, "10"):
        with pytest.raises(rs.ConfigurationError, match="max_event_bytes"):
            rs.Client(api_key="k", base_url=server.url, max_event_bytes=bad)  # type: ignore[arg-type]
