"""The :class:`Client` and its verbs: stream, events, run, resume, retrieve, cancel.

A verb turns its keywords into a request (``_transport``) and a stream over the answer
(``_stream``), and for the callback style drives a handler through it (``handler``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, List, Mapping, Optional, Sequence, Union
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from . import _loop
from ._call import Call, PathLike, from_request, request_body
from ._config import DEFAULT_BASE_URL, Azure, Timeout, check_count, resolve
from ._durable import DEFAULT_EVERY, Durable, per_turn
from ._events_stream import EventStream
from ._keywords import keywords_of
from ._many import Multiplexer, Opener, Outcome, Slot
from ._many_run import ManyEvents, run_callbacks
from ._opening import StreamOpener, path_id
from ._session import own_connections, protect_redirects, settle_environment
from ._sse import DEFAULT_MAX_EVENT_BYTES
from ._stream import StreamCore
from ._transport import Transport
from ._watchdog import watch_session
from .errors import BadRequestError, ConfigurationError, ConflictError, ResponsesStreamError
from .handler import ResponseHandler, handler_or_default, run_handler
from .models import TERMINAL_STATUSES, Response

if TYPE_CHECKING:
    from ._store_base import CheckpointStore
    from ._tracing import Tracing


__all__ = ["DEFAULT_BASE_URL", "Client", "ManyEvents", "stream"]


class Client:
    """A connection to a Responses API server (OpenAI, Azure OpenAI or a compatible one).

    ``api_key`` defaults to ``$OPENAI_API_KEY`` and ``base_url`` to ``$OPENAI_BASE_URL``, else
    ``https://api.openai.com/v1``. A key is required except for servers on localhost. ``timeout``
    is a number or :class:`~responses_stream.Timeout` (connect 5 s, read 600 s by default).
    ``max_retries`` (default 2) applies to failures before a stream starts; a stream that has
    started is never sent again. Pass ``session`` to reuse your own ``requests.Session`` (it is
    then yours to close). ``default_headers`` go with every request; a ``None`` value leaves
    that header out, as it does in ``extra_headers``.

    Azure OpenAI: pass ``azure_endpoint="https://NAME.openai.azure.com"`` (or set
    ``AZURE_OPENAI_ENDPOINT`` and no OpenAI settings) with ``api_key`` (sent as ``api-key``;
    default ``$AZURE_OPENAI_API_KEY``), or ``azure_ad_token`` / ``azure_ad_token_provider``
    (sent as ``Authorization: Bearer``). Requests go to the v1 route ``/openai/v1/responses``;
    ``api_version`` (default ``$OPENAI_API_VERSION``) switches to the dated route
    ``/openai/responses?api-version=...``. ``model`` is your deployment name.

    A client may be shared by threads: each call builds its own request and stream, and the
    session's connection pool is sized for concurrent streams. Use it as a context manager, or
    call :meth:`close`, to release pooled connections. Credentials are never sent to another
    host when a server redirects. Proxies and the CA bundle come from the environment
    (``HTTPS_PROXY``, ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``), read when the client is made.

    OpenTelemetry (``pip install 'responses-stream[otel]'``): every stream is a ``chat {model}``
    span and every :meth:`run` an ``invoke_agent`` span with a child per turn and per tool call
    (``execute_tool {name}``), following the GenAI semantic conventions. ``tracing=None`` (the
    default) turns it on when a tracer or meter provider is passed, or when the application
    has installed a global tracer provider; ``True`` forces it on (the global providers, or
    ``tracer_provider``/``meter_provider``), ``False`` off. Prompts, answers and tool arguments
    are recorded only with ``trace_content=True``. Off, ``opentelemetry`` is never imported.

    ``max_event_bytes`` (default 64 MiB) bounds the memory one event may take: a larger one,
    or an SSE comment over 64 KiB, fails the stream with
    :class:`~responses_stream.errors.ProtocolError` once that much has arrived (``None``: no
    limit; only for servers you trust).
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
        default_headers: Optional[Mapping[str, Optional[str]]] = None,
        session: Optional[requests.Session] = None,
        azure_endpoint: Optional[str] = None,
        api_version: Optional[str] = None,
        azure_ad_token: Optional[str] = None,
        azure_ad_token_provider: Optional[Callable[[], str]] = None,
        tracing: Optional[bool] = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        trace_content: bool = False,
        max_event_bytes: Optional[int] = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self.settings = resolve(
            api_key,
            base_url,
            organization=organization,
            project=project,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            azure=Azure(azure_endpoint, api_version, azure_ad_token, azure_ad_token_provider),
        )
        """What every request carries (:class:`responses_stream._config.Settings`)."""
        self._own_session = session is None
        if session is None:
            session = requests.Session()
            # Room for many concurrent streams from threads sharing this client.
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=1024, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            settle_environment(session, self.settings.base_url)
        from ._tracing import Tracing  # here, not at import: most programs never trace

        self._tracing: Optional[Tracing] = Tracing.configure(
            enabled=tracing,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            trace_content=trace_content,
            provider_name="azure.ai.openai" if self.settings.is_azure else "openai",
        )
        url = urlsplit(self.settings.base_url)
        server = (url.hostname or "", url.port or (443 if url.scheme == "https" else 80))
        self._server = server  # what tracing reports as the server
        protect_redirects(session)
        own_connections(session)
        watch_session(session)
        self._transport = Transport(session, self.settings)
        self._opener = StreamOpener(self._transport, self._tracing, server, max_event_bytes)

    @property
    def base_url(self) -> str:
        """The API root requests go to, e.g. ``https://api.openai.com/v1`` (without any
        ``user:password@``: those credentials are sent as an ``Authorization`` header)."""
        return self.settings.base_url

    @property
    def is_azure(self) -> bool:
        """True for an Azure OpenAI endpoint."""
        return self.settings.is_azure

    def __repr__(self) -> str:
        kind = " azure" if self.is_azure else ""
        # shown_url: credentials in the configured URL appear as user:***@.
        shown = self.settings.shown_url or self.base_url
        return f"<responses_stream.Client{kind} base_url={shown!r}>"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections (a session you passed in is left open)."""
        if self._own_session:
            self._transport.session.close()

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
        checkpoint: Optional[CheckpointStore] = None,
        key: Optional[str] = None,
        checkpoint_every: float = DEFAULT_EVERY,
        **params: Any,
    ) -> Response:
        """Create a response with ``stream: true`` and feed every event to ``handler``.

        Blocks until the stream ends and returns the final :class:`Response` (check
        ``.status``: ``completed`` or ``incomplete``). Every keyword not listed here goes into
        the JSON body unchanged, so new API parameters need no SDK release.

        SDK keywords: ``accumulate=False`` keeps no output in the snapshot (memory stays flat
        on unbounded streams; the accumulated callbacks such as ``on_text_delta`` are then not
        called). ``timeout`` and ``max_retries`` override the client's. ``extra_headers`` adds
        (or, with ``None``, removes) headers. With ``background=True`` a broken stream is
        resumed up to ``max_resumes`` times (``on_resume`` is called; no event is delivered
        twice), and ``cancel_on_stop=True`` cancels the response when ``handler.stop()`` ends
        the stream. ``record_to`` writes the raw bytes received to a file (play it back with
        :func:`~responses_stream.replay`). ``text_format`` takes a dataclass: the request asks
        for JSON matching it and ``response.output_parsed`` is an instance of it.

        ``checkpoint=`` (a store of :mod:`responses_stream.checkpoints`, with
        ``background=True``) saves the stream's progress under ``key`` (a job id) every
        ``checkpoint_every`` seconds; a call that finds it there resumes that response (no
        POST; ``on_resume``) or returns it if it had finished. Events after the last checkpoint
        may come again after a crash (same ``sequence_number``); none is skipped.
        """
        handler = handler_or_default(handler)
        call = Call(
            handler,
            accumulate,
            timeout,
            max_retries,
            max_resumes,
            extra_headers,
            record_to,
            cancel_on_stop,
        )
        params, durable = request_body(params, text_format, checkpoint, key, checkpoint_every)
        return self._drive(
            handler,
            lambda: self._create_or_resume(params, call, text_format, durable),
            call,
            self._canceller(durable),
        )

    @keywords_of(stream)
    def events(self, **keywords: Any) -> EventStream:
        """Create a response with ``stream: true`` and return an :class:`EventStream`.

        The request is sent (and retried) now; iterate the result for typed events, inside a
        ``with`` block so the connection is always closed. Keywords as for :meth:`stream`,
        without ``handler``. With ``background=True``, ``cancel_on_stop=True`` cancels the
        response when the stream is closed before its end (by leaving the ``with`` block,
        ``break`` or an exception included, by :meth:`EventStream.close` or by dropping it)
        once its id has arrived. A failure of that cancel is raised by ``close()`` or at the
        end of the ``with`` block; when an exception is already on its way, or the stream was
        dropped, it is logged as a warning on the ``responses_stream`` logger instead.
        """
        if "handler" in keywords:
            raise ConfigurationError("events() takes no handler; use stream(handler=...)")
        call, params, text_format, durable = from_request(None, keywords)
        cancels = call.cancel_on_stop and params.get("background")
        stop = self._canceller(durable) if cancels else None
        return EventStream(self._create_or_resume(params, call, text_format, durable), stop)

    def _create_or_resume(
        self, params: Any, call: Call, text_format: Optional[type], durable: Optional[Durable]
    ) -> StreamCore:
        """A new response's stream or, with a checkpoint, the saved one's (``_durable``)."""
        if durable is None:
            return self._opener.create(params, call, text_format)
        return durable.open(
            lambda: self._opener.create(params, call, text_format),
            lambda rid, after: self._opener.resume(rid, after, call, None),
            call,
            text_format,
        )

    def run(
        self,
        handler: Optional[ResponseHandler] = None,
        *,
        tools: Sequence[_loop.ToolSpec],
        max_turns: int = 10,
        tool_workers: Optional[int] = None,
        raise_tool_errors: bool = False,
        checkpoint: Optional[CheckpointStore] = None,
        key: Optional[str] = None,
        checkpoint_every: float = DEFAULT_EVERY,
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
        ``handler.stop()`` was called; a ``stop()`` between two turns, in ``on_turn_start`` or
        from another thread while tools run or before the next turn's response exists, sends
        no more requests and returns the last).

        Calls run in order; ``tool_workers=N`` runs a turn's calls on N threads (results are
        still sent, and callbacks fired, in call order). A tool that raises, an unknown tool
        name and invalid arguments are answered with the error message, so the model can
        recover, and reported to ``handler.on_tool_error``; ``raise_tool_errors=True``
        re-raises what a tool raised. Raises :class:`~responses_stream.errors.MaxTurnsExceeded`
        (with every response) when turn ``max_turns`` still calls functions. Other keywords
        are as for :meth:`stream`; ``text_format`` applies to every turn and the final
        response's ``output_parsed``. With ``checkpoint=`` each turn is checkpointed under
        its own key: ``key`` for the first, then ``f"{key}:turn-2"`` and so on.
        """
        stream: Callable[..., Response] = self.stream
        if Durable.configure(checkpoint, key, checkpoint_every, params) is not None:
            stream = per_turn(self.stream, checkpoint, key, checkpoint_every)
        return _loop.run(
            stream,
            handler,
            tracing=self._tracing,
            tools=tools,
            max_turns=max_turns,
            tool_workers=tool_workers,
            raise_tool_errors=raise_tool_errors,
            text_format=text_format,
            **params,
        )

    def stream_many(
        self,
        requests: Iterable[Mapping[str, Any]],
        handler: Optional[Callable[[int, Mapping[str, Any]], ResponseHandler]] = None,
        *,
        concurrency: int = 100,
        fail_fast: bool = False,
    ) -> List[Outcome]:
        """Stream many responses at once in this thread; return each one's outcome, in order.

        ``requests`` is an iterable of dicts, each holding the keywords of one :meth:`stream`
        call (``{"model": "gpt-5", "input": "Hi"}``; SDK keywords such as ``timeout``,
        ``background``, ``record_to`` or ``text_format`` included). ``handler(index, params)``
        makes the :class:`ResponseHandler` of request ``index`` (``None``: no callbacks). The
        result lists, in input order, each request's final :class:`Response` or the
        :mod:`~responses_stream.errors` exception that ended it; nothing is raised for one
        stream's failure.

        At most ``concurrency`` streams are open at once; the rest wait their turn (the
        iterable is read as they start). No thread per stream: one selector reads every
        socket in this thread, so hundreds of streams cost little more per event than one.
        Requests go out from this thread too, on non-blocking sockets (retried like
        :meth:`stream`'s); a small fixed pool of threads does what would block (name lookups,
        TLS handshakes). Every callback runs in this thread, never two at once. Each stream
        keeps every guarantee of :meth:`stream`: time limits, background resume,
        ``handler.stop()`` of that stream alone, exact partial responses, metrics, tracing,
        recording. An exception from a callback ends that stream (it becomes its outcome,
        after ``on_exception``) unless ``fail_fast=True``, which closes every stream and
        raises it. Ctrl-C closes every connection and raises ``KeyboardInterrupt``.
        """
        mux = Multiplexer(
            requests,
            self._many_opener,
            self._transport,
            handler=handler,
            concurrency=concurrency,
            callbacks=True,
        )
        return run_callbacks(mux, fail_fast=fail_fast)

    def events_many(
        self, requests: Iterable[Mapping[str, Any]], *, concurrency: int = 100
    ) -> ManyEvents:
        """Stream many responses at once in this thread, pull style (see :meth:`stream_many`).

        Returns a :class:`~responses_stream.client.ManyEvents`: iterate it, in a ``with``
        block, for ``(index, event)`` pairs as they arrive; ``.response(index)`` is request
        ``index``'s snapshot and ``.outcomes`` each request's final response or exception.
        """
        mux = Multiplexer(
            requests,
            self._many_opener,
            self._transport,
            handler=None,
            concurrency=concurrency,
            callbacks=False,
        )
        return ManyEvents(mux)

    def _many_opener(self, slot: Slot, request: Mapping[str, Any]) -> Opener:
        """What opens one request of ``stream_many``, its keywords split into the SDK's and
        the body's as :meth:`stream` does: the steps of ``StreamOpener.creating`` (run on
        the selector), or for a checkpointed stream a function run on the pool."""
        call, params, text_format, durable = from_request(slot.handler, request)
        call.on_retry = slot.mux.marshal(slot, call.on_retry)
        call.on_resume = slot.mux.marshal(slot, call.on_resume)
        call.on_guard = slot.mux.guarded(slot)
        slot.cancel_on_stop, slot.cancel = call.cancel_on_stop, self._canceller(durable)
        slot.read_limit = (call.timeout or self.settings.timeout).read
        if durable is None:
            return self._opener.creating(params, call, text_format)
        return lambda: self._create_or_resume(params, call, text_format, durable)

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
        record_to: Optional[PathLike] = None,
    ) -> Response:
        """Attach to a running or finished background response and stream it into ``handler``.

        The stream is replayed from its start so the returned :class:`Response` is complete;
        with ``starting_after=N`` the handler only sees events after sequence number ``N``
        (the ones you have not processed yet); an event without a number counts as coming
        after the numbered event before it. Breaks are resumed like in :meth:`stream`, and
        ``record_to`` records the stream as there.
        """
        handler = handler_or_default(handler)
        call = Call(
            handler, accumulate, timeout, max_retries, max_resumes, None, record_to, cancel_on_stop
        )
        if starting_after is not None:
            check_count("starting_after", starting_after)

        def open_stream() -> StreamCore:
            return self._opener.resume(response_id, None, call, starting_after)

        return self._drive(handler, open_stream, call, self._cancel_unfinished)

    def retrieve(
        self, response_id: str, *, timeout: Union[Timeout, float, None] = None
    ) -> Response:
        """Fetch a stored response (``GET /responses/{id}``) as a :class:`Response`."""
        path = f"/responses/{path_id(response_id)}"
        return self._transport.request_json("GET", path, Response.from_wire, timeout=timeout)

    def cancel(self, response_id: str, *, timeout: Union[Timeout, float, None] = None) -> Response:
        """Cancel a background response (``POST /responses/{id}/cancel``); idempotent.

        Cancelling a response that already finished or was cancelled is not an error: the
        response is returned as it is.
        """
        path = f"/responses/{path_id(response_id)}/cancel"
        try:
            return self._transport.request_json(
                "POST", path, Response.from_wire, body={}, timeout=timeout
            )
        except (BadRequestError, ConflictError) as exc:
            try:
                current = self.retrieve(response_id, timeout=timeout)
            except ResponsesStreamError:
                raise exc from None
            if current.status in TERMINAL_STATUSES:
                return current
            raise

    # --------------------------------------------------------------------------- internals

    def _drive(
        self,
        handler: ResponseHandler,
        open_stream: Callable[[], StreamCore],
        call: Call,
        cancel: Callable[[Response], None],
    ) -> Response:
        final = run_handler(handler, open_stream)
        if call.cancel_on_stop and handler.stopped:
            cancel(final)
        return final

    def _canceller(self, durable: Optional[Durable]) -> Callable[[Response], None]:
        """``cancel_on_stop``'s cancel; with a checkpoint, its end is saved too, so that a call
        run again with the key returns the cancelled response without a request."""
        if durable is None:
            return self._cancel_unfinished

        def cancel(final: Response) -> None:
            was = final.status
            self._cancel_unfinished(final)
            if final.status != was:
                durable.ended()

        return cancel

    def _cancel_unfinished(self, final: Response) -> None:
        """``cancel_on_stop``: cancel a response stopped before its end, once its id is known.
        The partial output stays as it was received; the status is the server's now."""
        if final.id and final.status not in TERMINAL_STATUSES:
            try:
                status = self.cancel(final.id).status
            except ResponsesStreamError as error:
                if error.response is None:
                    error.response = final  # what was received is not lost with the cancel
                raise
            if isinstance(status, str):  # an answer without one says nothing of it
                final.status = status


def stream(handler: Optional[ResponseHandler] = None, **params: Any) -> Response:
    """Stream one response with a temporary :class:`Client` (like ``requests.get``).

    Client settings come from the environment (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``); every
    other keyword is passed to :meth:`Client.stream`.
    """
    with Client() as client:
        return client.stream(handler, **params)
