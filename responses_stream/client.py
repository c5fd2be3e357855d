"""The :class:`Client`: configuration, one ``requests.Session``, and the streaming entry points."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    Mapping,
    Optional,
    Sequence,
    Union,
    cast,
)
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter

from . import __version__
from ._stream import EventStream, offline_response
from ._transport import RetryPolicy, Timeout, merge_headers, send_with_retries, timeouts
from .errors import (
    BadRequestError,
    ConfigurationError,
    ConflictError,
    ProtocolError,
    ResponsesStreamError,
)
from .handler import Dispatcher, ResponseHandler, _overrides
from .models import Response

if TYPE_CHECKING:
    from ._loop import ToolSpec

PathLike = Union[str, "os.PathLike[str]"]
"""A file path, as ``str`` or ``pathlib.Path``."""

__all__ = ["DEFAULT_BASE_URL", "Client", "replay", "stream"]

logger = logging.getLogger("responses_stream")

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


def _is_local(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in _LOCAL_HOSTS or host.startswith("127.") or host.endswith(".localhost")


class _Options:
    """The SDK's own per-call keywords (everything else goes into the request body)."""

    __slots__ = (
        "accumulate",
        "cancel_on_stop",
        "extra_headers",
        "max_resumes",
        "max_retries",
        "on_resume",
        "on_retry",
        "record_to",
        "timeout",
    )

    def __init__(
        self,
        *,
        accumulate: bool = True,
        timeout: Union[Timeout, float, None] = None,
        max_retries: Optional[int] = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_resumes: int = 5,
        record_to: Optional[PathLike] = None,
        cancel_on_stop: bool = False,
        on_retry: Optional[Callable[[Exception, int, float], None]] = None,
        on_resume: Optional[Callable[[str, Optional[int]], None]] = None,
    ) -> None:
        if not isinstance(max_resumes, int) or max_resumes < 0:
            raise ConfigurationError(f"max_resumes must be an int >= 0, got {max_resumes!r}")
        self.accumulate = accumulate
        self.timeout = timeout
        self.max_retries = max_retries
        self.extra_headers = extra_headers
        self.max_resumes = max_resumes
        self.record_to = record_to
        self.cancel_on_stop = cancel_on_stop
        self.on_retry = on_retry
        self.on_resume = on_resume


class Client:
    """A connection to a Responses API server (OpenAI, Azure OpenAI or a compatible one).

    ``api_key`` defaults to ``$OPENAI_API_KEY`` and ``base_url`` to ``$OPENAI_BASE_URL``, else
    ``https://api.openai.com/v1``. A key is required except for servers on localhost. ``timeout``
    is a number or :class:`~responses_stream.Timeout` (connect 5 s, read/idle 600 s by default).
    ``max_retries`` (default 2) applies to failures before a stream starts; a stream that has
    started is never sent again. Pass ``session`` to reuse your own ``requests.Session`` (it is
    then yours to close).

    Azure OpenAI: pass ``azure_endpoint="https://NAME.openai.azure.com"`` (or set
    ``AZURE_OPENAI_ENDPOINT`` and no OpenAI settings) with ``api_key`` (sent as ``api-key``;
    default ``$AZURE_OPENAI_API_KEY``), or ``azure_ad_token`` / ``azure_ad_token_provider``
    (sent as ``Authorization: Bearer``). Requests go to the v1 route ``/openai/v1/responses``;
    ``api_version`` (default ``$OPENAI_API_VERSION``) switches to the dated route
    ``/openai/responses?api-version=...``. ``model`` is your deployment name.

    A client may be shared by threads: each call builds its own request and stream, and the
    session's connection pool is sized for concurrent streams. Use it as a context manager, or
    call :meth:`close`, to release pooled connections. Credentials are never sent to another
    host when a server redirects.
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
        azure_endpoint: Optional[str] = None,
        api_version: Optional[str] = None,
        azure_ad_token: Optional[str] = None,
        azure_ad_token_provider: Optional[Callable[[], str]] = None,
    ) -> None:
        env = os.environ
        openai_configured = base_url or env.get("OPENAI_BASE_URL") or api_key is not None
        if azure_endpoint is None and not openai_configured and not env.get("OPENAI_API_KEY"):
            azure_endpoint = env.get("AZURE_OPENAI_ENDPOINT") or None
        self.is_azure = azure_endpoint is not None
        self._query: Dict[str, str] = {}
        self._token_provider: Optional[Callable[[], str]] = None
        if azure_endpoint is not None:
            if base_url is not None:
                raise ConfigurationError("pass either base_url or azure_endpoint, not both")
            version = api_version or env.get("OPENAI_API_VERSION")
            root = azure_endpoint.rstrip("/")
            if version:
                self.base_url = root + "/openai"
                self._query = {"api-version": version}
            else:
                self.base_url = root + "/openai/v1"
            key = api_key if api_key is not None else env.get("AZURE_OPENAI_API_KEY")
            if azure_ad_token_provider is not None:
                self._token_provider = azure_ad_token_provider
                auth: Optional[Dict[str, str]] = None
            elif azure_ad_token:
                auth = {"Authorization": f"Bearer {azure_ad_token}"}
            elif key:
                auth = {"api-key": key}
            else:
                raise ConfigurationError(
                    "Azure OpenAI needs api_key (or AZURE_OPENAI_API_KEY), azure_ad_token or "
                    "azure_ad_token_provider"
                )
        else:
            self.base_url = (base_url or env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
            key = api_key if api_key is not None else env.get("OPENAI_API_KEY")
            if not key and not _is_local(self.base_url):
                raise ConfigurationError(
                    "no API key: pass Client(api_key=...) or set OPENAI_API_KEY "
                    "(a key is optional only for servers on localhost)"
                )
            auth = {"Authorization": f"Bearer {key}"} if key else None
        if not urlsplit(self.base_url).scheme.startswith("http"):
            raise ConfigurationError(f"base_url must be an http(s) URL, got {self.base_url!r}")
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise ConfigurationError(f"max_retries must be an int >= 0, got {max_retries!r}")
        self.max_retries = max_retries
        self.timeout = Timeout.coerce(timeout)
        self.organization = organization or env.get("OPENAI_ORG_ID")
        self.project = project or env.get("OPENAI_PROJECT_ID")
        self._own_session = session is None
        if session is None:
            session = requests.Session()
            # Room for many concurrent streams from threads sharing this client.
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=64, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        _strip_credentials_on_redirect(session)
        self._session = session
        self._headers = merge_headers(
            {
                "User-Agent": f"responses-stream/{__version__}",
                # Compression makes proxies buffer and adds latency per event.
                "Accept-Encoding": "identity",
                "Content-Type": "application/json",
            },
            auth,
            {"OpenAI-Organization": self.organization} if self.organization else None,
            {"OpenAI-Project": self.project} if self.project else None,
            default_headers,
        )
        # Injectable for tests: no real sleeping, controllable clocks.
        self._sleep: Callable[[float], None] = time.sleep
        self._clock: Callable[[], float] = time.monotonic

    def __repr__(self) -> str:
        kind = " azure" if self.is_azure else ""
        return f"<responses_stream.Client{kind} base_url={self.base_url!r}>"

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
        max_resumes: int = 5,
        record_to: Optional[PathLike] = None,
        cancel_on_stop: bool = False,
        text_format: Optional[type] = None,
        **params: Any,
    ) -> Response:
        """Create a response with ``stream: true`` and feed every event to ``handler``.

        Blocks until the stream ends and returns the final :class:`Response` (check
        ``.status``: ``completed`` or ``incomplete``). Every keyword not listed here goes into
        the JSON body unchanged, so new API parameters need no SDK release.

        SDK keywords: ``accumulate=False`` keeps no output in the snapshot (memory stays flat
        on unbounded streams; the accumulated callbacks are then not called). ``timeout`` and
        ``max_retries`` override the client's. ``extra_headers`` adds (or, with ``None``,
        removes) headers. With ``background=True`` a broken stream is resumed up to
        ``max_resumes`` times (``on_resume`` is called; no event is delivered twice), and
        ``cancel_on_stop=True`` cancels the response when ``handler.stop()`` ends the stream.
        ``record_to`` writes the raw bytes received to a file (see :func:`replay`).
        ``text_format=SomeDataclass`` sends ``text.format`` (a strict JSON Schema built from
        the dataclass); once the response has completed, ``response.output_parsed`` is an
        instance of it (``None`` for an incomplete response or a refusal).

        Raises :class:`ResponseFailedError` after ``on_failed``, :class:`StreamError` after
        an ``error`` event, :class:`StreamInterrupted` when the body ends early, and the
        :class:`APIStatusError` family when the request is refused. Exceptions raised by your
        callbacks reach you unchanged, after ``on_exception``; ``on_end`` always runs last.
        If a callback calls ``handler.stop()``, the partial snapshot is returned.
        """
        handler = handler if handler is not None else ResponseHandler()
        options = _Options(
            accumulate=accumulate,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            max_resumes=max_resumes,
            record_to=record_to,
            cancel_on_stop=cancel_on_stop,
            on_retry=_overrides(handler, "on_retry"),
            on_resume=_overrides(handler, "on_resume"),
        )
        if text_format is not None:
            from .structured import prepare_text_format

            params = prepare_text_format(params, text_format)
        return self._run(handler, lambda: self._create(params, options, text_format), options)

    def events(
        self,
        *,
        accumulate: bool = True,
        timeout: Union[Timeout, float, None] = None,
        max_retries: Optional[int] = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_resumes: int = 5,
        record_to: Optional[PathLike] = None,
        text_format: Optional[type] = None,
        **params: Any,
    ) -> EventStream:
        """Create a response with ``stream: true`` and return an :class:`EventStream`.

        The request is sent (and retried) now; iterate the result for typed events, inside a
        ``with`` block so the connection is always closed. Keywords as for :meth:`stream`.
        """
        if "handler" in params:
            raise ConfigurationError("events() takes no handler; use stream(handler=...)")
        options = _Options(
            accumulate=accumulate,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            max_resumes=max_resumes,
            record_to=record_to,
        )
        if text_format is not None:
            from .structured import prepare_text_format

            params = prepare_text_format(params, text_format)
        return self._create(params, options, text_format)

    def run(
        self,
        handler: Optional[ResponseHandler] = None,
        *,
        tools: Sequence[ToolSpec],
        max_turns: int = 10,
        tool_workers: Optional[int] = None,
        raise_tool_errors: bool = False,
        text_format: Optional[type] = None,
        **params: Any,
    ) -> Response:
        """Stream turns into ``handler`` and run the model's function calls until it answers.

        ``tools`` holds ``@rs.tool`` functions (plain typed functions are decorated for you)
        and raw tool dicts (``{"type": "web_search"}``), sent as the request's ``tools``. When
        a turn's response holds function calls, each runs with its validated arguments and the
        next turn sends the ``function_call_output`` items (non-string results JSON-encoded)
        after ``previous_response_id``; with ``store=False`` it re-sends the whole conversation,
        reasoning items with their ``encrypted_content`` included (``include`` gets
        ``"reasoning.encrypted_content"``). Returns the first response without function calls
        (or an ``incomplete`` one, whose calls are not run, or the one during which
        ``handler.stop()`` was called).

        Calls run in order; ``tool_workers=N`` runs a turn's calls on N threads (results are
        still sent, and callbacks fired, in call order). A tool that raises, an unknown tool
        name and invalid arguments are answered with the error message, so the model can
        recover, and reported to ``handler.on_tool_error``; ``raise_tool_errors=True``
        re-raises what a tool raised. Raises :class:`MaxTurnsExceeded` (with every response)
        when turn ``max_turns`` still calls functions. Other keywords are as for
        :meth:`stream`; ``text_format`` applies to every turn and the final response's
        ``output_parsed``.
        """
        from ._loop import run as run_tool_loop  # loaded on first use (import time)

        return run_tool_loop(
            self,
            handler,
            tools=tools,
            max_turns=max_turns,
            tool_workers=tool_workers,
            raise_tool_errors=raise_tool_errors,
            text_format=text_format,
            **params,
        )

    # ------------------------------------------------------------------ background responses

    def resume(
        self,
        response_id: str,
        handler: Optional[ResponseHandler] = None,
        *,
        starting_after: Optional[int] = None,
        accumulate: bool = True,
        timeout: Union[Timeout, float, None] = None,
        max_retries: Optional[int] = None,
        max_resumes: int = 5,
        cancel_on_stop: bool = False,
    ) -> Response:
        """Attach to a running or finished background response and stream it into ``handler``.

        The stream is replayed from its start so the returned :class:`Response` is complete;
        with ``starting_after=N`` the handler only sees events after sequence number ``N``
        (the ones you have not processed yet). Breaks are resumed like in :meth:`stream`.
        """
        handler = handler if handler is not None else ResponseHandler()
        options = _Options(
            accumulate=accumulate,
            timeout=timeout,
            max_retries=max_retries,
            max_resumes=max_resumes,
            cancel_on_stop=cancel_on_stop,
            on_retry=_overrides(handler, "on_retry"),
            on_resume=_overrides(handler, "on_resume"),
        )

        def open_stream() -> EventStream:
            http = self._open_resume(response_id, None, options)
            return self._event_stream(http, options, background=True, deliver_after=starting_after)

        return self._run(handler, open_stream, options)

    def retrieve(
        self, response_id: str, *, timeout: Union[Timeout, float, None] = None
    ) -> Response:
        """Fetch a stored response (``GET /responses/{id}``) as a :class:`Response`."""
        data = self._request_json("GET", f"/responses/{_path_id(response_id)}", timeout=timeout)
        return Response.from_wire(data)

    def cancel(self, response_id: str, *, timeout: Union[Timeout, float, None] = None) -> Response:
        """Cancel a background response (``POST /responses/{id}/cancel``); idempotent.

        Cancelling a response that already finished or was cancelled is not an error: the
        response is returned as it is.
        """
        path = f"/responses/{_path_id(response_id)}/cancel"
        try:
            data = self._request_json("POST", path, body={}, timeout=timeout)
        except (BadRequestError, ConflictError) as exc:
            try:
                current = self.retrieve(response_id, timeout=timeout)
            except ResponsesStreamError:
                raise exc from None
            if current.status in ("completed", "failed", "cancelled", "incomplete"):
                return current
            raise
        return Response.from_wire(data)

    # --------------------------------------------------------------------------- internals

    def _run(
        self, handler: ResponseHandler, open_stream: Callable[[], EventStream], options: _Options
    ) -> Response:
        final = run_handler(handler, open_stream, options.accumulate)
        finished = final.status in ("completed", "failed", "cancelled", "incomplete")
        if options.cancel_on_stop and handler.stopped and final.id and not finished:
            self.cancel(final.id)
        return final

    def _create(
        self, params: Mapping[str, Any], options: _Options, text_format: Optional[type] = None
    ) -> EventStream:
        body = dict(params)
        body["stream"] = True
        try:
            payload = json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"request parameters are not JSON-serialisable: {exc}"
            ) from exc
        deadline = self._deadline(options.timeout)
        http = self._send(
            "POST", "/responses", payload, options=options, deadline=deadline, stream=True
        )
        stream = self._event_stream(
            http, options, background=bool(body.get("background")), deadline=deadline
        )
        if text_format is not None:
            # output_parsed parses on first access once the snapshot has completed.
            from .structured import bind_text_format

            bind_text_format(stream.response, text_format)
        return stream

    def _event_stream(
        self,
        http: requests.Response,
        options: _Options,
        *,
        background: bool,
        deliver_after: Optional[int] = None,
        deadline: Optional[float] = None,
    ) -> EventStream:
        def reopen(response_id: str, after: Optional[int]) -> requests.Response:
            return self._open_resume(response_id, after, options, deadline)

        return EventStream(
            http,
            accumulate=options.accumulate,
            deliver_after=deliver_after,
            deadline=deadline,
            clock=self._clock,
            reopen=reopen if background else None,
            max_resumes=options.max_resumes,
            on_resume=options.on_resume,
            sleep=self._sleep,
            record_to=options.record_to,
        )

    def _open_resume(
        self,
        response_id: str,
        after: Optional[int],
        options: _Options,
        deadline: Optional[float] = None,
    ) -> requests.Response:
        query: Dict[str, Any] = {"stream": "true"}
        if after is not None:
            query["starting_after"] = str(after)
        if deadline is None:
            deadline = self._deadline(options.timeout)
        path = f"/responses/{_path_id(response_id)}"
        return self._send(
            "GET", path, None, query=query, options=options, deadline=deadline, stream=True
        )

    def _request_json(
        self,
        method: str,
        path: str,
        *,
        body: Optional[Mapping[str, Any]] = None,
        timeout: Union[Timeout, float, None] = None,
    ) -> Dict[str, Any]:
        options = _Options(timeout=timeout)
        payload = json.dumps(body).encode("utf-8") if body is not None else None
        deadline = self._deadline(timeout)
        resp = self._send(method, path, payload, options=options, deadline=deadline, stream=False)
        try:
            data = resp.json()
        except ValueError as exc:
            raise ProtocolError(
                f"expected a JSON response from {method} {path}, got: {resp.text[:200]!r}",
                data=resp.content,
                request_id=resp.headers.get("x-request-id"),
            ) from exc
        finally:
            resp.close()
        if not isinstance(data, dict):
            raise ProtocolError(f"expected a JSON object from {method} {path}", data=data)
        return data

    def _deadline(self, timeout: Union[Timeout, float, None]) -> Optional[float]:
        limits = Timeout.coerce(timeout) if timeout is not None else self.timeout
        return self._clock() + limits.total if limits.total is not None else None

    def _send(
        self,
        method: str,
        path: str,
        payload: Optional[bytes],
        *,
        query: Optional[Mapping[str, Any]] = None,
        options: _Options,
        deadline: Optional[float],
        stream: bool,
    ) -> requests.Response:
        """Send one request with the client's auth, timeouts and retry policy."""
        limits = Timeout.coerce(options.timeout) if options.timeout is not None else self.timeout
        retries = self.max_retries if options.max_retries is None else options.max_retries
        if not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(f"max_retries must be an int >= 0, got {retries!r}")
        clock = self._clock
        url = self.base_url + path
        params = {**self._query, **(query or {})}
        accept = {"Accept": "text/event-stream" if stream else "application/json"}
        token = (
            {"Authorization": f"Bearer {self._token_provider()}"}
            if self._token_provider is not None
            else None
        )
        headers = merge_headers(self._headers, accept, token, options.extra_headers)
        session = self._session

        def send() -> requests.Response:
            connect, read = timeouts(limits, deadline, clock)
            return session.request(
                method,
                url,
                data=payload,
                params=params or None,
                headers=headers,
                stream=stream,
                timeout=(connect, read),
            )

        policy = RetryPolicy(max_retries=retries, sleep=self._sleep, clock=clock)
        resp = send_with_retries(
            send, url=url, policy=policy, deadline=deadline, on_retry=options.on_retry
        )
        logger.debug("%s %s: request id %s", method, url, resp.headers.get("x-request-id"))
        return resp


def _path_id(response_id: str) -> str:
    if not isinstance(response_id, str) or not response_id:
        raise ConfigurationError(f"response_id must be a non-empty string, got {response_id!r}")
    return quote(response_id, safe="")


_CREDENTIAL_HEADERS = ("Authorization", "api-key")


def _strip_credentials_on_redirect(session: requests.Session) -> None:
    """Make ``session`` drop ``api-key`` (Azure) as well as ``Authorization`` on a redirect to
    another host; requests only knows about the latter."""
    if getattr(session, "_responses_stream_safe_redirects", False):
        return
    # requests' own methods are untyped in its stubs: give them the types they have.
    original = cast(Callable[[Any, Any], None], session.rebuild_auth)
    should_strip = cast(Callable[[str, str], bool], session.should_strip_auth)

    def rebuild_auth(prepared_request: Any, response: Any) -> None:
        original(prepared_request, response)
        if should_strip(response.request.url, prepared_request.url):
            for name in _CREDENTIAL_HEADERS:
                prepared_request.headers.pop(name, None)

    session.rebuild_auth = rebuild_auth  # type: ignore[method-assign]
    session._responses_stream_safe_redirects = True  # type: ignore[attr-defined]


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
    acc = events.accumulator
    dispatcher = Dispatcher(
        handler, accumulated=accumulate, unfinished=lambda: acc.unfinished_at_terminal
    )
    # The per-event path: one dict lookup and at most one call (see Dispatcher.plan).
    plans = dispatcher.plans
    plan = dispatcher.plan
    for event in events:
        cls = type(event)
        step = plans[cls] if cls in plans else plan(cls)
        if step is not None:
            step(event, events.last_result)
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
