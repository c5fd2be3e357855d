"""Durable checkpoints of a streaming response, so that another process can resume it.

A background response (``background=True``) can be re-attached with
``GET /responses/{id}?stream=true&starting_after=N``. While it streams, the SDK saves a
:class:`Checkpoint` (the response id, the last ``sequence_number`` and the snapshot so far) to a
:class:`CheckpointStore`; a process that replaces a crashed one loads it and resumes from there
instead of paying for a new response::

    from responses_stream.checkpoints import Checkpoint, SQLiteStore

    with SQLiteStore("checkpoints.db") as store:
        store.save(Checkpoint.from_snapshot("job-42", snapshot, sequence_number=17))
        checkpoint = store.load("job-42")   # None when nothing was saved

Two stores ship: :class:`SQLiteStore` (standard library, several processes on one machine) and
:class:`RedisStore` (several machines; needs ``pip install 'responses-stream[redis]'``). Any
object with the three methods of :class:`CheckpointStore` works too.

Saves are incremental, so their cost does not grow with the response: long strings (message
text, function-call arguments, reasoning summaries, anything of 256 characters or more) are
stored as append-only segments and a save appends only what they gained since the previous save;
the rest of the snapshot (the small "skeleton") is rewritten each time. A string that did not
simply grow (a ``.done`` event replaced it, an item was replaced) is rewritten whole. Each save
writes a new random generation token; a store instance trusts what it remembers of a key only
while the stored token is still the one it wrote, and rewrites everything otherwise (another
process or store instance wrote the key in between). ``store.stats`` counts what was written.
"""

from __future__ import annotations

# Each store lives in a private module of its own, built on the base both share (_store_base),
# so that neither module grows with the other; users import everything from here.
from ._store_base import TERMINAL_STATUSES, Checkpoint, CheckpointStats, CheckpointStore
from ._store_redis import RedisStore
from ._store_sqlite import SQLiteStore

__all__ = [
    "TERMINAL_STATUSES",
    "Checkpoint",
    "CheckpointStats",
    "CheckpointStore",
    "RedisStore",
    "SQLiteStore",
]
