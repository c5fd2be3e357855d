"""One streamed response: HTTP body -> SSE messages -> typed events -> snapshot.

:class:`EventStream` is what ``client.events()`` returns and what ``client.stream()`` drives.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import socket
import time
from typing import Any, BinaryIO, Callable, Dict, Iterator, Optional, Tuple, Type, Union

import requests
import urllib3.exceptions
import urllib3.response

from . import events as ev
from ._accumulator import TERMINAL_TYPES, Accumulator
from ._body import drain, socket_body
from ._sse import COMMENT, FramedSSEClient
from .errors import (
    RETRYABLE_STREAM_ERROR_CODES,
    APITimeoutError,
    ProtocolError,
    ResponseFailedError,
    ResponsesStreamError,
    StreamError,
    StreamInterrupted,
)
from .models import Response

logger = logging.getLogger("responses_stream")

READ_SIZE = 65536
"""Bytes asked of the socket per read: ``read1`` returns as soon as any are available."""

_SSE_TYPES = ("text/event-stream",)
_NOT_SSE_TYPES = ("application/json", "text/html", "application/problem+json", "text/xml")

_loads = json.loads
_BLOCK_END = re.compile(rb"(?:\r\n|\n|\r(?!\n))(?:\r\n|\n|\r)")
"""Two line ends in a row (CRLF, LF or CR, mixed as they come): the end of an SSE block."""
_parse = ev.parse_event
_KeepAlive = ev.KeepAlive


def _chunks(raw: Any, record: Optional[BinaryIO] = None) -> Iterator[bytes]:
    """Yield body bytes as soon as they arrive, for chunked and close-delimited bodies alike.

    ``iter_content(None)`` holds a close-delimited body back until EOF and ``iter_content()``
    reads one byte at a time (``research/PERF-BASELINE.md``); ``read1`` does neither. With
    ``record``, every byte is also written there as received.
    """
    # Everything that has arrived, in one read, straight off the socket (see _body).
    source = socket_body(raw, READ_SIZE)
    if source is None:
        read1 = getattr(raw, "read1", None)
        if read1 is not None:
            # A C-level callable iterator: no Python frame per read. read1 returns b"" only at
            # the end of the body.
            if isinstance(raw, urllib3.response.HTTPResponse):
                # requests leaves decompression to iter_content, which is not used here.
                read1 = functools.partial(read1, decode_content=True)
            source = iter(functools.partial(read1, READ_SIZE), b"")
        else:
            source = raw.stream(1024, decode_content=True)
    if record is None:
        return source
    return _recorded(source, record)


def _recorded(source: Iterator[bytes], record: BinaryIO) -> Iterator[bytes]:
    for chunk in source:
        record.write(chunk)
        record.flush()
        yield chunk


Reopen = Callable[[str, Optional[int]], requests.Response]
"""Opens ``GET /responses/{id}?stream=true&starting_after=N`` for a background resume."""


class EventStream:
    """Pull-style access to one streamed response.

    Iterate it for typed events (each is already applied to :attr:`response`); use it as a
    context manager so the connection is closed however you leave the loop::

        with client.events(model="gpt-5", input="Hi") as stream:
            for event in stream:
                ...
            final = stream.response

    Iteration ends after the terminal event. It raises, after yielding the event that caused it,
    :class:`~responses_stream.ResponseFailedError` on ``response.failed``,
    :class:`~responses_stream.StreamError` after an in-band ``error`` event, and
    :class:`~responses_stream.StreamInterrupted` when the body ends before a terminal event.
    SSE comments are yielded as :class:`~responses_stream.events.KeepAlive` with ``comment`` set.

    For a background response (``background=True``) a stream that breaks (reset, idle timeout,
    end of body before a terminal event) is resumed from the last ``sequence_number`` up to
    ``max_resumes`` times; events already delivered are never delivered again.
    """

    def __init__(
        self,
        http_response: requests.Response,
        *,
        accumulate: bool = True,
        snapshot: Optional[Response] = None,
        starting_after: Optional[int] = None,
        deliver_after: Optional[int] = None,
        deadline: Optional[float] = None,
        clock: Callable[[], float] = time.monotonic,
        reopen: Optional[Reopen] = None,
        max_resumes: int = 5,
        on_resume: Optional[Callable[[str, Optional[int]], None]] = None,
        sleep: Callable[[float], None] = time.sleep,
        record_to: Optional[Union[str, os.PathLike[str]]] = None,
    ) -> None:
        self._http: Optional[requests.Response] = http_response
        self.request_id: Optional[str] = http_response.headers.get("x-request-id")
        """The server's ``x-request-id`` for this stream (log it when reporting problems)."""
        self._accumulator = Accumulator(snapshot)
        self._deliver_after = deliver_after
        self._reopen = reopen
        self._max_resumes = max_resumes
        self._on_resume = on_resume
        self._sleep = sleep
        self.resumes = 0
        """How many times the stream was resumed after breaking."""
        self._record: Optional[BinaryIO] = None
        self._record_start = 0  # where the current connection's bytes start in the recording
        self._accumulate = accumulate
        self._starting_after = starting_after
        self._deadline = deadline
        self._clock = clock
        self._iterator: Optional[Iterator[ev.Event]] = None
        self.last_result: Any = None
        """What the last event touched in the snapshot (the part, call or item)."""
        self.done_sentinel = False
        self._check_content_type(http_response)
        if record_to is not None:
            # w+b: a resume reads back the cut connection's tail (see _trim_recording).
            self._record = open(record_to, "w+b")  # noqa: SIM115 - closed in close()

    # ------------------------------------------------------------------------- public API

    @property
    def response(self) -> Response:
        """The :class:`~responses_stream.Response` snapshot so far (final after the end)."""
        return self._accumulator.response

    @property
    def last_sequence_number(self) -> Optional[int]:
        """The highest ``sequence_number`` received so far, or ``None``."""
        return self._accumulator.last_sequence_number

    @property
    def accumulator(self) -> Accumulator:
        """The snapshot builder (for the dispatcher's fallback callbacks)."""
        return self._accumulator

    def __iter__(self) -> Iterator[ev.Event]:
        if self._iterator is None:
            # Only a background stream can be resumed; the others skip the resume loop's frame.
            resumable = self._reopen is not None
            self._iterator = self._events() if resumable else self._connection_events()
        return self._iterator

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (safe to call more than once)."""
        http, self._http = self._http, None
        if http is not None:
            http.close()
        iterator, self._iterator = self._iterator, None
        if iterator is not None:
            iterator.close()  # type: ignore[attr-defined]
        record, self._record = self._record, None
        if record is not None:
            record.close()

    def until_done(self) -> Response:
        """Consume the rest of the stream and return the final response."""
        for _ in self:
            pass
        return self.response

    # ---------------------------------------------------------------------------- pipeline

    def _check_content_type(self, resp: requests.Response) -> None:
        ctype = (resp.headers.get("content-type") or "").split(";")[0].strip().lower()
        if ctype.startswith(_SSE_TYPES) or not ctype.startswith(_NOT_SSE_TYPES):
            return
        try:
            body = resp.raw.read(1 << 20, decode_content=True)
        except Exception:
            body = b""
        finally:
            self.close()
        text = body.decode("utf-8", errors="replace")
        raise ProtocolError(
            f"expected an event stream (text/event-stream) but the server answered "
            f"{resp.status_code} with Content-Type {ctype!r}: {' '.join(text.split())[:200]}",
            data=body,
            response=self.response,
            request_id=self.request_id,
        )

    def _events(self) -> Iterator[ev.Event]:
        while True:
            try:
                yield from self._connection_events()
                return
            except (StreamInterrupted, APITimeoutError) as exc:
                if not self._resume(exc):
                    raise

    def _resume(self, exc: ResponsesStreamError) -> bool:
        """Reopen a broken background stream after the last event seen; False if not possible."""
        acc = self._accumulator
        response_id = self.response.id
        deadline = self._deadline
        if (
            self._reopen is None
            or response_id is None
            or self.resumes >= self._max_resumes
            or (deadline is not None and self._clock() >= deadline)
        ):
            return False
        after = acc.last_sequence_number
        self.resumes += 1
        logger.info("resuming %s after sequence_number %s: %s", response_id, after, exc)
        if self._on_resume is not None:
            self._on_resume(response_id, after)
        self._sleep(min(0.5 * 2.0 ** (self.resumes - 1), 8.0))
        self._trim_recording()
        http = self._reopen(response_id, after)
        self._http = http
        self.request_id = http.headers.get("x-request-id") or self.request_id
        self._starting_after = after
        return True

    def _trim_recording(self) -> None:
        """Before a resumed connection's bytes are recorded, drop the cut event's partial bytes.

        The resumed stream sends that event again, whole; left in place, its partial bytes would
        run into it and the recording would replay as a broken stream instead of the one the
        caller saw.
        """
        record = self._record
        if record is None:
            return
        record.flush()
        end = record.tell()
        record.seek(self._record_start)
        tail = record.read(end - self._record_start)
        whole = max((m.end() for m in _BLOCK_END.finditer(tail)), default=0)
        record.truncate(self._record_start + whole)
        record.seek(self._record_start + whole)

    def _connection_events(self) -> Iterator[ev.Event]:
        """The events of one HTTP response; raises how it ended unless it completed."""
        http = self._http
        if http is None:
            return
        if self._record is not None:
            self._record_start = self._record.tell()
        source = _chunks(http.raw, self._record)
        sse = FramedSSEClient(source)
        acc = self._accumulator
        # Accumulator.apply, inlined below: sequence tracking, then the event's own step.
        handlers: Dict[str, Callable[[Any], Any]]
        fallback: Optional[Callable[[Any], Any]]
        if self._accumulate:
            handlers, fallback = acc.handlers, None
        else:
            handlers, fallback = {}, _no_accumulate(acc)
        plain_types = ev._PLAIN_EVENT_TYPES
        new_event = object.__new__
        deliver_after = self._deliver_after
        starting_after = self._starting_after
        deadline = self._deadline
        clock = self._clock
        messages = sse.messages()
        seen_any = False
        try:
            while True:
                try:
                    message = next(messages)
                except StopIteration:
                    break
                except Exception as exc:
                    raise self._translate(exc, sse) from exc
                seen_any = True
                name, data_text = message
                if name == COMMENT:
                    comment = data_text[1:]
                    yield _KeepAlive.from_wire({"type": "keepalive", "comment": comment})
                    continue
                if data_text[:1] == "[" and data_text.startswith("[DONE]"):
                    self.done_sentinel = True
                    break
                try:
                    data = _loads(data_text)
                except ValueError as exc:
                    if sse.truncated:
                        raise self._interrupted(
                            "the stream ended in the middle of an event", data_text
                        ) from exc
                    raise ProtocolError(
                        f"an SSE data line is not valid JSON ({exc}): {data_text[:200]!r}",
                        data=data_text,
                        response=self.response,
                        request_id=self.request_id,
                    ) from exc
                if type(data) is not dict:
                    raise ProtocolError(
                        f"an SSE data line is JSON but not an object: {data_text[:200]!r}",
                        data=data_text,
                        response=self.response,
                        request_id=self.request_id,
                    )
                kind = data.get("type")
                cls = plain_types.get(kind) if type(kind) is str else None
                if cls is not None and cls._RESERVED.isdisjoint(data):
                    # Event.from_wire inlined for the common case (no nested objects, no key
                    # that would shadow a method): this loop runs once per event.
                    event = new_event(cls)
                    attrs = event.__dict__
                    attrs.update(data)
                    attrs["_raw"] = data
                elif "type" not in data and name != "message":
                    event = _parse(dict(data, type=name))
                    event.__dict__["_raw"] = data
                else:
                    event = _parse(data)
                seq = event.sequence_number
                if type(seq) is int:  # anything else on the wire is no cursor: not compared
                    if starting_after is not None and seq <= starting_after:
                        continue  # already delivered before the stream was resumed
                    last = acc.last_sequence_number
                    if last is None or seq > last:
                        acc.last_sequence_number = seq
                kind = event.type
                step = handlers.get(kind, fallback)
                self.last_result = None if step is None else step(event)
                if deliver_after is None:
                    yield event
                elif type(seq) is not int or seq > deliver_after:
                    self._deliver_after = deliver_after = None
                    yield event
                # else: replayed only to rebuild the snapshot, the caller has seen it
                if kind in TERMINAL_TYPES:
                    drain(http.raw, source)  # so the connection can be reused
                    self._finish(event)
                    return
                if deadline is not None and clock() > deadline:
                    raise APITimeoutError(
                        "the call's total timeout passed during the stream",
                        response=self.response,
                        request_id=self.request_id,
                        last_sequence_number=acc.last_sequence_number,
                    )
            if not seen_any and sse.bytes_received:
                raise ProtocolError(
                    f"the body is not a server-sent event stream: {sse.head[:200]!r}",
                    data=sse.head,
                    response=self.response,
                    request_id=self.request_id,
                )
            self._finish(None)
        finally:
            http.close()
            if self._http is http:
                self._http = None

    def _finish(self, terminal: Optional[ev.Event]) -> None:
        """Raise what the end of the stream means, if it is not a normal completion."""
        acc = self._accumulator
        error = acc.error_event
        kind = terminal.type if terminal is not None else None
        if kind in ("response.completed", "response.incomplete"):
            return
        if error is not None:
            code = error.code
            raise StreamError(
                f"the server sent an error event: {error.message or '(no message)'}"
                + (f" (code {code})" if code else ""),
                code=code,
                param=error.param,
                type=error.error_type,
                headers=error.headers,
                retryable=code in RETRYABLE_STREAM_ERROR_CODES and not acc.saw_output,
                response=self.response,
                request_id=self.request_id,
                sequence_number=error.sequence_number,
            )
        if kind == "response.failed":
            detail = self.response.error
            reason = (detail.message or detail.code) if detail is not None else None
            raise ResponseFailedError(
                f"the response failed: {reason or 'no reason given'}",
                response=self.response,
                request_id=self.request_id,
            )
        why = "data: [DONE]" if self.done_sentinel else "the end of the body"
        raise self._interrupted(f"{why} came before a terminal event", None)

    def _interrupted(self, message: str, data: Any) -> StreamInterrupted:
        acc = self._accumulator
        seq = acc.last_sequence_number
        exc = StreamInterrupted(
            f"{message} (last sequence_number {seq}); the partial response is on .response",
            response=self.response,
            request_id=self.request_id,
            last_sequence_number=seq,
            response_id=self.response.id,
        )
        exc.unparsed = data  # type: ignore[attr-defined]
        return exc

    def _translate(self, exc: Exception, sse: FramedSSEClient) -> ResponsesStreamError:
        """Map an exception raised while reading or framing the body to an SDK error."""
        acc = self._accumulator
        if isinstance(exc, ResponsesStreamError):
            return exc
        if isinstance(exc, UnicodeDecodeError):
            if sse.truncated:
                return self._interrupted("the stream ended inside a UTF-8 character", None)
            return ProtocolError(
                f"the stream is not valid UTF-8: {exc}",
                data=exc.object,
                response=self.response,
                request_id=self.request_id,
            )
        timeout_types: Tuple[Type[BaseException], ...] = (
            urllib3.exceptions.ReadTimeoutError,
            socket.timeout,
            requests.ReadTimeout,
        )
        if isinstance(exc, timeout_types):
            return APITimeoutError(
                f"no data for longer than the read timeout: {exc}",
                response=self.response,
                request_id=self.request_id,
                last_sequence_number=acc.last_sequence_number,
            )
        connection_types: Tuple[Type[BaseException], ...] = (
            urllib3.exceptions.HTTPError,
            requests.RequestException,
            OSError,
        )
        if isinstance(exc, connection_types):
            return self._interrupted(f"the connection broke: {exc}", None)
        return ProtocolError(
            f"unexpected error while reading the stream: {exc!r}",
            response=self.response,
            request_id=self.request_id,
        )


def _no_accumulate(acc: Accumulator) -> Callable[[ev.Event], Any]:
    """``accumulate=False``: track only what resume and errors need, keep no output.

    The sequence number is tracked by the caller (as for the accumulator's steps).
    """

    def apply(event: ev.Event) -> Any:
        kind = event.type
        if kind in _LIFECYCLE:
            response = getattr(event, "response", None)
            if response is not None:
                attrs = acc.response.__dict__
                for key, value in response.__dict__.items():
                    if key != "output":
                        attrs[key] = value
            if kind in TERMINAL_TYPES:
                acc.terminal = event
            return acc.response
        if kind == "error":
            acc.error_event = event  # type: ignore[assignment]
        elif kind[-6:] == ".delta":
            acc.saw_output = True
        return None

    return apply


_LIFECYCLE = frozenset(
    {
        "response.created",
        "response.queued",
        "response.in_progress",
        "response.completed",
        "response.incomplete",
        "response.failed",
    }
)


class _ChunkReader:
    """A stand-in for urllib3's raw response over chunks already in memory (replay, tests)."""

    def __init__(self, chunks: Any) -> None:
        # An empty read means end of body, so empty chunks are dropped here.
        self._chunks = (bytes(chunk) for chunk in chunks if chunk)

    def read1(self, amt: int = -1) -> bytes:
        return next(self._chunks, b"")

    def read(self, amt: int = -1, decode_content: bool = True) -> bytes:
        return b"".join(self._chunks)

    def close(self) -> None:
        pass


def offline_response(chunks: Any, content_type: str = "text/event-stream") -> requests.Response:
    """A ``requests.Response`` whose body is ``chunks`` (an iterable of bytes), for replay."""
    resp = requests.Response()
    resp.status_code = 200
    resp.headers["content-type"] = content_type
    resp.raw = _ChunkReader(chunks)
    return resp
