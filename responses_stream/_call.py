"""One call's own SDK keywords (timeout, retries, resumes, recording...), apart from the body.

The verbs of ``client`` name these keywords in their signatures; ``stream_many`` takes them
from each request's dict (:func:`from_request`).
"""

from __future__ import annotations

import os
import threading
import time
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    Mapping,
    Optional,
    Tuple,
    Union,
    cast,
)

from ._config import Timeout, check_count, check_flag, is_one_value
from ._durable import DEFAULT_EVERY, Durable
from ._transport import StoppedBeforeStart
from .errors import ConfigurationError
from .handler import ResponseHandler, carrying, overridden
from .structured import prepare_text_format

if TYPE_CHECKING:
    from ._store_base import CheckpointStore
    from ._watchdog import Guard

PathLike = Union[str, "os.PathLike[str]"]
"""A file path, as ``str`` or ``pathlib.Path``."""


class Call:
    """The SDK's own keywords of one call (everything else goes into the request body)."""

    def __init__(  # noqa: PLR0917 - filled positionally by the verbs, which name every keyword
        self,
        handler: Optional[ResponseHandler],
        accumulate: bool = True,
        timeout: Union[Timeout, float, None] = None,
        max_retries: Optional[int] = None,
        max_resumes: int = 5,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        record_to: Optional[PathLike] = None,
        cancel_on_stop: bool = False,
    ) -> None:
        self.accumulate = check_flag("accumulate", accumulate)
        self.timeout = Timeout.coerce(timeout) if timeout is not None else None
        self.max_retries = None if max_retries is None else check_count("max_retries", max_retries)
        self.extra_headers = extra_headers
        self.max_resumes = check_count("max_resumes", max_resumes)
        self.record_to = record_to
        self.cancel_on_stop = check_flag("cancel_on_stop", cancel_on_stop)
        # Called inside the SDK's generators: a StopIteration of theirs is carried out.
        self.on_retry = carrying(overridden(handler, "on_retry")) if handler is not None else None
        self.on_resume = carrying(overridden(handler, "on_resume")) if handler is not None else None
        self.on_guard: Optional[Callable[[Guard], None]] = None
        """Told the call's guard as soon as it exists (``stream_many`` cancels it on close)."""
        self.handler = handler
        self.guard: Optional[Guard] = None
        """The call's guard once its stream is being opened (``StreamOpener.opening``)."""

    def given_up(self) -> bool:
        """True once the call was given up: ``handler.stop()``, or its guard cancelled
        (``stream_many`` closed)."""
        guard = self.guard
        if guard is not None and guard.expired == "cancelled":
            return True
        handler = self.handler
        return handler is not None and handler._stop_requested

    def back_off(self, sleep: Callable[[float], None]) -> Callable[[float], None]:
        """The wait before a retry of the request that opens the stream (``sleep`` is the
        transport's): cut short by ``handler.stop()`` or the guard's cancel (``stream_many``
        closed), after which it raises :class:`~responses_stream._transport.StoppedBeforeStart`
        and nothing is sent again."""
        handler = self.handler
        given_up = self.given_up

        def wait(delay: float) -> None:
            guard = self.guard
            if sleep is time.sleep:  # the real clock: wait on an event that either one sets
                woken = threading.Event()
                if handler is not None:
                    handler._wake_back_off = woken.set
                if guard is not None:
                    guard.on_cancel = woken.set
                try:
                    if not given_up():  # one that came before the lines above
                        woken.wait(delay)
                finally:
                    if handler is not None:
                        handler._wake_back_off = None
                    if guard is not None:
                        guard.on_cancel = None
            else:
                sleep(delay)  # an injected sleep (tests): keep its timing as given
            if given_up():
                raise StoppedBeforeStart

        return wait


CALL_OPTIONS = (
    "accumulate",
    "timeout",
    "max_retries",
    "max_resumes",
    "extra_headers",
    "record_to",
    "cancel_on_stop",
)
"""The SDK keywords of ``stream()`` that :class:`_Call` takes (``stream_many`` reads them
from each request's dict)."""


def check_requests(requests: Any) -> Iterable[Mapping[str, Any]]:
    """``requests`` of ``stream_many``, if it can be: an iterable (not a single dict)."""
    if is_one_value(requests):
        raise ConfigurationError(
            f"requests must be an iterable of dicts of stream() keywords (a list of them, "
            f"say), got {type(requests).__name__}"
        )
    return cast(Iterable[Mapping[str, Any]], requests)


def from_request(
    handler: Optional[ResponseHandler], request: Mapping[str, Any]
) -> Tuple[Call, Dict[str, Any], Optional[type], Optional[Durable]]:
    """Split the keywords of one ``stream()`` call, given as a dict, as ``stream()`` does:
    its :class:`Call`, the request body's parameters, ``text_format`` and checkpointing."""
    params = dict(request)
    if "handler" in params:
        raise ConfigurationError("a request of stream_many takes no handler: pass handler=")
    options = {name: params.pop(name) for name in CALL_OPTIONS if name in params}
    text_format = params.pop("text_format", None)
    checkpoint, key = params.pop("checkpoint", None), params.pop("key", None)
    every = params.pop("checkpoint_every", DEFAULT_EVERY)
    body, durable = request_body(params, text_format, checkpoint, key, every)
    return Call(handler, **options), body, text_format, durable


def request_body(
    params: Dict[str, Any],
    text_format: Optional[type],
    checkpoint: Optional[CheckpointStore],
    key: Optional[str],
    every: float,
) -> Tuple[Dict[str, Any], Optional[Durable]]:
    """The request body's parameters (with ``text_format``'s JSON schema) and the call's
    checkpointing, which checks ``checkpoint``, ``key`` and ``background`` in ``params``."""
    durable = Durable.configure(checkpoint, key, every, params)
    if text_format is not None:
        params = prepare_text_format(params, text_format)
    return params, durable
