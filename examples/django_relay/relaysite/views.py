"""The page and the relay view.

``/stream?prompt=...`` returns ``web.django_response(...)``: each text delta as a ``data:``
message (a JSON string), ``: keep-alive`` comments while the model is silent, then
``event: done`` with the final response, or ``{"status": "failed", ...}`` if the stream failed.
If the browser goes away, the upstream stream is closed (and a background response cancelled).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

from django.http import HttpRequest, HttpResponse

import responses_stream as rs
from responses_stream import web

PAGE = Path(__file__).parent / "index.html"
MODEL = "gpt-5-mini"

# Django's settings and URLs are per process, and so is the client the views use: set by
# wsgi.create_application(), or a real rs.Client() (OPENAI_API_KEY) on first use.
_client: Optional[rs.Client] = None
_options: Dict[str, Any] = {}


def configure(client: rs.Client, **options: Any) -> None:
    """Use ``client`` for every request; ``options`` go to ``web.django_response`` (e.g.
    ``background=True``, ``mode="events"``, ``keepalive=5``)."""
    global _client, _options
    _client, _options = client, dict(options)


def index(request: HttpRequest) -> HttpResponse:
    """``/``: the page; its script opens ``/stream`` with the page's ``?prompt=``."""
    return HttpResponse(PAGE.read_bytes(), content_type="text/html; charset=utf-8")


def stream(request: HttpRequest) -> Any:
    """``/stream?prompt=...``: the relay, a ``StreamingHttpResponse`` of Server-Sent Events."""
    if _client is None:
        configure(rs.Client())
    assert _client is not None
    prompt = request.GET.get("prompt", "Hello")
    return web.django_response(_client, model=MODEL, input=prompt, **_options)
