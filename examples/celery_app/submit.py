"""Submit questions to the celery_app workers, wait for the answers and check what streamed.

    python submit.py 20

For each task: its text, the workers that ran it (two after a crash), and whether its delta
list, with repeats dropped by sequence number, spells the same text.
"""

from __future__ import annotations

import sys
import time

import redis
from tasks import REDIS_URL, answer, attempts, delivered


def main(count: int) -> int:
    sink = redis.Redis.from_url(REDIS_URL)
    started = time.monotonic()
    results = [answer.delay(f"Question {n}: what is {n} squared?") for n in range(count)]
    print(f"submitted {count} tasks")
    failures = 0
    for result in results:
        text = result.get(timeout=3600)
        streamed, repeats = delivered(sink, result.id)
        ok = streamed == text
        failures += not ok
        workers = " -> ".join(attempts(sink, result.id))
        print(f"{result.id} [{workers}] repeats dropped: {repeats} ok: {ok} {text[:60]!r}")
    print(f"{count - failures}/{count} consistent in {time.monotonic() - started:.1f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
