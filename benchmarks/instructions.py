"""Instructions per event under callgrind: the benchmark's one noise-free number.

On a shared VM the CPU time of the same run moves by up to 2x (see README.md), which hides
differences of a few percent. Valgrind's callgrind counts the instructions the client process
executes instead, which does not depend on what else the machine does. Each contender streams
the same scenario at two sizes in its own process (imports, warm-up and request included); the
difference divided by the difference in events is the cost of one more event, over real HTTP
from the benchmark's stream server::

    python -m benchmarks.instructions            # needs valgrind (apt install valgrind)
    python -m benchmarks.instructions --append   # also append the table to RESULTS.md

Instruction counts ignore cache misses and branch mispredictions, so they complement the
timed runs; they do not replace them.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from benchmarks.processes import REPO, ServerProcess
from benchmarks.run import make_job, warmup_for
from benchmarks.streams import Scenario, expected

KINDS = ("text-{}-ev", "cjk-{}-ev", "func-{}-ev", "text-{}-close")
DEFAULT_CONTENDERS = ("floor", "rs_stream", "rs_events")
_COLLECTED = re.compile(r"Collected : (\d+)")


def count(contender: str, scenario: str, base_url: str) -> int:
    """Instructions executed by one worker process streaming ``scenario``.

    The worker runs with ``PYTHONHASHSEED=0``: with random string hashing, dict and set layouts
    change from process to process, and repeated counts of the same stream spread by 0.1-0.3%
    (at 2,000 and 10,000 events, about ±1% of the instructions per event); with a fixed seed
    they agree within about 0.02%.
    """
    import json

    job = make_job(scenario, {scenario: expected(Scenario.parse(scenario))})
    spec = {"contender": contender, "base_url": base_url, "timeout": 600, "jobs": [job]}
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    cmd += [sys.executable, "-m", "benchmarks.worker", json.dumps(spec)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    cp = subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    results = [
        json.loads(line[7:]) for line in cp.stdout.splitlines() if line.startswith("RESULT ")
    ]
    if cp.returncode != 0 or not results or not results[0].get("ok"):
        raise RuntimeError(f"{contender} {scenario} failed: {results or cp.stderr[-500:]}")
    found = _COLLECTED.search(cp.stderr)
    if found is None:
        raise RuntimeError(f"no callgrind total for {contender} {scenario}: {cp.stderr[-500:]}")
    return int(found.group(1))


def count_all(
    contenders: Sequence[str],
    scenarios: Sequence[str],
    jobs: int = 2,
    server_cpu: Optional[int] = None,
    max_seconds: float = 3600.0,
) -> Dict[Tuple[str, str], int]:
    """Instructions of every contender on every scenario, keyed ``(contender, scenario)``.

    Starts a stream server of its own (pinned to ``server_cpu`` if given; it exits by itself
    after ``max_seconds``) and always stops it by PID before returning; runs ``jobs`` valgrind
    processes at a time, the biggest streams first so the long jobs overlap. Raises
    ``RuntimeError`` (from :func:`count`) if any run fails.
    """
    warmups = sorted({warmup_for(Scenario.parse(s)) for s in scenarios})
    server = ServerProcess(list(scenarios) + warmups, max_seconds, server_cpu)
    try:
        base_url = f"http://127.0.0.1:{server.wait_ready()}/v1"
        tasks = [(c, s) for s in scenarios for c in contenders]
        tasks.sort(key=lambda t: -Scenario.parse(t[1]).n)
        with ThreadPoolExecutor(jobs) as pool:
            return dict(zip(tasks, pool.map(lambda t: count(t[0], t[1], base_url), tasks)))
    finally:
        server.stop()


def per_event(
    counts: Dict[Tuple[str, str], int], contender: str, small_sc: str, big_sc: str
) -> float:
    """Instructions of one more event: the difference between the two streams' counts of
    ``contender`` divided by the difference in their events."""
    extra = Scenario.parse(big_sc).n - Scenario.parse(small_sc).n
    return (counts[(contender, big_sc)] - counts[(contender, small_sc)]) / extra


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", type=int, default=2000, help="events in the smaller stream")
    ap.add_argument("--big", type=int, default=10000, help="events in the bigger stream")
    ap.add_argument("--contenders", default=",".join(DEFAULT_CONTENDERS))
    ap.add_argument("--jobs", type=int, default=2, help="valgrind processes at a time")
    ap.add_argument("--append", action="store_true", help="append the table to RESULTS.md")
    args = ap.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt install valgrind)", file=sys.stderr)
        return 2
    contenders = args.contenders.split(",")
    kinds = [k.format("{}") for k in KINDS]
    scenarios = [k.format(n) for k in kinds for n in (args.small, args.big)]
    started = time.monotonic()
    counts = count_all(contenders, scenarios, args.jobs)
    ratios = [c for c in contenders if c != "floor"] if "floor" in contenders else []
    lines = [
        "## Instructions per event (callgrind, deterministic)",
        "",
        f"`python -m benchmarks.instructions`: (instructions at {args.big:,} events minus at "
        f"{args.small:,}) ÷ {args.big - args.small:,}, whole client process under valgrind "
        "callgrind, over HTTP from the stream server.",
        "",
        "| stream | " + " | ".join(contenders) + " |" + "".join(f" {c} ÷ floor |" for c in ratios),
        "|---" * (1 + len(contenders) + len(ratios)) + "|",
    ]
    for kind in kinds:
        small_sc, big_sc = kind.format(args.small), kind.format(args.big)
        per = {c: per_event(counts, c, small_sc, big_sc) for c in contenders}
        cells = [f"{per[c]:,.0f}" for c in contenders]
        cells += [f"{per[c] / per['floor']:.3f}x" for c in ratios]
        lines.append(f"| `{kind.format('N')}` | " + " | ".join(cells) + " |")
    lines += ["", f"(measured in {time.monotonic() - started:.0f} s)", ""]
    report = "\n".join(lines)
    print(report)
    if args.append:
        path = REPO / "benchmarks" / "RESULTS.md"
        Path(path).write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n\n" + report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
