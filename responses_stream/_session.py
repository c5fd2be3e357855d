"""The client's ``requests.Session``, made fast and safe once, when the client is made: the
environment's proxies and CA bundle read once (:func:`settle_environment`), redirects that
keep credentials and billing headers on their origin (:func:`protect_redirects`), and no
connection shared with a forked child (:func:`forget_inherited`)."""

from __future__ import annotations

import os
from typing import Any, Callable, Optional, cast

import requests

CREDENTIAL_HEADERS = ("Authorization", "api-key")
_ACCOUNT_HEADERS = (*CREDENTIAL_HEADERS, "OpenAI-Organization", "OpenAI-Project")
"""Dropped on a redirect to another origin: credentials, and which account the call bills."""
METHOD_CHANGING = (301, 302, 303)
"""Redirects that browsers and ``requests`` follow with a GET (and no body) after a POST."""


def settle_environment(session: requests.Session, url: str) -> None:
    """Read the environment's proxies and CA bundle for ``url`` into ``session`` now, once.

    With ``trust_env`` on, requests scans the whole environment (several times) and looks for
    a ``.netrc`` file on every request: a fifth of the CPU a stream costs to open. Read once,
    when the client is made, they apply the same way to every request; ``.netrc`` is not
    read (requests would let it replace the API key's ``Authorization`` header).
    """
    found = session.merge_environment_settings(url, {}, None, None, None)
    session.trust_env = False
    session.proxies.update(found["proxies"])
    if found["verify"] not in (None, True):
        session.verify = found["verify"]  # REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE


def protect_redirects(session: requests.Session) -> None:
    """Make ``session`` safe to follow redirects with.

    On a redirect to another origin it drops ``api-key`` (Azure), ``OpenAI-Organization`` and
    ``OpenAI-Project`` as well as ``Authorization`` (requests only knows about the latter). A
    301/302/303 answer to anything but GET or HEAD is not followed (it would be re-sent as a
    GET without its body, and that answer taken for the stream's): it becomes the call's
    :class:`APIStatusError`. 307 and 308 keep the method and body and are followed.
    """
    if getattr(session, "_responses_stream_safe_redirects", False):
        return
    # requests' own methods are untyped in its stubs: give them the types they have.
    original = cast(Callable[[Any, Any], None], session.rebuild_auth)
    should_strip = cast(Callable[[str, str], bool], session.should_strip_auth)
    target = cast(Callable[[Any], Optional[str]], session.get_redirect_target)

    def rebuild_auth(prepared_request: Any, response: Any) -> None:
        original(prepared_request, response)
        if should_strip(response.request.url, prepared_request.url):
            for name in _ACCOUNT_HEADERS:
                prepared_request.headers.pop(name, None)

    def get_redirect_target(response: Any) -> Optional[str]:
        method = str(getattr(response.request, "method", "") or "").upper()
        if response.status_code in METHOD_CHANGING and method not in ("GET", "HEAD"):
            return None
        return target(response)

    session.rebuild_auth = rebuild_auth  # type: ignore[method-assign]
    session.get_redirect_target = get_redirect_target  # type: ignore[method-assign,assignment]
    session._responses_stream_safe_redirects = True  # type: ignore[attr-defined]


_OWNER = "_responses_stream_pid"


def own_connections(session: requests.Session) -> None:
    """Note which process ``session``'s kept-alive connections belong to: this one."""
    setattr(session, _OWNER, os.getpid())


def forget_inherited(session: requests.Session) -> None:
    """In a process forked after ``session`` was used, let go of its kept-alive connections
    before a request uses one: they are the parent's too, and two processes writing requests
    on one socket would mix them (a worker pool forked after the client was used, ``gunicorn
    --preload``). The child closes its copies, which leaves the parent's open, and opens its
    own. Done at the child's first request (one ``getpid`` a request), not when it forks: a
    lock another thread of the parent held then would never be let go in the child."""
    pid = os.getpid()
    if getattr(session, _OWNER, pid) != pid:
        setattr(session, _OWNER, pid)
        for adapter in session.adapters.values():
            adapter.close()


__all__ = [
    "CREDENTIAL_HEADERS",
    "METHOD_CHANGING",
    "forget_inherited",
    "own_connections",
    "protect_redirects",
    "settle_environment",
]
