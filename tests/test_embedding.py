"""The SDK inside the processes that embed it: forked workers (Celery prefork, gunicorn
--preload), signal handlers (a worker's graceful shutdown), a caller's own session, and long
lives (nothing a finished call used stays in memory)."""

from __future__ import annotations

import gc
import os
import signal
import socket
import threading
import time
import warnings
import weakref
from typing import Any, Dict, List

import pytest
import requests

import responses_stream as rs
from responses_stream.testing import MockServer, Script

from .scripts import RawServer, closed_port_url, requests_on

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")


def _fork() -> int:
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() in a process with threads (the servers' here).
        warnings.filterwarnings("ignore", "This process", DeprecationWarning)
        return os.fork()


def _child_exit_code(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@needs_fork
def test_a_forked_child_leaves_the_parents_streams_alone(server: MockServer) -> None:
    """The parent streams with an idle limit while a child, forked meanwhile, makes calls of
    its own with a time limit: the child's watchdog never acts on the parent's streams (their
    sockets are shared with it)."""
    server.add(Script(seed=1).text("p " * 30).completed(), delay=0.05, match={"input": "parent"})
    server.add(Script(seed=2).text("child").completed(), match={"input": "child"})
    outcome: Dict[str, Any] = {}

    def parent() -> None:
        with rs.Client(base_url=server.url, timeout=rs.Timeout(idle=0.8)) as client:
            try:
                outcome["final"] = client.stream(model="m", input="parent")
            except rs.ResponsesStreamError as exc:
                outcome["error"] = exc

    thread = threading.Thread(target=parent)
    thread.start()
    time.sleep(0.3)  # the parent's stream is under way, its guard armed
    pid = _fork()
    if pid == 0:
        code = 1
        try:
            with rs.Client(base_url=server.url, timeout=rs.Timeout(total=30)) as client:
                if client.stream(model="m", input="child").output_text == "child":
                    code = 0
            time.sleep(1.5)  # a worker lives on: so does its watchdog
        finally:
            os._exit(code)
    thread.join(30)
    assert _child_exit_code(pid) == 0
    assert "error" not in outcome, outcome.get("error")
    assert outcome["final"].output_text == "p " * 30


@needs_fork
def test_a_client_used_before_a_fork_gives_the_child_connections_of_its_own() -> None:
    """A kept-alive connection in the pool when the process forks stays the parent's: the
    child opens its own (two processes writing on one socket would mix their requests)."""
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    body = Script(seed=3).text("answer").completed().to_bytes()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)

    def serve(sock: socket.socket) -> None:
        for _ in requests_on(sock):
            sock.sendall(head + chunked)

    raw = RawServer(serve)
    try:
        with rs.Client(base_url=raw.url, max_retries=0) as client:
            assert client.stream(model="m", input="x").output_text == "answer"
            assert raw.connections == 1  # kept alive in the pool
            pid = _fork()
            if pid == 0:
                code = 1
                try:
                    if client.stream(model="m", input="x").output_text == "answer":
                        code = 0
                finally:
                    os._exit(code)
            assert _child_exit_code(pid) == 0
            assert raw.connections == 2  # the child's own
            assert client.stream(model="m", input="x").output_text == "answer"
            assert raw.connections == 2  # the parent's, still alive
    finally:
        raw.close()


@pytest.mark.parametrize(
    "timeout", [rs.Timeout(total=600), rs.Timeout(idle=600)], ids=["total", "idle"]
)
def test_a_finished_stream_is_not_kept_until_its_time_limit(
    server: MockServer, timeout: rs.Timeout
) -> None:
    """The watchdog keeps a call's limits until they fall due: not its snapshot with them."""
    for _ in range(2):
        server.add(Script(seed=4).text("kept? " * 50).completed())
    with rs.Client(base_url=server.url, timeout=timeout) as client:
        final = client.stream(model="m", input="x")
        many = client.stream_many([{"model": "m", "input": "x"}])
    assert isinstance(many[0], rs.Response), many[0]
    gone = [weakref.ref(final), weakref.ref(many[0])]
    del final, many
    gc.collect()
    assert [ref() for ref in gone] == [None, None]


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer()")
def test_stop_from_a_signal_handler_ends_stream_many_at_once(server: MockServer) -> None:
    """A worker's SIGTERM handler stops every stream while the loop waits on the selector."""
    for _ in range(2):
        server.add(Script(seed=5).text("a b c d e f").completed(), stall=20, stall_after_events=5)
    handlers: List[rs.ResponseHandler] = []

    def make(index: int, params: Any) -> rs.ResponseHandler:
        handlers.append(rs.ResponseHandler())
        return handlers[-1]

    def stop_all(signum: int, frame: Any) -> None:
        for handler in handlers:
            handler.stop()

    previous = signal.signal(signal.SIGALRM, stop_all)
    try:
        with rs.Client(base_url=server.url, timeout=rs.Timeout(connect=30, read=60)) as client:
            started = time.monotonic()
            signal.setitimer(signal.ITIMER_REAL, 0.5)
            outcomes = client.stream_many([{"model": "m", "input": "x"}] * 2, make)
            took = time.monotonic() - started
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert all(isinstance(outcome, rs.Response) for outcome in outcomes), outcomes
    assert all(handler.stopped for handler in handlers)
    assert took < 10  # not the 20 s stall


def test_a_callers_session_that_reads_the_environment_does_so_in_stream_many_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``Client(session=requests.Session())`` keeps ``trust_env``: requests reads the
    environment's proxy for every request, and so does ``stream_many``."""
    lines: List[bytes] = []
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    body = Script(seed=6).text("via the proxy").completed().to_bytes()

    def proxy(sock: socket.socket) -> None:  # answers in the origin's place
        for request, _ in requests_on(sock):
            lines.append(request.split(b"\r\n")[0])
            sock.sendall(head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))

    raw = RawServer(proxy)
    origin = closed_port_url()  # not reachable but through the proxy
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", raw.url.rsplit("/", 1)[0])
    try:
        with (
            requests.Session() as session,
            rs.Client(base_url=origin, session=session, max_retries=0) as client,
        ):
            assert client.stream(model="m", input="x").output_text == "via the proxy"
            [outcome] = client.stream_many([{"model": "m", "input": "x"}])
        assert isinstance(outcome, rs.Response), outcome
        assert outcome.output_text == "via the proxy"
    finally:
        raw.close()
    assert lines == [f"POST {origin}/responses HTTP/1.1".encode()] * 2


def test_events_many_dropped_unused_leaves_nothing_open(server: MockServer) -> None:
    """An ``events_many()`` made and never entered (an exception came first) holds a selector
    and a socket pair: dropped, it lets them go (an unclosed socket fails this run)."""
    from .scripts import fd_count

    with rs.Client(base_url=server.url) as client:
        before = fd_count()
        for _ in range(20):
            client.events_many([{"model": "m", "input": "x"}])
        assert fd_count() == before


_DAEMON_SCRIPT = r"""
import socket, threading, time
import responses_stream as rs

def trickle(conn):
    with conn:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 500 Oops\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n")
        for _ in range(100):  # the error's body takes 30 s
            try:
                conn.sendall(b" ")
            except OSError:
                return
            time.sleep(0.3)

listener = socket.create_server(("127.0.0.1", 0))
def accept():
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=trickle, args=(conn,), daemon=True).start()
threading.Thread(target=accept, daemon=True).start()
client = rs.Client(base_url=f"http://127.0.0.1:{listener.getsockname()[1]}/v1", max_retries=0)
threading.Thread(
    target=lambda: client.stream_many([{"model": "m", "input": "x"}]), daemon=True
).start()
time.sleep(1)  # the error's body is being read on stream_many's pool
print("exiting", flush=True)
"""


def test_stream_many_in_a_daemon_thread_lets_the_interpreter_exit() -> None:
    """As stream() does: the pool's blocking work belongs to a stream of a daemon thread."""
    import subprocess
    import sys

    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _DAEMON_SCRIPT],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout == "exiting\n", done.stderr
    assert time.monotonic() - started < 15  # not the 30 s the error's body takes


def test_the_daemon_pool_runs_cancels_and_reports_as_concurrent_futures() -> None:
    from responses_stream._daemon_pool import DaemonPool

    pool = DaemonPool(2, "test-pool")
    gate = threading.Event()
    blocked = [pool.submit(gate.wait, 10) for _ in range(2)]  # both threads busy
    queued = pool.submit(lambda: "never")
    failed_later = pool.submit(lambda: 1 / 0)
    assert all(t.daemon for t in threading.enumerate() if t.name.startswith("test-pool"))
    assert len([t for t in threading.enumerate() if t.name.startswith("test-pool")]) == 2
    pool.shutdown()  # what has not started is cancelled; what runs goes on
    gate.set()
    assert [future.result(5) for future in blocked] == [True, True]
    assert queued.cancelled() and failed_later.cancelled()
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)

    pool = DaemonPool(3, "test-pool-2")
    results = [pool.submit(lambda n=n: n * n) for n in range(20)]
    error = pool.submit(lambda: 1 / 0)
    assert [future.result(5) for future in results] == [n * n for n in range(20)]
    with pytest.raises(ZeroDivisionError):
        error.result(5)
    pool.shutdown()


@needs_fork
def test_a_child_that_exits_normally_leaves_the_parents_stream_many_wakeable(
    server: MockServer,
) -> None:
    """A forked child's exit runs its finalizers: they must not touch the selector (epoll)
    it shares with the parent, or the parent's loop no longer hears a close()."""
    import atexit

    server.add(Script(seed=7).text("hello there").completed(), stall=30, stall_after_events=2)
    ended: Dict[str, float] = {}
    with rs.Client(base_url=server.url, timeout=rs.Timeout(read=20)) as client:
        many = client.events_many([{"model": "m", "input": "x"}])

        def run() -> None:
            with many:
                for _ in many:
                    pass
            ended["at"] = time.monotonic()

        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(0.5)  # open and stalled: the loop waits on its selector
        pid = _fork()
        if pid == 0:
            try:
                atexit._run_exitfuncs()  # what a normal exit runs (finalizers included)
            finally:
                os._exit(0)
        assert _child_exit_code(pid) == 0
        closed = time.monotonic()
        many.close()  # from another thread: wakes the loop at once
        thread.join(30)
    assert ended["at"] - closed < 2, ended["at"] - closed  # not a timer seconds later
