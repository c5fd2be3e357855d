"""Partial tool arguments: use a tool call's arguments while the model is still writing them.

``call.partial_arguments`` is the call's JSON arguments parsed as far as they have arrived:
plain dicts and lists that grow with every delta. An object key appears once its value has
started, a string may be cut short, and a number, ``true``, ``false`` or ``null`` appears only
once complete; when the call is done it equals ``json.loads(call.arguments)``. Only what
arrived since the last read is parsed, so reading it after every delta stays cheap on long
arguments, and nothing is parsed if you never read it.

Here the model writes a file through a ``write_file`` tool: the handler shows the path as soon
as it is known and the content as it grows, long before the call is complete.

Runs offline: the SDK's MockServer plays the model, so no key and no network are needed.

    python examples/partial_tool_args.py
"""

from __future__ import annotations

from typing import Optional

import responses_stream as rs
from responses_stream.testing import MockServer, Script

CONTENT = '''def greet(name: str) -> str:
    """Say hello to someone."""
    return f"Hello, {name}!"


if __name__ == "__main__":
    print(greet("world"))
'''


@rs.tool
def write_file(path: str, content: str, executable: bool = False) -> str:
    """Write a text file.

    Args:
        path: Where to write it.
        content: The whole file.
        executable: Whether to mark it executable.
    """
    return f"wrote {len(content)} characters to {path}"


class LiveArguments(rs.ResponseHandler):
    """Shows a call's arguments while they stream, then the answer."""

    def __init__(self) -> None:
        self.path: Optional[str] = None
        self.shown = 0  # characters of content printed so far

    def on_function_call_created(self, call: rs.FunctionCall) -> None:
        print(f"[{call.name}] the model started a call")
        self.path, self.shown = None, 0

    def on_function_call_delta(self, delta: str, snapshot: str, call: rs.FunctionCall) -> None:
        arguments = call.partial_arguments or {}
        content = arguments.get("content")
        if self.path is None and content is not None:
            # "path" came first and "content" has started, so the path is complete.
            self.path = arguments["path"]
            print(f"[{call.name}] path: {self.path}")
        if content is not None and len(content) > self.shown:
            print(content[self.shown :], end="", flush=True)
            self.shown = len(content)

    def on_function_call_done(self, call: rs.FunctionCall) -> None:
        print(f"[{call.name}] done: {call.parsed_arguments == call.partial_arguments}")

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        print(delta, end="", flush=True)

    def on_text_done(self, text: str) -> None:
        print()


def main() -> rs.Response:
    arguments = {"path": "hello.py", "content": CONTENT, "executable": True}
    with MockServer() as server, rs.Client(base_url=server.url) as client:
        # The arguments arrive 6 characters at a time, as a model streams them.
        server.add(
            Script().function_call("write_file", arguments, chunk=6).completed(), delay=0.002
        )
        server.add(Script().text("I wrote hello.py for you.").completed(), delay=0.01)
        return client.run(
            LiveArguments(), tools=[write_file], model="gpt-5", input="Write a hello script."
        )


if __name__ == "__main__":
    main()
