"""Configuration: keyword arguments and the environment (OpenAI, Azure) -> frozen settings.

Everything here runs before any request, and every mistake is a
:class:`~responses_stream.errors.ConfigurationError` naming what is wrong. Credentials (the API
key, Azure's ``api-key`` and AD token, a ``user:password@`` in ``base_url``) end up in one
place, :attr:`Settings.headers`, which is left out of every ``repr``; no message, ``repr`` or log
line quotes them.
"""

from __future__ import annotations

import base64
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Mapping, NamedTuple, Optional, Tuple, Union
from urllib.parse import unquote, urlsplit, urlunsplit

from .__version__ import __version__
from .errors import ConfigurationError

DEFAULT_BASE_URL = "https://api.openai.com/v1"
"""Where requests go without ``base_url``, ``OPENAI_BASE_URL`` or an Azure endpoint."""
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 600.0
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


@dataclass(frozen=True)
class Timeout:
    """Time limits for one call, in seconds; ``None`` (or ``float("inf")``) means no limit.

    =========== ======= ==================================================================
    ``connect`` 5       to open the connection (TCP and TLS).
    ``read``    600     the longest wait for the next byte. Any byte resets it, keep-alive
                        comments included, so it catches a dead connection, not a silent model.
    ``idle``    None    the longest wait for the next event: keep-alives, comments and partial
                        bytes do not reset it, so it catches a model that has stopped. Off by
                        default because a reasoning model may think for many minutes between
                        events; on a background stream it resumes instead of failing.
    ``total``   None    the whole call, retries, back-off and resumes included, whatever the
                        server does.
    =========== ======= ==================================================================

    A number where a ``Timeout`` is accepted sets ``connect`` and ``read``. A value that is
    negative, zero, NaN or not a number is a :class:`~responses_stream.errors.ConfigurationError`
    naming the field.
    """

    connect: Optional[float] = DEFAULT_CONNECT_TIMEOUT
    read: Optional[float] = DEFAULT_READ_TIMEOUT
    idle: Optional[float] = None
    total: Optional[float] = None

    def __post_init__(self) -> None:
        for name in ("connect", "read", "idle", "total"):
            object.__setattr__(self, name, _limit(f"Timeout.{name}", getattr(self, name)))

    @classmethod
    def coerce(cls, value: Union[Timeout, float, int, None]) -> Timeout:
        """Accept a :class:`Timeout`, a number (used for both connect and read) or ``None``."""
        if value is None:
            return cls()
        if isinstance(value, Timeout):
            return value
        seconds = _limit("timeout", value, what="a number of seconds > 0 or rs.Timeout")
        return cls(connect=seconds, read=seconds)


def _limit(name: str, value: Any, what: str = "a number of seconds > 0 or None") -> Optional[float]:
    """A time limit: a positive number of seconds, or ``None`` for none (infinity too)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"{name} must be {what}, got {value!r}")
    seconds = float(value)
    if math.isnan(seconds) or seconds <= 0:
        raise ConfigurationError(f"{name} must be {what}, got {value!r}")
    return None if math.isinf(seconds) else seconds


def check_count(name: str, value: Any, least: int = 0) -> int:
    """``value`` if it is an int (not a bool) >= ``least``, else a ConfigurationError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigurationError(f"{name} must be an int >= {least}, got {value!r}")
    return int(value)


def is_one_value(value: Any) -> bool:
    """True for what is no collection of values: not iterable, or a string or a mapping,
    which are (a single request dict, a tool's name, say)."""
    return isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable)


def check_flag(name: str, value: Any) -> bool:
    """``value`` if it is a bool, else a ConfigurationError (``None`` or ``"no"`` is no flag)."""
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, got {value!r}")
    return value


def is_local(url: str) -> bool:
    """True for a server on this machine (no API key needed)."""
    host = (urlsplit(url).hostname or "").lower()
    return host in _LOCAL_HOSTS or host.startswith("127.") or host.endswith(".localhost")


@dataclass(frozen=True)
class Settings:
    """What a :class:`~responses_stream.Client` sends with every request."""

    base_url: str
    """The API root, e.g. ``https://api.openai.com/v1`` (no trailing slash). Credentials in the
    configured URL are not in it: they are sent as an ``Authorization: Basic`` header."""
    is_azure: bool
    timeout: Timeout
    max_retries: int
    headers: Mapping[str, str] = field(repr=False)
    """Headers of every request, credentials included."""
    query: Mapping[str, str] = field(default_factory=dict)
    """Query parameters of every request (Azure's ``api-version``)."""
    token_provider: Optional[Callable[[], str]] = field(default=None, repr=False)
    """Called before each request for a fresh bearer token (Azure AD)."""
    shown_url: str = ""
    """:attr:`base_url` as shown to people: with ``user:***@`` when the configured URL carried
    credentials, else the same."""


class Azure(NamedTuple):
    """The Azure OpenAI keywords of :class:`~responses_stream.Client`, as given."""

    azure_endpoint: Optional[str] = None
    api_version: Optional[str] = None
    azure_ad_token: Optional[str] = None
    azure_ad_token_provider: Optional[Callable[[], str]] = None


def resolve(
    api_key: Optional[str],
    base_url: Optional[str],
    *,
    organization: Optional[str],
    project: Optional[str],
    timeout: Union[Timeout, float, None],
    max_retries: int,
    default_headers: Optional[Mapping[str, Optional[str]]],
    azure: Azure,
    env: Mapping[str, str] = os.environ,
) -> Settings:
    """The client's settings from its keyword arguments, falling back to the environment.

    ``api_key`` and ``base_url`` come first, as ``Client()`` takes them; its Azure keywords
    come together, as one :class:`Azure`. Azure is used when ``azure_endpoint`` is given, or
    when ``AZURE_OPENAI_ENDPOINT`` is set and nothing OpenAI is (no ``base_url``/``api_key``
    argument, no ``OPENAI_BASE_URL``/``OPENAI_API_KEY``). Keys and tokens lose surrounding
    whitespace (a newline read from a file); one that still cannot be sent in a header is a
    ConfigurationError that does not quote it. ``user:password@`` in the URL is sent as
    ``Authorization: Basic`` (replacing a bearer key, as ``requests`` does) and shown as
    ``user:***@``.
    """
    azure_endpoint, api_version, azure_ad_token, azure_ad_token_provider = azure
    if azure_ad_token_provider is not None and not callable(azure_ad_token_provider):
        raise ConfigurationError(
            "azure_ad_token_provider must be a function returning a token (for a token "
            "itself, pass azure_ad_token=)"
        )
    openai_configured = base_url or env.get("OPENAI_BASE_URL") or api_key is not None
    if azure_endpoint is None and not openai_configured and not env.get("OPENAI_API_KEY"):
        azure_endpoint = env.get("AZURE_OPENAI_ENDPOINT") or None
    query: Dict[str, str] = {}
    auth: Dict[str, str] = {}
    if azure_endpoint is not None:
        if base_url is not None:
            raise ConfigurationError("pass either base_url or azure_endpoint, not both")
        version = api_version or env.get("OPENAI_API_VERSION")
        root = azure_endpoint.strip().rstrip("/")
        # The v1 route needs no api-version; a dated version selects the older route.
        url = root + "/openai" if version else root + "/openai/v1"
        if version:
            query["api-version"] = version
        key = _credential("api_key", api_key, "AZURE_OPENAI_API_KEY", env)
        if azure_ad_token_provider is None:
            token = secret("azure_ad_token", azure_ad_token)
            if token:
                auth["Authorization"] = f"Bearer {token}"
            elif key:
                auth["api-key"] = key
            else:
                raise ConfigurationError(
                    "Azure OpenAI needs api_key (or AZURE_OPENAI_API_KEY), azure_ad_token or "
                    "azure_ad_token_provider"
                )
    else:
        url = (base_url or env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).strip().rstrip("/")
        key = _credential("api_key", api_key, "OPENAI_API_KEY", env)
        if key:
            auth["Authorization"] = f"Bearer {key}"
    try:
        url, basic, shown = split_credentials(url)
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number in range
    except ValueError as exc:  # never the URL itself in the message: it may hold a password
        raise ConfigurationError(f"base_url is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigurationError(f"base_url must be an http(s) URL, got {shown!r}")
    if not parts.hostname:
        raise ConfigurationError(f"base_url has no host: {shown!r}")
    if azure_endpoint is None and not auth and basic is None and not is_local(url):
        raise ConfigurationError(
            "no API key: pass Client(api_key=...) or set OPENAI_API_KEY "
            "(a key is optional only for servers on localhost)"
        )
    organization = secret("organization", organization) or _env_value("OPENAI_ORG_ID", env)
    project = secret("project", project) or _env_value("OPENAI_PROJECT_ID", env)
    headers = merge_headers(
        {
            "User-Agent": f"responses-stream/{__version__}",
            # Compression makes proxies buffer and adds latency per event.
            "Accept-Encoding": "identity",
            "Content-Type": "application/json",
        },
        auth,
        {"Authorization": basic} if basic is not None else None,
        {"OpenAI-Organization": organization} if organization else None,
        {"OpenAI-Project": project} if project else None,
        check_headers(default_headers or {}, "default_headers"),
    )
    return Settings(
        base_url=url,
        is_azure=azure_endpoint is not None,
        timeout=Timeout.coerce(timeout),
        max_retries=check_count("max_retries", max_retries),
        headers=headers,
        query=query,
        token_provider=azure_ad_token_provider,
        shown_url=shown,
    )


# ---------------------------------------------------------------------------- credentials

_UNSENDABLE = re.compile("[^\x20-\x7e\xa0-\xff]")
"""A character a header value cannot carry: a control character (C0, DEL, C1) or one
outside latin-1."""
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _unsendable(value: str) -> Optional[str]:
    """Why ``value`` cannot be a header value, without quoting it; ``None`` when it can."""
    bad = _UNSENDABLE.search(value)
    if bad is None:
        return None
    code = ord(bad.group())
    kind = "a character that is not latin-1" if code > 0xFF else "a control character"
    return f"contains {kind} (U+{code:04X} at position {bad.start()}); the value is not shown"


def secret(name: str, value: Any) -> str:
    """An API key or token without surrounding whitespace ("" for ``None``).

    A value that is not a string, or that still holds a control or non-latin-1 character, is a
    ConfigurationError naming ``name`` and never quoting the value.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string, got {type(value).__name__}")
    stripped: str = value.strip()
    problem = _unsendable(stripped)
    if problem is not None:
        raise ConfigurationError(f"{name} {problem}")
    return stripped


def _credential(name: str, value: Optional[str], env_name: str, env: Mapping[str, str]) -> str:
    """The argument ``name`` if given, else the environment variable ``env_name``, checked."""
    return secret(name, value) if value is not None else _env_value(env_name, env)


def _env_value(env_name: str, env: Mapping[str, str]) -> str:
    return secret(env_name, env.get(env_name))


def check_headers(
    headers: Mapping[str, Optional[str]], what: str = "header"
) -> Dict[str, Optional[str]]:
    """``headers`` with values stripped of surrounding whitespace (as HTTP does); a name that
    is not an HTTP token, or a value holding a control or non-latin-1 character, is a
    ConfigurationError naming the header and never quoting its value. A ``None`` value (the
    header is to be removed, see :func:`merge_headers`) stays ``None``."""
    if not isinstance(headers, Mapping):
        raise ConfigurationError(f"{what}s must be a dict of names to values, got {headers!r}")
    out: Dict[str, Optional[str]] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise ConfigurationError(f"{what}: {name!r} is not a valid header name")
        out[name] = None if value is None else secret(f"{what} {name!r}", value)
    return out


def split_credentials(url: str) -> Tuple[str, Optional[str], str]:
    """``url`` without ``user:password@``; the ``Authorization`` value for those credentials
    (HTTP Basic, as ``requests`` would send them), or ``None``; and ``url`` as shown to people
    (``user:***@``, or ``***@`` for a user name alone, which may be a token)."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url, None, _masked(url)  # no "scheme://": urlsplit sees no credentials
    user, _, password = userinfo.partition(":")
    pair = f"{unquote(user)}:{unquote(password)}"
    try:
        raw = pair.encode("latin-1")
    except UnicodeEncodeError:
        raw = pair.encode("utf-8")
    basic = "Basic " + base64.b64encode(raw).decode("ascii")
    return urlunsplit(parts._replace(netloc=host)), basic, _masked(url)


def _masked(url: str) -> str:
    """``url`` as shown to people: the password (or a lone user name, which may be a token)
    before an ``@`` in its first part as ``***``, whether or not it starts with ``scheme://``."""
    scheme, sep, rest = url.partition("//")  # "https://host", "//host"
    if not sep or "/" in scheme or "@" in scheme:
        scheme, sep, rest = "", "", url  # "user:password@host/v1"
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    return scheme + sep + (f"{user}:***@" if colon else "***@") + host + rest[end:]


def redact_url(url: str) -> str:
    """``url`` with any password (or lone user name) replaced by ``***``, for messages."""
    return split_credentials(url)[2]


def merge_headers(*parts: Optional[Mapping[str, Optional[str]]]) -> Dict[str, str]:
    """Merge header mappings left to right (names compared case-insensitively); a ``None``
    value removes the header."""
    out: Dict[str, str] = {}
    spelled: Dict[str, str] = {}  # lower-case name -> how it is spelled in out
    for part in parts:
        if not part:
            continue
        for key, value in part.items():
            lowered = key.lower()
            existing = spelled.pop(lowered, None)
            if existing is not None:
                del out[existing]
            if value is not None:
                out[key] = value
                spelled[lowered] = key
    return out
