"""The command line (``responses-stream`` / ``python -m responses_stream``): the offline demo,
the options that shape the request, record and replay, and the exit codes (0 completed, 1
error, 2 incomplete, 130 interrupted)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from responses_stream.__main__ import _demo_script, main
from responses_stream.testing import MockServer, Script

from .scripts import without_keys

CLI = [sys.executable, "-W", "error", "-m", "responses_stream"]
RANDOM_KEYS = {"id", "call_id", "item_id", "created_at", "completed_at", "obfuscation"}
"""Fields the demo draws afresh on every run."""


def test_demo_streams_reasoning_tool_call_and_text() -> None:
    """`responses-stream --demo` with no API key and no base URL exits 0 and prints the
    reasoning summary, the tool call, the answer and the closing status line."""
    proc = subprocess.run([*CLI, "--demo"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    out = proc.stdout
    assert out.startswith(
        "[reasoning] The user asked about the weather; I will call the weather tool.\n"
        '[tool call] get_weather({"city":"Paris"})\n'
        "It is 18 °C and sunny in Paris. This answer was streamed from a local mock server.\n"
    )
    assert re.search(
        r"\n\[completed\] \d+ input / \d+ output tokens, first token \d+\.\d\d s, \d+ tokens/s\n$",
        out,
    ), out


def test_demo_json_prints_one_event_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    """main(["--demo", "--json"]) returns 0 and prints every event of the demo, in order, as one
    JSON object per line, and nothing else."""
    assert main(["--demo", "--json"]) == 0
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines()]
    expected = _demo_script().events()
    assert len(lines) == len(expected) > 20
    assert without_keys(lines, RANDOM_KEYS) == without_keys(expected, RANDOM_KEYS)


def test_missing_key_explains_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a key or base URL the CLI says how to get a key or use --demo, and exits 1."""
    assert main(["hello"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "No OPENAI_API_KEY is set" in captured.err
    assert "https://platform.openai.com/api-keys" in captured.err and "--demo" in captured.err


def test_record_then_replay_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--record writes the raw stream; --replay plays it back, with the server gone, printing
    the same output."""
    path = tmp_path / "run.sse"
    script = Script(seed=41).text("recorded from the CLI").completed()
    with MockServer() as server:
        server.add(script)
        assert main(["hi", "--base-url", server.url, "--record", str(path)]) == 0
    assert path.read_bytes() == script.to_bytes()
    live = capsys.readouterr().out
    assert main(["--replay", str(path)]) == 0
    # The same text and usage; a replay has no model timings to show.
    assert capsys.readouterr().out == re.sub(r", first token .* tokens/s\n$", "\n", live)
    assert live.startswith("recorded from the CLI\n[completed]")
    assert re.search(r", first token \d+\.\d\d s, \d+ tokens/s\n$", live), live


def test_background_and_resume_options() -> None:
    """--background sends background: true; --resume ID re-attaches to that response with a
    streaming GET; both exit 2, as the response ends incomplete."""
    script = Script(background=True, seed=42).text("in the background").incomplete()
    with MockServer() as server:
        server.add(script)
        assert main(["hi", "--base-url", server.url, "--background"]) == 2
        assert server.requests[0].json["background"] is True
        assert main(["--base-url", server.url, "--resume", script.response_id]) == 2
        resume = server.requests[-1]
    assert (resume.method, resume.path) == ("GET", f"/v1/responses/{script.response_id}")
    assert resume.query == {"stream": "true"}


def test_request_options_shape_the_body() -> None:
    """--model, --instructions, --max-output-tokens and --reasoning-effort go into the request
    body; the effort also asks for a reasoning summary."""
    with MockServer() as server:
        server.add(Script(seed=43).text("ok").completed())
        argv = ["hi", "--base-url", server.url, "--model", "m1", "--instructions", "Be brief."]
        argv += ["--max-output-tokens", "50", "--reasoning-effort", "low"]
        assert main(argv) == 0
        body = server.requests[0].json
    assert body == {
        "model": "m1",
        "input": "hi",
        "instructions": "Be brief.",
        "max_output_tokens": 50,
        "reasoning": {"effort": "low", "summary": "auto"},
        "stream": True,
    }


def test_error_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    """A failed request exits 1 with the error on stderr."""
    with MockServer() as server:
        server.add_error(400, "bad model")
        assert main(["hi", "--base-url", server.url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("\nerror: ") and "bad model" in err


def test_ctrl_c_exits_130() -> None:
    """SIGINT while streaming: the CLI stops, says "interrupted" (no traceback) and exits 130."""
    script = Script(seed=44).text(" ".join(["slow"] * 200), chunk=5).completed()
    with MockServer() as server:
        server.add(script, delay=0.05)
        proc: Any = subprocess.Popen(
            [*CLI, "hi", "--base-url", server.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        first = proc.stdout.read(4)  # wait until text is streaming
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert first == "slow"
    assert proc.returncode == 130, err
    assert err == "\ninterrupted\n"
