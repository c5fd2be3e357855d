"""Every example runs, offline, and prints what it promises."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The example's main() returns a completed response and prints its text."""
    module = runpy.run_path(str(path))
    final = module["main"]()
    assert final.status == "completed"
    out = capsys.readouterr().out
    assert final.output_text and final.output_text in out


def test_quickstart_as_a_script() -> None:
    """`python examples/quickstart.py` (the README's main job) works in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, "-W", "error", str(EXAMPLES[0].parent / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "[tool call] get_weather({'city': 'Paris'})" in proc.stdout
    assert "[done] status=completed" in proc.stdout
