"""``MockServer``: a real HTTP/1.1 server on 127.0.0.1 that serves scripted and recorded streams.

Part of :mod:`responses_stream.testing`; standard library only, apart from the SDK's own SSE
block splitter (so served recordings split into events exactly as the SDK reads them).
"""

import contextlib
import json
import os
import socket
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Generator, List, Mapping, Optional, Tuple, Union

from .._sse import split_blocks
from ._http import Abort, Handler, HTTPServer, drop
from ._script import Script
from ._stored import _Stored

__all__ = ["MockServer", "RecordedRequest", "mock_server"]

_JSONDict = Dict[str, Any]

# --------------------------------------------------------------------------------------------
# MockServer
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request received by a :class:`MockServer` (see ``MockServer.requests``).

    ``path`` has no query string; ``query`` maps each parameter to its last value.
    ``headers`` keys are lower-cased. ``json`` is the decoded body, or ``None`` when the body
    is not JSON.
    """

    method: str
    path: str
    query: Dict[str, str]
    headers: Dict[str, str]
    body: bytes
    json: Any


_Source = Union[Script, bytes, str, os.PathLike[str]]


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: List[Tuple[str, str]]
    pieces: List[bytes]
    framing: str = "length"
    delay: float = 0.0
    close_after: Optional[int] = None
    stall: Optional[float] = None
    stall_after_events: int = 0
    reset: bool = False
    stored: Optional[Tuple[str, _Stored]] = None
    match: Optional[Mapping[str, Any]] = None

    def fits(self, request: "RecordedRequest") -> bool:
        """Whether this reply may answer ``request`` (see ``MockServer.add``'s ``match``)."""
        match, body = self.match, request.json
        if match is None:
            return True
        return isinstance(body, dict) and all(
            _same(body.get(k, _MISSING), v) for k, v in match.items()
        )


_MISSING = object()


def _same(got: Any, wanted: Any) -> bool:
    """JSON equality: ``True`` is not ``1`` (as Python's ``==`` says), at any depth."""
    if isinstance(got, bool) or isinstance(wanted, bool):
        return type(got) is type(wanted) and got == wanted
    if isinstance(got, dict) and isinstance(wanted, Mapping):
        return got.keys() == wanted.keys() and all(_same(got[k], wanted[k]) for k in got)
    if isinstance(got, list) and isinstance(wanted, (list, tuple)):
        return len(got) == len(wanted) and all(map(_same, got, wanted))
    return bool(got == wanted)


_SSE_HEADERS = [
    ("Content-Type", "text/event-stream; charset=utf-8"),
    ("openai-version", "2020-10-01"),
    ("openai-processing-ms", "27"),
]
_JSON_HEADERS = [("Content-Type", "application/json"), ("openai-version", "2020-10-01")]
_SERVER_FRAMINGS = ("chunked", "close", "length")


def _merge_headers(
    base: List[Tuple[str, str]], extra: Optional[Mapping[str, str]]
) -> List[Tuple[str, str]]:
    if not extra:
        return list(base)
    names = {name.lower() for name in extra}
    return [h for h in base if h[0].lower() not in names] + [(k, str(v)) for k, v in extra.items()]


def _error_body(message: str, type_: str, code: Optional[str] = None) -> bytes:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return json.dumps(body, indent=2).encode()


class MockServer:
    """A real HTTP/1.1 Responses API server on ``127.0.0.1``, for integration tests.

    It listens on a free port and serves from a daemon thread. Use it as a context manager,
    or call :meth:`close` yourself. Closing ends open keep-alive connections, stalls and
    delays, then joins every thread, so nothing leaks (tests can run with ``-W error``).

    Queue replies with :meth:`add` (SSE streams), :meth:`add_json` or :meth:`add_error`.
    Each route (method and path, by default ``POST /v1/responses``) has its own FIFO queue.
    When a route's queue is empty, the built-in routes answer:

    * ``POST /v1/responses``: 500, with an OpenAI-shaped error saying nothing was queued;
    * ``GET /v1/responses/{id}?stream=true[&starting_after=N]``: replays the stored events of
      that response whose ``sequence_number`` is greater than ``N``, byte for byte. A cancelled
      response replays nothing; a foreground one (``"background": false``) is a 404, as the
      API answers;
    * ``GET /v1/responses/{id}``: the latest response object as JSON;
    * ``POST /v1/responses/{id}/cancel``: the response object with ``status: "cancelled"``.
      This is idempotent. The mock cancels even a finished response; a foreground one is a
      400, as the API answers;
    * any other route, or an unknown id: 404 with an OpenAI-shaped error.

    A stream served through a queue is stored under its response id (the ``id`` of the first
    ``response`` object in it) when serving starts, so a test can resume it. The whole stream
    is stored even if ``close_after`` cuts the connection. Every request is recorded in
    :attr:`requests`.

    Args:
        host: interface to bind (keep the loopback default).
        port: port to bind; 0 picks a free one.
        prefix: path prefix of the API routes, ``"/v1"`` like OpenAI.

    Attributes:
        requests: every :class:`RecordedRequest` received, in arrival order.
        host, port, prefix: where the server listens; :attr:`url` joins them.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, prefix: str = "/v1") -> None:
        self.prefix = prefix.rstrip("/")
        self.requests: List[RecordedRequest] = []
        self._lock = threading.Lock()
        self._queues: Dict[Tuple[str, str], List[_Reply]] = {}
        self._stored: Dict[str, _Stored] = {}
        self._closing = threading.Event()
        self._request_count = 0
        self._closed = False
        self._httpd = HTTPServer((host, port), self)
        self.host: str = host
        self.port: int = self._httpd.server_port
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"MockServer-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """Base URL to give the client, e.g. ``http://127.0.0.1:54321/v1``."""
        return f"http://{self.host}:{self.port}{self.prefix}"

    @property
    def base_url(self) -> str:
        """Same as :attr:`url`."""
        return self.url

    @property
    def pending(self) -> int:
        """How many queued replies have not been served yet (all routes)."""
        with self._lock:
            return sum(len(queue) for queue in self._queues.values())

    def __enter__(self) -> "MockServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MockServer(url={self.url!r}, pending={self.pending})"

    # -- queueing ---------------------------------------------------------------------------

    def _route(self, method: str, path: Optional[str]) -> Tuple[str, str]:
        if path is None:
            path = f"{self.prefix}/responses"
        elif not path.startswith(self.prefix + "/"):
            path = self.prefix + "/" + path.lstrip("/")
        return method.upper(), path

    def _enqueue(self, method: str, path: Optional[str], reply: _Reply) -> None:
        if reply.match is not None and not isinstance(reply.match, Mapping):
            raise TypeError(f"match must be a dict of top-level body values, got {reply.match!r}")
        with self._lock:
            self._queues.setdefault(self._route(method, path), []).append(reply)

    @staticmethod
    def _chunks(source: _Source) -> List[bytes]:
        if isinstance(source, Script):
            return source.to_sse_chunks()
        if isinstance(source, (bytes, bytearray, memoryview)):
            return split_blocks(bytes(source))
        if isinstance(source, str) and ("\n" in source or "\r" in source):
            raise TypeError("a str is a file path; pass bytes for literal SSE content")
        return split_blocks(Path(source).read_bytes())

    def add(
        self,
        source: _Source,
        *,
        status: int = 200,
        headers: Optional[Mapping[str, str]] = None,
        chunk_size: Optional[int] = None,
        delay: float = 0.0,
        close_after: Optional[int] = None,
        stall: Optional[float] = None,
        stall_after_events: int = 0,
        reset: bool = False,
        framing: str = "chunked",
        method: str = "POST",
        path: Optional[str] = None,
        match: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """Queue one SSE reply (``text/event-stream``) for a route.

        Args:
            source: a :class:`Script`, the raw body as ``bytes``, or the path of a recorded
                ``.sse`` file (``str`` or ``pathlib.Path``). Bytes and files are served
                verbatim. A script or file is rendered or read now, when it is queued.
            status: HTTP status code.
            headers: extra response headers; they replace default headers of the same name.
            chunk_size: write pieces of this many bytes instead of one piece per SSE event.
            delay: seconds to wait between pieces. Each piece is written and sent at once
                (``TCP_NODELAY``), so the client sees the events one by one.
            close_after: close the connection after this many body bytes, without the
                terminating chunk. The client gets exactly that prefix of the body.
            stall: seconds to wait, without sending, after ``stall_after_events`` pieces
                (0 = right after the headers, before any event).
            stall_after_events: see ``stall``.
            reset: end the connection with a TCP RST (``SO_LINGER`` 0), not a FIN. On its
                own it resets after the whole body instead of sending the terminating
                chunk; with ``close_after`` it resets at that byte.
            framing: ``"chunked"`` (``Transfer-Encoding: chunked``, like OpenAI),
                ``"close"`` (no length, the body ends when the connection closes;
                ``Connection: close``) or ``"length"`` (``Content-Length``).
            method: HTTP method of the route.
            path: route path (``"/v1/responses/resp_1"`` or ``"responses/resp_1"``);
                defaults to ``{prefix}/responses``.
            match: serve this reply only to a request whose JSON body has these top-level
                values (``{"input": "b"}``): the first queued reply that fits is served,
                so many requests in flight at once (``stream_many``) each get their own.
        """
        if framing not in _SERVER_FRAMINGS:
            raise ValueError(f"framing must be one of {_SERVER_FRAMINGS}, got {framing!r}")
        if chunk_size is not None and chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        chunks = self._chunks(source)
        response_id, stored = _Stored.index(chunks)
        pieces = chunks
        if chunk_size is not None:
            body = b"".join(chunks)
            pieces = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]
        # The options above, in _Reply's field order.
        timing = (framing, delay, close_after, stall, stall_after_events, reset)
        kept = (response_id, stored) if response_id is not None else None
        reply = _Reply(status, _merge_headers(_SSE_HEADERS, headers), pieces, *timing, kept, match)
        self._enqueue(method, path, reply)

    def add_json(
        self,
        body: Any,
        *,
        status: int = 200,
        headers: Optional[Mapping[str, str]] = None,
        method: str = "POST",
        path: Optional[str] = None,
        match: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """Queue a JSON reply (pretty-printed like OpenAI's), e.g. an HTTP error or a
        non-streamed response object. ``body`` must be JSON-serialisable; ``bytes`` are
        sent as they are. ``match`` as for :meth:`add`."""
        data = body if isinstance(body, bytes) else json.dumps(body, indent=2).encode()
        headers_list = _merge_headers(_JSON_HEADERS, headers)
        self._enqueue(method, path, _Reply(status, headers_list, [data], match=match))

    def add_error(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: Optional[str] = None,
        param: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        method: str = "POST",
        path: Optional[str] = None,
        match: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """Queue an OpenAI-shaped HTTP error (``match`` as for :meth:`add`).

        The body is ``{"error": {"message", "type", "param", "code"}}``. For example,
        ``add_error(429, "Rate limit reached", type="requests", code="rate_limit_exceeded",
        headers={"retry-after": "1"})``.
        """
        error = {"message": message, "type": type, "param": param, "code": code}
        self.add_json(
            {"error": error}, status=status, headers=headers, method=method, path=path, match=match
        )

    def store(self, source: _Source) -> str:
        """Store a stream for the resume, retrieve and cancel routes without serving it.

        Use this to test a client that starts by resuming. Returns the response id.
        """
        response_id, stored = _Stored.index(self._chunks(source))
        if response_id is None:
            raise ValueError("the stream has no response object with an id")
        with self._lock:
            self._stored[response_id] = stored
        return response_id

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the server and drop open connections. Returns once every thread has ended.

        Calling it again does nothing.
        """
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        self._httpd.shutdown()
        self._thread.join()
        self._httpd.server_close()
        with self._httpd.lock:
            active = list(self._httpd.active.items())
        for _, conn in active:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread, _ in active:
            thread.join(timeout=5)

    # -- serving --------------------------------------------------------------------------------

    def _handle(self, handler: Handler) -> None:
        split = urllib.parse.urlsplit(handler.path)
        body = handler.read_body()
        try:
            decoded: Any = json.loads(body) if body else None
        except ValueError:
            decoded = None
        request = RecordedRequest(
            method=handler.command,
            path=split.path,
            query=dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in handler.headers.items()},
            body=body,
            json=decoded,
        )
        with self._lock:
            self.requests.append(request)
            self._request_count += 1
            request_id = f"req_{self._request_count:032x}"
            queue = self._queues.get((request.method, request.path)) or []
            reply = next((queued for queued in queue if queued.fits(request)), None)
            if reply is not None:
                queue.remove(reply)
            if reply is not None and reply.stored is not None:
                response_id, stored = reply.stored
                self._stored[response_id] = _Stored(list(stored.events))
        if reply is None:
            reply = self._builtin(request)
        self._send(handler, reply, request_id)

    def _builtin(self, request: RecordedRequest) -> _Reply:
        """Answer a request for which nothing was queued."""
        base = f"{self.prefix}/responses"
        path, method = request.path, request.method
        if method == "POST" and path == base:
            waiting = self.pending
            message = (
                f"MockServer had nothing queued for POST {path}: "
                "call server.add(...) once per expected request."
            )
            if waiting:
                message = (
                    f"MockServer has {waiting} repl{'y' if waiting == 1 else 'ies'} queued, "
                    f"but none for this request to POST {path}: check their method, path "
                    "and match=."
                )
            return _Reply(500, list(_JSON_HEADERS), [_error_body(message, "server_error")])
        rest = path[len(base) + 1 :].split("/") if path.startswith(base + "/") else []
        cancel = method == "POST" and len(rest) == 2 and rest[1] == "cancel"
        retrieve = method == "GET" and len(rest) == 1
        if not (rest and rest[0] and (cancel or retrieve)):
            message = f"Invalid URL ({method} {path})"
            return _Reply(404, list(_JSON_HEADERS), [_error_body(message, "invalid_request_error")])
        response_id = rest[0]
        streamed = retrieve and request.query.get("stream") == "true"
        with self._lock:
            stored = self._stored.get(response_id)
            # As the API: only a background response can be resumed or cancelled (a response
            # that says it is not one; one that does not say is taken as one).
            foreground = stored is not None and stored.latest().get("background") is False
            if stored is not None and cancel and not foreground:
                stored.cancelled = True
            response = stored.latest() if stored is not None else None
        if stored is None or response is None or (streamed and foreground):
            message = f"Response with id '{response_id}' not found."
            return _Reply(404, list(_JSON_HEADERS), [_error_body(message, "invalid_request_error")])
        if cancel and foreground:
            message = "Only responses created with background=true can be cancelled."
            return _Reply(400, list(_JSON_HEADERS), [_error_body(message, "invalid_request_error")])
        if streamed:
            try:
                after = float(request.query.get("starting_after", "-1"))
            except ValueError:
                message = "Invalid 'starting_after': expected an integer."
                error = _error_body(message, "invalid_request_error")
                return _Reply(400, list(_JSON_HEADERS), [error])
            pieces = [] if stored.cancelled else [c for s, c, _ in stored.events if s > after]
            return _Reply(200, list(_SSE_HEADERS), pieces, framing="chunked")
        return _Reply(200, list(_JSON_HEADERS), [json.dumps(response, indent=2).encode()])

    def _wait(self, seconds: float) -> None:
        if seconds > 0 and self._closing.wait(seconds):
            raise Abort("server closing")

    def _send(self, handler: Handler, reply: _Reply, request_id: str) -> None:
        handler.send_response(reply.status)
        # A generated request id, unless the reply was given one (headers= of add()).
        given = any(name.lower() == "x-request-id" for name, _ in reply.headers)
        extra = None if given else {"x-request-id": request_id}
        for name, value in _merge_headers(reply.headers, extra):
            handler.send_header(name, value)
        if reply.framing == "chunked":
            handler.send_header("Transfer-Encoding", "chunked")
        elif reply.framing == "length":
            handler.send_header("Content-Length", str(sum(len(p) for p in reply.pieces)))
        else:
            handler.send_header("Connection", "close")
        handler.end_headers()

        write = handler.wfile.write
        sent, limit = 0, reply.close_after
        cut = limit is not None and limit <= 0
        for number, whole in enumerate(reply.pieces):
            piece = whole
            if cut:
                break
            if reply.stall is not None and number == reply.stall_after_events:
                self._wait(reply.stall)
            if number:
                self._wait(reply.delay)
            if limit is not None and sent + len(piece) >= limit:
                piece, cut = piece[: limit - sent], True
            sent += len(piece)
            if not piece:
                continue
            if reply.framing == "chunked":
                write(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                write(piece)
        if not cut and reply.stall is not None and reply.stall_after_events >= len(reply.pieces):
            self._wait(reply.stall)
        if cut or reply.reset:
            drop(handler, reply.reset)
        elif reply.framing == "chunked":
            write(b"0\r\n\r\n")


def mock_server(*, prefix: str = "/v1") -> Generator[MockServer, None, None]:
    """Yield a running :class:`MockServer` and close it afterwards, for a pytest fixture.

    pytest stays optional: this is a plain generator. Wrap it in your ``conftest.py``::

        @pytest.fixture
        def server():
            yield from mock_server()
    """
    with MockServer(prefix=prefix) as server:
        yield server
