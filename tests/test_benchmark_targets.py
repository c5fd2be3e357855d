"""The benchmark's metrics target (``benchmarks/run.py``): counted in instructions under
callgrind, and never reported as met when nothing was counted. No process is started here."""

from __future__ import annotations

import shutil
from typing import List, Optional

import pytest

from benchmarks import instructions, run

ROW = "metrics: rs_stream instructions per event ≤ 1.03x without metrics (callgrind)"
PRESENT = ["rs_stream", "rs_stream_nometrics"]


def targets(instr: Optional[run.InstructionCounts]) -> List[str]:
    plan = run.Plan(["text-10000-ev", "text-100000-ev"], [], 1, 1, 0, False, 1.0, 1.0)
    return run.targets_section(plan, PRESENT, run.Results(), {}, None, None, instr)


def measured(rs_per_event: float, nometrics_per_event: float) -> run.InstructionCounts:
    out = run.InstructionCounts("text-10000-ev", "text-100000-ev")
    out.per_event = {"rs_stream": rs_per_event, "rs_stream_nometrics": nometrics_per_event}
    out.counts = {"rs_stream": (1, 2), "rs_stream_nometrics": (1, 2)}
    return out


def row(lines: List[str]) -> str:
    (found,) = [line for line in lines if line.startswith(f"| {ROW} |")]
    return found


def test_per_event_is_the_difference_over_the_extra_events() -> None:
    counts = {("c", "text-2000-ev"): 1_000_000, ("c", "text-10000-ev"): 1_800_000}
    assert instructions.per_event(counts, "c", "text-2000-ev", "text-10000-ev") == 100.0


@pytest.mark.parametrize(
    ("rs_per_event", "figure", "verdict"),
    [(61_000.0, "1.017x", "yes"), (63_000.0, "1.050x", "**no**")],
)
def test_the_row_is_the_ratio_of_instructions_per_event(
    rs_per_event: float, figure: str, verdict: str
) -> None:
    lines = targets(measured(rs_per_event, 60_000.0))
    assert row(lines) == f"| {ROW} | `text-100000-ev minus text-10000-ev` | {figure} | {verdict} |"
    assert "not measured" not in "\n".join(lines)


def test_without_valgrind_the_row_is_not_measured_and_not_met(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    instr = run.count_metrics_cost(10_000, 100_000)
    assert instr.error is not None and "valgrind is not installed" in instr.error
    lines = targets(instr)
    assert row(lines).endswith(
        "| not measured: valgrind is not installed (apt install valgrind) | **not measured** |"
    )
    assert "0 of 1 met (1 not measured, counted as not met)." in lines
    section = "\n".join(
        run.metrics_section(
            run.Plan([], [], 1, 1, 0, False, 1.0, 1.0), PRESENT, run.Results(), instr
        )
    )
    assert "**Not measured**: valgrind is not installed" in section


@pytest.mark.parametrize("instr", [None, run.InstructionCounts("a", "b", error="skipped")])
def test_a_run_without_counts_never_meets_the_target(
    instr: Optional[run.InstructionCounts],
) -> None:
    assert row(targets(instr)).endswith("| **not measured** |")


def test_skip_instructions_switch() -> None:
    assert run.parse_args(["--skip-instructions"]).skip_instructions
    assert not run.parse_args([]).skip_instructions
    assert run.metrics_cost_sizes(run.parse_args([])) == (10_000, 100_000)
    assert run.metrics_cost_sizes(run.parse_args(["--skip-large"])) == (2_000, 10_000)
