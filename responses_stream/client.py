"""The :class:`Client`: configuration, one ``requests.Session``, and the streaming entry points."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Union
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from . import __version__
from ._accumulator import TERMINAL_TYPES
from ._stream import EventStream, offline_response
from ._transport import RetryPolicy, Timeout, merge_headers, send_with_retries, timeouts
from .errors import ConfigurationError
from .handler import Dispatcher, ResponseHandler, _overrides
from .models import Response

__all__ = ["DEFAULT_BASE_URL", "Client", "replay", "stream"]

logger = logging.getLogger("responses_stream")

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


def _is_local(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in _LOCAL_HOSTS or host.startswith("127.") or host.endswith(".localhost")


class Client:
    """A connection to a Responses API server (OpenAI or a compatible one).

    ``api_key`` defaults to ``$OPENAI_API_KEY`` and ``base_url`` to ``$OPENAI_BASE_URL``, else
    ``https://api.openai.com/v1``. A key is required except for servers on localhost. ``timeout``
    is a number or :class:`~responses_stream.Timeout` (connect 5 s, read/idle 600 s by default).
    ``max_retries`` (default 2) applies to failures before a stream starts; a stream that has
    started is never sent again. Pass ``session`` to reuse your own ``requests.Session`` (it is
    then yours to close).

    A client may be shared by threads: each call builds its own request and stream, and the
    session's connection pool is sized for concurrent streams. Use it as a context manager, or
    call :meth:`close`, to release pooled connections.
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        organization: Optional[str] = None,
        project: Optional[str] = None,
        timeout: Union[Timeout, float, None] = None,
        max_retries: int = 2,
        default_headers: Optional[Mapping[str, str]] = None,
        session: Optional[requests.Session] = None,
    ) -> None:
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip(
            "/"
        )
        if not urlsplit(self.base_url).scheme.startswith("http"):
            raise ConfigurationError(f"base_url must be an http(s) URL, got {self.base_url!r}")
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if not key and not _is_local(self.base_url):
            raise ConfigurationError(
                "no API key: pass Client(api_key=...) or set OPENAI_API_KEY "
                "(a key is optional only for servers on localhost)"
            )
        self._api_key = key or None
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise ConfigurationError(f"max_retries must be an int >= 0, got {max_retries!r}")
        self.max_retries = max_retries
        self.timeout = Timeout.coerce(timeout)
        self.organization = organization or os.environ.get("OPENAI_ORG_ID")
        self.project = project or os.environ.get("OPENAI_PROJECT_ID")
        self._own_session = session is None
        if session is None:
            session = requests.Session()
            # Room for many concurrent streams from threads sharing this client.
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=64, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self._session = session
        self._headers = merge_headers(
            {
                "User-Agent": f"responses-stream/{__version__}",
                "Accept": "text/event-stream",
                # Compression makes proxies buffer and adds latency per event.
                "Accept-Encoding": "identity",
                "Content-Type": "application/json",
            },
            {"Authorization": f"Bearer {key}"} if key else None,
            {"OpenAI-Organization": self.organization} if self.organization else None,
            {"OpenAI-Project": self.project} if self.project else None,
            default_headers,
        )
        # Injectable for tests: no real sleeping, controllable clocks.
        self._sleep: Callable[[float], None] = time.sleep
        self._clock: Callable[[], float] = time.monotonic

    def __repr__(self) -> str:
        return f"<responses_stream.Client base_url={self.base_url!r}>"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections (a session you passed in is left open)."""
        if self._own_session:
            self._session.close()

    # -------------------------------------------------------------------------- streaming

    def stream(
        self,
        handler: Optional[ResponseHandler] = None,
        *,
        accumulate: bool = True,
        timeout: Union[Timeout, float, None] = None,
        max_retries: Optional[int] = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        **params: Any,
    ) -> Response:
        """Create a response with ``stream: true`` and feed every event to ``handler``.

        Blocks until the stream ends and returns the final :class:`Response` (check
        ``.status``: ``completed`` or ``incomplete``). Every keyword not listed here goes into
        the JSON body unchanged, so new API parameters need no SDK release.

        ``accumulate=False`` keeps no output in the snapshot (memory stays flat on unbounded
        streams; the accumulated callbacks then get no snapshot and are not called).

        Raises :class:`ResponseFailedError` after ``on_failed``, :class:`StreamError` after
        an ``error`` event, :class:`StreamInterrupted` when the body ends early, and the
        :class:`APIStatusError` family when the request is refused. Exceptions raised by your
        callbacks reach you unchanged, after ``on_exception``; ``on_end`` always runs last.
        If a callback calls ``handler.stop()``, the partial snapshot is returned.
        """
        handler = handler if handler is not None else ResponseHandler()
        on_retry = _overrides(handler, "on_retry")
        return run_handler(
            handler,
            lambda: self.events(
                accumulate=accumulate,
                timeout=timeout,
                max_retries=max_retries,
                extra_headers=extra_headers,
                _on_retry=on_retry,
                **params,
            ),
            accumulate,
        )

    def events(
        self,
        *,
        accumulate: bool = True,
        timeout: Union[Timeout, float, None] = None,
        max_retries: Optional[int] = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        _on_retry: Optional[Callable[[Exception, int, float], None]] = None,
        **params: Any,
    ) -> EventStream:
        """Create a response with ``stream: true`` and return an :class:`EventStream`.

        The request is sent (and retried) now; iterate the result for typed events, inside a
        ``with`` block so the connection is always closed. Keywords as for :meth:`stream`.
        """
        if "handler" in params:
            raise ConfigurationError("events() takes no handler; use stream(handler=...)")
        body = dict(params)
        body["stream"] = True
        try:
            payload = json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"request parameters are not JSON-serialisable: {exc}"
            ) from exc
        return self._open_stream(
            "POST",
            "/responses",
            payload,
            accumulate=accumulate,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            on_retry=_on_retry,
        )

    # --------------------------------------------------------------------------- internals

    def _open_stream(
        self,
        method: str,
        path: str,
        payload: Optional[bytes],
        *,
        accumulate: bool,
        timeout: Union[Timeout, float, None],
        max_retries: Optional[int],
        extra_headers: Optional[Mapping[str, Optional[str]]],
        on_retry: Optional[Callable[[Exception, int, float], None]],
        params: Optional[Dict[str, Any]] = None,
        snapshot: Optional[Response] = None,
        starting_after: Optional[int] = None,
    ) -> EventStream:
        limits = Timeout.coerce(timeout) if timeout is not None else self.timeout
        retries = self.max_retries if max_retries is None else max_retries
        if not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(f"max_retries must be an int >= 0, got {retries!r}")
        clock = self._clock
        deadline = clock() + limits.total if limits.total is not None else None
        url = self.base_url + path
        headers = merge_headers(self._headers, extra_headers)
        session = self._session

        def send() -> requests.Response:
            connect, read = timeouts(limits, deadline, clock)
            return session.request(
                method,
                url,
                data=payload,
                params=params,
                headers=headers,
                stream=True,
                timeout=(connect, read),
            )

        policy = RetryPolicy(max_retries=retries, sleep=self._sleep, clock=clock)
        resp = send_with_retries(send, url=url, policy=policy, deadline=deadline, on_retry=on_retry)
        logger.debug(
            "streaming %s %s (request id %s)", method, url, resp.headers.get("x-request-id")
        )
        return EventStream(
            resp,
            accumulate=accumulate,
            snapshot=snapshot,
            starting_after=starting_after,
            deadline=deadline,
            clock=clock,
        )


def run_handler(
    handler: ResponseHandler, open_stream: Callable[[], EventStream], accumulate: bool = True
) -> Response:
    """Open a stream and drive ``handler`` through it, with the exception/end contract."""
    handler._stop_requested = False
    handler._snapshot = None
    try:
        with open_stream() as events:
            handler._snapshot = events.response
            return _drive(events, handler, accumulate)
    except GeneratorExit:
        raise
    except BaseException as exc:
        handler.on_exception(exc)
        raise
    finally:
        handler.on_end()


def replay(
    source: Union[str, os.PathLike[str], bytes, Iterable[bytes]],
    handler: Optional[ResponseHandler] = None,
    *,
    accumulate: bool = True,
) -> Response:
    """Play a recorded stream into ``handler`` offline and return the final response.

    ``source`` is a path to a ``.sse`` file, the raw bytes, or an iterable of byte chunks. The
    same pipeline as a live stream runs (framing, events, snapshot, callbacks, errors), so a
    recording of a failed or cut stream raises exactly as it did live.
    """
    chunks: Iterable[bytes]
    if isinstance(source, (bytes, bytearray)):
        chunks = [bytes(source)]
    elif isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            chunks = [fh.read()]
    else:
        chunks = source
    handler = handler if handler is not None else ResponseHandler()
    return run_handler(
        handler, lambda: EventStream(offline_response(chunks), accumulate=accumulate), accumulate
    )


def _drive(events: EventStream, handler: ResponseHandler, accumulate: bool) -> Response:
    """Feed every event of ``events`` to ``handler``; return the final snapshot."""
    dispatcher = Dispatcher(handler, accumulated=accumulate)
    dispatch = dispatcher.dispatch
    acc = events.accumulator
    terminal_types = TERMINAL_TYPES
    for event in events:
        if event.type in terminal_types and acc.unfinished_at_terminal:
            dispatcher.finish_items(acc.unfinished_at_terminal)
        dispatch(event, events.last_result)
        if handler._stop_requested:
            break
    return events.response


def stream(handler: Optional[ResponseHandler] = None, **params: Any) -> Response:
    """Stream one response with a temporary :class:`Client` (like ``requests.get``).

    Client settings come from the environment (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``); every
    other keyword is passed to :meth:`Client.stream`.
    """
    with Client() as client:
        return client.stream(handler, **params)
