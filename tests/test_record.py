"""record_to writes the raw bytes exactly as received; replay plays them back offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

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
        path = tmp_path / f"resumed-{i}.sse"
        live_events: List[Any] = []
        replayed: List[Any] = []
        with rs.Client(base_url=server.url, max_retries=0) as client:
            client._transport.sleep = lambda seconds: None
            live = client.stream(
                Collect(live_events), model="m", input="x", background=True, record_to=path
            )
        assert live.output_text == "resumed ✓ 森 🦊 and recorded", offset
        assert rs.replay(path, Collect(replayed)).to_dict() == live.to_dict(), offset
        assert replayed == live_events == script.events(), offset


class Collect(rs.ResponseHandler):
    def __init__(self, into: List[Any]) -> None:
        self.into = into

    def on_event(self, event: rs.events.Event) -> None:
        self.into.append(event.to_dict())
