"""Conformance over every recorded transcript: the final snapshot is right, whatever the framing."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any, Dict, List

import pytest

import responses_stream as rs
from responses_stream._accumulator import Accumulator

from .conftest import (
    ALL_TRANSCRIPTS,
    OPENAI_TRANSCRIPTS,
    SERVER_TRANSCRIPTS,
    events_of,
    payloads,
    split_responses,
    transcript_id,
)

TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def _bodies(path: Path) -> List[bytes]:
    return split_responses(path.read_bytes())


def _terminal_payload(body: bytes) -> Dict[str, Any]:
    for data in payloads(body):
        if data.get("type") in TERMINAL:
            return data["response"]  # type: ignore[no-any-return]
    raise AssertionError("no terminal event")


def _without(d: Any, keys: set) -> Any:
    if isinstance(d, dict):
        return {k: _without(v, keys) for k, v in d.items() if k not in keys}
    if isinstance(d, list):
        return [_without(v, keys) for v in d]
    return d


def test_every_transcript_is_covered() -> None:
    """The copied fixtures hold all 25 OpenAI transcripts and the real-server captures."""
    assert len(OPENAI_TRANSCRIPTS) == 25
    assert len(SERVER_TRANSCRIPTS) >= 7


@pytest.mark.parametrize("path", OPENAI_TRANSCRIPTS, ids=transcript_id)
def test_final_snapshot_equals_terminal_payload(path: Path) -> None:
    """replay() returns a Response whose to_dict() is exactly the terminal event's response."""
    for body in _bodies(path):
        expected = _terminal_payload(body)
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


@pytest.mark.parametrize("path", OPENAI_TRANSCRIPTS, ids=transcript_id)
def test_output_is_rebuilt_when_terminal_output_is_empty(path: Path) -> None:
    """With response.completed carrying output: [] (LiteLLM, ChatGPT backend), the streamed
    items give the same output (encrypted_content aside: OpenAI re-encrypts it per event)."""
    for body in _bodies(path):
        expected = _terminal_payload(body)
        if expected.get("status") == "failed":
            continue
        acc = Accumulator()
        for data in payloads(body):
            if data.get("type") in TERMINAL:
                emptied = copy.deepcopy(data)
                emptied["response"]["output"] = []
                acc.feed(rs.events.parse_event(emptied))
            else:
                acc.feed(rs.events.parse_event(data))
        got = acc.response.to_dict()["output"]
        ignore = {"encrypted_content"}
        if "openrouter" in path.name:
            ignore |= {"id"}  # OpenRouter's temporary ids change before completion
        assert _without(got, ignore) == _without(expected["output"], ignore)


@pytest.mark.parametrize("path", OPENAI_TRANSCRIPTS, ids=transcript_id)
def test_deltas_alone_rebuild_the_text(path: Path) -> None:
    """Dropping every .done event and the terminal output, the deltas still give the right
    answer text, function arguments and reasoning summaries."""
    for body in _bodies(path):
        expected = rs.Response.from_wire(_terminal_payload(body))
        acc = Accumulator()
        for data in payloads(body):
            kind = data.get("type", "")
            if (kind.endswith(".done") and kind != "response.output_item.done") or kind in TERMINAL:
                continue
            if kind == "response.output_item.done":
                continue
            acc.feed(rs.events.parse_event(data))
        got = acc.response
        assert got.output_text == expected.output_text
        assert [(c.name, c.arguments) for c in got.function_calls] == [
            (c.name, c.arguments) for c in expected.function_calls
        ]
        assert [r.summary_text for r in got.reasoning_items] == [
            r.summary_text for r in expected.reasoning_items
        ]


@pytest.mark.parametrize("path", SERVER_TRANSCRIPTS, ids=transcript_id)
def test_real_server_streams(path: Path) -> None:
    """Streams from llama.cpp, transformers serve, vLLM, LiteLLM...: the text the deltas carried
    is the final output_text, and the final status is the server's."""
    body = path.read_bytes()
    deltas = "".join(
        d.get("delta", "") for d in payloads(body) if d.get("type") == "response.output_text.delta"
    )
    final = rs.replay(body)
    assert final.output_text == deltas
    assert final.status == _terminal_payload(body).get("status", "completed")


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


def test_every_wire_event_type_is_typed() -> None:
    """Every event type seen in any transcript parses to its own class, never UnknownEvent."""
    seen = set()
    for path in ALL_TRANSCRIPTS:
        for data in payloads(path.read_bytes()):
            event = rs.events.parse_event(data)
            assert not isinstance(event, rs.events.UnknownEvent), data.get("type")
            assert event.to_dict() == data
            seen.add(event.type)
    assert len(seen) > 40


def test_events_json_types_all_have_classes() -> None:
    """All 59 event types of the official SDK (spec/events.json) have a class and handler."""
    spec = Path(__file__).parent / "fixtures" / "event_types.json"
    types = json.loads(spec.read_text())
    assert len(types) == 59
    for kind in types:
        cls = rs.events.EVENT_TYPES[kind]
        assert cls.TYPE == kind
        if cls.HANDLER:
            assert hasattr(rs.ResponseHandler, cls.HANDLER), cls.HANDLER
