"""Partial-JSON benchmark: ``python -m benchmarks.partial_json`` from the repository root.

Streams a realistic ~1 MB function-call arguments document (a list of files with path, code
content, numbers, booleans and nested objects) to :class:`responses_stream._partial_json.
PartialJSON` in 50,000 deltas, reading ``value`` after every delta, and reports:

1. the CPU cost per delta of the first 5,000 deltas against the last 5,000 (linear total cost
   means a flat per-delta cost: target last <= 1.3x first), for that document, for one
   ~1 MB string value streamed the same way (the case a naive string rebuild makes
   quadratic), and for the document read as users read it: the arguments string grown in
   place by the SDK's accumulator and ``FunctionCall.partial_arguments`` read after every
   delta (which must neither copy the growing string nor re-read what it parsed before);
2. the total CPU of the incremental parse against re-parsing every snapshot, as the peers do
   (jiter's partial mode as openai-python calls it, pydantic_core's ``from_json`` with
   ``allow_partial``, and, as a pure-Python re-parse, a fresh ``PartialJSON`` per snapshot),
   measured in the same run (target: ours <= 1/20 of the best re-parse).

Re-parsing all 50,000 snapshots of up to 1 MB would parse ~25 GB, so each re-parse contender
is timed on an evenly spaced sample of the snapshots (every Nth; the table says which N) and
the sum is scaled by N. The snapshot strings are sliced outside the timed region; jiter's
time includes the ``str.encode`` its bytes-only API needs, as openai-python does it.

CPU time is ``time.process_time()``. Each incremental pass is repeated (``--reps``) and the
fastest repetition of each figure is kept. ``run()`` returns the figures as a dict so a
larger report can include them.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # allow `python benchmarks/partial_json.py`
    sys.path.insert(0, str(REPO))

from responses_stream._partial_json import PartialJSON  # noqa: E402
from responses_stream._snapshot_writes import append as _append  # noqa: E402
from responses_stream.models import FunctionCall  # noqa: E402

DELTAS = 50_000
WINDOW = 5_000
SIZE = 1_000_000

_WORDS = (
    "value result config items index count buffer stream handler parse token delta "
    "request response payload session client server retry timeout offset record"
).split()
_UNICODE = ["é", "ü", "ß", "中文", "日本語", "Ω", "→", "✓", "🙂", "🚀"]


def _code_line(rng: random.Random) -> str:
    """One line of plausible Python source: quotes, backslashes, tabs, some non-ASCII."""
    a, b, c = rng.sample(_WORDS, 3)
    indent = "    " * rng.randrange(0, 4)
    kind = rng.randrange(8)
    if kind == 0:
        return f'{indent}def {a}_{b}(self, {c}: str = "{rng.choice(_WORDS)}") -> None:'
    if kind == 1:
        return f'{indent}{a} = {{"{b}": {rng.randrange(10**6)}, "{c}": [{rng.random():.4f}]}}'
    if kind == 2:
        return f'{indent}raise ValueError(f"bad {a}: {{{b}!r}} ({rng.choice(_UNICODE)})")'
    if kind == 3:
        return f'{indent}path = r"C:\\{a}\\{b}\\{c}.txt"\t# {rng.choice(_UNICODE)} {a}'
    if kind == 4:
        return f"{indent}if {a}.{b} is not None and {c} > {rng.randrange(100)}:"
    if kind == 5:
        return f"{indent}return '{a}\\n' + {b}.{c}()"
    if kind == 6:
        return ""
    return f"{indent}{a}.{b}({c}, {rng.randrange(1000)}, flag={rng.choice(['True', 'False'])})"


def make_arguments(size: int = SIZE, seed: int = 7) -> str:
    """A function-call arguments document of about ``size`` characters, as a model writes it."""
    rng = random.Random(seed)
    files: List[Dict[str, Any]] = []
    doc: Dict[str, Any] = {
        "task": "apply_refactoring",
        "dry_run": False,
        "max_changes": 500,
        "options": {
            "style": {"indent": 4, "quotes": "double", "line_length": 100},
            "targets": ["py39", "py312"],
            "threshold": 0.85,
            "reviewer": None,
        },
        "files": files,
    }
    length = len(json.dumps(doc, ensure_ascii=False))
    while length < size:
        lines = [_code_line(rng) for _ in range(rng.randrange(20, 60))]
        entry = {
            "path": f"src/{rng.choice(_WORDS)}/{rng.choice(_WORDS)}_{len(files)}.py",
            "language": "python",
            "executable": rng.random() < 0.1,
            "size": sum(map(len, lines)) + len(lines),
            "checksum": None,
            "metadata": {
                "lines": len(lines),
                "score": round(rng.uniform(0, 1), 3),
                "tags": rng.sample(_WORDS, 2),
                "owner": {"team": rng.choice(_WORDS), "id": rng.randrange(10**9)},
            },
            "content": "\n".join(lines) + "\n",
        }
        files.append(entry)
        length += len(json.dumps(entry, ensure_ascii=False)) + 2
    doc["summary"] = f"{len(files)} files changed"
    return json.dumps(doc, ensure_ascii=False)


def make_single_string(size: int = SIZE, seed: int = 11) -> str:
    """One object holding a single ~``size``-character string value (code with escapes)."""
    rng = random.Random(seed)
    lines: List[str] = []
    length = 0
    while length < size:
        lines.append(_code_line(rng))
        length += len(lines[-1]) + 2
    return json.dumps({"content": "\n".join(lines)}, ensure_ascii=False)


def split(text: str, deltas: int = DELTAS, seed: int = 3) -> List[str]:
    """``text`` cut at ``deltas - 1`` random positions (mean delta ~20 characters at 1 MB)."""
    cuts = sorted(random.Random(seed).sample(range(1, len(text)), deltas - 1))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:])]


def incremental_pass(deltas: List[str], window: int) -> Tuple[float, float, float, Any]:
    """One incremental parse, ``value`` read after every delta: CPU of the first window, the
    last window and the whole stream, and the final value."""
    clock = time.process_time
    first_end = window
    last_start = len(deltas) - window
    parser = PartialJSON()
    feed = parser.feed
    start = clock()
    for delta in deltas[:first_end]:
        feed(delta)
        parser.value  # the read a user does after every delta
    t_first = clock()
    for delta in deltas[first_end:last_start]:
        feed(delta)
        parser.value
    t_middle = clock()
    for delta in deltas[last_start:]:
        feed(delta)
        parser.value
    t_last = clock()
    final = parser.finish()
    return t_first - start, t_last - t_middle, t_last - start, final


def property_pass(deltas: List[str], window: int) -> Tuple[float, float, float, Any]:
    """:func:`incremental_pass` as a handler sees it: each delta appended to the call's
    ``arguments`` the way the accumulator does, then ``call.partial_arguments`` read."""
    clock = time.process_time
    first_end = window
    last_start = len(deltas) - window
    call = FunctionCall.from_wire({"type": "function_call", "status": "in_progress"})
    start = clock()
    for delta in deltas[:first_end]:
        _append(call, "arguments", delta)
        call.partial_arguments
    t_first = clock()
    for delta in deltas[first_end:last_start]:
        _append(call, "arguments", delta)
        call.partial_arguments
    t_middle = clock()
    for delta in deltas[last_start:]:
        _append(call, "arguments", delta)
        call.partial_arguments
    t_last = clock()
    call.status = "completed"
    return t_first - start, t_last - t_middle, t_last - start, call.partial_arguments


def measure_incremental(
    text: str,
    deltas: List[str],
    window: int,
    reps: int,
    one_pass: Callable[[List[str], int], Tuple[float, float, float, Any]] = incremental_pass,
) -> Dict[str, Any]:
    """Best-of-``reps`` figures of ``one_pass`` (:func:`incremental_pass` or
    :func:`property_pass`), checked against json.loads."""
    best_first = best_last = best_total = float("inf")
    expected = json.loads(text)
    for _ in range(reps):
        first, last, total, final = one_pass(deltas, window)
        if final != expected:
            raise AssertionError("PartialJSON's final value differs from json.loads")
        best_first, best_last, best_total = (
            min(best_first, first),
            min(best_last, last),
            min(best_total, total),
        )
    return {
        "total_s": best_total,
        "first_us_per_delta": best_first / window * 1e6,
        "last_us_per_delta": best_last / window * 1e6,
        "last_over_first": best_last / best_first if best_first > 0 else float("inf"),
    }


def reparse_contenders() -> Dict[str, Callable[[str], Any]]:
    """The re-parse-every-snapshot approaches that are importable here, by display name."""
    out: Dict[str, Callable[[str], Any]] = {}
    try:
        import jiter

        def jiter_parse(snapshot: str) -> Any:
            return jiter.from_json(snapshot.encode(), partial_mode="trailing-strings")

        out["jiter partial_mode (openai-python)"] = jiter_parse
    except ImportError:
        pass
    try:
        import pydantic_core

        def pydantic_parse(snapshot: str) -> Any:
            return pydantic_core.from_json(snapshot, allow_partial="trailing-strings")

        out["pydantic_core.from_json allow_partial"] = pydantic_parse
    except ImportError:
        pass

    def python_parse(snapshot: str) -> Any:
        parser = PartialJSON()
        parser.feed(snapshot)
        return parser.value

    out["PartialJSON per snapshot (pure Python)"] = python_parse
    return out


def measure_reparse(
    text: str, deltas: List[str], parse: Callable[[str], Any], every: int
) -> Dict[str, Any]:
    """CPU of re-parsing every ``every``-th snapshot (deltas every-1, 2*every-1, ...), and that
    sum scaled by ``every`` as the estimate for all snapshots."""
    clock = time.process_time
    ends: List[int] = []
    position = 0
    for delta in deltas:
        position += len(delta)
        ends.append(position)
    spent = 0.0
    sampled = 0
    for k in range(every - 1, len(deltas), every):
        snapshot = text[: ends[k]]
        start = clock()
        parse(snapshot)
        spent += clock() - start
        sampled += 1
    return {"every": every, "sampled": sampled, "sampled_s": spent, "total_s": spent * every}


def run(
    size: int = SIZE,
    deltas: int = DELTAS,
    window: int = WINDOW,
    reps: int = 5,
    sample_every: int = 50,
    python_sample_every: int = 500,
    seed: int = 7,
) -> Dict[str, Any]:
    """Run the whole benchmark and return its figures (seconds are CPU seconds).

    Keys: ``document`` (characters, UTF-8 bytes, deltas), ``incremental``,
    ``single_string`` and ``partial_arguments`` (total_s, first/last_us_per_delta,
    last_over_first),
    ``reparse`` (per contender: every, sampled, sampled_s, total_s estimated for all
    snapshots, incremental_fraction), ``best_reparse`` and ``targets``.
    """
    text = make_arguments(size, seed)
    pieces = split(text, deltas, seed)
    single = make_single_string(size, seed + 1)
    single_pieces = split(single, deltas, seed + 1)
    incremental = measure_incremental(text, pieces, window, reps)
    single_string = measure_incremental(single, single_pieces, window, reps)
    through_property = measure_incremental(text, pieces, window, reps, property_pass)
    reparse: Dict[str, Dict[str, Any]] = {}
    for name, parse in reparse_contenders().items():
        every = python_sample_every if "pure Python" in name else sample_every
        figures = measure_reparse(text, pieces, parse, every)
        figures["incremental_fraction"] = incremental["total_s"] / figures["total_s"]
        reparse[name] = figures
    best: Optional[str] = min(
        (name for name in reparse if "pure Python" not in name),
        key=lambda name: reparse[name]["total_s"],
        default=None,
    )
    fraction = reparse[best]["incremental_fraction"] if best else None
    return {
        "python": platform.python_version(),
        "document": {
            "characters": len(text),
            "utf8_bytes": len(text.encode()),
            "deltas": deltas,
            "window": window,
            "reps": reps,
        },
        "incremental": incremental,
        "single_string": single_string,
        "partial_arguments": through_property,
        "reparse": reparse,
        "best_reparse": best,
        "targets": {
            "incremental_last_over_first_le_1.3": incremental["last_over_first"] <= 1.3,
            "single_string_last_over_first_le_1.3": single_string["last_over_first"] <= 1.3,
            "partial_arguments_last_over_first_le_1.3": (
                through_property["last_over_first"] <= 1.3
            ),
            "incremental_le_1/20_of_best_reparse": fraction is not None and fraction <= 1 / 20,
            "incremental_total_under_1s": incremental["total_s"] < 1.0,
        },
    }


TargetRow = Tuple[str, str, float, float, bool, str]
"""target, stream, value, limit, lower is better, unit: a row of the Targets table."""


def target_rows(figures: Dict[str, Any]) -> List[TargetRow]:
    """The issue's partial-JSON targets as rows of ``python -m benchmarks``' Targets table."""
    doc = figures["document"]
    size = f"{doc['characters'] / 1e6:.0f} MB in {doc['deltas']:,} deltas"
    window = f"{doc['window']:,}"
    flat = f"partial JSON: µs/delta of the last {window} deltas ≤ 1.3x the first {window}'s"
    rows: List[TargetRow] = [
        (flat, f"function-call arguments, {size}", _ratio(figures, "incremental"), 1.3, True, "x"),
        (flat, f"one string value, {size}", _ratio(figures, "single_string"), 1.3, True, "x"),
        (
            flat,
            f"call.partial_arguments read after each delta, {size}",
            _ratio(figures, "partial_arguments"),
            1.3,
            True,
            "x",
        ),
    ]
    best = figures["best_reparse"]
    if best is not None:
        reparse = figures["reparse"][best]["total_s"]
        share = "partial JSON: total CPU ≤ 1/20 of re-parsing each snapshot (best re-parse)"
        for key, what in (("incremental", "PartialJSON"), ("partial_arguments", "via property")):
            scope = f"{what} vs {best.split(' ')[0]}, {size}"
            rows.append((share, scope, figures[key]["total_s"] / reparse, 1 / 20, True, "share"))
    return rows


def _ratio(figures: Dict[str, Any], key: str) -> float:
    return float(figures[key]["last_over_first"])


def report(figures: Dict[str, Any]) -> str:
    """The figures of :func:`run` as a small Markdown report."""
    doc = figures["document"]
    inc, single = figures["incremental"], figures["single_string"]
    through_property = figures["partial_arguments"]
    lines = [
        f"### Partial JSON: {doc['characters']:,} characters ({doc['utf8_bytes']:,} UTF-8 bytes)"
        f" in {doc['deltas']:,} deltas, `value` read after each (Python {figures['python']},"
        f" CPU time, best of {doc['reps']})",
        "",
        f"| stream | total CPU | µs/delta, first {doc['window']:,} | "
        f"µs/delta, last {doc['window']:,} | last / first |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in [
        ("function-call arguments", inc),
        ("one ~1 MB string value", single),
        ("the arguments, read as `call.partial_arguments`", through_property),
    ]:
        lines.append(
            f"| {name} | {row['total_s'] * 1e3:.0f} ms | {row['first_us_per_delta']:.2f} | "
            f"{row['last_us_per_delta']:.2f} | {row['last_over_first']:.2f}x |"
        )
    lines += [
        "",
        "| approach (same document and deltas) | total CPU | snapshots timed | "
        "incremental's share |",
        "|---|---:|---:|---:|",
        f"| **PartialJSON, incremental** | {inc['total_s'] * 1e3:.0f} ms | all | 1 |",
    ]
    for name, row in figures["reparse"].items():
        lines.append(
            f"| re-parse each snapshot: {name} | {row['total_s']:.1f} s (est.) | "
            f"{row['sampled']:,} (every {row['every']}th, x{row['every']}) | "
            f"1/{1 / row['incremental_fraction']:.0f} |"
        )
    lines += [
        "",
        "Re-parse totals are estimates: every Nth snapshot (evenly spaced over the stream) is"
        " parsed and the sum is multiplied by N.",
        "",
        "Targets: "
        + ", ".join(
            f"{name} {'met' if met else '**not met**'}" for name, met in figures["targets"].items()
        ),
    ]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """Command line: run, print the Markdown report (``--json`` also prints the figures)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--size", type=int, default=SIZE, help="document size in characters")
    ap.add_argument("--deltas", type=int, default=DELTAS)
    ap.add_argument("--window", type=int, default=WINDOW, help="deltas in the first/last window")
    ap.add_argument("--reps", type=int, default=5, help="incremental passes (best is kept)")
    ap.add_argument("--sample-every", type=int, default=50, help="re-parse every Nth snapshot")
    ap.add_argument(
        "--python-sample-every",
        type=int,
        default=500,
        help="the same, for the pure-Python re-parse (much slower)",
    )
    ap.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = ap.parse_args(argv)
    figures = run(
        size=args.size,
        deltas=args.deltas,
        window=args.window,
        reps=args.reps,
        sample_every=args.sample_every,
        python_sample_every=args.python_sample_every,
    )
    print(report(figures))
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
