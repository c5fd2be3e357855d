"""An offline stand-in for the OpenAI API, to try the Celery app without a key.

It is the SDK's ``MockServer`` (``responses_stream.testing``) with slow background responses
queued: each ``POST /v1/responses`` gets the next one, streamed an event at a time, and
``GET /v1/responses/{id}?stream=true&starting_after=N`` resumes any of them, as the real API
does for ``background=True``. Response ``i`` is ``resp_mock_{i:04d}`` and its text is
:func:`answer_text` (``i``)::

    python mock_api.py --port 8765          # prints: READY http://127.0.0.1:8765/v1
    export OPENAI_BASE_URL=http://127.0.0.1:8765/v1

``--log FILE`` appends one JSON line per request received (time, method, path, query and
JSON body), so a test can count the POSTs and check each resume's ``starting_after``.
The server stops on SIGTERM or Ctrl-C, and when the process that started it is gone.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from typing import Any, List, Optional

from responses_stream.testing import MockServer, Script


def answer_text(index: int, deltas: int = 40) -> str:
    """The text of response ``index``: ``Answer {index}:`` then ``deltas - 1`` words."""
    return "".join(answer_pieces(index, deltas))


def answer_pieces(index: int, deltas: int = 40) -> List[str]:
    """The text deltas of response ``index``, in order."""
    return [f"Answer {index}:"] + [f" w{index}.{n}" for n in range(1, deltas)]


def response_id(index: int) -> str:
    """The id of response ``index``."""
    return f"resp_mock_{index:04d}"


def script(index: int, deltas: int = 40) -> Script:
    """Response ``index`` as a background stream."""
    pieces = answer_pieces(index, deltas)
    return (
        Script(model="gpt-5-mini", response_id=response_id(index), background=True, seed=index)
        .text("".join(pieces), chunk=pieces)
        .completed()
    )


def _log_requests(server: MockServer, path: str, stop: threading.Event) -> None:
    """Append every request the server received to ``path``, one JSON line each."""
    written = 0
    with open(path, "a", encoding="utf-8") as log:
        while True:
            stopping = stop.wait(0.01)
            received = server.requests[written:]
            for request in received:
                line = {
                    "t": time.time(),
                    "method": request.method,
                    "path": request.path,
                    "query": request.query,
                    "json": request.json,
                }
                log.write(json.dumps(line) + "\n")
            log.flush()
            written += len(received)
            if stopping:
                return


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--responses", type=int, default=200, help="responses to queue")
    parser.add_argument("--deltas", type=int, default=40, help="text deltas per response")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds between events")
    parser.add_argument("--log", help="append each request received to this file (JSON lines)")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with MockServer(port=args.port) as server:
        for index in range(args.responses):
            server.add(script(index, args.deltas), delay=args.delay)
        logger = None
        if args.log:
            logger = threading.Thread(target=_log_requests, args=(server, args.log, stop))
            logger.start()
        print(f"READY {server.url}", flush=True)
        parent = os.getppid()
        while not stop.wait(0.2):
            if os.getppid() != parent:  # orphaned: whoever started it has died
                stop.set()
        if logger is not None:
            logger.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
