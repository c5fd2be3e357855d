"""Background responses: automatic resume, resume/retrieve/cancel, and proof under cuts.

Every case runs over a real loopback MockServer and checks that nothing is lost and nothing is
delivered twice.
"""

from __future__ import annotations

import inspect
import json
import logging
import pydoc
import random
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import pytest

import responses_stream as rs
from responses_stream.testing import MockServer, Script


class Seen(rs.ResponseHandler):
    """Records every event's sequence number, deltas and resumes."""

    def __init__(self) -> None:
        self.seqs: List[Optional[int]] = []
        self.text = ""
        self.resumes: List[Tuple[str, Optional[int]]] = []
        self.ended = 0

    def on_event(self, event: rs.events.Event) -> None:
        self.seqs.append(event.sequence_number)

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        self.text += delta
        assert snapshot.endswith(delta)

    def on_resume(self, response_id: str, starting_after: Optional[int]) -> None:
        self.resumes.append((response_id, starting_after))

    def on_end(self) -> None:
        self.ended += 1


TEXT = "Once upon a time a small fox 🦊 found a quiet 森 by the river, and slept."


def _script() -> Script:
    return Script(model="gpt-5-mini", background=True, seed=7).text(TEXT).completed()


def _client(server: MockServer, **kwargs: object) -> rs.Client:
    client = rs.Client(base_url=server.url, max_retries=0, **kwargs)  # type: ignore[arg-type]
    client._transport.sleep = lambda seconds: None
    return client


def _event_boundaries(script: Script) -> List[int]:
    chunks = script.to_sse_chunks()
    out, total = [], 0
    for chunk in chunks[:-1]:
        total += len(chunk)
        out.append(total)
    return out


def test_uninterrupted_background_stream(server: MockServer) -> None:
    """A background stream that does not break needs no resume."""
    server.add(_script())
    handler = Seen()
    with _client(server) as client:
        final = client.stream(handler, model="m", input="x", background=True)
    assert final.output_text == TEXT and final.status == "completed"
    assert handler.resumes == [] and handler.seqs == list(range(len(handler.seqs)))


def test_resume_after_cut_at_every_event_boundary(server: MockServer) -> None:
    """Cut after each whole event in turn: resumed once, every event delivered exactly once."""
    script = _script()
    cuts = _event_boundaries(script)
    assert len(cuts) > 20
    with _client(server) as client:
        for boundary, cut in enumerate(cuts):
            server.add(script, close_after=cut)
            handler = Seen()
            final = client.stream(handler, model="m", input="x", background=True)
            assert final.output_text == TEXT == handler.text
            assert handler.seqs == list(range(len(script.events())))
            assert handler.resumes == [(script.response_id, boundary)]
            resume = server.requests[-1]
            assert resume.method == "GET" and resume.query == {
                "stream": "true",
                "starting_after": str(boundary),
            }


def test_resume_after_cuts_at_random_byte_offsets(server: MockServer) -> None:
    """Cuts inside JSON lines and inside multi-byte UTF-8 characters lose nothing."""
    script = _script()
    body = script.to_bytes()
    rng = random.Random(3)
    offsets = rng.sample(range(body.index(b"response.in_progress") + 200, len(body) - 1), 12)
    offsets.append(body.index("🦊".encode()) + 2)  # inside the 4-byte emoji
    with _client(server) as client:
        for offset in offsets:
            server.add(script, close_after=offset)
            handler = Seen()
            final = client.stream(handler, model="m", input="x", background=True)
            assert final.output_text == TEXT == handler.text, offset
            assert handler.seqs == list(range(len(script.events()))), offset
            assert len(handler.resumes) == 1


def test_foreground_cut_raises_interrupted_with_exact_partial_text(server: MockServer) -> None:
    """Without background=True, a cut at every event boundary and at byte offsets inside JSON
    lines and UTF-8 characters raises StreamInterrupted with exactly the text of the events
    received whole."""
    script = Script(seed=8).text(TEXT, chunk=4).completed()
    events = script.events()
    body = script.to_bytes()
    ends = [sum(len(c) for c in script.to_sse_chunks()[: i + 1]) for i in range(len(events))]
    rng = random.Random(5)
    offsets = ends[2:-1] + rng.sample(range(ends[2], ends[-2]), 25)
    offsets.append(body.index("🦊".encode()) + 1)
    with _client(server) as client:
        for offset in offsets:
            server.add(script, close_after=offset)
            handler = Seen()
            with pytest.raises(rs.StreamInterrupted) as info:
                client.stream(handler, model="m", input="x")
            whole = [e for e, end in zip(events, ends) if end <= offset]
            expected = "".join(
                e["delta"] for e in whole if e["type"] == "response.output_text.delta"
            )
            assert info.value.response is not None
            assert info.value.response.output_text == expected == handler.text, offset
            assert info.value.last_sequence_number == whole[-1]["sequence_number"]
            assert info.value.response_id == script.response_id
            assert handler.resumes == []


def test_resumes_are_bounded(server: MockServer) -> None:
    """A stream that keeps breaking is resumed max_resumes times, then raises."""
    script = _script()
    cut = _event_boundaries(script)[4]
    server.add(script, close_after=cut)
    stored = script.to_bytes()
    for _ in range(3):  # every resume breaks before sending anything
        server.add(stored, close_after=0, method="GET", path=f"responses/{script.response_id}")
    handler = Seen()
    with _client(server) as client, pytest.raises(rs.StreamInterrupted):
        client.stream(handler, model="m", input="x", background=True, max_resumes=3)
    assert len(handler.resumes) == 3
    assert handler.seqs == list(range(5))


def test_idle_timeout_on_background_stream_resumes(server: MockServer) -> None:
    """A stall longer than the read timeout is a break like any other: resumed."""
    script = _script()
    server.add(script, stall=3.0, stall_after_events=6)
    handler = Seen()
    with _client(server, timeout=rs.Timeout(connect=2, read=0.5)) as client:
        final = client.stream(handler, model="m", input="x", background=True)
    assert final.output_text == TEXT
    assert handler.resumes == [(script.response_id, 5)]
    assert handler.seqs == list(range(len(script.events())))


def test_events_pull_style_resumes_too(server: MockServer) -> None:
    """client.events() resumes a background stream the same way."""
    script = _script()
    server.add(script, close_after=_event_boundaries(script)[10])
    with _client(server) as client:
        with client.events(model="m", input="x", background=True) as stream:
            seqs = [e.sequence_number for e in stream]
        assert stream.resumes == 1
    assert seqs == list(range(len(script.events())))
    assert stream.response.output_text == TEXT


def test_resume_attaches_and_skips_seen_events(server: MockServer) -> None:
    """client.resume(id, starting_after=N): complete response, only events after N handled."""
    script = _script()
    response_id = server.store(script)
    handler = Seen()
    with _client(server) as client:
        final = client.resume(response_id, handler, starting_after=9)
    assert final.output_text == TEXT and final.status == "completed"
    assert handler.seqs == list(range(10, len(script.events())))
    assert server.requests[-1].query == {"stream": "true"}


def _sse(events: List[Dict[str, Any]]) -> bytes:
    return b"".join(
        f"event: {e.get('type', 'x')}\ndata: {json.dumps(e)}\n\n".encode() for e in events
    )


def test_resume_starting_after_hides_unnumbered_events_before_the_cursor(
    server: MockServer,
) -> None:
    """client.resume(id, starting_after=N): an event without a sequence_number among the
    ones replayed up to N is part of that replay (not delivered, and it does not open the
    gate for the rest); one after the cursor is delivered."""
    events = _script().events()
    events.insert(3, {"type": "keepalive"})  # between 2 and 3
    events.insert(15, {"type": "keepalive"})  # between 13 and 14
    response_id = server.store(_sse(events))
    handler = Seen()
    with _client(server) as client:
        final = client.resume(response_id, handler, starting_after=14)
    assert final.output_text == TEXT
    assert handler.seqs[0] == 15 and None not in handler.seqs
    earlier = Seen()
    with _client(server) as client:
        client.resume(response_id, earlier, starting_after=11)
    assert earlier.seqs[:4] == [12, 13, None, 14]


@pytest.mark.parametrize("fault", ["repeat", "gap"])
def test_every_event_of_a_resumed_connection_follows_the_last(
    server: MockServer, fault: str
) -> None:
    """The resumed connection starts right, then sends an event again (delivered once, not
    twice) or skips one (another break: the stream is resumed from the last event applied)."""
    script = _script()
    events = script.events()
    cut = _event_boundaries(script)[6] + 10  # inside event 7
    resumed = [e for e in events if e["sequence_number"] > 6]
    if fault == "repeat":
        resumed.insert(3, resumed[2])  # 7, 8, 9, 9, 10, ...
    else:
        del resumed[3]  # 7, 8, 9, 11, ...
    path = f"responses/{script.response_id}"
    server.add(script, close_after=cut)
    server.add(_sse(resumed), method="GET", path=path)
    server.add(_sse([e for e in events if e["sequence_number"] > 9]), method="GET", path=path)
    handler = Seen()
    with _client(server) as client:
        final = client.stream(handler, model="m", input="x", background=True)
    assert final.output_text == TEXT == handler.text
    assert handler.seqs == list(range(len(events)))
    expected = [(script.response_id, 6)] + ([(script.response_id, 9)] if fault == "gap" else [])
    assert handler.resumes == expected


@pytest.mark.parametrize("verb", ["stream", "stream_many"])
def test_stop_while_a_resume_request_waits_to_be_retried(server: MockServer, verb: str) -> None:
    """stop() from another thread while the resume's request waits out a retry's back-off
    (500 with retry-after): the call returns at once and no request follows the stop."""
    script = _script()
    data = script.to_bytes()
    server.add(data, close_after=len(data) // 2)
    for _ in range(6):
        server.add_error(
            500,
            "down",
            type="server_error",
            method="GET",
            path=f"responses/{script.response_id}",
            headers={"retry-after": "2"},
        )
    handler = rs.ResponseHandler()
    seen_at_stop: List[int] = []

    stopped_at: List[float] = []

    def stop_once_the_resume_failed() -> None:
        deadline = time.monotonic() + 10
        while len(server.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # well inside the 2 s back-off
        seen_at_stop.append(len(server.requests))
        stopped_at.append(time.monotonic())
        handler.stop()

    stopper = threading.Thread(target=stop_once_the_resume_failed)
    request = {"model": "m", "input": "x", "background": True}
    with rs.Client(base_url=server.url, max_retries=5) as client:
        stopper.start()
        try:
            if verb == "stream":
                outcome: object = client.stream(handler, **request)
            else:
                (outcome,) = client.stream_many([request], lambda i, p: handler)
        finally:
            stopper.join()
        returned_at = time.monotonic()
    assert isinstance(outcome, rs.Response) and outcome.status == "in_progress"
    assert returned_at - stopped_at[0] < 1.0
    assert [r.method for r in server.requests] == ["POST", "GET"]
    assert seen_at_stop == [2]


@pytest.mark.parametrize("verb", ["retrieve", "cancel"])
@pytest.mark.parametrize(
    "answer",
    [[], {"id": "resp_1", "output": 5}, {"id": "resp_1", "usage": "lots"}],
    ids=["array", "output-number", "usage-text"],
)
def test_retrieve_and_cancel_of_the_wrong_shape_are_protocol_errors(
    server: MockServer, verb: str, answer: Any
) -> None:
    """A JSON answer that is no response object is a ProtocolError with the request id (no
    bare TypeError escapes the SDK's exception tree)."""
    method, path = (
        ("GET", "responses/resp_1") if verb == "retrieve" else ("POST", "responses/resp_1/cancel")
    )
    server.add_json(answer, method=method, path=path)
    with _client(server) as client, pytest.raises(rs.ProtocolError) as info:
        getattr(client, verb)("resp_1")
    assert (info.value.request_id or "").startswith("req_") and info.value.data == answer


def test_retrieve_and_cancel_are_idempotent(server: MockServer) -> None:
    """retrieve() returns the stored response; cancel() twice returns it cancelled twice."""
    script = Script(background=True, seed=9).text("partial")
    response_id = server.store(script)
    with _client(server) as client:
        got = client.retrieve(response_id)
        assert got.id == response_id
        first = client.cancel(response_id)
        second = client.cancel(response_id)
    assert first.status == second.status == "cancelled"
    assert [r.method for r in server.requests] == ["GET", "POST", "POST"]
    assert server.requests[1].path.endswith(f"/responses/{response_id}/cancel")


def test_cancel_of_finished_response_is_not_an_error(server: MockServer) -> None:
    """A server that refuses to cancel a finished response: cancel() returns it instead."""
    response_id = server.store(_script())
    server.add_error(
        400,
        "Cannot cancel a completed response.",
        method="POST",
        path=f"responses/{response_id}/cancel",
    )
    with _client(server) as client:
        assert client.cancel(response_id).status == "completed"


def test_stop_with_cancel_on_stop_cancels(server: MockServer) -> None:
    """handler.stop() on a background stream with cancel_on_stop=True cancels the response:
    one cancel request for its id, after which the server has it cancelled, and the returned
    partial response says so."""

    class StopEarly(Seen):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            self.stop()

    script = _script()
    server.add(script, delay=0.01)
    with _client(server) as client:
        final = client.stream(
            StopEarly(), model="m", input="x", background=True, cancel_on_stop=True
        )
        cancels = [r for r in server.requests if r.path.endswith("/cancel")]
        assert [(r.method, r.path) for r in cancels] == [
            ("POST", f"/v1/responses/{script.response_id}/cancel")
        ]
        assert client.retrieve(script.response_id).status == "cancelled"
    assert final.id == script.response_id and final.status == "cancelled"
    assert final.output_text and TEXT.startswith(final.output_text) and final.output_text != TEXT


def test_a_cancel_answer_without_a_status_leaves_the_status_as_it_was(
    server: MockServer,
) -> None:
    """A server whose cancel answers 200 with a body that has no status: the stopped
    response keeps the status it had (it became None)."""

    class StopEarly(Seen):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            self.stop()

    script = _script()
    server.add(script, delay=0.01)
    path = f"responses/{script.response_id}/cancel"
    server.add_json({"id": script.response_id}, method="POST", path=path)
    with _client(server) as client:
        final = client.stream(
            StopEarly(), model="m", input="x", background=True, cancel_on_stop=True
        )
    assert final.status == "in_progress"
    assert [r.path for r in server.requests if r.path.endswith("/cancel")] == ["/v1/" + path]


def test_stream_many_stop_with_cancel_on_stop_cancels_that_stream_only(
    server: MockServer,
) -> None:
    """In stream_many, handler.stop() on a background stream with cancel_on_stop=True cancels
    that response (its outcome says so); a stream that ran to its end is not cancelled."""

    class StopEarly(Seen):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            self.stop()

    stopped = Script(model="gpt-5-mini", background=True, seed=7).text(TEXT).completed()
    finished = Script(model="gpt-5-mini", background=True, seed=8).text(TEXT).completed()
    server.add(stopped, delay=0.01, match={"input": "stop"})
    server.add(finished, match={"input": "finish"})
    requests = [
        {"model": "m", "input": "stop", "background": True, "cancel_on_stop": True},
        {"model": "m", "input": "finish", "background": True, "cancel_on_stop": True},
    ]
    with _client(server) as client:
        first, second = client.stream_many(
            requests, lambda index, params: StopEarly() if index == 0 else Seen()
        )
        assert _cancels(server) == [("POST", f"/v1/responses/{stopped.response_id}/cancel")]
        assert client.retrieve(stopped.response_id).status == "cancelled"
    assert isinstance(first, rs.Response) and isinstance(second, rs.Response)
    assert first.id == stopped.response_id and first.status == "cancelled"
    assert first.output_text and first.output_text != TEXT
    assert second.status == "completed" and second.output_text == TEXT


def _cancels(server: MockServer) -> List[Tuple[str, str]]:
    return [(r.method, r.path) for r in server.requests if r.path.endswith("/cancel")]


def _first_delta(stream: rs.EventStream) -> None:
    """Read ``stream`` up to its first text delta."""
    for event in stream:
        if isinstance(event, rs.events.OutputTextDelta):
            return
    raise AssertionError("no text delta")


@pytest.mark.parametrize("how", ["break", "close", "exception", "dropped"])
def test_events_cancel_on_stop_cancels_a_stream_closed_early(server: MockServer, how: str) -> None:
    """events(cancel_on_stop=True): a background stream closed before its end however it is
    closed (leaving its with block by break or an exception, close(), dropped unclosed) sends
    one cancel for its id; the server has it cancelled and the snapshot says so."""
    script = _script()
    server.add(script, delay=0.01)
    with _client(server) as client:
        stream = client.events(model="m", input="x", background=True, cancel_on_stop=True)
        snapshot = stream.response
        if how == "break":
            with stream:
                _first_delta(stream)
        elif how == "close":
            _first_delta(stream)
            stream.close()
            stream.close()  # once is enough: no second cancel
        elif how == "exception":
            with pytest.raises(KeyError), stream:
                _first_delta(stream)
                raise KeyError("the caller's own error")
        else:
            _first_delta(stream)
            del stream  # reference counting frees it now: no gc.collect() needed
        assert _cancels(server) == [("POST", f"/v1/responses/{script.response_id}/cancel")]
        assert client.retrieve(script.response_id).status == "cancelled"
    assert snapshot.id == script.response_id and snapshot.status == "cancelled"
    assert snapshot.output_text and snapshot.output_text != TEXT


@pytest.mark.parametrize("case", ["completed", "no flag", "not background", "no event yet"])
def test_events_cancel_on_stop_leaves_other_streams_alone(server: MockServer, case: str) -> None:
    """No cancel after the terminal event, without cancel_on_stop, for a response that is not
    in the background, or before the response's id has arrived (there is nothing to cancel
    it by)."""
    background = case != "not background"
    script = Script(background=background, seed=7).text(TEXT).completed()
    server.add(script, delay=0.01, stall=0.5 if case == "no event yet" else None)
    flag = case != "no flag"
    with _client(server) as client:
        with client.events(
            model="m", input="x", background=background, cancel_on_stop=flag
        ) as stream:
            if case == "completed":
                assert stream.until_done().output_text == TEXT
            elif case != "no event yet":
                _first_delta(stream)
        assert _cancels(server) == []
    assert "cancel_on_stop" not in (server.requests[0].json or {})  # an SDK keyword


def test_events_cancel_on_stop_failure_is_raised_or_logged(
    server: MockServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A cancel that fails is raised by close() (and at the end of a with block), and logged
    as a warning when another exception is on its way or the stream was dropped."""
    caplog.set_level(logging.WARNING, logger="responses_stream")
    script = _script()
    cancel_path = f"responses/{script.response_id}/cancel"
    with _client(server) as client:
        for how in ("close", "with", "exception", "dropped"):
            server.add(script, delay=0.01)
            server.add_error(500, "cancel failed", type="server_error", path=cancel_path)
            stream = client.events(model="m", input="x", background=True, cancel_on_stop=True)
            _first_delta(stream)
            if how == "close":
                with pytest.raises(rs.errors.InternalServerError):
                    stream.close()
            elif how == "with":
                with pytest.raises(rs.errors.InternalServerError), stream:
                    pass
            elif how == "exception":
                with pytest.raises(KeyError), stream:
                    raise KeyError("the caller's own error")
            else:
                del stream
    warnings = [r.getMessage() for r in caplog.records if r.name == "responses_stream"]
    assert len(warnings) == 2, warnings
    for message in warnings:
        assert script.response_id in message and "HTTP 500" in message
        assert "cancel failed" in message  # the server's own words, not "(empty body)"


def test_stream_cancel_on_stop_failure_is_raised_with_the_partial_response(
    server: MockServer,
) -> None:
    """stream(): a cancel that fails after stop() is raised once the stream has ended
    (on_end has run), carrying the partial snapshot the call would have returned."""

    class StopEarly(Seen):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            super().on_text_delta(delta, snapshot)
            self.stop()

    script = _script()
    server.add(script, delay=0.01)
    server.add_error(
        500, "cancel failed", type="server_error", path=f"responses/{script.response_id}/cancel"
    )
    handler = StopEarly()
    with _client(server) as client, pytest.raises(rs.errors.InternalServerError) as info:
        client.stream(handler, model="m", input="x", background=True, cancel_on_stop=True)
    partial = info.value.response
    assert partial is not None and partial.id == script.response_id
    assert partial.output_text == handler.text and TEXT.startswith(handler.text)
    assert handler.ended == 1


def test_events_takes_the_keywords_of_stream() -> None:
    """events() shows every keyword of stream() but the handler (help(), inspect), returns an
    EventStream, and still rejects a handler."""
    stream = inspect.signature(rs.Client.stream)
    events = inspect.signature(rs.Client.events)
    assert list(events.parameters) == [n for n in stream.parameters if n != "handler"]
    for name, parameter in events.parameters.items():
        assert parameter == stream.parameters[name]
    assert "cancel_on_stop" in events.parameters
    assert events.return_annotation == "EventStream"
    text = pydoc.render_doc(rs.Client.events, renderer=pydoc.plaintext)
    assert "record_to: 'Optional[PathLike]' = None" in text
    with rs.Client(api_key="sk-test") as client:
        with pytest.raises(rs.errors.ConfigurationError, match="takes no handler"):
            client.events(handler=rs.ResponseHandler(), model="m", input="x")
        with pytest.raises(TypeError):
            client.events("positional")  # type: ignore[misc]


def test_unknown_response_id_is_not_found(server: MockServer) -> None:
    """Resuming an id the server does not know raises NotFoundError."""
    with _client(server) as client, pytest.raises(rs.errors.NotFoundError):
        client.resume("resp_missing")


def _numbered(events: List[Dict[str, Any]], number: Any) -> bytes:
    """``events`` as an SSE body, each with ``number(i, event)`` as its sequence_number (left
    out when it gives None)."""
    blocks = []
    for i, event in enumerate(events):
        changed = {k: v for k, v in event.items() if k != "sequence_number"}
        seq = number(i, event)
        if seq is not None:
            changed["sequence_number"] = seq
        blocks.append(b"data: " + json.dumps(changed).encode() + b"\n\n")
    return b"".join(blocks)


_CUT_AFTER = 8  # events delivered before the first connection breaks


@pytest.mark.parametrize(
    "case", ["resumed without numbers", "unnumbered before the cut", "all numbered 0"]
)
def test_a_stream_whose_numbers_do_not_track_what_was_delivered_is_never_replayed_twice(
    server: MockServer, case: str
) -> None:
    """Resuming is exact only when every event carries a growing sequence number: a resumed
    connection without numbers, unnumbered events after numbered ones (the cursor then
    misses them), or numbers that do not grow (all 0) would deliver events twice. The
    stream ends with StreamInterrupted and its partial response instead; no event twice."""
    script = _script()
    events = script.events()
    if case == "unnumbered before the cut":
        first = _numbered(events, lambda i, e: i if i < 5 else None)
    elif case == "all numbered 0":
        first = _numbered(events, lambda i, e: 0)
    else:
        first = _numbered(events, lambda i, e: i)
    cut = first.index(b"\n\n", sum(len(b) for b in first.split(b"\n\n")[:_CUT_AFTER])) + 2
    server.add(first, close_after=cut)
    path = f"responses/{script.response_id}"
    server.add(_numbered(events, lambda i, e: None), method="GET", path=path)
    handler = Seen()
    with _client(server) as client, pytest.raises(rs.StreamInterrupted) as caught:
        client.stream(handler, model="m", input="x", background=True)
    assert TEXT.startswith(handler.text)  # every delta once, in order
    assert caught.value.response is not None
    assert TEXT.startswith(caught.value.response.output_text)
    resumed = [r for r in server.requests if r.method == "GET"]
    assert len(resumed) == (1 if case == "resumed without numbers" else 0)


def test_a_resume_answered_with_another_response_is_refused(server: MockServer) -> None:
    """The resumed connection's lifecycle events carry another response's id: an error
    with the partial response, not that response spliced into this one."""
    script = _script()
    other = Script(model="gpt-5-mini", background=True, seed=99).text("Someone else's.").completed()
    body = script.to_bytes()
    server.add(body, close_after=_event_boundaries(script)[3])
    server.add(other, method="GET", path=f"responses/{script.response_id}")
    with _client(server) as client, pytest.raises(rs.errors.ProtocolError, match="is of response"):
        client.stream(Seen(), model="m", input="x", background=True)
