"""Test helpers for code that consumes OpenAI Responses streams.

This package is public API. It has two tools, both built on the standard library:

* :class:`Script` builds a valid Responses event sequence with the same shape as the real API
  (``response.created`` ... ``response.completed``). It can render the sequence as JSON payloads
  or as SSE bytes. Use it to unit-test event handlers offline, or feed it to :class:`MockServer`.
* :class:`MockServer` is a real HTTP/1.1 server on ``127.0.0.1``. It serves queued scripts,
  recorded ``.sse`` files and JSON error bodies on ``POST /v1/responses``. It can cut,
  stall or reset the connection, and it implements the background routes: resume
  (``GET /v1/responses/{id}?stream=true&starting_after=N``), retrieve, and cancel.

Example::

    from responses_stream.testing import MockServer, Script

    script = Script(seed=1).text("Hello! How can I help?").completed()
    with MockServer() as server:
        server.add(script, delay=0.01)
        ...  # point the client at server.url ("http://127.0.0.1:PORT/v1")
        assert server.requests[0].json["stream"] is True

For pytest, wrap :func:`mock_server` in a fixture::

    @pytest.fixture
    def server():
        yield from mock_server()
"""

from ._script import Script
from ._server import MockServer, RecordedRequest, mock_server

__all__ = ["MockServer", "RecordedRequest", "Script", "mock_server"]
