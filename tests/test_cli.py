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


def test_record_then_replay_offline(tmp_path: object, capsys: object) -> None:
    """--record writes the raw stream; --replay plays it back with the same output."""
    import pathlib

    from responses_stream.testing import MockServer, Script

    path = pathlib.Path(str(tmp_path)) / "run.sse"
    script = Script(seed=41).text("recorded from the CLI").completed()
    with MockServer() as server:
        server.add(script)
        assert main(["hi", "--base-url", server.url, "--record", str(path)]) == 0
    assert path.read_bytes() == script.to_bytes()
    live = capsys.readouterr().out  # type: ignore[attr-defined]
    assert main(["--replay", str(path)]) == 0
    assert capsys.readouterr().out == live  # type: ignore[attr-defined]
    assert "recorded from the CLI" in live


def test_background_and_resume_options() -> None:
    """--background sends background: true; --resume ID re-attaches to that response."""
    from responses_stream.testing import MockServer, Script

    script = Script(background=True, seed=42).text("in the background").incomplete()
    with MockServer() as server:
        server.add(script)
        assert main(["hi", "--base-url", server.url, "--background"]) == 2  # incomplete
        assert server.requests[0].json["background"] is True
        assert main(["--base-url", server.url, "--resume", script.response_id]) == 2
        resume = server.requests[-1]
    assert resume.method == "GET" and resume.query == {"stream": "true"}


def test_reasoning_effort_option() -> None:
    """--reasoning-effort sets reasoning.effort and asks for a summary."""
    from responses_stream.testing import MockServer, Script

    with MockServer() as server:
        server.add(Script(seed=43).text("ok").completed())
        assert main(["hi", "--base-url", server.url, "--reasoning-effort", "low"]) == 0
        body = server.requests[0].json
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}


def test_error_exit_code() -> None:
    """A failed request exits 1 with the error on stderr."""
    from responses_stream.testing import MockServer

    with MockServer() as server:
        server.add_error(400, "bad model")
        assert main(["hi", "--base-url", server.url]) == 1


def test_ctrl_c_exits_130_after_closing_the_connection() -> None:
    """SIGINT while streaming: the CLI closes the connection and exits with 130."""
    import os
    import signal
    import time

    from responses_stream.testing import MockServer, Script

    script = Script(seed=44).text(" ".join(["slow"] * 200), chunk=5).completed()
    with MockServer() as server:
        server.add(script, delay=0.05)
        env = dict(os.environ, OPENAI_API_KEY="k")
        proc = subprocess.Popen(
            [sys.executable, "-m", "responses_stream", "hi", "--base-url", server.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert proc.stdout is not None
        first = proc.stdout.read(4)  # wait until text is streaming
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert first == "slow"
    assert proc.returncode == 130, err
    assert "interrupted" in err
