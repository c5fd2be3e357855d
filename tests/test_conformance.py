"""Conformance over every recorded transcript: the final snapshot is right, whatever the framing."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import responses_stream as rs

from .scripts import (
    ALL_TRANSCRIPTS,
    OPENAI_TRANSCRIPTS,
    SERVER_TRANSCRIPTS,
    deltas_of,
    events_of,
    split_responses,
    terminal_payload,
    transcript_id,
)


def test_every_transcript_is_covered() -> None:
    """The copied fixtures hold all 25 OpenAI transcripts and the real-server captures."""
    assert len(OPENAI_TRANSCRIPTS) == 25
    assert len(SERVER_TRANSCRIPTS) >= 7


@pytest.mark.parametrize("path", OPENAI_TRANSCRIPTS, ids=transcript_id)
def test_final_snapshot_equals_terminal_payload(path: Path) -> None:
    """replay() returns a Response whose to_dict() is exactly the terminal event's response."""
    for body in split_responses(path.read_bytes()):
        expected = terminal_payload(body)
        if expected.get("status") == "failed":
            with pytest.raises((rs.StreamError, rs.ResponseFailedError)) as info:
                rs.replay(body)
            final = info.value.response
        else:
            final = rs.replay(body)
        assert final is not None
        got = final.to_dict()
        # A resumed stream has no response.created: only what the terminal event carried.
        assert {k: got[k] for k in expected} == expected
        assert final.status == expected["status"]


@pytest.mark.parametrize("path", SERVER_TRANSCRIPTS, ids=transcript_id)
def test_real_server_streams(path: Path) -> None:
    """Streams from llama.cpp, transformers serve, vLLM, LiteLLM...: the text the deltas carried
    is the final output_text, and the final status is the server's."""
    body = path.read_bytes()
    final = rs.replay(body)
    assert final.output_text == deltas_of(body)
    assert final.status == terminal_payload(body).get("status", "completed")


@pytest.mark.slow
@pytest.mark.parametrize("path", ALL_TRANSCRIPTS, ids=transcript_id)
def test_rechunking_gives_identical_events(path: Path) -> None:
    """Any split of the bytes into reads gives the same events: two-way splits at every offset
    of the small transcripts (and 150 offsets of the big ones), plus random re-chunkings."""
    data = path.read_bytes()
    reference = events_of([data])
    assert (reference and "raised" not in reference[-1]) or "error" in path.name
    rng = random.Random(path.name)
    offsets = range(1, len(data)) if len(data) <= 6000 else rng.sample(range(1, len(data)), 150)
    for cut in offsets:
        assert events_of([data[:cut], data[cut:]]) == reference, cut
    for _ in range(20):
        chunks, pos = [], 0
        while pos < len(data):
            size = rng.choice([1, 2, 3, 7, 64, 1000, 65536])
            chunks.append(data[pos : pos + size])
            pos += size
        assert events_of(chunks) == reference


@pytest.mark.parametrize("path", OPENAI_TRANSCRIPTS[:8], ids=transcript_id)
@pytest.mark.parametrize("ending", [b"\r\n", b"\r"])
def test_line_endings_and_bom(path: Path, ending: bytes) -> None:
    """CRLF and CR line endings, and a UTF-8 BOM, give the same events as LF."""
    data = path.read_bytes()
    reference = events_of([data])
    converted = b"\xef\xbb\xbf" + data.replace(b"\n", ending)
    assert events_of([converted]) == reference
    assert events_of([bytes([b]) for b in converted[:400]] + [converted[400:]]) == reference
