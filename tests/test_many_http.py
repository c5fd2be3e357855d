"""``stream_many`` sends its requests from the selector's thread (``_many_http``): connect,
write and the wait for the head never block the loop, and each try ends the way a try sent
through ``requests`` ends (the same errors, retries, cookies, redirects, pooled connections)."""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import time
from pathlib import Path
from typing import Any, Iterator, List, cast

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

import responses_stream as rs
from responses_stream import _many_http, _transport, errors
from responses_stream.testing import MockServer, Script

from .scripts import RawServer, closed_port_url, read_request, requests_on, tls_server_context

MODEL = "gpt-5-mini"
HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nx-request-id: req_loop\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)


EVENT = b": keep-alive\n\n"


def body_of(text: str) -> bytes:
    chunks = Script(seed=3, model=MODEL).text(text, chunk=4).completed().to_sse_chunks()
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


@pytest.fixture
def no_blocking_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a try goes out through ``requests`` (the blocking way)."""

    def refuse(self: Any, attempt: Any) -> Any:
        raise AssertionError(f"sent through requests, not the selector: {attempt.url}")

    monkeypatch.setattr(_transport.Transport, "exchange", refuse)


def client_for(url: str, **kwargs: Any) -> rs.Client:
    kwargs.setdefault("timeout", rs.Timeout(2, 10))
    return rs.Client(api_key="sk-test", base_url=url, **kwargs)


@pytest.fixture
def raw() -> Iterator[List[RawServer]]:
    servers: List[RawServer] = []
    yield servers
    for server in servers:
        server.close()


def test_a_head_that_trickles_in_is_waited_for(
    raw: List[RawServer], no_blocking_sends: None
) -> None:
    def serve(sock: socket.socket) -> None:
        assert read_request(sock) is not None
        for k in range(0, len(HEAD), 9):  # a few bytes at a time
            sock.sendall(HEAD[k : k + 9])
            time.sleep(0.003)
        sock.sendall(body_of("slow head"))

    raw.append(RawServer(serve))
    with client_for(raw[0].url) as client:
        outcomes = client.stream_many([{"model": MODEL, "input": "x"}] * 3)
    for outcome in outcomes:
        assert isinstance(outcome, rs.Response), outcome
        assert outcome.output_text == "slow head"
        assert outcome.metrics is not None and outcome.metrics.request_id == "req_loop"


def test_no_answer_is_a_read_timeout_and_the_others_go_on(
    raw: List[RawServer], server: MockServer, no_blocking_sends: None
) -> None:
    def silent(sock: socket.socket) -> None:
        assert read_request(sock) is not None
        time.sleep(3)

    raw.append(RawServer(silent))
    server.add(Script(seed=1, model=MODEL).text("fine").completed())
    with client_for(raw[0].url, max_retries=0) as silent_client:
        started = time.monotonic()
        outcomes = silent_client.stream_many(
            [{"model": MODEL, "input": "x", "timeout": rs.Timeout(connect=1, read=0.3)}]
        )
        assert time.monotonic() - started < 2
    assert isinstance(outcomes[0], errors.APITimeoutError), outcomes[0]
    assert "read timeout" in str(outcomes[0])


def test_a_json_answer_in_place_of_events_is_read_whole_off_the_loop(
    raw: List[RawServer], no_blocking_sends: None
) -> None:
    """A 200 with JSON instead of an event stream: its body, which comes well after its head,
    is read whole into the error, off the loop: the other stream (keep-alive comments, then
    its answer) goes on meanwhile."""
    body = b'{"id": "resp_1", "object": "response", "status": "completed"}'
    sent_at: List[float] = []

    def serve(sock: socket.socket) -> None:
        request = read_request(sock)
        assert request is not None
        if b'"x"' in request[1]:
            sock.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body)
            )
            time.sleep(0.5)
            sent_at.append(time.monotonic())
            sock.sendall(body)
            return
        sock.sendall(HEAD)
        for k in range(10):  # the other stream's events, over the wait
            sock.sendall(b"%x\r\n%s\r\n" % (len(EVENT), EVENT))
            time.sleep(0.03)
        sock.sendall(body_of("done"))

    raw.append(RawServer(serve))
    comments: List[float] = []

    class Timed(rs.ResponseHandler):
        def on_keep_alive(self) -> None:
            comments.append(time.monotonic())

    requests = [{"model": MODEL, "input": "x"}, {"model": MODEL, "input": "y"}]
    with client_for(raw[0].url, max_retries=0) as client:
        outcomes = client.stream_many(requests, lambda i, p: Timed())
    error = outcomes[0]
    assert isinstance(error, errors.ProtocolError), error
    assert "application/json" in str(error) and '"resp_1"' in str(error)
    assert error.data == body
    assert isinstance(outcomes[1], rs.Response), outcomes[1]
    assert outcomes[1].output_text == "done"
    assert len(comments) == 10 and comments[-1] < sent_at[0]


def test_a_connection_closed_before_the_head_is_retried(
    raw: List[RawServer], no_blocking_sends: None, sleeps: List[float]
) -> None:
    def serve(sock: socket.socket) -> None:
        assert read_request(sock) is not None
        if raw[0].connections == 1:
            return  # closes without a word
        sock.sendall(HEAD + body_of("second try"))

    raw.append(RawServer(serve))
    with client_for(raw[0].url, max_retries=1) as client:
        outcomes = client.stream_many([{"model": MODEL, "input": "x"}])
    assert isinstance(outcomes[0], rs.Response), outcomes[0]
    assert outcomes[0].output_text == "second try"
    assert outcomes[0].metrics is not None and outcomes[0].metrics.retries == 1
    assert raw[0].connections == 2


def test_a_refused_connection_is_a_connection_error(no_blocking_sends: None) -> None:
    with client_for(closed_port_url(), max_retries=0) as client:
        outcomes = client.stream_many([{"model": MODEL, "input": "x"}] * 2)
    for outcome in outcomes:
        assert isinstance(outcome, errors.APIConnectionError), outcome
        assert "could not connect" in str(outcome)
        assert isinstance(outcome.__cause__, requests.ConnectionError)


def test_the_total_limit_ends_a_wait_for_the_head(
    raw: List[RawServer], no_blocking_sends: None
) -> None:
    def silent(sock: socket.socket) -> None:
        assert read_request(sock) is not None
        time.sleep(3)

    raw.append(RawServer(silent))
    with client_for(raw[0].url, max_retries=0) as client:
        started = time.monotonic()
        outcomes = client.stream_many(
            [{"model": MODEL, "input": "x", "timeout": rs.Timeout(2, read=5, total=0.3)}]
        )
        assert time.monotonic() - started < 2
    assert isinstance(outcomes[0], errors.APITimeoutError), outcomes[0]
    assert "total timeout" in str(outcomes[0])


def test_cookies_set_by_the_server_are_sent_back(
    raw: List[RawServer], no_blocking_sends: None
) -> None:
    cookies: List[bytes] = []

    def serve(sock: socket.socket) -> None:
        for head, _ in requests_on(sock):
            cookies.extend(
                line for line in head.split(b"\r\n") if line.lower().startswith(b"cookie:")
            )
            sock.sendall(HEAD.replace(b"\r\n\r\n", b"\r\nSet-Cookie: session=abc\r\n\r\n"))
            sock.sendall(body_of("with cookie"))

    raw.append(RawServer(serve))
    with client_for(raw[0].url) as client:
        outcomes = client.stream_many([{"model": MODEL, "input": "x"}] * 3, concurrency=1)
    assert all(isinstance(o, rs.Response) for o in outcomes), outcomes
    assert cookies == [b"Cookie: session=abc"] * 2  # the second and third requests


@pytest.mark.parametrize("status", [307, 308])
def test_a_redirect_is_followed_the_way_requests_follows_it(
    raw: List[RawServer], server: MockServer, status: int
) -> None:
    """From the redirect the selector got: the first server is sent the request once, and
    the key does not follow the request to another host."""
    server.add(Script(seed=1, model=MODEL).text("moved").completed())
    posts: List[bytes] = []

    def serve(sock: socket.socket) -> None:
        for head, _ in requests_on(sock):
            posts.append(head)
            location = server.url.replace("127.0.0.1", "localhost") + "/responses"
            sock.sendall(
                b"HTTP/1.1 %d Moved\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n"
                % (status, location.encode())
            )

    raw.append(RawServer(serve))
    with client_for(raw[0].url) as client:
        outcomes = client.stream_many([{"model": MODEL, "input": "x"}])
    assert isinstance(outcomes[0], rs.Response), outcomes[0]
    assert outcomes[0].output_text == "moved"
    assert len(posts) == 1 and b"Authorization: Bearer sk-test" in posts[0]
    [moved] = server.requests
    assert moved.json["input"] == "x" and "authorization" not in {
        name.lower() for name in moved.headers
    }


def test_tries_that_cannot_go_on_the_selector_go_through_requests(server: MockServer) -> None:
    sent: List[str] = []
    original = _transport.Transport.exchange

    def counting(self: Any, attempt: Any) -> Any:
        sent.append(attempt.url)
        return original(self, attempt)

    server.add(Script(seed=1, model=MODEL).text("proxied").completed())
    with client_for(server.url) as client:
        # A user's own adapter may do anything on send: it is used, from the pool.
        client._transport.session.mount(server.url, requests.adapters.HTTPAdapter())

        class Own(requests.adapters.HTTPAdapter):
            pass

        client._transport.session.mount(server.url, Own())
        _transport.Transport.exchange = counting  # type: ignore[method-assign]
        try:
            outcomes = client.stream_many([{"model": MODEL, "input": "x"}])
        finally:
            _transport.Transport.exchange = original  # type: ignore[method-assign]
    assert isinstance(outcomes[0], rs.Response), outcomes[0]
    assert outcomes[0].output_text == "proxied"
    assert sent == [server.url + "/responses"]


def test_tls_connections_are_made_on_the_pool_and_read_on_the_selector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_blocking_sends: None
) -> None:
    from .test_many import TLSStreamServer, request, text_of

    context, cert = tls_server_context(tmp_path, monkeypatch)
    server = TLSStreamServer(context)
    try:
        with client_for(f"https://127.0.0.1:{server.port}/v1") as client:
            client._transport.session.verify = str(cert)
            outcomes = client.stream_many([request(i) for i in range(4)], concurrency=2)
            for i, outcome in enumerate(outcomes):
                assert isinstance(outcome, rs.Response), outcome
                assert outcome.output_text == text_of(i) + "x" * 40000
            pools = client._transport.session.get_adapter(client.settings.base_url).poolmanager
            made = sum(pools.pools[key].num_connections for key in pools.pools.keys())
            assert made <= 3, made  # the connections were reused, two at a time
    finally:
        server.close()


def test_a_certificate_that_does_not_check_out_is_a_connection_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_blocking_sends: None
) -> None:
    from .test_many import TLSStreamServer, request

    class Refused(TLSStreamServer):  # type: ignore[misc]
        def _serve(self, plain: socket.socket) -> None:
            try:
                super()._serve(plain)
            except ssl.SSLError:
                pass  # the client refused our certificate: what the test wants

    context, _ = tls_server_context(tmp_path, monkeypatch)
    server = Refused(context)
    try:
        with client_for(f"https://127.0.0.1:{server.port}/v1", max_retries=0) as client:
            outcomes = client.stream_many([request(0)])  # the system's CAs: not this one
    finally:
        server.close()
    assert isinstance(outcomes[0], errors.APIConnectionError), outcomes[0]
    assert isinstance(outcomes[0].__cause__, requests.exceptions.SSLError)
    assert "certificate" in str(outcomes[0]).lower()


_NAMES = st.sampled_from(
    [
        "Content-Type",
        "content-length",
        "Transfer-Encoding",
        "Connection",
        "x-request-id",
        "Set-Cookie",
        "Keep-Alive",
        "X-Odd_Name-1",
        "X Bad",  # a space: http.client ends the fields there
        "X-Nämé",  # an 8-bit byte: the same
    ]
)
_VALUES = st.one_of(
    st.sampled_from(
        [
            "chunked",
            "Chunked",
            "gzip, chunked",
            "close",
            "keep-alive, Close",
            "12",
            "-3",
            "+7",
            "1_0",
            "abc",
            "",
            " 5 ",
            "text/event-stream",
        ]
    ),
    st.text(
        st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"), max_size=20
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    status=st.integers(100, 599),
    reason=st.sampled_from(["OK", "", "Not Found", "Too  Many Requests ", "é"]),
    version=st.sampled_from(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/1.2"]),
    fields=st.lists(st.tuples(_NAMES, _VALUES), max_size=8),
    spacing=st.sampled_from([": ", ":", ":  ", ":\t"]),
)
def test_the_fast_head_parser_reads_what_http_client_reads(
    status: int, reason: str, version: str, fields: List[Any], spacing: str
) -> None:
    """Any head the fast parser takes on, it reads exactly as http.client's ``begin()``
    (status, reason, fields, chunked, length, will_close); the others go to ``begin()``."""
    lines = [f"{version} {status} {reason}".rstrip(" ") if reason else f"{version} {status}"]
    lines += [f"{name}{spacing}{value}" for name, value in fields]
    head = "\r\n".join(lines).encode("iso-8859-1")

    class Source:
        def makefile(self, mode: str) -> Any:
            return io.BytesIO(head + b"\r\n\r\n")

    expected = http.client.HTTPResponse(cast(Any, Source()), method="POST")
    try:
        expected.begin()
    except http.client.HTTPException:
        assert _many_http.split_head(head) is None or status >= 200
        return
    parsed = _many_http.split_head(head)
    if parsed is None:
        return  # not a plain head: begin() reads it, as checked above
    ours = http.client.HTTPResponse(cast(Any, Source()), method="POST")
    _many_http.settle_head(ours, *parsed)
    for attribute in (
        "status",
        "reason",
        "version",
        "chunked",
        "chunk_left",
        "length",
        "will_close",
    ):
        assert getattr(ours, attribute) == getattr(expected, attribute), attribute
    assert ours.getheaders() == expected.getheaders()
    assert version != "HTTP/1.0" and status >= 200  # those are begin()'s to read


def test_the_request_is_the_one_requests_sends(raw: List[RawServer]) -> None:
    """Request line, headers (names, values, order) and body: as ``client.stream()`` sends
    them through requests and http.client."""
    heads: List[bytes] = []
    bodies: List[bytes] = []

    def serve(sock: socket.socket) -> None:
        for head, body in requests_on(sock):
            heads.append(head)
            bodies.append(body)
            sock.sendall(HEAD + body_of("same"))

    raw.append(RawServer(serve))
    params = {"model": MODEL, "input": "x", "extra_headers": {"X-Trace": "t1"}}
    with client_for(raw[0].url) as client:
        assert client.stream(**params).output_text == "same"
        assert isinstance(client.stream_many([params])[0], rs.Response)
    assert len(heads) == 2
    assert heads[0] == heads[1]
    assert bodies[0] == bodies[1]
    assert b"X-Trace: t1" in heads[0]


def test_a_connection_that_is_not_accepted_is_a_connect_timeout(no_blocking_sends: None) -> None:
    """A server whose accept queue is full drops the connection attempt: the selector's
    connect waits no longer than the connect limit, and the error says which limit."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = listener.getsockname()[1]
    queued: List[socket.socket] = []
    try:
        for _ in range(4):  # fill the accept queue (no one accepts)
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            queued.append(sock)
        time.sleep(0.1)
        with client_for(f"http://127.0.0.1:{port}/v1", max_retries=0) as client:
            started = time.monotonic()
            outcomes = client.stream_many(
                [{"model": MODEL, "input": "x", "timeout": rs.Timeout(connect=0.3, read=5)}]
            )
            elapsed = time.monotonic() - started
    finally:
        for sock in queued:
            sock.close()
        listener.close()
    assert isinstance(outcomes[0], errors.APITimeoutError), outcomes[0]
    assert "connect timeout" in str(outcomes[0])
    assert 0.25 < elapsed < 2


def _both_ways(url: str, **params: Any) -> List[Any]:
    """The outcome of one request sent by ``client.stream()`` and one by ``stream_many``, on
    one client (so the second may take the first's kept-alive connection)."""
    request = {"model": MODEL, "input": "x", **params}
    with client_for(url) as client:
        try:
            first: Any = client.stream(**request)
        except rs.ResponsesStreamError as exc:
            first = exc
        return [first, *client.stream_many([request, request])]


@pytest.mark.parametrize(
    "interim",
    [
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
        b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
    ],
    ids=["100", "103", "100-103", "102-103"],
)
@pytest.mark.parametrize("apart", [False, True], ids=["one-write", "answer-later"])
def test_informational_answers_before_the_answer_are_passed_over(
    raw: List[RawServer], interim: bytes, apart: bool
) -> None:
    """A 1xx head (the request was accepted, the answer follows): every way of sending reads
    the answer after it, sends the request once, and reuses the connection after it."""
    posts: List[bytes] = []

    def serve(sock: socket.socket) -> None:
        for head, _ in requests_on(sock):
            posts.append(head.split(b"\r\n")[0])
            if apart:
                sock.sendall(interim)
                time.sleep(0.1)
                sock.sendall(HEAD + body_of("after hints"))
            else:
                sock.sendall(interim + HEAD + body_of("after hints"))

    raw.append(RawServer(serve))
    outcomes = _both_ways(raw[0].url)
    for outcome in outcomes:
        assert isinstance(outcome, rs.Response), outcome
        assert outcome.output_text == "after hints"
        assert outcome.metrics is not None and outcome.metrics.request_id == "req_loop"
    assert len(posts) == 3
    assert raw[0].connections <= 2  # kept alive after the interim answers


def test_the_read_limit_is_on_each_wait_for_the_head_not_on_all_of_it(
    raw: List[RawServer],
) -> None:
    """A head that trickles in for longer than the read limit, each piece well within it."""

    def serve(sock: socket.socket) -> None:
        for _ in requests_on(sock):
            for k in range(0, len(HEAD), 12):
                sock.sendall(HEAD[k : k + 12])
                time.sleep(0.06)  # about 0.7 s in all
            sock.sendall(body_of("slow but steady"))

    raw.append(RawServer(serve))
    request = {"model": MODEL, "input": "x", "timeout": rs.Timeout(connect=2, read=0.4)}
    with client_for(raw[0].url) as client:  # new connections: the selector's own sockets
        outcomes = client.stream_many([request, request])
    outcomes += _both_ways(raw[0].url, **request)  # and kept-alive ones
    for outcome in outcomes:
        assert isinstance(outcome, rs.Response), outcome
        assert outcome.output_text == "slow but steady"


def test_a_kept_alive_connection_never_blocks_the_loop(raw: List[RawServer]) -> None:
    """The connection a stream() left in the pool, taken by one of stream_many's requests
    whose head then stalls: the other streams go on meanwhile."""

    def serve(sock: socket.socket) -> None:
        for _, body in requests_on(sock):
            if b'"slow"' in body:
                sock.sendall(HEAD[:20])
                time.sleep(1)
                sock.sendall(HEAD[20:])
            else:
                sock.sendall(HEAD)
            sock.sendall(body_of("done"))

    raw.append(RawServer(serve))
    order: List[int] = []
    with client_for(raw[0].url) as client:
        client.stream(model=MODEL, input="first")  # leaves its connection in the pool
        requests = [{"model": MODEL, "input": "slow"}, {"model": MODEL, "input": "fast"}]
        with client.events_many(requests) as streams:
            for index, event in streams:
                if event.type == "response.completed":
                    order.append(index)
            outcomes = streams.outcomes
    assert all(isinstance(outcome, rs.Response) for outcome in outcomes), outcomes
    assert order == [1, 0]


def test_the_host_header_is_the_one_requests_sends(raw: List[RawServer]) -> None:
    """A caller's Host takes the place of the one made from the URL (sent once), and an IPv6
    address is bracketed: as http.client writes it."""
    heads: List[bytes] = []

    def serve(sock: socket.socket) -> None:
        for head, _ in requests_on(sock):
            heads.append(head)
            sock.sendall(HEAD + body_of("host"))

    raw.append(RawServer(serve))
    outcomes = _both_ways(raw[0].url, extra_headers={"Host": "api.example.com"})
    assert all(isinstance(outcome, rs.Response) for outcome in outcomes), outcomes
    assert len(heads) == 3 and heads[0] == heads[1] == heads[2]
    hosts = [line for line in heads[0].split(b"\r\n") if line.lower().startswith(b"host:")]
    assert hosts == [b"Host: api.example.com"]


def test_an_ipv6_address_is_bracketed_in_the_host_header() -> None:
    try:
        listener = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    port = listener.getsockname()[1]
    heads: List[bytes] = []

    def serve() -> None:
        for _ in range(2):
            sock, _ = listener.accept()
            with sock:
                for head, _ in requests_on(sock):
                    heads.append(head)
                    sock.sendall(HEAD + body_of("six"))
                    break

    import threading

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with client_for(f"http://[::1]:{port}/v1") as client:
            assert client.stream(model=MODEL, input="x").output_text == "six"
        with client_for(f"http://[::1]:{port}/v1") as client:
            [outcome] = client.stream_many([{"model": MODEL, "input": "x"}])
        assert isinstance(outcome, rs.Response), outcome
    finally:
        thread.join(5)
        listener.close()
    assert heads[0] == heads[1]
    assert f"Host: [::1]:{port}".encode() in heads[0].split(b"\r\n")


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_an_answer_that_closes_its_connection_leaves_none_for_the_next_request(
    raw: List[RawServer], framing: str
) -> None:
    """``Connection: close``: the next request (in stream_many or after it) goes out on a new
    connection, never on the one the server is closing."""
    body = Script(seed=9, model=MODEL).text("closing").completed().to_bytes()
    if framing == "length":
        framed = b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    else:
        framed = b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n" + framed

    def serve(sock: socket.socket) -> None:
        if read_request(sock) is not None:
            sock.sendall(answer)
            time.sleep(0.5)  # closes a moment later, as a server that lingers does

    raw.append(RawServer(serve))
    request = {"model": MODEL, "input": "x"}
    with client_for(raw[0].url, max_retries=0) as client:
        outcomes = client.stream_many([request, request], concurrency=1)
        outcomes.append(client.stream(**request))
    for outcome in outcomes:
        assert isinstance(outcome, rs.Response), outcome
        assert outcome.output_text == "closing"
    assert raw[0].connections == 3


def test_each_address_of_localhost_is_tried_in_turn(
    raw: List[RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``localhost`` that resolves to ::1 first (most systems' hosts file) for a server that
    listens on 127.0.0.1 only: as urllib3 does, the next address is tried."""
    real = socket.getaddrinfo

    def ipv6_first(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "localhost":
            return real(host, port, *args, **kwargs)
        v6 = (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0))
        return [v6, *real("127.0.0.1", port, *args, **kwargs)]

    def serve(sock: socket.socket) -> None:
        for _ in requests_on(sock):
            sock.sendall(HEAD + body_of("found it"))

    raw.append(RawServer(serve))
    monkeypatch.setattr(socket, "getaddrinfo", ipv6_first)
    url = raw[0].url.replace("127.0.0.1", "localhost")
    with client_for(url, max_retries=0) as client:
        assert client.stream(model=MODEL, input="x").output_text == "found it"
    with client_for(url, max_retries=0) as client:  # new connections: the selector's own
        outcomes = client.stream_many([{"model": MODEL, "input": "x"}] * 2)
    for outcome in outcomes:
        assert isinstance(outcome, rs.Response), outcome
        assert outcome.output_text == "found it"


def test_a_malformed_answer_head_is_a_protocol_error_sent_once(raw: List[RawServer]) -> None:
    """Two Content-Length values that disagree: the server's fault, not the caller's
    configuration, and an answer came, so the request is not sent again."""
    body = Script(seed=10, model=MODEL).text("x").completed().to_bytes()
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n" + (
        b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n%s" % (len(body), len(body) + 5, body)
    )
    posts: List[bytes] = []

    def serve(sock: socket.socket) -> None:
        for head, _ in requests_on(sock):
            posts.append(head)
            sock.sendall(answer)

    raw.append(RawServer(serve))
    outcomes = _both_ways(raw[0].url, max_retries=2)
    for outcome in outcomes:
        assert type(outcome) is errors.ProtocolError, outcome
        assert "Content-Length" in str(outcome)
    assert len(posts) == 3


def test_after_an_informational_answer_a_redirect_is_followed_and_a_bad_head_refused(
    raw: List[RawServer], server: MockServer
) -> None:
    """What follows a 1xx is read as any answer: a 307 is followed (once), a malformed head
    is a ProtocolError, in every entry point."""
    for _ in range(3):
        server.add(Script(seed=11, model=MODEL).text("moved on").completed())
    location = (server.url + "/responses").encode()
    hints = b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"

    def redirecting(sock: socket.socket) -> None:
        for _ in requests_on(sock):
            sock.sendall(
                hints
                + b"HTTP/1.1 307 Moved\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % location
            )

    def malformed(sock: socket.socket) -> None:
        for _ in requests_on(sock):
            sock.sendall(
                hints + b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Content-Length: 10\r\nContent-Length: 12\r\n\r\n0123456789"
            )

    raw.append(RawServer(redirecting))
    raw.append(RawServer(malformed))
    for outcome in _both_ways(raw[0].url, max_retries=0):
        assert isinstance(outcome, rs.Response), outcome
        assert outcome.output_text == "moved on"
    assert len(server.requests) == 3
    for outcome in _both_ways(raw[1].url, max_retries=2):
        assert type(outcome) is errors.ProtocolError, outcome
