"""Many streams in one thread: one selector over non-blocking sockets (``stream_many``).

With a thread per stream, each event costs a thread wake-up, which at hundreds of streams
costs far more than parsing the event. Here the calling thread waits on one selector for
every stream's socket and, when sockets are readable, reads each of them and runs the same
per-event path as ``client.stream()`` (``_stream.StreamCore`` with its ``open_body`` and
``offload`` set): one wake-up serves many events.

Requests go out from the selector too (``_many_http``); what may block goes to a small fixed
pool (:data:`OPEN_WORKERS` threads): TLS handshakes, requests the selector cannot send, a
resume's back-off and request. Everything else (reading, parsing, the snapshot, every
callback) runs on the calling thread, one thing at a time. Time limits are the watchdog's
(``_watchdog``); the read limit too, as the sockets never block.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import heapq
import itertools
import threading
import time
from concurrent.futures import Future
from types import GeneratorType
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Optional,
    Union,
    cast,
)

from ._body import READ_SIZE, Interrupter, Reader, body_chunks, socket_body
from ._call import check_requests
from ._daemon_pool import DaemonPool
from ._interim import answer_after
from ._loop_socket import LoopSocket, Waker
from ._many_http import exchange, loop_pool
from ._metrics import Meter
from ._opening import Opening
from ._stream import WAIT, StreamCore, refused_content_type
from ._transport import Attempt, Transport
from .errors import ConfigurationError, ProtocolError
from .events import Event
from .handler import ResponseHandler, Step, dispatcher_for, handler_or_default, uncarried
from .models import Response

if TYPE_CHECKING:
    from ._watchdog import Guard

OPEN_WORKERS = 16
"""Threads for what the selector cannot do without blocking (see the module's docstring)."""
OPEN_BATCH = 16
"""Requests started per pass of the loop: the running streams are read between batches. A
start costs about a hundred events, and a batch's first deltas wait for the whole batch: in
the scale benchmark (1,000 streams) 32 per pass put the p99 latency at 41-62 ms, 16 at 18-30
ms. Smaller batches cost more CPU per event: 16 about 4% more than 32, 8 12%, 4 18%."""


Outcome = Union[Response, BaseException]
"""What one stream of ``stream_many`` ended with: its final response, or its exception."""
Opener = Union[Opening, Callable[[], StreamCore]]
"""How one request's stream is opened (``client``): the steps of its requests, run on the
selector, or a blocking function, run on the pool (a checkpointed stream's)."""


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
        self.socket: Optional[LoopSocket] = None
        self.guard: Optional[Guard] = None
        self.read_limit: Optional[float] = None
        self.cancel_on_stop = False
        self.cancel: Callable[[Response], None] = lambda final: None
        """Cancels the response if it had not ended (``client``), for ``cancel_on_stop``."""
        self.done = False

    def held(self) -> bool:
        """True while bytes for the stream wait for the loop (``Guard.held``)."""
        return self.socket is not None and self.socket.waiting()

    def open_body(self, raw: Any, interrupter: Interrupter, meter: Meter) -> Iterator[bytes]:
        """The stream's body, read off the selector (``StreamCore.open_body``)."""
        selector = self.mux.selector

        def attach(sock_file: Any) -> tuple[Reader, Callable[[], None]]:
            self.socket = LoopSocket(sock_file, selector, self, meter)
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
    def _detaching(body: Iterator[bytes], sock: Optional[LoopSocket]) -> Iterator[bytes]:
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
        transport: Transport,
        *,
        handler: Optional[Callable[[int, Mapping[str, Any]], ResponseHandler]],
        concurrency: int,
        callbacks: bool,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"concurrency must be a positive int, got {concurrency!r}")
        self._requests = enumerate(check_requests(requests))
        self._open_stream = open_stream
        self._transport = transport
        self._prepared: dict[Any, Any] = {}  # requests prepared for the selector (_many_http)
        self._make_handler = handler
        self._callbacks = callbacks
        self._concurrency = concurrency
        self._waker = Waker()
        self.selector = self._waker.selector
        self._inbox: collections.deque[Callable[[], None]] = collections.deque()
        self._pool = DaemonPool(min(concurrency, OPEN_WORKERS), "responses_stream-many")
        self._timers: list[tuple[float, int, Slot]] = []
        self._order = itertools.count()
        self._runnable: collections.deque[Slot] = collections.deque()
        self._live: dict[int, Slot] = {}
        self._exhausted = False
        self._starts = OPEN_BATCH  # left to start in this pass of the loop
        self._refill = False  # a stream ended: start the next one at once
        self._closed = False
        self._loop_thread: Optional[int] = None  # the thread running events()
        self.fail_fast = False
        """A callback's error ends every stream and is raised (``stream_many(fail_fast=True)``)."""
        self._lock = threading.Lock()  # orders post() against close()
        self.outcomes: list[Optional[Outcome]] = []
        """Each request's outcome by index (None while it runs)."""

    # ------------------------------------------------------------------------ the loop

    def events(self) -> Generator[tuple[Slot, Event, Any], None, None]:
        """Every event of every stream as it arrives, with its slot and what it touched."""
        self._loop_thread = threading.get_ident()
        try:
            while not self._closed:
                self._run_inbox()
                self._starts = OPEN_BATCH
                self._fill()
                runnable, inbox, timers, order = (
                    self._runnable,
                    self._inbox,
                    self._timers,
                    self._order,
                )
                while runnable and not self._closed:
                    slot = runnable.popleft()
                    if slot.done:
                        continue
                    # Run the stream until it waits for its socket (or a timer), or ends. Here
                    # and not in a generator of its own: that would be one more frame resumed
                    # per event, and one more generator made per wake-up.
                    try:
                        for event, touched in slot.pairs:
                            if event is WAIT:
                                if touched is not None:
                                    heapq.heappush(timers, (touched, next(order), slot))
                                break
                            yield slot, event, touched
                            # Ended by its callback, during the yield (which mypy cannot
                            # see: it keeps slot.done narrowed to False from above).
                            if slot.done:
                                break  # type: ignore[unreachable]
                        else:
                            self.end(slot, None)
                    except Exception as exc:  # the stream's own error: its outcome
                        self.end(slot, exc)
                    if inbox:
                        self._run_inbox()
                    if self._refill:
                        self._fill()
                if self._closed or (not self._live and self._exhausted):
                    break
                timeout = None
                if self._timers:
                    timeout = max(0.0, self._timers[0][0] - self._clock())
                if not self._starts and not self._exhausted and len(self._live) < self._concurrency:
                    timeout = 0  # more to start: look at the sockets, then start the next batch
                for key, _ in self.selector.select(timeout):
                    slot = key.data
                    if slot is None:
                        self._waker.woken()
                        continue
                    if slot.socket is not None:
                        slot.socket.ready = True
                    self._runnable.append(slot)  # its body, or its request while it opens
                self._fire_timers()
        except BaseException as exc:  # Ctrl-C in select(), say: every stream ends with it
            self.close(None if isinstance(exc, GeneratorExit) else exc)  # GeneratorExit: left
            raise
        finally:
            self.close()
            self._loop_thread = None

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
                self._waker.wake()
                return
        work()

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
            if self.fail_fast:
                raise  # out of events(), as an event callback's is out of run_callbacks

    # ------------------------------------------------------------------ opening streams

    def _fill(self) -> None:
        """Start requests until ``concurrency`` streams are live or none are left (at most
        :data:`OPEN_BATCH` in one pass of the loop)."""
        self._refill = False
        while (
            self._starts
            and not self._exhausted
            and len(self._live) < self._concurrency
            and not self._closed
        ):
            self._starts -= 1
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
                    make = self._make_handler
                    handler = handler_or_default(
                        make(index, params) if make is not None else None,
                        f"what handler({index}, params) returns",
                    )
                    handler._stop_requested = False
                    handler._snapshot = None
                slot.handler = handler
                opener = self._open_stream(slot, params)
            except Exception as exc:
                self.end(slot, exc)
                continue
            if isinstance(opener, GeneratorType):
                slot.pairs = self._opening(slot, opener)
                self._runnable.append(slot)
                continue
            future = self._pool.submit(contextvars.copy_context().run, cast(Any, opener))
            future.add_done_callback(self._answered(slot))

    def _opening(self, slot: Slot, steps: Opening) -> Generator[tuple[Event, Any], None, None]:
        """Run the steps that open ``slot``'s stream (``slot.pairs`` until it is open): each
        request on the selector (or, when it cannot go that way, on the pool), each back-off
        as a timer."""
        clock = self._clock
        ended, step = _advance(steps, None)
        while not ended:
            if isinstance(step, Attempt):
                session = self._transport.session
                pool = loop_pool(session, step, self._prepared)
                outcome: Any = None
                if pool is not None:
                    outcome = yield from exchange(
                        session,
                        pool,
                        step,
                        selector=self.selector,
                        owner=slot,
                        wait=WAIT,
                        offload=lambda work: self._wait_for(slot, work),
                        cache=self._prepared,
                    )
                    if (
                        not isinstance(outcome, Exception)
                        and outcome.is_redirect
                        and session.get_redirect_target(outcome) is not None
                    ):
                        # 307/308, which requests follows: from this answer on, on the pool. A
                        # 301, 302 or 303 is the call's error below, as in stream().
                        outcome = yield from self._wait_for(
                            slot, answer_after, session, outcome, step
                        )
                if pool is None:
                    outcome = yield from self._wait_for(slot, self._transport.exchange, step)
                elif not isinstance(outcome, Exception) and (
                    outcome.status_code >= 300 or refused_content_type(outcome.headers)
                ):
                    # The next step reads the error's body (or the body that is no event
                    # stream, for its error), which may take a while: not here.
                    ended, step = yield from self._wait_for(slot, _advance, steps, outcome)
                    continue
                ended, step = _advance(steps, outcome)
            else:
                if not (yield from self._back_off(slot, clock() + step)):
                    steps.close()  # stopped: not sent again; the stream ends with nothing
                    return
                ended, step = _advance(steps, None)
        self._start(slot, step)
        yield WAIT, None  # slot.pairs is the stream's now: it runs again from there

    def _back_off(self, slot: Slot, until: float) -> Generator[tuple[Event, Any], None, bool]:
        """Wait (as a timer) until ``until`` before a retry of ``slot``'s request; False if
        its handler was stopped meanwhile (``stop()`` wakes the slot)."""
        handler = slot.handler if slot.handler is not None else ResponseHandler()
        handler._wake_back_off = lambda: self.post(lambda: self._wake(slot))
        try:
            while self._clock() < until and not handler._stop_requested:
                yield WAIT, until
        finally:
            handler._wake_back_off = None
        return not handler._stop_requested

    def _wait_for(
        self, slot: Slot, work: Callable[..., Any], *args: Any
    ) -> Generator[tuple[Event, Any], None, Any]:
        """Run ``work(*args)`` on the pool; its result (its exception is raised here)."""
        future = self.offload(slot, lambda: work(*args))
        while not future.done():
            yield WAIT, None  # woken by offload when it is done
        return future.result()

    def _answered(self, slot: Slot) -> Callable[[Future[StreamCore]], None]:
        def answered(future: Future[StreamCore]) -> None:
            self.post(lambda: self._opened(slot, future))

        return answered

    def guarded(self, slot: Slot) -> Callable[[Guard], None]:
        """What a call of ``slot`` reports its guard to (``Call.on_guard``): the loop cancels
        it when it closes."""

        def report(guard: Guard) -> None:
            slot.guard = guard
            if self._closed or slot.done:
                guard.cancel()

        return report

    def _opened(self, slot: Slot, future: Future[StreamCore]) -> None:
        """A stream opened on the pool (on the loop's thread): set it up and read it."""
        try:
            stream = future.result()
        except Exception as exc:
            self.end(slot, exc)
            return
        self._start(slot, stream)

    def _start(self, slot: Slot, stream: StreamCore) -> None:
        """``slot``'s stream is open: set it up to be read on the selector, and run it."""
        if slot.done or self._closed:
            stream.close()
            return
        slot.stream = stream
        stream.on_closed = lambda: self._closed_meanwhile(slot)
        stream.open_body = slot.open_body
        stream.offload = lambda work: self.offload(slot, work)
        if slot.guard is not None:
            slot.guard.read = slot.read_limit
            # In place of the stream's own (its reader waits on the selector, suspended): the
            # server is not silent while bytes wait for the loop, busy with other callbacks.
            slot.guard.held = slot.held
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

    def _closed_meanwhile(self, slot: Slot) -> None:
        """``slot``'s stream was closed from outside its own run (another stream's callback
        calling its handler's ``stop()``, another thread): run it, so that it ends even if its
        socket, now off the selector, never wakes it."""
        if slot.done or self._closed:
            return
        if threading.get_ident() == self._loop_thread:
            self._runnable.append(slot)
            self._waker.wake()  # a signal handler's stop: select() would wait on after it
        else:
            self.post(lambda: None if slot.done else self._runnable.append(slot))

    # ------------------------------------------------------------------ ending streams

    def end(self, slot: Slot, error: Optional[BaseException]) -> None:
        """``slot`` is over, with ``error`` or its response: close it, tell its handler."""
        if slot.done:
            return
        slot.done = True
        stream = slot.stream
        handler = slot.handler
        outcome: Outcome
        if error is not None:
            error = uncarried(error)
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
            outcome = Response.from_wire({})  # as a stream that read nothing
        self._finish(slot, outcome)

    def _cancel_then_finish(self, slot: Slot, final: Response) -> None:
        """``cancel_on_stop``: cancel the stopped background response (on the pool), then
        finish with it, or with what the cancel raised."""

        def cancelled(done: Future[None]) -> None:
            error = None if done.cancelled() else done.exception()  # cancelled: loop closed
            self._finish(slot, final if error is None else error)

        future = self._pool.submit(slot.cancel, final)
        future.add_done_callback(lambda done: self.post(lambda: cancelled(done)))

    def _finish(self, slot: Slot, outcome: Outcome) -> None:
        if self._live.pop(slot.index, None) is None:
            return  # closed meanwhile: close() told the handler
        self._refill = not self._exhausted
        handler = slot.handler
        failed: Optional[Exception] = None  # raised by on_exception or on_end
        if handler is not None:
            handler._stream = None
            if isinstance(outcome, BaseException):
                try:
                    handler.on_exception(outcome)
                except Exception as exc:
                    outcome = failed = exc
            try:
                handler.on_end()
            except Exception as exc:
                outcome = failed = exc  # as stream()'s on_end, which runs in a finally
        self.outcomes[slot.index] = outcome
        if failed is not None and self.fail_fast and not self._closed:
            raise failed  # out of events(), as an event callback's is out of run_callbacks

    def close(self, error: Optional[BaseException] = None) -> None:
        """End every stream now (Ctrl-C, an error, or the caller left the loop); ``error``,
        what ended the loop, ends their tracing spans as it would end ``stream()``'s.

        A stream still running keeps its response so far as its outcome (None if it had not
        started); its handler's ``on_end`` is called. From another thread while the loop runs,
        the loop's thread does it when it runs again (a stream is let go by its reader)."""
        loop = self._loop_thread
        if loop is not None and loop != threading.get_ident():
            self.post(lambda: self.close(error))
            return
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
                stream.__exit__(type(error), error, None)  # closes it
                self.outcomes[slot.index] = stream.response
            elif isinstance(slot.pairs, GeneratorType):  # its request's steps (not the pool's)
                if error is not None:
                    with contextlib.suppress(BaseException):  # it comes back out: done
                        slot.pairs.throw(error)  # the steps end their span with it too
                slot.pairs.close()
            if slot.handler is not None:
                slot.handler._stream = None
                with contextlib.suppress(Exception):
                    slot.handler.on_end()
        self._live.clear()
        self._prepared.clear()  # it holds connection pools: the session's to close, not ours
        self._pool.shutdown()
        self._waker.close()


def _advance(steps: Opening, outcome: Any) -> tuple[bool, Any]:
    """``steps``' next step after ``outcome``: ``(False, step)``, or ``(True, its result)``."""
    try:
        return False, steps.send(outcome)
    except StopIteration as done:
        return True, done.value
