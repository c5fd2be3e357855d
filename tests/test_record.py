"""record_to writes the raw bytes exactly as received; replay plays them back offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Tuple

import pytest

import responses_stream as rs
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
