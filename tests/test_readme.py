"""The README is true: every ```python block runs as written (imports included) against a
MockServer standing in for the API, and what the README promises in prose about
``accumulate=False``, the request id and logging holds.

A block is run in a module of its own with ``OPENAI_BASE_URL`` pointing at a MockServer and
``OPENAI_API_KEY`` set, so ``rs.Client()`` in it talks to the mock; the test functions it
defines are called. A block that can only run against the real API would be skipped by the line
``<!-- readme: needs a real API key -->`` right above it; no block needs that today.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import types
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import pytest

import responses_stream as rs
from responses_stream.testing import MockServer, Script

from .scripts import request_id

README = Path(__file__).resolve().parent.parent / "README.md"
SKIP_MARK = "<!-- readme: needs a real API key -->"
_FENCE = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)


def readme_blocks() -> List[Tuple[str, str, bool]]:
    """(id, code, needs a real key) for each ```python block of the README, in order; the code
    is preceded by blank lines, so that a traceback gives the README's own line numbers."""
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()]
        line = before.count("\n") + 1
        heading = re.findall(r"^#+ (.+)$", before, re.M)[-1]
        slug = re.sub(r"\W+", "-", heading.lower()).strip("-")
        skip = before.rstrip().endswith(SKIP_MARK)
        blocks.append((f"line{line}-{slug}", "\n" * line + match.group(1), skip))
    return blocks


BLOCKS = readme_blocks()


def _replies(code: str) -> List[Script]:
    """What the mock server answers to the block's requests, in order."""
    if "client.run(" in code:  # the tool loop: a call, then the answer
        return [
            Script().function_call("get_weather", {"city": "Paris", "unit": "c"}).completed(),
            Script().text("It is 18 degrees in Paris.").completed(),
        ]
    if "text_format=Recipe" in code:
        recipe = {"recipeTitle": "Pancakes", "ingredientList": ["flour"], "cookingTime": 20}
        return [Script().text(json.dumps(recipe)).completed()]
    if "_many(" in code:  # stream_many / events_many: one answer per request
        return [Script().text("Hello there").completed() for _ in range(30)]
    if "background=True" in code:
        return [Script(background=True).text("Done at last.").completed()]
    return [Script().text("Hello there").completed() for _ in range(3)]


def test_the_readme_has_the_blocks_this_test_expects() -> None:
    """A change of the README that loses its examples (or the fences) is noticed."""
    assert len(BLOCKS) >= 10
    assert [b for b in BLOCKS if b[2]] == []  # no block is left unchecked


@pytest.mark.parametrize(("code", "skip"), [b[1:] for b in BLOCKS], ids=[b[0] for b in BLOCKS])
def test_readme_block_runs(
    code: str,
    skip: bool,
    server: MockServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if skip:
        pytest.skip("marked in the README as needing a real API key")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-readme")
    for script in _replies(code):
        server.add(script)
    module = types.ModuleType("readme_block")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(code, str(README), "exec"), module.__dict__)
    tests = [v for k, v in vars(module).items() if k.startswith("test_") and callable(v)]
    for test in tests:
        test()
    if "client.run(" in code:
        assert "It is 18 degrees in Paris." in capsys.readouterr().out
        assert server.pending == 0


# --------------------------------------------------------------- what the prose promises

ACCUMULATED = (
    "on_text_delta",
    "on_text_done",
    "on_refusal_delta",
    "on_refusal_done",
    "on_function_call_created",
    "on_function_call_delta",
    "on_function_call_done",
    "on_reasoning_delta",
    "on_reasoning_done",
)


def _recording_handler() -> Tuple[rs.ResponseHandler, List[str]]:
    called: List[str] = []

    def record(name: str) -> Callable[..., None]:
        return lambda self, *args: called.append(name)

    names = [n for n in dir(rs.ResponseHandler) if n.startswith("on_")]
    handler_class = type("Everything", (rs.ResponseHandler,), {n: record(n) for n in names})
    return handler_class(), called


def test_accumulate_false_does_not_fire_the_accumulated_callbacks() -> None:
    """As the README says: with accumulate=False the accumulated callbacks never fire, the
    per-event and lifecycle ones do, and the final response has no output."""
    body = (
        Script()
        .reasoning(summary=["Thinking."])
        .function_call("f", {"a": 1})
        .refusal("No.")
        .text("Hello")
        .completed()
        .to_bytes()
    )
    for accumulate in (True, False):
        handler, called = _recording_handler()
        final = rs.replay(body, handler, accumulate=accumulate)
        fired = set(ACCUMULATED) & set(called)
        assert fired == (set(ACCUMULATED) if accumulate else set()), accumulate
        for name in ("on_event", "on_output_text_delta", "on_created", "on_completed"):
            assert name in called
    assert (final.status, final.output, final.usage is not None) == ("completed", [], True)


def test_the_request_id_is_reachable_from_a_handler_and_from_errors(
    server: MockServer, client: rs.Client
) -> None:
    """self.metrics.request_id inside callbacks, response.metrics.request_id afterwards, and
    exc.request_id on an error status and on an error in the middle of a stream."""
    seen: Dict[str, object] = {}

    class Grab(rs.ResponseHandler):
        def on_created(self, response: rs.Response) -> None:
            seen["created"] = self.metrics.request_id if self.metrics else None

    server.add(Script().text("Hi").completed())
    final = client.stream(Grab(), model="m", input="x")
    assert seen["created"] == final.metrics.request_id == request_id(1)
    server.add_error(400, "bad model")
    with pytest.raises(rs.APIStatusError) as status:
        client.stream(model="m", input="x")
    assert status.value.request_id == request_id(2)
    server.add(Script().text("half").error("server_error", "it broke"))
    with pytest.raises(rs.StreamError) as broken:
        client.stream(model="m", input="x")
    assert broken.value.request_id == request_id(3)


def test_logging_is_as_documented(
    server: MockServer, client: rs.Client, caplog: pytest.LogCaptureFixture
) -> None:
    """The logger is `responses_stream`: DEBUG for each HTTP answer with its request id, INFO
    for each retry; nothing per event, and never the key."""
    caplog.set_level(logging.DEBUG, logger="responses_stream")
    server.add_error(500, "try again")
    server.add(Script().text(" ".join(["word"] * 50), chunk=1).completed())
    client.stream(model="m", input="x")
    records = [r for r in caplog.records if r.name == "responses_stream"]
    debug = [r.getMessage() for r in records if r.levelno == logging.DEBUG]
    info = [r.getMessage() for r in records if r.levelno == logging.INFO]
    assert any("HTTP 500" in m and request_id(1) in m for m in debug), debug
    assert any("HTTP 200" in m and request_id(2) in m for m in debug), debug
    assert len(info) == 1 and info[0].startswith(f"retrying {server.url}/responses in ")
    assert len(records) < 10  # not one per event
    assert all("sk-test" not in r.getMessage() for r in records)
