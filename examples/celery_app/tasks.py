"""A Celery app whose task streams a background response that survives the worker's death.

``answer(prompt)`` streams a ``background=True`` response with ``checkpoint=RedisStore(...)``
and ``key=`` the task id. The task is acknowledged only once it returns (``acks_late``), so
when a worker dies mid-stream (SIGKILL, OOM, a lost machine) its message goes back to the queue
and another worker runs the task again, with the same id: that run finds the checkpoint and
resumes the same response where it was. Nothing is bought twice, nothing is lost.

Each text delta is appended, with its ``sequence_number``, to the Redis list
``celery_app:deltas:<task id>`` (a stand-in for whatever your app does with the text: a
websocket, a database row). After a crash the deltas after the last checkpoint come again
with the same sequence numbers, so a reader drops repeats by number (:func:`delivered`).

Run a worker from this directory (see README.md)::

    celery -A tasks worker --concurrency 4

Settings come from the environment: ``CELERY_APP_REDIS_URL`` (broker, result backend,
checkpoints and deltas; default ``redis://127.0.0.1:6379/0``), ``CELERY_APP_VISIBILITY_TIMEOUT``
(seconds before the broker hands the message of a dead worker to another; default 3600),
``CELERY_APP_MODEL``, and the SDK's ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Tuple

import redis
from celery import Celery

import responses_stream as rs
from responses_stream.checkpoints import RedisStore

REDIS_URL = os.environ.get("CELERY_APP_REDIS_URL", "redis://127.0.0.1:6379/0")
VISIBILITY_TIMEOUT = float(os.environ.get("CELERY_APP_VISIBILITY_TIMEOUT", "3600"))
MODEL = os.environ.get("CELERY_APP_MODEL", "gpt-5-mini")
PREFIX = "celery_app:"

app = Celery("celery_app", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    # A worker reserves only the messages it is running: nothing waits in a dead worker.
    worker_prefetch_multiplier=1,
    # How long a message stays with a worker that took it before Redis gives it to another
    # (the only way Redis learns of a dead worker): longer than your longest task. The sweep
    # that gives it back runs every second.
    broker_transport_options={
        "visibility_timeout": VISIBILITY_TIMEOUT,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    },
    broker_connection_retry_on_startup=True,
    result_expires=86400,
)

# One client, checkpoint store and Redis connection per worker process, made on first use,
# so after the fork of the pool: never share a connection across a fork.
_resources: Dict[int, Tuple[rs.Client, RedisStore, Any]] = {}


def resources() -> Tuple[rs.Client, RedisStore, Any]:
    pid = os.getpid()
    if pid not in _resources:
        _resources[pid] = (
            rs.Client(timeout=rs.Timeout(connect=5, read=60)),
            RedisStore(REDIS_URL, prefix=PREFIX + "checkpoint:", ttl=7 * 86400),
            redis.Redis.from_url(REDIS_URL),
        )
    return _resources[pid]


class DeltaSink(rs.ResponseHandler):
    """Appends ``[sequence_number, delta]`` to a Redis list for each text delta."""

    def __init__(self, sink: Any, task_id: str) -> None:
        self.sink = sink
        self.list = f"{PREFIX}deltas:{task_id}"

    def on_output_text_delta(self, event: rs.events.OutputTextDelta) -> None:
        self.sink.rpush(self.list, json.dumps([event.sequence_number, event.delta]))


@app.task(
    name="celery_app.answer",
    bind=True,
    acks_late=True,  # acknowledged when it returns: a worker's death puts it back in the queue
    reject_on_worker_lost=True,  # and so does the death of a pool process under a live worker
    # A stream that broke for good, or a store that failed: run again, same id, same response.
    autoretry_for=(
        rs.APIConnectionError,
        rs.APITimeoutError,
        rs.StreamInterrupted,
        rs.errors.CheckpointError,
    ),
    retry_backoff=True,
    max_retries=5,
)
def answer(self: Any, prompt: str) -> str:
    """Stream the answer to ``prompt``; return its text."""
    client, store, sink = resources()
    task_id = self.request.id
    sink.rpush(f"{PREFIX}attempts:{task_id}", self.request.hostname)  # who ran it, in order
    final = client.stream(
        DeltaSink(sink, task_id),
        checkpoint=store,
        key=task_id,
        background=True,
        model=MODEL,
        input=prompt,
        metadata={"celery_task_id": task_id},
    )
    return final.output_text


def delivered(sink: Any, task_id: str) -> Tuple[str, int]:
    """The task's text as delivered to its delta list, and how many repeats were dropped."""
    seen: Dict[int, str] = {}
    repeats = 0
    for raw in sink.lrange(f"{PREFIX}deltas:{task_id}", 0, -1):
        sequence_number, delta = json.loads(raw)
        if sequence_number in seen:
            repeats += 1
        else:
            seen[sequence_number] = delta
    return "".join(seen[n] for n in sorted(seen)), repeats


def attempts(sink: Any, task_id: str) -> List[str]:
    """The workers that ran the task, in order (more than one after a crash)."""
    return [name.decode() for name in sink.lrange(f"{PREFIX}attempts:{task_id}", 0, -1)]
