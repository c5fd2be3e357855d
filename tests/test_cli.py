"""The command line: the offline demo and its exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from responses_stream.__main__ import main


def _run(*args: str, env_key: bool = True) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    import os

    env = dict(os.environ)
    if not env_key:
        env.pop("OPENAI_API_KEY", None)
        env.pop("OPENAI_BASE_URL", None)
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "responses_stream", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_demo_streams_reasoning_tool_call_and_text() -> None:
    """`responses-stream --demo` works with no key and no network, and exits 0."""
    proc = _run("--demo", env_key=False)
    assert proc.returncode == 0, proc.stderr
    assert "[reasoning]" in proc.stdout and "[tool call] get_weather" in proc.stdout
    assert "sunny in Paris" in proc.stdout and "[completed]" in proc.stdout


def test_demo_json_prints_one_event_per_line() -> None:
    """--json prints every event as one JSON object per line."""
    proc = _run("--demo", "--json", env_key=False)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines[0]["type"] == "response.created" and lines[-1]["type"] == "response.completed"


def test_missing_key_explains_what_to_do(capsys: object) -> None:
    """Without a key or base URL the CLI says how to get a key or use --demo, and exits 1."""
    proc = _run("hello", env_key=False)
    assert proc.returncode == 1
    assert "OPENAI_API_KEY" in proc.stderr and "--demo" in proc.stderr


def test_main_in_process_returns_zero() -> None:
    """main() can be called from Python and returns the exit code."""
    assert main(["--demo"]) == 0
