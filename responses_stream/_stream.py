"""One streamed response: HTTP body -> SSE messages -> typed events -> snapshot.

:class:`StreamCore` composes the steps (``_body``, ``_sse``, ``events.decode``, the
accumulator's ``feed``) into the per-event path, reports how the stream ended, and for a
background response continues on a new connection when one breaks (``_resume``). The
public handle ``client.events()`` returns is :class:`~responses_stream.EventStream`
(``_events_stream``).
"""

from __future__ import annotations

import functools
import inspect
import logging
import socket
import threading
import weakref
from operator import itemgetter
from types import GeneratorType
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Optional, Tuple

import requests

from ._accumulator import REPEAT, Accumulator
from ._body import Interrupter, body_chunks, drain
from ._metrics import TOKEN_TYPES, Meter, StreamMetrics
from ._resume import MARK_COMMENT, Recording, Resumer
from ._sse import COMMENT, DEFAULT_MAX_EVENT_BYTES, FramedSSEClient
from ._transport import attach, scrub, scrub_bytes, sent_secrets, translate
from ._watchdog import Guard
from .errors import (
    RETRYABLE_STREAM_ERROR_CODES,
    APITimeoutError,
    ProtocolError,
    ResponseFailedError,
    StreamError,
    StreamInterrupted,
)
from .events import TERMINAL_TYPES, Event, KeepAlive, decode
from .models import Response

if TYPE_CHECKING:
    from concurrent.futures import Future

    from ._tracing_spans import StreamSpan

logger = logging.getLogger("responses_stream")

_SSE_TYPES = ("text/event-stream",)
_NOT_SSE_TYPES = ("application/json", "text/html", "application/problem+json", "text/xml")


def _retryable(code: Optional[str], error_type: Optional[str]) -> bool:
    """Whether an in-band error is worth a retry: a rate limit or a server error, named by its
    code, else by its type (a null code), or an HTTP status as code (vLLM: "429", "503")."""
    key = code if code is not None else error_type
    if key in RETRYABLE_STREAM_ERROR_CODES:
        return True
    return key is not None and len(key) == 3 and key.isdigit() and (key == "429" or key[0] == "5")


def refused_content_type(headers: Mapping[str, str]) -> Optional[str]:
    """The media type of an answer that is surely no event stream (JSON, HTML...), else None
    (an event stream, or a type that may well be one: no type, ``text/plain``...)."""
    ctype = (headers.get("content-type") or "").split(";")[0].strip().lower()
    if ctype.startswith(_SSE_TYPES) or not ctype.startswith(_NOT_SSE_TYPES):
        return None
    return ctype


_FIRST = itemgetter(0)

Pair = Tuple[Event, Any]
"""An event and what it touched in the snapshot (for the handler's accumulated callbacks)."""

OpenBody = Callable[[Any, Interrupter, Meter], Iterator[bytes]]
"""``open_body(raw, interrupter, meter)``: the body bytes of a urllib3 response, ``b""``
whenever nothing has arrived yet (``_many``)."""

WAIT: Event = KeepAlive.from_wire({"type": "keepalive", "comment": None})
"""Only with :attr:`EventStream.open_body` set: the pair ``(WAIT, when)`` says nothing more is
there until the socket is readable, or until ``when`` (monotonic) if it is not ``None``."""
WAITING: Pair = (WAIT, None)


def _end_abandoned(span: StreamSpan, accumulator: Accumulator, meter: Meter) -> None:
    """End the span of a stream garbage-collected before its end (as the caller's choice)."""
    response = accumulator.response
    span.finish(response=response, metrics=meter.snapshot(response))


class StreamCore:
    """One streamed response being read: everything the per-event generators need.

    What ``client.stream()`` drives and what a public :class:`EventStream` wraps. The
    generators (:meth:`pairs`) refer to this object, never to the public handle, so a handle
    dropped unclosed is freed at once by reference counting and closes its core.

    After the HTTP response and the accumulator come the stream's ``meter`` (its timings and
    counts) and ``guard`` (its time limits, ``_watchdog``), which the client always passes; a
    stream without them (a replay, a finished checkpoint) gets a fresh meter and no limits.
    """

    def __init__(
        self,
        http_response: Optional[requests.Response],
        accumulator: Accumulator,
        meter: Optional[Meter] = None,
        guard: Optional[Guard] = None,
        *,
        deliver_after: Optional[int] = None,
        resumer: Optional[Resumer] = None,
        recording: Optional[Recording] = None,
        span: Optional[StreamSpan] = None,
        max_event_bytes: Optional[int] = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self._http: Optional[requests.Response] = http_response
        self._max_event_bytes = max_event_bytes
        # No HTTP response: nothing to read, the accumulator's response is the result (a
        # finished response loaded from a checkpoint, see _durable).
        self.request_id: Optional[str] = (
            http_response.headers.get("x-request-id") if http_response is not None else None
        )
        """The server's ``x-request-id`` for this stream (log it when reporting problems)."""
        self.accumulator = accumulator
        """The snapshot builder (the handler's dispatcher reads its open items at the end)."""
        self.done_sentinel = False
        """True when ``data: [DONE]`` ended the events before any terminal event (a server
        that ends its streams so; after the terminal event nothing more is read as events)."""
        self.json_output = False
        """True when the request asked for JSON output (``text_format=``): the handler's
        ``on_parsed_delta`` is then called."""
        self._deliver_after = deliver_after
        self.on_closed: Optional[Callable[[], None]] = None
        """Called at the end of every :meth:`close` (``stream_many`` runs the stream again,
        so that it ends, however idle its socket)."""
        self.on_mark: Optional[Callable[[str, Optional[int]], Optional[int]]] = None
        """Set for a recording played offline (``rs.replay``): takes each mark the recording
        wrote (``_resume.MARK_COMMENT``...; a live stream reads one as a keep-alive) and the
        cursor of what to deliver (``starting_after``), and returns that cursor."""
        self.meter = meter if meter is not None else Meter()
        """The stream's timings and counts (read them as :attr:`metrics`)."""
        self.meter.headers(self.request_id)
        self._guard = guard
        if guard is not None:
            guard.held = self._held  # time in callbacks is no wait for the server
        self._resumer = resumer
        self._recording = recording
        self._sse: Optional[FramedSSEClient] = None
        self._pairs: Optional[Iterator[Pair]] = None
        self._events: Optional[Iterator[Event]] = None
        self._closed = False
        self._interrupter = Interrupter()
        if http_response is not None:
            self._interrupter.watch(http_response.raw)
        self._reader: Optional[threading.Thread] = None  # the one reading the body (see close)
        self._truncated = False  # the last connection's, once its framer is let go
        self._timed_out: Optional[str] = None  # the limit that ended it, for its recording
        self._failed = False  # an error ended it (a callback's, Ctrl-C): no stop to record
        self._close_lock = threading.RLock()  # two threads closing at once take turns
        self._span: Optional[StreamSpan] = None
        self.wrap_pairs: Optional[Callable[[Iterator[Pair]], Iterator[Pair]]] = None
        self.open_body: Optional[OpenBody] = None
        """Set by ``stream_many`` before reading starts: the body is read without ever
        waiting (see ``_many``); the pairs then include :data:`WAIT` ones."""
        self.offload: Optional[Callable[[Callable[[], Any]], Future[Any]]] = None
        """Set by ``stream_many``: runs a blocking step (a resume's back-off and request) on
        another thread while the pairs yield :data:`WAIT`."""
        """Wraps the pairs once, when reading starts: how ``_durable`` saves checkpoints as
        the events are handled. ``None`` costs nothing per event."""
        try:
            if http_response is not None:
                self._check_content_type(http_response)
        except BaseException:
            self._failed = True
            self.close()
            raise  # the caller ends the span with this error
        # The tracing span (None when tracing is off), ended once by _end_span. A stream
        # dropped unread or abandoned mid-way ends it when garbage-collected, with the
        # response so far (the finalizer holds the accumulator and meter, never the stream).
        self._span = span
        if span is not None:
            weakref.finalize(self, _end_abandoned, span, accumulator, self.meter)

    # ------------------------------------------------------------------------- public API

    @property
    def response(self) -> Response:
        """The :class:`~responses_stream.Response` snapshot so far (final after the end)."""
        return self.accumulator.response

    @property
    def last_sequence_number(self) -> Optional[int]:
        """The highest ``sequence_number`` received so far, or ``None``."""
        return self.accumulator.last_sequence_number

    @property
    def resumes(self) -> int:
        """How many times the stream was resumed after breaking."""
        return self._resumer.resumes if self._resumer is not None else 0

    @property
    def metrics(self) -> StreamMetrics:
        """How the stream went so far: timings, counts, retries and resumes (see
        :class:`~responses_stream.StreamMetrics`); final once the stream ended."""
        sse = self._sse
        return self.meter.snapshot(
            self.response,
            unread_bytes=sse.bytes_received if sse is not None else 0,
            resumes=self.resumes,
        )

    @property
    def truncated(self) -> bool:
        """True once the current connection's body ended inside an event (and after the end
        of the stream, if the last connection's did)."""
        sse = self._sse
        return sse.truncated if sse is not None else self._truncated

    @property
    def cut(self) -> Any:
        """The data of the event the current connection broke inside, if it did (see
        ``FramedSSEClient.cut``): the ``unparsed`` of the error that reports it."""
        sse = self._sse
        return sse.cut if sse is not None else None

    def __iter__(self) -> Iterator[Event]:
        if self._events is None:
            self._events = map(_FIRST, self.pairs())  # C-level: no Python frame per event
        return self._events

    def pairs(self) -> Iterator[Pair]:
        """Each event with what it touched in the snapshot: what ``client.stream()`` drives.

        Shares its position with the event iterator (``iter(stream)``).
        """
        if self._pairs is None:
            # Only a background stream can be resumed; the others skip the resume loop's frame.
            http = self._http
            if http is None:
                self._pairs = iter(())
            elif self._resumer is None:
                self._pairs = self._connection(http)
            else:
                self._pairs = self._resuming(http)
            if self.wrap_pairs is not None:
                self._pairs = self.wrap_pairs(self._pairs)
            if self._span is not None:
                self._pairs = self._traced(self._pairs)
        return self._pairs

    def __enter__(self) -> StreamCore:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._span is not None:
            self._end_span(exc_info[1])  # an exception in the block: a callback's, say
        self._failed = self._failed or exc_info[1] is not None  # ended by it, not stopped
        self.close()

    def close(self) -> None:
        """Close the connection: safe to call more than once, and from any thread.

        Called from another thread while this stream is read, it takes effect at once, even in
        the middle of a blocked read: the socket is shut down, iteration ends without an error
        (:attr:`response` holds what had arrived) and the reading thread releases the
        connection on its way out. A closed background stream is never resumed.
        """
        self._closed = True
        if self._resumer is not None:
            self._resumer.cancel()
        self._interrupter.interrupt()  # a read blocked on the socket returns now
        try:
            self._close_here()
        finally:
            if self.on_closed is not None:
                self.on_closed()

    def _close_here(self) -> None:
        with self._close_lock:
            pairs = self._pairs
            if self._read_elsewhere(pairs):
                return  # the reading thread sees _closed and cleans up (see _connection)
            self._pairs = None
            close = getattr(pairs, "close", None)  # not on the empty iterator of a closed one
            if close is not None:
                try:
                    close()
                except ValueError:
                    return  # another thread started reading just now: it cleans up
            http, self._http = self._http, None
            if http is not None:
                http.close()
            if self._recording is not None:
                # Closed before reading began (a stop() before the headers): a stop too.
                unread = pairs is None or (
                    isinstance(pairs, GeneratorType)
                    and inspect.getgeneratorstate(pairs) == inspect.GEN_CREATED
                )
                stopped_after = self._stopped_after() if unread else None
                self._recording.close(stopped_after=stopped_after, timed_out=self._timed_out)
            if self._span is not None:
                self._end_span(None)  # closed before the end, or never read

    def _held(self) -> bool:
        """True while the consumer holds the stream up (a callback runs, or the loop of an
        ``events()`` caller): it has an event and is not reading (the watchdog asks)."""
        pairs = self._pairs
        return (
            isinstance(pairs, GeneratorType)
            and inspect.getgeneratorstate(pairs) == inspect.GEN_SUSPENDED
        )

    def _read_elsewhere(self, pairs: Optional[Iterator[Pair]]) -> bool:
        """True while ``pairs`` is being read, or was left mid-stream, by another thread.

        Closing a generator runs it: from a thread other than its reader that would race the
        reader's next step ("generator already executing"), so only the reader closes it.
        """
        if not isinstance(pairs, GeneratorType):
            return False
        state = inspect.getgeneratorstate(pairs)
        if state == inspect.GEN_RUNNING:
            return True  # another thread, or a callback of ours such as on_resume
        # Left mid-stream by a thread that has ended, it cannot race anyone: closed here.
        reader = self._reader
        return (
            state == inspect.GEN_SUSPENDED
            and reader is not threading.current_thread()
            and (reader is None or reader.is_alive())
        )

    def until_done(self) -> Response:
        """Consume the rest of the stream and return the final response."""
        for _ in self.pairs():
            pass
        return self.response

    # ---------------------------------------------------------------------------- pipeline

    def _check_content_type(self, resp: requests.Response) -> None:
        ctype = refused_content_type(resp.headers)
        if ctype is None:
            return
        try:
            body = resp.raw.read(1 << 20, decode_content=True)
        except Exception:
            body = b""
        # A server may echo the request's credentials (a debugging endpoint, a proxy's page).
        secrets = sent_secrets(resp)
        text = scrub(body.decode("utf-8", errors="replace"), secrets)
        raise ProtocolError(
            f"expected an event stream (text/event-stream) but the server answered "
            f"{resp.status_code} with Content-Type {ctype!r}: {' '.join(text.split())[:200]}",
            data=scrub_bytes(body, secrets),
            response=self.response,
            request_id=self.request_id,
        )

    def _resuming(self, http: requests.Response) -> Iterator[Pair]:
        """The connections of a background stream, each resumed after the last one broke."""
        resumer = self._resumer
        assert resumer is not None
        while True:
            try:
                yield from self._connection(http)
                return
            except (StreamInterrupted, APITimeoutError) as exc:
                timed_out, self._timed_out = self._timed_out, None  # unless it ends with it
                following = None  # a closed stream is not resumed
                if not self._closed:
                    if self.offload is None:
                        following = resumer.next_connection(exc, self.accumulator, self)
                    else:  # stream_many: the back-off and request on another thread
                        done = self.offload(
                            functools.partial(resumer.next_connection, exc, self.accumulator, self)
                        )
                        while not done.done():
                            yield WAITING
                        following = done.result()
                if following is None:
                    if self._closed:  # closed on purpose, perhaps during the back-off
                        self._end_closed()
                        return
                    self._timed_out = timed_out
                    raise
            http = self._http = following
            self._interrupter.watch(http.raw)  # shut down at once if closed meanwhile
            self.request_id = http.headers.get("x-request-id") or self.request_id
            self.meter.headers(self.request_id)
            try:
                self._check_content_type(http)
            except ProtocolError:
                if not self._closed:
                    raise
                # Closed meanwhile: its body was cut short; the next pass ends quietly.

    def _traced(self, pairs: Iterator[Pair]) -> Iterator[Pair]:
        """``pairs``, ending the tracing span when they end: only when tracing is on."""
        try:
            yield from pairs
        except BaseException as exc:  # GeneratorExit (closed early) ends it as no error
            self._end_span(exc)
            raise
        self._end_span(None)

    def _end_span(self, error: Optional[BaseException]) -> None:
        """End the tracing span with the outcome so far (only the first call counts)."""
        span = self._span
        if span is not None and not span.ended:
            response = self.response
            terminal = self.accumulator.terminal
            if not self.accumulator.keep_output and terminal is not None:
                # accumulate=False kept no output: the terminal payload says how it finished.
                response = getattr(terminal, "response", None) or response
            span.finish(response=response, metrics=self.metrics, error=error)

    def _connection(self, http: requests.Response) -> Iterator[Pair]:
        """The events of one HTTP response; raises how it ended unless it completed.

        Ends quietly once the stream is closed, whatever the read in progress then raises.
        """
        self._reader = threading.current_thread()  # close() from another leaves it to us
        if self.open_body is None:
            source = body_chunks(http.raw, interrupter=self._interrupter)
        else:
            source = self.open_body(http.raw, self._interrupter, self.meter)
        if self._recording is not None:
            source = self._recording.wrap(source)
        waits = self.open_body is not None
        sse = self._sse = FramedSSEClient(source, self._max_event_bytes, waits=waits)
        feed = self.accumulator.feed
        meter = self.meter
        clock = meter.clock
        deliver_after = self._deliver_after
        guard = self._guard
        if guard is not None:
            guard.reading(self._interrupter.shut)  # the watchdog may now end a blocked read
        seen_any = False
        try:
            for name, text in sse.messages():
                if self._closed:
                    break  # closed from another thread: what has arrived is the result
                if name != COMMENT:
                    seen_any = True
                    if text[:1] == "[" and text.startswith("[DONE]"):
                        self.done_sentinel = True
                        break
                    event = decode(name, text)
                else:
                    if not text:  # nothing has arrived yet: a non-blocking body (open_body)
                        yield WAITING
                        continue
                    if self.on_mark is not None and text.startswith(MARK_COMMENT):
                        deliver_after = self._deliver_after = self.on_mark(text, deliver_after)
                        continue
                    seen_any = True
                    event = KeepAlive.from_wire({"type": "keepalive", "comment": text[1:]})
                # The stream's metrics (see Meter), here rather than in a call per event.
                # metrics: begin (benchmarks.worker cuts these lines to measure their cost)
                now = clock()
                gap = now - meter.last_event_at
                if gap > meter.max_gap:  # noqa: PLR1730 - cheaper than max() per event
                    meter.max_gap = gap
                meter.last_event_at = now
                if meter.first_event_at is None:
                    meter.first_event_at = now
                meter.events += 1
                kind = event.type
                if kind in TOKEN_TYPES:
                    if meter.first_token_at is None:
                        meter.first_token_at = now
                    meter.last_token_at = now
                # metrics: end
                if kind != "keepalive":  # a heartbeat is no progress (the idle limit)
                    meter.progress_at = now
                elif name == COMMENT:
                    yield event, None
                    continue
                touched = feed(event)
                if touched is REPEAT:
                    continue  # delivered before the stream was resumed
                if deliver_after is None:
                    yield event, touched
                else:
                    seq = event.sequence_number
                    if type(seq) is int:
                        if seq > deliver_after:
                            self._deliver_after = deliver_after = None
                            yield event, touched
                        # else: replayed only to rebuild the snapshot; the caller has seen it
                    else:
                        # No number: it comes after the numbers before it. Up to the event
                        # numbered deliver_after, it is part of that replay too.
                        last = self.accumulator.last_sequence_number
                        if last is not None and last >= deliver_after:
                            yield event, touched
                if event.type in TERMINAL_TYPES:
                    # Read the end of the body, so the connection can be reused.
                    if self.open_body is None:
                        for _ in drain(http.raw, source, counted=self._drained):
                            pass  # a blocking drain never yields
                    else:
                        for give_up in drain(http.raw, source, wait=False, counted=self._drained):
                            yield WAIT, give_up
                    self.raise_end(event.type)
                    return
            if self._closed:
                return
            if not seen_any and sse.bytes_received:
                raise ProtocolError(
                    f"the body is not a server-sent event stream: {sse.head[:200]!r}",
                    data=sse.head,
                )
            self.raise_end(None)
        except Exception as exc:
            expired = guard.expired if guard is not None else None
            error = translate(exc, stream=self, expired=expired)
            if self._closed and error is not None:
                # Closed on purpose, perhaps from another thread in the middle of this read:
                # the socket shut down under it, which is no failure of the stream.
                return
            if isinstance(error, APITimeoutError):
                self._timed_out = expired or "read"
            if error is None or error is exc:
                raise
            if expired is not None:
                # A limit passed and the watchdog shut the socket: what the read then raised
                # is no cause. A read limit (stream_many's sockets never block) is the
                # socket timeout a blocking read would have raised.
                raise error from (socket.timeout("timed out") if expired == "read" else None)
            raise error from exc
        finally:
            if guard is not None:
                guard.disarm()
            self.meter.bytes += sse.bytes_received
            # The framer and the body reader hold the socket's file: let them go with it.
            self._truncated = sse.truncated
            self._sse = None
            close = getattr(source, "close", None)
            if close is not None:
                close()
            self._interrupter.release(http.raw)  # never shut its socket down once reused
            http.close()
            if self._http is http:
                self._http = None
            self.response.__dict__["_metrics"] = self.metrics
            if self._closed:
                self._end_closed()

    def _drained(self, received: int) -> None:
        """Body bytes read after the terminal event: received too (``metrics.bytes``)."""
        self.meter.bytes += received

    def _end_closed(self) -> None:
        """The reading thread's share of a close() (from anywhere): the recording's end."""
        if self._recording is not None:
            self._recording.close(stopped_after=self._stopped_after())

    def _stopped_after(self) -> Optional[int]:
        """The messages read before a stop, for the recording (None: it had ended)."""
        ended = self._failed or self.accumulator.terminal is not None
        return None if ended else self.meter.events

    def raise_end(self, kind: Optional[str]) -> None:
        """Raise what the end of the stream means (``kind``: its terminal event's type, None
        when the body ended without one), if it is not a normal completion."""
        acc = self.accumulator
        if kind in ("response.completed", "response.incomplete"):
            return
        error = acc.error_event
        if error is not None:
            code = error.code
            raise StreamError(
                f"the server sent an error event: {error.message or '(no message)'}"
                + (f" (code {code})" if code else ""),
                code=code,
                param=error.param,
                type=error.error_type,
                headers=error.headers,
                retryable=_retryable(code, error.error_type) and not acc.saw_output,
                sequence_number=error.sequence_number,
            )
        if kind == "response.failed":
            detail = self.response.error
            reason = (detail.message or detail.code) if detail is not None else None
            raise ResponseFailedError(f"the response failed: {reason or 'no reason given'}")
        why = "data: [DONE]" if self.done_sentinel else "the end of the body"
        raise attach(
            StreamInterrupted(f"{why} came before a terminal event", unparsed=self.cut), self
        )
