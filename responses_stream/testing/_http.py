"""The HTTP plumbing under :class:`~responses_stream.testing.MockServer`: the threaded
server that tracks every connection, its request handler, and how a connection is dropped.

Part of :mod:`responses_stream.testing`; standard library only.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Tuple


class Abort(Exception):
    """Raised inside a handler to drop the connection without finishing the response."""


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # stream_many connects hundreds at once (socketserver's 5 drops them)

    def __init__(self, address: Tuple[str, int], mock: Any) -> None:
        self.mock = mock  # the MockServer: handlers call its _handle(handler)
        self.lock = threading.Lock()
        self.active: Dict[threading.Thread, socket.socket] = {}
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Like ThreadingMixIn, but tracks every connection so close() can end and join it.
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name=f"MockServer-conn-{client_address[1]}",
            daemon=True,
        )
        with self.lock:
            self.active[thread] = request
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self.lock:
                self.active.pop(threading.current_thread(), None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up mid-stream are normal in these tests; anything else is a bug.
        if not isinstance(sys.exc_info()[1], (OSError, Abort)):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read ``MockServer.requests`` instead of a log."""

    def _dispatch(self) -> None:
        try:
            self.server.mock._handle(self)
        except (OSError, Abort):
            self.close_connection = True
        except ValueError as exc:  # a request body it cannot read: say so, as a server would
            self.close_connection = True
            self.send_error(400, f"Bad request body: {exc}")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is not None:
            if not length.strip().isdigit():
                raise ValueError(f"bad Content-Length {length!r}")
            return self.rfile.read(int(length))
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            return b""
        body = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(body)
            body += self.rfile.read(size)
            self.rfile.readline()


def drop(handler: Handler, reset: bool) -> None:
    """End the connection mid-response: a FIN, or an RST when ``reset``."""
    handler.close_connection = True
    if reset:
        # An RST discards what the kernel has not sent yet: first let the client have
        # every byte written (close_after promises exactly that prefix), for a while.
        _sent_out(handler.connection, deadline=time.monotonic() + 10)
        linger = struct.pack("ii", 1, 0)
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        # The real close (and so the RST) happens when the handler closes its rfile,
        # before the server's usual shutdown(SHUT_WR) could send a FIN.
        handler.connection.close()


def _sent_out(sock: socket.socket, deadline: float) -> None:
    """Wait until ``sock`` has no byte left to send (or the client acknowledge), where the
    system says (Linux ``SIOCOUTQ``); elsewhere a moment."""
    try:
        import fcntl
        import termios

        outq = termios.TIOCOUTQ  # SIOCOUTQ on Linux
    except (ImportError, AttributeError):
        time.sleep(0.05)
        return
    while time.monotonic() < deadline:
        try:
            left = struct.unpack("i", fcntl.ioctl(sock.fileno(), outq, b"\0" * 4))[0]
        except OSError:
            return
        if left <= 0:
            return
        time.sleep(0.005)


__all__ = ["Abort", "HTTPServer", "Handler", "drop"]
