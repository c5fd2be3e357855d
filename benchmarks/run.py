"""Benchmark runner: ``python -m benchmarks`` (or ``python benchmarks/run.py``) from the repo root.

Starts :mod:`benchmarks.server` in its own process, then runs every contender in its
own fresh :mod:`benchmarks.worker` process, interleaved (A B C, B C A, ...) over the
repetitions; then the partial-JSON benchmark (:mod:`benchmarks.partial_json`) and the scale
benchmark (:mod:`benchmarks.scale`: N streams at once in one process). It prints a Markdown
report (also written to ``benchmarks/RESULTS.md`` unless ``--smoke``). See
``benchmarks/README.md`` for what the columns mean.

Exit status: 0 if every available contender produced the right counts, 1 if any
produced wrong counts or crashed (scale streams included), 2 if ``--require-all`` and a
contender was unavailable.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as _dt
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # allow `python benchmarks/run.py`
    sys.path.insert(0, str(REPO))

from benchmarks import partial_json, scale  # noqa: E402
from benchmarks.processes import ServerProcess, run_worker_process  # noqa: E402
from benchmarks.streams import Scenario, expected  # noqa: E402
from benchmarks.worker import CONTENDERS, GROUP  # noqa: E402

#: Contenders whose CPU time is the denominator of the paired ratio columns.
REFERENCES = ("floor", "openai_create", "openai_stream")


@dataclass
class Plan:
    """What one invocation measures."""

    throughput: List[str]  # bulk scenarios
    paced: List[str]  # latency scenarios
    reps: int
    import_reps: int
    extra_reps: int  # more repetitions for the contenders that take well under a second
    batch: bool  # smoke: one process per contender running all jobs
    timeout: float  # per worker process
    server_max_seconds: float


def full_plan(args: argparse.Namespace) -> Plan:
    n = args.n
    tput = [f"text-{n}-ev"]
    if not args.skip_large:
        tput.append(f"text-{args.n_large}-ev")
    tput += [f"text-{n}-close", f"func-{n}-ev", f"cjk-{n}-ev"]
    gap = args.gap_us
    paced = [f"text-{args.paced_n}-ev-p{gap}", f"text-{args.paced_n}-close-p{gap}"]
    reps = args.reps or 5
    return Plan(tput, paced, reps, reps, args.extra_reps, False, args.timeout, 3600.0)


def smoke_plan(args: argparse.Namespace) -> Plan:
    tput = ["text-2000-ev", "text-2000-close", "func-2000-ev", "cjk-2000-ev"]
    paced = ["text-50-ev-p2000", "text-50-close-p2000"]
    return Plan(tput, paced, args.reps or 1, 1, 0, True, min(args.timeout, 45.0), 150.0)


def warmup_for(sc: Scenario) -> str:
    """The small stream streamed first on the same client (same variant and framing)."""
    variant = "text" if sc.paced else sc.variant
    return f"{variant}-50-{sc.framing}"


def log(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------


def run_worker(
    contender: str, jobs: List[Dict[str, Any]], base_url: str, timeout: float
) -> List[Dict[str, Any]]:
    """Run one fresh worker process; always returns one result dict per job."""
    spec = {"contender": contender, "base_url": base_url, "timeout": timeout, "jobs": jobs}
    results, failure, tail = run_worker_process("benchmarks.worker", spec, timeout + 10)
    got = {res["scenario"]: res for res in results}
    out = []
    for job in jobs:
        res = got.get(job["scenario"])
        if res is None:
            why = failure or "no result"
            res = {"scenario": job["scenario"], "ok": False, "error": f"{why}: {' | '.join(tail)}"}
        out.append(res)
    return out


def probe() -> Dict[str, Dict[str, Any]]:
    cmd = [sys.executable, "-m", "benchmarks.worker", "--probe"]
    cp = subprocess.run(cmd, check=False, cwd=REPO, capture_output=True, text=True, timeout=60)
    for line in cp.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[7:]))
    raise RuntimeError(f"probe failed: {cp.stderr.strip()[-500:]}")


def measure_imports(reps: int, modules: Sequence[Tuple[str, str]]) -> Dict[str, List[float]]:
    """Wall time of ``python -c <code>`` per case, interleaved, in seconds."""
    times: Dict[str, List[float]] = {label: [] for label, _ in modules}
    for _ in range(reps):
        for label, code in modules:
            t0 = time.perf_counter()
            cp = subprocess.run(
                [sys.executable, "-c", code], check=False, cwd=REPO, capture_output=True, timeout=60
            )
            dt = time.perf_counter() - t0
            if cp.returncode == 0:
                times[label].append(dt)
    return times


# --------------------------------------------------------------------------------------
# Collection
# --------------------------------------------------------------------------------------


@dataclass
class Results:
    # results[scenario][contender][rep] = worker result dict
    runs: Dict[str, Dict[str, Dict[int, Dict[str, Any]]]] = field(default_factory=dict)
    failures: List[str] = field(default_factory=list)
    unavailable: Dict[str, str] = field(default_factory=dict)

    def add(self, contender: str, rep: int, res: Dict[str, Any]) -> None:
        sc = res["scenario"]
        if "unavailable" in res:
            self.unavailable[contender] = res["unavailable"]
            return
        self.runs.setdefault(sc, {}).setdefault(contender, {})[rep] = res
        if not res.get("ok"):
            msg = f"{contender} on {sc} (rep {rep + 1}): {res.get('error')}"
            self.failures.append(msg)
            log("FAIL " + msg)
            if res.get("traceback"):
                log(res["traceback"])

    def ok_runs(self, sc: str, contender: str) -> Dict[int, Dict[str, Any]]:
        reps = self.runs.get(sc, {}).get(contender, {})
        return {r: v for r, v in reps.items() if v.get("ok")}


def make_job(name: str, exp: Dict[str, Tuple[int, int]]) -> Dict[str, Any]:
    sc = Scenario.parse(name)
    n, chars = exp[name]
    return {
        "scenario": name,
        "warmup": warmup_for(sc),
        "expected_n": n,
        "expected_chars": chars,
        # Final output_text must equal the deltas; function calls have no output_text.
        "final_chars": None if sc.variant == "func" else chars,
        "paced": sc.paced,
    }


CHEAP = (
    "rs_stream",
    "rs_events",
    "rs_stream_noacc",
    "rs_stream_checkpoint",
    "rs_stream_nometrics",
    "floor",
)


def execute(plan: Plan, contenders: List[str], base_url: str, res: Results) -> None:
    exp = {name: expected(Scenario.parse(name)) for name in plan.throughput + plan.paced}
    k = len(contenders)
    if plan.batch:
        jobs = [make_job(name, exp) for name in plan.throughput + plan.paced]
        for rep in range(plan.reps):
            for c in contenders[rep % k :] + contenders[: rep % k]:
                log(f"[rep {rep + 1}/{plan.reps}] {c}: {len(jobs)} scenarios in one process")
                for r in run_worker(c, jobs, base_url, plan.timeout):
                    res.add(c, rep, r)
        return
    # This VM's speed changes by up to 2x from one second to the next, so the paired ratios
    # against the floor need many pairs; the openai contenders take seconds per run and only
    # get the common repetitions (their ratios are 8-20x, far from any threshold).
    cheap = [c for c in contenders if c in CHEAP]
    for name in plan.throughput + plan.paced:
        job = make_job(name, exp)
        for rep in range(plan.reps + plan.extra_reps):
            group = contenders if rep < plan.reps else cheap
            n = len(group)
            order = group[rep % n :] + group[: rep % n]  # rotate each repetition
            for c in order:
                if c in res.unavailable:
                    continue
                (r,) = run_worker(c, [job], base_url, plan.timeout)
                res.add(c, rep, r)
                if r.get("ok"):
                    log(f"  {name} rep {rep + 1} {c}: {r['wall']:.3f}s wall, {r['cpu']:.3f}s cpu")


#: The metrics target compares these two under callgrind (see :func:`count_metrics_cost`).
METRICS_PAIR = ("rs_stream", "rs_stream_nometrics")


@dataclass
class InstructionCounts:
    """Instructions per event of :data:`METRICS_PAIR` under callgrind: what the always-on
    metrics add to every event, measured without the timing noise of a shared VM."""

    small_sc: str
    big_sc: str
    counts: Dict[str, Tuple[int, int]] = field(default_factory=dict)  # (small, big) per contender
    per_event: Dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0  # wall time of the step
    error: Optional[str] = None  # why nothing was measured (then counts are empty)

    @property
    def ratio(self) -> float:
        """rs_stream's instructions per event ÷ rs_stream_nometrics' (NaN if not measured)."""
        num, den = (self.per_event.get(c, float("nan")) for c in METRICS_PAIR)
        return num / den if den > 0 else float("nan")


def metrics_cost_sizes(args: argparse.Namespace) -> Tuple[int, int]:
    """Events in the two text streams of the metrics count: the full run's ``text-<n>-ev`` and
    ``text-<n-large>-ev`` (about 2 min under callgrind at 10,000 and 100,000); with
    ``--skip-large``, 2,000 and ``--n``."""
    return (2_000, args.n) if args.skip_large else (args.n, args.n_large)


def count_metrics_cost(
    small: int, big: int, jobs: int = 2, server_cpu: Optional[int] = None
) -> InstructionCounts:
    """Run rs_stream and rs_stream_nometrics on ``text-<small>-ev`` and ``text-<big>-ev``,
    each in its own worker process under ``valgrind --tool=callgrind``
    (:func:`benchmarks.instructions.count_all`, ``jobs`` at a time, its own stream server);
    instructions per event = (count at ``big`` - count at ``small``) ÷ (``big`` - ``small``).

    Never raises for a missing valgrind or a failed run: the result's ``error`` says why
    nothing was measured, and the Targets row reports it as not measured.
    """
    out = InstructionCounts(f"text-{small}-ev", f"text-{big}-ev")
    if shutil.which("valgrind") is None:
        out.error = "valgrind is not installed (apt install valgrind)"
        return out
    if big <= small:
        out.error = f"needs two sizes, got {small:,} and {big:,} events"
        return out
    from benchmarks import instructions  # not at the top: it imports this module

    started = time.monotonic()
    try:
        counts = instructions.count_all(
            METRICS_PAIR, [out.small_sc, out.big_sc], jobs, server_cpu, 1800.0
        )
    except Exception as exc:  # a failed or timed-out run is reported, never counted as met
        out.error = f"callgrind run failed: {exc}"
    else:
        for c in METRICS_PAIR:
            out.counts[c] = (counts[(c, out.small_sc)], counts[(c, out.big_sc)])
            out.per_event[c] = instructions.per_event(counts, c, out.small_sc, out.big_sc)
    out.seconds = time.monotonic() - started
    return out


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def _med(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def _pct(sorted_xs: Sequence[int], p: float) -> float:
    """Nearest-rank percentile."""
    if not sorted_xs:
        return float("nan")
    i = max(0, min(len(sorted_xs) - 1, round(p / 100 * len(sorted_xs) + 0.5) - 1))
    return float(sorted_xs[i])


def _fmt(x: float, spec: str = ",.0f", suffix: str = "") -> str:
    return "-" if x != x else format(x, spec) + suffix  # NaN -> dash


def _paired(
    res: Results, sc: str, num: str, den: str, f: Callable[[Dict[str, Any], Dict[str, Any]], float]
) -> float:
    """Median over repetitions of f(num's run, den's run) (same repetition only)."""
    a, b = res.ok_runs(sc, num), res.ok_runs(sc, den)
    return _med([f(a[r], b[r]) for r in a if r in b])


def paired_ratio(res: Results, sc: str, num: str, den: str, key: str = "cpu") -> float:
    """Median over repetitions of num[rep].key / den[rep].key (same repetition only)."""
    a, b = res.ok_runs(sc, num), res.ok_runs(sc, den)
    return _med([a[r][key] / b[r][key] for r in a if r in b and b[r][key] > 0])


def paired_eps_ratio(res: Results, sc: str, num: str, den: str) -> float:
    """Median over repetitions of events/s of num ÷ events/s of den (same repetition)."""
    return _paired(res, sc, num, den, lambda x, y: (x["n"] / x["wall"]) / (y["n"] / y["wall"]))


def run_p99_us(run: Dict[str, Any]) -> float:
    return _pct(sorted(run["lat_ns"]), 99) / 1e3


def paired_p99_diff(res: Results, sc: str, num: str, den: str = "floor") -> float:
    """Median over repetitions of num's p99 minus den's p99 in the same repetition, in µs."""
    return _paired(res, sc, num, den, lambda x, y: run_p99_us(x) - run_p99_us(y))


def describe_scenario(name: str, sizes: Dict[str, int]) -> str:
    sc = Scenario.parse(name)
    kind = {
        "text": "`output_text.delta` events (word-like tokens)",
        "func": "`function_call_arguments.delta` events (escape-heavy JSON arguments)",
        "cjk": "`output_text.delta` events (CJK + emoji, raw UTF-8)",
    }[sc.variant]
    framing = (
        "chunked, one HTTP chunk per event"
        if sc.framing == "ev"
        else "close-delimited body (no Content-Length, no chunked)"
    )
    size = f", body {sizes[name] / 1e6:.1f} MB" if name in sizes else ""
    if sc.paced:
        return f"{sc.n:,} {kind}, {framing}, one event per write every {sc.gap_us} µs"
    return f"{sc.n:,} {kind}, {framing}, written in one sendall{size}"


def machine_section(versions: Dict[str, str], cpus: int) -> List[str]:
    """Describe the machine; called at the start so date and load are the run's own."""
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    pkgs = ", ".join(f"{k} {v}" for k, v in versions.items())
    return [
        f"* Date: {_dt.datetime.now().astimezone().isoformat(timespec='seconds')} (start)",
        f"* Machine: nproc {cpus} (cpu_count {os.cpu_count()}), CPU `{model}`, "
        f"{platform.system()} {platform.release()}, load average at start {load}",
        f"* Python {platform.python_version()} ({sys.executable})",
        f"* Packages: {pkgs}",
    ]


def package_versions(probe_info: Dict[str, Dict[str, Any]]) -> Dict[str, str]:
    from importlib import metadata

    out: Dict[str, str] = {}
    rs = probe_info.get("rs", {})
    out["responses_stream"] = str(rs.get("version")) if rs.get("available") else "unavailable"
    for dist in ("requests", "urllib3", "sseclient-py", "openai", "httpx2", "httpx", "pydantic"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def _stream_targets(
    add: Callable[..., None],
    plan: Plan,
    present: List[str],
    res: Results,
    imports: Dict[str, List[float]],
    instr: Optional[InstructionCounts] = None,
) -> None:
    """The streaming rows of :func:`targets_section` (``add`` takes one row; ``instr``, the
    callgrind counts of the metrics row)."""
    for sc in plan.throughput:
        if "floor" in present:
            add(
                "rs_stream events/s ≥ 0.9x floor (paired)",
                sc,
                paired_eps_ratio(res, sc, "rs_stream", "floor"),
                0.9,
                False,
            )
    for sc in plan.throughput:
        for ref, limit in (("openai_stream", 10.0), ("openai_create", 5.0)):
            if ref in present:
                add(
                    f"rs_stream events/s ≥ {limit:.0f}x {ref} (paired)",
                    sc,
                    paired_eps_ratio(res, sc, "rs_stream", ref),
                    limit,
                    False,
                )
    if "floor" in present:
        for sc in plan.paced:
            add(
                "rs_stream p99 latency ≤ floor's + 300 µs (paired, median of runs)",
                sc,
                paired_p99_diff(res, sc, "rs_stream"),
                300.0,
                True,
                "us",
            )
    ours, theirs = imports.get("import responses_stream"), imports.get("import openai")
    if ours and theirs:
        add(
            "import responses_stream ≤ 1/3 import openai (wall)",
            "",
            _med(ours) / _med(theirs),
            1 / 3,
            True,
        )
    large = [sc for sc in plan.throughput if sc.startswith("text-") and sc.endswith("-ev")]
    if len(large) >= 2 and "floor" in present:
        small_sc, big_sc = large[0], large[1]

        def med(sc: str, c: str, f: Callable[[Dict[str, Any]], float]) -> float:
            return _med([f(v) for v in res.ok_runs(sc, c).values()])

        rss = med(big_sc, "rs_stream", lambda v: v["hwm_kib"]) / med(
            big_sc, "floor", lambda v: v["hwm_kib"]
        )
        add("rs_stream peak RSS ≤ 1.2x floor", big_sc, rss, 1.2, True)
        if "rs_stream_noacc" in present:

            def growth(sc: str, c: str) -> float:
                return med(sc, c, lambda v: (v["hwm_kib"] - v["hwm_before_kib"]) / 1024)

            add(
                "accumulate=False: growth during the stream ≤ floor's + 1 MiB",
                big_sc,
                growth(big_sc, "rs_stream_noacc") - growth(big_sc, "floor"),
                1.0,
                True,
                "MiB vs floor",
            )
        eps = [med(sc, "rs_stream", lambda v: v["n"] / v["wall"]) for sc in (small_sc, big_sc)]
        add(
            "rs_stream events/s on the large stream ≥ 0.9x the small one's",
            f"{big_sc} ÷ {small_sc}",
            eps[1] / eps[0],
            0.9,
            False,
        )
    if "rs_stream_nometrics" in present:
        # Metrics are always on: what they add to every event. Counted in instructions: the
        # timed CPU of identical runs moves by more than the 3% limit on a shared VM (the
        # timed paired ratios stay in the metrics section, for information).
        error = "no instruction count in this run" if instr is None else instr.error
        add(
            "metrics: rs_stream instructions per event ≤ 1.03x without metrics (callgrind)",
            "" if instr is None else f"{instr.big_sc} minus {instr.small_sc}",
            float("nan") if instr is None or error else instr.ratio,
            1.03,
            True,
            # Three decimals: the count does not move, and the limit is 1.03.
            shown=f"not measured: {error}" if error or instr is None else f"{instr.ratio:.3f}x",
        )
    if large and "rs_stream_checkpoint" in present:
        add(  # issue 15: durable streams; "without" is plain rs_stream (not even background)
            "checkpoint=SQLiteStore: CPU per event ≤ 1.10x without (paired)",
            large[-1],
            paired_ratio(res, large[-1], "rs_stream_checkpoint", "rs_stream"),
            1.10,
            True,
        )


def targets_section(
    plan: Plan,
    present: List[str],
    res: Results,
    imports: Dict[str, List[float]],
    partial: Optional[Dict[str, Any]] = None,
    scaled: Optional[Dict[str, Any]] = None,
    instr: Optional[InstructionCounts] = None,
) -> List[str]:
    """Each target of the performance issue, the figure this run measured, and whether it is
    met (with ``partial``, the figures of :mod:`benchmarks.partial_json`, its targets too; with
    ``scaled``, those of :mod:`benchmarks.scale`; ``instr``, the callgrind counts of the
    metrics row). A row without a figure is "not measured" and counts as not met. Computed for
    the report only: nothing here fails a run."""
    rows: List[Tuple[str, str, str, float, bool]] = []  # target, scope, figure, value, met

    def add(
        target: str,
        scope: str,
        value: float,
        limit: float,
        lower_is_better: bool,
        unit: str = "x",
        shown: Optional[str] = None,
    ) -> None:
        met = value == value and (value <= limit if lower_is_better else value >= limit)
        figure = shown or {
            "x": _fmt(value, ".2f", "x"),
            "us": _fmt(value, "+,.0f", " µs"),
            "ms": _fmt(value, ",.1f", " ms"),
            "share": f"1/{1 / value:,.0f}" if value > 0 else "0",
        }.get(unit, _fmt(value, "+.1f", f" {unit}"))
        rows.append((target, scope, figure, value, met))

    if "rs_stream" in present:
        _stream_targets(add, plan, present, res, imports, instr)
    for row in partial_json.target_rows(partial) if partial is not None else []:
        add(*row)
    for scale_row in scale.target_rows(scaled) if scaled is not None else []:
        add(*scale_row)
    if not rows:
        return []
    missed = sum(not met for *_, met in rows)
    unmeasured = sum(value != value for *_, value, _met in rows)  # NaN: no figure
    lines = [
        "## Targets",
        "",
        "Each target of the performance issue as measured in this run: events/s ratios are "
        "medians of per-repetition (paired) ratios; the latency figure is the median over "
        "repetitions of (rs_stream's p99 minus the floor's p99 in the same repetition), in µs. "
        "The partial-JSON rows are CPU times of `benchmarks.partial_json`, run after the "
        "streams (details in its section below). The scale rows come from one run of each "
        "contender of `benchmarks.scale` at N = 1,000 (its section below); their ratios are "
        "of CPU µs per event in that run. The metrics row is the one row counted in "
        "instructions, not timed: instructions per event under valgrind's callgrind, from the "
        "difference between two stream sizes (section *Metrics: instructions per event* below, "
        "which also shows the timed paired CPU ratio for information).",
        "",
        "| target | stream | this run | met |",
        "|---|---|---|---|",
    ]
    for target, scope, figure, value, met in rows:
        verdict = "yes" if met else "**no**" if value == value else "**not measured**"
        lines.append(f"| {target} | {scope and f'`{scope}`'} | {figure} | {verdict} |")
    summary = f"{len(rows) - missed} of {len(rows)} met"
    if unmeasured:
        summary += f" ({unmeasured} not measured, counted as not met)"
    lines += ["", summary + ".", ""]
    return lines


def metrics_section(
    plan: Plan, present: List[str], res: Results, instr: Optional[InstructionCounts]
) -> List[str]:
    """What the always-on metrics cost per event: the callgrind counts the Targets row is
    checked on and, for information only, the timed CPU of the same pair."""
    rs, nom = METRICS_PAIR
    lines = [
        "## Metrics: instructions per event (callgrind)",
        "",
        f"`{rs}` (metrics always on) against `{nom}` (the same, with the per-event metrics "
        "block cut out of the event loop; see Correctness).",
    ]
    rows: List[str] = []
    if instr is None or instr.error:
        why = instr.error if instr is not None else "no instruction count in this run"
        lines += ["", f"**Not measured**: {why}. The Targets row counts as not met."]
    else:
        small_n, big_n = Scenario.parse(instr.small_sc).n, Scenario.parse(instr.big_sc).n
        lines[-1] += (
            f" Each streamed `{instr.small_sc}` and `{instr.big_sc}` in its own worker process "
            "under `valgrind --tool=callgrind` (the whole client process: imports, warm-up, "
            f"request); instructions per event = (count at {big_n:,} minus count at {small_n:,}) ÷ "
            f"{big_n - small_n:,}, which cancels the fixed costs (among them "
            f"`{nom}` recompiling the method). The workers run with `PYTHONHASHSEED=0`, and the "
            "counts do not depend on what else the machine does (in a check, two runs of this "
            "step on the same code gave the same instructions per event to within one "
            "instruction). They do not see cache misses. Measured in "
            f"{instr.seconds:.0f} s, two valgrind processes at a time."
        )
        for sc, i in ((instr.small_sc, 0), (instr.big_sc, 1)):
            cells = " | ".join(f"{instr.counts[c][i]:,}" for c in METRICS_PAIR)
            rows.append(f"| instructions, `{sc}` | {cells} |  |")
        cells = " | ".join(f"{instr.per_event[c]:,.0f}" for c in METRICS_PAIR)
        rows.append(
            f"| **instructions per event** (the target: ≤ 1.03x) | {cells} "
            f"| **{instr.ratio:.3f}x** |"
        )
    large = [sc for sc in plan.throughput if sc.startswith("text-") and sc.endswith("-ev")]
    timed = [sc for sc in large if rs in present and nom in present]
    for sc in timed:
        cpu = [
            _med([v["cpu"] / v["n"] * 1e6 for v in res.ok_runs(sc, c).values()]) for c in (rs, nom)
        ]
        ratio = _fmt(paired_ratio(res, sc, rs, nom), ".2f", "x")
        rows.append(
            f"| timed CPU µs/event, `{sc}` (median; not the target) | {_fmt(cpu[0], ',.1f')} "
            f"| {_fmt(cpu[1], ',.1f')} | {ratio} paired |"
        )
    if rows:
        lines += ["", f"|  | {rs} | {nom} | {rs} ÷ {nom} |", "|---|---|---|---|", *rows]
    if timed:
        lines += [
            "",
            "The timed rows are information, not the target: on a shared VM the CPU time of "
            "identical runs moves by several percent, as much as the 3% being checked, so their "
            "paired ratio moves by a few hundredths from one full run to the next.",
        ]
    lines.append("")
    return lines


def render_report(
    plan: Plan,
    contenders: List[str],
    res: Results,
    imports: Dict[str, List[float]],
    sizes: Dict[str, int],
    machine: List[str],
    argv: List[str],
    smoke: bool,
    partial: Optional[Dict[str, Any]] = None,
    scaled: Optional[Dict[str, Any]] = None,
    instr: Optional[InstructionCounts] = None,
) -> str:
    lines: List[str] = ["# responses_stream benchmark results", ""]
    lines += machine
    cmd = " ".join(["python -m benchmarks", *argv])
    mode = "smoke (correctness only; timings are not meaningful)" if smoke else "full"
    lines += [
        f"* Command: `{cmd}` — mode {mode}, {plan.reps} repetition(s) of every contender "
        f"plus {plan.extra_reps} more of {', '.join(CHEAP)}; each run in a fresh "
        "process after a 50-delta warm-up on the same client; order rotated every repetition",
        "* All values are medians over repetitions. Ratios are medians of per-repetition "
        "(paired) CPU-time ratios; < 1 means cheaper than the reference.",
        "",
    ]
    present = [c for c in contenders if c not in res.unavailable]
    refs = [r for r in REFERENCES if r in present]
    if not smoke:
        lines += targets_section(plan, present, res, imports, partial, scaled, instr)
        if "rs_stream_nometrics" in present or instr is not None:
            lines += metrics_section(plan, present, res, instr)

    # Import time.
    if imports:
        base = _med(imports.get("python -c pass", []))
        lines += [
            '## Import time (`python -c "import X"`, wall, median)',
            "",
            "| import | median ms | minus bare interpreter ms | runs |",
            "|---|---|---|---|",
        ]
        for label, ts in imports.items():
            m = _med(ts) * 1e3
            extra = "" if label == "python -c pass" else _fmt(m - base * 1e3, ",.1f")
            lines.append(f"| `{label}` | {_fmt(m, ',.1f')} | {extra} | {len(ts)} |")
        ours = imports.get("import responses_stream")
        theirs = imports.get("import openai")
        if ours and theirs:
            lines += [
                "",
                f"`import responses_stream` ÷ `import openai`: {_med(ours) / _med(theirs):.2f}x "
                "(both with compiled bytecode, as after `pip install`).",
            ]
        lines.append("")

    # Throughput tables.
    for sc in plan.throughput:
        lines += [f"## Throughput: `{sc}`", "", describe_scenario(sc, sizes), ""]
        head = "| contender | events/s | CPU µs/event | wall s | peak RSS MiB |"
        head += "".join(f" CPU ÷ {r} |" for r in refs) + " ok runs |"
        lines += [head, "|---" * (6 + len(refs)) + "|"]
        for c in present:
            ok = res.ok_runs(sc, c)
            total = len(res.runs.get(sc, {}).get(c, {}))
            eps = _med([v["n"] / v["wall"] for v in ok.values()])
            cpu_us = _med([v["cpu"] / v["n"] * 1e6 for v in ok.values()])
            wall = _med([v["wall"] for v in ok.values()])
            rss = _med([v["hwm_kib"] / 1024 for v in ok.values()])
            row = f"| {c} | {_fmt(eps)} | {_fmt(cpu_us, ',.1f')} | {_fmt(wall, '.3f')} | "
            row += f"{_fmt(rss, '.1f')} |"
            for r in refs:
                row += f" {_fmt(paired_ratio(res, sc, c, r), '.2f', 'x')} |"
            row += f" {len(ok)}/{total} |"
            lines.append(row)
        lines.append("")

    # Scaling and memory on the large stream.
    large = [s for s in plan.throughput if s.startswith("text-") and s.endswith("-ev")]
    if len(large) >= 2:
        small_sc, big_sc = large[0], large[1]
        ns, nb = Scenario.parse(small_sc).n, Scenario.parse(big_sc).n
        lines += [
            f"## Scaling: `{big_sc}` vs `{small_sc}`",
            "",
            "Per-event cost must not grow with N: `big ÷ small` for CPU µs/event should "
            "stay near 1.0 (above ~1.3 means something is O(n²)).",
            "",
            f"| contender | events/s N={ns:,} | events/s N={nb:,} | CPU µs/event N={ns:,} "
            f"| CPU µs/event N={nb:,} | CPU µs/event big ÷ small |",
            "|---|---|---|---|---|---|",
        ]
        for c in present:
            a, b = res.ok_runs(small_sc, c), res.ok_runs(big_sc, c)
            ea = _med([v["n"] / v["wall"] for v in a.values()])
            eb = _med([v["n"] / v["wall"] for v in b.values()])
            ca = _med([v["cpu"] / v["n"] * 1e6 for v in a.values()])
            cb = _med([v["cpu"] / v["n"] * 1e6 for v in b.values()])
            lines.append(
                f"| {c} | {_fmt(ea)} | {_fmt(eb)} | {_fmt(ca, ',.1f')} | {_fmt(cb, ',.1f')} "
                f"| {_fmt(cb / ca, '.2f', 'x')} |"
            )
        lines += [
            "",
            f"## Peak RSS on `{big_sc}`",
            "",
            "VmHWM of the worker process (imports + warm-up + the stream); growth = VmHWM "
            "after the stream minus VmHWM just before it. `rs_stream_noacc` should stay "
            "near the floor: it keeps nothing per event.",
            "",
            "| contender | peak RSS MiB | growth during stream MiB | peak ÷ floor |",
            "|---|---|---|---|",
        ]
        floor_rss = _med([v["hwm_kib"] / 1024 for v in res.ok_runs(big_sc, "floor").values()])
        order = sorted(present, key=lambda c: (c not in ("rs_stream_noacc", "floor"), c))
        for c in order:
            ok = res.ok_runs(big_sc, c)
            rss = _med([v["hwm_kib"] / 1024 for v in ok.values()])
            grow = _med([(v["hwm_kib"] - v["hwm_before_kib"]) / 1024 for v in ok.values()])
            lines.append(
                f"| {c} | {_fmt(rss, '.1f')} | {_fmt(grow, '.1f')} "
                f"| {_fmt(rss / floor_rss, '.2f', 'x')} |"
            )
        lines.append("")

    # Latency.
    for sc in plan.paced:
        lines += [
            f"## Latency: `{sc}`",
            "",
            describe_scenario(sc, sizes) + ". Latency = `perf_counter_ns()` in the "
            "client's delta callback minus the server's stamp taken just before the write "
            "(CLOCK_MONOTONIC is system-wide). Samples pooled over all repetitions.",
            "",
            "| contender | p50 µs | p90 µs | p99 µs | max µs | p99 minus floor p99 µs "
            "| median of per-run p99 µs | paired p99 minus floor µs | samples |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        # A VM stall in one run lands in the pooled p99 of whichever contender ran then; the
        # median over runs of each run's own p99 shows what a typical run saw, and the paired
        # column compares each run with the floor's run in the same repetition.
        per_run = {c: _med([run_p99_us(v) for v in res.ok_runs(sc, c).values()]) for c in present}
        pooled = {
            c: sorted(x / 1e3 for v in res.ok_runs(sc, c).values() for x in v.get("lat_ns", []))
            for c in present
        }
        floor_p99 = _pct(pooled["floor"], 99) if "floor" in pooled else float("nan")
        for c in present:
            samples = pooled[c]
            p99 = _pct(samples, 99)
            lines.append(
                f"| {c} | {_fmt(_pct(samples, 50))} | {_fmt(_pct(samples, 90))} "
                f"| {_fmt(p99)} | {_fmt(samples[-1] if samples else float('nan'))} "
                f"| {_fmt(p99 - floor_p99, '+,.0f')} | {_fmt(per_run[c])} "
                f"| {_fmt(paired_p99_diff(res, sc, c), '+,.0f')} | {len(samples)} |"
            )
        lines.append("")

    if partial is not None and not smoke:
        lines += ["## Partial JSON (`python -m benchmarks.partial_json`)", ""]
        lines += partial_json.report(partial).replace("### ", "", 1).splitlines()
        lines.append("")

    if scaled is not None:
        lines += scale.report(scaled).splitlines()
        lines.append("")

    lines += ["## Correctness", ""]
    for c, why in res.unavailable.items():
        lines.append(f"* **{c} unavailable**: {why}")
    for c, why in (scaled or {}).get("unavailable", {}).items():
        lines.append(f"* **scale benchmark: {c} unavailable**: {why}")
    failures = res.failures + (scaled or {}).get("failures", [])
    if failures:
        lines += [f"* **FAILED** {f}" for f in failures]
    else:
        lines.append(
            "* Every run of every available contender produced the expected delta count, "
            "total delta length and (where exposed) final `output_text` length."
        )
    cut = {
        (v["metrics_patched"], v["metrics_lines_cut"])
        for runs in res.runs.values()
        for c, reps in runs.items()
        if c == "rs_stream_nometrics"
        for v in reps.values()
        if "metrics_lines_cut" in v
    }
    for method, count in sorted(cut):
        lines.append(
            f"* `rs_stream_nometrics`: `{method}` recompiled without its metrics block "
            f"({count} lines cut); every stream it ran checked that the metrics counted no event."
        )
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def parse_args(argv: List[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks", description="Streaming benchmark for responses_stream."
    )
    ap.add_argument("--smoke", action="store_true", help="small N, 1 repeat, counts only (CI)")
    ap.add_argument("--reps", type=int, default=0, help="repetitions (default 5; smoke 1)")
    ap.add_argument(
        "--extra-reps",
        type=int,
        default=10,
        help="more repetitions of the sub-second contenders (rs_*, floor); smoke ignores it",
    )
    ap.add_argument(
        "--contenders",
        default=",".join(CONTENDERS),
        help=f"comma-separated subset of {','.join(CONTENDERS)}",
    )
    ap.add_argument("--n", type=int, default=10_000, help="events in the main streams")
    ap.add_argument("--n-large", type=int, default=100_000, help="events in the large stream")
    ap.add_argument("--skip-large", action="store_true", help="skip the large text stream")
    # 1000 events x 5 repetitions: the pooled p99 rests on at least 50 samples, not 15.
    ap.add_argument("--paced-n", type=int, default=1000, help="events in the latency streams")
    ap.add_argument("--gap-us", type=int, default=3000, help="pause between paced events")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per worker process")
    ap.add_argument(
        "--no-pin", action="store_true", help="do not pin the server and the workers to two CPUs"
    )
    ap.add_argument("--out", default=None, help="report path (default benchmarks/RESULTS.md)")
    ap.add_argument("--no-write", action="store_true", help="print only, write no file")
    ap.add_argument(
        "--require-all", action="store_true", help="exit 2 if any contender is unavailable"
    )
    ap.add_argument(
        "--skip-partial-json",
        action="store_true",
        help="skip the partial-JSON benchmark (about 15 s; smoke runs a tiny correctness pass)",
    )
    ap.add_argument(
        "--skip-scale",
        action="store_true",
        help="skip the scale benchmark (N streams at once, about 5 min; smoke: a few seconds)",
    )
    ap.add_argument(
        "--skip-instructions",
        action="store_true",
        help="skip the callgrind count of the metrics target (about 2 min; the row then reads "
        "'not measured'); smoke always skips it",
    )
    return ap.parse_args(argv)


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwind so `finally` stops the server


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = [c for c in contenders if c not in CONTENDERS]
    if unknown:
        log(f"unknown contenders: {unknown}")
        return 2
    plan = smoke_plan(args) if args.smoke else full_plan(args)
    t_start = time.monotonic()

    # The server on one CPU and everything measured on another: left to the scheduler, the
    # two may share a CPU, and unpinned runs of one contender varied by up to 1.7x in CPU.
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cpu: Optional[int] = None
    placement = "placed by the scheduler"
    if len(cpus) >= 2 and not args.no_pin:
        server_cpu = cpus[0]
        os.sched_setaffinity(0, {cpus[1]})  # the workers and import timings inherit it
        placement = f"stream server pinned to CPU {cpus[0]}, runner and workers to CPU {cpus[1]}"

    res = Results()
    probe_info = probe()
    for c in contenders:
        info = probe_info.get(GROUP[c], {})
        if not info.get("available"):
            res.unavailable[c] = str(info.get("reason", "not importable"))
            log(f"{c}: unavailable ({res.unavailable[c]})")
    runnable = [c for c in contenders if c not in res.unavailable]
    machine = machine_section(package_versions(probe_info), len(cpus) or os.cpu_count() or 0)
    machine.append(f"* Processes: {placement} (`--no-pin` leaves them to the scheduler)")

    # Import times first, while nothing else runs.
    modules = [
        ("python -c pass", "pass"),
        ("import requests, sseclient", "import requests, sseclient"),
    ]
    if probe_info.get("openai", {}).get("available"):
        modules.append(("import openai", "import openai"))
    if probe_info.get("rs", {}).get("available"):
        modules.append(("import responses_stream", "import responses_stream"))
    # pip compiles an installed package's bytecode; an editable checkout run with
    # PYTHONDONTWRITEBYTECODE=1 would recompile its source on every start instead.
    compileall.compile_dir(str(REPO / "responses_stream"), quiet=1)
    log(f"import timing ({plan.import_reps} rep(s))")
    imports = measure_imports(plan.import_reps, modules)

    names = plan.throughput + plan.paced
    prepare = sorted(set(names) | {warmup_for(Scenario.parse(n)) for n in names})
    log(f"starting stream server, rendering {len(prepare)} streams")
    server = ServerProcess(prepare, plan.server_max_seconds, server_cpu)
    try:
        port = server.wait_ready()
        base_url = f"http://127.0.0.1:{port}/v1"
        log(f"server on {base_url} (pid {server.proc.pid})")
        execute(plan, runnable, base_url, res)
    finally:
        server.stop()
    sizes = server.sizes

    partial: Optional[Dict[str, Any]] = None
    if not args.skip_partial_json:
        log("partial JSON benchmark")
        # Smoke: a tiny document, for correctness only (run() checks the final values).
        small = {"size": 20_000, "deltas": 1_000, "window": 100, "reps": 1, "sample_every": 100}
        partial = partial_json.run(**small) if args.smoke else partial_json.run()

    scaled: Optional[Dict[str, Any]] = None
    if not args.skip_scale:
        # Its own server on the server's CPU; its workers inherit this process's CPU.
        log("scale benchmark" + (" (smoke: counts only)" if args.smoke else ""))
        if args.smoke:
            scaled = scale.run(**scale.SMOKE, smoke=True, server_cpu=server_cpu)
        else:
            scaled = scale.run(server_cpu=server_cpu)

    instr: Optional[InstructionCounts] = None
    if not args.smoke and all(c in runnable for c in METRICS_PAIR):
        small_n, big_n = metrics_cost_sizes(args)
        if args.skip_instructions:
            instr = InstructionCounts(f"text-{small_n}-ev", f"text-{big_n}-ev")
            instr.error = "skipped (`--skip-instructions`)"
        else:
            log(
                f"metrics cost: {' and '.join(METRICS_PAIR)} at {small_n:,} and {big_n:,} events "
                "under callgrind, two at a time"
            )
            if server_cpu is not None:  # counts do not depend on placement: use every CPU
                os.sched_setaffinity(0, set(cpus))
            instr = count_metrics_cost(small_n, big_n, 2, server_cpu)
            if instr.error:
                log(f"metrics cost not measured: {instr.error}")
            else:
                log(
                    f"metrics cost: {instr.ratio:.3f}x instructions per event "
                    f"({instr.seconds:.0f} s)"
                )

    report = render_report(
        plan, contenders, res, imports, sizes, machine, argv, args.smoke, partial, scaled, instr
    )
    print(report)
    out = args.out or (None if args.smoke else str(REPO / "benchmarks" / "RESULTS.md"))
    if out and not args.no_write:
        Path(out).write_text(report, encoding="utf-8")
        log(f"wrote {out}")
    log(f"done in {time.monotonic() - t_start:.1f}s")

    failures = res.failures + (scaled["failures"] if scaled is not None else [])
    if failures:
        log(f"{len(failures)} failing run(s)")
        return 1
    unavailable = [*res.unavailable, *(scaled["unavailable"] if scaled is not None else {})]
    if args.require_all and unavailable:
        log(f"unavailable contenders: {', '.join(unavailable)}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
