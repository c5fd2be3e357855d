"""Many streams in one thread: one selector over non-blocking sockets (``stream_many``).

With a thread per stream, each event costs a thread wake-up, which at hundreds of streams
costs far more than parsing the event. Here the calling thread waits on one selector for
every stream's socket and, when sockets are readable, reads each of them and runs the same
per-event path as ``client.stream()`` (``_stream.StreamCore`` with its ``open_body`` and
``offload`` set): one wake-up serves many events.

What may block is moved off the calling thread to a small fixed pool (:data:`OPEN_WORKERS`
threads): sending a request and waiting for its headers (with the retries and their back-off)
and the back-off and request of a background stream's resume. Everything else (reading,
parsing, the snapshot, every callback) runs on the calling thread, one thing at a time.
Time limits are the watchdog's (``_watchdog``); the read limit too, as the sockets never
block.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import heapq
import itertools
import selectors
import socket
import ssl
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Optional, Union, cast

from ._body import READ_SIZE, Interrupter, Reader, body_chunks, socket_body
from ._metrics import Meter
from ._stream import WAIT, StreamCore
from .errors import ConfigurationError, ProtocolError
from .events import Event
from .handler import ResponseHandler, Step, dispatcher_for
from .models import Response

if TYPE_CHECKING:
    from ._watchdog import Guard

OPEN_WORKERS = 16
"""Threads that send requests and wait for their headers (and run resumes' back-offs)."""

_WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)

Outcome = Union[Response, BaseException]
"""What one stream of ``stream_many`` ended with: its final response, or its exception."""
Opener = Callable[[Callable[["Guard"], None]], StreamCore]
"""Sends one request and returns its stream; reports the call's guard first (``client``)."""


class _Socket:
    """One connection's socket on the selector, read without ever waiting."""

    __slots__ = ("_buffered", "_file", "_meter", "_selector", "_timeout", "_tls", "ready", "sock")

    def __init__(
        self, sock_file: Any, selector: selectors.BaseSelector, slot: Slot, meter: Meter
    ) -> None:
        self._file = sock_file
        self.sock: socket.socket = sock_file.raw._sock
        self._selector: Optional[selectors.BaseSelector] = selector
        self._meter = meter
        self._timeout = self.sock.gettimeout()
        self._tls = isinstance(self.sock, ssl.SSLSocket)
        # http.client's buffered reader may hold body bytes read with the headers: those
        # first, as the selector never reports them.
        self._buffered = True
        self.ready = True
        """The selector reported the socket readable (a read that came up short clears it)."""
        self.sock.setblocking(False)
        selector.register(self.sock, selectors.EVENT_READ, slot)

    def read(self, size: int) -> Optional[bytes]:
        """What has arrived (at most ``size`` bytes), ``b""`` at the end, None if nothing yet."""
        if self._buffered:
            try:
                data: bytes = self._file.read1(size)
            except _WOULD_BLOCK:
                data = b""
            if data:
                self._meter.data_at = self._meter.clock()
                return data
            self._buffered = False  # empty: from now on straight off the socket
        if not self.ready:
            return None
        try:
            data = self.sock.recv(size)
        except _WOULD_BLOCK:
            self.ready = False
            return None
        if data:
            self._meter.data_at = self._meter.clock()
        if len(data) < size and not (self._tls and cast(ssl.SSLSocket, self.sock).pending()):
            self.ready = False  # all there was: wait for the selector before reading again
        return data

    def detach(self) -> None:
        """Off the selector, and blocking again (before the socket is pooled or closed)."""
        selector, self._selector = self._selector, None
        if selector is None:
            return
        with contextlib.suppress(KeyError, ValueError, OSError):
            selector.unregister(self.sock)
        with contextlib.suppress(OSError):
            self.sock.settimeout(self._timeout)


class Slot:
    """One request of ``stream_many``: its handler, its stream once open, and its outcome."""

    def __init__(self, index: int, handler: Optional[ResponseHandler], mux: Multiplexer) -> None:
        self.index = index
        self.handler = handler
        self.mux = mux
        self.stream: Optional[StreamCore] = None
        self.pairs: Iterator[tuple[Event, Any]] = iter(())
        self.plans: dict[type[Event], Optional[Step]] = {}
        self.plan: Callable[[type[Event]], Optional[Step]] = lambda cls: None
        self.socket: Optional[_Socket] = None
        self.guard: Optional[Guard] = None
        self.read_limit: Optional[float] = None
        self.cancel_on_stop = False
        self.cancel: Callable[[str], Response] = lambda response_id: Response()
        """``client.cancel``, for ``cancel_on_stop``."""
        self.done = False

    def open_body(self, raw: Any, interrupter: Interrupter, meter: Meter) -> Iterator[bytes]:
        """The stream's body, read off the selector (``StreamCore.open_body``)."""
        selector = self.mux.selector

        def attach(sock_file: Any) -> tuple[Reader, Callable[[], None]]:
            self.socket = _Socket(sock_file, selector, self, meter)
            return self.socket.read, self.socket.detach

        body = socket_body(raw, READ_SIZE, interrupter, nonblocking=attach)
        if body is not None:
            return self._detaching(body, self.socket)
        if getattr(getattr(getattr(raw, "_fp", None), "fp", None), "raw", None) is None:
            # Not a socket (a test double's body in memory): reading it never waits.
            return body_chunks(raw, interrupter=interrupter)
        coding = raw.headers.get("content-encoding")
        raise ProtocolError(
            "stream_many cannot read this body without blocking"
            + (f" (content-encoding {coding!r})" if coding else "")
            + "; use client.stream() for this server"
        )

    @staticmethod
    def _detaching(body: Iterator[bytes], sock: Optional[_Socket]) -> Iterator[bytes]:
        try:
            yield from body
        finally:
            if sock is not None:
                sock.detach()  # before the stream closes the response and its socket


class Multiplexer:
    """Runs up to ``concurrency`` streams at once on one selector (see the module).

    :meth:`events` yields ``(slot, event, touched)`` as events arrive, on the calling thread;
    :attr:`outcomes` holds each request's outcome, by index, once it has ended.
    """

    def __init__(
        self,
        requests: Iterable[Mapping[str, Any]],
        open_stream: Callable[[Slot, Mapping[str, Any]], Opener],
        *,
        handler: Optional[Callable[[int, Mapping[str, Any]], ResponseHandler]],
        concurrency: int,
        callbacks: bool,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"concurrency must be a positive int, got {concurrency!r}")
        self._requests = enumerate(requests)
        self._open_stream = open_stream
        self._make_handler = handler
        self._callbacks = callbacks
        self._concurrency = concurrency
        self.selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._inbox: collections.deque[Callable[[], None]] = collections.deque()
        self._pool = ThreadPoolExecutor(
            max_workers=min(concurrency, OPEN_WORKERS), thread_name_prefix="responses_stream-many"
        )
        self._timers: list[tuple[float, int, Slot]] = []
        self._order = itertools.count()
        self._runnable: collections.deque[Slot] = collections.deque()
        self._live: dict[int, Slot] = {}
        self._exhausted = False
        self._closed = False
        self._lock = threading.Lock()  # orders post() against close()
        self.outcomes: list[Optional[Outcome]] = []
        """Each request's outcome by index (None while it runs)."""

    # ------------------------------------------------------------------------ the loop

    def events(self) -> Iterator[tuple[Slot, Event, Any]]:
        """Every event of every stream as it arrives, with its slot and what it touched."""
        try:
            while not self._closed:
                self._run_inbox()
                self._fill()
                while self._runnable and not self._closed:
                    slot = self._runnable.popleft()
                    if not slot.done:
                        yield from self._pump(slot)
                    self._run_inbox()
                    self._fill()
                if not self._live or self._closed:
                    break
                timeout = None
                if self._timers:
                    timeout = max(0.0, self._timers[0][0] - self._clock())
                for key, _ in self.selector.select(timeout):
                    slot = key.data
                    if slot is None:
                        self._drain_wake()
                    elif slot.socket is not None:
                        slot.socket.ready = True
                        self._runnable.append(slot)
                self._fire_timers()
        finally:
            self.close()

    def _pump(self, slot: Slot) -> Iterator[tuple[Slot, Event, Any]]:
        """Run ``slot``'s stream until it waits for its socket (or a timer), or ends."""
        try:
            for event, touched in slot.pairs:
                if event is WAIT:
                    if touched is not None:
                        heapq.heappush(self._timers, (touched, next(self._order), slot))
                    return
                yield slot, event, touched
                if slot.done:
                    return
        except Exception as exc:  # the stream's own error: its outcome
            self.end(slot, exc)
            return
        self.end(slot, None)

    def _fire_timers(self) -> None:
        now = self._clock()
        timers = self._timers
        while timers and timers[0][0] <= now:
            slot = heapq.heappop(timers)[2]
            if not slot.done:
                self._runnable.append(slot)

    _clock = staticmethod(time.monotonic)

    def slot(self, index: int) -> Optional[Slot]:
        """The running request ``index``, or None if it has not started or has ended."""
        return self._live.get(index)

    # ------------------------------------------------------------------ other threads

    def post(self, work: Callable[[], None]) -> None:
        """Run ``work`` on the loop's thread, soon (from any thread); once the loop is
        closed, run it here and now (it then only lets go of what it holds)."""
        with self._lock:
            if not self._closed:
                self._inbox.append(work)
                with contextlib.suppress(OSError):  # full: a wake-up is pending anyway
                    self._wake_w.send(b"\0")
                return
        work()

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass

    def _run_inbox(self) -> None:
        inbox = self._inbox
        while inbox:
            inbox.popleft()()

    def offload(self, slot: Slot, work: Callable[[], Any]) -> Future[Any]:
        """Run blocking ``work`` for ``slot`` on the pool; ``slot`` runs again when it is done."""
        future = self._pool.submit(contextvars.copy_context().run, work)
        future.add_done_callback(lambda _: self.post(lambda: self._wake(slot)))
        return future

    def _wake(self, slot: Slot) -> None:
        if not slot.done:
            self._runnable.append(slot)

    def marshal(
        self, slot: Slot, callback: Optional[Callable[..., None]]
    ) -> Optional[Callable[..., None]]:
        """``callback`` made to run on the loop's thread when called from the pool."""
        if callback is None:
            return None
        method = callback

        def call(*args: Any) -> None:
            self.post(lambda: self._call_back(slot, method, args))

        return call

    def _call_back(self, slot: Slot, method: Callable[..., None], args: tuple[Any, ...]) -> None:
        if slot.done:
            return
        try:
            method(*args)
        except Exception as exc:  # a callback's error ends its stream only
            self.end(slot, exc)

    # ------------------------------------------------------------------ opening streams

    def _fill(self) -> None:
        """Start requests until ``concurrency`` streams are live or none are left."""
        while not self._exhausted and len(self._live) < self._concurrency and not self._closed:
            try:
                index, params = next(self._requests)
            except StopIteration:
                self._exhausted = True
                return
            self.outcomes.append(None)
            handler: Optional[ResponseHandler] = None
            slot = Slot(index, None, self)
            self._live[index] = slot
            try:
                if not isinstance(params, Mapping):
                    raise ConfigurationError(
                        f"each request must be a dict of stream() keywords, got {params!r}"
                    )
                if self._callbacks:
                    handler = (
                        self._make_handler(index, params)
                        if self._make_handler is not None
                        else ResponseHandler()
                    )
                    if not isinstance(handler, ResponseHandler):
                        raise ConfigurationError(
                            f"handler({index}, params) must return a ResponseHandler, "
                            f"got {handler!r}"
                        )
                    handler._stop_requested = False
                    handler._snapshot = None
                slot.handler = handler
                opener = self._open_stream(slot, params)
            except Exception as exc:
                self.end(slot, exc)
                continue
            future = self._pool.submit(contextvars.copy_context().run, opener, self._guarded(slot))
            future.add_done_callback(self._answered(slot))

    def _answered(self, slot: Slot) -> Callable[[Future[StreamCore]], None]:
        def answered(future: Future[StreamCore]) -> None:
            self.post(lambda: self._opened(slot, future))

        return answered

    def _guarded(self, slot: Slot) -> Callable[[Guard], None]:
        def report(guard: Guard) -> None:
            slot.guard = guard
            if self._closed or slot.done:
                guard.cancel()

        return report

    def _opened(self, slot: Slot, future: Future[StreamCore]) -> None:
        """A request was answered (on the loop's thread): set its stream up and read it."""
        try:
            stream = future.result()
        except Exception as exc:
            self.end(slot, exc)
            return
        if slot.done or self._closed:
            stream.close()
            return
        slot.stream = stream
        stream.open_body = slot.open_body
        stream.offload = lambda work: self.offload(slot, work)
        if slot.guard is not None:
            slot.guard.read = slot.read_limit
        handler = slot.handler
        if handler is not None:
            handler._snapshot = stream.response
            handler._stream = stream
            dispatcher = dispatcher_for(handler, stream)
            slot.plans, slot.plan = dispatcher.plans, dispatcher.plan
            if handler._stop_requested:
                stream.close()  # stop() came while the request was sent: read nothing
        slot.pairs = stream.pairs()
        self._runnable.append(slot)

    # ------------------------------------------------------------------ ending streams

    def end(self, slot: Slot, error: Optional[BaseException]) -> None:
        """``slot`` is over, with ``error`` or its response: close it, tell its handler."""
        if slot.done:
            return
        slot.done = True
        stream = slot.stream
        handler = slot.handler
        outcome: Outcome
        if stream is not None:
            if error is None:
                stream.close()
            else:
                stream.__exit__(type(error), error, error.__traceback__)
        if error is None and stream is not None:
            outcome = stream.response
            if slot.cancel_on_stop and handler is not None and handler.stopped:
                self._cancel_then_finish(slot, outcome)
                return
        elif error is not None:
            outcome = error
        else:
            outcome = Response()
        self._finish(slot, outcome)

    def _cancel_then_finish(self, slot: Slot, final: Response) -> None:
        """``cancel_on_stop``: cancel the stopped background response, then finish."""
        cancel = slot.cancel
        if not final.id or final.status in ("completed", "failed", "cancelled", "incomplete"):
            self._finish(slot, final)
            return

        def cancelled(done: Future[Response]) -> None:
            try:
                final.status = done.result().status
            except Exception as exc:
                self._finish(slot, exc)
                return
            self._finish(slot, final)

        future = self._pool.submit(cancel, final.id)
        future.add_done_callback(lambda done: self.post(lambda: cancelled(done)))

    def _finish(self, slot: Slot, outcome: Outcome) -> None:
        if self._live.pop(slot.index, None) is None:
            return  # closed meanwhile: close() told the handler
        handler = slot.handler
        if handler is not None:
            handler._stream = None
            if isinstance(outcome, BaseException):
                try:
                    handler.on_exception(outcome)
                except Exception as exc:
                    outcome = exc
            try:
                handler.on_end()
            except Exception as exc:
                outcome = exc
        self.outcomes[slot.index] = outcome

    def close(self) -> None:
        """End every stream now (Ctrl-C, an error, or the caller left the loop).

        A stream still running keeps its response so far as its outcome (None if it had not
        started); its handler's ``on_end`` is called.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._run_inbox()  # answers that came meanwhile: their streams are closed unread
        for slot in list(self._live.values()):
            slot.done = True
            if slot.guard is not None:
                slot.guard.cancel()  # a request waiting for its headers ends now
            stream = slot.stream
            if stream is not None:
                stream.close()
                self.outcomes[slot.index] = stream.response
            if slot.handler is not None:
                slot.handler._stream = None
                with contextlib.suppress(Exception):
                    slot.handler.on_end()
        self._live.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
        for sock in (self._wake_r, self._wake_w):
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.selector.unregister(sock)
            sock.close()
        self.selector.close()


def run_callbacks(mux: Multiplexer, *, fail_fast: bool) -> list[Outcome]:
    """Feed every stream's events to its handler (``stream_many``); the outcomes in order.

    An exception from a callback ends that stream, as its outcome (after ``on_exception``);
    with ``fail_fast`` it ends every stream and is raised.
    """
    try:
        for slot, event, touched in mux.events():
            cls = type(event)
            plans = slot.plans
            step = plans[cls] if cls in plans else slot.plan(cls)
            if step is not None:
                try:
                    step(event, touched)
                except Exception as exc:
                    mux.end(slot, exc)
                    if fail_fast:
                        raise
                    continue
            handler = slot.handler
            if handler is not None and handler._stop_requested:
                mux.end(slot, None)  # stop(): the partial response is its outcome
    finally:
        mux.close()
    outcomes = [outcome for outcome in mux.outcomes if outcome is not None]
    if len(outcomes) != len(mux.outcomes):  # pragma: no cover - every stream has ended here
        raise RuntimeError("stream_many ended with a stream still running")
    return outcomes


class ManyEvents:
    """Pull-style access to many streams at once; ``client.events_many()`` returns one.

    Iterate it for ``(index, event)`` pairs as events arrive from any stream (``index`` is the
    request's position in the input), inside a ``with`` block so every connection is closed
    however you leave the loop::

        with client.events_many(requests) as streams:
            for index, event in streams:
                ...
            outcomes = streams.outcomes

    :meth:`response` gives a stream's snapshot at any time; once iteration is over,
    :attr:`outcomes` holds each request's final :class:`~responses_stream.Response` or the
    :mod:`~responses_stream.errors` exception that ended it (a failed stream yields no more
    events: look there).
    """

    def __init__(self, mux: Multiplexer) -> None:
        self._mux = mux
        self._events: Optional[Iterator[tuple[int, Event]]] = None

    def __iter__(self) -> Iterator[tuple[int, Event]]:
        if self._events is None:
            self._events = ((slot.index, event) for slot, event, _ in self._mux.events())
        return self._events

    def __enter__(self) -> ManyEvents:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @property
    def outcomes(self) -> list[Optional[Outcome]]:
        """Each request's outcome by index: its final response or its exception (None while
        it has not ended; the response so far for a stream cut short by :meth:`close`)."""
        return self._mux.outcomes

    def response(self, index: int) -> Optional[Response]:
        """Request ``index``'s snapshot so far (final once it ended), or None before it
        started or if it failed before its stream opened."""
        slot = self._mux.slot(index)
        if slot is not None and slot.stream is not None:
            return slot.stream.response
        outcome = self._mux.outcomes[index] if index < len(self._mux.outcomes) else None
        if isinstance(outcome, Response):
            return outcome
        return getattr(outcome, "response", None)

    def close(self) -> None:
        """Close every connection now (safe to call more than once)."""
        self._mux.close()
