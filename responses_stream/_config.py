"""Configuration: keyword arguments and the environment (OpenAI, Azure) -> frozen settings.

Everything here runs before any request, and every mistake is a
:class:`~responses_stream.errors.ConfigurationError` naming what is wrong. The API key ends up in
one place, :attr:`Settings.auth`, which is left out of every ``repr``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Union
from urllib.parse import urlsplit

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


def is_local(url: str) -> bool:
    """True for a server on this machine (no API key needed)."""
    host = (urlsplit(url).hostname or "").lower()
    return host in _LOCAL_HOSTS or host.startswith("127.") or host.endswith(".localhost")


@dataclass(frozen=True)
class Settings:
    """What a :class:`~responses_stream.Client` sends with every request."""

    base_url: str
    """The API root, e.g. ``https://api.openai.com/v1`` (no trailing slash)."""
    is_azure: bool
    timeout: Timeout
    max_retries: int
    headers: Mapping[str, str] = field(repr=False)
    """Headers of every request, credentials included."""
    query: Mapping[str, str] = field(default_factory=dict)
    """Query parameters of every request (Azure's ``api-version``)."""
    token_provider: Optional[Callable[[], str]] = field(default=None, repr=False)
    """Called before each request for a fresh bearer token (Azure AD)."""


def resolve(
    *,
    api_key: Optional[str],
    base_url: Optional[str],
    organization: Optional[str],
    project: Optional[str],
    timeout: Union[Timeout, float, None],
    max_retries: int,
    default_headers: Optional[Mapping[str, str]],
    azure_endpoint: Optional[str],
    api_version: Optional[str],
    azure_ad_token: Optional[str],
    azure_ad_token_provider: Optional[Callable[[], str]],
    env: Mapping[str, str] = os.environ,
) -> Settings:
    """The client's settings from its keyword arguments, falling back to the environment.

    Azure is used when ``azure_endpoint`` is given, or when ``AZURE_OPENAI_ENDPOINT`` is set and
    nothing OpenAI is (no ``base_url``/``api_key`` argument, no ``OPENAI_BASE_URL``/
    ``OPENAI_API_KEY``).
    """
    openai_configured = base_url or env.get("OPENAI_BASE_URL") or api_key is not None
    if azure_endpoint is None and not openai_configured and not env.get("OPENAI_API_KEY"):
        azure_endpoint = env.get("AZURE_OPENAI_ENDPOINT") or None
    query: Dict[str, str] = {}
    auth: Dict[str, str] = {}
    if azure_endpoint is not None:
        if base_url is not None:
            raise ConfigurationError("pass either base_url or azure_endpoint, not both")
        version = api_version or env.get("OPENAI_API_VERSION")
        root = azure_endpoint.rstrip("/")
        # The v1 route needs no api-version; a dated version selects the older route.
        url = root + "/openai" if version else root + "/openai/v1"
        if version:
            query["api-version"] = version
        key = api_key if api_key is not None else env.get("AZURE_OPENAI_API_KEY")
        if azure_ad_token_provider is None:
            if azure_ad_token:
                auth["Authorization"] = f"Bearer {azure_ad_token}"
            elif key:
                auth["api-key"] = key
            else:
                raise ConfigurationError(
                    "Azure OpenAI needs api_key (or AZURE_OPENAI_API_KEY), azure_ad_token or "
                    "azure_ad_token_provider"
                )
    else:
        url = (base_url or env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        key = api_key if api_key is not None else env.get("OPENAI_API_KEY")
        if not key and not is_local(url):
            raise ConfigurationError(
                "no API key: pass Client(api_key=...) or set OPENAI_API_KEY "
                "(a key is optional only for servers on localhost)"
            )
        if key:
            auth["Authorization"] = f"Bearer {key}"
    if not urlsplit(url).scheme.startswith("http"):
        raise ConfigurationError(f"base_url must be an http(s) URL, got {url!r}")
    organization = organization or env.get("OPENAI_ORG_ID")
    project = project or env.get("OPENAI_PROJECT_ID")
    headers = merge_headers(
        {
            "User-Agent": f"responses-stream/{__version__}",
            # Compression makes proxies buffer and adds latency per event.
            "Accept-Encoding": "identity",
            "Content-Type": "application/json",
        },
        auth,
        {"OpenAI-Organization": organization} if organization else None,
        {"OpenAI-Project": project} if project else None,
        default_headers,
    )
    return Settings(
        base_url=url,
        is_azure=azure_endpoint is not None,
        timeout=Timeout.coerce(timeout),
        max_retries=check_count("max_retries", max_retries),
        headers=headers,
        query=query,
        token_provider=azure_ad_token_provider,
    )


def merge_headers(*parts: Optional[Mapping[str, Optional[str]]]) -> Dict[str, str]:
    """Merge header mappings left to right (names compared case-insensitively); a ``None``
    value removes the header."""
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
