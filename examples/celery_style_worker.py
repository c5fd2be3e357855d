"""Embed the SDK in a task-queue worker (Celery, RQ, Dramatiq...): plain blocking code.

``summarize(task_id, text)`` is what a worker calls: no event loop, one ``Client`` per worker
process (made on first use, so after the fork) shared by its tasks, a time limit per call, and
a JSON-ready result. Transient errors propagate so the queue retries the task (in Celery:
``autoretry_for=(rs.APIConnectionError, rs.RateLimitError, rs.errors.InternalServerError)``).

Runs offline against the SDK's MockServer (no key, no network):

    python examples/celery_style_worker.py

This is the pattern only. For a real Celery app whose tasks survive a worker killed mid-stream
(Redis broker, ``acks_late``, ``checkpoint=RedisStore(...)``), see ``examples/celery_app/``.
"""

from __future__ import annotations

import os
from typing import Any, Dict

import responses_stream as rs
from responses_stream.testing import MockServer, Script

_clients: Dict[int, rs.Client] = {}  # by process id: never reuse a client across a fork


def get_client() -> rs.Client:
    if os.getpid() not in _clients:  # OPENAI_API_KEY / OPENAI_BASE_URL from the environment
        _clients[os.getpid()] = rs.Client(timeout=rs.Timeout(connect=5, read=60, total=300))
    return _clients[os.getpid()]


class Progress(rs.ResponseHandler):
    def on_text_delta(self, delta: str, snapshot: str) -> None:
        print(delta, end="", flush=True)  # a Celery task would call update_state() here


def summarize(task_id: str, text: str) -> Dict[str, Any]:
    try:
        final = get_client().stream(
            handler=Progress(),
            model="gpt-5-mini",
            instructions="Summarise in one line.",
            input=text,
        )
    except (rs.StreamError, rs.ResponseFailedError, rs.errors.BadRequestError) as exc:
        return {"task_id": task_id, "status": "failed", "error": str(exc)}  # final: no retry
    return {"task_id": task_id, "status": final.status, "response": final.to_dict()}


def main() -> rs.Response:
    summary = "Worker pools run blocking code; the SDK streams there without asyncio."
    with MockServer() as server, rs.Client(base_url=server.url) as client:
        server.add(Script(model="gpt-5-mini").text(summary).completed(), delay=0.02)
        _clients[os.getpid()] = client  # the demo's stand-in for what get_client() would build
        result = summarize("task-42", "A long support thread about deploying workers ...")
        del _clients[os.getpid()]
    final = rs.Response.from_dict(result["response"])
    print(f"\n[{result['task_id']}] {result['status']}: {final.output_text!r}")
    return final


if __name__ == "__main__":
    main()
