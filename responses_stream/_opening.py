"""Opening a stream: its request's tries, then the stream over the answer.

Every verb that streams goes through :class:`StreamOpener`: the request (``_transport``'s
tries, retried by its policy), and on its answer the stream (``_stream.StreamCore``) with the
call's metrics, time limits, recording, tracing span and, for a background response, its
resumer (``_resume``). The work is written as steps (``Transport.attempts``), so that
``client.stream()`` runs them here and now and ``stream_many`` on its selector.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Tuple
from urllib.parse import quote

from ._accumulator import Accumulator
from ._call import Call
from ._metrics import Meter
from ._resume import Recording, Resumer
from ._sse import check_max_event_bytes
from ._stream import StreamCore
from ._transport import Attempts, Steps, Transport
from .errors import ConfigurationError
from .structured import asks_for_json, bind_text_format

if TYPE_CHECKING:
    from ._tracing import StreamSpan, Tracing
    from ._watchdog import Guard

Opening = Steps[StreamCore]
"""The steps that open a stream (:meth:`StreamOpener.opening`): tries and back-offs."""


class StreamOpener:
    """Opens the streams of one client (its transport, tracing and event size limit)."""

    def __init__(
        self,
        transport: Transport,
        tracing: Optional[Tracing],
        server: Tuple[str, int],
        max_event_bytes: Optional[int],
    ) -> None:
        self._transport = transport
        self._tracing = tracing
        self._server = server
        self._max_event_bytes = check_max_event_bytes(max_event_bytes)

    def create(
        self, params: Mapping[str, Any], call: Call, text_format: Optional[type]
    ) -> StreamCore:
        """Create a response and open its stream, here and now (:meth:`creating`'s steps)."""
        transport = self._transport
        return transport.send(
            self.creating(params, call, text_format), call.back_off(transport.sleep)
        )

    def creating(
        self, params: Mapping[str, Any], call: Call, text_format: Optional[type]
    ) -> Opening:
        """Create a response and open its stream, as steps (see ``Transport.attempts``):
        ``stream_many`` runs them on its selector, :meth:`create` here and now."""
        body = dict(params)
        body["stream"] = True
        try:
            payload = json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"request parameters are not JSON-serialisable: {exc}"
            ) from exc

        def send(guard: Optional[Guard]) -> Attempts:
            return self.attempts("POST", "/responses", call, guard, payload=payload)

        background = bool(body.get("background"))
        stream = yield from self.opening(call, send, background=background, request=body)
        stream.json_output = asks_for_json(body)
        if text_format is not None:
            bind_text_format(stream.response, text_format)
        return stream

    def resume(
        self, response_id: str, after: Optional[int], call: Call, deliver_after: Optional[int]
    ) -> StreamCore:
        """Reattach to background response ``response_id`` (events after ``after``), here
        and now; the caller sees only events after ``deliver_after``."""

        def send(guard: Optional[Guard]) -> Attempts:
            return self.resume_attempts(response_id, after, call, guard)

        opening = self.opening(call, send, background=True, deliver_after=deliver_after)
        return self._transport.send(opening, call.back_off(self._transport.sleep))

    def opening(
        self,
        call: Call,
        send: Callable[[Optional[Guard]], Attempts],
        *,
        background: bool,
        deliver_after: Optional[int] = None,
        request: Optional[Mapping[str, Any]] = None,
    ) -> Opening:
        """Send the request that opens a stream (``send``'s tries) and set up the stream on its
        answer: the call's metrics, time limits, recording, tracing span (``request`` is the
        body) and, for a background response, resumer. Steps, as ``Transport.attempts``."""
        meter = Meter(self._transport.clock)
        guard = call.guard = self._transport.guard(call.timeout, meter)
        if call.on_guard is not None:
            call.on_guard(guard)
        # Opened before the request is sent: a bad path costs no request.
        recording = Recording(call.record_to) if call.record_to is not None else None
        if recording is not None and deliver_after is not None:
            recording.delivering_after(deliver_after)
        span = self._start_span(request)
        try:
            http = yield from send(guard)
        except BaseException as exc:
            if recording is not None:
                # Stopped during a retry's back-off: the call returns an empty response.
                recording.close(stopped_after=0 if call.given_up() else None)
            _end_span(span, exc)
            raise
        resumer = None
        if background:
            resumer = Resumer(
                lambda response_id, after, wait: self._transport.send(
                    self.resume_attempts(response_id, after, call, guard), wait
                ),
                max_resumes=call.max_resumes,
                on_resume=call.on_resume,
                sleep=self._transport.sleep,
                clock=self._transport.clock,
                deadline=guard.deadline if guard is not None else None,
                recording=recording,
                guard=guard,
            )
        try:
            return StreamCore(
                http,
                Accumulator(keep_output=call.accumulate),
                meter,
                guard,
                deliver_after=deliver_after,
                resumer=resumer,
                recording=recording,
                span=span,
                max_event_bytes=self._max_event_bytes,
            )
        except BaseException as exc:  # not an event stream: the stream closed the rest
            _end_span(span, exc)
            raise

    def _start_span(self, request: Optional[Mapping[str, Any]]) -> Optional[StreamSpan]:
        """The tracing span of a stream about to be opened, or ``None`` when tracing is off."""
        if self._tracing is None:
            return None
        host, port = self._server
        return self._tracing.start_stream(
            request=request or {}, server_address=host, server_port=port
        )

    def resume_attempts(
        self, response_id: str, after: Optional[int], call: Call, guard: Optional[Guard]
    ) -> Attempts:
        """The tries of the request that reattaches to background response ``response_id``."""
        query: dict[str, str] = {"stream": "true"}
        if after is not None:
            query["starting_after"] = str(after)
        path = f"/responses/{path_id(response_id)}"
        return self.attempts("GET", path, call, guard, query=query)

    def attempts(
        self,
        method: str,
        path: str,
        call: Call,
        guard: Optional[Guard],
        *,
        payload: Optional[bytes] = None,
        query: Optional[Mapping[str, str]] = None,
    ) -> Attempts:
        """The tries of a request whose answer is an event stream (see ``Transport.attempts``)."""
        return self._transport.attempts(
            method,
            path,
            payload,
            query=query,
            timeout=call.timeout,
            max_retries=call.max_retries,
            extra_headers=call.extra_headers,
            on_retry=call.on_retry,
            deadline=guard.deadline if guard is not None else None,
            stream=True,
            guard=guard,
        )


def _end_span(span: Optional[StreamSpan], error: BaseException) -> None:
    if span is not None:
        span.finish(error=error)


def path_id(response_id: str) -> str:
    """``response_id`` checked and quoted for a URL path."""
    if not isinstance(response_id, str) or not response_id:
        raise ConfigurationError(f"response_id must be a non-empty string, got {response_id!r}")
    return quote(response_id, safe="")
