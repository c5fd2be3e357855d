"""The command line, through the real ``responses-stream`` console script in a subprocess: the
offline demo, the options that shape the request, record and replay, the key check, the
messages for mistakes (one line on stderr, no traceback), NO_COLOR, a closed pipe, and the exit
codes (0 completed, 1 error, 2 incomplete or a usage mistake, 130 interrupted)."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

import pytest

from responses_stream.__main__ import _demo_script
from responses_stream.testing import MockServer, Script

from .scripts import closed_port_url, without_keys

SCRIPT = Path(sys.executable).parent / "responses-stream"
"""The console script that ``pip install`` made for this interpreter."""
RANDOM_KEYS = {"id", "call_id", "item_id", "created_at", "completed_at", "obfuscation"}
"""Fields the demo draws afresh on every run."""
USAGE_LINE = re.compile(r"^responses-stream: error: [^\n]+\n$")
"""What a mistake prints on stderr: exactly one line."""


def cli_env(**extra: str) -> Dict[str, str]:
    """The environment of a CLI run: no OpenAI or Azure settings of the developer's, no
    NO_COLOR, warnings as errors, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "AZURE_"))
        and k not in ("NO_COLOR", "RESPONSES_STREAM_MODEL")
    }
    env["PYTHONWARNINGS"] = "error"
    env.update(extra)
    return env


def start(*args: str, env: Optional[Dict[str, str]] = None, **popen: Any) -> Any:
    """Start the console script with ``args``; stdout and stderr are pipes unless given."""
    if not SCRIPT.exists():
        pytest.fail(f"{SCRIPT} is missing: install the package (pip install -e .) to test the CLI")
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(
        [str(SCRIPT), *args], env=env or cli_env(), text=True, stdin=subprocess.DEVNULL, **popen
    )


def run(*args: str, env: Optional[Dict[str, str]] = None) -> Tuple[int, str, str]:
    """Run the console script to the end: (exit code, stdout, stderr)."""
    proc = start(*args, env=env)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def test_demo_streams_reasoning_tool_call_and_text_or_json() -> None:
    """`responses-stream --demo` with no API key and no base URL exits 0 and prints the
    reasoning summary, the tool call, the answer and the closing status line; with --json it
    prints every event of the demo, in order, one JSON object per line, and nothing else."""
    text, as_json = start("--demo"), start("--demo", "--json")  # side by side
    (out, err), (json_out, json_err) = text.communicate(60), as_json.communicate(60)
    assert (text.returncode, err) == (0, "")
    assert out.startswith(
        "[reasoning] The user asked about the weather; I will call the weather tool.\n"
        '[tool call] get_weather({"city":"Paris"})\n'
        "It is 18 °C and sunny in Paris. This answer was streamed from a local mock server.\n"
    )
    assert re.search(
        r"\n\[completed\] \d+ input / \d+ output tokens, first token \d+\.\d\d s, \d+ tokens/s\n$",
        out,
    ), out
    assert "\n\n" not in out  # no blank line anywhere
    assert (as_json.returncode, json_err) == (0, "")
    lines = [json.loads(line) for line in json_out.splitlines()]
    expected = _demo_script().events()
    assert len(lines) == len(expected) > 20
    assert without_keys(lines, RANDOM_KEYS) == without_keys(expected, RANDOM_KEYS)


def test_each_mistake_or_failure_prints_one_line(tmp_path: Path) -> None:
    """No traceback and no blank line, whatever goes wrong: one line on stderr naming the
    problem and nothing on stdout. Exit code 2 for a mistake in the command or the environment
    (a recording that is missing or is a folder, --record into a missing folder or onto a
    folder, no API key for OpenAI or Azure), 1 for a failure of the server (an error status, a
    refused connection, shown as `could not connect to HOST:PORT: connection refused` rather
    than urllib3's "Max retries exceeded" text). No request is sent for a mistake."""
    refused = urlsplit(closed_port_url())
    missing = tmp_path / "missing.sse"
    with MockServer() as server, MockServer() as failing:
        failing.add_error(400, "bad model")
        cases: Dict[str, Tuple[List[str], Dict[str, str], int, str]] = {
            "replay a missing file": (
                ["--replay", str(missing)],
                {},
                2,
                f"cannot read '{missing}': no such file or directory",
            ),
            "replay a folder": (
                ["--replay", str(tmp_path)],
                {},
                2,
                f"cannot read '{tmp_path}': is a directory",
            ),
            "record into a missing folder": (
                ["hi", "--base-url", server.url, "--record", str(tmp_path / "no" / "run.sse")],
                {},
                2,
                f"--record: cannot write '{tmp_path / 'no' / 'run.sse'}': there is no folder "
                f"'{tmp_path / 'no'}'",
            ),
            "record onto a folder": (
                ["--demo", "--record", str(tmp_path)],
                {},
                2,
                f"--record: '{tmp_path}' is a folder, not a file",
            ),
            "no key": (
                ["hi"],
                {},
                2,
                "no API key: OPENAI_API_KEY is not set; create one at "
                "https://platform.openai.com/api-keys and export it, point --base-url or "
                "OPENAI_BASE_URL at a local server, or try --demo (offline, no key)",
            ),
            "no key for a remote OPENAI_BASE_URL": (
                ["hi"],
                {"OPENAI_BASE_URL": "https://gateway.invalid/v1"},
                2,
                "no API key: OPENAI_API_KEY is not set;",
            ),
            "Azure endpoint without its key": (
                ["hi"],
                {"AZURE_OPENAI_ENDPOINT": "https://name.openai.azure.com"},
                2,
                "AZURE_OPENAI_ENDPOINT is set but AZURE_OPENAI_API_KEY is not: export it, or try "
                "--demo (offline, no key)",
            ),
            "an error status": (["hi", "--base-url", failing.url], {}, 1, "bad model"),
            "a refused connection": (
                ["hi", "--base-url", refused.geturl()],
                {},
                1,
                f"could not connect to {refused.hostname}:{refused.port}: connection refused",
            ),
        }
        # The cases run side by side: each is a fresh interpreter.
        procs = {name: start(*argv, env=cli_env(**env)) for name, (argv, env, *_) in cases.items()}
        results = {name: p.communicate(timeout=60) for name, p in procs.items()}
        assert server.requests == []
    for name, (_, _, code, message) in cases.items():
        out, err = results[name]
        assert (procs[name].returncode, out) == (code, ""), (name, err)
        assert USAGE_LINE.match(err), (name, err)
        assert message in err, (name, err)
        assert err.startswith(f"responses-stream: error: {message}") or code == 1, (name, err)


def test_conflicting_sources_are_usage_errors() -> None:
    """--demo, --replay, --resume and a prompt each say where the answer comes from: two of
    them together is a usage error (argparse's usage and one error line, exit 2), and so is
    none of them."""
    cases = {
        "--demo and --replay cannot be used together": ["--demo", "--replay", "run.sse"],
        "a prompt and --demo cannot be used together": ["hello", "--demo"],
        "--demo and --resume cannot be used together": ["--demo", "--resume", "resp_1"],
        "a prompt and --replay cannot be used together": ["--replay", "run.sse", "hello"],
        "a prompt is required (or use --demo)": [],
        "argument --max-output-tokens: must be a whole number above 0": [
            "hi",
            "--max-output-tokens",
            "0",
        ],
    }
    procs = {message: start(*argv) for message, argv in cases.items()}
    for message, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        assert (proc.returncode, out) == (2, ""), err
        assert err.startswith("usage: responses-stream ")
        assert err.splitlines()[-1].startswith(f"responses-stream: error: {message}")


def test_key_check_follows_the_environment_the_library_reads() -> None:
    """OPENAI_BASE_URL on this machine needs no key; Azure's AZURE_OPENAI_ENDPOINT and
    AZURE_OPENAI_API_KEY are used as the library uses them (v1 route, api-key header)."""
    with MockServer() as server, MockServer(prefix="/openai/v1") as azure:
        server.add(Script(seed=45).text("local").completed())
        azure.add(Script(seed=46).text("azure").completed())
        local = start("hi", env=cli_env(OPENAI_BASE_URL=server.url))
        azure_env = {"AZURE_OPENAI_ENDPOINT": azure.url[: -len("/openai/v1")]}
        cloud = start("hi", env=cli_env(AZURE_OPENAI_API_KEY="az-key", **azure_env))
        (local_out, local_err), (cloud_out, cloud_err) = (
            local.communicate(60),
            cloud.communicate(60),
        )
        assert (local.returncode, local_err) == (0, "")
        assert (cloud.returncode, cloud_err) == (0, "")
        assert local_out.startswith("local\n[completed]")
        assert cloud_out.startswith("azure\n[completed]")
        assert azure.requests[0].path == "/openai/v1/responses"
        assert azure.requests[0].headers["api-key"] == "az-key"
        assert "authorization" not in {k.lower() for k in server.requests[0].headers}


def test_record_then_replay_offline(tmp_path: Path) -> None:
    """--record writes the raw stream; --replay plays it back, with the server gone, printing
    the same output."""
    path = tmp_path / "run.sse"
    script = Script(seed=41).text("recorded from the CLI").completed()
    with MockServer() as server:
        server.add(script)
        code, live, err = run("hi", "--base-url", server.url, "--record", str(path))
    assert (code, err) == (0, "")
    assert path.read_bytes() == script.to_bytes()
    code, replayed, err = run("--replay", str(path))
    assert (code, err) == (0, "")
    # The same text and usage; a replay has no model timings to show.
    assert replayed == re.sub(r", first token .* tokens/s\n$", "\n", live)
    assert live.startswith("recorded from the CLI\n[completed]")
    assert re.search(r", first token \d+\.\d\d s, \d+ tokens/s\n$", live), live


def test_background_and_resume_options() -> None:
    """--background sends background: true; --resume ID re-attaches to that response with a
    streaming GET; both exit 2, as the response ends incomplete."""
    script = Script(background=True, seed=42).text("in the background").incomplete()
    with MockServer() as server:
        server.add(script)
        assert run("hi", "--base-url", server.url, "--background")[0] == 2
        assert server.requests[0].json["background"] is True
        code, out, err = run("--base-url", server.url, "--resume", script.response_id)
        assert (code, err) == (2, "")
        assert out.startswith("in the background\n[incomplete]")
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
        assert run(*argv)[0] == 0
        body = server.requests[0].json
    assert body == {
        "model": "m1",
        "input": "hi",
        "instructions": "Be brief.",
        "max_output_tokens": 50,
        "reasoning": {"effort": "low", "summary": "auto"},
        "stream": True,
    }


def test_an_error_mid_line_ends_the_line_first() -> None:
    """An error in the middle of the text ends the text's line on stdout, so the error starts
    a line of its own on stderr, without a blank line before it; exit code 1."""
    with MockServer() as server:
        server.add(Script(seed=47).text("half an ans").error("server_error", "it broke"))
        code, out, err = run("hi", "--base-url", server.url)
    assert (code, out) == (1, "half an ans\n")
    assert USAGE_LINE.match(err) and "it broke" in err, err


def _run_on_a_terminal(argv: List[str], env: Dict[str, str]) -> str:
    """What the CLI writes to a terminal (a pseudo-terminal as stdout)."""
    master, slave = pty.openpty()
    try:
        proc = start(*argv, env=env, stdout=slave)
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        _, err = proc.communicate(timeout=60)
        assert (proc.returncode, err) == (0, "")
    finally:
        os.close(master)
    return b"".join(chunks).decode()


def test_no_color_is_honoured_on_a_terminal() -> None:
    """On a terminal, reasoning and the status line are dimmed with ANSI codes, unless NO_COLOR
    is set; the text itself is the same."""
    script = Script(seed=48).reasoning(summary=["Thinking."]).text("Plain text.").completed()
    with MockServer() as server:
        server.add(script)
        server.add(script)
        colored = _run_on_a_terminal(["hi", "--base-url", server.url], cli_env())
        plain = _run_on_a_terminal(["hi", "--base-url", server.url], cli_env(NO_COLOR="1"))
    assert "\x1b[2m[reasoning] Thinking.\x1b[0m" in colored
    assert "\x1b[" not in plain
    assert "[reasoning] Thinking.\r\nPlain text.\r\n[completed]" in plain


def test_a_closed_pipe_exits_quietly_with_0() -> None:
    """`responses-stream --json ... | head -1`: the reader goes away, the CLI stops quietly
    (no traceback, nothing on stderr) and exits 0."""
    script = Script(seed=49).text(" ".join(["word"] * 200), chunk=5).completed()
    with MockServer() as server:
        server.add(script, delay=0.005)
        proc = start("hi", "--json", "--base-url", server.url)
        first = proc.stdout.readline()
        proc.stdout.close()  # like `head -1`
        err = proc.stderr.read()
        proc.stderr.close()
        assert proc.wait(30) == 0, err
    assert json.loads(first)["type"] == "response.created"
    assert err == ""


def test_ctrl_c_exits_130() -> None:
    """SIGINT while streaming: the CLI stops, ends the text's line, says "interrupted" (no
    traceback) and exits 130."""
    script = Script(seed=44).text(" ".join(["slow"] * 200), chunk=5).completed()
    with MockServer() as server:
        server.add(script, delay=0.05)
        proc = start("hi", "--base-url", server.url)
        first = proc.stdout.read(4)  # wait until text is streaming
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert first == "slow"
    assert proc.returncode == 130, err
    assert err == "interrupted\n"
    assert out.endswith("\n") and "[completed]" not in out


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:99999/v1", "Port out of range"),
        ("http://127.0.0.1:abc/v1", "Port could not be cast"),
        ("http://[::1", "Invalid IPv6 URL"),
        ("http:///v1", "base_url has no host"),
    ],
)
@pytest.mark.parametrize("key", [True, False], ids=["key", "no-key"])
def test_a_malformed_base_url_is_one_line_and_exit_2(url: str, why: str, key: bool) -> None:
    """A base URL that is no URL is a usage mistake, said as such (not as a missing key)."""
    env = cli_env(OPENAI_API_KEY="sk-test") if key else cli_env()
    code, out, err = run("hi", "--base-url", url, env=env)
    assert (code, out) == (2, "")
    assert USAGE_LINE.match(err) and why in err, err


def test_record_works_with_resume_and_is_refused_with_replay(tmp_path: Path) -> None:
    """--record with --resume records the resumed stream; with --replay it is a usage error."""
    script = Script(background=True, seed=43).text("re-attached").completed()
    path = tmp_path / "resumed.sse"
    with MockServer() as server:
        response_id = server.store(script)
        code, out, err = run(
            "--base-url", server.url, "--resume", response_id, "--record", str(path)
        )
    assert (code, err) == (0, "") and out.startswith("re-attached\n")
    assert path.read_bytes() == script.to_bytes()
    code, out, err = run("--replay", str(path), "--record", str(tmp_path / "again.sse"))
    assert (code, out) == (2, "") and "--record and --replay cannot be used together" in err
    assert not (tmp_path / "again.sse").exists()


def test_a_terminal_that_cannot_show_a_character_gets_a_stand_in() -> None:
    """An ASCII-only stdout shows '?' for what it cannot encode, instead of a traceback."""
    code, out, err = run("--demo", env=cli_env(PYTHONIOENCODING="ascii"))
    assert (code, err) == (0, "")
    assert "18 ?C" in out
