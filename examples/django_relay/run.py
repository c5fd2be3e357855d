"""Run the Django relay example offline, against the SDK's MockServer.

    cd examples/django_relay
    python run.py              # then open http://127.0.0.1:8000/?prompt=Hello
    python manage.py runserver # the same project against the real API (OPENAI_API_KEY)

``main()`` serves the project on a free port (stdlib ``wsgiref``, one thread per request),
reads ``/stream`` with requests and prints the relayed text. ``relaysite.wsgi`` has
``create_application(client)``, which returns Django's WSGI handler for the project.
"""

from __future__ import annotations

import json
import socketserver
import threading
from typing import Any, Callable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import requests
import sseclient
from relaysite.views import MODEL
from relaysite.wsgi import create_application

import responses_stream as rs
from responses_stream.testing import MockServer, Script

ANSWER = "Server-Sent Events carry each token from the model, through Django, to this page."


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """wsgiref's server with a thread per request: a page and its open stream at once."""

    daemon_threads = True  # an open stream does not keep the process alive after Ctrl-C


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log: main() prints only the relayed text."""


def serve(app: Callable[..., Any], port: int, quiet: bool = False) -> ThreadingWSGIServer:
    """A threaded wsgiref server for ``app`` on 127.0.0.1:``port`` (0: a free port), not yet
    serving: call ``serve_forever()``."""
    handler = QuietHandler if quiet else WSGIRequestHandler
    server = make_server("127.0.0.1", port, app, ThreadingWSGIServer, handler)
    assert isinstance(server, ThreadingWSGIServer)
    return server


def main() -> rs.Response:
    """Serve the project, read one relayed answer over HTTP, print its text, return it."""
    with MockServer() as upstream, rs.Client(base_url=upstream.url) as client:
        upstream.add(Script(model=MODEL).text(ANSWER).completed(), delay=0.02)
        server = serve(create_application(client), 0, quiet=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.server_port}/stream"
        try:
            with requests.get(url, params={"prompt": "Hi"}, stream=True, timeout=10) as resp:
                for message in sseclient.SSEClient(resp.iter_content(chunk_size=None)).events():
                    if message.event == "done":
                        final = rs.Response.from_dict(json.loads(message.data))
                    else:
                        print(json.loads(message.data), end="", flush=True)
        finally:
            server.shutdown()
            thread.join()
            server.server_close()
    print(f"\n[{final.status}] relayed over SSE")
    return final


if __name__ == "__main__":
    with MockServer() as upstream, rs.Client(base_url=upstream.url) as client:
        for _ in range(100):  # one scripted answer per page load
            upstream.add(Script(model=MODEL).text(ANSWER).completed(), delay=0.05)
        server = serve(create_application(client), 8000)
        print("serving on http://127.0.0.1:8000/?prompt=Hello (Ctrl-C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
