"""The handler you subclass, the dispatcher that calls it, and the loop that drives a stream.

Subclass :class:`ResponseHandler` and override the ``on_*`` methods you care about; every one is a
no-op by default and return values are ignored. For each event the SDK first updates the
snapshot, then calls, in this order: ``on_event(event)``; the event's own method
(``on_<type>``: the wire type without ``response.``, dots as underscores, e.g.
``on_output_text_delta(event)``; lifecycle events get the :class:`Response` instead:
``on_completed(response)``); then the accumulated callbacks (``on_text_delta(delta, snapshot)``
and friends).

Only the methods you override are called: the dispatcher works out once per event type what to
call, so unused callbacks cost nothing per event.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Set, Tuple, Type

from . import events as ev
from ._json_items import parsed_so_far
from ._metrics import StreamMetrics
from ._stream import StreamCore
from ._transport import StoppedBeforeStart
from ._wire_callbacks import WireCallbacks
from .errors import ConfigurationError
from .events import TERMINAL_TYPES
from .models import FunctionCall, OutputText, Reasoning, Response

__all__ = ["ResponseHandler"]


class ResponseHandler(WireCallbacks):
    """Base class for your callbacks; override what you need.

    The callbacks, in the order you will usually reach for them:

    * **accumulated** (the ones you normally override): ``on_text_delta(delta, snapshot)``,
      ``on_text_done(text)``, ``on_parsed_delta(partial, snapshot)`` (structured outputs),
      ``on_refusal_delta``/``on_refusal_done``,
      ``on_function_call_created(call)``, ``on_function_call_delta(delta, snapshot, call)``,
      ``on_function_call_done(call)``, ``on_reasoning_delta(delta, snapshot)``,
      ``on_reasoning_done(reasoning)``;
    * **lifecycle**, with the :class:`~responses_stream.Response`: ``on_created``,
      ``on_queued``, ``on_in_progress``, ``on_completed``, ``on_incomplete``, ``on_failed``;
    * **every event and the rest of the stream**: ``on_event(event)`` (first, for every
      event), ``on_error(error)``, ``on_unknown_event(event)``, ``on_keep_alive()``;
    * **control and connection**: :meth:`stop`, :attr:`snapshot`, :attr:`stopped`,
      ``on_retry``, ``on_resume``, ``on_exception(exc)``, ``on_end()`` (always, last);
    * **tool loop** (``client.run()``): ``on_turn_start``, ``on_tool_result``,
      ``on_tool_error``;
    * **per wire type** (inherited from ``WireCallbacks``): ``on_<type>(event)`` with the
      typed event, e.g. ``on_output_text_annotation_added``, ``on_web_search_call_searching``.

    One handler may serve several streams one after another (the tool loop streams every turn
    into the same handler) but not two at the same time.
    """

    _snapshot: Optional[Response] = None
    _stop_requested: bool = False
    _in_run = False  # client.run() drives it: a stop() between turns ends the run
    _stream: Optional[StreamCore] = None  # the stream being driven, for stop()
    # Ends the back-off before a retry of the request that opens the stream, for stop().
    _wake_back_off: Optional[Callable[[], None]] = None

    # ---------------------------------------------------------------------- accumulated

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        """A piece of answer text arrived; ``snapshot`` is the part's text so far."""

    def on_text_done(self, text: str) -> None:
        """A text part is complete; ``text`` is its final (authoritative) text."""

    def on_parsed_delta(self, partial: Any, snapshot: str) -> None:
        """Structured outputs: the JSON output parsed so far, after each text delta.

        Called when the request asks for JSON (``text_format=``, or a ``json_schema`` or
        ``json_object`` text format), once the JSON value has started. ``partial`` holds plain
        dicts, lists, strings and numbers, by the rules of ``FunctionCall.partial_arguments``
        (keys once their value has started, partial strings, whole numbers); it is updated in
        place by later deltas, so copy what you keep. ``snapshot`` is the text so far.
        ``response.output_parsed`` gives the typed value once the response has completed.
        Only parsed when this method is overridden.
        """

    def on_refusal_delta(self, delta: str, snapshot: str) -> None:
        """A piece of a refusal arrived; ``snapshot`` is the refusal so far."""

    def on_refusal_done(self, refusal: str) -> None:
        """The model refused; ``refusal`` is the full refusal text."""

    def on_function_call_created(self, call: FunctionCall) -> None:
        """The model started a function call: ``name`` and ``call_id`` are known, unless the
        server sent its first arguments delta before announcing it (LiteLLM never announces
        calls): then they may be ``None`` here, and are set by ``on_function_call_done``."""

    def on_function_call_delta(self, delta: str, snapshot: str, call: FunctionCall) -> None:
        """A piece of a call's JSON arguments arrived; ``snapshot`` is the arguments so far."""

    def on_function_call_done(self, call: FunctionCall) -> None:
        """A function call is complete: run it with ``call.parsed_arguments``."""

    def on_reasoning_delta(self, delta: str, snapshot: str) -> None:
        """A piece of reasoning summary (or raw reasoning text) arrived."""

    def on_reasoning_done(self, reasoning: Reasoning) -> None:
        """A reasoning item is complete (with ``encrypted_content`` when requested)."""

    # ------------------------------------------------------------------------ lifecycle

    def on_created(self, response: Response) -> None:
        """``response.created``: the response exists; ``response.id`` is known."""

    def on_queued(self, response: Response) -> None:
        """``response.queued``: a background response waits for capacity."""

    def on_in_progress(self, response: Response) -> None:
        """``response.in_progress``: the model started working."""

    def on_completed(self, response: Response) -> None:
        """``response.completed``: the final response (usage included).

        A ``response.completed`` whose status is ``incomplete`` (vLLM's way to report
        truncation) calls :meth:`on_incomplete` instead.
        """

    def on_incomplete(self, response: Response) -> None:
        """``response.incomplete``: the final response, cut short (see ``incomplete_details``)."""

    def on_failed(self, response: Response) -> None:
        """``response.failed``: the final response; ``response.error`` says why.

        :class:`~responses_stream.ResponseFailedError` is raised after this returns, unless
        it called :meth:`stop`: the call then returns this response, without an error.
        """

    # ---------------------------------------------------------------------- every event

    def on_event(self, event: ev.Event) -> None:
        """Called first for every event, with the typed event."""

    # --------------------------------------------------------------------- other events

    def on_error(self, error: ev.ErrorEvent) -> None:
        """An in-band ``error`` event (flat and nested shapes normalised to ``code``,
        ``message``, ``param``, ``error_type``, ``headers``).

        :class:`~responses_stream.StreamError` is raised when the stream ends, unless it
        still ends with ``response.completed`` or ``response.incomplete``: the error did not
        end the response, and the call returns it. After :meth:`stop` (here or later) the call
        returns the snapshot, without an error.
        """

    def on_unknown_event(self, event: ev.UnknownEvent) -> None:
        """An event whose type this SDK version does not know; ``event.data`` has it all."""

    def on_keep_alive(self) -> None:
        """A heartbeat arrived: an SSE comment or a ``keepalive`` event."""

    # ------------------------------------------------------------------------- control

    @property
    def snapshot(self) -> Optional[Response]:
        """The current :class:`Response` during a stream (the final one after it)."""
        return self._snapshot

    def stop(self) -> None:
        """End the stream: after the current event's callbacks return (an event is delivered
        whole, to every callback it has), or at once from another thread.

        The connection is closed and ``client.stream()`` returns the partial snapshot, without
        an error; a background response is not resumed. From another thread (a Stop button)
        it takes effect even while the stream waits for data. Called before the response's
        headers arrive, it takes effect when they do: no event is read. Called while a
        failed request waits to be sent again (a 429's back-off), it is not sent again: the
        stream ends at once with an empty :class:`Response`, without an error.
        """
        self._stop_requested = True  # before the stream is read: see run_handler
        stream = self._stream
        if stream is not None:
            stream.close()  # wakes a read blocked in the driving thread (StreamCore.close)
            return
        wake = self._wake_back_off
        if wake is not None:
            wake()

    @property
    def metrics(self) -> Optional[StreamMetrics]:
        """The current stream's :class:`~responses_stream.StreamMetrics`, live (time to first
        token, events, bytes so far), then the final ones; ``None`` before any stream."""
        stream = self._stream
        if stream is not None:
            return stream.metrics
        return self._snapshot.metrics if self._snapshot is not None else None

    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` was called for the current stream."""
        return self._stop_requested

    # -------------------------------------------------------------- connection & errors

    def on_exception(self, exc: BaseException) -> None:
        """Any exception from the stream or a callback, just before it is re-raised."""

    def on_end(self) -> None:
        """The stream is over, however it ended (always called, last)."""

    def on_retry(self, error: Exception, attempt: int, delay: float) -> None:
        """The request failed before the stream started and will be sent again in ``delay`` s."""

    def on_resume(self, response_id: str, starting_after: Optional[int]) -> None:
        """A broken background stream is being resumed after ``starting_after``."""

    # ---------------------------------------------------------------- tool loop (client.run)

    def on_turn_start(self, turn: int, request_params: Dict[str, Any]) -> None:
        """``client.run()`` is about to send turn ``turn`` (1, 2, ...).

        ``request_params`` are the keyword arguments about to be passed to ``client.stream()``
        (``input``, ``previous_response_id``, ``tools``, ...); changes you make to the dict are
        sent, e.g. ``request_params["tool_choice"] = "auto"`` after a forced first turn.
        """

    def on_tool_result(self, call: FunctionCall, output: str) -> None:
        """A tool ran for ``call``; ``output`` is the string sent back to the model."""

    def on_tool_error(self, call: FunctionCall, exc: Exception) -> None:
        """A call could not be answered with a result: the tool raised ``exc``, the name is
        unknown (:class:`~responses_stream.tools.UnknownToolError`) or the arguments are
        invalid (:class:`~responses_stream.InvalidArgumentsError`).

        The error message goes back to the model as the call's output, so it can recover;
        with ``run(raise_tool_errors=True)`` an exception raised by the tool is re-raised
        after this returns.
        """


# ----------------------------------------------------------------------------- dispatcher

Step = Callable[[Any, Any], None]

_CALL_EVENTS = frozenset(
    {
        ev.OutputItemAdded,
        ev.OutputItemDone,
        ev.FunctionCallArgumentsDelta,
        ev.FunctionCallArgumentsDone,
    }
)


def _terminal_callback(
    response: Response,
    on_completed: Optional[Callable[[Response], None]],
    on_incomplete: Optional[Callable[[Response], None]],
) -> None:
    method = on_incomplete if response.status == "incomplete" else on_completed
    if method is not None:
        method(response)


_LIFECYCLE_METHODS = {
    ev.ResponseCreated: "on_created",
    ev.ResponseQueued: "on_queued",
    ev.ResponseInProgress: "on_in_progress",
    ev.ResponseCompleted: "on_completed",
    ev.ResponseIncomplete: "on_incomplete",
    ev.ResponseFailed: "on_failed",
}


def _parsed_delta(method: Callable[[Any, str], None], part: OutputText) -> None:
    partial = parsed_so_far(part, "text")
    if partial is not None:
        method(partial, part.text)


def overridden(handler: ResponseHandler, name: str) -> Optional[Callable[..., Any]]:
    """The handler's bound method ``name`` if its class overrides the no-op, else ``None``."""
    method = getattr(type(handler), name, None)
    if method is None or method is getattr(ResponseHandler, name, None):
        return None
    return getattr(handler, name)  # type: ignore[no-any-return]


class _CarriedStopIteration(Exception):
    """A ``StopIteration`` raised by a callback the SDK calls inside one of its generators
    (``on_retry``, ``on_resume``), which would turn it into ``RuntimeError`` (PEP 479): carried
    through them, and raised unchanged where it leaves the SDK (:func:`uncarried`)."""

    def __init__(self, original: StopIteration) -> None:
        super().__init__(original)
        self.original = original


def carrying(callback: Optional[Callable[..., Any]]) -> Optional[Callable[..., Any]]:
    """``callback``, its ``StopIteration`` carried out of the SDK's generators."""
    if callback is None:
        return None
    method = callback

    def call(*args: Any) -> Any:
        try:
            return method(*args)
        except StopIteration as exc:
            raise _CarriedStopIteration(exc) from None

    return call


def uncarried(exc: BaseException) -> BaseException:
    """What a callback raised: ``exc``, or the ``StopIteration`` it carries."""
    return exc.original if isinstance(exc, _CarriedStopIteration) else exc


def _chain(steps: Tuple[Step, ...]) -> Step:
    def run(event: Any, result: Any) -> None:
        for step in steps:
            step(event, result)

    return run


class Dispatcher:
    """Calls a handler's overridden methods for each event (after the snapshot is updated).

    ``unfinished`` returns the items still open when a terminal event arrives (the
    accumulator's ``unfinished_at_terminal``); their ``*_done`` callbacks fire after
    ``on_event`` and before the terminal event's own method (``on_completed``...).
    ``json_output``: the request asked for JSON, so ``on_parsed_delta`` is called.
    """

    def __init__(
        self,
        handler: ResponseHandler,
        *,
        accumulated: bool = True,
        unfinished: Optional[Callable[[], List[Any]]] = None,
        json_output: bool = False,
    ) -> None:
        self.handler = handler
        self._with_accumulated = accumulated
        self._json_output = json_output
        self._unfinished = unfinished
        self.plans: Dict[Type[ev.Event], Optional[Step]] = {}
        """Event class -> the one callable that runs its callbacks (None: nothing to call)."""
        self._on_event = overridden(handler, "on_event")
        self._on_function_call_done = overridden(handler, "on_function_call_done")
        self._on_reasoning_done = overridden(handler, "on_reasoning_done")
        on_created = overridden(handler, "on_function_call_created")
        self._announce: Optional[Step] = None
        if on_created is not None and accumulated:
            announced: Set[int] = set()

            def announce(event: Any, item: Any) -> None:
                if isinstance(item, FunctionCall) and id(item) not in announced:
                    announced.add(id(item))
                    on_created(item)

            self._announce = announce

    def plan(self, cls: Type[ev.Event]) -> Optional[Step]:
        """Work out (once per class) what an event of ``cls`` calls; ``None`` if nothing."""
        steps = self._steps(cls)
        # A single step is called directly: no loop on the per-event path.
        step = None if not steps else steps[0] if len(steps) == 1 else _chain(steps)
        self.plans[cls] = step
        return step

    def finish_items(self, items: List[Any]) -> None:
        """Fire the ``*_done`` callbacks of items the server never finished explicitly."""
        for item in items:
            if self._announce is not None:
                self._announce(None, item)
            if isinstance(item, FunctionCall) and self._on_function_call_done is not None:
                self._on_function_call_done(item)
            elif isinstance(item, Reasoning) and self._on_reasoning_done is not None:
                self._on_reasoning_done(item)

    def _steps(self, cls: Type[ev.Event]) -> Tuple[Step, ...]:
        h = self.handler
        steps: List[Step] = []
        on_event = self._on_event
        if on_event is not None and cls is not ev.KeepAlive:
            steps.append(lambda e, r: on_event(e))
        elif on_event is not None:
            # SSE comments are not wire events: only real keepalive events reach on_event.
            steps.append(lambda e, r: None if e.comment is not None else on_event(e))
        unfinished = self._unfinished
        if unfinished is not None and cls.TYPE in TERMINAL_TYPES:
            finish_items = self.finish_items

            def finish_open_items(event: Any, result: Any) -> None:
                items = unfinished()
                if items:
                    finish_items(items)

            steps.append(finish_open_items)
        lifecycle = _LIFECYCLE_METHODS.get(cls)
        if cls is ev.ResponseCompleted:
            # The final status decides: vLLM reports truncation as a response.completed
            # whose status is "incomplete", and that is what on_incomplete is for.
            completed = overridden(h, "on_completed")
            incomplete = overridden(h, "on_incomplete")
            if completed is not None or incomplete is not None:
                steps.append(lambda e, r: _terminal_callback(r, completed, incomplete))
            return tuple(steps)
        if lifecycle is not None:
            method = overridden(h, lifecycle)
            if method is not None:
                steps.append(lambda e, r: method(r))
            return tuple(steps)
        if cls is ev.KeepAlive:
            keep_alive = overridden(h, "on_keep_alive")
            if keep_alive is not None:
                steps.append(lambda e, r: keep_alive())
            return tuple(steps)
        raw = overridden(h, cls.HANDLER) if cls.HANDLER else None
        if raw is not None:
            steps.append(lambda e, r: raw(e))
        if self._with_accumulated:
            steps.extend(self._accumulated(cls))
        return tuple(steps)

    def _accumulated(self, cls: Type[ev.Event]) -> List[Step]:
        h = self.handler
        steps: List[Step] = []

        def add(name: str, make: Callable[[Callable[..., Any]], Step]) -> None:
            method = overridden(h, name)
            if method is not None:
                steps.append(make(method))

        if cls in _CALL_EVENTS and self._announce is not None:
            # A call can be implied by its first arguments delta (LiteLLM sends no
            # output_item.added): announce every call once, before anything else about it.
            steps.append(self._announce)
        if cls is ev.OutputTextDelta:
            add("on_text_delta", lambda m: lambda e, r: m(e.delta, r.text))
            if self._json_output:
                add("on_parsed_delta", lambda m: lambda e, r: _parsed_delta(m, r))
        elif cls is ev.OutputTextDone:
            add("on_text_done", lambda m: lambda e, r: m(r.text))
        elif cls is ev.RefusalDelta:
            add("on_refusal_delta", lambda m: lambda e, r: m(e.delta, r.refusal))
        elif cls is ev.RefusalDone:
            add("on_refusal_done", lambda m: lambda e, r: m(r.refusal))
        elif cls is ev.FunctionCallArgumentsDelta:
            add("on_function_call_delta", lambda m: lambda e, r: m(e.delta, r.arguments, r))
        elif cls in (ev.ReasoningSummaryTextDelta, ev.ReasoningTextDelta):
            add("on_reasoning_delta", lambda m: lambda e, r: m(e.delta, r.text))
        if cls is ev.OutputItemDone:
            add(
                "on_function_call_done",
                lambda m: lambda e, r: m(r) if isinstance(r, FunctionCall) else None,
            )
            add(
                "on_reasoning_done",
                lambda m: lambda e, r: m(r) if isinstance(r, Reasoning) else None,
            )
        elif cls is ev.ErrorEvent:
            pass  # on_error is the event's own method
        return steps


# --------------------------------------------------------------------------------- driver


def dispatcher_for(handler: ResponseHandler, stream: StreamCore) -> Dispatcher:
    """The :class:`Dispatcher` that feeds ``stream``'s events to ``handler``."""
    acc = stream.accumulator
    return Dispatcher(
        handler,
        accumulated=acc.keep_output,
        unfinished=lambda: acc.unfinished_at_terminal,
        json_output=stream.json_output,
    )


def drive(handler: ResponseHandler, stream: StreamCore) -> Response:
    """Feed every event of ``stream`` to ``handler``; return the final snapshot.

    Stops after the callback in which ``handler.stop()`` was called.
    """
    dispatcher = dispatcher_for(handler, stream)
    # The per-event path: one dict lookup and at most one call (see Dispatcher.plan).
    plans = dispatcher.plans
    plan = dispatcher.plan
    for event, touched in stream.pairs():
        cls = type(event)
        step = plans[cls] if cls in plans else plan(cls)
        if step is not None:
            step(event, touched)
        if handler._stop_requested:
            break
    return stream.response


def handler_or_default(handler: Any, what: str = "handler") -> ResponseHandler:
    """``handler`` checked before any request: a :class:`ResponseHandler` instance (None is a
    plain one). A class, say, would be driven as if it were one, and keep the stream's state
    on itself for every later instance to see."""
    if handler is None:
        return ResponseHandler()
    if not isinstance(handler, ResponseHandler):
        hint = " (a class: pass an instance)" if isinstance(handler, type) else ""
        raise ConfigurationError(
            f"{what} must be a ResponseHandler instance, got {handler!r}{hint}"
        )
    return handler


def run_handler(handler: ResponseHandler, open_stream: Callable[[], StreamCore]) -> Response:
    """Open a stream and drive ``handler`` through it, with the callbacks' end contract:
    ``on_exception`` before anything is raised, ``on_end`` always, last."""
    if not handler._in_run:  # run() cleared it when it began, and keeps a stop() for it
        handler._stop_requested = False
    handler._snapshot = None
    try:
        with open_stream() as events:
            handler._snapshot = events.response
            handler._stream = events
            if handler._stop_requested:
                events.close()  # stop() came while the request was sent: read nothing
            return drive(handler, events)
    except StoppedBeforeStart:
        # Nothing was sent since: the response of a stream that read nothing.
        handler._snapshot = Response.from_wire({})
        return handler._snapshot
    except GeneratorExit:
        raise
    except BaseException as exc:
        original = uncarried(exc)
        handler.on_exception(original)
        if original is exc:
            raise
        raise original from None
    finally:
        handler._stream = None
        handler.on_end()
