"""What every checkpoint store shares: the Checkpoint it keeps, the contract, the common steps.

The public names here are re-exported by :mod:`responses_stream.checkpoints` (import them from
there). :class:`_Store` runs the steps that do not depend on the storage: the lock around each
operation, planning a save with :mod:`._checkpoint_codec`, remembering what each key holds for
the next incremental save, decoding a load, turning every storage error into a
:class:`~responses_stream.errors.CheckpointError`, the stats, and fork safety. A store
(:mod:`._store_sqlite`, :mod:`._store_redis`) supplies only the storage: ``_read``,
``_commit``, ``_remove`` and ``close``.
"""

from __future__ import annotations

import abc
import collections
import contextlib
import os
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from typing import (
    Any,
    Dict,
    Iterator,
    List,
    Optional,
    Protocol,
    Tuple,
    TypeVar,
    runtime_checkable,
)

from . import _checkpoint_codec as codec
from .errors import CheckpointError, ConfigurationError
from .models import TERMINAL_STATUSES, Response

__all__ = [
    "TERMINAL_STATUSES",
    "Checkpoint",
    "CheckpointStats",
    "CheckpointStore",
]


S = TypeVar("S", bound="_Store")

Stored = Tuple[bytes, Dict[int, bytes]]
"""What a store read for one key: the record, and each segment's bytes by slot."""

# How many keys a store instance remembers for incremental saves; a key it forgot (or one that
# reached a terminal status) simply gets a full write on its next save.
_REMEMBERED_KEYS = 64


@dataclass(frozen=True)
class Checkpoint:
    """Where a streaming response stands: what a store saves and what it loads back.

    Built by the SDK while it streams (see :meth:`from_snapshot`) and returned by
    :meth:`CheckpointStore.load`. ``sequence_number`` is the last event applied to ``snapshot``
    (resume with ``starting_after=sequence_number``); ``status`` is the response's status
    (``queued``, ``in_progress``, ``completed``, ``incomplete``, ``failed``, ``cancelled``);
    ``updated_at`` is the wall-clock Unix time of the save.

    A store reads ``snapshot`` once, inside ``save``: the SDK may go on changing it afterwards.
    ``open_items`` lists the positions in ``snapshot.output`` of the items not finished yet
    (their ``output_item.done`` not handled; ``None``: all but the last were finished), and
    ``error_event`` is the in-band ``error`` event received, as it arrived: with them a
    resumed call calls no ``*_done`` callback twice and ends as the first call would have.
    """

    key: str
    response_id: str
    sequence_number: Optional[int]
    snapshot: Response
    status: Optional[str]
    updated_at: float
    open_items: Optional[List[int]] = None
    error_event: Optional[Dict[str, Any]] = None

    @property
    def terminal(self) -> bool:
        """Whether the response had finished (completed, incomplete, failed or cancelled)."""
        return self.status in TERMINAL_STATUSES

    @classmethod
    def from_snapshot(
        cls,
        key: str,
        snapshot: Response,
        sequence_number: Optional[int],
        *,
        updated_at: Optional[float] = None,
        open_items: Optional[List[int]] = None,
        error_event: Optional[Dict[str, Any]] = None,
    ) -> Checkpoint:
        """A checkpoint of ``snapshot`` as it is now, taking its id and status from it.

        Used by the SDK each time it saves; ``updated_at`` defaults to ``time.time()``. Raises
        :class:`~responses_stream.ConfigurationError` when the snapshot has no id yet (nothing
        could resume it).
        """
        if not snapshot.id:
            raise ConfigurationError("a checkpoint needs the response's id; the snapshot has none")
        return cls(
            key=key,
            response_id=snapshot.id,
            sequence_number=sequence_number,
            snapshot=snapshot,
            status=snapshot.status,
            updated_at=time.time() if updated_at is None else updated_at,
            open_items=open_items,
            error_event=error_event,
        )


@runtime_checkable
class CheckpointStore(Protocol):
    """Where checkpoints live; the SDK calls it while a background response streams.

    The contract every store keeps (and a custom one must keep):

    * ``save`` replaces the key's previous checkpoint atomically: a reader sees the previous
      checkpoint or the new one, never a mix, even across processes.
    * ``load`` returns the last checkpoint whose save completed, exactly as saved
      (``loaded.snapshot.to_dict() == saved.snapshot.to_dict()``, every other field equal),
      or ``None`` when the key has none.
    * A failed ``save`` or ``delete`` raises :class:`~responses_stream.errors.CheckpointError`
      and leaves the previous checkpoint intact. (When the answer itself was lost, a timeout
      after the server applied the save, the key holds the previous or the new checkpoint,
      whole.) A ``load`` that cannot read or decode what is stored raises it too. Nothing else
      escapes: no ``sqlite3`` or ``redis`` exception.
    * Several writers may save the same key (processes, machines, store instances): the save
      that commits last is what ``load`` returns.
    * ``save`` reads ``checkpoint.snapshot`` before it returns and keeps no reference to it;
      call it from the thread that updates the snapshot. A store may be shared by threads.
    """

    def load(self, key: str) -> Optional[Checkpoint]:
        """The last checkpoint saved under ``key``, or ``None``."""
        ...

    def save(self, checkpoint: Checkpoint) -> None:
        """Replace the checkpoint saved under ``checkpoint.key``."""
        ...

    def delete(self, key: str) -> None:
        """Remove the checkpoint saved under ``key`` (nothing happens if there is none)."""
        ...


@dataclass
class CheckpointStats:
    """What one store instance did since it was created (in this process).

    ``bytes_written`` counts the payload sent to the storage (records and segment bytes), so a
    test or a dashboard can check that saves stay incremental; ``full_saves`` counts the saves
    that rewrote every segment (the first save of a key, or after another writer).
    """

    saves: int = 0
    full_saves: int = 0
    bytes_written: int = 0
    loads: int = 0
    bytes_read: int = 0


# Every live store, so that fork() can make each one safe in the child (see _before_fork).
_STORES: weakref.WeakSet[_Store] = weakref.WeakSet()
_FORKING: List[_Store] = []


class _Store(abc.ABC):
    """What both stores share: the operations' steps around the storage, and fork safety.

    A subclass calls ``super().__init__`` last, once it is whole: from then on a fork may call
    its :meth:`_drop_before_fork`.
    """

    def __init__(self, where: str) -> None:
        # Whatever an operation raises is undone and reported as CheckpointError (_operation).
        self._where = where
        self._lock = threading.Lock()
        self._states: collections.OrderedDict[str, codec.KeyState] = collections.OrderedDict()
        self.stats = CheckpointStats()
        """Counters of what this instance wrote and read; see :class:`CheckpointStats`."""
        _STORES.add(self)

    def __enter__(self: S) -> S:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @abc.abstractmethod
    def close(self) -> None:
        """Release the storage; the store cannot be used afterwards."""

    @abc.abstractmethod
    def _read(self, key: str) -> Optional[Stored]:
        """The record and segments stored under ``key`` as of one moment, or ``None``."""

    @abc.abstractmethod
    def _commit(self, checkpoint: Checkpoint, plan: codec.SavePlan, expected: str) -> bool:
        """Write ``plan`` atomically and return ``True``; or, when the key's stored token is not
        ``expected`` ('' = whatever it is), write nothing and return ``False``."""

    @abc.abstractmethod
    def _remove(self, key: str) -> None:
        """Delete the record and segments stored under ``key``."""

    def _abort(self) -> None:  # noqa: B027 - an optional hook; only SQLite has one
        """Undo what a failed operation left half done; runs with the lock held."""

    def _drop_before_fork(self) -> None:  # noqa: B027 - an optional hook, like _abort
        """Let go of what a forked child must not share; runs with the lock held."""

    def load(self, key: str) -> Optional[Checkpoint]:
        """The last checkpoint saved under ``key``, or ``None``; see :class:`CheckpointStore`."""
        with self._operation("load", key):
            stored = self._read(key)
            return None if stored is None else self._checkpoint(key, *stored)

    def save(self, checkpoint: Checkpoint) -> None:
        """Replace ``checkpoint.key``'s checkpoint; see :class:`CheckpointStore`."""
        snapshot = checkpoint.snapshot.to_dict()
        token = uuid.uuid4().hex
        with self._operation("save", checkpoint.key):
            previous = self._states.get(checkpoint.key)
            plan = self._plan(checkpoint, snapshot, previous, token)
            expected = "" if previous is None else previous.token
            if not self._commit(checkpoint, plan, expected):
                # Someone else wrote the key since our last save: write it all.
                plan = self._plan(checkpoint, snapshot, None, token)
                self._commit(checkpoint, plan, "")
            self._remember(checkpoint, plan)

    def delete(self, key: str) -> None:
        """Remove ``key``'s checkpoint (nothing happens if there is none)."""
        with self._operation("delete", key):
            self._remove(key)
            self._states.pop(key, None)

    @contextlib.contextmanager
    def _operation(self, action: str, key: str) -> Iterator[None]:
        """One operation, under the lock. Whatever it raises (the storage, the codec, a key the
        storage cannot hold) undoes it first; an ``Exception`` becomes a CheckpointError, a
        ``BaseException`` (Ctrl-C) goes on as it is."""
        with self._lock:
            try:
                yield
            except BaseException as exc:
                self._abort()  # no transaction left open
                # What we remember of the key may no longer be what it holds: write it all next.
                self._states.pop(key, None)
                if not isinstance(exc, Exception):
                    raise
                raise CheckpointError(
                    f"could not {action} checkpoint {key!r} in {self._where}: {exc}", key=key
                ) from exc

    @staticmethod
    def _plan(
        checkpoint: Checkpoint,
        snapshot: Dict[str, Any],
        previous: Optional[codec.KeyState],
        token: str,
    ) -> codec.SavePlan:
        meta = {
            "key": checkpoint.key,
            "response_id": checkpoint.response_id,
            "sequence_number": checkpoint.sequence_number,
            "status": checkpoint.status,
            "updated_at": checkpoint.updated_at,
            "open_items": checkpoint.open_items,
            "error_event": checkpoint.error_event,
        }
        return codec.plan_save(meta, snapshot, previous, token)

    def _remember(self, checkpoint: Checkpoint, plan: codec.SavePlan) -> None:
        """Record a committed save: stats, and the key's state for the next incremental save."""
        self.stats.saves += 1
        self.stats.full_saves += plan.full
        self.stats.bytes_written += plan.bytes_written
        key = checkpoint.key
        self._states.pop(key, None)
        # A finished response will not grow again: keeping its strings would only hold memory.
        if not checkpoint.terminal:
            self._states[key] = plan.state
            while len(self._states) > _REMEMBERED_KEYS:
                self._states.popitem(last=False)

    def _checkpoint(self, key: str, record: bytes, segments: Dict[int, bytes]) -> Checkpoint:
        """Decode a loaded record into a :class:`Checkpoint` (raises CorruptCheckpoint)."""
        meta, snapshot = codec.decode(record, segments)
        if meta["key"] != key:
            raise codec.CorruptCheckpoint(f"the record under {key!r} is {meta['key']!r}'s")
        self.stats.loads += 1
        self.stats.bytes_read += len(record) + sum(len(s) for s in segments.values())
        return Checkpoint(snapshot=Response.from_dict(snapshot), **meta)


def _before_fork() -> None:
    # Wait for saves in progress and close connections, so a child inherits no lock held by
    # another thread and no half-used database connection.
    _FORKING[:] = list(_STORES)
    for store in _FORKING:
        store._lock.acquire()
        store._drop_before_fork()


def _after_fork(child: bool) -> None:
    for store in _FORKING:
        if child:
            store._lock = threading.Lock()
        else:
            store._lock.release()
    _FORKING.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=lambda: _after_fork(False),
        after_in_child=lambda: _after_fork(True),
    )
