"""The WSGI application: ``create_application(client)``, or ``application`` for a WSGI server
(``gunicorn --threads 8 relaysite.wsgi:application``; it uses ``rs.Client()``, so
``OPENAI_API_KEY``)."""

from __future__ import annotations

import os
from typing import Any, Callable

import responses_stream as rs

from . import views

WSGIApp = Callable[..., Any]


def create_application(client: rs.Client, **options: Any) -> WSGIApp:
    """Django's WSGI handler for this project, relaying through ``client``.

    ``options`` go to ``web.django_response`` with each request (see ``views.configure``).
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relaysite.settings")
    from django.core.wsgi import get_wsgi_application

    views.configure(client, **options)
    return get_wsgi_application()


def __getattr__(name: str) -> Any:
    # `application`, created on first access so that importing this module (as the tests and
    # run.py do) neither needs an API key nor creates a client.
    if name == "application":
        return create_application(rs.Client())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
