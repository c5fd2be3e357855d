"""Shared helpers: the recorded transcripts (copied from ../shared/transcripts, see
fixtures/transcripts/SOURCES.md) and small stream builders."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List

import pytest

import responses_stream as rs
from responses_stream._replay import offline_stream
from responses_stream.testing import MockServer, mock_server

FIXTURES = Path(__file__).parent / "fixtures" / "transcripts"
OPENAI_TRANSCRIPTS = sorted(FIXTURES.glob("*.sse"))
SERVER_TRANSCRIPTS = sorted((FIXTURES / "servers").glob("*.sse"))
ALL_TRANSCRIPTS = OPENAI_TRANSCRIPTS + SERVER_TRANSCRIPTS


def transcript_id(path: Path) -> str:
    return path.parent.name + "/" + path.stem if path.parent.name == "servers" else path.stem


def split_responses(data: bytes) -> List[bytes]:
    """Split a recording that holds several responses (a tool loop) into one body each."""
    blocks = data.replace(b"\r\n", b"\n").split(b"\n\n")
    bodies: List[List[bytes]] = [[]]
    for block in blocks:
        started = any(b'"type":"response.created"' in b for b in bodies[-1])
        if b'"type":"response.created"' in block and started:
            bodies.append([])
        bodies[-1].append(block)
    return [b"\n\n".join(body) for body in bodies]


def events_of(chunks: Iterable[bytes], **kwargs: Any) -> List[Dict[str, Any]]:
    """Every event (as to_dict) the pipeline yields for ``chunks``, then the outcome."""
    stream = offline_stream(chunks, **kwargs)
    out: List[Dict[str, Any]] = []
    try:
        for event in stream:
            out.append({"cls": type(event).__name__, **event.to_dict()})
    except rs.ResponsesStreamError as exc:
        out.append({"raised": type(exc).__name__})
    return out


def payloads(data: bytes) -> List[Dict[str, Any]]:
    """The JSON payloads of a transcript, parsed independently of the SDK."""
    out = []
    for block in data.replace(b"\r\n", b"\n").split(b"\n\n"):
        for line in block.split(b"\n"):
            if line.startswith(b"data:"):
                text = line[5:].strip()
                if text and text != b"[DONE]":
                    out.append(json.loads(text))
    return out


CLIENT_ERROR_STATUSES = [
    (400, rs.errors.BadRequestError),
    (401, rs.errors.AuthenticationError),
    (403, rs.errors.PermissionDeniedError),
    (404, rs.errors.NotFoundError),
    (422, rs.errors.UnprocessableEntityError),
]
"""Statuses that are never retried, with the error class each must raise."""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own OpenAI settings must not leak into any test."""
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "AZURE_OPENAI_")) or name == "RESPONSES_STREAM_MODEL":
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[MockServer]:
    """A MockServer on 127.0.0.1, closed after the test."""
    yield from mock_server()


@pytest.fixture(params=OPENAI_TRANSCRIPTS, ids=transcript_id)
def openai_transcript(request: pytest.FixtureRequest) -> Path:
    return request.param  # type: ignore[no-any-return]
