"""Paced Responses-API streams for many connections at once: the scale benchmark's server.

One thread, one ``selectors`` loop, non-blocking sockets and a timer heap: it sustains
thousands of concurrent keep-alive HTTP/1.1 connections, each streaming a paced scenario,
without a thread per connection. Run in its own process by :mod:`benchmarks.scale`.

``POST <anything>/responses`` with a JSON body (``Content-Length``); the ``model`` field
names a paced scenario of :mod:`benchmarks.streams` (``text-<n>-ev-p<gap µs>``). The response
is chunked, one HTTP chunk per event, in the real wire format: ``response.created``,
``response.in_progress``, ``output_item.added``, ``content_part.added``, the ``n`` deltas, the
``.done`` events and ``response.completed`` with the full text, all with sequence numbers.
Pacing starts when the request arrives: the head and the first delta at once, then one
delta every gap (on an absolute schedule, so lateness does not accumulate), the tail right
after the last delta. Each delta's text is the server's ``time.perf_counter_ns()`` taken just
before its ``send()`` (CLOCK_MONOTONIC, comparable across processes on one machine),
zero-padded to :data:`~benchmarks.streams.STAMP_WIDTH` digits.

``GET /stats`` returns, and resets, how late the sends were against their schedule (the
server's own lag: it shows whether the server kept up) and the server's CPU time since the
last reset. ``GET /health`` answers ``ok``.

Usage (the scale runner does this)::

    python -m benchmarks.scale_server --max-seconds 900

It prints ``READY <port>`` on stdout once listening, and exits by itself after
``--max-seconds`` or as soon as its parent process goes away. It raises its own priority
(nice -10) when allowed, so other work on its CPU does not stall the pacing.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import os
import resource
import selectors
import socket
import sys
import time
from typing import Dict, List, Optional, Tuple

from benchmarks.streams import (
    CHUNKED_END,
    STAMP_WIDTH,
    PacedTemplate,
    Scenario,
    frame_chunk,
    render_paced,
)

_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE
_MAX_REQUEST = 1 << 20

_HEADERS = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/event-stream; charset=utf-8\r\n"
    b"Cache-Control: no-cache\r\n"
    b"x-request-id: req_scale\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"\r\n"
)


def raise_nofile_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit (1,000+ sockets); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


class Stream:
    """A paced stream in progress on one connection."""

    __slots__ = ("gap_ns", "i", "next_at", "scenario", "stamps", "template")

    def __init__(self, scenario: Scenario, template: PacedTemplate, start_ns: int) -> None:
        self.scenario = scenario
        self.template = template
        self.gap_ns = (scenario.gap_us or 0) * 1000
        self.i = 0  # the next delta
        self.next_at = start_ns
        self.stamps: List[bytes] = []


class Conn:
    """One client connection: the request being read, the output not yet sent."""

    __slots__ = ("closed", "inbuf", "out", "sock", "stream")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inbuf = b""
        self.out = bytearray()  # what the socket did not take yet
        self.stream: Optional[Stream] = None
        self.closed = False


class ScaleServer:
    """The selector loop: accepts, reads requests, paces every stream from one timer heap."""

    def __init__(self, port: int = 0) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(4096)  # all clients connect at once (capped by somaxconn)
        self.listener.setblocking(False)
        self.port: int = self.listener.getsockname()[1]
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.listener, _READ, None)
        self.timers: List[Tuple[int, int, Conn]] = []  # (due ns, tie-breaker, connection)
        self.tie = itertools.count()
        self.templates: Dict[str, PacedTemplate] = {}
        self.lateness_ns: List[int] = []  # send time minus scheduled time, per delta
        self.cpu0 = time.process_time()
        self.streams_started = 0
        self.streams_finished = 0
        self.first_start_ns: Optional[int] = None  # when the first and last streams started
        self.last_start_ns = 0

    # ------------------------------------------------------------------------- output

    def write(self, conn: Conn, data: bytes) -> None:
        """Send now what the socket takes; keep the rest and wait until it is writable."""
        if conn.closed:
            return
        if conn.out:
            conn.out += data
            return
        try:
            sent = conn.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.close(conn)
            return
        if sent < len(data):
            conn.out += data[sent:]
            self.sel.modify(conn.sock, _READ | _WRITE, conn)

    def flush(self, conn: Conn) -> None:
        try:
            sent = conn.sock.send(conn.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close(conn)
            return
        del conn.out[:sent]
        if not conn.out:
            self.sel.modify(conn.sock, _READ, conn)

    def close(self, conn: Conn) -> None:
        if conn.closed:
            return
        conn.closed = True
        conn.stream = None  # its timer entry is dropped when it comes due
        try:
            self.sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()

    # ------------------------------------------------------------------------- input

    def accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # one event per send
            conn = Conn(sock)
            self.sel.register(sock, _READ, conn)

    def readable(self, conn: Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.close(conn)
            return
        conn.inbuf += data
        if len(conn.inbuf) > _MAX_REQUEST:
            self.close(conn)
            return
        if conn.stream is None:
            self.requests(conn)

    def requests(self, conn: Conn) -> None:
        """Handle the complete requests in the buffer (one at a time: no pipelined stream)."""
        while conn.stream is None and not conn.closed:
            end = conn.inbuf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = conn.inbuf[:end].decode("latin-1").split("\r\n")
            fields = {}
            for line in head[1:]:
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
            if fields.get("transfer-encoding", "").lower() == "chunked":
                self.error(conn, 411, "send the request body with Content-Length")
                self.close(conn)
                return
            length = int(fields.get("content-length") or 0)
            if len(conn.inbuf) < end + 4 + length:
                return
            body = conn.inbuf[end + 4 : end + 4 + length]
            conn.inbuf = conn.inbuf[end + 4 + length :]
            method, path, *_ = [*head[0].split(" "), "", ""]
            self.handle(conn, method, path, body)

    def handle(self, conn: Conn, method: str, path: str, body: bytes) -> None:
        if method == "GET" and path == "/health":
            self.respond(conn, 200, "text/plain", b"ok")
            return
        if method == "GET" and path == "/stats":
            self.respond(conn, 200, "application/json", json.dumps(self.stats()).encode())
            return
        if method != "POST" or not path.rstrip("/").endswith("/responses"):
            self.error(conn, 404, f"unknown path {path}")
            return
        try:
            name = str(json.loads(body or b"{}").get("model", ""))
            scenario = Scenario.parse(name)
            if not scenario.paced or scenario.framing != "ev":
                raise ValueError(f"{name}: the scale server serves paced chunked streams only")
        except ValueError as exc:
            self.error(conn, 400, str(exc))
            return
        template = self.templates.get(name)
        if template is None:
            template = self.templates[name] = render_paced(scenario)
        self.write(conn, _HEADERS + b"".join(frame_chunk(ev) for ev in template.head))
        start = time.perf_counter_ns()
        conn.stream = Stream(scenario, template, start)
        self.streams_started += 1
        if self.first_start_ns is None:
            self.first_start_ns = start
        self.last_start_ns = start
        self.send_next(conn)  # the first delta at once, as the paced stream server does

    def respond(self, conn: Conn, status: int, ctype: str, body: bytes) -> None:
        head = f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
        head += f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
        self.write(conn, head.encode() + body)

    def error(self, conn: Conn, status: int, message: str) -> None:
        body = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
        self.respond(conn, status, "application/json", json.dumps(body).encode())

    # ------------------------------------------------------------------------- pacing

    def send_next(self, conn: Conn) -> None:
        """Send the stream's next delta (stamped just before the send), then schedule the
        one after it, or send the tail and the end of the body after the last."""
        st = conn.stream
        if st is None or conn.closed:
            return
        before, after = st.template.delta_parts[st.i]
        now = time.perf_counter_ns()
        stamp = b"%0*d" % (STAMP_WIDTH, now)
        self.write(conn, frame_chunk(before + stamp + after))
        self.lateness_ns.append(now - st.next_at)
        st.stamps.append(stamp)
        st.i += 1
        n = st.scenario.n
        if st.i < n:
            st.next_at += st.gap_ns
            heapq.heappush(self.timers, (st.next_at, next(self.tie), conn))
            return
        full = b"".join(st.stamps).decode()
        tail = st.template.renderer.tail(len(st.template.head) + n, full, n)
        self.write(conn, b"".join(frame_chunk(ev) for ev in tail) + CHUNKED_END)
        conn.stream = None
        self.streams_finished += 1
        if conn.inbuf:
            self.requests(conn)  # a request that came while streaming (keep-alive)

    def stats(self) -> Dict[str, object]:
        """The server's lag since the last call (and reset it), in ms, and its CPU time."""
        late = sorted(self.lateness_ns)
        cpu = time.process_time()

        def pct(p: float) -> Optional[float]:
            if not late:
                return None
            i = max(0, min(len(late) - 1, round(p / 100 * len(late) + 0.5) - 1))
            return late[i] / 1e6

        out: Dict[str, object] = {
            "sends": len(late),
            "late_p50_ms": pct(50),
            "late_p99_ms": pct(99),
            "late_max_ms": late[-1] / 1e6 if late else None,
            "cpu_s": cpu - self.cpu0,
            "streams_started": self.streams_started,
            "streams_finished": self.streams_finished,
            "starts_spread_s": (
                (self.last_start_ns - self.first_start_ns) / 1e9
                if self.first_start_ns is not None
                else None
            ),
            "open_connections": len(self.sel.get_map()) - 2,  # not the listener, not this one
        }
        self.lateness_ns = []
        self.cpu0 = cpu
        self.streams_started = self.streams_finished = 0
        self.first_start_ns = None
        return out

    # ------------------------------------------------------------------------- loop

    def serve(self, max_seconds: float, parent: int) -> None:
        deadline = time.monotonic() + max_seconds
        next_check = 0.0
        timers = self.timers
        select = self.sel.select
        clock = time.perf_counter_ns
        while True:
            if timers:
                wait = max(0.0, (timers[0][0] - clock()) / 1e9)
                wait = min(wait, 0.25)
            else:
                wait = 0.25
            for key, mask in select(wait):
                conn = key.data
                if conn is None:
                    self.accept()
                    continue
                if mask & _WRITE and conn.out:
                    self.flush(conn)
                if mask & _READ and not conn.closed:
                    self.readable(conn)
            now = clock()
            while timers and timers[0][0] <= now:
                _, _, conn = heapq.heappop(timers)
                self.send_next(conn)
            mono = time.monotonic()
            if mono >= next_check:  # the bounds, a few times a second
                next_check = mono + 0.25
                if os.getppid() != parent:
                    os._exit(3)
                if mono > deadline:
                    os._exit(2)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=900.0)
    args = ap.parse_args(argv)
    raise_nofile_limit()
    try:  # ahead of whatever else runs on its CPU: a stalled server sends its deltas in bursts
        os.setpriority(os.PRIO_PROCESS, 0, -10)
    except (AttributeError, OSError):
        pass  # not permitted: the "server lag" column shows what that cost
    server = ScaleServer(args.port)
    sys.stdout.write(f"READY {server.port}\n")
    sys.stdout.flush()
    server.serve(args.max_seconds, os.getppid())
    return 0


if __name__ == "__main__":
    sys.exit(main())
