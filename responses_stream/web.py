"""Relay a model stream to a browser as Server-Sent Events, from a WSGI app (Flask, Django).

Use it in a view that a page opens with ``new EventSource(url)``::

    from responses_stream import web

    @app.get("/stream")                                    # Flask
    def stream():
        return web.flask_response(client, model="gpt-5", input=flask.request.args["prompt"])

    def stream(request):                                   # Django
        return web.django_response(client, model="gpt-5", input=request.GET["prompt"])

The browser gets each text delta as a ``data:`` message holding a JSON string (or, with
``mode="events"``, every event as ``event: <type>`` + its JSON), then one ``event: done``
message holding the final response, or ``{"status": "failed", "error": ..., "type": ...}``
when the stream failed (no traceback, no credentials). The page should close its
``EventSource`` on ``done``: an ``EventSource`` left open reconnects, which asks the model again.

While the model is silent, a ``: keep-alive`` comment goes out every ``keepalive`` seconds, so
proxies do not drop the idle connection and a browser that left is noticed (a failed write is
the only way a WSGI app learns it). When the browser goes away the upstream stream is closed at
once and, for a background response, cancelled, so no tokens are paid for after the tab closed.

:class:`SSERelay` is the framework-free core: a WSGI body iterator plus :attr:`SSERelay.headers`,
for any WSGI server or framework. Flask and Django are optional: they are imported only by the
helper that needs them.
"""

from __future__ import annotations

import importlib
import itertools
import json
import logging
import math
import queue
import re
import threading
import time
from dataclasses import dataclass
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Literal,
    Mapping,
    Optional,
    Tuple,
    Union,
)

from . import Client, EventStream, ResponsesStreamError, events

logger = logging.getLogger("responses_stream")

CONTENT_TYPE = "text/event-stream; charset=utf-8"
SSE_HEADERS: Tuple[Tuple[str, str], ...] = (
    ("Content-Type", CONTENT_TYPE),
    # A cached or revalidated event stream is a stale one.
    ("Cache-Control", "no-cache"),
    # nginx (and proxies that copy it) would otherwise buffer the body and deliver it in bursts.
    ("X-Accel-Buffering", "no"),
)
"""The response headers of an event stream relay. There is deliberately no Content-Length
(the length is unknown and a proxy would wait for it) and no Content-Encoding (a compressing
proxy or middleware holds bytes back until its buffer fills)."""

KEEPALIVE_COMMENT = b": keep-alive\n\n"
"""Sent when nothing else was sent for ``keepalive`` seconds; SSE parsers ignore comments."""
OPEN_COMMENT = b": open\n\n"
"""Sent first, at once: WSGI servers send the headers with the first non-empty body chunk, and
the browser's ``EventSource`` is open (and a proxy sees a started response) only then."""

DEFAULT_KEEPALIVE = 15.0
"""Seconds of silence before a keep-alive comment: well under the 30-120 s idle timeouts of
common proxies and load balancers."""


@dataclass(frozen=True)
class SSEMessage:
    """One Server-Sent Events message for the browser, as a message mapper returns them.

    ``data`` is any JSON-serialisable value; it is sent JSON-encoded (one line, so it cannot
    break the SSE framing), and the page reads it with ``JSON.parse(e.data)``. ``event`` names
    the message (the page listens with ``addEventListener(event, ...)``; without it, the page's
    ``onmessage`` gets it). ``id`` becomes the ``EventSource``'s ``lastEventId``.
    """

    data: Any
    event: Optional[str] = None
    id: Optional[str] = None

    def encode(self) -> bytes:
        """The message on the wire, UTF-8, ending with the blank line that dispatches it."""
        lines: List[str] = []
        if self.event is not None:
            lines.append(f"event: {_field(self.event)}")
        if self.id is not None:
            lines.append(f"id: {_field(self.id)}")
        lines.append(f"data: {_strict_json(self.data)}")
        try:
            return ("\n".join(lines) + "\n\n").encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate (half of a character split across two deltas): as a \u escape
            # the page's JSON.parse takes it, and joins it to its other half.
            lines[-1] = f"data: {_strict_json(self.data, ascii_only=True)}"
            return ("\n".join(lines) + "\n\n").encode("utf-8")


def _strict_json(value: Any, *, ascii_only: bool = False) -> str:
    """``value`` as JSON that ``JSON.parse`` accepts: NaN and infinities (which a lenient
    server may send, and Python's json writes as such) become null, as ``JSON.stringify``
    writes them."""
    try:
        return json.dumps(value, ensure_ascii=ascii_only, separators=(",", ":"), allow_nan=False)
    except ValueError:
        return json.dumps(
            _finite(value), ensure_ascii=ascii_only, separators=(",", ":"), allow_nan=False
        )


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _field(value: str) -> str:
    # A line break in a field would start a new field or message: the page could be fed
    # messages nobody sent.
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError(f"an SSE event name or id cannot hold a line break or NUL: {value!r}")
    return value


MessageMapper = Callable[[events.Event], Iterable[SSEMessage]]
"""Maps one upstream event to the messages (zero or more) that the browser gets for it."""

Mode = Union[Literal["text", "events"], MessageMapper]
"""What is relayed: ``"text"`` (:func:`text_messages`), ``"events"`` (:func:`event_messages`)
or your own :data:`MessageMapper`."""


def text_messages(event: events.Event) -> Iterator[SSEMessage]:
    """The ``mode="text"`` mapper: each output text delta as an unnamed message (a JSON string).

    Everything else (reasoning, tool calls, lifecycle events) is not sent; the final response
    still arrives in the ``done`` message.
    """
    if isinstance(event, events.OutputTextDelta):
        yield SSEMessage(event.delta)


def event_messages(event: events.Event) -> Iterator[SSEMessage]:
    """The ``mode="events"`` mapper: every event as ``event: <type>`` + ``data: <to_dict()>``.

    Upstream keep-alives (SSE comments, ``keepalive`` events) are not forwarded: they carry
    nothing, and the relay sends its own keep-alive comments while the upstream is silent.
    """
    if not isinstance(event, events.KeepAlive):
        yield SSEMessage(event.to_dict(), event=event.type)


_MODES: Dict[str, MessageMapper] = {"text": text_messages, "events": event_messages}

# What the pump thread hands the body iterator, tagged: an event, the final response, or the
# exception that ended the stream.
_EVENT, _END, _ERROR = "event", "end", "error"
_Item = Tuple[str, Any]

_PUT_POLL = 0.05
"""How often a pump blocked on a full queue (a slow browser) checks whether it must stop."""
_ERROR_LIMIT = 500
"""Longest error message sent to the browser."""
_thread_numbers = itertools.count(1)


class SSERelay:
    """The framework-free core: an event stream relayed to a browser, as a WSGI response body.

    Used by :func:`flask_response` and :func:`django_response`; use it directly with any other
    WSGI framework or a bare WSGI app::

        relay = web.SSERelay(client, model="gpt-5", input=prompt)
        start_response("200 OK", list(relay.headers))
        return relay  # the server iterates it, then calls relay.close()

    It gets the client and the keywords of :meth:`Client.events` (``model``, ``input``,
    ``background``, ... and the SDK's own such as ``timeout``). Nothing happens until the server
    starts iterating: then a daemon thread (the pump) opens the stream and reads it into a
    bounded queue, and the body iterator sends what it takes from the queue. Exceptions in the
    pump (a refused request, a broken stream) cross over with the queue and become the failed
    ``done`` message.

    Args:
        client: the client that opens (and, for a background response, cancels) the stream.
        mode: ``"text"`` (default), ``"events"``, or a function mapping each event to zero or
            more :class:`SSEMessage`. It is called in the thread that serves the request (not
            the pump), after the event has been applied to the snapshot.
        keepalive: seconds without a byte sent before a ``: keep-alive`` comment is sent;
            ``None`` (or infinity) sends none (then a browser that left is noticed only at the
            next event).
        cancel_on_disconnect: for a background response (``background=True``), cancel it
            (``client.cancel``) when the relay ends before the upstream did: the browser left,
            a write failed, or your mapper raised. Defaults to ``True`` for background
            responses; a foreground response ends with its connection, which is always closed.
        join_timeout: how long, at the end, to wait for the pump thread to finish.
        queue_size: events read ahead of the browser; when it is full the pump stops reading,
            so a slow browser slows the upstream down instead of filling memory.
        **params: the keywords of :meth:`Client.events`.
    """

    headers: Tuple[Tuple[str, str], ...] = SSE_HEADERS
    """The response headers to send with this body (:data:`SSE_HEADERS`)."""

    def __init__(
        self,
        client: Client,
        *,
        mode: Mode = "text",
        keepalive: Optional[float] = DEFAULT_KEEPALIVE,
        cancel_on_disconnect: Optional[bool] = None,
        join_timeout: float = 5.0,
        queue_size: int = 256,
        **params: Any,
    ) -> None:
        if isinstance(mode, str):
            if mode not in _MODES:
                raise ValueError(f"mode must be 'text', 'events' or a function, got {mode!r}")
            self._mapper: MessageMapper = _MODES[mode]
        elif callable(mode):
            self._mapper = mode
        else:
            raise TypeError(f"mode must be 'text', 'events' or a function, got {mode!r}")
        if keepalive is not None and not keepalive > 0:
            raise ValueError(f"keepalive must be a number of seconds > 0 or None, got {keepalive}")
        if keepalive is not None and keepalive >= threading.TIMEOUT_MAX:
            keepalive = None  # longer than any wait can be (infinity): never
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        self.client = client
        """The client given."""
        self.params: Dict[str, Any] = dict(params)
        """The keywords for :meth:`Client.events`."""
        self.keepalive = keepalive
        """Seconds of silence before a keep-alive comment (``None``: never)."""
        background = bool(self.params.get("background"))
        cancel = background if cancel_on_disconnect is None else cancel_on_disconnect
        self.cancel_on_disconnect = cancel and background
        """Whether a background response is cancelled when the relay ends before it did."""
        self.join_timeout = join_timeout
        """Seconds the body iterator waits for the pump thread when it ends."""
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=queue_size)
        self._stopping = threading.Event()  # the body iterator has ended: the pump must stop
        self._upstream_ended = threading.Event()  # the pump read the stream to its end or error
        self._lock = threading.Lock()  # guards _stream between the pump and the body iterator
        self._stream: Optional[EventStream] = None
        self._body: Optional[Iterator[bytes]] = None
        self.thread: Optional[threading.Thread] = None
        """The pump thread, once iteration has started (a daemon; it ends with the body)."""
        self.stopped_early = False
        """True once the relay ended before the upstream stream did (the browser left, a write
        failed, or the mapper raised)."""
        self.cancelled_id: Optional[str] = None
        """The id of the background response cancelled on disconnect, if any."""

    # ------------------------------------------------------------------------- WSGI body

    def __iter__(self) -> Iterator[bytes]:
        if self._body is None:
            self._body = self._generate()
        return self._body

    def close(self) -> None:
        """End the relay: called by the WSGI server when the response is done or the browser
        left. Closes the upstream stream, cancels a background response if the upstream had
        not ended, and waits (at most ``join_timeout``) for the pump thread. Safe to repeat."""
        body = self._body
        if body is not None:
            body.close()  # type: ignore[attr-defined]  # a generator: runs its finally

    def _generate(self) -> Iterator[bytes]:
        # The pump starts only once the server iterates: a body that is never iterated (an
        # error before the response was sent) leaves no thread and opens no stream.
        pump = threading.Thread(
            target=self._pump,
            name=f"responses_stream.web-pump-{next(_thread_numbers)}",
            daemon=True,  # never keeps the process alive, whatever the upstream does
        )
        self.thread = pump
        pump.start()
        clock = time.monotonic
        keepalive = self.keepalive
        get = self._queue.get
        try:
            yield OPEN_COMMENT
            last_write = clock()
            while True:
                try:
                    if keepalive is None:
                        kind, payload = get()
                    else:
                        kind, payload = get(timeout=max(0.0, keepalive - (clock() - last_write)))
                except queue.Empty:
                    yield KEEPALIVE_COMMENT
                    last_write = clock()
                    continue
                if kind == _EVENT:
                    try:
                        chunk = b"".join(message.encode() for message in self._mapper(payload))
                    except Exception as exc:
                        yield self._failed(exc)
                        raise  # a bug in the mapper: the server logs it, the page got "done"
                    if chunk:
                        yield chunk
                        last_write = clock()
                elif kind == _END:
                    yield SSEMessage(payload.to_dict(), event="done").encode()
                    return
                else:
                    yield self._failed(payload)
                    if not isinstance(payload, ResponsesStreamError):
                        raise payload
                    return
        finally:
            self._finish(pump)

    def _failed(self, exc: BaseException) -> bytes:
        """The ``done`` message for a stream that raised: its message, never its traceback."""
        if isinstance(exc, ResponsesStreamError):
            message = _redact(str(exc), self.client)[:_ERROR_LIMIT]
            kind = type(exc).__name__
        else:
            # Not an API failure but a bug (or a library error): details stay in the server log.
            message, kind = "the relay failed; see the server log", "InternalError"
        return SSEMessage({"status": "failed", "error": message, "type": kind}, "done").encode()

    def _finish(self, pump: threading.Thread) -> None:
        """Stop the upstream if it is still running, then wait for the pump (bounded)."""
        self._stopping.set()
        with self._lock:
            stream = self._stream
        if not self._upstream_ended.is_set():
            self.stopped_early = True
        if stream is not None and self.stopped_early:
            response_id = stream.response.id
            try:
                # Wakes the pump out of its read: the connection is gone, so the upstream
                # server stops (OpenAI stops generating a foreground response then).
                stream.close()
            except Exception:
                logger.warning("closing the upstream stream failed", exc_info=True)
            if self.cancel_on_disconnect:
                self._cancel(response_id or stream.response.id)
        pump.join(self.join_timeout)
        if pump.is_alive():
            logger.warning(
                "the stream reader thread %s did not end within %s s after the relay ended",
                pump.name,
                self.join_timeout,
            )

    def _cancel(self, response_id: Optional[str]) -> None:
        if response_id is None:
            # No event had arrived yet, so the id is unknown: nothing to cancel by.
            logger.warning("the browser left before the background response had an id")
            return
        try:
            self.client.cancel(response_id)
        except ResponsesStreamError as exc:
            logger.warning("cancelling %s after the browser left failed: %s", response_id, exc)
        else:
            self.cancelled_id = response_id

    # ------------------------------------------------------------------------------ pump

    def _pump(self) -> None:
        """Read the upstream stream into the queue (runs on the pump thread)."""
        stream: Optional[EventStream] = None
        try:
            stream = self.client.events(**self.params)
            with self._lock:
                if not self._stopping.is_set():
                    self._stream = stream
            if self._stream is None:
                # The relay ended while the request was being sent; no event, so no id yet.
                if self.cancel_on_disconnect:
                    logger.warning("the browser left before the background response had an id")
                return
            for event in stream:
                if not self._put((_EVENT, event)):
                    return
            self._upstream_ended.set()
            self._put((_END, stream.response))
        except BaseException as exc:  # everything crosses over; the body iterator decides
            if self._stopping.is_set():
                return  # the stream was closed under us because the relay ended: expected
            self._upstream_ended.set()
            self._put((_ERROR, exc))
        finally:
            if stream is not None:
                stream.close()

    def _put(self, item: _Item) -> bool:
        """Queue ``item`` for the body iterator; False if the relay ended meanwhile."""
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=_PUT_POLL)
            except queue.Full:
                continue
            return True
        return False


_BEARER = re.compile(r"(?i)\bbearer\s+[^\s,;\"']+")
_OPENAI_KEY = re.compile(r"\bsk-[A-Za-z0-9_\-*]{6,}")


def _redact(message: str, client: Client) -> str:
    """``message`` without the client's credentials (a server may echo a key back in an error)."""
    # The credentials are in the headers the client sends (client.settings.headers; _headers
    # in older versions): read defensively, so a change there cannot break the error path.
    settings = getattr(client, "settings", None)
    for headers in (getattr(settings, "headers", None), getattr(client, "_headers", None)):
        if not isinstance(headers, Mapping):
            continue
        for name, value in headers.items():
            if str(name).lower() in ("authorization", "api-key") and isinstance(value, str):
                secret = value.split(" ", 1)[-1].strip()
                if len(secret) >= 4:
                    message = message.replace(secret, "***")
    # Any other token or OpenAI-style key (a rotated key, another client's) goes too.
    return _OPENAI_KEY.sub("sk-***", _BEARER.sub("Bearer ***", message))


# --------------------------------------------------------------------------- frameworks


def flask_response(client: Client, **options: Any) -> Any:
    """A ``flask.Response`` relaying a new stream to the browser; return it from a Flask view.

    Takes the client and the keywords of :class:`SSERelay` (its relay options, and those of
    :meth:`Client.events`). Read what you need from ``flask.request`` before calling it: the
    body runs after the view has returned, outside the request context.
    """
    # An optional extra (responses-stream[flask]), imported when first needed; through
    # importlib so that type checking does not depend on Flask being installed.
    flask: Any = importlib.import_module("flask")

    relay = SSERelay(client, **options)
    # direct_passthrough: the body goes to the server as it is, chunk by chunk, and the
    # server's close() reaches the relay.
    return flask.Response(relay, headers=list(relay.headers), direct_passthrough=True)


def django_response(client: Client, **options: Any) -> Any:
    """A ``django.http.StreamingHttpResponse`` relaying a new stream; return it from a view.

    Takes the client and the keywords of :class:`SSERelay` (its relay options, and those of
    :meth:`Client.events`). For WSGI deployments with a thread per request (``runserver``,
    gunicorn's threaded workers: a sync worker serves one stream at a time, and its
    ``--timeout`` ends any stream longer than that). Keep ``GZipMiddleware`` off this view:
    compressing holds the events back.
    """
    # An optional extra (responses-stream[django]), imported when first needed.
    http: Any = importlib.import_module("django.http")

    relay = SSERelay(client, **options)
    response = http.StreamingHttpResponse(relay, content_type=CONTENT_TYPE)
    for name, value in relay.headers:
        if name != "Content-Type":
            response[name] = value
    return response


__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_KEEPALIVE",
    "KEEPALIVE_COMMENT",
    "OPEN_COMMENT",
    "SSE_HEADERS",
    "MessageMapper",
    "Mode",
    "SSEMessage",
    "SSERelay",
    "django_response",
    "event_messages",
    "flask_response",
    "text_messages",
]
