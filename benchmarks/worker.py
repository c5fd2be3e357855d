"""One contender, measured in a fresh process (started by :mod:`benchmarks.run`).

Usage::

    python -m benchmarks.worker '<json spec>'   # run jobs, print "RESULT {...}" lines
    python -m benchmarks.worker --probe         # print which contender groups import

The spec is ``{"contender", "base_url", "timeout", "jobs": [{"scenario", "warmup",
"expected_n", "expected_chars", "final_chars", "paced"}]}``. For every job the worker
first streams the small warm-up scenario on the same client (connection pool, lazy
imports, caches), then measures the real one: wall time (request start to end of
stream), process CPU time (``time.process_time()``), and VmHWM from
``/proc/self/status``. It counts the delta events and their total length via the same
tiny sink for every contender, and reports a mismatch as a failure.

Only the modules a contender needs are imported, so peak RSS is the contender's own.
"""

from __future__ import annotations
import __future__

import atexit
import gc
import inspect
import itertools
import json
import os
import shutil
import signal
import sys
import tempfile
import textwrap
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple

CONTENDERS = (
    "rs_stream",
    "rs_events",
    "rs_stream_noacc",
    "rs_stream_checkpoint",
    "rs_stream_nometrics",
    "openai_create",
    "openai_stream",
    "floor",
)

#: Import group of each contender (what must be importable for it to run).
GROUP = {
    "rs_stream": "rs",
    "rs_events": "rs",
    "rs_stream_noacc": "rs",
    "rs_stream_checkpoint": "rs",
    "rs_stream_nometrics": "rs",
    "openai_create": "openai",
    "openai_stream": "openai",
    "floor": "floor",
}

DELTA_TYPES = frozenset(("response.output_text.delta", "response.function_call_arguments.delta"))


class Unavailable(Exception):
    """The contender's package is missing or does not expose the expected API."""


class Tally:
    """The per-delta work every contender does: count events and characters."""

    __slots__ = ("chars", "n")

    def __init__(self) -> None:
        self.n = 0
        self.chars = 0

    def add(self, delta: str) -> None:
        self.n += 1
        self.chars += len(delta)


class LatencyTally(Tally):
    """Paced mode: the delta text is the server's perf_counter_ns() at send time."""

    __slots__ = ("lat_ns",)

    def __init__(self) -> None:
        super().__init__()
        self.lat_ns: List[int] = []

    def add(self, delta: str) -> None:
        now = time.perf_counter_ns()  # CLOCK_MONOTONIC: comparable across processes
        self.lat_ns.append(now - int(delta))
        self.n += 1
        self.chars += len(delta)


#: A runner streams one scenario (named by ``model``) into a Tally. It returns the
#: length of the final accumulated ``output_text`` when the contender exposes one.
Runner = Callable[[str, Tally], Optional[int]]


# --------------------------------------------------------------------------------------
# Contenders
# --------------------------------------------------------------------------------------


def _import_rs() -> Any:
    try:
        import responses_stream as rs
    except ImportError as exc:
        raise Unavailable(f"import responses_stream failed: {exc}") from exc
    missing = [a for a in ("Client", "ResponseHandler") if not hasattr(rs, a)]
    if missing:
        raise Unavailable(f"responses_stream has no {', '.join(missing)} (not written yet?)")
    return rs


def _import_openai() -> Any:
    try:
        import openai
    except ImportError as exc:
        raise Unavailable(f"import openai failed: {exc}") from exc
    return openai


def checkpointing() -> Callable[[str], Dict[str, Any]]:
    """``rs_stream_checkpoint``: the keywords of a durable stream, a new key for each call
    (so each one creates its response), with an ``SQLiteStore`` in a temporary directory."""
    try:
        from responses_stream.checkpoints import SQLiteStore
    except ImportError as exc:
        raise Unavailable(f"responses_stream.checkpoints is missing: {exc}") from exc
    directory = tempfile.mkdtemp(prefix="bench-checkpoints-")
    atexit.register(shutil.rmtree, directory, True)
    store = SQLiteStore(os.path.join(directory, "checkpoints.db"))
    calls = itertools.count()

    def keywords(model: str) -> Dict[str, Any]:
        return {"background": True, "checkpoint": store, "key": f"{model}-{next(calls)}"}

    return keywords


METRICS_BEGIN = "# metrics: begin"
METRICS_END = "# metrics: end"

#: What this worker changed in the SDK before measuring, reported with each result
#: (``metrics_patched``, ``metrics_lines_cut``: the method :func:`strip_metrics` replaced and
#: the lines it cut).
PATCHED: Dict[str, Any] = {}


def strip_metrics() -> Tuple[str, int]:
    """``rs_stream_nometrics``: replace the per-connection event loop (``_connection`` in
    ``responses_stream._stream``: ``EventStream._connection``, ``StreamCore._connection``
    since the handle/core split) by a copy of its source without the per-event metrics block;
    return the method's qualified name and the number of lines cut.

    The lines from ``# metrics: begin`` through ``# metrics: end`` become ``now = clock()``
    and ``kind = event.type`` (the idle limit after the block reads both). The copy is compiled
    in the module globals of ``responses_stream._stream`` and set on the class that defines
    the method. Raises ``RuntimeError`` (the worker crashes, the run fails) unless exactly one
    class there defines ``_connection`` and its source has each marker exactly once, in order:
    this contender must never silently measure the unchanged method.
    """
    _import_rs()
    from responses_stream import _stream

    owners = [
        cls
        for cls in vars(_stream).values()
        if isinstance(cls, type)
        and cls.__module__ == _stream.__name__
        and "_connection" in vars(cls)
    ]
    if len(owners) != 1:
        names = [cls.__name__ for cls in owners]
        raise RuntimeError(
            f"responses_stream._stream: expected one class defining _connection, found {names}"
        )
    owner = owners[0]
    method = vars(owner)["_connection"]
    where = method.__qualname__
    lines = textwrap.dedent(inspect.getsource(method)).splitlines(keepends=True)
    begins = [i for i, line in enumerate(lines) if line.lstrip().startswith(METRICS_BEGIN)]
    ends = [i for i, line in enumerate(lines) if line.lstrip().startswith(METRICS_END)]
    if len(begins) != 1 or len(ends) != 1 or ends[0] <= begins[0]:
        raise RuntimeError(
            f"{where}: expected one {METRICS_BEGIN!r} line before one {METRICS_END!r} line, "
            f"found {len(begins)} and {len(ends)} (at lines {begins} and {ends}); "
            "cannot measure it without metrics"
        )
    begin, end = begins[0], ends[0]
    indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
    body = [f"{indent}now = clock()\n", f"{indent}kind = event.type\n"]
    source = "".join(lines[:begin] + body + lines[end + 1 :])
    filename = f"{inspect.getsourcefile(method)} ({where} without metrics)"
    flags = __future__.annotations.compiler_flag  # as the module is compiled
    code = compile(source, filename, "exec", flags=flags, dont_inherit=True)
    namespace: Dict[str, Any] = {}
    exec(code, vars(_stream), namespace)
    function = namespace[method.__name__]
    function.__qualname__ = where
    setattr(owner, "_connection", function)
    return where, end + 1 - begin


def make_rs_stream(
    base_url: str, accumulate: bool, checkpoint: bool = False, metrics: bool = True
) -> Runner:
    """``client.stream(handler=...)``; counting in the accumulated-text callbacks. With
    ``checkpoint``, a durable stream: ``checkpoint=SQLiteStore(...)`` at the default cadence.
    Without ``metrics``, the per-event metrics block is cut out first (:func:`strip_metrics`)
    and every stream is checked to have counted no event."""
    rs = _import_rs()
    if not metrics:
        PATCHED["metrics_patched"], PATCHED["metrics_lines_cut"] = strip_metrics()
    client = rs.Client(api_key="x", base_url=base_url, max_retries=0)
    durable = checkpointing() if checkpoint else None

    if accumulate:

        def run(model: str, tally: Tally) -> Optional[int]:
            add = tally.add

            class H(rs.ResponseHandler):  # type: ignore[misc,name-defined]
                def on_text_delta(self, delta: str, snapshot: str) -> None:
                    add(delta)

                def on_function_call_delta(self, delta: str, snapshot: str, call: Any) -> None:
                    add(delta)

            extra = durable(model) if durable is not None else {}
            final = client.stream(handler=H(), model=model, input="x", **extra)
            if not metrics and final.metrics is not None and final.metrics.events:
                raise AssertionError(  # the block still ran: the patch did not take
                    f"metrics counted {final.metrics.events} events with the block cut out"
                )
            return len(final.output_text)

        return run

    def run_noacc(model: str, tally: Tally) -> Optional[int]:
        # With accumulate=False the raw typed callbacks are the documented path. The
        # accumulated-text callbacks are counted separately in case the SDK still calls
        # them (and for function calls, whose raw callback name is not fixed yet); the
        # raw count wins when both fire.
        spare = type(tally)()
        add, add_spare = tally.add, spare.add

        class H(rs.ResponseHandler):  # type: ignore[misc,name-defined]
            def on_output_text_delta(self, event: Any) -> None:
                add(event.delta)

            def on_function_call_arguments_delta(self, event: Any) -> None:
                add(event.delta)

            def on_text_delta(self, delta: str, snapshot: Any) -> None:
                add_spare(delta)

            def on_function_call_delta(self, delta: str, snapshot: Any, call: Any) -> None:
                add_spare(delta)

        client.stream(handler=H(), accumulate=False, model=model, input="x")
        if tally.n == 0 and spare.n:
            tally.n, tally.chars = spare.n, spare.chars
            if isinstance(tally, LatencyTally) and isinstance(spare, LatencyTally):
                tally.lat_ns = spare.lat_ns
        return None

    return run_noacc


def make_rs_events(base_url: str) -> Runner:
    """``with client.events(...) as stream: for event in stream``."""
    rs = _import_rs()
    client = rs.Client(api_key="x", base_url=base_url, max_retries=0)

    def run(model: str, tally: Tally) -> Optional[int]:
        add = tally.add
        with client.events(model=model, input="x") as stream:
            for event in stream:
                if event.type in DELTA_TYPES:
                    add(event.delta)
            final = stream.response
        return None if final is None else len(final.output_text)

    return run


def make_openai_create(base_url: str) -> Runner:
    """openai ``responses.create(stream=True)``: typed events, no accumulation."""
    openai = _import_openai()
    client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0)

    def run(model: str, tally: Tally) -> Optional[int]:
        add = tally.add
        with client.responses.create(model=model, input="x", stream=True) as stream:
            for event in stream:
                if event.type in DELTA_TYPES:
                    add(event.delta)
        return None

    return run


def make_openai_stream(base_url: str) -> Runner:
    """openai ``responses.stream()`` helper: typed events plus a running snapshot."""
    openai = _import_openai()
    client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0)

    def run(model: str, tally: Tally) -> Optional[int]:
        add = tally.add
        with client.responses.stream(model=model, input="x") as stream:
            for event in stream:
                if event.type in DELTA_TYPES:
                    add(event.delta)
            final = stream.get_final_response()
        return len(final.output_text)

    return run


def make_floor(base_url: str) -> Runner:
    """requests + sseclient-py over a ``raw.read1(65536)`` generator + json.loads.

    ``iter_content(chunk_size=None)`` would buffer a close-delimited body until EOF
    and ``iter_content()`` reads one byte at a time (PERF-BASELINE.md), so the floor
    reads with ``read1``, which returns whatever has arrived, in both framings.
    """
    try:
        import requests
        import sseclient
    except ImportError as exc:
        raise Unavailable(f"requests/sseclient-py missing: {exc}") from exc
    session = requests.Session()
    url = base_url.rstrip("/") + "/responses"
    headers = {"Authorization": "Bearer x", "Accept": "text/event-stream"}
    loads = json.loads

    def run(model: str, tally: Tally) -> Optional[int]:
        add = tally.add
        body: Dict[str, Any] = {"model": model, "input": "x", "stream": True}
        with session.post(url, json=body, headers=headers, stream=True, timeout=(5, 300)) as resp:
            resp.raise_for_status()
            read1 = resp.raw.read1

            def chunks() -> Any:
                while True:
                    b = read1(65536)
                    if not b:
                        return
                    yield b

            for ev in sseclient.SSEClient(chunks()).events():
                d = loads(ev.data)
                if d["type"] in DELTA_TYPES:
                    add(d["delta"])
        return None

    return run


def make_runner(contender: str, base_url: str) -> Runner:
    if contender == "rs_stream":
        return make_rs_stream(base_url, accumulate=True)
    if contender == "rs_stream_noacc":
        return make_rs_stream(base_url, accumulate=False)
    if contender == "rs_stream_checkpoint":
        return make_rs_stream(base_url, accumulate=True, checkpoint=True)
    if contender == "rs_stream_nometrics":
        return make_rs_stream(base_url, accumulate=True, metrics=False)
    if contender == "rs_events":
        return make_rs_events(base_url)
    if contender == "openai_create":
        return make_openai_create(base_url)
    if contender == "openai_stream":
        return make_openai_stream(base_url)
    if contender == "floor":
        return make_floor(base_url)
    raise ValueError(f"unknown contender {contender!r}")


# --------------------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------------------


def proc_status_kib(*keys: str) -> Tuple[int, ...]:
    """Read ``VmHWM``/``VmRSS`` (KiB) from /proc/self/status.

    ``ru_maxrss`` is not used: on Linux it inherits the parent's peak across fork.
    """
    found: Dict[str, int] = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in keys:
                found[key] = int(rest.split()[0])
    return tuple(found.get(k, -1) for k in keys)


def run_job(run: Runner, job: Dict[str, Any]) -> Dict[str, Any]:
    """Warm up, then measure one scenario; never raises."""
    out: Dict[str, Any] = {"scenario": job["scenario"], "ok": False, "error": None}
    try:
        warm = Tally()
        run(job["warmup"], warm)
        if warm.n == 0:
            raise AssertionError("warm-up produced no delta events")
        tally: Tally = LatencyTally() if job["paced"] else Tally()
        gc.collect()
        (hwm0,) = proc_status_kib("VmHWM")
        c0 = time.process_time()
        t0 = time.perf_counter()
        final_len = run(job["scenario"], tally)
        t1 = time.perf_counter()
        c1 = time.process_time()
        hwm1, rss1 = proc_status_kib("VmHWM", "VmRSS")
        out.update(
            wall=t1 - t0,
            cpu=c1 - c0,
            hwm_kib=hwm1,
            hwm_before_kib=hwm0,
            rss_after_kib=rss1,
            n=tally.n,
            chars=tally.chars,
            final_len=final_len,
        )
        if isinstance(tally, LatencyTally):
            out["lat_ns"] = tally.lat_ns
        out.update(PATCHED)
        errors = []
        if tally.n != job["expected_n"]:
            errors.append(f"delta events {tally.n} != expected {job['expected_n']}")
        if tally.chars != job["expected_chars"]:
            errors.append(f"delta chars {tally.chars} != expected {job['expected_chars']}")
        want_final = job.get("final_chars")
        if final_len is not None and want_final is not None and final_len != want_final:
            errors.append(f"final output_text length {final_len} != expected {want_final}")
        if errors:
            out["error"] = "; ".join(errors)
        else:
            out["ok"] = True
    except Exception as exc:
        tb = traceback.format_exc(limit=6)
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = tb
    return out


def probe() -> Dict[str, Dict[str, Any]]:
    """Which contender groups can run here, with versions."""
    result: Dict[str, Dict[str, Any]] = {}
    for group, fn in (("rs", _import_rs), ("openai", _import_openai)):
        try:
            mod = fn()
            result[group] = {"available": True, "version": getattr(mod, "__version__", "?")}
        except Unavailable as exc:
            result[group] = {"available": False, "reason": str(exc)}
    try:
        from importlib.metadata import version

        import requests  # noqa: F401
        import sseclient  # noqa: F401

        result["floor"] = {"available": True, "version": version("requests")}
    except ImportError as exc:
        result["floor"] = {"available": False, "reason": str(exc)}
    return result


def die_with_parent() -> None:
    """Linux: get SIGKILL when the runner dies (no polling thread to disturb timings)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the alarm below still bounds the process


def emit(obj: Dict[str, Any]) -> None:
    sys.stdout.write("RESULT " + json.dumps(obj) + "\n")
    sys.stdout.flush()


def main(argv: List[str]) -> int:
    if argv[:1] == ["--probe"]:
        emit(probe())
        return 0
    spec = json.loads(argv[0])
    # Hard bounds on this process even if the runner dies (SIGALRM terminates).
    die_with_parent()
    signal.alarm(max(1, int(spec["timeout"])))
    contender = spec["contender"]
    try:
        run = make_runner(contender, spec["base_url"])
    except Unavailable as exc:
        for job in spec["jobs"]:
            emit({"scenario": job["scenario"], "unavailable": str(exc)})
        return 0
    for job in spec["jobs"]:
        emit(run_job(run, job))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
