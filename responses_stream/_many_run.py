"""Driving ``stream_many``'s loop: every event to its stream's handler, or to the caller.

:func:`run_callbacks` is ``stream_many``: it feeds each stream's events to that stream's
handler on the calling thread. :class:`ManyEvents` is ``events_many``: the caller pulls
``(index, event)`` pairs. Both read :class:`~responses_stream._many.Multiplexer`'s events.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

from ._many import Multiplexer, Outcome
from .events import Event
from .handler import uncarried
from .models import Response


def run_callbacks(mux: Multiplexer, *, fail_fast: bool) -> list[Outcome]:
    """Feed every stream's events to its handler (``stream_many``); the outcomes in order.

    An exception from a callback ends that stream, as its outcome (after ``on_exception``);
    with ``fail_fast`` it ends every stream and is raised.
    """
    mux.fail_fast = fail_fast  # for the callbacks it runs itself (on_retry, on_resume)
    events = mux.events()  # held: dropped, it would close the streams before the except
    try:
        for slot, event, touched in events:
            cls = type(event)
            plans = slot.plans
            step = plans[cls] if cls in plans else slot.plan(cls)
            if step is not None:
                try:
                    step(event, touched)
                except BaseException as exc:  # its stream's outcome; Ctrl-C ends every one
                    mux.end(slot, exc)
                    if fail_fast or not isinstance(exc, Exception):
                        raise
                    continue
            handler = slot.handler
            if handler is not None and handler._stop_requested:
                mux.end(slot, None)  # stop(): the partial response is its outcome
    except BaseException as exc:  # fail_fast, Ctrl-C: every stream ends with it
        original = uncarried(exc) if isinstance(exc, Exception) else exc
        mux.close(original)
        if original is exc:
            raise
        raise original from None
    finally:
        mux.close()
        events.close()
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
        self._mux.close(exc_info[1])  # an exception in the block ends every stream with it

    @property
    def outcomes(self) -> list[Optional[Outcome]]:
        """Each request's outcome by index: its final response or its exception (None while
        it has not ended; the response so far for a stream cut short by :meth:`close`). The
        requests are read lazily: the list holds one entry per request started so far, and
        after an early :meth:`close` the requests never started have none."""
        return self._mux.outcomes

    def response(self, index: int) -> Optional[Response]:
        """Request ``index``'s snapshot so far (final once it ended), or None before it
        started or if it failed before its stream opened. ``index`` counts from 0 (a
        negative one is an ``IndexError``, not a position from the end)."""
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise IndexError(f"a request index is an int >= 0, got {index!r}")
        slot = self._mux.slot(index)
        if slot is not None and slot.stream is not None:
            return slot.stream.response
        outcome = self._mux.outcomes[index] if index < len(self._mux.outcomes) else None
        if isinstance(outcome, Response):
            return outcome
        return getattr(outcome, "response", None)

    def close(self) -> None:
        """Close every connection now (safe to call more than once). From another thread (a
        Stop button) while this one iterates, the iterating thread closes them as soon as it
        asks for the next event, which ends the iteration; it is woken if it is waiting."""
        self._mux.close()
