"""Local Responses-API stream server, run in its own process by the benchmark runner.

``POST <anything>/responses`` with a JSON body; the ``model`` field names the scenario
(see :mod:`benchmarks.streams`), so one client object can run the warm-up and the
measured request on the same connection. Bodies are rendered before the server reports
ready, so rendering never lands inside a measurement.

Usage (the runner does this)::

    python -m benchmarks.server --prepare text-10000-ev,text-50-ev --max-seconds 600

It prints ``READY <port> <json body sizes>`` on stdout once listening. It exits by itself after
``--max-seconds`` or as soon as its parent process goes away.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Union

from benchmarks.streams import (
    CHUNKED_END,
    STAMP_WIDTH,
    PacedTemplate,
    Scenario,
    frame_chunk,
    render_body,
    render_paced,
)

Prepared = Union[bytes, PacedTemplate]

_CACHE: Dict[str, Prepared] = {}
_CACHE_LOCK = threading.Lock()


def prepare(name: str) -> Prepared:
    """Render (once) and cache the body or paced template of a scenario."""
    with _CACHE_LOCK:
        item = _CACHE.get(name)
        if item is None:
            sc = Scenario.parse(name)
            item = render_paced(sc) if sc.paced else render_body(sc)
            _CACHE[name] = item
        return item


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive + chunked for the "ev" framing

    def setup(self) -> None:
        super().setup()
        # One event per write must leave immediately in paced mode.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep stdout clean (the runner reads READY from it)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts: List[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _error(self, code: int, message: str) -> None:
        body = json.dumps(
            {"error": {"message": message, "type": "invalid_request_error", "code": None}}
        ).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/health":
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        else:
            self._error(404, "not found")

    def do_POST(self) -> None:
        raw = self._read_body()
        if not self.path.rstrip("/").endswith("/responses"):
            self._error(404, f"unknown path {self.path}")
            return
        try:
            name = str(json.loads(raw or b"{}").get("model", ""))
            sc = Scenario.parse(name)
            item = prepare(name)
        except ValueError as exc:
            self._error(400, str(exc))
            return

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("x-request-id", "req_benchmark")
        if sc.framing == "ev":
            self.send_header("Transfer-Encoding", "chunked")
        else:
            # Close-delimited body: no Content-Length, no chunked; EOF ends it.
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()

        if isinstance(item, bytes):
            self.wfile.write(item)  # bulk: one sendall of the pre-framed body
        else:
            self._send_paced(sc, item)

    def _send_paced(self, sc: Scenario, tpl: PacedTemplate) -> None:
        """One event per write; each delta carries the perf_counter_ns() of its send."""
        chunked = sc.framing == "ev"

        def send(ev: bytes) -> None:
            self.wfile.write(frame_chunk(ev) if chunked else ev)

        for ev in tpl.head:
            send(ev)
        gap_ns = (sc.gap_us or 0) * 1000
        stamps = []
        next_at = time.perf_counter_ns()
        for before, after in tpl.delta_parts:
            delay = next_at - time.perf_counter_ns()
            if delay > 0:
                time.sleep(delay / 1e9)
            stamp = b"%0*d" % (STAMP_WIDTH, time.perf_counter_ns())
            send(before + stamp + after)
            stamps.append(stamp.decode())
            next_at += gap_ns
        for ev in tpl.renderer.tail(len(tpl.head) + sc.n, "".join(stamps), sc.n):
            send(ev)
        if chunked:
            self.wfile.write(CHUNKED_END)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _watchdog(max_seconds: float, parent: int) -> None:
    """Exit hard after max_seconds or when the parent process is gone."""
    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline:
        if os.getppid() != parent:
            os._exit(3)
        time.sleep(0.25)
    os._exit(2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=600.0)
    ap.add_argument("--prepare", default="", help="comma-separated scenarios to pre-render")
    args = ap.parse_args()

    threading.Thread(target=_watchdog, args=(args.max_seconds, os.getppid()), daemon=True).start()
    for name in filter(None, args.prepare.split(",")):
        prepare(name)
    httpd = Server(("127.0.0.1", args.port), Handler)
    sizes = {k: len(v) for k, v in _CACHE.items() if isinstance(v, bytes)}
    sys.stdout.write(f"READY {httpd.server_address[1]} {json.dumps(sizes)}\n")
    sys.stdout.flush()
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()


if __name__ == "__main__":
    main()
