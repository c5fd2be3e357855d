"""record_to writes the raw bytes exactly as received; replay plays them back offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Tuple

import pytest

import responses_stream as rs
from responses_stream._sse import split_blocks
from responses_stream.testing import MockServer, Script


def test_record_then_replay(server: MockServer, tmp_path: Path) -> None:
    """The recording is byte-identical to the body and replays to the same response."""
    script = Script(seed=31).reasoning(summary=["think"]).text("recorded ✓").completed()
    server.add(script, chunk_size=7)
    path = tmp_path / "run.sse"
    with rs.Client(api_key="sk-must-not-be-recorded", base_url=server.url) as client:
        live = client.stream(model="m", input="x", record_to=path)
    data = path.read_bytes()
    assert data == script.to_bytes()
    assert b"sk-must-not-be-recorded" not in data and b"Authorization" not in data
    assert rs.replay(path).to_dict() == live.to_dict()


def test_record_keeps_a_cut_stream(server: MockServer, tmp_path: Path) -> None:
    """A stream that breaks is recorded up to the break, and replays to the same error."""
    script = Script(seed=32).text("one two three").completed()
    body = script.to_bytes()
    server.add(script, close_after=len(body) // 2)
    path = tmp_path / "cut.sse"
    with rs.Client(base_url=server.url) as client, pytest.raises(rs.StreamInterrupted) as live:
        client.stream(model="m", input="x", record_to=str(path))
    assert path.read_bytes() == body[: len(body) // 2]
    with pytest.raises(rs.StreamInterrupted) as replayed:
        rs.replay(path)
    assert live.value.response is not None and replayed.value.response is not None
    assert replayed.value.response.to_dict() == live.value.response.to_dict()
    assert live.value.response.output_text


@pytest.mark.parametrize("line_ending", ["\n", "\r\n", "\r"])
def test_resumed_background_stream_records_as_one_whole_stream(
    server: MockServer, tmp_path: Path, line_ending: str
) -> None:
    """A background stream cut anywhere (between events, inside JSON, inside a UTF-8
    character, between the CR and LF of a line end) and resumed: the recording holds every
    event once, whole, and replays to the same events and final response as the live run."""
    script = Script(background=True, seed=33).text("resumed ✓ 森 🦊 and recorded").completed()
    body = script.to_bytes(line_ending=line_ending)
    events = script.to_sse_chunks(line_ending=line_ending)
    first_delta = body.index(b"output_text.delta")
    offsets = [
        len(b"".join(events[:6])),  # between events
        first_delta + 40,  # inside JSON
        body.index("🦊".encode()) + 2,  # inside a 4-byte character
        len(b"".join(events[:7])) - 1,  # inside the blank line that ends an event
    ]
    for i, offset in enumerate(offsets):
        server.add(body, close_after=offset)
        live, live_events, replayed = record_and_replay(server, tmp_path / f"resumed-{i}.sse")
        assert live.output_text == "resumed ✓ 森 🦊 and recorded", offset
        assert replayed == live_events == script.events(), offset


def record_and_replay(server: MockServer, path: Path) -> Tuple[rs.Response, List[Any], List[Any]]:
    """Stream a background response (resumed with no back-off) recording it to ``path``, then
    replay the recording: the live response, the live events and the replayed events (the
    replay's final response must be the live one)."""
    live_events: List[Any] = []
    replayed: List[Any] = []
    with rs.Client(base_url=server.url, max_retries=0) as client:
        client._transport.sleep = lambda seconds: None
        live = client.stream(
            Collect(live_events), model="m", input="x", background=True, record_to=path
        )
    assert rs.replay(path, Collect(replayed)).to_dict() == live.to_dict()
    return live, live_events, replayed


class Collect(rs.ResponseHandler):
    def __init__(self, into: List[Any]) -> None:
        self.into = into

    def on_event(self, event: rs.events.Event) -> None:
        self.into.append(event.to_dict())


@pytest.mark.parametrize("resent", ["all", "one"], ids=["from-the-start", "one-early"])
def test_events_a_resumed_connection_sends_again_replay_as_they_did_live(
    server: MockServer, tmp_path: Path, resent: str
) -> None:
    """A resume answered with events already applied (a server that ignores starting_after
    and starts over, or one that starts an event early): the live stream drops them, and so
    does the replay of its recording, which marks where the resumed connection began."""
    script = Script(background=True, seed=5).text("Hello wonderful world").completed()
    chunks = script.to_sse_chunks()
    cut = len(b"".join(chunks[:6])) + 20  # inside event 6
    again = chunks if resent == "all" else chunks[5:]
    server.add(script, close_after=cut)
    server.add(b"".join(again), method="GET", path=f"responses/{script.response_id}")
    live, live_events, replayed = record_and_replay(server, tmp_path / "resumed.sse")
    assert live.output_text == "Hello wonderful world"
    assert replayed == live_events == script.events()


def test_the_resume_mark_is_a_plain_keep_alive_in_a_live_stream(server: MockServer) -> None:
    """Only a replay reads the mark: a server that sends the same comment sends a keep-alive."""
    from responses_stream._resume import RESUMED_MARK

    class KeepAlives(rs.ResponseHandler):
        count = 0

        def on_keep_alive(self) -> None:
            self.count += 1

    chunks = Script(seed=6).text("hi").completed().to_sse_chunks()
    server.add(b"".join([*chunks[:3], RESUMED_MARK, *chunks[:3], *chunks[3:]]))
    handler = KeepAlives()
    with rs.Client(base_url=server.url, max_retries=0) as client:
        final = client.stream(handler, model="m", input="x")
    assert handler.count == 1 and final.output_text == "hi"


class Resumes(Collect):
    def __init__(self, into: List[Any]) -> None:
        super().__init__(into)
        self.resumes: List[Tuple[str, Any]] = []

    def on_resume(self, response_id: str, starting_after: Any) -> None:
        self.resumes.append((response_id, starting_after))


def _quick_client(server: MockServer) -> rs.Client:
    client = rs.Client(base_url=server.url, max_retries=0)
    client._transport.sleep = lambda seconds: None
    return client


@pytest.mark.parametrize("skipping", [False, True], ids=["resumed", "resumed-after-a-skip"])
def test_a_replay_resumes_where_and_as_the_live_stream_did(
    server: MockServer, tmp_path: Path, skipping: bool
) -> None:
    """The replay calls on_resume where the live stream resumed, with the same arguments.
    With a first resume that skipped an event (rejected live, then resumed again), the
    recording leaves out what the live stream did not use, and replays whole (it failed)."""
    script = Script(background=True, seed=5).text("Hello wonderful world").completed()
    chunks = script.to_sse_chunks()
    server.add(script, close_after=len(b"".join(chunks[:6])))  # events 0..5 arrive
    path = f"responses/{script.response_id}"
    if skipping:
        server.add(b"".join(chunks[7:]), method="GET", path=path)  # no event 6
    server.add(b"".join(chunks), method="GET", path=path)
    live, replayed = Resumes([]), Resumes([])
    with _quick_client(server) as client:
        final = client.stream(live, model="m", input="x", background=True, record_to=tmp_path / "r")
    assert rs.replay(tmp_path / "r", replayed).to_dict() == final.to_dict()
    assert replayed.into == live.into == script.events()
    assert replayed.resumes == live.resumes == [(script.response_id, 5)] * (2 if skipping else 1)


def test_a_recording_of_resume_starting_after_replays_the_same_events(
    server: MockServer, tmp_path: Path
) -> None:
    """resume(starting_after=4) delivers the events after 4 (the rest rebuilds the snapshot):
    its recording says so, and replays to those same events."""
    script = Script(background=True, seed=9).text("Once more, from the top").completed()
    response_id = server.store(script)
    live, replayed = Collect([]), Collect([])
    with _quick_client(server) as client:
        final = client.resume(response_id, live, starting_after=4, record_to=tmp_path / "r")
    assert rs.replay(tmp_path / "r", replayed).to_dict() == final.to_dict()
    assert replayed.into == live.into == script.events()[5:]


class StopAfter(Collect):
    """Collects events and stops the stream after ``deltas`` text deltas."""

    def __init__(self, into: List[Any], deltas: int) -> None:
        super().__init__(into)
        self.deltas = deltas

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        self.deltas -= 1
        if self.deltas == 0:
            self.stop()


@pytest.mark.parametrize("line_ending", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
@pytest.mark.parametrize("chunk_size", [None, 5, 100_000], ids=["by-event", "5-bytes", "whole"])
@pytest.mark.parametrize("many", [False, True], ids=["stream", "stream_many"])
def test_a_recording_of_a_stopped_stream_replays_as_stopped(
    server: MockServer, tmp_path: Path, chunk_size: Any, line_ending: str, many: bool
) -> None:
    """stop() in a callback: the live call returns the partial response without an error, and
    so does the replay of its recording, with the same events, whatever else had arrived."""
    script = Script(seed=41).text("one two three four five six").completed()
    body = script.to_bytes(line_ending=line_ending)
    server.add(body, chunk_size=chunk_size)
    path = tmp_path / "stopped.sse"
    live_events: List[Any] = []
    handler = StopAfter(live_events, 3)
    with rs.Client(base_url=server.url, max_retries=0) as client:
        params = {"model": "m", "input": "x", "record_to": path}
        if many:
            [live] = client.stream_many([params], lambda index, params: handler)
        else:
            live = client.stream(handler, **params)
    assert isinstance(live, rs.Response)
    assert live.status == "in_progress" and live.output_text == "one two three"
    replayed: List[Any] = []
    replaying = Collect(replayed)
    assert rs.replay(path, replaying).to_dict() == live.to_dict()
    assert replayed == live_events and replaying.stopped
    # The recording ends where the caller stopped: after it, only the mark (a comment).
    data = path.read_bytes()
    assert data.endswith(line_ending.encode() * 2 + b": responses_stream stopped\n\n")
    assert body.startswith(data[: -len(b": responses_stream stopped\n\n")])
    assert b"four" not in data


def test_a_stream_stopped_from_another_thread_during_a_stall_replays_as_stopped(
    server: MockServer, tmp_path: Path
) -> None:
    """A Stop button while the server is silent, after part of an event arrived: the
    recording keeps the events the caller saw, and its replay returns without an error."""
    import threading

    script = Script(seed=42).text("alpha beta gamma").completed()
    body = script.to_bytes()
    mid_event = body.index(b"beta") + 2
    pieces = split_blocks(body[:mid_event])
    server.add(body[:mid_event], stall=30, stall_after_events=len(pieces))
    path = tmp_path / "stalled.sse"
    live_events: List[Any] = []
    handler = Collect(live_events)
    timer = threading.Timer(0.5, handler.stop)
    timer.start()
    try:
        with rs.Client(base_url=server.url, max_retries=0) as client:
            live = client.stream(handler, model="m", input="x", record_to=path)
    finally:
        timer.cancel()
    assert live.output_text == "alpha"
    replayed: List[Any] = []
    assert rs.replay(path, Collect(replayed)).to_dict() == live.to_dict()
    assert replayed == live_events


def test_events_left_early_replay_as_stopped(server: MockServer, tmp_path: Path) -> None:
    """Pull style: leaving events() after the second delta is a stop too."""
    server.add(Script(seed=43).text("red green blue").completed())
    path = tmp_path / "pulled.sse"
    seen = []
    with rs.Client(base_url=server.url, max_retries=0) as client:
        with client.events(model="m", input="x", record_to=path) as events:
            for event in events:
                seen.append(event.to_dict())
                if event.type == "response.output_text.delta" and len(seen) > 5:
                    break
            live = events.response
    replayed: List[Any] = []
    assert rs.replay(path, Collect(replayed)).to_dict() == live.to_dict()
    assert replayed == seen


def test_a_stream_stopped_during_a_retry_back_off_replays_as_an_empty_response(
    server: MockServer, tmp_path: Path
) -> None:
    """stop() while a 429 waits to be sent again: nothing more is sent, live or replayed."""

    class StopOnRetry(rs.ResponseHandler):
        def on_retry(self, error: Exception, attempt: int, delay: float) -> None:
            self.stop()

    server.add_json({"error": {"message": "slow down"}}, status=429, headers={"retry-after": "30"})
    path = tmp_path / "early.sse"
    with rs.Client(base_url=server.url, max_retries=2) as client:
        live = client.stream(StopOnRetry(), model="m", input="x", record_to=path)
    assert live.output == [] and live.id is None and len(server.requests) == 1
    handler = rs.ResponseHandler()
    assert rs.replay(path, handler).to_dict() == live.to_dict() and handler.stopped


@pytest.mark.parametrize(
    "timeout",
    [rs.Timeout(idle=0.3), rs.Timeout(read=0.3), rs.Timeout(total=0.6)],
    ids=["idle", "read", "total"],
)
@pytest.mark.parametrize("many", [False, True], ids=["stream", "stream_many"])
@pytest.mark.parametrize("mid_event", [False, True], ids=["between-events", "inside-an-event"])
def test_a_recording_of_a_timed_out_stream_raises_the_same_timeout(
    server: MockServer, tmp_path: Path, timeout: rs.Timeout, many: bool, mid_event: bool
) -> None:
    """A time limit ends the stream while the server stalls (after whole events, or inside
    one): the replay delivers the same events and raises the same APITimeoutError."""
    script = Script(seed=45).text("one two three four five").completed()
    body = script.to_bytes()
    stop_at = body.index(b"three") + (3 if mid_event else 0)
    if not mid_event:
        stop_at = len(b"".join(script.to_sse_chunks()[:6]))
    pieces = split_blocks(body[:stop_at])
    server.add(body[:stop_at], stall=5, stall_after_events=len(pieces))
    path = tmp_path / "timed-out.sse"
    live_events: List[Any] = []
    with rs.Client(base_url=server.url, max_retries=0, timeout=timeout) as client:
        params = {"model": "m", "input": "x", "record_to": path}
        if many:
            [error] = client.stream_many([params], lambda index, params: Collect(live_events))
        else:
            with pytest.raises(rs.APITimeoutError) as info:
                client.stream(Collect(live_events), **params)
            error = info.value
    assert isinstance(error, rs.APITimeoutError), error
    replayed: List[Any] = []
    with pytest.raises(rs.APITimeoutError) as again:
        rs.replay(path, Collect(replayed))
    assert str(again.value) == str(error)
    assert again.value.response is not None and error.response is not None
    assert again.value.response.to_dict() == error.response.to_dict()
    assert replayed == live_events and live_events


def test_a_timed_out_background_stream_that_resumed_replays_to_its_end(
    server: MockServer, tmp_path: Path
) -> None:
    """The idle limit ends a connection, the stream resumes and completes: no timeout in the
    recording, whose replay completes as the live stream did."""
    script = Script(background=True, seed=46).text("resumed after the silence").completed()
    server.add(script, stall=3, stall_after_events=6)
    path = tmp_path / "resumed.sse"
    with _quick_client(server) as client:
        live = client.stream(
            model="m", input="x", background=True, record_to=path, timeout=rs.Timeout(idle=0.3)
        )
    assert live.status == "completed" and live.output_text == "resumed after the silence"
    assert b"timed-out" not in path.read_bytes()
    assert rs.replay(path).to_dict() == live.to_dict()


def test_a_stop_after_a_resumed_connection_that_applied_nothing_replays_as_live(
    server: MockServer, tmp_path: Path
) -> None:
    """A resumed connection that sent only a keep-alive and broke is left out of the
    recording (the next resume asks from the same point): the stop after it still lands
    after the last event the caller saw."""
    script = Script(background=True, seed=47).text("Hello there world and more words").completed()
    chunks = script.to_sse_chunks()
    cut = len(b"".join(chunks[:6])) + 20  # inside event 6
    server.add(script, close_after=cut)
    keepalive = b": keepalive\n\n"
    path_of = f"responses/{script.response_id}"
    server.add(keepalive, method="GET", path=path_of, close_after=len(keepalive))

    class StopAt(Collect):
        def on_event(self, event: rs.events.Event) -> None:
            super().on_event(event)
            if getattr(event, "sequence_number", None) == 8:
                self.stop()

    live_events: List[Any] = []
    path = tmp_path / "resumed-then-stopped.sse"
    with _quick_client(server) as client:
        live = client.stream(
            StopAt(live_events), model="m", input="x", background=True, record_to=path
        )
    replayed: List[Any] = []
    handler = Collect(replayed)
    assert rs.replay(path, handler).to_dict() == live.to_dict()
    assert replayed == live_events and handler.stopped
    assert [e.get("sequence_number") for e in live_events if e["type"] != "keepalive"][-1] == 8


def test_a_stream_that_failed_is_not_recorded_as_stopped(
    server: MockServer, tmp_path: Path
) -> None:
    """An answer that is no event stream, or a callback's exception: the live call raised,
    so the replay does not end quietly as a stopped stream would."""
    server.add_json({"not": "a stream"})
    path = tmp_path / "refused.sse"
    with rs.Client(base_url=server.url, max_retries=0) as client:
        with pytest.raises(rs.ProtocolError):
            client.stream(model="m", input="x", record_to=path)
    assert b"stopped" not in path.read_bytes()
    with pytest.raises(rs.StreamInterrupted):
        rs.replay(path)

    class Raises(rs.ResponseHandler):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            raise ValueError("a bug in the callback")

    server.add(Script(seed=48).text("one two three").completed(), chunk_size=100_000)
    path = tmp_path / "raised.sse"
    with rs.Client(base_url=server.url, max_retries=0) as client:
        with pytest.raises(ValueError):
            client.stream(Raises(), model="m", input="x", record_to=path)
    assert b"stopped" not in path.read_bytes()
    with pytest.raises(ValueError):
        rs.replay(path, Raises())  # the same handler fails at the same point


@pytest.mark.parametrize("many", [False, True], ids=["stream", "stream_many"])
def test_ctrl_c_while_waiting_is_not_recorded_as_a_stop(
    server: MockServer, tmp_path: Path, many: bool
) -> None:
    """Ctrl-C while the stream waits for the server: KeyboardInterrupt, live, and no stop mark
    in the recording (a replay does not end quietly)."""
    import signal

    if not hasattr(signal, "setitimer"):
        pytest.skip("needs setitimer()")

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    server.add(Script(seed=49).text("a b c d").completed(), stall=10, stall_after_events=4)
    path = tmp_path / "interrupted.sse"
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        with rs.Client(base_url=server.url, max_retries=0) as client:
            signal.setitimer(signal.ITIMER_REAL, 0.5)
            with pytest.raises(KeyboardInterrupt):
                params = {"model": "m", "input": "x", "record_to": path}
                if many:
                    client.stream_many([params])
                else:
                    client.stream(**params)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert path.read_bytes() and b"stopped" not in path.read_bytes()


def test_a_connection_that_ended_with_done_before_its_terminal_replays_as_resumed(
    server: MockServer, tmp_path: Path
) -> None:
    """``data: [DONE]`` ends the first connection of a background stream before its terminal
    event: the live stream resumes; the recording leaves that [DONE] out, so the replay goes
    on with the resumed connection as the live stream did."""
    script = Script(background=True, seed=50).text("done too early, then resumed").completed()
    chunks = script.to_sse_chunks()
    server.add(b"".join(chunks[:6]) + b"data: [DONE]\n\n")
    server.add(b"".join(chunks[6:]), method="GET", path=f"responses/{script.response_id}")
    path = tmp_path / "done-early.sse"
    live_events: List[Any] = []
    with _quick_client(server) as client:
        live = client.stream(
            Collect(live_events), model="m", input="x", background=True, record_to=path
        )
    assert live.status == "completed"
    replayed: List[Any] = []
    assert rs.replay(path, Collect(replayed)).to_dict() == live.to_dict()
    assert replayed == live_events
