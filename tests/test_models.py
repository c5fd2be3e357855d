"""The models on their own (``responses_stream.models``): Response, its output items and content
parts, built from wire JSON and given back by ``to_dict()``, and the helpers users read."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import decimal
import enum
import inspect
import json
import pickle
import uuid
from pathlib import Path
from typing import Any, Dict, List, Type

import pytest

import responses_stream as rs
from responses_stream import models
from responses_stream._records import dataclass as record
from responses_stream.errors import InvalidArgumentsError

from .scripts import same_init_error, standard_twin_matches

CATALOGUE = json.loads((Path(rs.__file__).parent / "_catalogue.json").read_text(encoding="utf-8"))
SAMPLES: Dict[str, Any] = {
    "str": "some text",
    "text": "some text",
    "int": 3,
    "bool": True,
    "list": [{"k": 1}],
    "list!": [{"k": 1}],
    "dict": {"k": 1},
    "any": {"k": [1, None]},
}
"""A wire value of each field kind of the catalogue."""


def sample(entry: Dict[str, Any]) -> Dict[str, Any]:
    """A payload for a catalogue item or part: its type and a value for every field."""
    payload = {"type": entry["type"]}
    for spec in entry["fields"]:
        name, kind = spec.split(":")
        payload[name] = copy.deepcopy(SAMPLES[kind])
    return payload


MESSAGE = {
    "type": "message",
    "id": "msg_1",
    "role": "assistant",
    "status": "completed",
    "content": [
        {"type": "output_text", "text": "Hello", "annotations": [], "logprobs": []},
        {"type": "output_text", "text": ", world", "annotations": [{"type": "url_citation"}]},
    ],
}
CALL = {
    "type": "function_call",
    "id": "fc_1",
    "call_id": "call_1",
    "name": "get_weather",
    "arguments": '{"city":"Paris"}',
    "status": "completed",
}
REASONING = {
    "type": "reasoning",
    "id": "rs_1",
    "summary": [
        {"type": "summary_text", "text": "First."},
        {"type": "summary_text", "text": "Second."},
    ],
    "content": [{"type": "reasoning_text", "text": "raw"}],
    "encrypted_content": "gAAAA",
    "status": None,
}
RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1750000000,
    "status": "completed",
    "model": "gpt-4o",
    "output": [REASONING, CALL, MESSAGE],
    "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15, "cost": 0.1},
    "error": None,
    "incomplete_details": None,
    "service_tier": "default",
    "a_key_from_the_future": {"nested": [1, 2]},
}


# --------------------------------------------------------------------------- wire round trip


def test_a_response_round_trips_with_typed_items_and_unknown_keys() -> None:
    """from_wire builds the items and nested objects as models; every key (unknown ones too)
    is an attribute, and to_dict() gives back exactly the payload."""
    response = rs.Response.from_wire(copy.deepcopy(RESPONSE))
    assert [type(item) for item in response.output] == [rs.Reasoning, rs.FunctionCall, rs.Message]
    assert isinstance(response.usage, models.Usage) and response.usage.total_tokens == 15
    assert response.usage.cost == 0.1  # type: ignore[attr-defined]
    assert response.service_tier == "default"  # type: ignore[attr-defined]
    assert response.a_key_from_the_future == {"nested": [1, 2]}  # type: ignore[attr-defined]
    assert response.to_dict() == RESPONSE
    assert rs.Response.from_json(response.to_json()) == response
    assert rs.Response.from_dict(RESPONSE).to_dict() == RESPONSE


@pytest.mark.parametrize("entry", CATALOGUE["items"], ids=lambda e: e["type"])
def test_every_catalogue_item_type_is_typed_and_round_trips(entry: Dict[str, Any]) -> None:
    """An output item of each catalogue type becomes its own class, fields readable, and
    to_dict() gives back the payload."""
    payload = sample(entry)
    item = models.output_item_from_dict(copy.deepcopy(payload))
    assert type(item) is models.ITEM_TYPES[entry["type"]]
    assert type(item).TYPE == entry["type"]
    for spec in entry["fields"]:
        name = spec.split(":")[0]
        assert getattr(item, name) == payload[name], name
    assert item.to_dict() == payload


@pytest.mark.parametrize("entry", CATALOGUE["parts"], ids=lambda e: e["type"])
def test_every_catalogue_part_type_is_typed_and_round_trips(entry: Dict[str, Any]) -> None:
    """A content part of each catalogue type becomes its own class and round-trips."""
    payload = sample(entry)
    part = models.part_from_dict(copy.deepcopy(payload))
    assert type(part) is models.PART_TYPES[entry["type"]]
    assert part.to_dict() == payload


def test_the_typed_items_are_the_catalogue_and_the_three_written_by_hand() -> None:
    """ITEM_TYPES is every catalogue item type plus message, function_call and reasoning."""
    catalogue = {entry["type"] for entry in CATALOGUE["items"]}
    assert set(models.ITEM_TYPES) == catalogue | {"message", "function_call", "reasoning"}
    assert set(models.PART_TYPES) == {"output_text", "refusal", "reasoning_text", "summary_text"}


def test_unknown_item_and_part_types_are_kept_as_dicts() -> None:
    """An item or part of a type this version does not know stays the dict that arrived, in
    its place, and comes back unchanged from to_dict()."""
    new_item = {"type": "hologram_call", "id": "hc_1", "frames": [1, 2]}
    new_part = {"type": "output_audio", "data": "UklGR"}
    payload = {
        "id": "r",
        "output": [
            new_item,
            {"type": "message", "content": [new_part, {"type": "output_text", "text": "hi"}]},
        ],
    }
    response = rs.Response.from_wire(copy.deepcopy(payload))
    item, message = response.output
    assert item == new_item and type(item) is dict
    assert isinstance(message, rs.Message)
    assert message.content[0] == new_part and type(message.content[0]) is dict
    assert response.output_text == "hi"
    assert models.output_item_from_dict(new_item) is new_item
    assert models.part_from_dict(new_part) is new_part
    assert models.output_item_from_dict({"no": "type"}) == {"no": "type"}
    got = response.to_dict()
    assert got["output"][0] == new_item and got["output"][1]["content"][0] == new_part


def test_missing_lists_that_accumulation_needs_are_filled() -> None:
    """A message without ``content``, a reasoning item without ``summary``, a response without
    ``output`` and a text part without ``annotations`` get an empty list; the rest of the
    missing fields read as their defaults."""
    message = rs.Message.from_wire({"type": "message"})
    assert message.content == [] and message.id is None and message.status is None
    assert rs.Reasoning.from_wire({"type": "reasoning"}).summary == []
    assert rs.Response.from_wire({}).output == []
    part = models.part_from_dict({"type": "output_text", "text": "x"})
    assert part.annotations == []  # type: ignore[union-attr]
    assert part.to_dict() == {"type": "output_text", "text": "x", "annotations": []}


def test_a_key_named_like_a_method_does_not_hide_it() -> None:
    """Wire keys that share a name with a property or method (OpenRouter sends
    ``output_text: ""``) are kept aside: the property still works, to_dict() has the key."""
    payload = {
        "output_text": "",
        "to_dict": 1,
        "output": [{"type": "message", "text": "stale", "content": [{"type": "output_text"}]}],
    }
    response = rs.Response.from_wire(copy.deepcopy(payload))
    response.output[0].content[0].text = "fresh"  # type: ignore[union-attr]
    assert response.output_text == "fresh"
    assert callable(response.to_dict)
    got = response.to_dict()
    assert got["output_text"] == "" and got["to_dict"] == 1
    assert got["output"][0]["text"] == "stale"


def test_wire_keys_starting_with_an_underscore_round_trip_and_cannot_replace_sdk_state() -> None:
    """A wire key starting with ``_`` is kept (readable as an attribute, back from to_dict(),
    pickle and copy) but kept aside: the state the SDK keeps under such names on a model (the
    partial parse of arguments, the parsed output, metrics) cannot be replaced by the wire."""
    call = {
        "type": "function_call",
        "call_id": "c1",
        "name": "f",
        "arguments": '{"a": 1}',
        "status": "completed",
        "_meta": {"trace": "x"},
        "_partial_arguments": [None, 0, ""],
    }
    payload = {
        "id": "r",
        "_provider": "p",
        "_metrics": "wire",
        "_output_parsed": "wire",
        "output": [call],
    }
    response = rs.Response.from_wire(copy.deepcopy(payload))
    (item,) = response.function_calls
    assert item._meta == {"trace": "x"} and response._provider == "p"  # type: ignore[attr-defined]
    assert item.partial_arguments == {"a": 1}
    assert response.metrics is None and response.output_parsed is None
    for clone in (response, pickle.loads(pickle.dumps(response)), copy.deepcopy(response)):
        assert clone.to_dict() == payload
    assert response.to_input_items()[0]["_meta"] == {"trace": "x"}
    with pytest.raises(AttributeError, match="'FunctionCall' object has no attribute '_other'"):
        item._other  # type: ignore[attr-defined]


# ----------------------------------------------------------------------- strict type checks


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: rs.Response.from_wire([]), "Response needs a JSON object, got list"),  # type: ignore[arg-type]
        (lambda: rs.Response.from_wire({"output": 5}), "expected a JSON array, got int"),
        (
            lambda: rs.Response.from_wire({"output": [None]}),
            "output item must be a JSON object, got NoneType",
        ),
        (lambda: rs.Response.from_wire({"usage": "x"}), "Usage needs a JSON object, got str"),
        (
            lambda: rs.Response.from_wire({"incomplete_details": 1}),
            "IncompleteDetails needs a JSON object, got int",
        ),
        (
            lambda: rs.Message.from_wire({"content": "hi"}),
            "expected a JSON array, got str",
        ),
        (
            lambda: rs.Reasoning.from_wire({"summary": [["x"]]}),
            "content part must be a JSON object, got list",
        ),
        (lambda: models.part_from_dict(5), "content part must be a JSON object, got int"),
        (lambda: models.output_item_from_dict("x"), "output item must be a JSON object, got str"),
        (lambda: rs.Response.from_dict(5), "Response.from_dict() needs a mapping, got int"),
    ],
    ids=[
        "response-list",
        "output-int",
        "item-null",
        "usage-str",
        "incomplete-int",
        "content-str",
        "summary-part-list",
        "part-int",
        "item-str",
        "from-dict-int",
    ],
)
def test_objects_of_the_wrong_json_type_raise_a_clear_type_error(build: Any, message: str) -> None:
    """An object, list, item or part of the wrong JSON type raises TypeError naming what was
    expected and what came."""
    with pytest.raises(TypeError) as info:
        build()
    assert message in str(info.value)


# --------------------------------------------------------------------------------- helpers


def test_response_helpers_read_the_output() -> None:
    """output_text joins the text parts of every message; function_calls and reasoning_items
    list those items in order; refusal is None without a refusal part."""
    second = copy.deepcopy(MESSAGE)
    second["content"] = [{"type": "output_text", "text": "!"}, {"type": "refusal", "refusal": ""}]
    payload = {"output": [REASONING, MESSAGE, CALL, {"type": "hologram_call"}, second, CALL]}
    response = rs.Response.from_wire(copy.deepcopy(payload))
    assert response.output_text == "Hello, world!"
    assert [c.call_id for c in response.function_calls] == ["call_1", "call_1"]
    assert response.function_calls[0] is response.output[2]
    assert response.reasoning_items == [response.output[0]]
    assert response.refusal == ""  # an empty refusal part is still a refusal
    assert rs.Response.from_wire({"output": [MESSAGE]}).refusal is None
    assert rs.Response().output_text == "" and rs.Response().function_calls == []


def test_refusals_join_across_parts_and_messages() -> None:
    """Message.refusal and Response.refusal join every refusal part; the text stays apart."""
    message = {
        "type": "message",
        "content": [
            {"type": "refusal", "refusal": "I can't "},
            {"type": "output_text", "text": "partial"},
            {"type": "refusal", "refusal": "help."},
        ],
    }
    other = {"type": "message", "content": [{"type": "refusal", "refusal": " Sorry."}]}
    response = rs.Response.from_wire({"output": [message, other]})
    first = response.output[0]
    assert isinstance(first, rs.Message)
    assert first.refusal == "I can't help." and first.text == "partial"
    assert response.refusal == "I can't help. Sorry."
    assert response.output_text == "partial"


def test_reasoning_summary_and_raw_text() -> None:
    """summary_text joins the summary parts with a blank line; reasoning_text joins the raw
    reasoning_text parts (empty when there are none)."""
    reasoning = rs.Reasoning.from_wire(copy.deepcopy(REASONING))
    assert reasoning.summary_text == "First.\n\nSecond."
    assert reasoning.reasoning_text == "raw"
    assert reasoning.encrypted_content == "gAAAA"
    assert rs.Reasoning().reasoning_text == "" and rs.Reasoning().summary_text == ""


@pytest.mark.parametrize(
    ("arguments", "parsed"),
    [('{"city": "Paris", "days": [1, 2]}', {"city": "Paris", "days": [1, 2]}), ("", {}), (" ", {})],
)
def test_parsed_arguments(arguments: str, parsed: Dict[str, Any]) -> None:
    """parsed_arguments decodes the JSON object the model wrote; no arguments give {}."""
    assert rs.FunctionCall(name="f", arguments=arguments).parsed_arguments == parsed


@pytest.mark.parametrize(
    ("arguments", "message"),
    [('{"a": ', "are not valid JSON"), ("[1]", "are JSON but not an object")],
)
def test_invalid_function_arguments_give_clear_error(arguments: str, message: str) -> None:
    """parsed_arguments on invalid JSON, or JSON that is not an object, raises
    InvalidArgumentsError (a ValueError) naming the function and carrying the raw string."""
    call = rs.FunctionCall(name="f", call_id="c9", arguments=arguments)
    with pytest.raises(InvalidArgumentsError, match=message) as info:
        call.parsed_arguments
    assert isinstance(info.value, ValueError)
    assert info.value.arguments == arguments and info.value.name == "f"
    assert "'f' (c9)" in str(info.value)


def test_to_input_items_drops_nulls_and_keeps_everything_else() -> None:
    """to_input_items gives plain dicts for the next request: keys that are null are left out,
    encrypted reasoning and unknown items are kept."""
    unknown = {"type": "hologram_call", "id": "hc_1", "gone": None}
    response = rs.Response.from_wire({"output": [copy.deepcopy(REASONING), CALL, unknown]})
    items = response.to_input_items()
    assert items == [
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": REASONING["summary"],
            "content": REASONING["content"],
            "encrypted_content": "gAAAA",
        },
        CALL,
        {"type": "hologram_call", "id": "hc_1"},
    ]
    items[0]["summary"].clear()  # plain copies, not the snapshot's own lists
    assert response.reasoning_items[0].summary_text == "First.\n\nSecond."


def test_output_parsed_is_none_without_a_text_format() -> None:
    """A response not requested with text_format has no parsed output, completed or not."""
    assert rs.Response.from_wire({"status": "completed", "output": [MESSAGE]}).output_parsed is None


# -------------------------------------------------------------------------- JSON encoding


class Colour(enum.Enum):
    RED = "red"


def test_to_json_encodes_values_json_has_no_type_for() -> None:
    """Objects you build yourself may hold datetimes, Decimals, UUIDs, enums and sets:
    to_json() writes them as a timestamp, strings, the value and a list; text stays UTF-8."""
    when = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    ident = uuid.UUID(int=1)
    response = rs.Response(
        id="r",
        metadata={"when": when, "d": decimal.Decimal("1.5"), "u": ident, "c": Colour.RED},
        tools=[{"tags": {"x"}}],
        instructions="héllo",
    )
    data = json.loads(response.to_json())
    assert data["metadata"] == {
        "when": 1704067200.0,
        "d": "1.5",
        "u": "00000000-0000-0000-0000-000000000001",
        "c": "red",
    }
    assert data["tools"] == [{"tags": ["x"]}]
    assert '"héllo"' in response.to_json()
    with pytest.raises(TypeError, match="Object of type object is not JSON serializable"):
        rs.Response(metadata={"x": object()}).to_json()


# ------------------------------------------------------------------- models as dataclasses

MODEL_CLASSES: List[Type[Any]] = sorted(
    (
        obj
        for obj in vars(models).values()
        if isinstance(obj, type)
        and dataclasses.is_dataclass(obj)
        and obj.__module__ in (models.__name__, "responses_stream._model_types")
    ),
    key=lambda c: c.__name__,
)


def test_every_model_class_is_found() -> None:
    """The classes checked below are all of them: the typed items and parts, Response and the
    three nested objects (Usage, ErrorDetails, IncompleteDetails)."""
    nested = {rs.Response, models.Usage, models.ErrorDetails, models.IncompleteDetails}
    expected = {*models.ITEM_TYPES.values(), *models.PART_TYPES.values(), *nested}
    assert set(MODEL_CLASSES) == expected and len(MODEL_CLASSES) >= 30


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda c: c.__name__)
def test_constructor_and_signature_match_the_standard_decorator(cls: Type[Any]) -> None:
    """Each model class takes the same arguments, with the same defaults and the same errors,
    as the standard ``dataclasses.dataclass`` would give it."""
    standard_twin_matches(cls)


def test_models_are_mutable_unhashable_and_factories_are_per_instance() -> None:
    """Models can be changed (the SDK updates snapshots in place), so they do not hash; each
    instance gets its own default lists."""
    a, b = rs.Response(), rs.Response()
    a.output.append(rs.Message())
    assert b.output == [] and a.output != b.output
    a.status = "completed"
    assert a.status == "completed" and not rs.Response.__dataclass_params__.frozen
    with pytest.raises(TypeError, match="unhashable"):
        hash(a)


def test_models_copy_and_pickle() -> None:
    """pickle and deepcopy give equal models that keep their unknown keys."""
    response = rs.Response.from_wire(copy.deepcopy(RESPONSE))
    for clone in (pickle.loads(pickle.dumps(response)), copy.deepcopy(response)):
        assert clone == response and clone.to_dict() == RESPONSE
        assert clone.output[0] is not response.output[0]


def test_standard_dataclass_subclasses_of_models_still_work() -> None:
    """A subclass of a model made with the standard decorator adds its fields."""

    @dataclasses.dataclass
    class MyCall(rs.FunctionCall):
        note: str = ""

    call = MyCall(name="f", note="n")
    assert (call.name, call.note, call.arguments) == ("f", "n", "")


def test_required_fields_and_error_wording_match_cpython() -> None:
    """A record with required fields (none of the SDK's have any) reports them like CPython."""

    @record(frozen=True)
    class Point:
        x: int
        y: int
        z: int
        label: str = ""

    @dataclasses.dataclass(frozen=True)
    class Twin:
        x: int
        y: int
        z: int
        label: str = ""

    assert str(inspect.signature(Point)) == str(inspect.signature(Twin))
    assert Point(1, 2, z=3) == Point(1, 2, 3, "") and Point(1, 2, 3).label == ""
    for args, kw in (((), {}), ((1,), {}), ((1, 2), {}), ((1, 2, 3, 4, 5), {}), ((1,), {"x": 1})):
        same_init_error(lambda: Point(*args, **kw), lambda: Twin(*args, **kw))
