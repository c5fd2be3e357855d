"""Answers that are not the stream's yet: informational ones (1xx), and a redirect that
``stream_many``'s selector got (:func:`answer_after` follows it from that answer on, as
requests does: the first server is not sent the request twice).

Informational answers: a ``100 Continue`` or ``103 Early Hints`` before the real one.

http.client skips a ``100`` itself, but takes any other 1xx head for the whole answer (with an
empty body) and leaves the real answer unread on the connection. Both ways of sending take
the answer after them instead: ``stream_many`` drops their heads as they arrive
(:func:`after_interim`), ``client.stream()`` reads the next head off the same connection
(:func:`final_answer`). ``101 Switching Protocols`` is not one of them: nothing here asks to
switch, so it stays the answer (and an error).
"""

from __future__ import annotations

import http.client
import io
import re
import socket
from typing import Any, Union

import requests
import urllib3
from requests.cookies import extract_cookies_to_jar

from ._watchdog import guarding

INTERIM = re.compile(rb"HTTP/1\.[0-9] 1(?!01)[0-9][0-9]")
"""The start of an informational head."""
END_OF_HEAD = re.compile(rb"\r?\n\r?\n")
"""The blank line that ends a head (CRLF, or a bare LF as http.client also takes)."""
MAX_INTERIM = 32
"""The most informational heads taken before an answer (a server may not send them forever)."""


def is_interim(status: int) -> bool:
    """True for an informational status the answer follows (1xx, but not 101)."""
    return 100 <= status < 200 and status != 101


def after_interim(received: bytes) -> bytes:
    """``received`` (the first bytes of an answer) without the whole informational heads it
    starts with."""
    while INTERIM.match(received):
        end = END_OF_HEAD.search(received)
        if end is None:
            break
        received = received[end.end() :]
    return received


class _File:
    """What an http.client response reads its head from: the connection's buffered file."""

    def __init__(self, fp: io.BufferedIOBase) -> None:
        self._fp = fp

    def makefile(self, mode: str) -> io.BufferedIOBase:
        return self._fp


def final_answer(
    resp: requests.Response, session: requests.Session
) -> Union[requests.Response, requests.RequestException]:
    """The answer after ``resp`` (informational), read off its connection as ``requests``
    would have built it; or the ``requests`` error reading it raised."""
    request = resp.request
    raw: Any = resp.raw
    interim = raw._original_response
    fp, interim.fp = interim.fp, None  # the answer's now: closing the interim one leaves it
    try:
        for _ in range(MAX_INTERIM):
            head = http.client.HTTPResponse(_File(fp), method=request.method)  # type: ignore[arg-type]
            head.begin()
            if not is_interim(head.status):
                break
            head.fp = None  # type: ignore[assignment]  # dropped, it would close the file
        else:
            raise http.client.HTTPException(f"more than {MAX_INTERIM} informational answers")
        # The connection is the answer's now: the interim answer gives nothing back to the pool.
        answer = as_urllib3(head, request, raw._pool, raw._connection)
    except (OSError, http.client.HTTPException, urllib3.exceptions.HTTPError) as exc:
        fp.close()
        resp.close()
        if isinstance(exc, socket.timeout):
            return requests.ReadTimeout(exc, request=request)
        if isinstance(exc, urllib3.exceptions.InvalidHeader):  # as requests reports it
            return requests.exceptions.InvalidHeader(exc, request=request)
        return requests.ConnectionError(exc, request=request)
    raw._pool = raw._connection = None
    adapter = session.get_adapter(request.url or "")
    built: requests.Response = adapter.build_response(request, answer)
    extract_cookies_to_jar(session.cookies, request, answer)  # type: ignore[no-untyped-call]
    return built


def as_urllib3(
    head: http.client.HTTPResponse, request: requests.PreparedRequest, pool: Any, conn: Any
) -> urllib3.HTTPResponse:
    """``head`` (an answer http.client read) as urllib3 builds it for ``requests``: its body
    unread, its connection ``conn`` going back to ``pool`` at the end of it."""
    headers = urllib3.HTTPHeaderDict()
    for name, value in head.getheaders():
        headers.add(name, value)
    response = urllib3.HTTPResponse(
        body=head,
        headers=headers,
        status=head.status,
        version=head.version,
        reason=head.reason,
        preload_content=False,
        decode_content=False,
        original_response=head,
        request_method=request.method,
        request_url=request.url,
    )
    response._pool, response._connection = pool, conn  # as urllib3's pool sets them
    return response


def answer_after(
    session: requests.Session, resp: requests.Response, attempt: Any
) -> Union[requests.Response, Exception]:
    """What ``resp`` (the answer to ``attempt``) leads to: the answer after its informational
    heads and after its 307/308 redirects, as ``Session.send`` follows them; or the error on
    the way. Blocking."""
    for _ in range(MAX_INTERIM):
        if is_interim(resp.status_code):
            answer: Union[requests.Response, Exception] = final_answer(resp, session)
        elif resp.is_redirect and session.get_redirect_target(resp) is not None:
            answer = _followed(session, resp, attempt)
        else:
            return resp
        if isinstance(answer, Exception):
            return answer
        resp = answer
    return requests.ConnectionError("too many informational answers", request=resp.request)


def _followed(
    session: requests.Session, resp: requests.Response, attempt: Any
) -> Union[requests.Response, Exception]:
    """The last answer of the redirects ``resp`` starts, or the error that ended them."""
    request = resp.request
    settings: Any = session.merge_environment_settings(request.url, {}, None, None, None)
    try:
        with guarding(attempt.guard):
            answers = session.resolve_redirects(
                resp,
                request,
                stream=attempt.stream,
                timeout=attempt.timeouts,
                verify=settings["verify"],
                cert=settings["cert"],
                proxies=settings["proxies"],
            )
            answer = resp
            for answer in answers:  # noqa: B007 - the last one is the answer
                pass
    except (requests.RequestException, UnicodeEncodeError) as exc:
        return exc
    return answer


__all__ = [
    "END_OF_HEAD",
    "INTERIM",
    "MAX_INTERIM",
    "after_interim",
    "answer_after",
    "as_urllib3",
    "final_answer",
    "is_interim",
]
