"""Partial JSON while it streams: ``FunctionCall.partial_arguments``, ``McpCall.partial_arguments``,
``CustomToolCall.partial_input`` and the handler's ``on_parsed_delta`` (structured outputs).

The parser itself is tested in ``test_partial_json.py``; here, what the SDK wires to it: the
values read in callbacks and on the snapshot, the rules of the issue, and that nothing is parsed
unless someone reads it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

import responses_stream as rs
from responses_stream._json_items import parsed_so_far
from responses_stream.models import CustomToolCall, McpCall
from responses_stream.testing import MockServer, Script

from .scripts import sse
from .test_partial_json import SETTINGS, consistent, documents, same, splits

ARGUMENTS = {
    "path": "src/app.py",
    "content": 'print("héllo")\n\tdone = True\n',
    "line": 42,
    "ratio": -1.5e3,
    "flags": [True, False, None],
    "nested": {"deep": [{"a": "b"}, []], "empty": {}},
}
TEXT = json.dumps(ARGUMENTS, ensure_ascii=False)


class Partials(rs.ResponseHandler):
    """Reads ``call.partial_arguments`` after every arguments delta (a deep copy each time)."""

    def __init__(self) -> None:
        self.seen: List[Any] = []
        self.snapshots: List[str] = []

    def on_function_call_delta(self, delta: str, snapshot: str, call: rs.FunctionCall) -> None:
        self.seen.append(copy.deepcopy(call.partial_arguments))
        self.snapshots.append(snapshot)


def stream_call(client: rs.Client, server: MockServer, pieces: List[str], **kw: Any) -> Any:
    server.add(Script().function_call("write_file", TEXT, chunk=pieces).completed())
    handler = Partials()
    final = client.stream(handler, model="m", input="x", **kw)
    return handler, final


# ------------------------------------------------------------------------ function calls


def test_partial_arguments_grow_in_callbacks_and_end_equal_to_json_loads(
    server: MockServer, client: rs.Client
) -> None:
    pieces = [TEXT[i : i + 3] for i in range(0, len(TEXT), 3)]
    handler, final = stream_call(client, server, pieces)
    assert len(handler.seen) == len(pieces)
    for partial in handler.seen:
        assert partial is None or consistent(partial, ARGUMENTS)
    assert same(handler.seen[-1], json.loads(TEXT))
    (call,) = final.function_calls
    assert same(call.partial_arguments, call.parsed_arguments)
    assert same(call.partial_arguments, ARGUMENTS)


def test_the_rules_keys_strings_numbers_and_literals(server: MockServer, client: rs.Client) -> None:
    pieces = ['{"name": "', "Par", '", "n"', ": ", "1", '2, "ok": ', "tr", 'ue, "z": ', "null", "}"]
    server.add(Script().function_call("f", "".join(pieces), chunk=pieces).completed())
    handler = Partials()
    client.stream(handler, model="m", input="x")
    name, number = {"name": "Par"}, {"name": "Par", "n": 12}
    assert handler.seen == [
        {"name": ""},  # a key appears once its value has started
        name,  # strings may be partial
        name,  # a key waits for its value
        name,
        name,  # a number only once complete
        number,
        number,  # a literal only once complete
        {**number, "ok": True},
        {**number, "ok": True},  # null: once a delimiter follows
        {**number, "ok": True, "z": None},
    ]


def test_reading_the_snapshot_at_any_time_and_never_reading_it(
    server: MockServer, client: rs.Client
) -> None:
    server.add(Script().function_call("f", TEXT, chunk=7).completed())
    with client.events(model="m", input="x") as stream:
        for i, event in enumerate(stream):
            calls = stream.response.function_calls
            if calls and i % 5 == 0:
                value = calls[0].partial_arguments
                assert value is None or consistent(value, ARGUMENTS)
        (call,) = stream.response.function_calls
    assert same(call.partial_arguments, ARGUMENTS)

    # Never read: nothing parsed, nothing kept.
    server.add(Script().function_call("f", TEXT, chunk=7).completed())
    (untouched,) = client.stream(model="m", input="x").function_calls
    assert not [key for key in untouched.__dict__ if key.startswith("_partial")]


def test_the_parser_stays_private(server: MockServer, client: rs.Client) -> None:
    """Kept under a ``_`` key: not in to_dict(), repr or equality; copies and pickles work."""
    _, final = stream_call(client, server, [TEXT[:20], TEXT[20:]])
    (call,) = final.function_calls
    assert same(call.partial_arguments, ARGUMENTS)
    assert "_partial_arguments" in call.__dict__
    assert "partial" not in json.dumps(call.to_dict())
    assert "partial" not in repr(call)
    assert call == rs.FunctionCall.from_dict(call.to_dict())
    for clone in (copy.deepcopy(call), pickle.loads(pickle.dumps(call))):
        assert same(clone.partial_arguments, ARGUMENTS)


def test_a_replaced_string_is_parsed_again() -> None:
    """A ``.done`` event (or a terminal payload) that replaces the text restarts the parse."""
    call = rs.FunctionCall(arguments='{"a": "x')
    assert call.partial_arguments == {"a": "x"}
    call.arguments = '{"b": 1}'
    assert call.partial_arguments == {"b": 1}
    call.arguments = '{"b": 12}'  # longer, but not what was parsed plus more
    assert call.partial_arguments == {"b": 12}
    call.arguments = ""
    assert call.partial_arguments is None


def test_a_top_level_number_appears_once_the_call_completed() -> None:
    call = rs.FunctionCall(arguments="42", status="in_progress")
    assert call.partial_arguments is None
    call.status = "completed"
    assert call.partial_arguments == 42


@pytest.mark.parametrize("text", ["{'single': 1}", '{"a": 1} trailing', "not json", '{"a": tru'])
def test_text_that_is_not_json_gives_none(text: str) -> None:
    call = rs.FunctionCall(arguments=text, status="completed")
    assert call.partial_arguments is None


def test_a_cut_call_keeps_what_arrived() -> None:
    """An incomplete call (``max_output_tokens``) still shows the arguments that arrived."""
    call = rs.FunctionCall(arguments='{"city": "Par', status="incomplete")
    assert call.partial_arguments == {"city": "Par"}


@pytest.mark.slow
@SETTINGS
@given(st.data())
def test_any_document_read_at_any_points_agrees_with_json_loads(data: Any) -> None:
    """The lazy feed: whatever the deltas and wherever it is read, every value read is
    consistent with the final one, and the final one is json.loads."""
    text = data.draw(documents())
    call = rs.FunctionCall(status="in_progress")
    final = json.loads(text)
    for piece in data.draw(splits(text)):
        call.__dict__["arguments"] += piece
        if data.draw(st.booleans()):
            value = call.partial_arguments
            assert value is None or consistent(value, final), (text, value)
    call.status = "completed"
    assert same(call.partial_arguments, final)


# ------------------------------------------------------------------------ MCP and custom tools


def tool_events(kind: str, field: str, item: Dict[str, Any], pieces: List[str]) -> bytes:
    """A stream of one ``kind`` item whose ``field`` streams as ``pieces``."""
    base = {"id": "resp_1", "object": "response", "model": "m", "output": []}
    done_item = {**item, field: "".join(pieces), "status": "completed"}
    events: List[Dict[str, Any]] = [
        {"type": "response.created", "response": {**base, "status": "in_progress"}},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**item, field: "", "status": "in_progress"},
        },
    ]
    events += [
        {"type": f"response.{kind}.delta", "output_index": 0, "item_id": item["id"], "delta": p}
        for p in pieces
    ]
    events += [
        {"type": f"response.{kind}.done", "output_index": 0, "item_id": item["id"], field: ""},
        {"type": "response.output_item.done", "output_index": 0, "item": done_item},
        {
            "type": "response.completed",
            "response": {**base, "status": "completed", "output": [done_item]},
        },
    ]
    for n, event in enumerate(events):
        event["sequence_number"] = n
    del events[-3][field]  # a .done without the text: the deltas stand
    return sse(*events)


class ToolInputs(rs.ResponseHandler):
    def __init__(self, read: Any) -> None:
        self.read = read
        self.seen: List[Any] = []

    def on_event(self, event: Any) -> None:
        output = self.snapshot.output if self.snapshot is not None else []
        if output and not isinstance(output[0], dict):
            self.seen.append(copy.deepcopy(self.read(output[0])))


def test_mcp_call_arguments_stream_as_partial_json() -> None:
    text = '{"query": "weather in Paris", "limit": 3}'
    pieces = [text[i : i + 4] for i in range(0, len(text), 4)]
    item = {"type": "mcp_call", "id": "mcp_1", "name": "search", "server_label": "docs"}
    handler = ToolInputs(lambda call: call.partial_arguments)
    final = rs.replay(tool_events("mcp_call_arguments", "arguments", item, pieces), handler)
    (call,) = final.output
    assert type(call) is McpCall and isinstance(call, rs.models.McpCall)
    final_value = json.loads(text)
    assert handler.seen and all(v is None or consistent(v, final_value) for v in handler.seen)
    assert {"query": "weath"} in handler.seen
    assert call.partial_arguments == final_value


def test_custom_tool_input_is_parsed_when_it_is_json() -> None:
    item = {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_1", "name": "apply"}
    handler = ToolInputs(lambda call: call.partial_input)
    pieces = ['{"ops": [', '"add", "rem', 'ove"]}']
    final = rs.replay(tool_events("custom_tool_call_input", "input", item, pieces), handler)
    (call,) = final.output
    assert type(call) is CustomToolCall
    assert {"ops": ["add", "rem"]} in handler.seen
    assert call.partial_input == {"ops": ["add", "remove"]}

    free_form = ["print('hi'", ")"]
    handler = ToolInputs(lambda call: call.partial_input)
    final = rs.replay(tool_events("custom_tool_call_input", "input", item, free_form), handler)
    assert handler.seen and all(value is None for value in handler.seen)
    assert final.output[0].input == "print('hi')"


def test_the_typed_classes_round_trip_like_their_generated_bases() -> None:
    for cls, field in ((McpCall, "arguments"), (CustomToolCall, "input")):
        item = rs.models.output_item_from_dict({"type": cls.TYPE, field: '{"k": [1]}'})
        assert type(item) is cls and cls.__module__ == "responses_stream.models"
        assert item.to_dict() == {"type": cls.TYPE, field: '{"k": [1]}'}
        assert parsed_so_far(item, field) == {"k": [1]}
        assert item == cls.from_dict(item.to_dict())
        assert dataclasses.is_dataclass(item)


# ------------------------------------------------------------------------ structured outputs


@dataclasses.dataclass
class Weather:
    city: str
    temperature: float
    days: List[str]


WEATHER = {"city": "Paris", "temperature": 18.5, "days": ["mon", "tue"]}
WEATHER_TEXT = json.dumps(WEATHER)


class Parsed(rs.ResponseHandler):
    def __init__(self) -> None:
        self.partials: List[Any] = []
        self.snapshots: List[str] = []
        self.text_deltas = 0

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        self.text_deltas += 1

    def on_parsed_delta(self, partial: Any, snapshot: str) -> None:
        self.partials.append(copy.deepcopy(partial))
        self.snapshots.append(snapshot)


def test_on_parsed_delta_follows_each_text_delta_with_text_format(
    server: MockServer, client: rs.Client
) -> None:
    server.add(Script().text(WEATHER_TEXT, chunk=5).completed())
    handler = Parsed()
    final = client.stream(handler, model="m", input="x", text_format=Weather)
    assert len(handler.partials) == handler.text_deltas == -(-len(WEATHER_TEXT) // 5)
    assert all(isinstance(p, dict) and consistent(p, WEATHER) for p in handler.partials)
    assert {"city": ""} in handler.partials
    assert handler.partials[-1] == WEATHER
    assert handler.snapshots[-1] == WEATHER_TEXT
    assert [len(s) for s in handler.snapshots] == sorted(len(s) for s in handler.snapshots)
    assert final.output_parsed == Weather(**WEATHER)  # type: ignore[arg-type]


def test_on_parsed_delta_waits_for_the_value_to_start(
    server: MockServer, client: rs.Client
) -> None:
    server.add(Script().text("  \n" + WEATHER_TEXT, chunk=["  ", "\n", WEATHER_TEXT]).completed())
    handler = Parsed()
    client.stream(handler, model="m", input="x", text={"format": {"type": "json_object"}})
    assert handler.text_deltas == 3
    assert handler.partials == [WEATHER]


def test_no_parsed_deltas_without_json_output_or_without_the_override(
    server: MockServer, client: rs.Client
) -> None:
    server.add(Script().text(WEATHER_TEXT, chunk=5).completed())
    handler = Parsed()
    client.stream(handler, model="m", input="x")
    assert handler.partials == [] and handler.text_deltas > 0

    class TextOnly(rs.ResponseHandler):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            pass

    server.add(Script().text(WEATHER_TEXT, chunk=5).completed())
    final = client.stream(TextOnly(), model="m", input="x", text_format=Weather)
    (part,) = final.output[0].content
    assert not [key for key in part.__dict__ if key.startswith("_partial")]


def test_events_sets_json_output_and_run_calls_on_parsed_delta(
    server: MockServer, client: rs.Client
) -> None:
    server.add(Script().text(WEATHER_TEXT).completed())
    with client.events(model="m", input="x", text_format=Weather) as stream:
        assert stream.json_output
        stream.until_done()
    server.add(Script().text(WEATHER_TEXT).completed())
    with client.events(model="m", input="x") as stream:
        assert not stream.json_output
        stream.until_done()

    def noop() -> str:
        """Does nothing."""
        return ""

    server.add(Script().text(WEATHER_TEXT, chunk=9).completed())
    handler = Parsed()
    final = client.run(handler, tools=[noop], model="m", input="x", text_format=Weather)
    assert handler.partials and handler.partials[-1] == WEATHER
    assert final.output_parsed == Weather(**WEATHER)  # type: ignore[arg-type]


def test_a_refusal_calls_no_parsed_delta(server: MockServer, client: rs.Client) -> None:
    server.add(Script().refusal("I can't help with that.").completed())
    handler = Parsed()
    final: Optional[rs.Response] = client.stream(handler, model="m", input="x", text_format=Weather)
    assert handler.partials == [] and final is not None and final.output_parsed is None


def test_replay_calls_on_parsed_delta_for_a_recording_of_json_output(tmp_path: Path) -> None:
    """A recording has no request: its response object's ``text.format`` says JSON was asked
    for, so a replay calls ``on_parsed_delta`` as the live stream did; ``text_format=`` also
    gives ``output_parsed``."""
    plain = Script().text(WEATHER_TEXT, chunk=5).completed().to_bytes()
    json_format = b'"format":{"type":"json_schema","name":"Weather","schema":{},"strict":true}'
    recorded = plain.replace(b'"format":{"type":"text"}', json_format)
    assert recorded != plain
    path = tmp_path / "weather.sse"
    path.write_bytes(recorded)
    for source in (path, recorded, [recorded[:50], recorded[50:]]):
        handler = Parsed()
        final = rs.replay(source, handler)
        assert handler.partials[-1] == WEATHER and len(handler.partials) == handler.text_deltas
        assert final.output_text == WEATHER_TEXT
    handler = Parsed()
    final = rs.replay(path, handler, text_format=Weather)
    assert final.output_parsed == Weather(**WEATHER)  # type: ignore[arg-type]
    handler = Parsed()
    rs.replay(plain, handler)  # plain text output: no parsing
    assert handler.partials == [] and handler.text_deltas > 0
    handler = Parsed()
    rs.replay(plain, handler, text_format=Weather)  # the caller says it is JSON
    assert handler.partials[-1] == WEATHER
