"""Relay a stream to a browser page over Server-Sent Events, with Flask.

``/`` serves ``flask_relay/index.html``: its JavaScript opens an ``EventSource`` on
``/stream?prompt=...`` and appends each token to the page as it arrives. ``/stream`` returns
``responses_stream.web.flask_response(...)``, which sends each text delta as a ``data:`` line
(JSON), ``: keep-alive`` comments while the model is silent, then ``event: done`` with the final
response (or ``{"status": "failed", "error": ...}``). If the browser goes away, the upstream
stream is closed at once (and a ``background=True`` response would be cancelled).

    python examples/flask_relay.py     # then open http://127.0.0.1:5000/?prompt=Hello

Both run offline: the upstream is the SDK's MockServer (use ``create_app(rs.Client())`` for the
real API). ``main()`` serves the app on a free port, reads ``/stream`` with requests and prints
the relayed text.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import flask
import requests
import sseclient
from werkzeug.serving import make_server

import responses_stream as rs
from responses_stream import web
from responses_stream.testing import MockServer, Script

PAGE = Path(__file__).parent / "flask_relay" / "index.html"
ANSWER = "Server-Sent Events carry each token from the model, through Flask, to this page."


def create_app(client: rs.Client, **options: Any) -> flask.Flask:
    """The app: ``/`` (the page) and ``/stream`` (the relay). ``options`` go to
    ``web.flask_response`` with each request, e.g. ``background=True``, ``mode="events"``,
    ``keepalive=5``."""
    app = flask.Flask(__name__, root_path=str(PAGE.parent))
    app.add_url_rule("/", "index", lambda: PAGE.read_text(encoding="utf-8"))

    @app.get("/stream")
    def stream() -> flask.Response:
        # Read the request now: the body is produced after this view has returned.
        prompt = flask.request.args.get("prompt", "Hello")
        return web.flask_response(client, model="gpt-5-mini", input=prompt, **options)

    return app


def main() -> rs.Response:
    """Serve the app, read one relayed answer over HTTP, print its text, return it."""
    with MockServer() as upstream, rs.Client(base_url=upstream.url) as client:
        upstream.add(Script(model="gpt-5-mini").text(ANSWER).completed(), delay=0.02)
        server = make_server("127.0.0.1", 0, create_app(client), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.port}/stream"
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
            upstream.add(Script(model="gpt-5-mini").text(ANSWER).completed(), delay=0.05)
        create_app(client).run(port=5000, threaded=True)
