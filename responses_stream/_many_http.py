"""``stream_many``'s sockets on its selector: a request's try sent, a stream's body read.

``client.stream()`` sends through ``requests`` and waits; ``stream_many`` opens hundreds of
streams at once, and a thread per request waiting for its headers would cost more CPU than
the streams' events. Here the request goes out from the loop's thread over a non-blocking
socket, and the loop does other work while the answer's head is on its way. Only the waits
are the loop's: the request is prepared by the session (its headers, cookies, as
``requests`` would send them), the connection taken from and given back to the session's
own pool (keep-alive works across ``stream()`` and ``stream_many``), a connection that needs
a name resolved or a TLS handshake made by urllib3 (on the pool of threads, certificates
checked as for any request), the head parsed by http.client, and the answer is the
``requests.Response`` that ``requests`` would have built.

:class:`~responses_stream._loop_socket.LoopSocket` reads a stream's body the same way, never
waiting.

:func:`loop_pool` says which tries can go this way: HTTP or HTTPS through the client's
plain adapter, with no proxy, no session auth or response hooks, and a small body. Every
other try is sent by ``Transport.exchange`` on the pool of threads, as is a try whose answer
is a redirect (``requests`` follows it).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import http.client
import io
import ipaddress
import os
import re
import selectors
import socket
import ssl
import time
import warnings
from typing import Any, Callable, Dict, Generator, List, Optional, Tuple, Union, cast

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.cookies import extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.connectionpool import HTTPConnectionPool

from ._body import READ_SIZE, shut_down
from ._interim import END_OF_HEAD, after_interim, as_urllib3
from ._loop_socket import WOULD_BLOCK
from ._stream import refused_content_type
from ._transport import Attempt

MAX_LOOP_PAYLOAD = 65536
"""A larger request body is sent from the pool: writing it may have to wait for the server."""
MAX_HEAD = 65536
"""The most bytes a response head may take (http.client's own line limit)."""

Wait = Tuple[Any, Optional[float]]
"""What the exchange yields while it waits: ``(WAIT, when to look again or None)``."""
Outcome = Union[requests.Response, Exception]

_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
"""What may not stand in a header's name or value (http.client refuses the same)."""
_NONBLOCK = getattr(socket, "SOCK_NONBLOCK", 0)
"""Made non-blocking by ``socket()`` itself where the system can (one call fewer)."""
_URLLIB3_2 = int(getattr(urllib3, "__version__", "1").split(".")[0]) >= 2
_PENDING = (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK, errno.EAGAIN)
_CONNECTED = (0, errno.EISCONN)


def loop_pool(
    session: requests.Session, attempt: Attempt, cache: Dict[Any, Any]
) -> Optional[HTTPConnectionPool]:
    """The session's connection pool for ``attempt`` if it can be sent from the loop, else
    None (it is then sent the ordinary, blocking way, on the pool of threads). ``cache``
    keeps the pools found for the next tries."""
    url = attempt.url
    if not _URLLIB3_2 or not url.startswith(("http://", "https://")):
        return None
    if attempt.payload is not None and len(attempt.payload) > MAX_LOOP_PAYLOAD:
        return None
    if session.proxies or session.auth is not None or session.hooks.get("response"):
        return None
    verify, cert = session.verify, session.cert
    if session.trust_env:
        # A session of the caller's that reads the environment on every request, as
        # requests does for stream(): its proxies (then requests sends it) and CA bundle.
        found = session.merge_environment_settings(url, {}, None, None, None)
        if found["proxies"]:
            return None
        verify, cert = found["verify"], found["cert"]
    adapter = session.get_adapter(url)
    if type(adapter) is not HTTPAdapter:
        return None  # a user's adapter may do anything on send
    key = ("pool", url, str(verify), str(cert))
    pool = cache.get(key)
    if pool is None:
        pool = cache[key] = _pool_of(adapter, url, verify, cert)
    return pool if isinstance(pool, HTTPConnectionPool) else None


def _pool_of(adapter: HTTPAdapter, url: str, verify: Any, cert: Any) -> Any:
    """The pool ``adapter`` sends ``url`` through, with these TLS settings (the adapter's own
    choice, so the certificates are checked exactly as for ``stream()``)."""
    if hasattr(adapter, "get_connection_with_tls_context"):  # requests >= 2.32
        request = requests.Request("GET", url).prepare()
        return adapter.get_connection_with_tls_context(request, verify, None, cert)
    pool = adapter.get_connection(url, None)  # pragma: no cover - requests < 2.32
    cast(Any, adapter).cert_verify(pool, url, verify, cert)  # pragma: no cover
    return pool  # pragma: no cover


@functools.lru_cache(maxsize=256)  # parsing an address is per request, and hosts are few
def _is_address(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


Offload = Callable[[Callable[[], Any]], Generator[Wait, None, Any]]
"""Runs a blocking function on the pool of threads while the caller waits (``_many``)."""


def exchange(
    session: requests.Session,
    pool: HTTPConnectionPool,
    attempt: Attempt,
    *,
    selector: selectors.BaseSelector,
    owner: Any,
    wait: Any,
    offload: Offload,
    cache: Dict[Any, Any],
) -> Generator[Wait, None, Outcome]:
    """Send ``attempt`` through ``pool``'s connection, yielding ``(wait, when)`` whenever it
    must wait (the caller resumes it when ``owner``'s socket is ready on ``selector``, or at
    ``when``); returns the response with its body unread, or the ``requests`` exception the
    try failed with (as ``Transport.exchange`` does).

    A new plain connection to an address is made here, without waiting; one that needs a
    name resolved or a TLS handshake is made by urllib3 on the pool (``offload``), which
    checks certificates as for any request. The request and the wait for its answer are the
    loop's either way. ``cache`` keeps prepared requests (:func:`_prepare`) for the next
    tries.
    """
    try:
        prepared, wire = _prepare(session, attempt, pool, cache)
        data = memoryview(wire)
    except (requests.RequestException, UnicodeEncodeError, ValueError) as exc:
        return exc
    connect_limit, read_limit = attempt.timeouts
    clock = time.monotonic
    guard = attempt.guard
    conn: Any = pool._get_conn()
    sock: Any = None
    registered = False
    connected = False
    done = False

    def watch(events: int) -> None:
        nonlocal registered
        if registered:
            selector.modify(sock, events, owner)
        else:
            selector.register(sock, events, owner)
            registered = True

    try:
        if conn.sock is None:
            if pool.scheme == "http" and _is_address(pool.host):
                addresses = _addresses(pool)
                # Each address in turn, as urllib3 tries them (localhost: ::1, then 127.0.0.1).
                for tried, (family, address) in enumerate(addresses, 1):
                    if sock is not None:  # the address before did not answer
                        if registered:
                            selector.unregister(sock)
                            registered = False
                        sock.close()
                    sock = socket.socket(family, socket.SOCK_STREAM | _NONBLOCK)
                    if not _NONBLOCK:
                        sock.setblocking(False)
                    for option in conn.socket_options or ():
                        sock.setsockopt(*option)
                    if guard is not None:
                        guard.arm(functools.partial(shut_down, sock))
                    until = None if connect_limit is None else clock() + connect_limit
                    status = sock.connect_ex(address)
                    if status in _PENDING:
                        watch(selectors.EVENT_WRITE)
                        while status in _PENDING:
                            if until is not None and clock() >= until:
                                status = errno.ETIMEDOUT
                                break
                            yield wait, until
                            status = sock.connect_ex(address)
                    if status in _CONNECTED:
                        break
                    if tried < len(addresses) and (guard is None or guard.expired is None):
                        continue  # the next address, unless a time limit ended this one
                    if status == errno.ETIMEDOUT:
                        return _connect_timeout(pool, prepared, connect_limit)
                    error = OSError(status, os.strerror(status))
                    return _connection_error(pool, prepared, error, connecting=True)
                conn.sock = sock
            else:
                conn.timeout = connect_limit
                failure = yield from offload(lambda: _connect(conn))
                if failure is not None:
                    return _connect_failure(pool, prepared, failure)
                sock = conn.sock
        else:
            sock = conn.sock  # kept alive
        # A socket urllib3 made, or kept alive, blocks (with the last request's read limit).
        sock.setblocking(False)
        if guard is not None:
            guard.arm(functools.partial(shut_down, sock))
        connected = True
        if pool.scheme == "https" and not (conn.is_verified or conn.proxy_is_verified):
            warnings.warn(  # as urllib3 warns for every request that does not check
                f"Unverified HTTPS request is being made to host '{pool.host}'. Adding "
                "certificate verification is strongly advised.",
                urllib3.exceptions.InsecureRequestWarning,
                stacklevel=2,
            )
        until = None if read_limit is None else clock() + read_limit
        while data:
            try:
                data = data[sock.send(data) :]
            except WOULD_BLOCK as blocked:
                if until is not None and clock() >= until:
                    return _read_timeout(pool, prepared, read_limit)
                # The server reads slowly: the socket's buffer is full (TLS may need to read).
                wanted = isinstance(blocked, ssl.SSLWantReadError)
                watch(selectors.EVENT_READ if wanted else selectors.EVENT_WRITE)
                yield wait, until
        watch(selectors.EVENT_READ)
        received = b""
        head_bytes = 0  # interim heads (1xx) included: a server may not send them forever
        complete = False
        while not complete:
            yield wait, until  # the answer comes after the selector says so: no read in vain
            while True:  # all there is (TLS may hold more, decrypted already)
                try:
                    piece = sock.recv(READ_SIZE)
                except WOULD_BLOCK:
                    break
                if guard is not None and guard.expired is not None:
                    return _connection_error(pool, prepared, OSError("the wait was ended"))
                if piece and read_limit is not None:
                    until = clock() + read_limit  # the limit is on each wait for a byte
                received = after_interim(received + piece)
                head_bytes += len(piece)
                if not piece or head_bytes > MAX_HEAD or END_OF_HEAD.search(received):
                    complete = True  # whole (or cut, or too long: http.client says so)
                    break
            if not complete and until is not None and clock() >= until:
                return _read_timeout(pool, prepared, read_limit)
        selector.unregister(sock)
        registered = False
        response = _response(received, sock, conn, pool, prepared, timeout=read_limit)
        answer = _answer(session.get_adapter(attempt.url), prepared, response)
        if response.headers.get("set-cookie"):
            cast(Any, extract_cookies_to_jar)(session.cookies, prepared, response)  # as requests
        done = True
        return answer
    except urllib3.exceptions.InvalidHeader as exc:  # the answer's (as requests reports it)
        return requests.exceptions.InvalidHeader(exc, request=prepared)
    except (OSError, urllib3.exceptions.HTTPError, http.client.HTTPException) as exc:
        return _connection_error(pool, prepared, exc, connecting=not connected)
    finally:
        if guard is not None:
            guard.disarm()
        if registered:
            selector.unregister(sock)
        if not done:
            if conn.sock is None and sock is not None:
                sock.close()  # connected here, never handed to the connection
            conn.close()
            pool._put_conn(None)  # as urllib3 does after a failed request: room for a new one


def _connect(conn: Any) -> Optional[Exception]:
    """Connect ``conn`` the way urllib3 does (name, TLS, certificates): what it raised."""
    try:
        conn.connect()
    except Exception as exc:
        return exc
    return None


def _connect_failure(
    pool: HTTPConnectionPool, prepared: requests.PreparedRequest, exc: Exception
) -> requests.ConnectionError:
    """The ``requests`` error for a connection urllib3 could not make."""
    if isinstance(exc, (urllib3.exceptions.ConnectTimeoutError, socket.timeout)):
        return requests.ConnectTimeout(exc, request=prepared)
    if isinstance(exc, (ssl.SSLError, urllib3.exceptions.SSLError)):
        error = requests.exceptions.SSLError(exc, request=prepared)
        error.__cause__ = exc
        return error
    return _connection_error(pool, prepared, exc, connecting=True)


def _serialize(prepared: requests.PreparedRequest, pool: HTTPConnectionPool) -> bytes:
    """The head of ``prepared`` as http.client writes it, up to (not including) the blank
    line that ends it: the body follows it in the same write, which spares a delayed ACK."""
    port = pool.port
    default = 443 if pool.scheme == "https" else 80
    host = pool.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address, bracketed as in a URL (urllib3 strips them)
    if port not in (None, default):
        host = f"{host}:{port}"
    lines = [f"{prepared.method} {prepared.path_url} HTTP/1.1"]
    if "host" not in prepared.headers:  # a caller's Host goes in its place, as http.client does
        lines.append(f"Host: {host}")
    for name, value in prepared.headers.items():
        if _FORBIDDEN.search(name) or _FORBIDDEN.search(value) or not name:
            raise requests.exceptions.InvalidHeader(
                f"invalid header {name!r}: a control character in its name or value"
            )
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


class _Prefixed(io.RawIOBase):
    """The socket's bytes, after those already received with the head: what http.client
    reads the head and the body from (in place of its ``socket.SocketIO``)."""

    def __init__(self, received: bytes, sock: socket.socket, timeout: Optional[float]) -> None:
        super().__init__()
        self._received = memoryview(received)
        self._sock = sock  # where _body and _many find the socket under a response
        self.timeout = timeout
        """The socket's timeout once it blocks again (it is non-blocking on the selector)."""
        self.owns_socket = False
        """Closing this closes the socket: the answer ends the connection (``will_close``),
        which is then not the pooled connection's any more."""

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if self.owns_socket and not self.closed:
            self._sock.close()
        super().close()

    def readinto(self, buffer: Any) -> Optional[int]:
        if self._received:
            size = min(len(buffer), len(self._received))
            buffer[:size] = self._received[:size]
            self._received = self._received[size:]
            return size
        try:
            return self._sock.recv_into(buffer)
        except WOULD_BLOCK:
            return None  # as socket.SocketIO: nothing there yet on a non-blocking socket


class _Source:
    """What http.client's response reads from (``makefile``)."""

    def __init__(self, raw: _Prefixed) -> None:
        self._raw = raw

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(self._raw, READ_SIZE)


def _response(
    received: bytes,
    sock: socket.socket,
    conn: Any,
    pool: HTTPConnectionPool,
    prepared: requests.PreparedRequest,
    *,
    timeout: Optional[float],
) -> urllib3.HTTPResponse:
    """The answer whose head (and perhaps more) is ``received``, as urllib3 builds it for
    ``requests``: an http.client response (its body still to read from ``sock``) in a
    urllib3 one, whose connection goes back to ``pool`` at the end of the body.

    A stream's socket stays non-blocking, for the selector; it blocks again, with
    ``timeout``, when it leaves it (:class:`LoopSocket`). Any other answer's body (an
    error's, or JSON or HTML in place of events) is read the blocking way, on the pool of
    threads, so its socket blocks now."""
    end = received.find(b"\r\n\r\n")
    fields = split_head(received[:end]) if end >= 0 else None
    rest = received if fields is None else received[end + 4 :]
    body = _Prefixed(rest, sock, timeout)
    head = http.client.HTTPResponse(cast(socket.socket, _Source(body)), method=prepared.method)
    if fields is None:
        head.begin()  # anything out of the ordinary: http.client's own parser says what
    else:
        settle_head(head, *fields)
    if head.will_close:
        # As http.client's getresponse(): the connection goes back to the pool without its
        # socket (never to be sent another request), which the answer closes when it ends.
        body.owns_socket = True
        conn.sock = None
    response = as_urllib3(head, prepared, pool, conn)
    if not 200 <= head.status < 300 or refused_content_type(response.headers) is not None:
        sock.settimeout(timeout)
    return response


def _answer(
    adapter: Any, prepared: requests.PreparedRequest, response: urllib3.HTTPResponse
) -> requests.Response:
    """``response`` as ``requests`` gives it (``HTTPAdapter.build_response``), without
    looking for cookies in an answer that sets none (the slowest part of that method)."""
    if response.headers.get("set-cookie"):
        built: requests.Response = adapter.build_response(prepared, response)
        return built
    answer = requests.Response()
    answer.status_code = response.status
    answer.headers = CaseInsensitiveDict(response.headers)
    answer.encoding = get_encoding_from_headers(answer.headers)
    answer.raw = response
    answer.reason = response.reason or ""
    answer.url = prepared.url or ""
    answer.request = prepared
    answer.connection = adapter
    return answer


_BARE_EOL = re.compile(rb"[\r\n]")  # one search (`in` on bytes costs more, twice)
_FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+")
"""A field name http.client's parser takes as one (any other line ends its fields)."""
_STATUS_LINE = re.compile(rb"HTTP/1\.[1-9] ([2-5][0-9][0-9])(?: (.*))?")
MAX_FIELDS = 100
"""http.client's limit on a head's fields."""


def split_head(head: bytes) -> Optional[Tuple[int, str, list[Tuple[str, str]]]]:
    """``(status, reason, fields)`` of an HTTP/1.1 head (without its blank line), or None for
    one that is not plain (another version, a 1xx status, folded or odd lines, too many
    fields): http.client then reads it. The fields are decoded as http.client decodes them."""
    lines = head.split(b"\r\n")
    status_line = _STATUS_LINE.fullmatch(lines[0])
    if status_line is None or len(lines) > MAX_FIELDS + 1:
        return None
    fields = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or _BARE_EOL.search(line) or not _FIELD_NAME.fullmatch(name):
            return None  # a folded line, no name, a space or 8-bit byte in it: not plain
        fields.append((name.decode("iso-8859-1"), value.lstrip(b" \t").decode("iso-8859-1")))
    reason = (status_line.group(2) or b"").decode("iso-8859-1")
    return int(status_line.group(1)), reason, fields


def settle_head(
    head: http.client.HTTPResponse, status: int, reason: str, fields: list[Tuple[str, str]]
) -> None:
    """Set up ``head`` as ``begin()`` does for an HTTP/1.1 answer of ``status`` (not 1xx)."""
    message = http.client.HTTPMessage()
    for name, value in fields:
        message[name] = value
    head.code = head.status = status  # type: ignore[attr-defined]
    head.reason = reason.strip()
    head.version = 11
    head.headers = head.msg = message
    coding = message.get("transfer-encoding") or ""
    head.chunked = coding.lower() == "chunked"
    if head.chunked:
        head.chunk_left = None
    head.will_close = "close" in (message.get("connection") or "").lower()
    head.length = None
    length = message.get("content-length")
    if length and not head.chunked:
        with contextlib.suppress(ValueError):
            head.length = int(length) if int(length) >= 0 else None
    if status in (204, 304) or getattr(head, "_method", None) == "HEAD":
        head.length = 0
    if not head.will_close and not head.chunked and head.length is None:
        head.will_close = True


def _prepare(
    session: requests.Session, attempt: Attempt, pool: HTTPConnectionPool, cache: Dict[Any, Any]
) -> Tuple[requests.PreparedRequest, bytes]:
    """``attempt`` prepared as the session would (its headers, cookies merged in), and its
    bytes on the wire.

    The tries of ``stream_many`` mostly differ only in their body: the rest is prepared and
    written out once, then copied (unless the session holds cookies, which may change
    between tries).
    """
    if len(session.cookies):
        prepared = session.prepare_request(_request(attempt, attempt.payload))
        return prepared, _serialize(prepared, pool) + b"\r\n" + _body_of(prepared)
    key = (attempt.method, attempt.url, *attempt.params.items(), *attempt.headers.items())
    cached = cache.get(key)
    if cached is None:
        template = session.prepare_request(_request(attempt, None))
        template.headers.pop("Content-Length", None)
        cached = cache[key] = (template, _serialize(template, pool))
    template, head = cached
    prepared = template.copy()
    payload = attempt.payload
    if payload is None and prepared.method in ("GET", "HEAD"):
        return prepared, head + b"\r\n"
    payload = payload or b""
    prepared.body = payload
    prepared.headers["Content-Length"] = length = str(len(payload))
    return prepared, b"%sContent-Length: %s\r\n\r\n%s" % (head, length.encode(), payload)


def _request(attempt: Attempt, payload: Optional[bytes]) -> requests.Request:
    return requests.Request(
        attempt.method,
        attempt.url,
        headers=attempt.headers,
        data=payload,
        params=attempt.params or None,
    )


def _body_of(prepared: requests.PreparedRequest) -> bytes:
    body = prepared.body
    return body.encode("utf-8") if isinstance(body, str) else body or b""


def _addresses(pool: HTTPConnectionPool) -> List[Tuple[int, Any]]:
    """The (family, address) pairs to try connecting to, in order: the pool's host is an
    address or localhost."""
    host = pool.host.strip("[]")
    found = socket.getaddrinfo(host, pool.port or 80, 0, socket.SOCK_STREAM)
    return [(family, address) for family, _, _, _, address in found]


def _connection_error(
    pool: HTTPConnectionPool,
    prepared: requests.PreparedRequest,
    exc: BaseException,
    *,
    connecting: bool = False,
) -> requests.ConnectionError:
    """The ``requests`` error ``requests`` raises for ``exc`` (``connecting``: no connection)."""
    reason: Exception = urllib3.exceptions.ProtocolError("Connection aborted.", exc)
    if connecting:
        reason = urllib3.exceptions.NewConnectionError(
            pool,  # type: ignore[arg-type]
            f"Failed to establish a new connection: {exc}",
        )
    error = requests.ConnectionError(reason, request=prepared)
    error.__cause__ = exc
    return error


def _connect_timeout(
    pool: HTTPConnectionPool, prepared: requests.PreparedRequest, limit: Optional[float]
) -> requests.ConnectTimeout:
    reason = urllib3.exceptions.ConnectTimeoutError(
        pool, f"Connection to {pool.host} timed out. (connect timeout={limit})"
    )
    return requests.ConnectTimeout(reason, request=prepared)


def _read_timeout(
    pool: HTTPConnectionPool, prepared: requests.PreparedRequest, limit: Optional[float]
) -> requests.ReadTimeout:
    reason = urllib3.exceptions.ReadTimeoutError(
        pool, prepared.url, f"Read timed out. (read timeout={limit})"
    )
    return requests.ReadTimeout(reason, request=prepared)
