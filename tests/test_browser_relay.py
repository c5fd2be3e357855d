"""The relay examples end to end: MockServer -> SDK -> Flask or Django SSE -> a real browser.

The browser tests drive headless Chromium (Debian package ``chromium``) over the DevTools
protocol on a pipe (``--remote-debugging-pipe``: no port, no websocket library), against
``examples/flask_relay.py`` (werkzeug's server) and ``examples/django_relay`` (Django's WSGI
handler on wsgiref). They poll the page while the upstream streams slowly, so they check that
tokens reach the page one by one, not only that the final text is right; and they close the tab
mid-stream and check, on the wire between the SDK and the MockServer (``test_web.UpstreamTap``),
that the relay then closes its upstream connection (and cancels a background response). They
are skipped only when ``chromium`` is not on the PATH; the Django ones also when Django is not
installed. The relay's behaviour over plain HTTP is tested in ``test_web.py``.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import requests

import responses_stream as rs
from responses_stream.testing import MockServer, Script

from .test_web import (
    LONG,
    AppServer,
    TapConnection,
    UpstreamTap,
    django_application,
    flask_example,
    pump_threads_gone,
)

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
    "Tokens travel from the model through the SDK and the web app to the browser, "
    "one small piece at a time, and the page shows each of them as soon as it lands."
)
DELAY = 0.04  # seconds between upstream events
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (Debian: chromium)"
)


class Relay:
    """An example app (Flask or Django) on a free port, relaying from a MockServer upstream
    through a tap that shows how the upstream connection ended."""

    def __init__(self, framework: str, monkeypatch: pytest.MonkeyPatch, **options: Any) -> None:
        self.upstream = MockServer()
        self.tap = UpstreamTap(self.upstream.port)
        self.client = rs.Client(base_url=self.tap.url, max_retries=0)
        if framework == "flask":
            app = flask_example()["create_app"](self.client, **options)
        else:
            app = django_application(monkeypatch, self.client, **options)
        self.server = AppServer(framework, app)
        self.url = self.server.url

    def close(self) -> None:
        self.upstream.close()  # ends any stream still running, so request threads can end
        self.server.close()
        self.tap.close()
        self.client.close()


@pytest.fixture(params=["flask", "django"])
def framework(request: pytest.FixtureRequest) -> str:
    if request.param == "django":
        pytest.importorskip("django")
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def relay(framework: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Relay]:
    r = Relay(framework, monkeypatch)
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def background_relay(framework: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Relay]:
    r = Relay(framework, monkeypatch, background=True)
    try:
        yield r
    finally:
        r.close()


@pytest.fixture(autouse=True)
def no_pump_thread_left() -> Iterator[None]:
    yield
    assert pump_threads_gone(10)


# --------------------------------------------------------------------------- plain HTTP


def test_page_is_html_with_an_event_source(relay: Relay) -> None:
    resp = requests.get(relay.url + "/", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert "new EventSource(" in resp.text


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
        self.log_path = log
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

    def open(self, url: str) -> Tuple[str, str]:
        """Open ``url`` in a new tab; return its target id and the DevTools session id for it."""
        target: str = self.call("Target.createTarget", url=url)["targetId"]
        session: str = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        return target, session

    def close_tab(self, target: str) -> None:
        """Close a tab, as a user closing it would: its page and connections go away."""
        self.call("Target.closeTarget", targetId=target)

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


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    """One headless Chromium for the module (each test opens and closes its own tab)."""
    assert CHROMIUM is not None
    tmp = tmp_path_factory.mktemp("chromium")
    chromium = Chromium(CHROMIUM, tmp / "profile", tmp / "chromium.log")
    try:
        yield chromium
    finally:
        chromium.close()


def page_states(
    browser: Chromium, session: str, until: Any, timeout: float = 30
) -> List[Dict[str, Any]]:
    """Poll the page's state every 20 ms until ``until(state)`` holds (or ``timeout``)."""
    states: List[Dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = json.loads(browser.evaluate(session, PAGE_STATE) or "null")
        if state is not None:
            states.append(state)
            if until(state):
                break
        time.sleep(0.02)
    return states


def chromium_log(browser: Chromium) -> str:
    return browser.log_path.read_text(errors="replace")[-2000:]


@pytest.mark.slow
@needs_chromium
def test_tokens_appear_progressively_in_headless_chromium(relay: Relay, browser: Chromium) -> None:
    script = Script().text(TEXT).completed()
    n_deltas = sum(1 for e in script.events() if e["type"] == "response.output_text.delta")
    relay.upstream.add(script, delay=DELAY)
    target, session = browser.open(relay.url + "/?prompt=Tell%20me%20how%20streaming%20works")
    try:
        states = page_states(browser, session, lambda s: s["status"] not in ("idle", "streaming"))
        dom = browser.evaluate(session, "document.documentElement.outerHTML")
    finally:
        browser.close_tab(target)

    log = chromium_log(browser)
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


def close_tab_mid_stream(relay: Relay, browser: Chromium, script: Script) -> TapConnection:
    """Open the page, close its tab once a few tokens are on it, and return the upstream
    connection after checking that the relay closed it then, in the middle of the body."""
    relay.upstream.add(script, delay=0.02)  # 800 deltas: ~16 s
    target, session = browser.open(relay.url + "/?prompt=Go")
    try:
        states = page_states(browser, session, lambda s: len(s["text"]) >= len("word " * 3))
    except BaseException:
        browser.close_tab(target)
        raise
    assert states and states[-1]["status"] == "streaming", (states[-1:], chromium_log(browser))
    browser.close_tab(target)
    left = time.monotonic()

    conn = relay.tap.stream_connection()
    assert conn.closed.wait(5), "the relay kept reading the upstream after the tab closed"
    assert conn.client_closed_at is not None, "the MockServer ended it, not the relay"
    assert conn.client_closed_at - left < 3
    assert not conn.body_finished
    assert conn.to_client < len(b"".join(script.to_sse_chunks()))
    assert pump_threads_gone(3)
    return conn


@needs_chromium
def test_closing_the_tab_closes_the_upstream_connection(relay: Relay, browser: Chromium) -> None:
    close_tab_mid_stream(relay, browser, Script().text(LONG).completed())
    assert [(r.method, r.path) for r in relay.upstream.requests] == [("POST", "/v1/responses")]


@needs_chromium
def test_closing_the_tab_cancels_a_background_response(
    background_relay: Relay, browser: Chromium
) -> None:
    script = Script(background=True).text(LONG).completed()
    close_tab_mid_stream(background_relay, browser, script)
    cancel = f"/v1/responses/{script.response_id}/cancel"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        seen = [(r.method, r.path) for r in background_relay.upstream.requests]
        if ("POST", cancel) in seen:
            break
        time.sleep(0.01)
    assert seen == [("POST", "/v1/responses"), ("POST", cancel)]
    assert background_relay.upstream.requests[0].json["background"] is True
