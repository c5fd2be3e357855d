"""examples/flask_relay.py end to end: MockServer -> SDK -> Flask SSE -> a real browser page.

The browser test drives headless Chromium (Debian package ``chromium``) over the DevTools
protocol on a pipe (``--remote-debugging-pipe``: no port, no websocket library). It polls the
page while the upstream streams slowly, so it checks that tokens reach the page one by one, not
only that the final text is right. It is skipped only when ``chromium`` is not on the PATH.
"""

from __future__ import annotations

import fcntl
import json
import os
import runpy
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import requests
from werkzeug.serving import make_server

import responses_stream as rs
from responses_stream.testing import MockServer, Script

EXAMPLE = Path(__file__).parent.parent / "examples" / "flask_relay.py"
CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
)
TEXT = (
    "Tokens travel from the model through the SDK and Flask to the browser, "
    "one small piece at a time, and the page shows each of them as soon as it lands."
)
DELAY = 0.04  # seconds between upstream events


class Relay:
    """The example's Flask app on a free port, in front of a MockServer upstream."""

    def __init__(self) -> None:
        self.app_module = runpy.run_path(str(EXAMPLE))
        self.upstream = MockServer()
        self.client = rs.Client(base_url=self.upstream.url, max_retries=0)
        self.server = make_server(
            "127.0.0.1", 0, self.app_module["create_app"](self.client), threaded=True
        )
        self.url = f"http://127.0.0.1:{self.server.port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self._thread.join()
        self.server.server_close()
        self.client.close()
        self.upstream.close()


@pytest.fixture
def relay() -> Iterator[Relay]:
    r = Relay()
    try:
        yield r
    finally:
        r.close()


def sse_messages(resp: requests.Response) -> Iterator[Tuple[str, Any]]:
    """(event name, decoded JSON data) for each SSE message of a streamed response."""
    event, data = "message", None
    for line in resp.iter_lines(chunk_size=None, decode_unicode=True):
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
        elif not line and data is not None:
            yield event, data
            event, data = "message", None


# --------------------------------------------------------------------------- plain HTTP


def test_page_is_html_with_an_event_source(relay: Relay) -> None:
    resp = requests.get(relay.url + "/", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert "new EventSource(" in resp.text


def test_stream_relays_deltas_then_done(relay: Relay) -> None:
    relay.upstream.add(Script().text(TEXT).completed())
    url = relay.url + "/stream"
    with requests.get(url, params={"prompt": "Go"}, stream=True, timeout=10) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        messages = list(sse_messages(resp))
    deltas = [data for event, data in messages if event == "message"]
    assert "".join(deltas) == TEXT and len(deltas) > 10
    assert messages[-1][0] == "done"
    final = rs.Response.from_dict(messages[-1][1])
    assert final.status == "completed" and final.output_text == TEXT
    assert relay.upstream.requests[0].json["input"] == "Go"


def test_upstream_error_ends_with_a_failed_done_event(relay: Relay) -> None:
    relay.upstream.add_error(401, "Incorrect API key provided", code="invalid_api_key")
    with requests.get(relay.url + "/stream", stream=True, timeout=10) as resp:
        messages = list(sse_messages(resp))
    assert [event for event, _ in messages] == ["done"]
    assert messages[0][1]["status"] == "failed"
    assert "Incorrect API key provided" in messages[0][1]["error"]


def test_browser_disconnect_closes_the_upstream_stream(
    relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the browser goes away mid-stream, the relay stops reading from upstream."""
    relay.upstream.add(Script().text("word " * 400).completed(), delay=0.02)  # ~16 s in all
    closed = threading.Event()
    open_events = relay.client.events

    def events(**params: Any) -> rs.EventStream:
        stream = open_events(**params)
        close = stream.close

        def close_and_signal() -> None:
            close()
            closed.set()

        monkeypatch.setattr(stream, "close", close_and_signal)
        return stream

    monkeypatch.setattr(relay.client, "events", events)
    with requests.get(relay.url + "/stream", stream=True, timeout=10) as resp:
        event, data = next(sse_messages(resp))
        assert (event, data) == ("message", "word")
    started = time.monotonic()
    assert closed.wait(5), "the upstream stream was not closed after the browser left"
    assert time.monotonic() - started < 5


# --------------------------------------------------------------------------- Chromium


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4)."""

    def __init__(self, executable: str, profile: Path, log: Path) -> None:
        # The pipe ends get fd numbers >= 10 so that moving them to 3 and 4 cannot clobber.
        r_in, w_in = os.pipe()
        r_out, w_out = os.pipe()
        child_in, child_out = _high_fd(r_in), _high_fd(w_out)
        for fd in (r_in, w_out):
            os.close(fd)
        self._to_browser, self._from_browser = w_in, r_out
        trampoline = (
            "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
            "os.execv(sys.argv[3], sys.argv[3:])"
        )
        argv = [
            *(sys.executable, "-c", trampoline, str(child_in), str(child_out)),
            *(executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"),
            *("--remote-debugging-pipe", "about:blank"),
        ]
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            argv,
            pass_fds=(child_in, child_out),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,
        )
        os.close(child_in)
        os.close(child_out)
        self._buffer = b""
        self._last_id = 0

    def call(
        self, method: str, session: Optional[str] = None, timeout: float = 30, **params: Any
    ) -> Dict[str, Any]:
        self._last_id += 1
        message: Dict[str, Any] = {"id": self._last_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._last_id:  # anything else is an event: ignored
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]  # type: ignore[no-any-return]

    def _receive(self, deadline: float) -> Dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(remaining, 0))
            if not ready:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise EOFError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)  # type: ignore[no-any-return]

    def open(self, url: str) -> str:
        """Open ``url`` in a new tab; return the DevTools session id for it."""
        target = self.call("Target.createTarget", url=url)["targetId"]
        return self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]  # type: ignore[no-any-return]

    def evaluate(self, session: str, expression: str) -> Any:
        result = self.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except (OSError, RuntimeError, TimeoutError, EOFError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # our own session: Chromium and helpers
            self.proc.wait()
        finally:
            os.close(self._to_browser)
            os.close(self._from_browser)
            self._log.close()


def _high_fd(fd: int) -> int:
    return fcntl.fcntl(fd, fcntl.F_DUPFD, 10)


PAGE_STATE = """JSON.stringify((() => {
  const answer = document.getElementById("answer");
  if (!answer) return null;
  return {status: answer.dataset.status, text: answer.textContent, times: answer.dataset.times};
})())"""


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: chromium)")
def test_tokens_appear_progressively_in_headless_chromium(relay: Relay, tmp_path: Path) -> None:
    script = Script().text(TEXT).completed()
    n_deltas = sum(1 for e in script.events() if e["type"] == "response.output_text.delta")
    relay.upstream.add(script, delay=DELAY)
    assert CHROMIUM is not None
    browser = Chromium(CHROMIUM, tmp_path / "profile", tmp_path / "chromium.log")
    try:
        session = browser.open(relay.url + "/?prompt=Tell%20me%20how%20streaming%20works")
        states: List[Dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = json.loads(browser.evaluate(session, PAGE_STATE) or "null")
            if state is not None:
                states.append(state)
                if state["status"] not in ("idle", "streaming"):
                    break
            time.sleep(0.02)
        dom = browser.evaluate(session, "document.documentElement.outerHTML")
    finally:
        browser.close()

    log = (tmp_path / "chromium.log").read_text(errors="replace")[-2000:]
    assert states, f"the page never loaded; Chromium log:\n{log}"
    final = states[-1]
    assert final["status"] == "completed", (final, log)
    assert final["text"] == TEXT
    assert TEXT in dom and 'data-status="completed"' in dom
    assert relay.upstream.requests[0].json["input"] == "Tell me how streaming works"

    # Progressive: the page was seen holding part of the text before it had all of it ...
    partial = [s["text"] for s in states if s["status"] == "streaming" and 0 < len(s["text"])]
    assert any(len(text) < len(TEXT) for text in partial), "no partial text was ever seen"
    assert all(TEXT.startswith(text) for text in partial)
    # ... and each token got its own arrival time, spread over the upstream's pace.
    times = [int(t) for t in final["times"].split(",")]
    assert len(times) == n_deltas
    assert times == sorted(times)
    expected_ms = (n_deltas - 1) * DELAY * 1000
    assert times[-1] - times[0] > 0.5 * expected_ms, times
