"""The :class:`EventStream` that ``client.events()`` returns: a handle over a stream's core.

The per-event generators of :class:`~responses_stream._stream.StreamCore` refer to the core,
never to this handle, and nothing the core holds refers back to it: a handle dropped without
``with`` or :meth:`~EventStream.close` is freed at once by reference counting, and closing its
core then lets go of the connection (not only when the cycle collector runs). The iterators
it hands out hold the handle, so ``for event in client.events(...)`` keeps it alive.
"""

from __future__ import annotations

import logging
import weakref
from itertools import repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional

from ._accumulator import Accumulator
from ._metrics import StreamMetrics
from ._stream import Pair, StreamCore
from .events import Event
from .models import Response

_FIRST = itemgetter(0)
logger = logging.getLogger("responses_stream")

OnClose = Callable[[Response], None]
"""Called with the response once the handle is closed (``cancel_on_stop``, see ``client``)."""


def _close(core: StreamCore, on_close: Optional[OnClose], raises: bool) -> None:
    """Close ``core``, then call ``on_close`` with its response. A failure of ``on_close`` is
    raised, or with ``raises=False`` (the handle was dropped, or an exception is on its way
    already) logged as a warning: never lost."""
    core.close()
    if on_close is None:
        return
    try:
        on_close(core.response)
    except Exception as exc:
        if raises:
            raise
        logger.warning("cancel_on_stop: cancelling %s failed: %s", core.response.id, exc)


class EventStream:
    """Pull-style access to one streamed response; ``client.events()`` returns one.

    Iterate it for typed events (each is already applied to :attr:`response`); use it as a
    context manager so the connection is closed however you leave the loop::

        with client.events(model="gpt-5", input="Hi") as stream:
            for event in stream:
                ...
            final = stream.response

    Iteration ends after the terminal event. It raises, after yielding the event that caused it,
    :class:`~responses_stream.errors.ResponseFailedError` on ``response.failed``,
    :class:`~responses_stream.errors.StreamError` after an in-band ``error`` event, and
    :class:`~responses_stream.errors.StreamInterrupted` when the body ends before a terminal
    event. SSE comments are yielded as :class:`~responses_stream.events.KeepAlive` with
    ``comment`` set.

    Attributes (the stream's so far, final after its end): ``response`` (the
    :class:`~responses_stream.Response` snapshot), ``request_id`` (the server's
    ``x-request-id``: log it when reporting problems), ``metrics`` (a
    :class:`~responses_stream.StreamMetrics`: timings, counts, retries, resumes),
    ``last_sequence_number``, ``resumes`` (how many times the stream was resumed after
    breaking), ``truncated`` (the current, or last, connection's body ended inside an event)
    and ``done_sentinel`` (``data: [DONE]`` came before any terminal event; one after it is not
    read as an event).

    For a background response (``background=True``) a stream that breaks (reset, idle timeout,
    end of body before a terminal event) is resumed from the last ``sequence_number`` up to
    ``max_resumes`` times; events already delivered are never delivered again.

    :meth:`close` may be called from another thread (a Stop button) while this one waits for
    data: iteration then ends at once, without an error, and :attr:`response` holds what had
    arrived.
    """

    __slots__ = ("__weakref__", "_closer", "_core", "_on_close")

    def __init__(self, core: StreamCore, on_close: Optional[OnClose] = None) -> None:
        self._core = core
        self._on_close = on_close
        # Dropped unclosed: the connection goes now (and on_close runs, its failure logged).
        self._closer = weakref.finalize(self, _close, core, on_close, False)

    def _held(self, pairs: Iterator[Pair]) -> Iterator[Pair]:
        """``pairs``, holding this handle while they are iterated (C iterators, no frame)."""
        return map(_FIRST, zip(pairs, repeat(self)))

    def __iter__(self) -> Iterator[Event]:
        return map(_FIRST, self._held(self._core.pairs()))

    def pairs(self) -> Iterator[Pair]:
        """Each event with what it touched in the snapshot.

        Shares its position with the event iterator (``iter(stream)``).
        """
        return self._held(self._core.pairs())

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._core.__exit__(*exc_info)
        self._settle(raises=exc_info[1] is None)

    def close(self) -> None:
        """Close the connection: safe to call more than once, and from any thread.

        Called from another thread while this stream is read, it takes effect at once, even in
        the middle of a blocked read: the socket is shut down, iteration ends without an error
        (:attr:`response` holds what had arrived) and the reading thread releases the
        connection on its way out. A closed background stream is never resumed.

        With ``cancel_on_stop=True`` (see ``client.events()``) it also cancels a background
        response that had not ended, and raises what that cancel raised.
        """
        self._core.close()
        self._settle(raises=True)

    def _settle(self, raises: bool) -> None:
        """The first close's share after the connection: ``on_close`` (see :func:`_close`)."""
        # detach(): the finalizer will not run; None after an earlier close() or __exit__.
        if self._closer.detach() is not None and self._on_close is not None:
            _close(self._core, self._on_close, raises)

    def until_done(self) -> Response:
        """Consume the rest of the stream and return the final response."""
        return self._core.until_done()

    def __getattr__(self, name: str) -> Any:
        # The attributes listed in the class documentation (and what drive() reads) are the
        # core's, read through: one definition of each, in StreamCore.
        if name.startswith("_"):
            raise AttributeError(name)  # _core itself, before __init__ set it (a copy, say)
        return getattr(self._core, name)

    if TYPE_CHECKING:  # what __getattr__ gives, for type checkers
        response: Response
        request_id: Optional[str]
        last_sequence_number: Optional[int]
        resumes: int
        metrics: StreamMetrics
        truncated: bool
        done_sentinel: bool
        json_output: bool
        accumulator: Accumulator
