"""Resuming a broken background stream, and recording the bytes of a stream (``record_to``).

A background response (``background=True``) can be re-attached with
``GET /responses/{id}?stream=true&starting_after=N``. :class:`Resumer` decides whether a broken
connection may be resumed (an id, a sequence number to resume after, resumes and time left),
waits the back-off and opens the next connection; the accumulator then drops what the server
sends again and checks that nothing was skipped (:meth:`Accumulator.resuming`).

:class:`Recording` writes every body byte as it arrives; before a resumed connection's bytes it
drops the cut event's partial bytes, and a stream the caller stopped ends with the last event
the caller saw and a mark saying so, so the file replays as the stream the caller saw.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import IO, TYPE_CHECKING, Any, Callable, Iterator, Optional, Tuple, Union

import requests

from ._accumulator import Accumulator
from ._sse import COMMENT, FramedSSEClient, block_ends, split_blocks
from ._transport import attach, backoff_delay
from .errors import APITimeoutError, ConfigurationError, ResponsesStreamError

if TYPE_CHECKING:
    from ._watchdog import Guard

logger = logging.getLogger("responses_stream")

Reopen = Callable[[str, Optional[int], Callable[[float], None]], requests.Response]
"""Opens ``GET /responses/{id}?stream=true&starting_after=N`` for a resume, waiting out its
retries' back-offs with the function given last."""


class _Stopped(Exception):
    """The stream was closed while a resume's request waited to be tried again."""


class Resumer:
    """Reopens a broken background stream after the last event applied, ``max_resumes`` times.

    ``deadline`` (on ``clock``) is the call's total timeout: no resume starts, and no back-off
    sleeps, past it. ``recording`` is trimmed before the next connection's bytes. After
    :meth:`cancel` (the stream was closed on purpose) nothing is resumed any more.
    """

    def __init__(
        self,
        reopen: Reopen,
        *,
        max_resumes: int,
        on_resume: Optional[Callable[[str, Optional[int]], None]],
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        deadline: Optional[float],
        recording: Optional[Recording] = None,
        guard: Optional[Guard] = None,
    ) -> None:
        self._reopen = reopen
        self._guard = guard
        self._recording = recording
        self._max_resumes = max_resumes
        self._on_resume = on_resume
        self._sleep = sleep
        self._clock = clock
        self._deadline = deadline
        self.resumes = 0
        """How many times the stream was resumed so far."""
        self._asked_after: Optional[int] = None  # the cursor the last resume asked from
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        """The stream was closed on purpose (any thread): resume nothing, end a back-off now,
        and a resume request waiting for its headers (the call's guard ends that wait)."""
        self._cancelled.set()
        if self._guard is not None:
            self._guard.cancel()

    def next_connection(
        self, exc: ResponsesStreamError, accumulator: Accumulator, stream: Any
    ) -> Optional[requests.Response]:
        """The connection that continues the stream broken by ``exc``, or ``None`` when it
        cannot be resumed exactly (the caller then raises ``exc``).

        Errors while reopening (an HTTP 404, a refused connection) are raised with the partial
        response.
        """
        if self._cancelled.is_set():
            return None
        response_id = accumulator.response.id
        after = accumulator.last_sequence_number
        if response_id is None or self.resumes >= self._max_resumes:
            return None
        if after is None or not accumulator.cursor_exact:
            # Without sequence numbers (on every event, growing) the server would send events
            # that were delivered already, and nothing tells them apart.
            logger.info("not resuming %s: its events are not all numbered in order", response_id)
            return None
        delay = backoff_delay(self.resumes)
        if self._deadline is not None and self._clock() + delay >= self._deadline:
            timeout = APITimeoutError(
                f"the call's total timeout left no time to resume the stream after: {exc}"
            )
            raise attach(timeout, stream) from exc
        self.resumes += 1
        logger.info("resuming %s after sequence_number %s: %s", response_id, after, exc)
        if self._on_resume is not None:
            self._on_resume(response_id, after)
        self._back_off(delay)
        if self._cancelled.is_set():
            return None
        if self._recording is not None:
            # A resumed connection that applied nothing (it skipped ahead, say) goes whole.
            self._recording.trim(whole=self._asked_after is not None and after == self._asked_after)
        self._asked_after = after
        accumulator.resuming()
        try:
            following = self._reopen(response_id, after, self._wait_or_stop)
        except _Stopped:
            return None  # closed during a retry's back-off: no more requests
        except ResponsesStreamError as error:
            if self._cancelled.is_set():
                return None  # closed while reconnecting: the failure no longer matters
            raise attach(error, stream) from exc
        if self._cancelled.is_set():
            # Closed while the headers were awaited (that wait cannot be cut short here).
            following.close()
            return None
        return following

    def _wait_or_stop(self, delay: float) -> None:
        """A back-off between tries of the resume's request, cut short by :meth:`cancel`."""
        self._back_off(delay)
        if self._cancelled.is_set():
            raise _Stopped

    def _back_off(self, delay: float) -> None:
        if self._sleep is time.sleep:
            # The real clock: wait on the event, so a close() from another thread ends it.
            self._cancelled.wait(delay)
        else:
            self._sleep(delay)  # an injected sleep (tests): keep its timing as given


MARK_COMMENT = "#responses_stream "
"""How every mark a recording writes starts, as the framer hands it on (a comment's text)."""
RESUMED_MARK = b": responses_stream resumed\n\n"
"""What :meth:`Recording.trim` writes where a resumed connection's bytes begin: an SSE comment
(other readers skip it) that makes a replay treat what follows as a resumed connection."""
AFTER_MARK = b": responses_stream after %d\n\n"
"""The first bytes of a recording whose caller saw only events after a sequence number."""
TIMED_OUT_MARK = b": responses_stream timed-out %s\n\n"
"""The last bytes of a recording of a stream a time limit ended (``idle``, ``total``,
``read``), after its last whole event: a replay raises the same ``APITimeoutError`` there."""
STOPPED_MARK = b": responses_stream stopped\n\n"
"""The last bytes of a recording of a stream the caller ended early (``stop()``, leaving
``events()``): a replay ends there as the live stream did, without an error."""


def mark_of(text: str) -> Tuple[str, str]:
    """A mark's name and what follows it (``("after", "12")``, ``("resumed", "")``), from
    the text of a comment that starts with :data:`MARK_COMMENT`."""
    name, _, argument = text[len(MARK_COMMENT) :].partition(" ")
    return name, argument


class Recording:
    """``record_to``: the raw body bytes of a stream, written as they arrive.

    Opened when the call starts, before the request is sent, so a bad path costs nothing.
    """

    def __init__(self, path: Union[str, os.PathLike[str]]) -> None:
        try:
            # w+b: a resume reads back the cut connection's tail (see trim).
            self._file: Optional[IO[bytes]] = open(path, "w+b")  # noqa: SIM115 - close()
        except OSError as exc:
            raise ConfigurationError(f"record_to: cannot write {os.fspath(path)!r}: {exc}") from exc
        self._start = 0  # where the current connection's bytes start in the file
        self._dropped = 0  # messages read live whose bytes trim() took out of the file

    def wrap(self, source: Iterator[bytes]) -> Iterator[bytes]:
        """``source``'s chunks, each written to the file (and flushed) before it is passed on."""
        record = self._file
        if record is None:
            return source
        self._start = record.tell()
        return self._written(source, record)

    @staticmethod
    def _written(source: Iterator[bytes], record: IO[bytes]) -> Iterator[bytes]:
        for chunk in source:
            record.write(chunk)
            record.flush()
            yield chunk

    def trim(self, *, whole: bool = False) -> None:
        """Before a resumed connection's bytes: drop the cut event's partial bytes (``whole``:
        every byte of the last connection, which the live stream did not use), and mark
        where the resumed connection begins (:data:`RESUMED_MARK`).

        The resumed stream sends that event again, whole; left in place, its partial bytes
        would run into it and the file would replay as a broken stream. The mark lets a replay
        drop what the live stream dropped: the events a resumed connection sent again.
        """
        record = self._file
        if record is None:
            return
        record.flush()
        end = record.tell()
        record.seek(self._start)
        tail = record.read(end - self._start)
        kept = 0 if whole else _whole(tail)
        last = split_blocks(tail[:kept])[-1:]
        if last and _is_done(last[0]):
            # The connection ended with ``data: [DONE]`` before its terminal event: the live
            # stream went on with the resumed one, and so must a replay.
            kept -= len(last[0])
        if whole:  # messages the live stream counted: a stop's count no longer holds them
            self._dropped += sum(1 for _ in _message_ends(tail[: _whole(tail)]))
        record.truncate(self._start + kept)
        record.seek(self._start + kept)
        record.write(RESUMED_MARK)
        record.flush()

    def delivering_after(self, after: int) -> None:
        """The caller sees only the events after ``after`` (``resume(starting_after=)``): said
        first in the file (:data:`AFTER_MARK`), so that a replay delivers the same events."""
        if self._file is not None:
            self._file.write(AFTER_MARK % after)

    def close(
        self, *, stopped_after: Optional[int] = None, timed_out: Optional[str] = None
    ) -> None:
        """Close the file (safe to call more than once).

        ``stopped_after``: the stream was ended early by its caller, after that many messages
        (events and keep-alives, as ``Meter.events`` counts them). What arrived after them (the
        rest of a read, part of an event) goes, and :data:`STOPPED_MARK` ends the file.
        ``timed_out``: the time limit that ended it; the part of an event it cut goes, and
        :data:`TIMED_OUT_MARK` ends the file.
        """
        record, self._file = self._file, None
        if record is None:
            return
        try:
            if stopped_after is not None or timed_out is not None:
                record.flush()
                start = 0 if stopped_after is not None else self._start
                record.seek(start)
                data = record.read()
                if stopped_after is not None:
                    end = _end_of_messages(data, stopped_after - self._dropped)
                    mark = STOPPED_MARK
                else:
                    end = start + _whole(data)
                    mark = TIMED_OUT_MARK % str(timed_out).encode()
                record.truncate(end)
                record.seek(end)
                record.write(mark)
        finally:
            record.close()


def _end_of_messages(data: bytes, count: int) -> int:
    """Where the first ``count`` messages of ``data`` end, marks not counted (the end of its
    last whole block if it holds fewer)."""
    whole = _whole(data)
    if count <= 0:
        return 0
    for seen, end in enumerate(_message_ends(data[:whole]), 1):
        if seen >= count:
            return end
    return whole


def _message_ends(data: bytes) -> Iterator[int]:
    """Where each message of ``data`` (whole blocks) ends, as ``Meter.events`` counts them
    (marks are not): the framer's own rules, over one block at a time."""
    pulled = 0

    def blocks() -> Iterator[bytes]:
        nonlocal pulled
        for block in split_blocks(data):
            pulled += len(block)
            yield block

    try:
        for name, text in FramedSSEClient(blocks(), None).messages():
            if not (_is_mark(name, text) or _ends(name, text)):
                yield pulled
    except (ResponsesStreamError, ValueError):  # bytes the live stream did not frame either
        logger.debug("recording: cannot frame the recorded bytes", exc_info=True)


def _whole(data: bytes) -> int:
    """Where the last whole block of ``data`` ends (0: none)."""
    return max(block_ends(data), default=0)


def _is_mark(name: str, text: str) -> bool:
    """A mark this module wrote (a comment), which a stream does not count."""
    return name == COMMENT and text.startswith(MARK_COMMENT)


def _ends(name: str, text: str) -> bool:
    """``data: [DONE]``, the end some servers send, read as the stream reads it (uncounted)."""
    return name != COMMENT and text.startswith("[DONE]")


def _is_done(block: bytes) -> bool:
    """True when ``block`` (one whole block) is ``data: [DONE]``."""
    try:
        return any(_ends(*message) for message in FramedSSEClient(iter((block,)), None).messages())
    except (ResponsesStreamError, ValueError):
        return False
