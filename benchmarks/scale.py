"""Scale benchmark: N paced streams at once in one client process.

``python -m benchmarks.scale`` from the repository root (``python -m benchmarks`` runs it after
the partial-JSON benchmark). A server in its own process (:mod:`benchmarks.scale_server`)
serves N streams at once, each ``--events`` deltas ``--gap-ms`` apart, every delta carrying its
send time. Each contender (:mod:`benchmarks.scale_worker`) runs in a fresh process, opens the
N streams together and measures its CPU per delta event, the delivery latency of every delta
(callback time minus send time: p50 and p99), its peak RSS and whether every stream was
correct. N = 100, 300 and 1,000 run side by side in one run::

    python -m benchmarks.scale                       # N = 100, 300, 1,000; about 5 min
    python -m benchmarks.scale --n 1000 --contenders floor,stream_many
    python -m benchmarks.scale --smoke               # N = 20, 10 events: counts only

It prints a Markdown report (written to ``benchmarks/SCALE.md`` unless ``--no-write``). Exit
status 1 if any stream of an available contender was wrong or a worker crashed; a contender
that cannot run here (``stream_many`` before ``Client.stream_many`` exists) is reported as
unavailable. ``run()`` returns the figures, ``report()`` and ``target_rows()`` render them for
the main report.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # allow `python benchmarks/scale.py`
    sys.path.insert(0, str(REPO))

from benchmarks.processes import ServerProcess, run_worker_process  # noqa: E402
from benchmarks.scale_worker import CONTENDERS  # noqa: E402

#: The issue's figures are at this N; the Targets rows are computed there.
TARGET_N = 1000

#: The reference contenders of stream_many's CPU targets: (contender, limit, as written).
CPU_TARGETS = (("floor", 2.0, "2x"), ("rs_threads", 1 / 3, "1/3"), ("openai_async", 1 / 5, "1/5"))

DESCRIPTIONS = {
    "floor": "a bare `selectors` loop over N non-blocking sockets: sends the N requests, "
    "`recv`s whatever is ready, strips the chunked framing, splits events at blank lines and "
    "`json.loads` every data line; no SDK",
    "stream_many": "`rs.Client(...).stream_many(requests, handler_factory, concurrency=N)`: "
    "one selector, every callback on the calling thread",
    "rs_threads": "`client.stream(handler=...)` per stream on a `ThreadPoolExecutor(N)`, one "
    "shared client (its default pool: requests opens connections beyond 64 as needed)",
    "openai_async": "`AsyncOpenAI(max_retries=0)`, `await client.responses.create(..., "
    "stream=True)` iterated in N tasks under `asyncio.gather`; httpx limits raised to N",
    "openai_threads": "the sync `OpenAI` client's `responses.create(stream=True)` on a "
    "`ThreadPoolExecutor(N)`, one client with its httpx limits raised to N",
}

TargetRow = Tuple[str, str, float, float, bool, str, Optional[str]]
"""target, scope, value, limit, lower is better, unit, figure (None: formatted from value)."""


def log(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def scenario_name(events: int, gap_ms: float) -> str:
    """The paced stream of :mod:`benchmarks.streams` every stream of a run is."""
    return f"text-{events}-ev-p{round(gap_ms * 1000)}"


# --------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------


class ScaleServerProcess(ServerProcess):
    """The scale server in its own process, always stopped by PID."""

    def __init__(self, max_seconds: float, cpu: Optional[int] = None) -> None:
        super().__init__((), max_seconds, cpu, module="benchmarks.scale_server")

    def stats(self) -> Dict[str, Any]:
        """The server's send lag and CPU since the last call (which it resets)."""
        url = f"http://127.0.0.1:{self.port}/stats"
        with urllib.request.urlopen(url, timeout=30) as resp:
            return dict(json.loads(resp.read()))


def run_worker(spec: Dict[str, Any]) -> Dict[str, Any]:
    """One fresh worker process; always returns a result dict."""
    results, failure, tail = run_worker_process(
        "benchmarks.scale_worker", spec, spec["timeout"] + 15
    )
    if results:
        return dict(results[0])
    return {
        "contender": spec["contender"],
        "n": spec["n"],
        "ok": False,
        "error": f"{failure or 'no result'}: {' | '.join(tail)}",
    }


# --------------------------------------------------------------------------------------
# Run
# --------------------------------------------------------------------------------------


def run(
    ns: Sequence[int] = (100, 300, 1000),
    events: int = 100,
    gap_ms: float = 100.0,
    contenders: Sequence[str] = CONTENDERS,
    *,
    smoke: bool = False,
    server_cpu: Optional[int] = None,
    timeout: float = 240.0,
    repeats: int = 2,
) -> Dict[str, Any]:
    """Run every contender at every N (one run each, N ascending); return the figures.

    Then, at N = :data:`TARGET_N`, ``repeats`` more rounds of ``stream_many`` and the
    contenders of its CPU targets, in alternating order: the VM's speed drifts by more than
    the margins of those ratios between runs tens of seconds apart, so each target is the
    median of its per-round ratios (``repeats``: the extra rounds' CPU µs per event).

    ``server_cpu``: pin the server to this CPU (the caller pins itself, and so the workers,
    elsewhere). Keys: ``ns``, ``events``, ``gap_ms``, ``scenario``, ``contenders``, ``smoke``,
    ``runs`` (``{str(N): {contender: worker result + "server" stats}}``), ``unavailable``
    (contender -> reason) and ``failures`` (messages).
    """
    unknown = [c for c in contenders if c not in CONTENDERS]
    if unknown:
        raise ValueError(f"unknown scale contenders {unknown}; known: {', '.join(CONTENDERS)}")
    scenario = scenario_name(events, gap_ms)
    figures: Dict[str, Any] = {
        "ns": list(ns),
        "events": events,
        "gap_ms": gap_ms,
        "scenario": scenario,
        "contenders": list(contenders),
        "smoke": smoke,
        "runs": {},
        "unavailable": {},
        "failures": [],
        "repeats": [],
        "load_start": os.getloadavg(),
    }
    paired = [c for c in ("stream_many", *(ref for ref, _, _ in CPU_TARGETS)) if c in contenders]
    rounds = repeats if not smoke and TARGET_N in ns and len(paired) > 1 else 0
    budget = sum(len(contenders) * (timeout + 20) for _ in ns) + 60
    budget += rounds * len(paired) * (timeout + 20)
    server = ScaleServerProcess(min(budget, 3600.0), server_cpu)
    try:
        port = server.wait_ready()
        base_url = f"http://127.0.0.1:{port}/v1"
        log(f"scale server on {base_url} (pid {server.proc.pid}); streams `{scenario}`")
        for n in ns:
            for contender in contenders:
                if contender in figures["unavailable"]:
                    continue
                server.stats()  # reset: the next figures are this run's
                spec = {
                    "contender": contender,
                    "base_url": base_url,
                    "n": n,
                    "scenario": scenario,
                    "expected_n": events,
                    "timeout": timeout,
                }
                res = run_worker(spec)
                if "unavailable" in res:
                    figures["unavailable"][contender] = res["unavailable"]
                    log(f"  scale {contender}: unavailable ({res['unavailable']})")
                    continue
                res["server"] = server.stats()
                figures["runs"].setdefault(str(n), {})[contender] = res
                if res.get("ok"):
                    log(
                        f"  scale N={n} {contender}: {res['cpu_us_per_event']:.1f} µs/event, "
                        f"p50 {res['p50_ms']:.1f} ms, p99 {res['p99_ms']:.1f} ms, "
                        f"{res['wall']:.1f} s wall, {res['streams_ok']}/{n} streams ok"
                    )
                else:
                    msg = f"scale N={n} {contender}: {res.get('error')}"
                    figures["failures"].append(msg)
                    log("FAIL " + msg)
                    if res.get("traceback"):
                        log(res["traceback"])
        for round_no in range(rounds):
            order = [c for c in paired if c not in figures["unavailable"]]
            cpu: Dict[str, float] = {}
            for contender in order if round_no % 2 else order[::-1]:
                spec = {
                    "contender": contender,
                    "base_url": base_url,
                    "n": TARGET_N,
                    "scenario": scenario,
                    "expected_n": events,
                    "timeout": timeout,
                }
                res = run_worker(spec)
                if res.get("ok") and res.get("cpu_us_per_event"):
                    cpu[contender] = float(res["cpu_us_per_event"])
                    log(f"  scale N={TARGET_N} {contender}: {cpu[contender]:.1f} µs/event")
                else:
                    msg = (
                        f"scale N={TARGET_N} {contender}, round {round_no + 2}: {res.get('error')}"
                    )
                    figures["failures"].append(msg)
                    log("FAIL " + msg)
            figures["repeats"].append(cpu)
    finally:
        server.stop()
    figures["load_end"] = os.getloadavg()
    return figures


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def _fmt(x: Optional[float], spec: str = ",.1f", suffix: str = "") -> str:
    return "-" if x is None or x != x else format(x, spec) + suffix  # None/NaN -> dash


def _cpu(figures: Dict[str, Any], n: int, contender: str) -> float:
    """CPU µs per delta of a run (NaN when it did not run or was wrong)."""
    res = figures["runs"].get(str(n), {}).get(contender)
    if not res or not res.get("ok") or not res.get("cpu_us_per_event"):
        return float("nan")
    return float(res["cpu_us_per_event"])


def _absent(figures: Dict[str, Any], n: int, contender: str) -> str:
    """Why a contender has no figure at ``n``."""
    if contender in figures["unavailable"]:
        return f"{contender} unavailable"
    if contender not in figures["runs"].get(str(n), {}):
        return f"{contender} did not run"
    return f"{contender} failed"


def _finite(cpu: Dict[str, float], *contenders: str) -> bool:
    """Whether the round ``cpu`` has a figure (not NaN) for every one of ``contenders``."""
    return all(c in cpu and cpu[c] == cpu[c] for c in contenders)


def target_rows(figures: Dict[str, Any]) -> List[TargetRow]:
    """The issue's scale targets at N = 1,000, as rows of the main Targets table."""
    n = TARGET_N
    if figures.get("smoke") or n not in figures["ns"]:
        return []
    scope = f"N = {n:,} streams of {figures['events']} events {figures['gap_ms']:g} ms apart"
    res = figures["runs"].get(str(n), {}).get("stream_many")
    missing = _absent(figures, n, "stream_many")
    rows: List[TargetRow] = []
    if res is None:
        correct, figure = float("nan"), missing
    else:
        correct = res.get("streams_ok", 0) / n
        figure = f"{res.get('streams_ok', 0):,}/{n:,}" + ("" if res.get("ok") else " (failed)")
    rows.append(("stream_many: every stream correct", scope, correct, 1.0, False, "x", figure))
    p99 = float(res["p99_ms"]) if res and res.get("ok") else float("nan")
    rows.append(
        (
            "stream_many p99 delivery latency ≤ 50 ms",
            scope,
            p99,
            50.0,
            True,
            "ms",
            None if res and res.get("ok") else missing,
        )
    )
    first = {c: _cpu(figures, n, c) for c in ("stream_many", *(r for r, _, _ in CPU_TARGETS))}
    rounds = [first, *figures.get("repeats", [])]
    for ref, limit, written in CPU_TARGETS:
        ratios = [r["stream_many"] / r[ref] for r in rounds if _finite(r, "stream_many", ref)]
        ratio = statistics.median(ratios) if ratios else float("nan")
        figure = None
        if ratio != ratio:
            figure = "; ".join(
                _absent(figures, n, c)
                for c in ("stream_many", ref)
                if _cpu(figures, n, c) != _cpu(figures, n, c)
            )
        elif len(ratios) > 1:
            each = ", ".join(f"{x:.2f}" for x in ratios)
            figure = f"{ratio:.2f}x (median of {len(ratios)} rounds: {each})"
        rows.append(
            (f"stream_many CPU/event ≤ {written} {ref}", scope, ratio, limit, True, "x", figure)
        )
    return rows


def report(figures: Dict[str, Any]) -> str:
    """The figures of :func:`run` as a Markdown section (``## Scale: ...``)."""
    events, gap = figures["events"], figures["gap_ms"]
    smoke = figures["smoke"]
    lines = [
        "## Scale: N streams in one process",
        "",
        f"`python -m benchmarks.scale`: N streams requested at once, each of {events} "
        f"`output_text.delta` events {gap:g} ms apart (`{figures['scenario']}`), from a "
        "selector-based server in its own process (`scale_server.py`: one thread, chunked "
        "HTTP/1.1 keep-alive, the real wire events with sequence numbers; pacing starts when "
        "a stream's request arrives). Every delta's text is the server's `perf_counter_ns()` "
        "just before its `send()`. Each contender runs once per N in a fresh process, after one "
        "small warm-up stream through the same API; at N = 1,000, `stream_many` and the "
        "contenders of its CPU targets then run again, in alternating order, "
        f"{len(figures.get('repeats', []))} more time(s): each CPU target is the median of "
        "the per-round ratios (the VM's speed drifts between runs by more than their margins; "
        "the table shows the first round).",
        "",
        "* **CPU µs/event**: the worker's CPU time (`time.process_time()`, all threads) from "
        "before the first request to after the last stream ended, ÷ delta events delivered.",
        "* **p50/p99 ms**: delivery latency of every delta of every stream, pooled: "
        "`perf_counter_ns()` in the delta callback minus the send stamp (CLOCK_MONOTONIC is "
        "system-wide). Every contender records it with the same code into preallocated "
        "arrays.",
        "* **peak RSS**: VmHWM of the worker (imports, warm-up and the run; `ru_maxrss` is not "
        "used: on Linux it can carry the parent's peak over `exec`).",
        "* **streams correct**: exactly the expected deltas, and a final text (the SDK's final "
        "`Response`, or `response.completed`) equal to the deltas delivered.",
        "* **p99 all started**: the p99 of the deltas sent after every stream had started "
        "(after the last stream's first delta): the steady state, without the start-up.",
        "* **starts over s**: from the first stream's request to the last one's, at the "
        "server (how long the contender took to get all N requests out).",
        "* **server lag p99**: how late the server's sends were against their schedule (its "
        "stamps are taken at the actual send, so its lag never counts as latency); near zero "
        "means it kept up.",
        "",
        "Load average (1, 5, 15 min) at the start "
        + ", ".join(f"{x:.2f}" for x in figures.get("load_start", ()))
        + " and at the end "
        + ", ".join(f"{x:.2f}" for x in figures.get("load_end", ()))
        + " (the thread contenders' runnable threads count in it; so does anything else "
        "running on the machine, which shows up in these figures).",
        "",
    ]
    if smoke:
        lines += ["Smoke run: counts only; the timings are not meaningful.", ""]
    lines += ["| contender | what it does |", "|---|---|"]
    lines += [f"| `{c}` | {DESCRIPTIONS[c]} |" for c in figures["contenders"]]
    lines.append("")
    for n in figures["ns"]:
        runs = figures["runs"].get(str(n), {})
        lines += [
            f"### N = {n:,} ({n * events:,} deltas)",
            "",
            "| contender | CPU µs/event | CPU ÷ floor | p50 ms | p99 ms | p99 all started ms "
            "| max ms | peak RSS MiB | streams correct | wall s | starts over s "
            "| server lag p99 ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for c in figures["contenders"]:
            if c in figures["unavailable"]:
                lines.append(f"| {c} | unavailable |" + " |" * 10)
                continue
            res = runs.get(c)
            if res is None:
                continue
            ok = res.get("ok")
            cpu = res.get("cpu_us_per_event")
            ratio = _cpu(figures, n, c) / _cpu(figures, n, "floor")
            server = res.get("server", {})
            correct = f"{res.get('streams_ok', 0):,}/{n:,}" if "streams_ok" in res else "failed"
            lines.append(
                f"| {c} | {_fmt(cpu)} | {_fmt(ratio, '.2f', 'x')} "
                f"| {_fmt(res.get('p50_ms'))} | {_fmt(res.get('p99_ms'))} "
                f"| {_fmt(res.get('steady_p99_ms'))} | {_fmt(res.get('max_ms'))} "
                f"| {_fmt(res['hwm_kib'] / 1024 if 'hwm_kib' in res else None)} "
                f"| {correct if ok else f'**{correct}**'} | {_fmt(res.get('wall'), '.1f')} "
                f"| {_fmt(server.get('starts_spread_s'), '.2f')} "
                f"| {_fmt(server.get('late_p99_ms'), '.1f')} |"
            )
        lines.append("")
    for c, why in figures["unavailable"].items():
        lines.append(f"* **{c} unavailable**: {why}")
    for msg in figures["failures"]:
        lines.append(f"* **FAILED** {msg}")
    if not figures["failures"]:
        lines.append("* Every stream of every available contender was correct.")
    lines.append("")
    return "\n".join(lines)


def targets_markdown(rows: List[TargetRow]) -> List[str]:
    """A small Targets table for the standalone report (the main run has its own)."""
    if not rows:
        return []
    lines = ["### Targets", "", "| target | scope | this run | met |", "|---|---|---|---|"]
    for target, scope, value, limit, lower, unit, figure in rows:
        met = value == value and (value <= limit if lower else value >= limit)
        shown = figure or (_fmt(value, ".1f", " ms") if unit == "ms" else _fmt(value, ".2f", "x"))
        lines.append(f"| {target} | {scope} | {shown} | {'yes' if met else '**no**'} |")
    return [*lines, ""]


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------

#: What ``--smoke`` runs: a few seconds, counts only.
SMOKE = {"ns": (20,), "events": 10, "gap_ms": 10.0, "contenders": ("floor", "stream_many")}


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwind so `finally` stops the server


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.scale",
        description="Scale benchmark: N paced streams at once in one client process.",
    )
    ap.add_argument("--n", default="100,300,1000", help="comma-separated numbers of streams")
    ap.add_argument("--events", type=int, default=100, help="delta events per stream")
    ap.add_argument("--gap-ms", type=float, default=100.0, help="pause between a stream's deltas")
    ap.add_argument(
        "--contenders",
        default=None,
        help=f"comma-separated subset of {','.join(CONTENDERS)} (default all; smoke: "
        "floor,stream_many)",
    )
    ap.add_argument("--smoke", action="store_true", help="N=20, 10 events 10 ms apart, counts only")
    ap.add_argument("--timeout", type=float, default=240.0, help="seconds per worker process")
    ap.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="extra rounds at N = 1,000 of stream_many and its CPU references (median ratio)",
    )
    ap.add_argument("--no-pin", action="store_true", help="do not pin server and client to CPUs")
    ap.add_argument("--out", default=None, help="report path (default benchmarks/SCALE.md)")
    ap.add_argument("--no-write", action="store_true", help="print only, write no file")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    if args.smoke:
        ns, events, gap_ms = SMOKE["ns"], int(SMOKE["events"]), float(SMOKE["gap_ms"])
        contenders: Sequence[str] = SMOKE["contenders"]  # type: ignore[assignment]
    else:
        ns = tuple(int(x) for x in args.n.split(",") if x.strip())
        events, gap_ms, contenders = args.events, args.gap_ms, CONTENDERS
    if args.contenders:
        contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
        unknown = [c for c in contenders if c not in CONTENDERS]
        if unknown:
            log(f"unknown contenders: {unknown}")
            return 2
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cpu: Optional[int] = None
    placement = "placed by the scheduler"
    if len(cpus) >= 2 and not args.no_pin:
        server_cpu = cpus[0]
        os.sched_setaffinity(0, {cpus[1]})  # the workers inherit it
        placement = f"server pinned to CPU {cpus[0]}, workers to CPU {cpus[1]}"
    t0 = time.monotonic()
    figures = run(
        ns,
        events,
        gap_ms,
        contenders,
        smoke=args.smoke,
        server_cpu=server_cpu,
        timeout=args.timeout,
        repeats=args.repeats,
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    text = "\n".join(
        [
            "# responses_stream scale benchmark",
            "",
            f"* Command: `{' '.join(['python -m benchmarks.scale', *(argv or sys.argv[1:])])}`",
            f"* Processes: {placement}; nproc {len(cpus) or os.cpu_count()}; "
            f"load average at the end {load}",
            "",
            report(figures),
            *targets_markdown(target_rows(figures)),
        ]
    )
    print(text)
    out = args.out or str(REPO / "benchmarks" / "SCALE.md")
    if not args.no_write and not args.smoke:
        Path(out).write_text(text, encoding="utf-8")
        log(f"wrote {out}")
    log(f"scale benchmark done in {time.monotonic() - t0:.1f}s")
    return 1 if figures["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
