"""End-to-end tests of ``Client`` over a real loopback HTTP server (``testing.MockServer``).

Every test talks to a real socket: request bodies and headers are what the server received,
callbacks are what the handler saw, and framing/latency are those of a real TCP stream.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

import responses_stream as rs
from responses_stream.testing import MockServer, Script

from .scripts import (
    ALL_TRANSCRIPTS,
    ANSWER,
    CALLS,
    ENCRYPTED,
    SCRIPTS,
    SUMMARY,
    TEXT,
    Boom,
    Recorder,
    fd_count,
    request_id,
    text_script,
    transcript_id,
    wait_for_fds,
    words_script,
)

LIFECYCLE = {
    "response.created": "created",
    "response.in_progress": "in_progress",
    "response.completed": "completed",
    "response.incomplete": "incomplete",
    "response.failed": "failed",
}

Call = Tuple[Any, ...]
Event = Dict[str, Any]
KINDS = ["text", "function_calls", "reasoning"]


def expected_calls(events: List[Event]) -> List[Call]:
    """The callbacks a Recorder must see for these wire events, derived without the SDK."""
    calls: List[Call] = []
    texts: Dict[Tuple[str, int], str] = {}
    arguments: Dict[str, str] = {}
    summaries: Dict[Tuple[str, int], str] = {}
    owner: Dict[str, str] = {}  # item_id -> call_id
    for e in events:
        kind = e["type"]
        calls.append(("event", kind, e["sequence_number"]))
        if kind in LIFECYCLE:
            calls.append((LIFECYCLE[kind], e["response"]["id"], e["response"]["status"]))
        elif kind == "response.output_text.delta":
            key = (e["item_id"], e["content_index"])
            texts[key] = texts.get(key, "") + e["delta"]
            calls.append(("text_delta", e["delta"], texts[key]))
        elif kind == "response.output_text.done":
            calls.append(("text_done", e["text"]))
        elif kind == "response.function_call_arguments.delta":
            call_id = owner[e["item_id"]]
            arguments[call_id] = arguments.get(call_id, "") + e["delta"]
            calls.append(("call_delta", e["delta"], arguments[call_id], call_id))
        elif kind == "response.reasoning_summary_text.delta":
            key = (e["item_id"], e["summary_index"])
            summaries[key] = summaries.get(key, "") + e["delta"]
            calls.append(("reasoning_delta", e["delta"], summaries[key]))
        elif kind == "response.output_item.added" and e["item"]["type"] == "function_call":
            item = e["item"]
            owner[item["id"]] = item["call_id"]
            calls.append(("call_created", item["name"], item["call_id"], item["arguments"]))
        elif kind == "response.output_item.done" and e["item"]["type"] == "function_call":
            item = e["item"]
            args = (item["name"], item["call_id"], item["arguments"], item["status"])
            calls.append(("call_done", *args))
        elif kind == "response.output_item.done" and e["item"]["type"] == "reasoning":
            item = e["item"]
            summary = [part["text"] for part in item["summary"]]
            calls.append(("reasoning_done", item["id"], summary, item.get("encrypted_content")))
        elif kind == "error":
            calls.append(("error", e["error"]["code"], e["error"]["message"]))
    calls.append(("end",))
    return calls


# (framing, chunk_size): one piece per event, or 3-byte pieces that split lines, JSON and
# multi-byte UTF-8 characters across reads.
FRAMINGS = {
    "chunked": ("chunked", None),
    "close": ("close", None),
    "chunked-3-byte-pieces": ("chunked", 3),
    "close-3-byte-pieces": ("close", 3),
}


# ------------------------------------------------------------------- callbacks and output


@pytest.mark.parametrize("framing", list(FRAMINGS))
@pytest.mark.parametrize("kind", KINDS)
def test_stream_fires_callbacks_in_order_and_returns_final_response(
    server: MockServer, client: rs.Client, kind: str, framing: str
) -> None:
    """Every callback fires once per event, in wire order, with the right args, and the final
    Response equals the server's terminal response object, whatever the HTTP framing."""
    script = SCRIPTS[kind]()
    wire = script.events()
    server_framing, chunk_size = FRAMINGS[framing]
    server.add(script, framing=server_framing, chunk_size=chunk_size)
    recorder = Recorder()

    final = client.stream(recorder, model=script.model, input="What's up?")

    assert recorder.calls == expected_calls(wire)
    assert recorder.events == wire
    assert final.to_dict() == wire[-1]["response"]
    assert final.status == "completed"
    assert final.id == script.response_id
    assert recorder.snapshot is final
    assert len(server.requests) == 1
    if kind == "text":
        assert final.output_text == TEXT
    elif kind == "function_calls":
        calls = final.function_calls
        assert [(c.name, c.parsed_arguments) for c in calls] == CALLS
        assert final.output_text == ""
    else:
        (reasoning,) = final.reasoning_items
        assert [getattr(p, "text", p) for p in reasoning.summary] == SUMMARY
        assert reasoning.encrypted_content == ENCRYPTED
        assert final.output_text == ANSWER


@pytest.mark.parametrize("framing", ["chunked", "close"])
@pytest.mark.parametrize("kind", KINDS)
def test_events_pull_style_yields_the_same_events(
    server: MockServer, client: rs.Client, kind: str, framing: str
) -> None:
    """client.events() yields typed events equal to the wire payloads, the same sequence the
    push-style handler sees, and its .response is the final response."""
    script = SCRIPTS[kind]()
    server.add(script, framing=framing)
    server.add(script, framing=framing)
    recorder = Recorder()
    client.stream(recorder, model=script.model, input="hi")

    with client.events(model=script.model, input="hi") as stream:
        assert stream.response.output == []  # nothing is read before iteration
        pulled = list(stream)
        final = stream.response

    assert [e.to_dict() for e in pulled] == script.events()
    assert [e.to_dict() for e in pulled] == recorder.events
    assert not any(isinstance(e, rs.events.UnknownEvent) for e in pulled)
    assert [type(e).TYPE for e in pulled] == [e["type"] for e in script.events()]
    assert final.to_dict() == script.events()[-1]["response"]
    assert stream.last_sequence_number == len(script.events()) - 1


# ------------------------------------------------------------------- what the server got


def test_request_body_passes_every_parameter_through_with_stream_true(
    server: MockServer, client: rs.Client
) -> None:
    """The JSON body holds every keyword unchanged (including unknown future ones) plus
    stream: true, POSTed to {base_url}/responses."""
    server.add(text_script())
    params: Dict[str, Any] = {
        "model": "gpt-5",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "Héllo 漢字 🎉"}]},
            {"type": "function_call_output", "call_id": "call_1", "output": '{"ok":true}'},
        ],
        "instructions": "Be brief.",
        "temperature": 0.2,
        "max_output_tokens": 64,
        "reasoning": {"effort": "low", "summary": "auto"},
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "include": ["reasoning.encrypted_content"],
        "metadata": {"trace": "abc"},
        "store": False,
        "previous_response_id": None,
        "some_future_parameter": {"nested": [1, 2.5, None, True, "x"]},
    }

    client.stream(**params)

    (request,) = server.requests
    assert request.method == "POST"
    assert request.path == "/v1/responses"
    assert request.query == {}
    assert request.json == {**params, "stream": True}
    assert request.headers["content-type"] == "application/json"


def test_stream_true_is_forced_in_the_body(server: MockServer, client: rs.Client) -> None:
    """A caller's stream=False cannot turn streaming off: the body always says stream: true."""
    server.add(text_script())
    client.stream(model="gpt-4o-mini", input="hi", stream=False)
    assert server.requests[0].json == {"model": "gpt-4o-mini", "input": "hi", "stream": True}


def test_request_headers(server: MockServer) -> None:
    """Authorization Bearer, Accept text/event-stream, OpenAI-Organization/Project and
    default_headers are sent; extra_headers override per call (case-insensitively) and only
    for that call."""
    server.add(text_script())
    server.add(text_script())
    with rs.Client(
        api_key="sk-test-123",
        base_url=server.url,
        organization="org-abc",
        project="proj_xyz",
        default_headers={"X-Team": "search", "X-Default-Only": "1"},
    ) as client:
        client.stream(model="m", input="hi", extra_headers={"x-team": "override", "X-Call": "42"})
        client.stream(model="m", input="hi")

    first, second = (r.headers for r in server.requests)
    for headers in (first, second):
        assert headers["authorization"] == "Bearer sk-test-123"
        assert headers["accept"] == "text/event-stream"
        assert headers["openai-organization"] == "org-abc"
        assert headers["openai-project"] == "proj_xyz"
        assert headers["x-default-only"] == "1"
    assert first["x-team"] == "override"
    assert first["x-call"] == "42"
    assert second["x-team"] == "search"
    assert "x-call" not in second


def test_extra_headers_none_removes_a_default_header(server: MockServer) -> None:
    """extra_headers={"OpenAI-Project": None} leaves that header out of this call."""
    server.add(text_script())
    with rs.Client(api_key="sk-test", base_url=server.url, project="proj_xyz") as client:
        client.stream(model="m", input="hi", extra_headers={"OpenAI-Project": None})
    assert "openai-project" not in server.requests[0].headers
    assert server.requests[0].headers["authorization"] == "Bearer sk-test"


def test_no_organization_or_project_headers_unless_configured(
    server: MockServer, client: rs.Client
) -> None:
    """Without organization/project (and no env vars) those headers are not sent at all."""
    server.add(text_script())
    client.stream(model="m", input="hi")
    headers = server.requests[0].headers
    assert "openai-organization" not in headers
    assert "openai-project" not in headers


# ----------------------------------------------------------------------------------- latency


@pytest.mark.slow
@pytest.mark.parametrize("framing", ["close", "chunked"])
def test_each_event_reaches_the_handler_when_it_is_sent(server: MockServer, framing: str) -> None:
    """With 0.2 s between events the first text delta reaches the handler long before the
    stream ends: the body is not buffered (close-delimited bodies included)."""
    pieces = ["One", " two", " three", " four", " five"]
    script = Script(seed=21).text("".join(pieces), chunk=pieces).completed()
    # 13 events, 12 gaps of 0.2 s: the stream lasts about 2.4 s; the first delta (5th event)
    # is sent about 0.8 s after the headers.
    server.add(script, delay=0.2, framing=framing)
    recorder = Recorder()
    with rs.Client(base_url=server.url) as client:
        start = time.monotonic()
        final = client.stream(recorder, model="m", input="count")
        end = time.monotonic()

    assert final.output_text == "One two three four five"
    delta_times = [t - start for name, t in recorder.times if name == "text_delta"]
    assert len(delta_times) == 5
    assert end - start > 1.5
    assert delta_times[0] < 1.0, f"first delta after {delta_times[0]:.2f} s"
    assert (end - start) - delta_times[0] > 1.0
    # The deltas arrived one by one, paced by the server, not in a burst.
    gaps = sorted(b - a for a, b in zip(delta_times, delta_times[1:]))
    assert gaps[len(gaps) // 2] > 0.1, gaps


# ------------------------------------------------------------------------------ transcripts


def _outcome(run: Any) -> Tuple[Optional[rs.Response], Optional[rs.ResponsesStreamError]]:
    try:
        return run(), None
    except rs.ResponsesStreamError as exc:
        return None, exc


@pytest.mark.parametrize("path", ALL_TRANSCRIPTS, ids=transcript_id)
def test_recorded_transcript_served_verbatim_matches_replay(
    server: MockServer, client: rs.Client, path: Path
) -> None:
    """A recorded .sse file served byte for byte over HTTP gives the same events and the same
    final response (or the same error) as rs.replay() of that file."""
    server.add(path)
    live = Recorder()
    offline = Recorder()

    live_final, live_error = _outcome(lambda: client.stream(live, model="m", input="hi"))
    replay_final, replay_error = _outcome(lambda: rs.replay(path, offline))

    assert live.events, "no event was delivered"
    assert live.events == offline.events
    assert [c for c in live.calls if c[0] != "exception"] == [
        c for c in offline.calls if c[0] != "exception"
    ]
    if replay_error is None:
        assert live_error is None, live_error
        assert live_final is not None and replay_final is not None
        assert live_final.to_dict() == replay_final.to_dict()
    else:
        assert type(live_error) is type(replay_error)
        assert live_error is not None
        assert live_error.response is not None and replay_error.response is not None
        assert live_error.response.to_dict() == replay_error.response.to_dict()
        assert live_error.request_id == request_id(1)


# ---------------------------------------------------------------------------- stop & raise


def test_stop_in_on_text_delta_returns_partial_snapshot_and_closes_the_connection(
    server: MockServer,
) -> None:
    """handler.stop() in on_text_delta makes stream() return at once with the partial snapshot,
    and the connection is closed (not drained, not returned to the pool)."""
    script = words_script()
    pieces = [f" word{i}" for i in range(40)]
    # 48 events 0.1 s apart: about 4.7 s if the client read to the end.
    server.add(script, delay=0.1)

    class Stopper(Recorder):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            super().on_text_delta(delta, snapshot)
            if len(self.text()) == len(pieces[0] + pieces[1]):
                self.stop()

    handler = Stopper()
    with rs.Client(base_url=server.url) as client:
        baseline = fd_count()
        start = time.monotonic()
        partial = client.stream(handler, model="m", input="go")
        elapsed = time.monotonic() - start
        # Our socket is closed, so the server's next write fails and it closes its end too.
        # A socket kept open (or pooled) would keep both ends open until client.close().
        assert wait_for_fds(baseline, timeout=2.0) <= baseline
        assert time.monotonic() - start < 4.0

        assert elapsed < 1.5
        assert handler.stopped
        assert partial.status == "in_progress"
        assert partial.output_text == pieces[0] + pieces[1]
        assert handler.snapshot is partial
        assert handler.names().count("text_delta") == 2
        assert handler.names()[-1] == "end"
        assert "completed" not in handler.names()
        assert "exception" not in handler.names()

        # The client is still usable after a stopped stream.
        server.add(text_script())
        again = client.stream(model="m", input="again")
        assert again.status == "completed"


def test_exception_in_callback_reaches_caller_unchanged(server: MockServer) -> None:
    """An exception raised in on_text_delta propagates as the very same object (not wrapped),
    after on_exception(exc) and then on_end(); the connection is closed."""
    script = words_script()
    server.add(script, delay=0.1)
    boom = Boom("handler bug")

    class Raiser(Recorder):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            super().on_text_delta(delta, snapshot)
            raise boom

    handler = Raiser()
    with rs.Client(base_url=server.url) as client:
        baseline = fd_count()
        start = time.monotonic()
        with pytest.raises(Boom) as info:
            client.stream(handler, model="m", input="go")
        assert time.monotonic() - start < 1.5
        assert wait_for_fds(baseline, timeout=2.0) <= baseline

    assert info.value is boom
    assert type(info.value) is Boom
    assert handler.calls[-3:] == [("text_delta", " word0", " word0"), ("exception", boom), ("end",)]
    assert handler.names().count("exception") == 1
    assert handler.names().count("end") == 1


# ------------------------------------------------------------------------------ request id


def test_request_id_is_on_the_stream_and_on_errors(server: MockServer, client: rs.Client) -> None:
    """The x-request-id response header is exposed as stream.request_id and on every error
    raised for that request (stream errors and HTTP status errors)."""
    server.add(text_script())
    with client.events(model="m", input="hi") as stream:
        assert stream.request_id == request_id(1)
        stream.until_done()

    server.add(Script(seed=41).text("partial").failed("server_error", "model crashed"))
    with pytest.raises(rs.ResponseFailedError) as failed:
        client.stream(model="m", input="hi")
    assert failed.value.request_id == request_id(2)

    server.add_error(400, "Invalid value: 'temperature'.", param="temperature")
    with pytest.raises(rs.errors.BadRequestError) as bad:
        client.stream(model="m", input="hi")
    assert bad.value.request_id == request_id(3)
    assert request_id(3) in str(bad.value)


# ---------------------------------------------------------------------------- rs.stream()


def test_module_level_stream_uses_environment(
    server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rs.stream() builds a client from OPENAI_API_KEY / OPENAI_BASE_URL, streams into the
    handler, and returns the final response."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    script = text_script()
    server.add(script)
    recorder = Recorder()

    final = rs.stream(recorder, model="gpt-4o-mini", input="hi", temperature=0)

    assert final.to_dict() == script.events()[-1]["response"]
    assert recorder.calls == expected_calls(script.events())
    (request,) = server.requests
    assert request.headers["authorization"] == "Bearer sk-from-env"
    assert request.json == {"model": "gpt-4o-mini", "input": "hi", "temperature": 0, "stream": True}


# ------------------------------------------------------------------------------- threads


def test_32_threads_share_one_client_without_mixing_streams_or_leaking_fds(
    server: MockServer,
) -> None:
    """32 threads stream concurrently through one Client, each gets exactly its own text, and
    after client.close() the open file descriptors are back to the baseline."""
    n = 32
    texts = [f"Thread {i:02d} streams its own answer and nothing else." for i in range(n)]
    scripts = [Script(seed=1000 + i).text(texts[i]).completed() for i in range(n)]
    # MockServer pops replies in arrival order; a turnstile makes "queue script i, send request
    # i" atomic. It is released on the first event, so the streams themselves overlap.
    turnstile = threading.Lock()
    live_lock = threading.Lock()
    live = [0, 0]  # [currently streaming, peak]
    results: List[Optional[Tuple[rs.Response, str]]] = [None] * n
    errors: List[BaseException] = []

    class Worker(rs.ResponseHandler):
        def __init__(self) -> None:
            self.released = False
            self.started = False
            self.deltas: List[str] = []

        def _release(self) -> None:
            if not self.released:
                self.released = True
                turnstile.release()

        def on_created(self, response: rs.Response) -> None:
            self.started = True
            with live_lock:
                live[0] += 1
                live[1] = max(live)
            self._release()

        def on_text_delta(self, delta: str, snapshot: str) -> None:
            self.deltas.append(delta)

        def on_end(self) -> None:
            if self.started:
                with live_lock:
                    live[0] -= 1
            self._release()

    baseline = fd_count()
    with rs.Client(base_url=server.url) as client:

        def run(i: int) -> None:
            handler = Worker()
            turnstile.acquire()
            try:
                server.add(scripts[i], delay=0.02)
                final = client.stream(handler, model="gpt-4o-mini", input=f"thread {i}")
                results[i] = (final, "".join(handler.deltas))
            except BaseException as exc:
                errors.append(exc)
            finally:
                handler._release()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads)

    assert errors == []
    for i in range(n):
        entry = results[i]
        assert entry is not None
        final, streamed = entry
        assert final.status == "completed"
        assert final.id == scripts[i].response_id
        assert final.output_text == texts[i]
        assert streamed == texts[i]
    assert sorted(r.json["input"] for r in server.requests) == sorted(
        f"thread {i}" for i in range(n)
    )
    assert live[1] >= 4, f"streams did not overlap (peak {live[1]})"
    assert wait_for_fds(baseline + 2) <= baseline + 2


def test_proxies_and_ca_bundle_come_from_the_environment_once(
    server: MockServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """HTTP_PROXY, NO_PROXY and REQUESTS_CA_BUNDLE apply as requests applies them, read when
    the client is made (not rescanned on every request)."""
    unreachable = "http://api.example.invalid/v1"
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not used over plain HTTP")
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.port}")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    with rs.Client(api_key="sk-test", base_url=unreachable, max_retries=0) as client:
        monkeypatch.delenv("HTTP_PROXY")  # read already: the client keeps what it found
        server.add(Script().text("through the proxy").completed())
        assert client.stream(model="m", input="x").output_text == "through the proxy"
        assert client._transport.session.verify == str(bundle)
    (proxied,) = server.requests
    assert proxied.headers["host"] == "api.example.invalid"
    assert proxied.headers["authorization"] == "Bearer sk-test"
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.port}")
    monkeypatch.setenv("NO_PROXY", "example.invalid")
    with rs.Client(api_key="sk-test", base_url=unreachable, max_retries=0) as client:
        with pytest.raises(rs.APIConnectionError):  # straight to a host that does not exist
            client.stream(model="m", input="x")
    assert len(server.requests) == 1


def test_merge_headers_is_case_insensitive_last_wins_and_none_removes() -> None:
    """The rules every request's headers are merged by: a later part replaces a header of
    any spelling (and its spelling wins), None removes it, and the order is first-set."""
    from responses_stream._config import merge_headers

    merged = merge_headers(
        {"User-Agent": "a", "X-Keep": "1", "Authorization": "Bearer k"},
        None,
        {},
        {"user-agent": "b", "AUTHORIZATION": None},
        {"X-New": "2", "x-keep": "3"},
    )
    assert merged == {"user-agent": "b", "X-New": "2", "x-keep": "3"}
    assert list(merged) == ["user-agent", "X-New", "x-keep"]
    assert merge_headers({"A": "1", "a": "2"}) == {"a": "2"}  # one part, two spellings


def test_default_headers_none_leaves_the_header_out(server: MockServer) -> None:
    """default_headers={"Content-Type": None} removes the SDK's own header, as extra_headers
    does per call (it used to send an empty value)."""
    server.add(text_script())
    with rs.Client(
        api_key="sk-test", base_url=server.url, default_headers={"Content-Type": None}
    ) as client:
        client.stream(model="m", input="hi")
    headers = server.requests[0].headers
    assert "content-type" not in {name.lower() for name in headers}
    assert headers["authorization"] == "Bearer sk-test"
