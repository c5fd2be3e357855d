"""record_to writes the raw bytes exactly as received; replay plays them back offline."""

from __future__ import annotations

from pathlib import Path

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
    with rs.Client(base_url=server.url) as client:
        try:
            client.stream(model="m", input="x", record_to=str(path))
        except rs.StreamInterrupted as exc:
            live_text = exc.response.output_text if exc.response else None
    assert path.read_bytes() == body[: len(body) // 2]
    try:
        rs.replay(path)
    except rs.StreamInterrupted as exc:
        assert exc.response is not None and exc.response.output_text == live_text
    else:  # pragma: no cover
        raise AssertionError("expected StreamInterrupted")
