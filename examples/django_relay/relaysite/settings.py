"""Settings of the relay example: no database, no sessions, no templates; just two views."""

from __future__ import annotations

import os
import secrets

DEBUG = False  # never show Django's debug pages (with settings and tracebacks) to a browser
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# Nothing here signs cookies or tokens, so a fresh key per process is enough for the example;
# a real project reads a fixed one from its secrets.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)
ROOT_URLCONF = "relaysite.urls"
WSGI_APPLICATION = "relaysite.wsgi.application"
INSTALLED_APPS: list = []
DATABASES: dict = {}
# No GZipMiddleware (or any other that buffers the body): it would hold the events back.
MIDDLEWARE: list = []
USE_TZ = True
