"""HTTP: building requests, retrying before a stream starts, and turning failures into errors.

This is the one place where ``requests``/``urllib3`` exceptions and HTTP statuses become
``responses_stream`` errors (always chained with ``from``).
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

import requests

from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    status_error_class,
)

logger = logging.getLogger("responses_stream")

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 600.0
MAX_RETRY_AFTER = 120.0
_MAX_ERROR_BODY = 1 << 20


@dataclass(frozen=True)
class Timeout:
    """Time limits for one call, in seconds.

    ``connect``: to open the connection (default 5). ``read``: the longest wait for the next
    byte, so a stalled stream fails within it (default 600, like the official SDK). ``total``:
    an upper bound for the whole call including retries (default ``None``: no bound). ``None``
    for ``connect`` or ``read`` means wait forever.
    """

    connect: Optional[float] = DEFAULT_CONNECT_TIMEOUT
    read: Optional[float] = DEFAULT_READ_TIMEOUT
    total: Optional[float] = None

    @classmethod
    def coerce(cls, value: Union[Timeout, float, int, None]) -> Timeout:
        """Accept a :class:`Timeout`, a number (used for both connect and read) or ``None``."""
        if value is None:
            return cls()
        if isinstance(value, Timeout):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return cls(connect=float(value), read=float(value))
        raise ConfigurationError(f"timeout must be a positive number or rs.Timeout, got {value!r}")


RETRY_STATUSES = frozenset({408, 409, 429})


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
    return float(email.utils.mktime_tz(parsed)) - now()


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
    retries_taken: int,
    headers: Optional[Mapping[str, str]],
    now: Callable[[], float],
    rand: Callable[[], float],
) -> float:
    """Seconds to wait before the next attempt: the server's wish when sane, else backoff."""
    if headers is not None:
        delay = retry_after_seconds(headers, now)
        if delay is not None and 0 < delay <= MAX_RETRY_AFTER:
            return delay
    return min(0.5 * 2.0**retries_taken, 8.0) * (1 - 0.25 * rand())


@dataclass
class RetryPolicy:
    """How many times to retry and how to wait; ``sleep``/``clock``/``rand`` are injectable."""

    max_retries: int = 2
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    rand: Callable[[], float] = random.random


def error_from_response(resp: requests.Response) -> APIStatusError:
    """Build the :class:`APIStatusError` subclass for a non-2xx answer (reads a bounded body)."""
    try:
        raw = resp.raw.read(_MAX_ERROR_BODY, decode_content=True) if resp.raw is not None else b""
    except Exception:  # the body is a courtesy; the status is what matters
        raw = b""
    if not raw and resp.raw is None:
        raw = resp.content or b""
    text = raw.decode("utf-8", errors="replace")
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
    if message is None:
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
        headers=resp.headers,
        code=code,
        type=err_type,
        param=param,
    )
    return status_error


def _str_or_none(value: Any) -> Optional[str]:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def translate_request_error(exc: Exception, url: str) -> APIConnectionError:
    """Map a requests exception raised while sending/connecting to an SDK error."""
    if isinstance(exc, (requests.ConnectTimeout, requests.ReadTimeout)):
        kind = "connect" if isinstance(exc, requests.ConnectTimeout) else "read"
        return APITimeoutError(f"{kind} timeout talking to {url}: {exc}")
    return APIConnectionError(f"could not connect to {url}: {exc}")


Send = Callable[[], requests.Response]


def send_with_retries(
    send: Send,
    *,
    url: str,
    policy: RetryPolicy,
    deadline: Optional[float],
    on_retry: Optional[Callable[[Exception, int, float], None]] = None,
) -> requests.Response:
    """Call ``send`` until it returns a 2xx response, retrying what the policy allows.

    Only the request is retried: the caller gets the response before reading any body byte, so
    a stream that has started is never sent twice.
    """
    retries_taken = 0
    while True:
        error: Exception
        headers: Optional[Mapping[str, str]] = None
        try:
            resp = send()
        except requests.RequestException as exc:
            error = translate_request_error(exc, url)
            error.__cause__ = exc
            retryable = isinstance(
                exc, (requests.ConnectionError, requests.ConnectTimeout)
            ) and not isinstance(exc, requests.ReadTimeout)
        else:
            request_id = resp.headers.get("x-request-id")
            logger.debug("HTTP %s from %s (request id %s)", resp.status_code, url, request_id)
            if resp.status_code < 300:
                return resp
            error = error_from_response(resp)
            resp.close()
            headers = resp.headers
            retryable = should_retry(resp.status_code, headers, policy.wall_clock)
        if not retryable or retries_taken >= policy.max_retries:
            raise error
        delay = backoff_delay(retries_taken, headers, policy.wall_clock, policy.rand)
        if deadline is not None and policy.clock() + delay >= deadline:
            raise error
        retries_taken += 1
        logger.info("retrying %s in %.2fs (attempt %d) after: %s", url, delay, retries_taken, error)
        if on_retry is not None:
            on_retry(error, retries_taken, delay)
        policy.sleep(delay)


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


def merge_headers(*parts: Optional[Mapping[str, Optional[str]]]) -> Dict[str, str]:
    """Merge header mappings left to right; a ``None`` value removes the header."""
    out: Dict[str, str] = {}
    for part in parts:
        if not part:
            continue
        for key, value in part.items():
            for existing in [k for k in out if k.lower() == key.lower()]:
                del out[existing]
            if value is not None:
                out[key] = value
    return out
