"""Run several streams at once on a thread pool, sharing one Client.

A ``Client`` is safe to share between threads: each call has its own request, stream and
snapshot, and the connection pool is sized for many concurrent streams. Give each thread its
own handler (or none, as here: ``stream()`` just returns the final ``Response``).

Runs offline against the SDK's MockServer (no key, no network):

    python examples/concurrent_streams.py
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import responses_stream as rs
from responses_stream.testing import MockServer, Script

PROMPTS = ["Tell me a fun fact.", "Another fun fact?", "One more, please.", "And a last one."]
FACTS = [
    "Octopuses have three hearts.",
    "Honey found in ancient tombs is still edible.",
    "Bananas are berries, but strawberries are not.",
    "A day on Venus is longer than its year.",
]


def main() -> rs.Response:
    with MockServer() as server, rs.Client(base_url=server.url) as client:
        for fact in FACTS:  # the mock serves these in arrival order, ~0.3 s each
            server.add(Script(model="gpt-5-mini").text(fact).completed(), delay=0.02)

        def ask(prompt: str) -> rs.Response:
            return client.stream(model="gpt-5-mini", input=prompt)

        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=len(PROMPTS)) as pool:
            results = list(pool.map(ask, PROMPTS))  # results come back in PROMPTS order
        for prompt, final in zip(PROMPTS, results):
            print(f"{prompt:<20} [{final.status}] {final.output_text}")
        print(f"{len(results)} streams in {time.monotonic() - start:.2f} s, side by side")
        return results[-1]


if __name__ == "__main__":
    main()
