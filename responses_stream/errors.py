"""Every exception ``responses_stream`` raises.

One root, so ``except rs.ResponsesStreamError`` catches everything the SDK raises on its own
behalf (exceptions raised by your handler callbacks reach you unchanged)::

    ResponsesStreamError
    ├── ConfigurationError (ValueError)   bad arguments, missing API key: raised before any request
    ├── APIConnectionError                could not reach the server, or the connection broke
    │   └── APITimeoutError               connect timeout, or no byte within the read (idle) timeout
    ├── APIStatusError                    non-2xx answer before the stream started
    │   ├── BadRequestError               400
    │   ├── AuthenticationError           401
    │   ├── PermissionDeniedError         403
    │   ├── NotFoundError                 404
    │   ├── ConflictError                 409
    │   ├── UnprocessableEntityError      422
    │   ├── RateLimitError                429
    │   └── InternalServerError           >= 500
    ├── StreamError                       in-band ``error`` event (``code``, ``message``, ``param``)
    ├── ResponseFailedError               the stream ended with ``response.failed``
    ├── StreamInterrupted                 the stream ended before a terminal event
    ├── ProtocolError                     bytes that are not a valid Responses stream
    ├── InvalidArgumentsError (ValueError) a function call's ``arguments`` are not a JSON object
    ├── MaxTurnsExceeded                  the tool loop reached ``max_turns`` (``responses``)
    ├── OutputParseError (ValueError)     completed output that does not match ``text_format``
    └── CheckpointError                   a checkpoint store could not load or save (disk, Redis)

Errors raised while a stream is running carry ``response``: the :class:`~responses_stream.Response`
snapshot with everything received so far, so nothing is lost. Errors that wrap a lower-level
exception (``requests``, ``json``, ``UnicodeDecodeError``) are chained with ``raise ... from``.
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, List, Optional, Tuple, Type

# ``response`` is the :class:`~responses_stream.Response` snapshot. It is typed ``Any`` here
# because every module of the SDK raises these errors, the models included: importing them here
# would make the exception tree depend on the models that depend on it.
_Snapshot = Any

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CheckpointError",
    "ConfigurationError",
    "ConflictError",
    "InternalServerError",
    "InvalidArgumentsError",
    "MaxTurnsExceeded",
    "NotFoundError",
    "OutputParseError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "ResponseFailedError",
    "ResponsesStreamError",
    "StreamError",
    "StreamInterrupted",
    "UnprocessableEntityError",
]


class ResponsesStreamError(Exception):
    """Root of every exception the SDK raises.

    ``response`` is the partial (or final) :class:`~responses_stream.Response` when the error
    happened during a stream, else ``None``. ``request_id`` is the server's ``x-request-id``
    when one was received.
    """

    response: Optional[_Snapshot] = None
    request_id: Optional[str] = None

    def __init__(self, message: str, **attributes: Any) -> None:
        # Each class declares its attributes (with their defaults) as annotated class
        # attributes; the constructor takes any of them as keywords, and nothing else.
        super().__init__(message)
        self.message = message
        declared = _declared(type(self))
        if "headers" in declared:  # always a dict: callers read it without a None check
            attributes["headers"] = dict(attributes.get("headers") or {})
        for name, value in attributes.items():
            if name not in declared:
                raise TypeError(f"{type(self).__name__}() got an unexpected keyword {name!r}")
            setattr(self, name, value)

    def __reduce__(self) -> Tuple[Any, ...]:
        # Exception's default rebuilds with ``cls(*args)``, which keyword-only attributes
        # break: a worker process raising one would break its pool. Rebuild from the state.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _declared(cls: type) -> FrozenSet[str]:
    """The attributes an exception class declares, its bases' included."""
    names = _DECLARED.get(cls)
    if names is None:
        names = _DECLARED[cls] = frozenset(
            name for klass in cls.__mro__ for name in vars(klass).get("__annotations__", {})
        )
    return names


_DECLARED: Dict[type, FrozenSet[str]] = {}


def _rebuild(
    cls: Type[ResponsesStreamError], args: Tuple[Any, ...], state: Dict[str, Any]
) -> ResponsesStreamError:
    """Unpickle an exception: its class, message and attributes, without calling __init__."""
    exc = cls.__new__(cls, *args)
    Exception.__init__(exc, *args)
    exc.__dict__.update(state)
    return exc


class ConfigurationError(ResponsesStreamError, ValueError):
    """Raised before any request when the client or a call is configured wrongly."""


class APIConnectionError(ResponsesStreamError):
    """The server could not be reached, or the connection failed mid-stream.

    ``last_sequence_number`` is the ``sequence_number`` of the last event received, if any.
    """

    last_sequence_number: Optional[int] = None


class APITimeoutError(APIConnectionError):
    """The connect timeout passed, or no byte arrived within the read (idle) timeout."""


class APIStatusError(ResponsesStreamError):
    """The server answered with a non-2xx status before the stream started.

    Attributes: ``status_code``, ``request_id``, ``body`` (decoded JSON when the body was JSON,
    else the text), ``headers``, and from OpenAI's error body ``code``, ``type`` and ``param``.
    """

    status_code: int = 0
    body: Any = None
    headers: Dict[str, str]
    code: Optional[str] = None
    type: Optional[str] = None
    param: Optional[str] = None

    def __init__(self, message: str, *, status_code: int, **attributes: Any) -> None:
        super().__init__(message, status_code=status_code, **attributes)


class BadRequestError(APIStatusError):
    """HTTP 400: the request was malformed or had an invalid parameter."""


class AuthenticationError(APIStatusError):
    """HTTP 401: the API key is missing, wrong or revoked."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403: the key may not use this model, project or region."""


class NotFoundError(APIStatusError):
    """HTTP 404: unknown model, route or response id."""


class ConflictError(APIStatusError):
    """HTTP 409: the resource is in a conflicting state."""


class UnprocessableEntityError(APIStatusError):
    """HTTP 422: the server understood the request but cannot process it."""


class RateLimitError(APIStatusError):
    """HTTP 429: rate limit or quota reached."""


class InternalServerError(APIStatusError):
    """HTTP 5xx: the server (or a proxy in front of it) failed."""


_STATUS_ERRORS: Dict[int, type] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type:
    """Return the :class:`APIStatusError` subclass for an HTTP status code."""
    if status_code >= 500:
        return InternalServerError
    return _STATUS_ERRORS.get(status_code, APIStatusError)


RETRYABLE_STREAM_ERROR_CODES = frozenset(
    {"rate_limit_exceeded", "too_many_requests", "server_error"}
)


class StreamError(ResponsesStreamError):
    """The server sent an in-band ``error`` event during the stream.

    Both the documented flat shape and the nested shape OpenAI really sends are normalised:
    ``code``, ``message``, ``param``, ``type`` and ``headers`` (rate-limit headers some servers put
    inside the error). ``retryable`` is true for rate-limit and server errors that arrived before
    any output, when sending the same request again may succeed. ``response`` is the snapshot,
    including a following ``response.failed`` if one came.
    """

    code: Optional[str] = None
    param: Optional[str] = None
    type: Optional[str] = None
    headers: Dict[str, str]
    retryable: bool = False
    sequence_number: Optional[int] = None


class ResponseFailedError(ResponsesStreamError):
    """The stream ended with ``response.failed``; ``response.error`` says why."""


class StreamInterrupted(ResponsesStreamError):
    """The stream ended (EOF, reset, ``[DONE]``) before a terminal event.

    ``response`` holds everything received; ``last_sequence_number`` and ``response_id`` are what
    a background response needs to be resumed with ``client.resume``; ``unparsed`` is the data
    of the event that was cut, when the body ended inside one (its raw bytes when none of its
    data had arrived, or the cut split a UTF-8 character), however the body was framed.
    """

    last_sequence_number: Optional[int] = None
    response_id: Optional[str] = None
    unparsed: Any = None


class ProtocolError(ResponsesStreamError):
    """The server sent bytes that are not a valid Responses event stream.

    ``data`` holds the offending raw data (bytes or text) so nothing received is lost.
    """

    data: Any = None


class InvalidArgumentsError(ResponsesStreamError, ValueError):
    """A function call's ``arguments`` string is not a JSON object.

    ``arguments`` holds the raw string and ``name`` the function name.
    """

    name: Optional[str] = None
    arguments: str = ""


class MaxTurnsExceeded(ResponsesStreamError):
    """``client.run()`` reached ``max_turns`` and the model still called tools.

    ``responses`` holds every turn's final :class:`~responses_stream.Response`, in order;
    ``response`` is the last one (whose function calls were not run).
    """

    def __init__(self, message: str, *, responses: List[_Snapshot]) -> None:
        super().__init__(message, response=responses[-1] if responses else None)
        self.responses = responses


class OutputParseError(ResponsesStreamError, ValueError):
    """A completed response's text does not match the ``text_format`` it was asked for.

    ``text`` is the raw output text; ``response`` the response. Raised when
    ``response.output_parsed`` is read (never for an incomplete response or a refusal, which
    give ``None``).
    """

    text: str = ""


class CheckpointError(ResponsesStreamError):
    """A checkpoint store could not load, save or delete a checkpoint (disk full, database
    locked or corrupt, Redis unreachable). The stored checkpoint is left as it was; ``key`` is
    the checkpoint's key."""

    key: Optional[str] = None
