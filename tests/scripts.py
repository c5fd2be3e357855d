"""What the tests share: the recorded transcripts, the scripted streams, SSE body builders and
readers, and small helpers for the HTTP tests. Fixtures that pytest injects (``server``,
``client``, ``sleeps``) live in ``conftest.py`` and build on this module.

The readers here (:func:`payloads`, :func:`frames`) parse SSE with a few lines of their own, not
with the SDK, so tests can compare what the SDK made of a body with what the body holds.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Type

import pytest

import responses_stream as rs
from responses_stream._replay import offline_stream
from responses_stream.testing import MockServer, Script

# ----------------------------------------------------------------------- recorded transcripts

FIXTURES = Path(__file__).parent / "fixtures" / "transcripts"
"""Recorded streams (copied from ../shared/transcripts, see fixtures/transcripts/SOURCES.md)."""
OPENAI_TRANSCRIPTS = sorted(FIXTURES.glob("*.sse"))
SERVER_TRANSCRIPTS = sorted((FIXTURES / "servers").glob("*.sse"))
ALL_TRANSCRIPTS = OPENAI_TRANSCRIPTS + SERVER_TRANSCRIPTS

TERMINAL = ("response.completed", "response.incomplete", "response.failed")
"""The wire types that end a response, written out here rather than taken from the SDK."""


def transcript_id(path: Path) -> str:
    """A short test id for a transcript: its stem, with ``servers/`` for server captures."""
    return path.parent.name + "/" + path.stem if path.parent.name == "servers" else path.stem


# ------------------------------------------------------------------------- scripted streams

TEXT = "Streaming works over real sockets: ünïcödé ✓, CJK 漢字 and emoji 🎉 included."
"""The answer of :func:`text_script`: multi-byte UTF-8 of every length, so byte-level cuts and
re-chunkings land inside characters."""
CALLS = [
    ("get_weather", {"city": "Paris", "unit": "celsius"}),
    ("get_time", {"timezone": "Europe/Paris", "format": "24h"}),
]
"""The two calls of :func:`function_calls_script`, as (name, arguments)."""
SUMMARY = ["**Planning**\n\nLook up the weather.", "**Answering**\n\nSay it is sunny."]
ENCRYPTED = "gAAAAABoEncryptedBlob=="
ANSWER = "It is sunny in Paris today."
"""The summary parts, encrypted content and answer text of :func:`reasoning_script`."""


def text_script(text: str = TEXT, seed: int = 11) -> Script:
    """One message with ``text``, completed."""
    return Script(seed=seed).text(text).completed()


def function_calls_script() -> Script:
    """Two parallel function calls (:data:`CALLS`), completed."""
    script = Script(model="gpt-4o", seed=12)
    for name, arguments in CALLS:
        script.function_call(name, arguments)
    return script.completed()


def reasoning_script() -> Script:
    """A reasoning item (two summary parts, encrypted content), then the answer, completed."""
    return (
        Script(model="o3-mini", seed=13)
        .reasoning(summary=SUMMARY, encrypted_content=ENCRYPTED)
        .text(ANSWER)
        .completed()
    )


def words_script(count: int = 40) -> Script:
    """A long message of ``count`` deltas `` word0``, `` word1``..., completed."""
    pieces = [f" word{i}" for i in range(count)]
    return Script(seed=31).text("".join(pieces), chunk=pieces).completed()


SCRIPTS: Dict[str, Callable[[], Script]] = {
    "text": text_script,
    "function_calls": function_calls_script,
    "reasoning": reasoning_script,
    "web_search": lambda: (
        Script(model="gpt-5.2", seed=4)
        .web_search(query="tallest mountain in Alberta")
        .text("Mount Columbia (3,747 m).")
        .completed(usage={"input_tokens": 100})
    ),
    "refusal": lambda: Script(seed=5).refusal("I'm sorry, I can't assist with that.").completed(),
    "incomplete": lambda: Script(seed=6).text("In the bustling city of").incomplete(),
    "failed": lambda: Script(seed=7).text("Partial").failed("server_error", "boom"),
    "error": lambda: Script(seed=8).error("insufficient_quota", "You exceeded your quota."),
    "background": lambda: Script(background=True, seed=9).text("Once upon a time.").completed(),
    "empty": lambda: Script(seed=10).completed(),
}
"""One script of each shape the testing kit can build, by name."""


# ------------------------------------------------------------------------------ SSE bodies


def sse(*events: Any, event_lines: bool = False) -> bytes:
    """An SSE body: one ``data:`` block per event (a dict is dumped as JSON, a str is sent as
    it is); ``event_lines`` adds an ``event: <type>`` line before each dict's data."""
    out = []
    for event in events:
        data = event if isinstance(event, str) else json.dumps(event, ensure_ascii=False)
        head = f"event: {event['type']}\n" if event_lines and isinstance(event, dict) else ""
        out.append(f"{head}data: {data}\n\n")
    return "".join(out).encode()


def frames(data: bytes) -> List[bytes]:
    """The SSE blocks of a body (blank-line separated), without empty ones."""
    return [f for f in data.replace(b"\r\n", b"\n").split(b"\n\n") if f.strip()]


def payload_of(frame: bytes) -> Optional[Dict[str, Any]]:
    """The JSON object of one block's ``data:`` line (``None`` for comments and ``[DONE]``)."""
    for line in frame.split(b"\n"):
        if line.startswith(b"data:") and line[5:].strip() not in (b"", b"[DONE]"):
            return json.loads(line[5:])  # type: ignore[no-any-return]
    return None


def payloads(data: bytes) -> List[Dict[str, Any]]:
    """Every JSON payload of a body, in order."""
    return [p for p in map(payload_of, frames(data)) if p is not None]


def split_responses(data: bytes) -> List[bytes]:
    """Split a recording that holds several responses (a tool loop) into one body each."""
    blocks = data.replace(b"\r\n", b"\n").split(b"\n\n")
    bodies: List[List[bytes]] = [[]]
    for block in blocks:
        started = any(b'"type":"response.created"' in b for b in bodies[-1])
        if b'"type":"response.created"' in block and started:
            bodies.append([])
        bodies[-1].append(block)
    return [b"\n\n".join(body) for body in bodies]


def terminal_payload(body: bytes) -> Dict[str, Any]:
    """The ``response`` object of a body's terminal event."""
    for data in payloads(body):
        if data.get("type") in TERMINAL:
            return data["response"]  # type: ignore[no-any-return]
    raise AssertionError("no terminal event")


Edit = Callable[[Dict[str, Any]], Optional[Dict[str, Any]]]


def edit(data: bytes, change: Edit, keep_event_lines: bool = True) -> bytes:
    """A copy of ``data`` with every payload passed through ``change`` (``None`` drops the
    block); comments and ``[DONE]`` stay as they were."""
    out = []
    for frame in frames(data):
        payload = payload_of(frame)
        if payload is None:
            out.append(frame)
            continue
        changed = change(payload)
        if changed is None:
            continue
        line = b"data: " + json.dumps(changed, ensure_ascii=False).encode()
        event = [x for x in frame.split(b"\n") if x.startswith(b"event:")]
        out.append(b"\n".join([*event, line]) if keep_event_lines else line)
    return b"\n\n".join(out) + b"\n\n"


def drop_types(*types: str) -> Edit:
    """An :func:`edit` change that drops the events of these types."""
    return lambda p: None if p.get("type") in types else p


def deltas_of(data: bytes, kind: str = "response.output_text.delta") -> str:
    """The deltas of every ``kind`` event of a body, joined."""
    return "".join(p.get("delta", "") for p in payloads(data) if p.get("type") == kind)


def without_keys(value: Any, keys: Iterable[str]) -> Any:
    """A copy of a JSON value with the given keys removed from every object, at any depth."""
    keys = set(keys)
    if isinstance(value, dict):
        return {k: without_keys(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [without_keys(v, keys) for v in value]
    return value


def events_of(chunks: Iterable[bytes], **kwargs: Any) -> List[Dict[str, Any]]:
    """Every event (class name and to_dict()) the SDK's pipeline yields for ``chunks``, then
    ``{"raised": <exception class name>}`` if it ended with an SDK error."""
    stream = offline_stream(chunks, **kwargs)
    out: List[Dict[str, Any]] = []
    try:
        for event in stream:
            # The payload as it arrived is what to_dict() gives, without its deep copy (the
            # rechunking tests compare thousands of runs): events never change their payload.
            raw = vars(event).get("_raw")
            out.append({"cls": type(event).__name__, **(event.to_dict() if raw is None else raw)})
    except rs.ResponsesStreamError as exc:
        out.append({"raised": type(exc).__name__})
    return out


# ------------------------------------------------------------------------------------ HTTP

CLIENT_ERROR_STATUSES = [
    (400, rs.errors.BadRequestError),
    (401, rs.errors.AuthenticationError),
    (403, rs.errors.PermissionDeniedError),
    (404, rs.errors.NotFoundError),
    (422, rs.errors.UnprocessableEntityError),
]
"""Statuses that are never retried, with the error class each must raise."""


def request_id(n: int) -> str:
    """The x-request-id MockServer sends with its n-th request (1-based)."""
    return f"req_{n:032x}"


def closed_port_url() -> str:
    """The base URL of a server that was started and closed: connections are refused."""
    with MockServer() as dead:
        url = dead.url
    return url


def fd_count() -> int:
    """How many file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


def wait_for_fds(limit: int, timeout: float = 5.0) -> int:
    """Poll until at most ``limit`` fds are open (server threads close theirs asynchronously);
    return the last count."""
    end = time.monotonic() + timeout
    count = fd_count()
    while count > limit and time.monotonic() < end:
        time.sleep(0.02)
        count = fd_count()
    return count


class Boom(Exception):
    """An exception only a test's own callback raises."""


class Recorder(rs.ResponseHandler):
    """Records the callbacks as ``(name, *values)`` tuples, with the values as they were at the
    time of the call (and when it came, in ``times``); ``events`` holds every wire event."""

    def __init__(self) -> None:
        self.calls: List[Tuple[Any, ...]] = []
        self.times: List[Tuple[str, float]] = []
        self.events: List[Dict[str, Any]] = []

    def _add(self, *call: Any) -> None:
        self.calls.append(call)
        self.times.append((call[0], time.monotonic()))

    def on_event(self, event: Any) -> None:
        self.events.append(event.to_dict())
        self._add("event", event.type, event.sequence_number)

    def on_created(self, response: rs.Response) -> None:
        self._add("created", response.id, response.status)

    def on_in_progress(self, response: rs.Response) -> None:
        self._add("in_progress", response.id, response.status)

    def on_completed(self, response: rs.Response) -> None:
        self._add("completed", response.id, response.status)

    def on_incomplete(self, response: rs.Response) -> None:
        self._add("incomplete", response.id, response.status)

    def on_failed(self, response: rs.Response) -> None:
        self._add("failed", response.id, response.status)

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        self._add("text_delta", delta, snapshot)

    def on_text_done(self, text: str) -> None:
        self._add("text_done", text)

    def on_function_call_created(self, call: rs.FunctionCall) -> None:
        self._add("call_created", call.name, call.call_id, call.arguments)

    def on_function_call_delta(self, delta: str, snapshot: str, call: rs.FunctionCall) -> None:
        self._add("call_delta", delta, snapshot, call.call_id)

    def on_function_call_done(self, call: rs.FunctionCall) -> None:
        self._add("call_done", call.name, call.call_id, call.arguments, call.status)

    def on_reasoning_delta(self, delta: str, snapshot: str) -> None:
        self._add("reasoning_delta", delta, snapshot)

    def on_reasoning_done(self, reasoning: rs.Reasoning) -> None:
        summary = [getattr(part, "text", part) for part in reasoning.summary]
        self._add("reasoning_done", reasoning.id, summary, reasoning.encrypted_content)

    def on_error(self, error: Any) -> None:
        self._add("error", error.code, error.message)

    def on_retry(self, error: Exception, attempt: int, delay: float) -> None:
        self._add("retry", error, attempt, delay)

    def on_exception(self, exc: BaseException) -> None:
        self._add("exception", exc)

    def on_end(self) -> None:
        self._add("end")

    def names(self) -> List[str]:
        """The callbacks called, in order, without on_event."""
        return [call[0] for call in self.calls if call[0] != "event"]

    def text(self) -> str:
        """The text deltas, joined."""
        return "".join(call[1] for call in self.calls if call[0] == "text_delta")

    def retries(self) -> List[Tuple[Any, ...]]:
        """The on_retry calls: ``("retry", error, attempt, delay)``."""
        return [call for call in self.calls if call[0] == "retry"]


# ---------------------------------------------------------------------- records as dataclasses


def standard_twin(cls: Type[Any]) -> Type[Any]:
    """A class with the same fields as ``cls`` run through the standard ``dataclasses.dataclass``
    (events and models are built by ``_records.dataclass`` instead)."""
    namespace: Dict[str, Any] = {"__annotations__": {}}
    for f in dataclasses.fields(cls):
        namespace["__annotations__"][f.name] = f.type
        if f.default_factory is not dataclasses.MISSING:
            namespace[f.name] = dataclasses.field(default_factory=f.default_factory)
        elif f.default is not dataclasses.MISSING:
            namespace[f.name] = f.default
    twin = type(cls.__name__, (), namespace)
    return dataclasses.dataclass(frozen=cls.__dataclass_params__.frozen)(twin)


def same_init_error(ours: Callable[[], Any], theirs: Callable[[], Any]) -> None:
    """Both calls raise TypeError with the same message after the ``__init__`` name."""
    with pytest.raises(TypeError) as mine:
        ours()
    with pytest.raises(TypeError) as standard:
        theirs()
    assert str(mine.value).split("__init__", 1)[1] == str(standard.value).split("__init__", 1)[1]


def standard_twin_matches(cls: Type[Any]) -> None:
    """Assert that ``cls`` has the signature, fields, defaults and constructor errors of its
    :func:`standard_twin`."""
    twin = standard_twin(cls)
    assert str(inspect.signature(cls)) == str(inspect.signature(twin))
    names = [f.name for f in dataclasses.fields(cls)]
    assert names == [f.name for f in dataclasses.fields(twin)]
    # Defaults, positional and keyword arguments land in the same fields.
    for obj, other in ((cls(), twin()), (cls(*range(len(names))), twin(*range(len(names))))):
        assert dataclasses.asdict(obj) == dataclasses.asdict(other)
    kwargs = {name: f"v{i}" for i, name in enumerate(names[::2])}
    assert dataclasses.asdict(cls(**kwargs)) == dataclasses.asdict(twin(**kwargs))
    for args, kw in (
        (tuple(range(len(names) + 1)), {}),
        ((), {"not_a_field": 1}),
        ((1,), {names[0]: 2}),
    ):
        same_init_error(lambda: cls(*args, **kw), lambda: twin(*args, **kw))


def tls_server_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Tuple[ssl.SSLContext, Path]:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1, and the
    certificate's path (for the client's ``verify``). Skips without the openssl command; clears
    the environment's CA bundles, which would win over ``verify``."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    command += ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    return context, cert


class RawServer:
    """Runs ``serve(sock)`` for each connection, on its own thread (a server that misbehaves
    at the HTTP level, which MockServer does not)."""

    def __init__(self, serve: Callable[[socket.socket], None]) -> None:
        self._serve = serve
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/v1"
        self.connections = 0
        self._threads: List[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._run, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _run(self, sock: socket.socket) -> None:
        with sock:
            sock.settimeout(5)
            try:
                self._serve(sock)
            except OSError:
                pass

    def close(self) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._accepter.join(5)
        for thread in self._threads:
            thread.join(5)


def read_request(sock: socket.socket, pending: bytes = b"") -> Optional[Tuple[bytes, bytes, bytes]]:
    """One HTTP/1.1 request off ``sock`` for the raw-socket test servers: its head, its body
    (``Content-Length``) and the bytes after it (the next request on a kept-alive connection,
    passed back as ``pending``); None if the client closed before sending a whole head."""
    data = pending
    while b"\r\n\r\n" not in data:
        block = sock.recv(65536)
        if not block:
            return None
        data += block
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        block = sock.recv(65536)
        if not block:
            break
        rest += block
    return head, rest[:length], rest[length:]


def requests_on(sock: socket.socket) -> Iterator[Tuple[bytes, bytes]]:
    """``(head, body)`` of each request on a kept-alive connection, until the client closes."""
    pending = b""
    while True:
        request = read_request(sock, pending)
        if request is None:
            return
        head, body, pending = request
        yield head, body


def request_head(sock: socket.socket) -> bytes:
    """The head of the one request on ``sock``, read whole (its body too); OSError if the
    client closed before sending it."""
    request = read_request(sock)
    if request is None:
        raise OSError("the client closed before sending its request")
    return request[0]
