"""Checkpoints in an SQLite database file: the SQLiteStore of :mod:`responses_stream.checkpoints`.

Standard library only. The steps every store shares (locking, planning, errors, stats, fork
safety) are :class:`._store_base._Store`'s; this module reads and writes the two tables.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import sqlite3
import time
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import _checkpoint_codec as codec
from ._store_base import Checkpoint, Stored, _Store
from .errors import ConfigurationError

__all__ = ["SQLiteStore"]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS responses_stream_checkpoints (
        key TEXT PRIMARY KEY NOT NULL,
        token TEXT NOT NULL,
        response_id TEXT NOT NULL,
        sequence_number INTEGER,
        status TEXT,
        updated_at REAL NOT NULL,
        record BLOB NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS responses_stream_checkpoint_segments (
        key TEXT NOT NULL,
        slot INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        chunk BLOB NOT NULL,
        PRIMARY KEY (key, slot, seq)
    )""",
)
_PRAGMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PRAGMA_VALUE = re.compile(r"-?[A-Za-z0-9_]+\Z")

# Connections inherited through a fork that bypassed os.register_at_fork (a C extension's fork):
# closing one in the child could disturb the parent's database state, so the child only keeps
# it referenced and never uses it.
_INHERITED: List[sqlite3.Connection] = []


class SQLiteStore(_Store):
    """Checkpoints in an SQLite database file, shared by the processes of one machine.

    Give it the database path (created with its tables on first use; the file may hold other
    tables too). It is safe to use from several threads (one connection per process, behind a
    lock), several processes (WAL journal, one transaction per operation, ``timeout`` seconds of
    waiting for a busy database), and after ``fork()`` (the child opens its own connection).
    ``pragmas`` are run on each new connection (for example ``{"max_page_count": 10000}``).
    Use it as a context manager or call :meth:`close`.

    Schema: ``responses_stream_checkpoints`` (one row per key: the generation ``token``, the
    ``record`` JSON with the skeleton, and the metadata as queryable columns) and
    ``responses_stream_checkpoint_segments`` (the long strings, as UTF-8 chunks numbered
    ``seq`` within each ``slot``; a save appends one chunk per string that grew).
    """

    def __init__(
        self,
        path: Union[str, os.PathLike[str]],
        *,
        timeout: float = 5.0,
        pragmas: Optional[Mapping[str, Union[int, str]]] = None,
    ) -> None:
        for name, value in (pragmas or {}).items():
            if not _PRAGMA_NAME.match(name) or not _PRAGMA_VALUE.match(str(value)):
                raise ConfigurationError(f"invalid SQLite pragma {name!r} = {value!r}")
        self.path = os.fspath(path)
        """The database file's path."""
        self._timeout = timeout
        self._pragmas: Sequence[Tuple[str, Union[int, str]]] = list((pragmas or {}).items())
        self._conn: Optional[sqlite3.Connection] = None
        self._pid = os.getpid()
        self._identity: Optional[Tuple[int, int]] = None
        self._closed = False
        super().__init__(self.path)

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves (BEGIN IMMEDIATE for writes, so
        # two writers never deadlock upgrading read locks). check_same_thread=False: the
        # connection is shared by threads, one at a time under self._lock.
        conn = sqlite3.connect(
            self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        try:
            self._enable_wal(conn)
            # In WAL mode NORMAL survives a crash of the process (what checkpoints are for);
            # only a power loss may drop the last few saves.
            conn.execute("PRAGMA synchronous = NORMAL")
            for name, value in self._pragmas:
                conn.execute(f"PRAGMA {name} = {value}")
            for statement in _SCHEMA:
                conn.execute(statement)
        except BaseException:
            conn.close()
            raise
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        # Switching a new database to WAL needs a moment alone with it, and SQLite answers
        # "database is locked" at once (no busy handler) when other processes open it at the
        # same time: retry for up to the busy timeout.
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.005)

    def _file_identity(self) -> Optional[Tuple[int, int]]:
        """(device, inode) of the database file; ``None`` for ``:memory:`` or a missing file."""
        if self.path in ("", ":memory:"):
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            # Reported like any other failure: CheckpointError with the key, from _fail.
            raise sqlite3.ProgrammingError("the SQLiteStore is closed")
        pid = os.getpid()
        if self._conn is not None and self._pid != pid:
            _INHERITED.append(self._conn)
            self._conn = None
        if self._conn is not None and self._file_identity() != self._identity:
            # The file was removed or replaced under us: an open connection would go on
            # writing to the unlinked file, where no other process can ever read it.
            self._conn.close()
            self._conn = None
        if self._conn is None:
            self._conn = self._open()
            self._pid = pid
            self._identity = self._file_identity()
        return self._conn

    def _drop_before_fork(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
            self._conn = None

    def _abort(self) -> None:
        if self._conn is not None and self._conn.in_transaction:
            # SQLite may already have rolled back (SQLITE_FULL does).
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")

    def _read(self, key: str) -> Optional[Stored]:
        conn = self._connection()
        # One read transaction, so the record and its segments are from the same save.
        conn.execute("BEGIN")
        row = conn.execute(
            "SELECT record FROM responses_stream_checkpoints WHERE key = ?", (key,)
        ).fetchone()
        chunks = conn.execute(
            "SELECT slot, chunk FROM responses_stream_checkpoint_segments"
            " WHERE key = ? ORDER BY slot, seq",
            (key,),
        ).fetchall()
        conn.execute("COMMIT")
        if row is None:
            return None
        pieces: Dict[int, List[bytes]] = collections.defaultdict(list)
        for slot, chunk in chunks:
            pieces[slot].append(codec.as_bytes(chunk))
        return codec.as_bytes(row[0]), {slot: b"".join(parts) for slot, parts in pieces.items()}

    def _commit(self, checkpoint: Checkpoint, plan: codec.SavePlan, expected: str) -> bool:
        conn = self._connection()
        # IMMEDIATE: the token we check stays the stored one until we commit.
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute(
            "SELECT token FROM responses_stream_checkpoints WHERE key = ?", (checkpoint.key,)
        ).fetchone()
        if expected and (row is None or row[0] != expected):
            conn.execute("ROLLBACK")
            return False
        self._write(conn, checkpoint, plan)
        conn.execute("COMMIT")
        return True

    def _write(
        self, conn: sqlite3.Connection, checkpoint: Checkpoint, plan: codec.SavePlan
    ) -> None:
        key = checkpoint.key
        segments = "responses_stream_checkpoint_segments"
        if plan.full:
            conn.execute(f"DELETE FROM {segments} WHERE key = ?", (key,))
        for write in plan.writes:
            if write.mode != "append" and not plan.full:
                conn.execute(
                    f"DELETE FROM {segments} WHERE key = ? AND slot = ?", (key, write.slot)
                )
            if write.mode != "delete":
                conn.execute(
                    f"INSERT INTO {segments} (key, slot, seq, chunk) VALUES (?, ?, ?, ?)",
                    (key, write.slot, write.seq, write.data),
                )
        conn.execute(
            "INSERT OR REPLACE INTO responses_stream_checkpoints"
            " (key, token, response_id, sequence_number, status, updated_at, record)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                plan.state.token,
                checkpoint.response_id,
                checkpoint.sequence_number,
                checkpoint.status,
                checkpoint.updated_at,
                plan.record,
            ),
        )

    def _remove(self, key: str) -> None:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM responses_stream_checkpoints WHERE key = ?", (key,))
        conn.execute("DELETE FROM responses_stream_checkpoint_segments WHERE key = ?", (key,))
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close this process's connection; the store cannot be used afterwards."""
        with self._lock:
            self._closed = True
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
            self._states.clear()
