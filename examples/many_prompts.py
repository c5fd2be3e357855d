"""Fan out many prompts at once in one thread: ``client.stream_many``, no asyncio.

Each request is a dict of ``stream()`` keywords; a handler factory gives each stream its own
handler. One selector reads every socket in this thread, so hundreds of streams cost little
more per event than one, and every callback runs here, never two at once. One stream's failure
is its own outcome (an exception in the list), never the others'.

Runs offline against the SDK's MockServer (no key, no network):

    python examples/many_prompts.py
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Mapping

import responses_stream as rs
from responses_stream.testing import MockServer, Script

CITIES = ["Paris", "Lagos", "Lima", "Oslo", "Hanoi", "Perth", "Quito", "Cairo", "Seoul", "Rome"]


class Progress(rs.ResponseHandler):
    """Counts the text deltas of one stream (called on the calling thread)."""

    counts: Dict[int, int] = {}

    def __init__(self, index: int, params: Mapping[str, Any]) -> None:
        self.index = index
        Progress.counts[index] = 0

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        Progress.counts[self.index] += 1


def main() -> rs.Response:
    with MockServer() as server, rs.Client(base_url=server.url) as client:
        for city in CITIES:  # match= gives each request its own scripted answer
            answer = f"{city} is lovely in spring; pack a light jacket."
            script = Script(model="gpt-5-mini").text(answer, chunk=4).completed()
            server.add(script, delay=0.02, match={"input": f"Packing tips for {city}?"})

        requests: List[Dict[str, Any]] = [
            {"model": "gpt-5-mini", "input": f"Packing tips for {city}?"} for city in CITIES
        ]
        start = time.monotonic()
        outcomes = client.stream_many(requests, Progress, concurrency=5)
        for city, outcome in zip(CITIES, outcomes):
            if isinstance(outcome, rs.Response):
                print(f"{city:<6} [{outcome.status}] {outcome.output_text}")
            else:
                print(f"{city:<6} failed: {outcome!r}")
        deltas = sum(Progress.counts.values())
        took = time.monotonic() - start
        print(f"{len(outcomes)} streams, {deltas} deltas, 5 at a time, in {took:.2f} s")
        last = outcomes[-1]
        assert isinstance(last, rs.Response)
        return last


if __name__ == "__main__":
    main()
