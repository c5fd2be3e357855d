"""Time limits that hold whatever the server does: a watchdog ends a read blocked past them.

A socket timeout only bounds one wait for bytes, so a server that trickles (headers one byte
at a time, keep-alive comments forever) never trips it. Each call with a ``total`` or ``idle``
limit gets a :class:`Guard`; one shared daemon thread (:class:`Watchdog`) wakes when a limit
is due and, if it has passed, shuts down the socket the call is waiting on. The waiting read
returns at once and the call raises :class:`~responses_stream.errors.APITimeoutError` for the
limit that passed (:attr:`Guard.expired`).

The socket is known to the guard in two phases: while the response headers are awaited
(:class:`WatchedHTTPConnection` arms the guard of the calling thread, see :func:`guarding`)
and while the body is read (the stream arms it with its interrupter).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import threading
import time
import types
import weakref
from typing import Any, Callable, Iterator, List, Optional, Tuple

import requests
import urllib3.connection
import urllib3.connectionpool

from ._body import shut_down
from ._metrics import Meter

__all__ = ["Guard", "guarding", "watch_session"]


class Guard:
    """The ``total`` and ``idle`` limits of one call, enforced by the :class:`Watchdog`.

    ``deadline`` is on the monotonic clock. ``idle`` counts, while a body is read, from
    ``meter.progress_at``: the call's :class:`~responses_stream._metrics.Meter` moves it on
    every event that is not a keep-alive, and when a connection's headers arrive. ``read``
    (set by ``stream_many``, whose sockets never block and so have no socket timeout) counts
    from ``meter.data_at``, moved on by every read that brings bytes.
    """

    def __init__(self, deadline: Optional[float], idle: Optional[float], meter: Meter) -> None:
        self.deadline = deadline
        self.idle = idle
        self.read: Optional[float] = None
        self.meter = meter
        self._held: Optional[Callable[[], Optional[Callable[[], bool]]]] = None
        self.on_cancel: Optional[Callable[[], None]] = None
        """Ends a back-off in progress between two tries of the call's request."""
        self.expired: Optional[str] = None
        """``"total"``, ``"idle"`` or ``"read"`` once that limit passed (and the wait was
        ended), ``"cancelled"`` after :meth:`cancel`."""
        self._reading = False  # idle applies while a body is read, not while connecting
        self._generation = 0  # of the latest look scheduled (older ones are skipped)
        self._lock = threading.Lock()
        self._shut: Optional[Callable[[], None]] = None
        if deadline is not None:
            self._schedule(deadline)

    @property
    def held(self) -> Optional[Callable[[], bool]]:
        """True while the reader is held up by its consumer rather than waiting for the server
        (a slow callback): the idle and read limits then count from now, not from before.

        Kept weakly when it is a method (a stream's): the watchdog keeps a guard until its
        deadline, and must not keep a finished stream's snapshot that long with it.
        """
        return self._held() if self._held is not None else None

    @held.setter
    def held(self, check: Optional[Callable[[], bool]]) -> None:
        if check is None:
            self._held = None
        elif isinstance(check, types.MethodType):
            self._held = weakref.WeakMethod(check)
        else:
            self._held = lambda: check

    def arm(self, shut: Callable[[], None]) -> None:
        """``shut`` ends the wait in progress; it is called now if a limit already passed."""
        with self._lock:
            self._shut = shut
            if self.expired is None:
                return
        shut()

    def disarm(self) -> None:
        """Nothing to end any more (the wait returned; its socket may go back to the pool).

        An idle or read expiry belonged to the read that ended: a resumed connection starts
        afresh.
        """
        with self._lock:
            self._shut = None
            self._reading = False
            if self.expired in ("idle", "read"):
                self.expired = None

    def cancel(self) -> None:
        """End the wait in progress, and any later one, now (the caller gave up the call)."""
        with self._lock:
            self.expired = "cancelled"
            shut, self._shut = self._shut, None
        if shut is not None:
            shut()
        woken = self.on_cancel
        if woken is not None:
            woken()

    def reading(self, shut: Callable[[], None]) -> None:
        """A connection's body is read from now (``shut`` ends its read): the idle limit
        counts from the last progress (the connection's headers, at the latest)."""
        self._reading = True
        self.arm(shut)
        due = self._due_while_reading()
        if due:
            self._schedule(min(due))

    def _due_while_reading(self) -> List[float]:
        """When the idle and read limits fall due, counted from the last progress."""
        meter = self.meter
        due = [] if self.idle is None else [meter.progress_at + self.idle]
        if self.read is not None:
            due.append(meter.data_at + self.read)
        if due and self.deadline is not None:
            due.append(self.deadline)
        return due

    def _schedule(self, when: float) -> None:
        """Look at the limits at ``when``; a look scheduled before is forgotten."""
        with self._lock:
            self._generation += 1
            generation = self._generation
        WATCHDOG.schedule(self, when, generation)

    def look(self, generation: int) -> None:
        """The watchdog's look: end the wait if a limit passed, and plan the next look."""
        now = time.monotonic()
        deadline, idle = self.deadline, self.idle
        reason = None
        with self._lock:
            if generation != self._generation:
                return  # replaced by a later schedule
            if self.expired == "cancelled":
                return
            if deadline is not None and now >= deadline:
                reason = "total"
            elif self._reading and idle is not None and now - self.meter.progress_at >= idle:
                reason = "idle"
            elif self._reading and self.read is not None and now - self.meter.data_at >= self.read:
                reason = "read"
            held = self.held
            if reason in ("idle", "read") and held is not None and held():
                # The wait is the consumer's (its callbacks), not the server's: count afresh.
                self.meter.progress_at = self.meter.data_at = now
                reason = None
            shut = None
            if reason is not None:
                self.expired = reason
                shut, self._shut = self._shut, None
            due = [deadline] if deadline is not None and reason != "total" else []
            if self._reading and reason is None:
                due.extend(self._due_while_reading())
        if shut is not None:
            shut()
        if due:
            self._schedule(min(due))


class Watchdog:
    """One daemon thread that looks at each :class:`Guard` when one of its limits is due."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: List[Tuple[float, int, Guard, int]] = []
        self._order = itertools.count()
        self._thread: Optional[threading.Thread] = None

    def after_fork_in_child(self) -> None:
        """Forget the parent's guards: their sockets are shared with the parent, which reads
        them (shut down here, they would end the parent's streams). The lock may have been
        held by the parent's watchdog thread, which the child does not have."""
        self._cond = threading.Condition()
        self._heap = []
        self._thread = None

    def schedule(self, guard: Guard, when: float, generation: int) -> None:
        """Call ``guard.look(generation)`` at ``when`` (on the monotonic clock)."""
        with self._cond:
            entry = (when, next(self._order), guard, generation)
            heapq.heappush(self._heap, entry)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="responses_stream-watchdog", daemon=True
                )
                self._thread.start()
            if self._heap[0] is entry:
                self._cond.notify()  # due before what the thread waits for: wake it

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                when, _, guard, generation = self._heap[0]
                delay = when - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)
            guard.look(generation)  # outside the lock: it may shut a socket down


WATCHDOG = Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=WATCHDOG.after_fork_in_child)

_CURRENT = threading.local()


@contextlib.contextmanager
def guarding(guard: Optional[Guard]) -> Iterator[None]:
    """While the body runs, requests sent from this thread arm ``guard`` for their headers."""
    previous = getattr(_CURRENT, "guard", None)
    _CURRENT.guard = guard
    try:
        yield
    finally:
        _CURRENT.guard = previous


class _Watched:
    """Arms the calling thread's guard while the response headers are awaited."""

    sock: Any

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        guard: Optional[Guard] = getattr(_CURRENT, "guard", None)
        if guard is None:
            return super().getresponse(*args, **kwargs)  # type: ignore[misc]
        sock = self.sock
        guard.arm(lambda: shut_down(sock))
        try:
            return super().getresponse(*args, **kwargs)  # type: ignore[misc]
        finally:
            guard.disarm()


class WatchedHTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    """urllib3's HTTP connection whose header wait a :class:`Guard` can end."""


class WatchedHTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    """urllib3's HTTPS connection whose header wait a :class:`Guard` can end."""


class _WatchedHTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = WatchedHTTPSConnection


def watch_session(session: requests.Session) -> None:
    """Make the header wait of ``session``'s HTTP(S) adapters endable by a guard.

    Pools the adapters create from now on use watched connections; a connection of a pool
    made before (a session you passed in and used already) is not watched, and for it the
    ``total`` limit bounds the header wait only through the read timeout.
    """
    for adapter in session.adapters.values():
        manager = getattr(adapter, "poolmanager", None)
        classes = getattr(manager, "pool_classes_by_scheme", None)
        if isinstance(classes, dict) and set(classes) == {"http", "https"}:
            manager.pool_classes_by_scheme = {  # type: ignore[union-attr]
                "http": _WatchedHTTPPool,
                "https": _WatchedHTTPSPool,
            }
