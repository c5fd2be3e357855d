"""Command line: ``responses-stream "prompt"`` (or ``python -m responses_stream``).

Streams the answer to the terminal as it arrives (a spinner until the first token on a
terminal; plain text when piped, and no colour when ``NO_COLOR`` is set); ``--demo`` streams a
scripted answer from a local mock server, with no key and no network; ``--record``/``--replay``
save and play raw streams; ``--background``/``--resume ID`` run and re-attach to background
responses. Exit codes: 0 completed (or the reader of the output went away), 1 error, 2
incomplete or a usage mistake (one line on stderr: a bad option, a file that cannot be read or
written, no API key), 130 interrupted (Ctrl-C, after closing the connection).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
from typing import Any, Dict, List, Optional, TextIO
from urllib.parse import urlsplit

from . import __version__
from ._replay import replay
from .client import Client
from .errors import APIConnectionError, APITimeoutError, ConfigurationError, ResponsesStreamError
from .events import Event
from .handler import ResponseHandler
from .models import FunctionCall, Reasoning, Response

PROG = "responses-stream"
_KEY_HELP = (
    "create one at https://platform.openai.com/api-keys and export it, point --base-url or "
    "OPENAI_BASE_URL at a local server, or try --demo (offline, no key)"
)


class UsageError(Exception):
    """A mistake in the command or its environment: one line on stderr, exit code 2."""


class TerminalPrinter(ResponseHandler):
    """Prints reasoning summaries (dimmed on a TTY), tool calls, and text as it streams."""

    def __init__(self, out: TextIO, as_json: bool = False) -> None:
        self.out = out
        self.as_json = as_json
        self.tty = out.isatty()
        self.color = self.tty and not os.environ.get("NO_COLOR")  # https://no-color.org
        self.mid_line = False  # the last thing written does not end with a newline
        self._spinner: Optional[threading.Thread] = None
        self._first_output = threading.Event()

    def start_spinner(self) -> None:
        """On a terminal, spin until the first output arrives (nothing when piped)."""
        if not self.tty or self.as_json:
            return

        def spin() -> None:
            frames = "|/-\\"
            index = 0
            while not self._first_output.wait(0.1):
                self.out.write(f"\r{frames[index % 4]} ")
                self.out.flush()
                index += 1

        self._spinner = threading.Thread(target=spin, daemon=True)
        self._spinner.start()

    def _output_starts(self) -> None:
        if not self._first_output.is_set():
            self._first_output.set()
            if self._spinner is not None:
                self._spinner.join()
                self.out.write("\r  \r")

    def write(self, text: str, flush: bool = False) -> None:
        """Write ``text`` (the spinner makes way first) and remember where the line is."""
        if text:
            self._output_starts()
            self.out.write(text)
            self.mid_line = not text.endswith("\n")
        if flush:
            self.out.flush()

    def end_line(self) -> None:
        """End the line being written, if any, so that what follows starts a line."""
        if self.mid_line:
            self.write("\n", flush=True)

    def _dim(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[0m" if self.color else text

    def on_event(self, event: Event) -> None:
        if self.as_json:
            self.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n", flush=True)

    def on_reasoning_done(self, reasoning: Reasoning) -> None:
        if not self.as_json and reasoning.summary_text:
            self.end_line()
            self.write(self._dim(f"[reasoning] {reasoning.summary_text}") + "\n")

    def on_function_call_done(self, call: FunctionCall) -> None:
        if not self.as_json:
            self.end_line()
            self.write(self._dim(f"[tool call] {call.name}({call.arguments})") + "\n")

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        if not self.as_json:
            self.write(delta, flush=True)

    def on_refusal_delta(self, delta: str, snapshot: str) -> None:
        if not self.as_json:
            self.write(delta, flush=True)

    def on_end(self) -> None:
        self._output_starts()

    def finish(self, response: Response, timed: bool = True) -> None:
        """Print the closing usage line; ``timed`` adds time to first token and tokens/s
        (not for a replay, whose timings are the parser's, not the model's)."""
        if self.as_json:
            return
        usage = response.usage
        line = f"[{response.status}]"
        if usage is not None:
            line += f" {usage.input_tokens} input / {usage.output_tokens} output tokens"
        metrics = response.metrics if timed else None
        if metrics is not None and metrics.time_to_first_token is not None:
            line += f", first token {metrics.time_to_first_token:.2f} s"
        if metrics is not None and metrics.output_tokens_per_second is not None:
            line += f", {metrics.output_tokens_per_second:.0f} tokens/s"
        self.end_line()
        self.write(self._dim(line) + "\n", flush=True)


def _demo_script() -> Any:
    from .testing import Script

    return (
        Script(model="demo")
        .reasoning(summary=["The user asked about the weather; I will call the weather tool."])
        .function_call("get_weather", {"city": "Paris"})
        .text("It is 18 °C and sunny in Paris. This answer was streamed from a local mock server.")
        .completed()
    )


def _positive_int(text: str) -> int:
    """An argument that must be a whole number above zero (argparse's ``type``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number above 0, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Stream an OpenAI Responses API answer."
    )
    parser.add_argument("prompt", nargs="?", default=None, help="what to ask")
    parser.add_argument("--model", default=os.environ.get("RESPONSES_STREAM_MODEL", "gpt-5-mini"))
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--instructions", default=None)
    parser.add_argument("--max-output-tokens", type=_positive_int, default=None)
    parser.add_argument(
        "--reasoning-effort", choices=["minimal", "low", "medium", "high"], default=None
    )
    parser.add_argument("--json", action="store_true", help="print one event per line as JSON")
    parser.add_argument("--record", metavar="FILE", help="write the raw stream to FILE")
    parser.add_argument("--replay", metavar="FILE", help="play a recorded stream (offline)")
    parser.add_argument("--background", action="store_true", help="run as a background response")
    parser.add_argument("--resume", metavar="ID", help="attach to a background response")
    parser.add_argument("--demo", action="store_true", help="stream from a built-in mock server")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _check_sources(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exactly one place for the answer to come from: a prompt, --demo, --replay or --resume."""
    given = [
        name
        for name, value in (
            ("a prompt", args.prompt is not None),
            ("--demo", args.demo),
            ("--replay", args.replay is not None),
            ("--resume", args.resume is not None),
        )
        if value
    ]
    if len(given) > 1:
        parser.error(f"{' and '.join(given)} cannot be used together: choose one")
    if not given:
        parser.error("a prompt is required (or use --demo)")
    if args.record is not None and args.replay is not None:
        parser.error("--record and --replay cannot be used together: a replay reads a recording")


def _reason(exc: OSError) -> str:
    """``No such file or directory`` -> ``no such file or directory``."""
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


def _read_recording(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise UsageError(f"cannot read {path!r}: {_reason(exc)}") from None


def _check_record_path(path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"--record: {path!r} is a folder, not a file")
    if not os.path.isdir(folder):
        raise UsageError(f"--record: cannot write {path!r}: there is no folder {folder!r}")


def _open_client(base_url: Optional[str]) -> Client:
    """A client for ``base_url`` (or the environment), with a missing key explained."""
    try:
        return Client(base_url=base_url)
    except ConfigurationError as exc:
        env = os.environ
        openai = base_url or env.get("OPENAI_BASE_URL") or env.get("OPENAI_API_KEY")
        azure = not openai and env.get("AZURE_OPENAI_ENDPOINT")
        name = "AZURE_OPENAI_API_KEY" if azure else "OPENAI_API_KEY"
        if (env.get(name) or "").strip() or "key" not in str(exc):
            raise UsageError(str(exc)) from None  # not a missing key (a bad URL, say)
        if azure:
            raise UsageError(
                "AZURE_OPENAI_ENDPOINT is set but AZURE_OPENAI_API_KEY is not: export it, "
                "or try --demo (offline, no key)"
            ) from None
        raise UsageError(f"no API key: OPENAI_API_KEY is not set; {_KEY_HELP}") from None


def _connection_message(exc: APIConnectionError, base_url: str) -> str:
    """``could not connect to HOST:PORT: connection refused`` from the OS error under ``exc``
    (the library's own message when there is none, or for a timeout)."""
    todo: List[Optional[BaseException]] = [exc]
    seen = set()
    while todo and not isinstance(exc, APITimeoutError):
        cause = todo.pop()
        if cause is None or id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, OSError) and cause.errno is not None:
            url = urlsplit(base_url)
            port = url.port or (443 if url.scheme == "https" else 80)
            return f"could not connect to {url.hostname}:{port}: {_reason(cause)}"
        todo += [cause.__cause__, cause.__context__, getattr(cause, "reason", None)]
    return str(exc)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    _check_sources(parser, args)
    prompt = "What is the weather in Paris?" if args.prompt is None else args.prompt  # --demo
    params: Dict[str, Any] = {"model": args.model, "input": prompt}
    if args.instructions:
        params["instructions"] = args.instructions
    if args.max_output_tokens is not None:
        params["max_output_tokens"] = args.max_output_tokens
    if args.reasoning_effort:
        params["reasoning"] = {"effort": args.reasoning_effort, "summary": "auto"}
    if args.background:
        params["background"] = True

    if hasattr(sys.stdout, "reconfigure"):
        # A terminal that cannot show a character gets a stand-in, not a traceback.
        sys.stdout.reconfigure(errors="replace")
    printer = TerminalPrinter(sys.stdout, as_json=args.json)
    server = None
    base_url = args.base_url
    try:
        if args.record:
            _check_record_path(args.record)
        if args.replay:
            final = replay(_read_recording(args.replay), printer)
            printer.finish(final, timed=False)
            return _exit_code(final)
        if args.demo:
            from .testing import MockServer

            server = MockServer()
            server.add(_demo_script(), delay=0.03)
            base_url = server.url
        with _open_client(base_url) as client:
            base_url = client.base_url
            printer.start_spinner()
            if args.resume:
                final = client.resume(args.resume, printer, record_to=args.record)
            else:
                final = client.stream(handler=printer, record_to=args.record, **params)
        printer.finish(final)
        return _exit_code(final)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, without a second error at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return _report(printer, "interrupted", 130, prefix="")
    except (UsageError, ConfigurationError) as exc:
        return _report(printer, str(exc), 2)
    except APIConnectionError as exc:
        return _report(printer, _connection_message(exc, base_url or ""), 1)
    except ResponsesStreamError as exc:
        return _report(printer, str(exc), 1)
    finally:
        if server is not None:
            server.close()


def _report(printer: TerminalPrinter, message: str, code: int, prefix: str = "error: ") -> int:
    """End the output's line, then say what happened on stderr, on one line."""
    with contextlib.suppress(BrokenPipeError):
        printer.end_line()
    sys.stderr.write(f"{PROG}: {prefix}{message}\n" if prefix else f"{message}\n")
    sys.stderr.flush()
    return code


def _exit_code(final: Response) -> int:
    return 2 if final.status == "incomplete" else 0


if __name__ == "__main__":
    sys.exit(main())
