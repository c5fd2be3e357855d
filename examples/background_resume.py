"""Background responses: the connection breaks mid-stream and the SDK resumes by itself.

The mock server cuts the first connection halfway through the answer; the SDK reopens the
stream after the last sequence number it saw, so the handler gets every event exactly once.
Then the response is fetched again with ``retrieve()`` and re-attached with ``resume()``.

    python examples/background_resume.py
"""

from __future__ import annotations

from typing import Optional

import responses_stream as rs
from responses_stream.testing import MockServer, Script


class Printer(rs.ResponseHandler):
    """Prints the answer and says when the stream was resumed."""

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        print(delta, end="", flush=True)

    def on_resume(self, response_id: str, starting_after: Optional[int]) -> None:
        print(f" [connection lost; resuming {response_id} after event {starting_after}] ", end="")


def main() -> rs.Response:
    script = (
        Script(model="gpt-5-mini", background=True)
        .text("Background responses keep running on the server while you reconnect.")
        .completed()
    )
    body = script.to_bytes()
    with MockServer() as server, rs.Client(base_url=server.url) as client:
        server.add(script, close_after=len(body) // 2, delay=0.01)  # the first connection breaks
        final = client.stream(Printer(), model="gpt-5-mini", input="Hi", background=True)
        print(f"\n[{final.status}]")

        stored = client.retrieve(final.id or "")
        print(f"retrieve(): {stored.status}, {len(stored.output_text)} characters")
        tail = client.resume(final.id or "", starting_after=10)  # re-attach, skip seen events
        print(f"resume(): {tail.output_text}")
    return final


if __name__ == "__main__":
    main()
