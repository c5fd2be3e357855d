"""Structured outputs: ``text.format`` built from a dataclass, and ``output_parsed`` set only
after a completed terminal event (never from partial JSON, never for incomplete or refusals)."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
from typing import Any, Dict, List, Optional

import pytest
from dataclasses_json import DataClassJsonMixin, LetterCase, config, dataclass_json

import responses_stream as rs
from responses_stream.errors import OutputParseError
from responses_stream.structured import (
    bind_text_format,
    parse_output,
    prepare_text_format,
    text_format_schema,
)
from responses_stream.testing import MockServer, Script
from responses_stream.tools import tool

from .scripts import FIXTURES


class Mood(enum.Enum):
    HAPPY = "happy"
    SAD = "sad"


@dataclasses.dataclass
class Step:
    explanation: str
    output: str


@dataclasses.dataclass
class MathAnswer:
    """A worked answer to a maths question.

    Attributes:
        steps: The reasoning, one step at a time.
        final_answer: Just the result.
    """

    steps: List[Step]
    final_answer: str
    mood: Mood
    confidence: Optional[float] = None


ANSWER = {
    "steps": [{"explanation": "Subtract 7 from both sides.", "output": "8x = -30"}],
    "final_answer": "x = -3.75",
    "mood": "happy",
    "confidence": 0.9,
}
ANSWER_TEXT = json.dumps(ANSWER, separators=(",", ":"))
PARSED = MathAnswer([Step("Subtract 7 from both sides.", "8x = -30")], "x = -3.75", Mood.HAPPY, 0.9)

MATH_FORMAT = {
    "type": "json_schema",
    "name": "MathAnswer",
    "schema": {
        "type": "object",
        "properties": {
            "steps": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "explanation": {"type": "string"},
                        "output": {"type": "string"},
                    },
                    "required": ["explanation", "output"],
                    "additionalProperties": False,
                },
                "description": "The reasoning, one step at a time.",
            },
            "final_answer": {"type": "string", "description": "Just the result."},
            "mood": {"type": "string", "enum": ["happy", "sad"]},
            "confidence": {"type": ["number", "null"]},
        },
        "required": ["steps", "final_answer", "mood", "confidence"],
        "additionalProperties": False,
    },
    "strict": True,
    "description": "A worked answer to a maths question.",
}


# ---------------------------------------------------------------------------- text.format


def test_text_format_schema() -> None:
    fmt = text_format_schema(MathAnswer)
    assert fmt == MATH_FORMAT


def test_text_format_name_is_sanitised() -> None:
    Weird = dataclasses.make_dataclass("Weird Name!", [("a", int)])
    assert text_format_schema(Weird)["name"] == "Weird_Name_"
    assert "description" not in text_format_schema(Weird)  # no generated docstring


def test_prepare_text_format_merges_and_copies() -> None:
    params: Dict[str, Any] = {"model": "gpt-5", "text": {"verbosity": "low"}}
    prepared = prepare_text_format(params, MathAnswer)
    assert prepared == {"model": "gpt-5", "text": {"verbosity": "low", "format": MATH_FORMAT}}
    assert params == {"model": "gpt-5", "text": {"verbosity": "low"}}  # not mutated
    assert prepare_text_format({}, MathAnswer) == {"text": {"format": MATH_FORMAT}}


def test_prepare_text_format_errors() -> None:
    with pytest.raises(rs.ConfigurationError, match="not both"):
        prepare_text_format({"text": {"format": {"type": "text"}}}, MathAnswer)
    with pytest.raises(rs.ConfigurationError, match="text must be a dict"):
        prepare_text_format({"text": "json"}, MathAnswer)
    with pytest.raises(TypeError, match="must be a dataclass type"):
        prepare_text_format({}, dict)
    with pytest.raises(TypeError, match="must be a dataclass type"):
        prepare_text_format({}, PARSED)  # type: ignore[arg-type] # an instance, not the class

    @dataclasses.dataclass
    class Bad:
        blob: bytes

    with pytest.raises(TypeError, match="unsupported annotation"):
        prepare_text_format({}, Bad)


# -------------------------------------------------------------------- parsing on the wire


def test_stream_sends_the_format_and_parses_the_final_response(
    server: MockServer, client: rs.Client
) -> None:
    server.add(Script(seed=1).text(ANSWER_TEXT).completed())
    params = prepare_text_format({"model": "gpt-5", "input": "Solve 8x + 7 = -23"}, MathAnswer)
    final = bind_text_format(client.stream(**params), MathAnswer)

    assert server.requests[0].json == {
        "model": "gpt-5",
        "input": "Solve 8x + 7 = -23",
        "text": {"format": MATH_FORMAT},
        "stream": True,
    }
    assert final.status == "completed"
    assert final.output_parsed == PARSED
    assert final.output_parsed is final.output_parsed  # parsed once
    assert final.refusal is None
    assert "output_parsed" not in final.to_dict()
    assert "_text_format" not in json.dumps(final.to_dict())


def test_never_parsed_before_the_terminal_event(server: MockServer, client: rs.Client) -> None:
    """Even once output_text.done holds all of the JSON, nothing is parsed until completed."""
    server.add(Script(seed=2).text(ANSWER_TEXT, chunk=7).completed())
    params = prepare_text_format({"input": "x"}, MathAnswer)
    seen: List[Any] = []
    with client.events(**params) as stream:
        bind_text_format(stream.response, MathAnswer)
        for event in stream:
            seen.append((event.type, stream.response.output_parsed))
    assert seen[-1] == ("response.completed", PARSED)
    assert all(parsed is None for _, parsed in seen[:-1])
    assert ("response.output_text.done", None) in seen


def test_handler_sees_the_parsed_output_in_on_completed(
    server: MockServer, client: rs.Client
) -> None:
    """With the snapshot bound before the stream (as Client wiring does), on_completed sees it."""
    got: List[Any] = []

    class Grab(rs.ResponseHandler):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            got.append(("delta", self.snapshot.output_parsed if self.snapshot else "?"))

        def on_completed(self, response: rs.Response) -> None:
            got.append(("completed", response.output_parsed))

    server.add(Script(seed=3).text(ANSWER_TEXT).completed())
    params = prepare_text_format({"input": "x"}, MathAnswer)

    def open_stream() -> rs.EventStream:
        stream = client.events(**params)
        bind_text_format(stream.response, MathAnswer)
        return stream

    from responses_stream.handler import run_handler

    run_handler(Grab(), open_stream)
    assert got[-1] == ("completed", PARSED)
    assert {value for kind, value in got[:-1]} == {None}


def test_incomplete_is_not_parsed(server: MockServer, client: rs.Client) -> None:
    """openai-python #3263: an incomplete response must not be parsed (its JSON is cut)."""
    server.add(Script(seed=4).text(ANSWER_TEXT[:40]).incomplete("max_output_tokens"))
    params = prepare_text_format({"input": "x"}, MathAnswer)
    final = bind_text_format(client.stream(**params), MathAnswer)
    assert final.status == "incomplete"
    assert final.output_parsed is None  # no exception, no partial value
    assert final.output_text == ANSWER_TEXT[:40]  # the raw text is kept
    assert parse_output(final, MathAnswer) is None


def test_refusal_gives_none(server: MockServer, client: rs.Client) -> None:
    server.add(Script(seed=5).refusal("I'm sorry, I can't help with that.").completed())
    final = bind_text_format(client.stream(input="x"), MathAnswer)
    assert final.status == "completed"
    assert final.output_parsed is None
    assert final.refusal == "I'm sorry, I can't help with that."


def test_recorded_refusal() -> None:
    final = bind_text_format(
        rs.replay(FIXTURES / "mirascope__refusal-gpt4o-structured.sse"), MathAnswer
    )
    assert final.status == "completed"
    assert final.refusal and final.output_parsed is None


def test_stopped_stream_gives_none(server: MockServer, client: rs.Client) -> None:
    class StopEarly(rs.ResponseHandler):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            self.stop()

    server.add(Script(seed=6).text(ANSWER_TEXT).completed())
    final = bind_text_format(client.stream(StopEarly(), input="x"), MathAnswer)
    assert final.status == "in_progress"
    assert final.output_parsed is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"steps": [', "the output is not valid JSON for MathAnswer"),
        ('{"steps": [], "final_answer": 3, "mood": "sad", "confidence": null}', "final_answer"),
        ('{"steps": [], "final_answer": "3", "mood": "meh", "confidence": null}', "mood"),
    ],
)
def test_completed_but_not_matching_raises(
    server: MockServer, client: rs.Client, text: str, message: str
) -> None:
    server.add(Script(seed=7).text(text).completed())
    final = bind_text_format(client.stream(input="x"), MathAnswer)
    with pytest.raises(OutputParseError, match=message) as info:
        _ = final.output_parsed
    assert isinstance(info.value, ValueError)
    assert info.value.text == text
    assert info.value.response is final


def test_left_out_field_with_a_default_is_accepted() -> None:
    script = Script(seed=15).text('{"steps": [], "final_answer": "3", "mood": "sad"}').completed()
    final = bind_text_format(rs.replay(script.to_bytes()), MathAnswer)
    assert final.output_parsed == MathAnswer([], "3", Mood.SAD, None)


def test_unbound_and_textless_responses() -> None:
    done = Script(seed=8).text(ANSWER_TEXT).completed()
    final = rs.replay(done.to_bytes())
    assert final.output_parsed is None  # no text_format asked for
    calls_only = rs.replay(Script(seed=9).function_call("f", {}).completed().to_bytes())
    assert bind_text_format(calls_only, MathAnswer).output_parsed is None


def test_the_last_message_is_parsed() -> None:
    """A commentary message before the final one (gpt-5 phases) does not break parsing."""
    script = Script(seed=10).text("Let me work this out.").text(ANSWER_TEXT).completed()
    final = bind_text_format(rs.replay(script.to_bytes()), MathAnswer)
    assert final.output_parsed == PARSED


def test_run_with_text_format(server: MockServer, client: rs.Client) -> None:
    @tool
    def solve(equation: str) -> str:
        """Solve a linear equation."""
        return "x = -3.75"

    server.add(Script(seed=11).function_call("solve", {"equation": "8x+7=-23"}).completed())
    server.add(Script(seed=12).text(ANSWER_TEXT).completed())
    final = client.run(tools=[solve], text_format=MathAnswer, input="Solve 8x + 7 = -23")
    assert final.output_parsed == PARSED
    assert [b["text"] for b in (r.json for r in server.requests)] == [{"format": MATH_FORMAT}] * 2


# ------------------------------------------------- public wiring (Client.stream / events)


def _wired() -> bool:
    return "text_format" in inspect.signature(rs.Client.stream).parameters


@pytest.mark.skipif(not _wired(), reason="Client.stream(text_format=) is not wired yet")
def test_client_stream_text_format(server: MockServer, client: rs.Client) -> None:
    got: List[Any] = []

    class Grab(rs.ResponseHandler):
        def on_completed(self, response: rs.Response) -> None:
            got.append(response.output_parsed)

    server.add(Script(seed=13).text(ANSWER_TEXT).completed())
    final = client.stream(Grab(), text_format=MathAnswer, input="x")  # type: ignore[call-arg]
    assert server.requests[0].json["text"] == {"format": MATH_FORMAT}
    assert final.output_parsed == PARSED
    assert got == [PARSED]

    server.add(Script(seed=14).text(ANSWER_TEXT).completed())
    with client.events(text_format=MathAnswer, input="x") as stream:  # type: ignore[call-arg]
        parsed = [stream.response.output_parsed for _ in stream]
    assert parsed[-1] == PARSED and set(map(id, parsed[:-1])) == {id(None)}


# ------------------------------------------------------- classes set up with dataclasses-json


@dataclass_json(letter_case=LetterCase.CAMEL)
@dataclasses.dataclass
class Ingredient:
    ingredient_name: str
    grams_needed: float = dataclasses.field(metadata=config(field_name="weight"))


@dataclass_json(letter_case=LetterCase.CAMEL)
@dataclasses.dataclass
class Recipe:
    """A recipe the model writes."""

    recipe_title: str
    ingredient_list: List[Ingredient]
    cooking_time: int = dataclasses.field(metadata=config(letter_case=LetterCase.PASCAL))
    chef_note: Optional[str] = None


@dataclasses.dataclass
class Dish(DataClassJsonMixin):
    """The mixin form, configured with ``dataclass_json_config`` as dataclasses-json says."""

    dataclass_json_config = config(letter_case=LetterCase.KEBAB)["dataclasses_json"]

    dish_name: str
    main_course: bool = True


RECIPE = Recipe("Pancakes", [Ingredient("flour", 200.0), Ingredient("milk", 300.0)], 20)


def _keys(schema: Dict[str, Any]) -> List[str]:
    assert schema["required"] == list(schema["properties"])  # strict: every property required
    return list(schema["properties"])


def test_dataclass_json_names_are_the_ones_dataclasses_json_writes() -> None:
    """The schema sent uses the JSON names that dataclasses-json itself gives the fields (class
    letter case, a field's own letter case, config(field_name=...)), nested classes too."""
    fmt = text_format_schema(Recipe)
    schema = fmt["schema"]
    assert fmt["name"] == "Recipe" and fmt["description"] == "A recipe the model writes."
    written = RECIPE.to_dict()
    assert (
        _keys(schema)
        == list(written)
        == ["recipeTitle", "ingredientList", "CookingTime", "chefNote"]
    )
    nested = schema["properties"]["ingredientList"]["items"]
    assert _keys(nested) == list(written["ingredientList"][0]) == ["ingredientName", "weight"]
    assert schema["properties"]["chefNote"] == {"type": ["string", "null"]}
    dish = text_format_schema(Dish)["schema"]
    assert _keys(dish) == list(Dish("soup").to_dict()) == ["dish-name", "main-course"]


def test_dataclass_json_output_is_parsed_under_its_json_names(
    server: MockServer, client: rs.Client
) -> None:
    """The model's JSON (what to_json() writes) parses to the same instance as
    dataclasses-json's own from_json, through the public text_format= keyword."""
    text = RECIPE.to_json()
    server.add(Script(seed=16).text(text).completed())
    params = prepare_text_format({"model": "gpt-5", "input": "pancakes"}, Recipe)
    final = bind_text_format(client.stream(**params), Recipe)
    assert server.requests[0].json["text"]["format"] == text_format_schema(Recipe)
    assert final.output_parsed == RECIPE == Recipe.from_json(text)
    assert final.output_parsed.to_json() == text
    dish = bind_text_format(
        rs.replay(
            Script(seed=17)
            .text('{"dish-name": "soup", "main-course": null}')
            .completed()
            .to_bytes()
        ),
        Dish,
    )
    assert dish.output_parsed == Dish("soup", True)  # null selects the default


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"recipe_title": "x"}, "unexpected property 'recipe_title'"),
        (
            {"recipeTitle": "x", "ingredientList": [{"ingredientName": "egg"}], "CookingTime": 1},
            r"ingredientList\[0\].weight: missing required property",
        ),
        (
            {"recipeTitle": "x", "ingredientList": [], "CookingTime": "1", "chefNote": None},
            "CookingTime: expected an integer",
        ),
    ],
)
def test_dataclass_json_errors_name_the_json_names(data: Dict[str, Any], message: str) -> None:
    """Python field names are not accepted in place of the JSON names, and an error's path
    says what the model wrote."""
    script = Script(seed=18).text(json.dumps(data)).completed()
    final = bind_text_format(rs.replay(script.to_bytes()), Recipe)
    with pytest.raises(OutputParseError, match=message):
        _ = final.output_parsed


def test_two_fields_with_one_json_name_are_refused() -> None:
    @dataclass_json
    @dataclasses.dataclass
    class Clash:
        first: str = dataclasses.field(metadata=config(field_name="name"))
        second: str = dataclasses.field(metadata=config(field_name="name"))

    with pytest.raises(TypeError, match="two fields have the JSON name 'name'"):
        text_format_schema(Clash)


@dataclasses.dataclass
class Checked:
    low: int
    high: int

    def __post_init__(self) -> None:
        assert self.low <= self.high, "low must not exceed high"


@dataclasses.dataclass
class Holds:
    value: List[int]


@pytest.mark.parametrize(
    ("cls", "text", "message"),
    [
        (MathAnswer, '{"steps": [], "final_answer": NaN, "mood": "sad"}', "NaN is not JSON"),
        (
            MathAnswer,
            '{"steps": [], "final_answer": "3", "mood": "sad", "confidence": -Infinity}',
            "-Infinity is not JSON",
        ),
        (Holds, '{"value": ' + "[" * 100_000 + "]" * 100_000 + "}", "nests too deeply"),
        (Checked, '{"low": 3, "high": 1}', "low must not exceed high"),
    ],
    ids=["nan", "infinity", "too-deep", "post-init-assert"],
)
def test_every_bad_output_is_an_output_parse_error(cls: type, text: str, message: str) -> None:
    """Whatever is wrong with the text (constants JSON has not, nesting deeper than Python's
    stack, a __post_init__ check that fails with any exception) is OutputParseError."""
    final = bind_text_format(rs.replay(Script(seed=11).text(text).completed().to_bytes()), cls)
    with pytest.raises(OutputParseError, match=message):
        _ = final.output_parsed


def test_a_set_of_unhashable_items_or_a_required_init_var_is_refused_up_front() -> None:
    """Types no JSON value could ever build are a TypeError when the schema is made."""

    @dataclasses.dataclass
    class Sets:
        tags: frozenset[Checked]

    @dataclasses.dataclass
    class Scaled:
        x: int
        scale: dataclasses.InitVar[int]

    @dataclasses.dataclass
    class ScaledByDefault:
        x: int
        scale: dataclasses.InitVar[int] = 2

    with pytest.raises(TypeError, match="the items of a set must be hashable"):
        text_format_schema(Sets)
    with pytest.raises(TypeError, match="'scale' is an init-only parameter"):
        text_format_schema(Scaled)
    assert list(text_format_schema(ScaledByDefault)["schema"]["properties"]) == ["x"]
