"""Fixtures every test module may ask for; the shared helpers and scripts they use are in
``tests/scripts.py``."""

from __future__ import annotations

import os
from typing import Iterator, List

import pytest

import responses_stream as rs
from responses_stream.testing import MockServer, mock_server

_SETTINGS = ("OPENAI_", "AZURE_")
"""Prefixes of the environment variables the SDK reads its settings from."""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own OpenAI and Azure settings must not leak into any test."""
    for name in list(os.environ):
        if name.startswith(_SETTINGS) or name == "RESPONSES_STREAM_MODEL":
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[MockServer]:
    """A MockServer on 127.0.0.1, closed after the test."""
    yield from mock_server()


@pytest.fixture
def sleeps() -> List[float]:
    """The retry sleeps the ``client`` fixture was asked for, in seconds (never slept)."""
    return []


@pytest.fixture
def client(server: MockServer, sleeps: List[float]) -> Iterator[rs.Client]:
    """A Client on ``server`` (API key ``sk-test``) whose retry sleeps go to ``sleeps``."""
    with rs.Client(api_key="sk-test", base_url=server.url, timeout=rs.Timeout(2, 10)) as c:
        c._transport.sleep = sleeps.append
        yield c
