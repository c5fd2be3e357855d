"""SSE framing: bytes, in reads cut anywhere, to messages and on through the pipeline;
property tests and the awkward cases (one message's payload -> event is in test_events)."""

from __future__ import annotations

import json
from typing import List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import responses_stream as rs
from responses_stream._replay import offline_stream
from responses_stream._sse import COMMENT, FramedSSEClient

from .scripts import events_of


def _messages(chunks: List[bytes]) -> List[tuple]:
    return [(m.event, m.data) for m in FramedSSEClient(iter(chunks)).events()]


def _split(data: bytes, cuts: List[int]) -> List[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in points:
        out.append(data[last:p])
        last = p
    out.append(data[last:])
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_arbitrary_bytes_never_escape_the_error_tree(data: bytes, cuts: List[int]) -> None:
    """Any bytes in any chunks either yield events or raise a ResponsesStreamError."""
    stream = offline_stream(_split(data, cuts))
    try:
        for _ in stream:
            pass
    except rs.ResponsesStreamError:
        pass


texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=30)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(texts, min_size=1, max_size=12),
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
    st.lists(st.integers(min_value=0, max_value=4000), max_size=10),
    st.booleans(),
)
def test_framing_is_independent_of_chunking(
    deltas: List[str], eol: bytes, cuts: List[int], ascii_only: bool
) -> None:
    """Deltas with any Unicode (U+2028, emoji, CJK) survive every line ending and split."""
    blocks = [
        json.dumps(
            {"type": "response.output_text.delta", "delta": d, "sequence_number": i},
            ensure_ascii=ascii_only,
        ).encode()
        for i, d in enumerate(deltas)
    ]
    body = b"".join(
        b"event: response.output_text.delta" + eol + b"data: " + b + eol + eol for b in blocks
    )
    body += b'data: {"type":"response.completed","response":{"status":"completed"}}' + eol + eol
    final = rs.replay(_split(body, cuts))
    assert final.output_text == "".join(deltas)


def test_comment_only_blocks_become_keepalives() -> None:
    """Comment blocks are surfaced (sseclient-py would drop them), data blocks untouched."""
    msgs = _messages([b": ping\n\n:\n\ndata: {}\n\n: a\n: b\n\n"])
    assert msgs == [(COMMENT, "#ping"), (COMMENT, "#"), ("message", "{}"), (COMMENT, "#a\nb")]


def test_multi_line_data_and_event_name_fallback() -> None:
    """Several data lines join with newlines; a payload without type uses the event: name."""
    body = (
        b"event: response.output_text.delta\n"
        b'data: {"delta":\ndata: "hi"}\n\n'
        b'data: {"type":"response.completed","response":{}}\n\n'
    )
    events = events_of([body])
    assert events[0]["cls"] == "OutputTextDelta"
    assert events[0] == {"cls": "OutputTextDelta", "delta": "hi"}  # to_dict: what arrived
    assert rs.replay(body).output_text == "hi"


def test_event_of_several_megabytes_in_small_reads() -> None:
    """A 6 MB event read 1 KiB at a time is framed intact (and in linear time)."""
    big = "x" * 6_000_000
    body = json.dumps({"type": "response.output_text.delta", "delta": big}).encode()
    data = b"data: " + body + b'\n\ndata: {"type":"response.completed","response":{}}\n\n'
    chunks = [data[i : i + 1024] for i in range(0, len(data), 1024)]
    assert rs.replay(chunks).output_text == big


def test_invalid_utf8_mid_stream_is_protocol_error() -> None:
    """Bytes that are not UTF-8 give ProtocolError (with the snapshot so far), not
    UnicodeDecodeError."""
    body = b'data: {"type":"response.output_text.delta","delta":"a"}\n\n'
    body += b'data: {"type":"response.output_text.delta","delta":"\xff"}\n\ndata: {}\n\n'
    with pytest.raises(rs.ProtocolError) as info:
        rs.replay(body)
    assert info.value.response is not None and info.value.response.output_text == "a"


@settings(max_examples=200, deadline=None)
@given(
    named=st.booleans(),
    bad_at=st.integers(min_value=0, max_value=30),
    cuts=st.lists(st.integers(min_value=1, max_value=200), max_size=4),
)
def test_a_block_that_is_not_utf8_fails_the_same_way_however_it_is_read(
    named: bool, bad_at: int, cuts: List[int]
) -> None:
    """The UnicodeDecodeError (message, position, bytes) of a block with a bad byte is the
    same whether the block came in one read or in pieces (the framer reads a whole block in
    place, and parses one that came in pieces with the full parser)."""
    data = bytearray(b'{"type":"response.output_text.delta","delta":"abcdefghijklmnopqrstuvwxyz"}')
    data[bad_at + 10] = 0xC5  # a lead byte with no continuation
    block = (b"event: response.output_text.delta\n" if named else b"") + b"data: " + data
    body = b'data: {"type":"x"}\n\n' + block + b"\n\ndata: {}\n\n"

    def error(pieces: List[bytes]) -> UnicodeDecodeError:
        with pytest.raises(UnicodeDecodeError) as info:
            _messages(pieces)
        return info.value

    whole = error([body])
    split = error(_split(body, cuts))
    assert (str(split), split.start, split.object) == (str(whole), whole.start, whole.object)


def test_litellm_error_frame_without_type() -> None:
    """LiteLLM's `data: {"error": {...}}` frame is an error event: StreamError with its code."""
    body = b'data: {"error":{"message":"upstream died","code":502}}\n\n'
    with pytest.raises(rs.StreamError) as info:
        rs.replay(body)
    assert info.value.code == "502" and info.value.message.endswith("(code 502)")
    assert "upstream died" in info.value.message
