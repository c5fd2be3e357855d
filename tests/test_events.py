"""The event parser on its own (``responses_stream.events``): payload -> typed event.

``parse_event`` takes a decoded payload, ``decode`` one SSE message's name and data. Every
type of the catalogue (``_catalogue.json``) has its class; anything else is kept whole as an
``UnknownEvent``; what cannot be an event raises ``ProtocolError`` and nothing else.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from pathlib import Path
from typing import Any, Dict, List, Type

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import responses_stream as rs
from responses_stream import events as ev
from responses_stream import models
from responses_stream.errors import ProtocolError

from .scripts import ALL_TRANSCRIPTS, payloads, standard_twin_matches

CATALOGUE_FILE = Path(rs.__file__).parent / "_catalogue.json"
CATALOGUE = json.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))["events"]
CATALOGUE_TYPES = [entry["type"] for entry in CATALOGUE]
WRITTEN_BY_HAND = {"error": ev.ErrorEvent, "keepalive": ev.KeepAlive}
"""The two event classes ``events.py`` defines itself (not generated from the catalogue)."""

# A value of each catalogue field kind.
RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "status": "in_progress",
    "output": [
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "hi", "annotations": []}],
        }
    ],
}
PART = {"type": "output_text", "text": "hi", "annotations": [], "logprobs": []}
ITEM = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": "{}"}
SAMPLES: Dict[str, Any] = {
    "str": "some text",
    "int": 3,
    "list": [{"k": 1}],
    "dict": {"k": 1},
    "any": {"k": [1, None]},
    "response": RESPONSE,
    "part": PART,
    "item": ITEM,
}
BUILT: Dict[str, Type[Any]] = {
    "response": rs.Response,
    "part": models.OutputText,
    "item": rs.FunctionCall,
}
"""The model a nested object of each kind becomes."""


def payload_with_every_field(entry: Dict[str, Any]) -> Dict[str, Any]:
    """A payload for a catalogue entry: its type, a sequence number and a value of the right
    kind for every field."""
    payload: Dict[str, Any] = {"type": entry["type"], "sequence_number": 7}
    for spec in entry["fields"]:
        name, kind = spec.split(":")
        payload[name] = copy.deepcopy(SAMPLES[kind])
    return payload


# ------------------------------------------------------------------------ the catalogue


@pytest.mark.parametrize("entry", CATALOGUE, ids=CATALOGUE_TYPES)
def test_every_catalogue_type_round_trips_from_a_payload_with_every_field(
    entry: Dict[str, Any],
) -> None:
    """A payload with every field of its catalogue entry parses to that type's own class, with
    each field readable (nested objects built as models), and to_dict() gives it back."""
    payload = payload_with_every_field(entry)
    sent = copy.deepcopy(payload)
    event = ev.parse_event(payload)
    assert type(event) is ev.EVENT_TYPES[entry["type"]]
    assert type(event).TYPE == event.type == entry["type"]
    assert event.sequence_number == 7
    for spec in entry["fields"]:
        name, kind = spec.split(":")
        value = getattr(event, name)
        if kind in BUILT:
            assert type(value) is BUILT[kind], name
            assert value.to_dict() == sent[name]
        else:
            assert value == sent[name], name
    assert event.to_dict() == sent
    assert payload == sent  # parsing did not change the payload
    assert ev.decode(entry["type"], json.dumps(payload)) == event


@pytest.mark.parametrize("entry", CATALOGUE, ids=CATALOGUE_TYPES)
def test_a_payload_with_only_its_type_parses_with_every_field_none(
    entry: Dict[str, Any],
) -> None:
    """Nothing is required: the minimal payload, its ``type`` alone, parses to its class with
    every field None, and to_dict() gives back just the type."""
    event = ev.parse_event({"type": entry["type"]})
    assert type(event) is ev.EVENT_TYPES[entry["type"]]
    assert event.sequence_number is None
    for spec in entry["fields"]:
        name = spec.split(":")[0]
        assert getattr(event, name) is None, name
    assert event.to_dict() == {"type": entry["type"]}


def test_the_catalogue_and_the_hand_written_classes_are_every_type() -> None:
    """EVENT_TYPES holds the catalogue's types, ``error``, ``keepalive`` and its alias: a type
    added to the catalogue is a type the parser knows."""
    assert len(CATALOGUE_TYPES) == len(set(CATALOGUE_TYPES)) >= 60
    assert set(ev.EVENT_TYPES) == {*CATALOGUE_TYPES, "error", "keepalive", "response.keep_alive"}
    for kind, cls in WRITTEN_BY_HAND.items():
        assert ev.EVENT_TYPES[kind] is cls and cls.__module__ == "responses_stream.events"


@pytest.mark.parametrize(
    ("kind", "name", "handler"),
    [
        ("response.output_text.delta", "OutputTextDelta", "on_output_text_delta"),
        ("response.completed", "ResponseCompleted", "on_completed"),
        ("response.queued", "ResponseQueued", "on_queued"),
        ("response.mcp_call_arguments.done", "McpCallArgumentsDone", "on_mcp_call_arguments_done"),
        (
            "response.image_generation_call.partial_image",
            "ImageGenerationCallPartialImage",
            "on_image_generation_call_partial_image",
        ),
        ("response.refusal.delta", "RefusalDelta", ""),
        ("error", "ErrorEvent", "on_error"),
        ("keepalive", "KeepAlive", "on_keep_alive"),
        ("response.keep_alive", "KeepAlive", "on_keep_alive"),
    ],
)
def test_class_and_callback_names(kind: str, name: str, handler: str) -> None:
    """Classes are named after the wire type, exported from ``rs.events``, and name the
    handler method they dispatch to (refusal events have none: on_refusal_delta covers them)."""
    cls = ev.EVENT_TYPES[kind]
    assert cls.__name__ == name and getattr(ev, name) is cls
    assert cls.HANDLER == handler
    if handler:
        assert callable(getattr(rs.ResponseHandler, handler))


def test_lifecycle_and_terminal_types() -> None:
    """Each lifecycle type gives the response a status; three of them end the stream."""
    assert ev.LIFECYCLE_STATUS == {
        "response.created": "in_progress",
        "response.queued": "queued",
        "response.in_progress": "in_progress",
        "response.completed": "completed",
        "response.incomplete": "incomplete",
        "response.failed": "failed",
    }
    assert ev.TERMINAL_TYPES == {"response.completed", "response.incomplete", "response.failed"}


def test_every_wire_event_type_is_typed() -> None:
    """Every event type seen in any transcript parses to its own class, never UnknownEvent,
    and gives back exactly its payload."""
    seen = set()
    for path in ALL_TRANSCRIPTS:
        for data in payloads(path.read_bytes()):
            event = ev.parse_event(data)
            assert not isinstance(event, ev.UnknownEvent), data.get("type")
            assert event.to_dict() == data
            seen.add(event.type)
    assert len(seen) > 40


def test_events_json_types_all_have_classes() -> None:
    """All 59 event types of the official SDK (spec/events.json) have a class and handler."""
    spec = Path(__file__).parent / "fixtures" / "event_types.json"
    types = json.loads(spec.read_text())
    assert len(types) == 59
    for kind in types:
        cls = ev.EVENT_TYPES[kind]
        assert cls.TYPE == kind
        if cls.HANDLER:
            assert hasattr(rs.ResponseHandler, cls.HANDLER), cls.HANDLER


# ----------------------------------------------------------------------- unknown events


def test_an_unknown_type_is_kept_whole() -> None:
    """A type this version does not know becomes an UnknownEvent carrying the whole payload;
    to_dict() gives it back, as a copy."""
    payload = {"type": "codex.rate_limits", "sequence_number": 4, "primary": {"used": 5}}
    event = ev.parse_event(payload)
    assert type(event) is ev.UnknownEvent
    assert (event.type, event.sequence_number) == ("codex.rate_limits", 4)
    assert event.data == payload and event.HANDLER == "on_unknown_event"
    copied = event.to_dict()
    assert copied == payload
    copied["primary"]["used"] = 99
    assert event.to_dict()["primary"] == {"used": 5}


@pytest.mark.parametrize("kind", [[1], {"a": 1}, 7, None, ""])
def test_a_type_that_is_not_a_string_is_an_unknown_event(kind: Any) -> None:
    """A non-string ``type`` (even an unhashable one) gives an UnknownEvent whose type is ""."""
    event = ev.parse_event({"type": kind, "sequence_number": 2})
    assert isinstance(event, ev.UnknownEvent)
    assert event.type == "" and event.data == {"type": kind, "sequence_number": 2}


@pytest.mark.parametrize("seq", ["7", 2.5, True, [3], None])
def test_a_sequence_number_that_is_not_an_integer_is_none_only_on_unknown_events(
    seq: Any,
) -> None:
    """A known event keeps whatever ``sequence_number`` arrived (the accumulator ignores what
    is not an integer); an UnknownEvent reads it as None. to_dict() keeps it in both."""
    for kind in ("response.output_text.delta", "codex.rate_limits"):
        event = ev.parse_event({"type": kind, "sequence_number": seq})
        if isinstance(event, ev.UnknownEvent):
            assert event.sequence_number is None
        else:
            assert event.sequence_number == seq  # known classes keep what arrived
        assert event.to_dict()["sequence_number"] == seq


@settings(max_examples=150, deadline=None)
@given(
    kind=st.text(max_size=30).filter(lambda k: k not in ev.EVENT_TYPES),
    extra=st.dictionaries(
        st.text(max_size=8).filter(lambda k: k != "type"),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=8),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=5), inner, max_size=3)
            ),
            max_leaves=10,
        ),
        max_size=5,
    ),
)
def test_any_unknown_type_gives_back_its_payload(kind: str, extra: Dict[str, Any]) -> None:
    """Property: whatever else a payload with an unknown type holds, it parses (from a dict
    and from its JSON text) to an UnknownEvent whose data and to_dict() are the payload."""
    payload = {"type": kind, **extra}
    event = ev.parse_event(payload)
    assert isinstance(event, ev.UnknownEvent) and event.type == kind
    assert event.to_dict() == payload == event.data
    decoded = ev.decode("message", json.dumps(payload))
    assert isinstance(decoded, ev.UnknownEvent) and decoded.to_dict() == payload


# --------------------------------------------------------------------------- what fails


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{nope", "an SSE data line is not valid JSON (Expecting property name"),
        ('{"type": "response.created"', "an SSE data line is not valid JSON"),
        ("42", "an SSE data line is JSON but not an object: '42'"),
        ("[1, 2]", "an SSE data line is JSON but not an object: '[1, 2]'"),
        ('"text"', "an SSE data line is JSON but not an object"),
        ("null", "an SSE data line is JSON but not an object: 'null'"),
        ("[" * 100_000, "an event is nested too deeply"),
    ],
    ids=["bad-json", "cut-json", "number", "array", "string", "null", "deep"],
)
def test_data_that_is_not_a_json_object_is_a_protocol_error(text: str, message: str) -> None:
    """decode() raises ProtocolError saying what is wrong and showing (the start of) the data;
    ``data`` is the whole text."""
    with pytest.raises(ProtocolError) as info:
        ev.decode("message", text)
    assert str(info.value).startswith(message)
    assert len(str(info.value)) < 400
    assert info.value.data == text


@pytest.mark.parametrize("value", [42, [1], "x", None, (1,)])
def test_parse_event_rejects_what_is_not_a_dict(value: Any) -> None:
    """parse_event() of anything but a dict raises ProtocolError naming what it got."""
    with pytest.raises(ProtocolError, match=r"an event must be a JSON object, got ") as info:
        ev.parse_event(value)
    assert repr(value)[:20] in str(info.value)
    assert info.value.data == value


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        ({"type": "response.completed", "response": 5}, "Response needs a JSON object, got int"),
        ({"type": "response.created", "response": [1]}, "Response needs a JSON object, got list"),
        (
            {"type": "response.completed", "response": {"output": 5}},
            "expected a JSON array, got int",
        ),
        (
            {"type": "response.completed", "response": {"output": ["x"]}},
            "output item must be a JSON object, got str",
        ),
        (
            {"type": "response.completed", "response": {"usage": 5}},
            "Usage needs a JSON object, got int",
        ),
        (
            {"type": "response.failed", "response": {"error": "boom"}},
            "ErrorDetails needs a JSON object, got str",
        ),
        (
            {"type": "response.output_item.added", "item": "x"},
            "output item must be a JSON object, got str",
        ),
        (
            {"type": "response.output_item.done", "item": {"type": "message", "content": "x"}},
            "expected a JSON array, got str",
        ),
        (
            {"type": "response.content_part.added", "part": 3},
            "content part must be a JSON object, got int",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else v["type"],
)
def test_a_nested_object_of_the_wrong_type_is_a_protocol_error(
    payload: Dict[str, Any], detail: str
) -> None:
    """A ``response``, ``item`` or ``part`` (or a list or object inside them) of the wrong JSON
    type raises ProtocolError, from parse_event and from decode, naming what was wrong."""
    with pytest.raises(ProtocolError) as info:
        ev.parse_event(payload)
    assert str(info.value).startswith("an event is malformed (")
    assert detail in str(info.value)
    assert info.value.data == payload
    text = json.dumps(payload)
    with pytest.raises(ProtocolError, match="malformed") as decoded:
        ev.decode("message", text)
    assert decoded.value.data == text


def test_text_fields_are_not_checked_when_parsed() -> None:
    """The parser does not check scalar fields: a number where text belongs arrives as it was
    sent (the accumulator rejects it; see test_accumulator)."""
    event = ev.parse_event({"type": "response.output_text.delta", "delta": 5})
    assert isinstance(event, ev.OutputTextDelta) and event.delta == 5


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=60),
        st.builds(
            json.dumps,
            st.fixed_dictionaries(
                {"type": st.sampled_from(sorted(ev.EVENT_TYPES))},
                optional={
                    key: st.recursive(
                        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                        lambda inner: (
                            st.lists(inner, max_size=3)
                            | st.dictionaries(st.sampled_from(["type", "output", "id"]), inner)
                        ),
                        max_leaves=8,
                    )
                    for key in ("response", "item", "part", "delta", "error", "sequence_number")
                },
            ),
        ),
    )
)
def test_decode_returns_an_event_or_raises_protocol_error(text: str) -> None:
    """Property: for any data line (random text, or JSON of any shape under a known type),
    decode() returns an Event or raises ProtocolError, never anything else."""
    try:
        event = ev.decode("message", text)
    except ProtocolError as exc:
        assert exc.data == text
    else:
        assert isinstance(event, ev.Event)
        assert event.to_dict() == json.loads(text)


# ----------------------------------------------------------------------- decode's name


def test_decode_takes_the_type_from_the_event_name_when_the_payload_has_none() -> None:
    """Some servers put the type only in the ``event:`` line: decode() uses it, and to_dict()
    still gives back the payload as it arrived (without a type)."""
    event = ev.decode("response.output_text.delta", '{"delta": "hi", "sequence_number": 1}')
    assert isinstance(event, ev.OutputTextDelta)
    assert (event.type, event.delta, event.sequence_number) == (
        "response.output_text.delta",
        "hi",
        1,
    )
    assert event.to_dict() == {"delta": "hi", "sequence_number": 1}


def test_decode_prefers_the_payload_type_and_ignores_the_default_name() -> None:
    """The payload's ``type`` wins over the event name; without either (the SSE default name
    ``message``) the event is unknown."""
    event = ev.decode("response.completed", '{"type": "response.output_text.delta"}')
    assert isinstance(event, ev.OutputTextDelta)
    unnamed = ev.decode("message", '{"delta": "hi"}')
    assert isinstance(unnamed, ev.UnknownEvent) and unnamed.type == ""
    assert unnamed.data == {"delta": "hi"}


# ------------------------------------------------------------------ aliases and errors


@pytest.mark.parametrize("kind", ["keepalive", "response.keep_alive"])
def test_keep_alive_and_its_alias(kind: str) -> None:
    """``keepalive`` and its alias ``response.keep_alive`` are both KeepAlive events that keep
    the type they came with."""
    payload = {"type": kind, "sequence_number": 3}
    event = ev.parse_event(payload)
    assert type(event) is ev.KeepAlive and event.HANDLER == "on_keep_alive"
    assert (event.type, event.sequence_number, event.comment) == (kind, 3, None)
    assert event.to_dict() == payload
    assert ev.KeepAlive.ALIASES == ("response.keep_alive",)


ERRORS: List[Any] = [
    (
        "flat, as documented",
        {"type": "error", "code": "rate_limit_exceeded", "message": "slow down", "param": None},
        ("rate_limit_exceeded", "slow down", None, None, None),
    ),
    (
        "nested, as OpenAI sends it",
        {
            "type": "error",
            "sequence_number": 2,
            "error": {
                "type": "insufficient_quota",
                "code": "insufficient_quota",
                "message": "You exceeded your quota.",
                "param": None,
            },
        },
        ("insufficient_quota", "You exceeded your quota.", None, "insufficient_quota", None),
    ),
    (
        "flat keys win over nested ones",
        {"type": "error", "code": "outer", "error": {"code": "inner", "message": "m"}},
        ("outer", "m", None, None, None),
    ),
    (
        "an integer code (vLLM) becomes a string",
        {"type": "error", "code": 500, "message": "engine dead", "param": None},
        ("500", "engine dead", None, None, None),
    ),
    (
        "a nested string is the message",
        {"type": "error", "error": "upstream timed out"},
        (None, "upstream timed out", None, None, None),
    ),
    (
        "rate-limit headers inside the error",
        {
            "type": "error",
            "error": {"code": "rate_limit_exceeded", "param": "model", "headers": {"a": "1"}},
        },
        ("rate_limit_exceeded", None, "model", None, {"a": "1"}),
    ),
    (
        "no type, an error key (LiteLLM)",
        {"error": {"message": "upstream died", "code": 502}},
        ("502", "upstream died", None, None, None),
    ),
]


@pytest.mark.parametrize(("shape", "payload", "expected"), ERRORS, ids=[e[0] for e in ERRORS])
def test_error_events_are_normalised(shape: str, payload: Dict[str, Any], expected: Any) -> None:
    """Flat and nested error events give the same code, message, param, error_type and
    headers; ``error`` and to_dict() keep what arrived."""
    event = ev.parse_event(copy.deepcopy(payload))
    assert type(event) is ev.ErrorEvent and event.type == "error"
    assert (event.code, event.message, event.param, event.error_type, event.headers) == expected
    assert event.error == payload.get("error")
    assert event.to_dict() == payload


# ------------------------------------------------------------------- events as records

EVENT_CLASSES: List[Type[Any]] = sorted(
    {*ev.EVENT_TYPES.values(), ev.UnknownEvent}, key=lambda c: c.__name__
)


def test_every_event_class_is_found() -> None:
    """The classes checked below are all of them (the alias shares KeepAlive's class)."""
    assert len(EVENT_CLASSES) >= 60
    assert len(EVENT_CLASSES) == len(ev.EVENT_TYPES) - len(ev.KeepAlive.ALIASES) + 1


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_constructor_and_signature_match_the_standard_decorator(cls: Type[Any]) -> None:
    """Each event class takes the same arguments, with the same defaults and the same errors,
    as the standard ``dataclasses.dataclass`` would give it."""
    standard_twin_matches(cls)


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_events_are_frozen(cls: Type[Any]) -> None:
    """Events cannot be changed or have fields deleted."""
    event = cls()
    assert cls.__dataclass_params__.frozen and cls.__dataclass_params__.init
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.type = "x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        del event.type


def test_events_copy_pickle_replace_and_hash() -> None:
    """dataclasses.replace/asdict, pickle and deepcopy work on events, built by hand or parsed
    (a parsed event keeps its extra keys through pickle); equal events hash alike."""
    event = ev.OutputTextDelta(delta="hi", sequence_number=3)
    assert dataclasses.replace(event, delta="yo").delta == "yo"
    assert dataclasses.asdict(event)["delta"] == "hi"
    assert pickle.loads(pickle.dumps(event)) == event
    assert copy.deepcopy(event) == event
    assert hash(event) == hash(ev.OutputTextDelta(delta="hi", sequence_number=3))
    assert event != ev.OutputTextDelta(delta="ho", sequence_number=3)
    parsed = ev.parse_event({"type": "response.output_text.delta", "delta": "x", "extra": 1})
    clone = pickle.loads(pickle.dumps(parsed))
    assert clone == parsed and clone.to_dict() == parsed.to_dict()
    assert clone.to_dict()["extra"] == 1


def test_an_event_built_by_hand_gives_its_fields() -> None:
    """to_dict() of an event that did not come from the wire is its fields; Event.from_dict
    picks the class from the ``type``."""
    event = ev.OutputTextDelta(delta="hi", item_id="msg_1")
    assert event.to_dict() == {
        "type": "response.output_text.delta",
        "sequence_number": None,
        "content_index": None,
        "delta": "hi",
        "item_id": "msg_1",
        "logprobs": None,
        "output_index": None,
    }
    built = ev.Event.from_dict({"type": "response.completed", "response": {"id": "r"}})
    assert isinstance(built, ev.ResponseCompleted) and built.response.id == "r"
    with pytest.raises(TypeError, match=r"Event.from_dict\(\) needs a mapping, got list"):
        ev.Event.from_dict([1])


def test_standard_dataclass_subclasses_of_events_still_work() -> None:
    """A subclass made with the standard decorator stays frozen, and must be frozen."""

    @dataclasses.dataclass(frozen=True)
    class Tagged(ev.OutputTextDelta):
        tag: str = ""

    tagged = Tagged(delta="a", tag="t")
    assert (tagged.delta, tagged.tag) == ("a", "t")
    with pytest.raises(dataclasses.FrozenInstanceError):
        tagged.tag = "u"  # type: ignore[misc]
    with pytest.raises(TypeError, match="non-frozen"):

        @dataclasses.dataclass
        class Loose(ev.OutputTextDelta):
            pass
