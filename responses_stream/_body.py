"""Response bodies read straight off the socket's buffered reader.

urllib3's ``read1`` goes through urllib3, http.client and urllib3's decoder buffer on every
call, and on a chunked body it returns one HTTP chunk per call; a Responses server sends one
chunk per event, so that stack cost more per event than parsing the event itself
(see ``benchmarks/README.md``). Here one ``read1`` of the socket file brings everything that has
arrived, chunked framing is taken off in place, and all of it is handed on at once, as soon
as it is received: nothing is held back waiting for a chunk, a line or a block to complete.

Only used where it can do exactly what urllib3 would (:func:`socket_body`): a body with no
content coding but gzip or deflate (inflated in bounded steps, ``_inflate``), not yet read,
from a real ``http.client`` response; anything else stays on urllib3's own reader.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import logging
import re
import socket
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import urllib3.exceptions
import urllib3.response

from ._inflate import compressed_body, content_codings, inflate

logger = logging.getLogger("responses_stream")

_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
MAX_LINE = 65536
"""Longest chunk-size or trailer line accepted (the limit urllib3 and http.client use)."""
MAX_TRAILER_LINES = 100


READ_SIZE = 65536
"""Bytes asked of the socket per read: ``read1`` returns as soon as any are available."""

Reader = Callable[[int], Optional[bytes]]
"""``read(size)``: the bytes there (at most ``size``), ``b""`` at the end of the body, or
``None`` when a non-blocking socket has nothing yet (the body generators then yield ``b""``)."""


class Interrupter:
    """Lets another thread end, at once, a read blocked on the socket of a response body.

    :meth:`interrupt` shuts the socket down (both ways, so the server sees the connection end
    too): a ``recv`` blocked on it returns end-of-file at once and the reading thread finishes,
    and closes the response, itself. Closing the socket from the other thread would not wake
    the read (the reader holds the buffered file's lock and the file keeps the descriptor
    open) and could hit a descriptor number already reused; a shutdown does neither.

    The socket is looked up when interrupting, from the response being read (:meth:`watch`),
    and never after that response gave its connection back to the pool (:meth:`release`): the
    lock makes the two exclusive, so a connection reused by another request is never touched.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._raw: Any = None
        self.interrupted = False
        """True once :meth:`interrupt` was called: an end of the body is then not an error."""
        self.limited = False
        """True once :meth:`shut` ended the current response's read: its end is an error."""

    def watch(self, raw: Any) -> None:
        """``raw`` (a urllib3 response) is now the one read; if already interrupted, end it."""
        with self._lock:
            self._raw = raw
            self.limited = False
            if self.interrupted:
                shut_response(raw)

    def release(self, raw: Any) -> bool:
        """Forget ``raw`` before its connection goes back to the pool or is closed.

        Returns False if the socket may have been shut down: it must then not be pooled.
        """
        with self._lock:
            if self._raw is raw:
                self._raw = None
            return not self.interrupted

    def shut(self) -> None:
        """End the read in progress now (a time limit passed), as an error, not a close."""
        with self._lock:
            self.limited = True
            if self._raw is not None:
                shut_response(self._raw)

    def interrupt(self) -> None:
        """Shut the watched response's socket down (any thread; safe to repeat)."""
        with self._lock:
            self.interrupted = True
            raw, self._raw = self._raw, None
            if raw is not None:
                shut_response(raw)


def _live_socket(raw: Any) -> Any:
    """The socket under ``raw``'s body while the body is being read, else None."""
    # The socket the body is read from: http.client's buffered reader over a SocketIO. It is
    # let go at the end of the body, before the connection can be pooled, and it is the only
    # way to the socket of a close-delimited body (http.client drops it from the connection).
    sock_file = getattr(getattr(raw, "_fp", None), "fp", None)
    sock = getattr(getattr(sock_file, "raw", None), "_sock", None)
    if sock is None:
        # Else the connection, which the urllib3 response (1.26 and 2.x) keeps until it is
        # released: Interrupter.release orders that against the shutdown.
        sock = getattr(getattr(raw, "connection", None), "sock", None)
    return sock


def shut_response(raw: Any) -> None:
    """End every wait on the socket of ``raw`` (a urllib3 response) now, from any thread."""
    shut_down(_live_socket(raw))


def shut_down(sock: Any) -> None:
    """End every wait on ``sock`` now, from any thread, without closing its descriptor."""
    if sock is not None and not isinstance(sock, socket.socket):
        sock = getattr(sock, "socket", None)  # TLS inside a TLS proxy: urllib3's SSLTransport
    if isinstance(sock, socket.socket):
        # The plain socket's shutdown, also for an SSLSocket: its own would drop the TLS state
        # under the reading thread (a ValueError there instead of an end-of-file).
        with contextlib.suppress(OSError):  # not connected any more, or already closed
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def body_chunks(
    raw: Any, read_size: int = READ_SIZE, interrupter: Optional[Interrupter] = None
) -> Iterator[bytes]:
    """The bytes of a response body as soon as they arrive, chunked or close-delimited.

    ``raw`` is the urllib3 response under a ``requests.Response`` (or anything with ``read1``).
    ``iter_content(None)`` would hold a close-delimited body back until EOF and
    ``iter_content()`` reads one byte at a time; ``read1`` does neither. After
    ``interrupter`` interrupted the read, the body ends quietly instead of as a cut one.
    """
    # Everything that has arrived, in one read, straight off the socket.
    source = socket_body(raw, read_size, interrupter)
    if source is not None:
        return source
    source = compressed_body(raw, read_size)
    if source is not None:
        return source
    read1 = getattr(raw, "read1", None)
    if read1 is None:
        return raw.stream(1024, decode_content=True)  # type: ignore[no-any-return]
    if isinstance(raw, urllib3.response.HTTPResponse):
        # requests leaves decompression to iter_content, which is not used here.
        read1 = functools.partial(read1, decode_content=True)
    # A C-level callable iterator: no Python frame per read; b"" only at the end of the body.
    return iter(functools.partial(read1, read_size), b"")


class ChunkedBodyError(urllib3.exceptions.ProtocolError):
    """The body was cut off or its chunked framing is malformed (translated like urllib3's
    own errors: the stream is reported interrupted)."""


NonBlocking = Callable[[Any], Tuple[Reader, Callable[[], None]]]
"""``attach(socket_file)``: a non-blocking reader of the file's socket, and what to call
before the socket is let go (``_many``)."""


def socket_body(
    raw: Any,
    read_size: int,
    interrupter: Optional[Interrupter] = None,
    nonblocking: Optional[NonBlocking] = None,
) -> Optional[Iterator[bytes]]:
    """The body bytes of ``raw`` (a urllib3 response) read here, or None if not eligible.

    When the end of the body has been read, the response is finished the way http.client
    finishes it and the connection goes back to urllib3's pool, so the next request on the
    client reuses it (for chunked and Content-Length bodies; a close-delimited one ends with
    its connection).

    ``nonblocking`` reads without ever waiting (the body then yields ``b""`` whenever nothing
    has arrived yet). A gzip or deflate body is inflated here, step by step (see
    :func:`compressed_body`), so framing errors read the same with and without compression.
    """
    fp = getattr(raw, "_fp", None)
    if not isinstance(fp, http.client.HTTPResponse):
        return None  # e.g. a test double's BytesIO body
    sock_file = fp.fp
    if sock_file is None or raw.tell() != 0:
        return None  # already finished, or someone read from it through urllib3
    codings = content_codings(raw)
    if codings is None:
        return None  # a coding inflated only by urllib3 (br, zstd): keep its reader
    if fp.chunked and fp.chunk_left is not None:
        return None  # http.client is inside a chunk already

    def read1(size: int) -> bytes:
        try:
            data: bytes = sock_file.read1(size)
        except ValueError:
            if sock_file.closed:  # the stream was closed by the caller while we read
                return b""
            raise
        return data

    read: Reader = read1
    detach = None
    if nonblocking is not None:
        read, detach = nonblocking(sock_file)

    def finish() -> None:
        if detach is not None:
            detach()  # the socket blocks again before anyone else may use it
        fp.close()  # what http.client does at the end of a body; a kept-alive socket stays open
        if interrupter is None or interrupter.release(raw):
            raw.release_conn()
        # else its socket may be shut down: closing the response closes it instead of pooling

    def closed() -> bool:
        return bool(sock_file.closed) or (interrupter is not None and interrupter.interrupted)

    def limited() -> bool:
        return interrupter is not None and interrupter.limited

    if fp.chunked:
        body = decode_chunked(read, read_size, finish, closed)
    elif fp.length is None:
        body = _until_close(read, read_size, finish, closed, limited)
    else:
        body = _exactly(read, read_size, fp.length, finish, closed)
    for coding in reversed(codings):  # the last coding applied is the first removed
        body = inflate(body, coding)
    return body


DRAIN_SECONDS = 0.05
"""How long, after the terminal event, to wait for the rest of a body (usually already there)."""
DRAIN_BYTES = 65536
"""How much of a body after its terminal event is read for the connection's sake."""
DRAIN_TOTAL_SECONDS = 0.1
"""The most the drain may take in all, however the server trickles bytes."""


def drain(
    raw: Any,
    source: Iterator[bytes],
    *,
    wait: bool = True,
    counted: Callable[[int], None] = lambda received: None,
) -> Iterator[float]:
    """After the terminal event, finish reading a chunked or Content-Length body read here.

    A server sends the end of the body right after the last event, but not always in the same
    read; read on for a moment (:data:`DRAIN_SECONDS` per read, :data:`DRAIN_BYTES` and
    :data:`DRAIN_TOTAL_SECONDS` at most) so the connection can go back to the pool instead of
    being closed. Anything that goes wrong just leaves the connection to be closed, as it
    would have been.

    A generator: with ``wait=False`` (a non-blocking socket, ``stream_many``) no read waits;
    whenever nothing is there yet it yields the monotonic time to give up at, and is resumed
    when the socket is readable or that time has come. A blocking drain never yields. The body
    bytes it read are told to ``counted`` (they are received bytes, as the metrics count).
    """
    fp = getattr(raw, "_fp", None)
    if not isinstance(fp, http.client.HTTPResponse) or fp.fp is None:
        return  # not read here, or already finished
    if not fp.chunked and fp.length is None:
        return  # close-delimited: the connection ends with the body
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is None:
        return
    previous = None
    if wait:
        try:
            previous = sock.gettimeout()
            sock.settimeout(DRAIN_SECONDS)
        except OSError:
            return
    received = 0
    give_up = time.monotonic() + DRAIN_TOTAL_SECONDS
    try:
        for block in source:
            received += len(block)
            if received > DRAIN_BYTES or time.monotonic() > give_up:
                break  # not the end of a body: let close() drop the connection
            if not block:
                yield give_up  # nothing there yet (wait=False): resumed when there is
    except Exception as exc:  # a timeout or a broken tail only costs the connection
        logger.debug("connection not reused: the body did not end after the last event: %r", exc)
    finally:
        if wait:
            with contextlib.suppress(OSError):
                sock.settimeout(previous)
    if received:
        # Never delivered: a stream ends at its terminal event (e.g. a trailing data: [DONE]).
        logger.debug("%d body byte(s) after the terminal event were read and not parsed", received)
        counted(received)


def _until_close(
    read: Reader,
    read_size: int,
    finish: Callable[[], None],
    closed: Callable[[], bool] = lambda: False,
    limited: Callable[[], bool] = lambda: False,
) -> Iterator[bytes]:
    """A close-delimited body: everything until the server closes the connection (an end
    that a time limit made, ``limited()``, is an error: the last event may be cut short)."""
    while True:
        block = read(read_size)
        if not block:
            if block is None:
                yield b""  # nothing there yet: see decode_chunked
                continue
            if limited() and not closed():
                raise ChunkedBodyError("Connection broken: a time limit ended the body")
            if not closed():  # else the caller closed it: the response is closed with it
                finish()
            return
        yield block


def _exactly(
    read: Reader,
    read_size: int,
    length: int,
    finish: Callable[[], None],
    closed: Callable[[], bool],
) -> Iterator[bytes]:
    """A Content-Length body: exactly ``length`` bytes; fewer is a broken connection."""
    left = length
    while left > 0:
        block = read(min(read_size, left))
        if not block:
            if block is None:
                yield b""  # nothing there yet: see decode_chunked
                continue
            if closed():
                return
            raise ChunkedBodyError(
                f"Connection broken: the body ended {left} byte(s) short of its Content-Length"
            )
        left -= len(block)
        if left <= 0:
            finish()  # before the last events go out: the caller may stop at the terminal one
        yield block
    if length == 0:
        finish()


def decode_chunked(
    read: Reader,
    read_size: int,
    finish: Callable[[], None] = lambda: None,
    closed: Callable[[], bool] = lambda: False,
) -> Iterator[bytes]:
    """Yield the payload of a chunked body as it arrives; ``read(n)`` returns what is there.

    Raises :class:`ChunkedBodyError` if the body ends before its last chunk or is malformed,
    having yielded every payload byte before the damage (however the bytes came in reads).
    An empty read after ``closed()`` turned true ends quietly: the caller closed the stream.
    """
    data = b""  # received and not yet consumed: starts at a size line, payload or CRLF
    pos = 0
    payload_left = 0  # payload bytes of the current chunk still to come
    crlf_left = 0  # bytes of the CRLF after the current chunk's payload still to come
    while True:
        block = read(read_size)
        if not block:
            if block is None:
                # A non-blocking read found nothing yet (stream_many's sockets): b"" tells the
                # consumer to wait until the socket is readable, then to ask again.
                yield b""
                continue
            if closed():
                return
            raise ChunkedBodyError(
                "Connection broken: the chunked body ended before its last chunk "
                f"({payload_left} byte(s) of the current chunk missing)"
            )
        data = data[pos:] + block if pos < len(data) else block
        pos = 0
        end = len(data)
        out: List[bytes] = []
        try:
            while True:
                if payload_left:
                    stop = pos + payload_left
                    if stop > end:
                        if pos < end:
                            out.append(data[pos:] if pos else data)
                        payload_left = stop - end
                        pos = end
                        break
                    out.append(data[pos:stop])
                    pos = stop
                    payload_left = 0
                    crlf_left = 2
                if crlf_left:
                    if crlf_left == 2 and data[pos : pos + 2] == b"\r\n":
                        pos += 2
                        crlf_left = 0
                    # The CRLF may itself be split across reads: skip what is here.
                    while crlf_left and pos < end:
                        expected = b"\r" if crlf_left == 2 else b"\n"
                        if data[pos : pos + 1] != expected:
                            if crlf_left == 2 and data[pos : pos + 1] == b"\n":
                                crlf_left = 1  # a bare LF, as lenient parsers accept
                                continue
                            got = data[pos : pos + 20]
                            raise ChunkedBodyError(
                                f"malformed chunked body: no CRLF after a chunk: {got!r}"
                            )
                        pos += 1
                        crlf_left -= 1
                    if crlf_left:
                        break
                eol = data.find(b"\n", pos)
                if eol < 0:
                    if end - pos > MAX_LINE:
                        raise ChunkedBodyError("malformed chunked body: chunk-size line too long")
                    break
                line = data[pos:eol]
                size = _SIZES.get(line)
                if size is None:
                    size = _chunk_size(line)
                    if len(line) <= _SIZE_LINE_CACHED and len(_SIZES) < _SIZES_CACHED:
                        _SIZES[line] = size
                pos = eol + 1
                if size == 0:
                    rest = data[pos:]
                    if _trailers_end(rest) is not None:
                        # The whole end of the body is here: give the connection back before the
                        # last events go out, as the caller may stop reading at the terminal event.
                        finish()
                        if out:
                            yield b"".join(out)
                        return
                    if out:
                        yield b"".join(out)
                        out = []  # given: not again if the trailers are bad
                    yield from _read_trailers(read, read_size, rest, closed)
                    finish()
                    return
                stop = pos + size
                if data[stop : stop + 2] == b"\r\n":
                    # The whole chunk and its CRLF are here (the usual case): no state to carry.
                    out.append(data[pos:stop])
                    pos = stop + 2
                    if pos < end:
                        continue
                    break  # all used: no search for a next size line that is not there
                payload_left = size
        except ChunkedBodyError:
            if out:
                # The chunks before the damage are good: deliver them before the error, as
                # however the bytes were split into reads.
                yield b"".join(out)
            raise
        if out:
            yield out[0] if len(out) == 1 else b"".join(out)


_SIZES: Dict[bytes, int] = {}
"""Chunk-size lines seen (with their CR) -> their size: a few hundred distinct lines make up
most of a stream, and a lookup costs less than parsing one. Bounded, shared by all streams."""
_SIZE_LINE_CACHED = 18
_SIZES_CACHED = 4096


def _chunk_size(line: bytes) -> int:
    token = line.split(b";", 1)[0].strip()  # chunk extensions are ignored, as everywhere
    if _HEX.fullmatch(token) is None:
        raise ChunkedBodyError(f"malformed chunked body: bad chunk size line {line[:40]!r}")
    return int(token, 16)


def _trailers_end(data: bytes) -> Optional[int]:
    """Where the trailer section at the start of ``data`` ends, or None if more must be read.

    Raises :class:`ChunkedBodyError` for more than :data:`MAX_TRAILER_LINES` lines or a line
    longer than :data:`MAX_LINE`.
    """
    pos = 0
    for _ in range(MAX_TRAILER_LINES + 1):
        eol = data.find(b"\n", pos)
        if eol < 0:
            if len(data) - pos > MAX_LINE:
                raise ChunkedBodyError("malformed chunked body: trailer line too long")
            return None
        if eol == pos or (eol == pos + 1 and data[pos : pos + 1] == b"\r"):
            return eol + 1
        pos = eol + 1
    raise ChunkedBodyError("malformed chunked body: too many trailer lines")


def _read_trailers(
    read: Reader, read_size: int, data: bytes, closed: Callable[[], bool]
) -> Iterator[bytes]:
    """Consume the trailer section after the last chunk, up to its empty line (yielding
    ``b""`` while a non-blocking read finds nothing yet)."""
    while _trailers_end(data) is None:
        block = read(read_size)
        if block:
            data += block
        elif block is None:
            yield b""
        elif closed():
            return
        else:
            raise ChunkedBodyError("Connection broken: the body ended inside its trailers")
