"""One contender of the scale benchmark, N streams at once in a fresh process.

Started by :mod:`benchmarks.scale`::

    python -m benchmarks.scale_worker '<json spec>'   # prints one "RESULT {...}" line

The spec is ``{"contender", "base_url", "n", "scenario", "expected_n", "timeout"}``: open
``n`` streams of the paced ``scenario`` at once (served by :mod:`benchmarks.scale_server`),
all requested together. Before that, one small stream goes through the same client and API
(imports, connection setup code, caches); then the worker measures, from before the first
request to after the last stream has ended: process CPU time (``time.process_time()``: every
thread of the process), wall time, and afterwards VmHWM (peak RSS).

Every contender does the same work per delta, in :meth:`Tally.add`: read the clock, take the
server's send stamp out of the delta text, store the latency and the stamp in preallocated
arrays shared by all streams, count the event, its characters and the sum of the stamps. Besides
the p50 and p99 of all deltas, the worker reports the p99 of the deltas sent after every stream
had started (after the last stream's first delta): the steady state, without the start-up. After the
measurement each stream is checked: exactly ``expected_n`` deltas, and a final text (from the
SDK's final ``Response``, or from ``response.completed``) that is the concatenation of the
stamps it delivered (length and sum).

Contenders: ``floor`` (a bare ``selectors`` loop over N non-blocking sockets: the requests,
``recv``, chunked framing, events split at blank lines, ``json.loads`` of every data line; no
SDK), ``stream_many`` (``responses_stream.Client.stream_many``), ``rs_threads``
(``client.stream`` on a thread pool of N, one shared client), ``openai_async``
(``AsyncOpenAI`` ``responses.create(stream=True)`` under ``asyncio.gather``) and
``openai_threads`` (the sync ``OpenAI`` client on a thread pool of N). Only the modules a
contender needs are imported, so the peak RSS is its own.
"""

from __future__ import annotations

import gc
import itertools
import json
import resource
import selectors
import signal
import socket
import sys
import time
import traceback
from array import array
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from benchmarks.scale_server import raise_nofile_limit
from benchmarks.streams import STAMP_WIDTH, TEXT_DELTA
from benchmarks.worker import Unavailable, die_with_parent, emit, proc_status_kib

CONTENDERS = ("floor", "stream_many", "rs_threads", "openai_async", "openai_threads")

#: The small stream each contender runs through the same client before the measurement.
WARMUP = "text-5-ev-p1000"

_clock = time.perf_counter_ns  # CLOCK_MONOTONIC: the server's stamps use the same clock


class Latencies:
    """The latency and the send stamp of every delta of every stream, in ns, in two
    preallocated arrays of int64 (no int object is kept per delta)."""

    def __init__(self, capacity: int) -> None:
        self.values = array("q", bytes(8 * capacity))
        self.sent = array("q", bytes(8 * capacity))
        self.counter = itertools.count()

    def used(self) -> Tuple[List[int], List[int]]:
        """The latencies and stamps recorded (``counter`` is consumed: call once, at the end)."""
        k = min(next(self.counter), len(self.values))
        return self.values[:k].tolist(), self.sent[:k].tolist()


class Tally:
    """One stream's deltas: the per-delta work every contender does."""

    __slots__ = ("chars", "first", "n", "next_slot", "sent", "stamps", "values")

    def __init__(self, lat: Latencies) -> None:
        self.n = 0
        self.chars = 0
        self.stamps = 0  # sum of the send stamps delivered: checked against the final text
        self.first = 0  # the stamp of the first delta: when the stream started
        self.values = lat.values
        self.sent = lat.sent
        self.next_slot = lat.counter.__next__  # atomic under the GIL: threads may share it

    def add(self, delta: str) -> None:
        now = _clock()
        stamp = int(delta)
        try:
            i = self.next_slot()
            self.values[i] = now - stamp
            self.sent[i] = stamp
        except IndexError:
            pass  # more deltas than expected: the count check reports it
        if not self.n:
            self.first = stamp
        self.n += 1
        self.chars += len(delta)
        self.stamps += stamp

    def check(self, expected_n: int, final: Any) -> Optional[str]:
        """``None`` if the stream is correct, else what is wrong with it."""
        if isinstance(final, BaseException):
            return f"{type(final).__name__}: {final}"
        if self.n != expected_n:
            return f"{self.n} deltas != {expected_n}"
        if self.chars != expected_n * STAMP_WIDTH:
            return f"{self.chars} delta characters != {expected_n * STAMP_WIDTH}"
        if not isinstance(final, str):
            return f"no final text ({final!r})"
        if len(final) != self.chars:
            return f"final text of {len(final)} characters != {self.chars} delivered"
        w = STAMP_WIDTH
        if sum(int(final[i : i + w]) for i in range(0, len(final), w)) != self.stamps:
            return "final text is not the deltas delivered (stamp sums differ)"
        return None


#: Opens ``len(tallies)`` streams of ``model`` at once, feeds each stream's deltas to its
#: tally and returns each stream's final text (or the exception that ended it), in order.
Runner = Callable[[str, List[Tally]], List[Any]]


# --------------------------------------------------------------------------------------
# floor
# --------------------------------------------------------------------------------------


class _FloorConn:
    """One socket of the floor: the request, then chunked framing and SSE splitting."""

    __slots__ = ("add", "body_done", "buf", "data", "final", "headers_done", "sock", "sse")

    def __init__(self, sock: socket.socket, tally: Tally) -> None:
        self.sock = sock
        self.add = tally.add
        self.buf = b""  # bytes not yet unframed
        self.sse = b""  # unframed bytes not yet split into events
        self.headers_done = False
        self.body_done = False
        self.final: Any = None

    def feed(self, data: bytes) -> bool:
        """Take in what arrived; True once the body has ended."""
        buf = self.buf + data if self.buf else data
        if not self.headers_done:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return False
            status = buf[: buf.find(b"\r\n")]
            if b" 200 " not in status:
                raise RuntimeError(f"HTTP status {status!r}")
            self.headers_done = True
            buf = buf[end + 4 :]
        pos, payload = 0, []
        while True:  # chunked framing: "<hex size>\r\n<payload>\r\n", ends with size 0
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(buf[pos:eol].split(b";", 1)[0], 16)
            if size == 0:
                self.body_done = True
                break
            start = eol + 2
            if start + size + 2 > len(buf):
                break
            payload.append(buf[start : start + size])
            pos = start + size + 2
        self.buf = buf[pos:]
        if payload:
            blocks = (self.sse + b"".join(payload)).split(b"\n\n")
            self.sse = blocks.pop()  # an incomplete event stays for the next read
            loads, add = json.loads, self.add
            for block in blocks:
                data = [
                    line[5:].lstrip(b" ") for line in block.split(b"\n") if line[:5] == b"data:"
                ]
                if not data:
                    continue
                event = loads(b"\n".join(data))
                kind = event["type"]
                if kind == TEXT_DELTA:
                    add(event["delta"])
                elif kind == "response.completed":
                    self.final = event["response"]
        return self.body_done


def _final_text(response: Dict[str, Any]) -> str:
    """``output_text`` of a response as JSON (the floor keeps no types)."""
    return "".join(
        part.get("text", "")
        for item in response.get("output", [])
        if item.get("type") == "message"
        for part in item.get("content", [])
        if part.get("type") == "output_text"
    )


def make_floor(base_url: str, n: int, timeout: float) -> Runner:
    """A bare selector loop over N non-blocking sockets; ``json.loads`` of every event."""
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    path = url.path.rstrip("/") + "/responses"

    def run(model: str, tallies: List[Tally]) -> List[Any]:
        body = json.dumps({"model": model, "input": "x", "stream": True}).encode()
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer x\r\n"
            f"Content-Type: application/json\r\nAccept: text/event-stream\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        sel = selectors.DefaultSelector()
        conns: List[_FloorConn] = []
        for tally in tallies:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect_ex((host, port))
            conn = _FloorConn(sock, tally)
            conns.append(conn)
            sel.register(sock, selectors.EVENT_WRITE, conn)
        results: List[Any] = [None] * len(conns)
        index = {id(c): i for i, c in enumerate(conns)}
        open_count = len(conns)
        deadline = time.monotonic() + timeout * 0.9  # before the worker's alarm

        def finish(conn: _FloorConn, outcome: Any) -> None:
            nonlocal open_count
            sel.unregister(conn.sock)
            conn.sock.close()
            results[index[id(conn)]] = outcome
            open_count -= 1

        while open_count:
            if time.monotonic() > deadline:
                for conn in conns:
                    if results[index[id(conn)]] is None:
                        finish(conn, TimeoutError(f"not finished after {timeout:.0f} s"))
                break
            for key, mask in sel.select(1.0):
                conn = key.data
                if mask & selectors.EVENT_WRITE:
                    try:
                        sent = conn.sock.send(request)  # small: the socket takes it whole
                        if sent != len(request):
                            raise OSError(f"sent {sent} of {len(request)} request bytes")
                    except OSError as exc:
                        finish(conn, exc)
                        continue
                    sel.modify(conn.sock, selectors.EVENT_READ, conn)
                    continue
                try:
                    data = conn.sock.recv(65536)
                    if not data:
                        raise ConnectionError("the server closed the connection mid-body")
                    if conn.feed(data):
                        final = conn.final
                        finish(conn, _final_text(final) if final is not None else None)
                except (OSError, RuntimeError, ValueError) as exc:
                    finish(conn, exc)
        sel.close()
        return results

    return run


# --------------------------------------------------------------------------------------
# responses_stream
# --------------------------------------------------------------------------------------


def _import_rs(need_many: bool) -> Any:
    try:
        import responses_stream as rs
    except ImportError as exc:
        raise Unavailable(f"import responses_stream failed: {exc}") from exc
    if not hasattr(rs, "Client") or not hasattr(rs, "ResponseHandler"):
        raise Unavailable("responses_stream has no Client/ResponseHandler")
    if need_many and not hasattr(rs.Client, "stream_many"):
        raise Unavailable("responses_stream.Client has no stream_many (not written yet?)")
    return rs


def _rs_handler(rs: Any) -> Any:
    """The handler class both SDK contenders use: the delta goes to the stream's tally."""

    class Counting(rs.ResponseHandler):  # type: ignore[misc,name-defined]
        def __init__(self, add: Callable[[str], None]) -> None:
            super().__init__()
            self._add = add

        def on_text_delta(self, delta: str, snapshot: str) -> None:
            self._add(delta)

    return Counting


def _text_or_error(result: Any) -> Any:
    return result if isinstance(result, BaseException) else result.output_text


def make_stream_many(base_url: str, n: int, timeout: float) -> Runner:
    """``client.stream_many(requests, handler_factory, concurrency=N)``: one selector."""
    rs = _import_rs(need_many=True)
    client = rs.Client(base_url=base_url, api_key="x", max_retries=0)
    counting = _rs_handler(rs)

    def run(model: str, tallies: List[Tally]) -> List[Any]:
        adds = [t.add for t in tallies]
        requests = [{"model": model, "input": str(i)} for i in range(len(tallies))]
        results = client.stream_many(
            requests, lambda index, params: counting(adds[index]), concurrency=len(tallies)
        )
        return [_text_or_error(r) for r in results]

    return run


def _on_threads(n: int, one: Callable[[int], Any]) -> List[Any]:
    """``one(i)`` for every stream on a ``ThreadPoolExecutor(max_workers=n)``, as an
    application would write it; the results (or errors) in order.

    The executor starts a thread per ``submit`` while none is idle, and each start waits until
    the new thread has run, which, once streams are running, means waiting for the GIL: the
    last requests go out seconds after the first (the server reports the spread). Starting
    every thread beforehand did not tighten the starts (see README.md), so the pool is used as
    applications use it.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(one, i) for i in range(n)]
        out: List[Any] = []
        for f in futures:
            exc = f.exception()
            out.append(exc if exc is not None else f.result())
        return out


def make_rs_threads(base_url: str, n: int, timeout: float) -> Runner:
    """``client.stream(handler=...)`` per stream on a ``ThreadPoolExecutor(N)``, one client.

    The client's own connection pool keeps 64 idle connections; requests opens more when
    more threads stream at once and drops the extras afterwards (its "pool is full" warning
    is silenced so stderr stays readable).
    """
    import logging

    rs = _import_rs(need_many=False)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    client = rs.Client(base_url=base_url, api_key="x", max_retries=0)
    counting = _rs_handler(rs)

    def run(model: str, tallies: List[Tally]) -> List[Any]:
        def one(i: int) -> Any:
            return client.stream(handler=counting(tallies[i].add), model=model, input=str(i))

        return [_text_or_error(r) for r in _on_threads(len(tallies), one)]

    return run


# --------------------------------------------------------------------------------------
# openai
# --------------------------------------------------------------------------------------


def _import_openai() -> Tuple[Any, Any]:
    """openai and the HTTP library its clients are built on (httpx, or httpx2 for openai 3)."""
    try:
        import importlib

        import openai
    except ImportError as exc:
        raise Unavailable(f"import openai failed: {exc}") from exc
    base = next(
        (c for c in openai.DefaultAsyncHttpxClient.__mro__ if c.__name__ == "AsyncClient"), None
    )
    if base is None:
        raise Unavailable("openai.DefaultAsyncHttpxClient is not an httpx AsyncClient")
    return openai, importlib.import_module(base.__module__.split(".")[0])


def _http_options(httpx: Any, n: int, timeout: float) -> Dict[str, Any]:
    """Connection limits raised to N (the default pool would queue streams) and timeouts."""
    return {
        "limits": httpx.Limits(max_connections=n, max_keepalive_connections=n),
        "timeout": httpx.Timeout(timeout, connect=60.0),
    }


def make_openai_async(base_url: str, n: int, timeout: float) -> Runner:
    """``AsyncOpenAI`` ``responses.create(stream=True)``, N tasks under ``asyncio.gather``."""
    import asyncio

    openai, httpx = _import_openai()

    def run(model: str, tallies: List[Tally]) -> List[Any]:
        # The client is made in the loop that uses it (a pooled connection belongs to its
        # loop), so its construction (a few ms) is inside the measured time.
        async def main() -> List[Any]:
            http = openai.DefaultAsyncHttpxClient(**_http_options(httpx, n, timeout))
            client = openai.AsyncOpenAI(
                base_url=base_url, api_key="x", max_retries=0, http_client=http
            )

            async def one(i: int) -> Any:
                add = tallies[i].add
                final = None
                stream = await client.responses.create(model=model, input=str(i), stream=True)
                async with stream:
                    async for event in stream:
                        if event.type == TEXT_DELTA:
                            add(event.delta)
                        elif event.type == "response.completed":
                            final = event.response
                return final

            try:
                jobs = map(one, range(len(tallies)))
                return list(await asyncio.gather(*jobs, return_exceptions=True))
            finally:
                await client.close()

        results = asyncio.run(main())
        return [r if r is None else _text_or_error(r) for r in results]

    return run


def make_openai_threads(base_url: str, n: int, timeout: float) -> Runner:
    """The sync ``OpenAI`` client's ``responses.create(stream=True)`` on a pool of N threads,
    one client whose connection limits are raised to N."""
    openai, httpx = _import_openai()
    http = openai.DefaultHttpxClient(**_http_options(httpx, n, timeout))
    client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0, http_client=http)

    def run(model: str, tallies: List[Tally]) -> List[Any]:
        def one(i: int) -> Any:
            add = tallies[i].add
            final = None
            with client.responses.create(model=model, input=str(i), stream=True) as stream:
                for event in stream:
                    if event.type == TEXT_DELTA:
                        add(event.delta)
                    elif event.type == "response.completed":
                        final = event.response
            return final

        results = _on_threads(len(tallies), one)
        return [r if r is None else _text_or_error(r) for r in results]

    return run


#: contender -> its runner's maker, called with the base URL, N and the timeout.
MAKERS: Dict[str, Callable[[str, int, float], Runner]] = {
    "floor": make_floor,
    "stream_many": make_stream_many,
    "rs_threads": make_rs_threads,
    "openai_async": make_openai_async,
    "openai_threads": make_openai_threads,
}


# --------------------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------------------


def _pct_ms(sorted_ns: List[int], p: float) -> Optional[float]:
    """Nearest-rank percentile, in ms."""
    if not sorted_ns:
        return None
    i = max(0, min(len(sorted_ns) - 1, round(p / 100 * len(sorted_ns) + 0.5) - 1))
    return sorted_ns[i] / 1e6


def measure(run: Runner, spec: Dict[str, Any]) -> Dict[str, Any]:
    """Warm up, then run the N streams once and check every one; never raises."""
    n, expected_n = int(spec["n"]), int(spec["expected_n"])
    out: Dict[str, Any] = {"contender": spec["contender"], "n": n, "ok": False, "error": None}
    try:
        warm_lat = Latencies(16)
        warm = [Tally(warm_lat)]
        (final,) = run(WARMUP, warm)
        problem = warm[0].check(5, final)
        if problem is not None:
            raise AssertionError(f"warm-up stream: {problem}")
        lat = Latencies(n * expected_n)
        tallies = [Tally(lat) for _ in range(n)]
        gc.collect()
        (hwm0,) = proc_status_kib("VmHWM")
        c0 = time.process_time()
        t0 = time.perf_counter()
        finals = run(spec["scenario"], tallies)
        t1 = time.perf_counter()
        c1 = time.process_time()
        (hwm1,) = proc_status_kib("VmHWM")
        values, sent = lat.used()
        samples = sorted(values)
        # Once every stream has started (its first delta sent), the start-up is over.
        all_started = max((t.first for t in tallies if t.n), default=0)
        steady = sorted(v for v, at in zip(values, sent) if at > all_started)
        problems = [t.check(expected_n, f) for t, f in zip(tallies, finals)]
        if len(finals) != n:
            problems.append(f"{len(finals)} results for {n} streams")
        wrong = [(i, p) for i, p in enumerate(problems) if p is not None]
        deltas = sum(t.n for t in tallies)
        out.update(
            cpu=c1 - c0,
            wall=t1 - t0,
            deltas=deltas,
            streams_ok=n - len(wrong),
            cpu_us_per_event=(c1 - c0) / deltas * 1e6 if deltas else None,
            p50_ms=_pct_ms(samples, 50),
            p90_ms=_pct_ms(samples, 90),
            p99_ms=_pct_ms(samples, 99),
            max_ms=samples[-1] / 1e6 if samples else None,
            samples=len(samples),
            steady_p99_ms=_pct_ms(steady, 99),
            steady_samples=len(steady),
            hwm_kib=hwm1,
            hwm_before_kib=hwm0,
            ru_maxrss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        )
        if wrong:
            shown = "; ".join(f"stream {i}: {p}" for i, p in wrong[:3])
            out["error"] = f"{len(wrong)} of {n} streams wrong ({shown})"
        else:
            out["ok"] = True
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc(limit=8)
    return out


def main(argv: List[str]) -> int:
    spec = json.loads(argv[0])
    die_with_parent()
    signal.alarm(max(1, int(spec["timeout"])))  # a hard bound even if the runner dies
    raise_nofile_limit()
    try:
        run = MAKERS[spec["contender"]](spec["base_url"], int(spec["n"]), float(spec["timeout"]))
    except Unavailable as exc:
        emit({"contender": spec["contender"], "n": spec["n"], "unavailable": str(exc)})
        return 0
    emit(measure(run, spec))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
