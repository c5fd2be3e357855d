"""HTTP: sending a request, retrying it before a stream starts, and turning failures into errors.

:func:`translate` is the one place where an exception from ``requests``, ``urllib3``, the socket
or the decoding of what arrived becomes a ``responses_stream`` error (always chained with
``from``); anything else (your callbacks' exceptions, a signal handler's) is left alone.
:func:`error_from_response` does the same for an HTTP status.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import random
import socket
import time
from dataclasses import dataclass
from typing import (
    Any,
    Callable,
    Dict,
    Generator,
    Mapping,
    NamedTuple,
    Optional,
    Tuple,
    TypeVar,
    Union,
    cast,
)

import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

from ._body import shut_response
from ._config import Settings, Timeout, check_headers, merge_headers, redact_url, secret
from ._interim import answer_after
from ._metrics import Meter
from ._session import CREDENTIAL_HEADERS, METHOD_CHANGING, forget_inherited
from ._watchdog import Guard, guarding
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    ProtocolError,
    ResponsesStreamError,
    StreamInterrupted,
    status_error_class,
)

logger = logging.getLogger("responses_stream")

MAX_RETRY_AFTER = 120.0
"""A server's ``retry-after`` longer than this is not waited for (the request fails)."""
RETRY_STATUSES = frozenset({408, 409, 429})
_MAX_ERROR_BODY = 1 << 20


# ------------------------------------------------------------------------------ retry policy


class StoppedBeforeStart(Exception):
    """The call was given up before its stream opened (``handler.stop()``, or ``stream_many``
    closed): raised instead of sending its request (again)."""


def retry_after_seconds(headers: Mapping[str, str], now: Callable[[], float]) -> Optional[float]:
    """The server's requested delay from ``retry-after-ms`` or ``retry-after``, if any."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        with contextlib.suppress(ValueError):
            return float(raw_ms) / 1000.0
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(raw)
    if parsed is None:
        return None
    try:
        return float(email.utils.mktime_tz(parsed)) - now()
    except (OverflowError, ValueError):  # a year out of the platform's range: no usable date
        return None


def should_retry(status: int, headers: Mapping[str, str], now: Callable[[], float]) -> bool:
    """The official SDK's rule: a long Retry-After wins, then x-should-retry, then the status."""
    delay = retry_after_seconds(headers, now)
    if delay is not None and delay > MAX_RETRY_AFTER:
        return False
    flag = (headers.get("x-should-retry") or "").strip().lower()
    if flag == "true":
        return True
    if flag == "false":
        return False
    return status in RETRY_STATUSES or status >= 500


def backoff_delay(
    attempt: int,
    headers: Optional[Mapping[str, str]] = None,
    now: Callable[[], float] = time.time,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before attempt ``attempt + 1`` (of a request, or of a resume): the
    server's wish when sane, else 0.5 s doubling to 8 s, less up to 25% jitter."""
    if headers is not None:
        delay = retry_after_seconds(headers, now)
        if delay is not None and 0 < delay <= MAX_RETRY_AFTER:
            return delay
    return min(0.5 * 2.0**attempt, 8.0) * (1 - 0.25 * rand())


@dataclass
class RetryPolicy:
    """How many times to retry and how to wait; ``sleep``/``clock``/``rand`` are injectable."""

    max_retries: int = 2
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    rand: Callable[[], float] = random.random


class Attempt(NamedTuple):
    """One try of a request, as :meth:`Transport.attempts` asks for it to be sent."""

    method: str
    url: str
    payload: Optional[bytes]
    params: Mapping[str, str]
    headers: Dict[str, str]
    stream: bool
    timeouts: Tuple[Optional[float], Optional[float]]
    """(connect, read) in seconds, shortened to the call's deadline."""
    guard: Optional[Guard]


_T = TypeVar("_T")
Steps = Generator[Union[Attempt, float], Any, _T]
"""Work that sends requests, as a generator (:meth:`Transport.attempts`): it yields what to
send, or how long to wait, and is sent back each answer; it returns its result."""
Attempts = Steps[requests.Response]
"""The tries of one request (:meth:`Transport.attempts`)."""


# ------------------------------------------------------------------------------ translation


def error_from_response(resp: requests.Response) -> APIStatusError:
    """Build the :class:`APIStatusError` subclass for a non-2xx answer (reads a bounded body)."""
    try:
        raw = resp.raw.read(_MAX_ERROR_BODY, decode_content=True) if resp.raw is not None else b""
    except Exception:  # the body is a courtesy; the status is what matters
        raw = b""
    if not raw:
        # A request that was not streamed: requests has read the body already.
        content = resp.content if resp.raw is None else getattr(resp, "_content", None)
        raw = content if isinstance(content, bytes) else b""
    secrets = sent_secrets(resp)
    text = scrub(raw.decode("utf-8", errors="replace"), secrets)
    headers = resp.headers
    if any(value in header for header in headers.values() for value in secrets):
        headers = CaseInsensitiveDict({k: scrub(v, secrets) for k, v in headers.items()})
    body: Any = text
    message: Optional[str] = None
    code = err_type = param = None
    with contextlib.suppress(ValueError):
        body = json.loads(text)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            detail = error.get("detail")
            message = _str_or_none(error.get("message")) or (
                detail if isinstance(detail, str) else None
            )
            code = _str_or_none(error.get("code"))
            err_type = _str_or_none(error.get("type"))
            param = _str_or_none(error.get("param"))
        elif isinstance(error, str):
            message = error
        if message is None and "detail" in body:  # FastAPI-style servers (transformers serve)
            detail = body["detail"]
            message = detail if isinstance(detail, str) else json.dumps(detail)[:500]
    if resp.status_code in METHOD_CHANGING and resp.headers.get("location"):
        message = _redirect_message(resp)
    elif message is None:
        snippet = " ".join(text.split())[:200]
        message = snippet or "(empty body)"
    request_id = resp.headers.get("x-request-id")
    reason = resp.reason or ""
    summary = f"HTTP {resp.status_code} {reason}".rstrip() + f": {message}"
    if request_id:
        summary += f" (request id {request_id})"
    cls = status_error_class(resp.status_code)
    status_error: APIStatusError = cls(
        summary,
        status_code=resp.status_code,
        request_id=request_id,
        body=body,
        headers=headers,
        code=code,
        type=err_type,
        param=param,
    )
    return status_error


def _redirect_message(resp: requests.Response) -> str:
    sent = getattr(resp, "request", None)
    method = getattr(sent, "method", None) or "the request"
    location = redact_url(resp.headers.get("location", ""))
    return (
        f"redirect to {location!r}: the client does not follow redirects that change the "
        f"method ({resp.status_code} would turn {method} into GET and drop the body); set "
        "base_url to the final URL"
    )


def sent_secrets(resp: Any) -> Tuple[str, ...]:
    """The credentials ``resp``'s request carried (a server may echo them in its error)."""
    headers = getattr(getattr(resp, "request", None), "headers", None) or {}
    values = [str(headers.get(name) or "") for name in CREDENTIAL_HEADERS]
    return tuple(v.split(" ", 1)[-1] for v in values if len(v.split(" ", 1)[-1]) >= 4)


def scrub(text: str, secrets: Tuple[str, ...]) -> str:
    """``text`` with each of ``secrets`` replaced by ``***``."""
    for value in secrets:
        text = text.replace(value, "***")
    return text


def scrub_bytes(data: bytes, secrets: Tuple[str, ...]) -> bytes:
    """:func:`scrub` for a body kept as bytes (an error's ``data``)."""
    for value in secrets:
        data = data.replace(value.encode("utf-8", "replace"), b"***")
    return data


def _header_error(exc: BaseException) -> ConfigurationError:
    """The error for a header ``requests`` or ``http.client`` refused to send. Their messages
    quote the value (an API key, typically): the original is scrubbed in place too, since it
    stays chained as the ``__cause__``."""
    if isinstance(exc, UnicodeEncodeError):
        start, end, value = exc.start, exc.end, exc.object
        # Only the unsendable character stays: it names the problem and is no part of a key.
        exc.object = "*" * start + value[start:end] + "*" * (len(value) - end)
        exc.args = (exc.encoding, exc.object, exc.start, exc.end, exc.reason)
        message = "a request header contains a character that is not latin-1"
    else:
        message = "a request header contains a control character or surrounding whitespace"
        exc.args = (message,)
    return ConfigurationError(message + "; the value is not shown")


def _str_or_none(value: Any) -> Optional[str]:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


_HEADER_ERRORS = (requests.exceptions.InvalidHeader, UnicodeEncodeError)
_TIMEOUTS = (urllib3.exceptions.TimeoutError, socket.timeout, requests.Timeout)
_CONNECTION = (urllib3.exceptions.HTTPError, requests.RequestException, OSError)
_DATA = (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError)
_SDK = (ResponsesStreamError,)
EXPIRED_MESSAGES = {
    "total": "the call's total timeout passed",
    "idle": "no event arrived within the idle timeout",
    "read": "no data arrived within the read timeout",
    "cancelled": "the call was cancelled",
}
"""What the ``APITimeoutError`` of a time limit that ended a stream says, by limit."""


def translate(
    exc: BaseException, *, url: str = "", stream: Any = None, expired: Optional[str] = None
) -> Optional[ResponsesStreamError]:
    """The SDK error for ``exc``, raised while sending to ``url`` or reading ``stream``.

    ``stream`` (an :class:`~responses_stream.EventStream`) gives the partial response, the
    request id, the last sequence number and whether the body was cut. ``expired`` names the
    time limit (``"total"``, ``"idle"``) whose watchdog ended the wait: whatever the ended
    read raised, the error is then an :class:`APITimeoutError` for it. Returns ``None`` for an
    exception that is not a failure of the connection or of the data received (yours, or a
    signal handler's): the caller re-raises it unchanged. An SDK error is returned as is, with
    the stream's context filled in where it has none.
    """
    error: ResponsesStreamError
    cut = bool(getattr(stream, "truncated", False))
    if expired is not None and isinstance(exc, _TIMEOUTS + _CONNECTION + _DATA + _SDK):
        where = f" ({redact_url(url)})" if url else ""
        error = APITimeoutError(EXPIRED_MESSAGES[expired] + where)
    elif isinstance(exc, ResponsesStreamError):
        error = exc
        if cut and isinstance(exc, ProtocolError):
            error = StreamInterrupted(
                "the stream ended in the middle of an event", unparsed=exc.data
            )
    elif stream is None and isinstance(exc, _HEADER_ERRORS):
        answer = exc.args[0] if exc.args else None
        if isinstance(answer, urllib3.exceptions.InvalidHeader):  # the answer's, not ours
            error = ProtocolError(f"the answer's head is malformed: {answer}")
        else:
            error = _header_error(exc)
    elif stream is None and isinstance(exc, requests.RequestException):
        kind = "connect" if isinstance(exc, requests.ConnectTimeout) else "read"
        where = redact_url(url)
        if isinstance(exc, requests.Timeout):
            error = APITimeoutError(f"{kind} timeout talking to {where}: {exc}")
        else:
            error = APIConnectionError(f"could not connect to {where}: {exc}")
    elif isinstance(exc, UnicodeDecodeError):
        if cut:
            error = StreamInterrupted(
                "the stream ended inside a UTF-8 character", unparsed=getattr(stream, "cut", None)
            )
        else:
            error = ProtocolError(f"the stream is not valid UTF-8: {exc}", data=exc.object)
    elif isinstance(exc, _TIMEOUTS):
        error = APITimeoutError(EXPIRED_MESSAGES["read"])  # as stream_many's timer says it
    elif isinstance(exc, _CONNECTION):
        error = StreamInterrupted(
            f"the connection broke: {exc}", unparsed=getattr(stream, "cut", None)
        )
    elif isinstance(exc, _DATA):
        error = ProtocolError(f"the stream sent data of the wrong shape: {exc!r}")
    else:
        return None
    return error if stream is None else attach(error, stream)


def attach(error: ResponsesStreamError, stream: Any) -> ResponsesStreamError:
    """``error`` with what ``stream`` knows (partial response, request id, cursor) filled in
    where it has none."""
    if error.response is None:
        error.response = stream.response
    if error.request_id is None:
        error.request_id = stream.request_id
    seq = stream.last_sequence_number
    has_cursor = isinstance(error, (APIConnectionError, StreamInterrupted))
    if has_cursor and error.last_sequence_number is None:  # type: ignore[attr-defined]
        error.last_sequence_number = seq  # type: ignore[attr-defined]
    if isinstance(error, StreamInterrupted) and error.response_id is None:
        error.response_id = stream.response.id
        if "last sequence_number" not in error.message:
            error.message += f" (last sequence_number {seq}); the partial response is on .response"
            error.args = (error.message,)
    return error


# --------------------------------------------------------------------------------- sending


def timeouts(
    timeout: Timeout, deadline: Optional[float], clock: Callable[[], float]
) -> Tuple[Optional[float], Optional[float]]:
    """The (connect, read) pair for requests, shortened so neither passes ``deadline``."""
    connect, read = timeout.connect, timeout.read
    if deadline is not None:
        left = max(deadline - clock(), 0.001)
        connect = left if connect is None else min(connect, left)
        read = left if read is None else min(read, left)
    return connect, read


class Transport:
    """Sends the client's requests: URL, headers, auth, timeouts and the retry policy.

    Only the request is retried: the caller gets the response before any body byte is read,
    so a stream that has started is never sent twice.
    """

    def __init__(
        self,
        session: requests.Session,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.settings = settings
        self.sleep = sleep
        self.clock = clock

    def deadline(self, timeout: Union[Timeout, float, None]) -> Optional[float]:
        """When a call with ``timeout`` (else the client's) must be over, on :attr:`clock`."""
        limits = Timeout.coerce(timeout) if timeout is not None else self.settings.timeout
        return self.clock() + limits.total if limits.total is not None else None

    def attempts(
        self,
        method: str,
        path: str,
        payload: Optional[bytes] = None,
        *,
        query: Optional[Mapping[str, str]] = None,
        timeout: Union[Timeout, float, None] = None,
        max_retries: Optional[int] = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        on_retry: Optional[Callable[[Exception, int, float], None]] = None,
        deadline: Optional[float] = None,
        stream: bool = False,
        guard: Optional[Guard] = None,
    ) -> Attempts:
        """The tries of one request and the retry policy between them, without any I/O.

        A generator: it yields an :class:`Attempt` (the driver sends it and sends back the
        ``requests.Response``, or the ``requests`` exception the try raised) or a delay in
        seconds (the driver waits that long and sends back None), and returns the 2xx
        response (body unread when ``stream``). :meth:`send` drives it blocking;
        ``stream_many`` drives it on its selector, so both follow the same policy.

        Raises the :class:`APIStatusError` for the last answer, or :class:`APIConnectionError`
        /:class:`APITimeoutError`, when retries (``max_retries``, else the client's) run out or
        the status is not retryable. ``guard`` holds the call's ``total`` limit over the whole
        exchange, a server that trickles its headers or error body included; each retry is
        counted in ``guard.meter``.
        """
        forget_inherited(self.session)  # in a forked child, before any connection is used
        settings = self.settings
        limits = Timeout.coerce(timeout) if timeout is not None else settings.timeout
        retries = settings.max_retries if max_retries is None else max_retries
        url = settings.base_url + path
        params = {**settings.query, **(query or {})}
        accept = {"Accept": "text/event-stream" if stream else "application/json"}
        provider = settings.token_provider
        # The client's headers were checked when it was made, and a token by _token().
        extra = check_headers(extra_headers) if extra_headers else None
        headers = merge_headers(settings.headers, accept, extra)
        policy = RetryPolicy(max_retries=retries, sleep=self.sleep, clock=self.clock)
        attempt = 0
        while True:
            if guard is not None and guard.expired == "cancelled":
                raise StoppedBeforeStart  # given up (stream_many closed) before this try
            if provider is not None:  # a fresh token for each try (a back-off may be long)
                token = {"Authorization": f"Bearer {_token(provider)}"}
                headers = merge_headers(settings.headers, accept, token, extra)
            connect, read = timeouts(limits, deadline, self.clock)
            answer: Optional[Mapping[str, str]] = None
            outcome = yield Attempt(
                method, url, payload, params, headers, stream, (connect, read), guard
            )
            if isinstance(outcome, BaseException):
                exc = outcome
                expired = guard.expired if guard is not None else None
                error: ResponsesStreamError = cast(
                    ResponsesStreamError, translate(exc, url=url, expired=expired)
                )
                error.__cause__ = exc
                # A request that may have reached the server (read timeout) is not sent again.
                retryable = (
                    isinstance(exc, requests.ConnectionError)
                    and not isinstance(exc, requests.ReadTimeout)
                    and expired is None
                )
            else:
                resp = cast(requests.Response, outcome)
                request_id = resp.headers.get("x-request-id")
                logger.debug(
                    "%s %s: HTTP %s, request id %s", method, url, resp.status_code, request_id
                )
                if resp.status_code < 300:
                    return resp
                error = self._status_error(resp, guard)
                answer = resp.headers
                retryable = should_retry(resp.status_code, answer, policy.wall_clock)
                retryable = retryable and not isinstance(error, APITimeoutError)
            if not retryable or attempt >= policy.max_retries:
                raise error
            delay = backoff_delay(attempt, answer, policy.wall_clock, policy.rand)
            if deadline is not None and self.clock() + delay >= deadline:
                raise error
            attempt += 1
            if guard is not None:
                guard.meter.retries += 1
            logger.info("retrying %s in %.2fs (attempt %d) after: %s", url, delay, attempt, error)
            if on_retry is not None:
                on_retry(error, attempt, delay)
            yield delay

    def send(self, steps: Steps[_T], sleep: Optional[Callable[[float], None]] = None) -> _T:
        """Run ``steps`` (:meth:`attempts`, or work made of them) here, blocking: each try
        through the session (:meth:`exchange`), each back-off with ``sleep`` (else :attr:`sleep`);
        return their result (the 2xx response of :meth:`attempts`) or raise their error."""
        wait = self.sleep if sleep is None else sleep
        step = next(steps)
        while True:
            outcome: Any = None
            if isinstance(step, Attempt):
                outcome = self.exchange(step)
            else:
                try:
                    wait(step)
                except BaseException:  # stopped, Ctrl-C: the steps let go of what they hold
                    steps.close()
                    raise
            try:
                step = steps.send(outcome)
            except StopIteration as done:
                return cast(_T, done.value)

    def exchange(self, attempt: Attempt) -> Union[requests.Response, Exception]:
        """Send one try through the session (blocking): its response, or what it raised."""
        try:
            with guarding(attempt.guard):
                resp = self.session.request(
                    attempt.method,
                    attempt.url,
                    data=attempt.payload,
                    params=attempt.params or None,
                    headers=attempt.headers,
                    stream=attempt.stream,
                    timeout=attempt.timeouts,
                )
                return answer_after(self.session, resp, attempt)  # 1xx heads passed over
        except (requests.RequestException, UnicodeEncodeError) as exc:
            return exc

    @staticmethod
    def _status_error(resp: requests.Response, guard: Optional[Guard]) -> ResponsesStreamError:
        """The error for a non-2xx answer, its body read within the call's total limit."""
        if guard is None:
            error: ResponsesStreamError = error_from_response(resp)
        else:
            guard.arm(lambda: shut_response(resp.raw))
            try:
                error = error_from_response(resp)
            finally:
                guard.disarm()
            if guard.expired is not None:
                error = cast(ResponsesStreamError, translate(error, expired=guard.expired))
                error.request_id = error.request_id or resp.headers.get("x-request-id")
        resp.close()
        return error

    def guard(self, timeout: Union[Timeout, float, None], meter: Meter) -> Guard:
        """The call's ``total`` and ``idle`` limits (on the watchdog only when it has one), and
        its ``meter``: the events move the idle limit on, retries are counted there."""
        limits = Timeout.coerce(timeout) if timeout is not None else self.settings.timeout
        return Guard(self.deadline(limits), limits.idle, meter)

    def request_json(
        self,
        method: str,
        path: str,
        build: Callable[[Dict[str, Any]], _T],
        *,
        body: Optional[Mapping[str, Any]] = None,
        timeout: Union[Timeout, float, None] = None,
    ) -> _T:
        """Send a non-streamed request and return ``build`` of its JSON object (a
        ``TypeError``/``ValueError`` of ``build``, data of the wrong shape, is a
        :class:`ProtocolError` with the request id, as invalid JSON is)."""
        payload = json.dumps(body).encode("utf-8") if body is not None else None
        deadline = self.deadline(timeout)
        resp = self.send(self.attempts(method, path, payload, timeout=timeout, deadline=deadline))
        request_id = resp.headers.get("x-request-id")
        try:
            data = resp.json()
        except ValueError:
            data = _NOT_JSON  # raised below: json's error quotes the body, not to be chained
        finally:
            resp.close()
        if data is _NOT_JSON:
            secrets = sent_secrets(resp)  # a server may echo them: never in an error
            raise ProtocolError(
                f"expected a JSON response from {method} {path}, got: "
                f"{scrub(resp.text[:200], secrets)!r}",
                data=scrub_bytes(resp.content, secrets),
                request_id=request_id,
            )
        try:
            if not isinstance(data, dict):
                raise TypeError("it is not a JSON object")
            return build(data)
        except (TypeError, ValueError) as exc:
            raise ProtocolError(
                f"unexpected JSON from {method} {path}: {exc}", data=data, request_id=request_id
            ) from exc


_NOT_JSON: Any = object()


def _token(provider: Callable[[], str]) -> str:
    """A fresh token from ``azure_ad_token_provider``, checked like a key before it is sent."""
    token = secret("the token from azure_ad_token_provider", provider())
    if not token:
        raise ConfigurationError("azure_ad_token_provider returned an empty token")
    return token
