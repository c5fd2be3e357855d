"""Timings and counts of one stream -> :class:`StreamMetrics`. Pure: the stream reports times.

A :class:`Meter` holds the raw monotonic times and counts of one stream: when the request
was sent and the headers came (:meth:`Meter.headers`), and, written by the stream's per-event
loop, when each event arrived and whether it carried output. :meth:`Meter.snapshot` turns
them into durations whenever the metrics are read, live during the stream
(``handler.metrics``) or at the end (``response.metrics``).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

__all__ = ["Meter", "StreamMetrics"]

TOKEN_TYPES = frozenset(
    {
        "response.output_text.delta",
        "response.refusal.delta",
        "response.reasoning_text.delta",
        "response.reasoning_summary_text.delta",
        "response.function_call_arguments.delta",
        "response.custom_tool_call_input.delta",
        "response.mcp_call_arguments.delta",
        "response.code_interpreter_call_code.delta",
        "response.audio.transcript.delta",
    }
)
"""Events that carry generated output: the first one is the first token."""


@dataclass(frozen=True)
class StreamMetrics:
    """How one stream went: read from ``response.metrics``, ``stream.metrics`` or, live,
    ``handler.metrics``.

    Durations are in seconds, measured on the monotonic clock from the moment the request was
    first sent (retries included); ``None`` when the moment has not come (no token yet).
    """

    request_id: Optional[str] = None
    """The server's ``x-request-id`` of the last connection."""
    started_at: Optional[float] = None
    """Wall-clock time (``time.time()``) when the request was first sent."""
    time_to_headers: Optional[float] = None
    """Until the response headers of the stream arrived."""
    time_to_first_event: Optional[float] = None
    """Until the first event was read."""
    time_to_first_token: Optional[float] = None
    """Until the first output delta: text, refusal, reasoning or tool arguments."""
    duration: Optional[float] = None
    """Until the last event read so far (the terminal event at the end)."""
    output_tokens_per_second: Optional[float] = None
    """``usage.output_tokens`` over the time from the first to the last token (``None``
    without usage, or with a single token moment)."""
    events: int = 0
    """Events read, keep-alives included."""
    bytes: int = 0
    """Body bytes received, over every connection."""
    max_gap: Optional[float] = None
    """The longest wait between two consecutive events (from headers to the first one too)."""
    retries: int = 0
    """Requests sent again after a try failed: before the stream started, or to resume it."""
    resumes: int = 0
    """Times a broken background stream was continued on a new connection."""


class Meter:
    """The raw times and counts of one stream, fed by the stream as it runs."""

    __slots__ = (
        "bytes",
        "clock",
        "data_at",
        "events",
        "first_event_at",
        "first_token_at",
        "headers_at",
        "last_event_at",
        "last_token_at",
        "max_gap",
        "progress_at",
        "request_id",
        "retries",
        "started",
        "started_at",
    )

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.started = clock()
        self.started_at = wall()
        self.headers_at: Optional[float] = None
        self.first_event_at: Optional[float] = None
        self.first_token_at: Optional[float] = None
        self.last_token_at: Optional[float] = None
        self.last_event_at = self.started  # gaps count from here: the request, then headers
        self.progress_at = self.started
        """When the last event that was not a keep-alive arrived (the idle limit's base)."""
        self.data_at = self.started
        """When the last body bytes arrived: kept only by a non-blocking read (``_many``),
        whose read limit the watchdog holds (a blocking read has its socket timeout)."""
        self.max_gap = 0.0
        self.events = 0
        self.bytes = 0
        self.retries = 0
        self.request_id: Optional[str] = None

    def headers(self, request_id: Optional[str]) -> None:
        """Response headers arrived (for each connection of a resumed stream)."""
        now = self.clock()
        if self.headers_at is None:
            self.headers_at = now
            self.last_event_at = now  # the first gap counts from here
        # The idle and read limits too; a resumed connection's first gap counts from the last
        # event before the break: the caller waited all that time.
        self.progress_at = self.data_at = now
        self.request_id = request_id or self.request_id

    def snapshot(
        self, response: Any = None, *, unread_bytes: int = 0, resumes: int = 0
    ) -> StreamMetrics:
        """The metrics so far; ``response`` (the snapshot) supplies ``usage`` for the rate,
        ``unread_bytes`` the bytes of the connection being read (added at its end)."""
        start = self.started

        def since(moment: Optional[float]) -> Optional[float]:
            return None if moment is None else moment - start

        rate = None
        usage = getattr(response, "usage", None)
        tokens = getattr(usage, "output_tokens", None)
        first, last = self.first_token_at, self.last_token_at
        if isinstance(tokens, int) and first is not None and last is not None and last > first:
            with contextlib.suppress(OverflowError):  # a count no float holds: no rate
                rate = tokens / (last - first)
        return StreamMetrics(
            request_id=self.request_id,
            started_at=self.started_at,
            time_to_headers=since(self.headers_at),
            time_to_first_event=since(self.first_event_at),
            time_to_first_token=since(first),
            duration=since(self.last_event_at) if self.first_event_at is not None else None,
            output_tokens_per_second=rate,
            events=self.events,
            bytes=self.bytes + unread_bytes,
            max_gap=self.max_gap if self.events else None,
            retries=self.retries,
            resumes=resumes,
        )
