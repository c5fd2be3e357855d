"""``stream_many``'s small fixed pool of threads, made of daemon threads.

``concurrent.futures``' workers are joined when the interpreter exits, so a ``stream_many`` in
a daemon thread (a web app's background job) would hold up the exit for as long as a blocking
step on the pool takes: a request's read limit, minutes. ``client.stream()`` in such a thread
does not, and neither does this pool: what runs on it is a stream's, whose daemon thread the
caller chose to let the exit end.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable, Optional, Tuple, TypeVar

_T = TypeVar("_T")
_Job = Tuple["Future[Any]", Callable[..., Any], Tuple[Any, ...]]


class DaemonPool:
    """Runs functions on at most ``max_workers`` daemon threads, started as work comes."""

    def __init__(self, max_workers: int, name: str) -> None:
        self._max = max_workers
        self._name = name
        self._jobs: queue.SimpleQueue[Optional[_Job]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._shut = False

    def submit(self, fn: Callable[..., _T], *args: Any) -> Future[_T]:
        """``fn(*args)`` on a pool thread; its future."""
        future: Future[_T] = Future()
        with self._lock:
            if self._shut:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._jobs.put((future, fn, args))
            if self._jobs.qsize() > self._idle and self._threads < self._max:
                self._threads += 1
                name = f"{self._name}_{self._threads}"
                threading.Thread(target=self._work, name=name, daemon=True).start()
        return future

    def shutdown(self) -> None:
        """Cancel the work not started yet; the threads end once idle (nothing waits)."""
        with self._lock:
            self._shut = True
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[0].cancel()
            for _ in range(self._threads):
                self._jobs.put(None)

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            job = self._jobs.get()
            with self._lock:
                self._idle -= 1
            if job is None:
                return
            future, fn, args = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args)
            except BaseException as exc:  # the future's, as concurrent.futures does
                future.set_exception(exc)
            else:
                future.set_result(result)
            del job, future, fn, args  # hold nothing of a finished job while idle


__all__ = ["DaemonPool"]
