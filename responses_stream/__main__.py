"""Command line: ``responses-stream "prompt"`` (or ``python -m responses_stream``).

Streams the answer to the terminal as it arrives (a spinner until the first token on a
terminal; plain text when piped); ``--demo`` streams a scripted answer from a local mock
server, with no key and no network; ``--record``/``--replay`` save and play raw streams;
``--background``/``--resume ID`` run and re-attach to background responses. Exit codes:
0 completed, 1 error, 2 incomplete, 130 interrupted (Ctrl-C, after closing the connection).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from typing import Any, Dict, List, Optional, TextIO

from . import __version__
from ._replay import replay
from .client import Client
from .errors import ResponsesStreamError
from .events import Event
from .handler import ResponseHandler
from .models import FunctionCall, Reasoning, Response


class TerminalPrinter(ResponseHandler):
    """Prints reasoning summaries (dimmed on a TTY), tool calls, and text as it streams."""

    def __init__(self, out: TextIO, as_json: bool = False) -> None:
        self.out = out
        self.as_json = as_json
        self.tty = out.isatty()
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

    def _dim(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[0m" if self.tty else text

    def on_event(self, event: Event) -> None:
        if self.as_json:
            self.out.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")
            self.out.flush()

    def on_reasoning_done(self, reasoning: Reasoning) -> None:
        if not self.as_json and reasoning.summary_text:
            self._output_starts()
            self.out.write(self._dim(f"[reasoning] {reasoning.summary_text}") + "\n")

    def on_function_call_done(self, call: FunctionCall) -> None:
        if not self.as_json:
            self._output_starts()
            self.out.write(self._dim(f"[tool call] {call.name}({call.arguments})") + "\n")

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        if not self.as_json:
            self._output_starts()
            self.out.write(delta)
            self.out.flush()

    def on_refusal_delta(self, delta: str, snapshot: str) -> None:
        if not self.as_json:
            self._output_starts()
            self.out.write(delta)
            self.out.flush()

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
        self.out.write("\n" + self._dim(line) + "\n")
        self.out.flush()


def _demo_script() -> Any:
    from .testing import Script

    return (
        Script(model="demo")
        .reasoning(summary=["The user asked about the weather; I will call the weather tool."])
        .function_call("get_weather", {"city": "Paris"})
        .text("It is 18 °C and sunny in Paris. This answer was streamed from a local mock server.")
        .completed()
    )


def main(argv: Optional[List[str]] = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="responses-stream", description="Stream an OpenAI Responses API answer."
    )
    parser.add_argument("prompt", nargs="?", default=None, help="what to ask")
    parser.add_argument("--model", default=os.environ.get("RESPONSES_STREAM_MODEL", "gpt-5-mini"))
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--instructions", default=None)
    parser.add_argument("--max-output-tokens", type=int, default=None)
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
    args = parser.parse_args(argv)
    out = sys.stdout

    params: Dict[str, Any] = {
        "model": args.model,
        "input": args.prompt or "What is the weather in Paris?",
    }
    if args.instructions:
        params["instructions"] = args.instructions
    if args.max_output_tokens:
        params["max_output_tokens"] = args.max_output_tokens
    if args.reasoning_effort:
        params["reasoning"] = {"effort": args.reasoning_effort, "summary": "auto"}
    if args.background:
        params["background"] = True

    printer = TerminalPrinter(out, as_json=args.json)
    server = None
    try:
        if args.replay:
            final = replay(args.replay, printer)
            printer.finish(final, timed=False)
            return _exit_code(final)
        if args.demo:
            from .testing import MockServer

            server = MockServer()
            server.add(_demo_script(), delay=0.03)
            base_url: Optional[str] = server.url
        else:
            if args.prompt is None and not args.resume:
                parser.error("a prompt is required (or use --demo)")
            base_url = args.base_url
            if not os.environ.get("OPENAI_API_KEY") and base_url is None:
                sys.stderr.write(
                    "No OPENAI_API_KEY is set. Create a key at https://platform.openai.com/api-keys"
                    " and export OPENAI_API_KEY, point --base-url at a compatible server, or try"
                    " --demo.\n"
                )
                return 1
        printer.start_spinner()
        with Client(base_url=base_url) as client:
            if args.resume:
                final = client.resume(args.resume, printer)
            else:
                final = client.stream(handler=printer, record_to=args.record, **params)
        printer.finish(final)
        return _exit_code(final)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, without a second error at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return 130
    except ResponsesStreamError as exc:
        sys.stderr.write(f"\nerror: {exc}\n")
        return 1
    finally:
        if server is not None:
            server.close()


def _exit_code(final: Response) -> int:
    return 2 if final.status == "incomplete" else 0


if __name__ == "__main__":
    sys.exit(main())
