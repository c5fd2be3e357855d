"""The tool loop (``client.run`` / ``_loop.run``) against a scripted local server: the exact
JSON body sent each turn, and the callbacks fired."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import pytest

import responses_stream as rs
from responses_stream.errors import MaxTurnsExceeded
from responses_stream.testing import MockServer, Script
from responses_stream.tools import UnknownToolError, tool

# ------------------------------------------------------------------------------- tools


@tool
def get_weather(city: str, unit: str = "celsius") -> Dict[str, Any]:
    """Current weather for a city.

    Args:
        city: The city name.
        unit: celsius or fahrenheit.
    """
    if city == "Atlantis":
        raise LookupError(f"no weather station in {city}")
    return {"city": city, "temp": 18 if unit == "celsius" else 64, "unit": unit}


@tool
def get_time(city: str) -> str:
    """Local time in a city."""
    return f"12:00 in {city}"


WEATHER_SCHEMA = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "The city name."},
            "unit": {
                "type": ["string", "null"],
                "description": 'celsius or fahrenheit. (null means the default: "celsius")',
            },
        },
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
    "strict": True,
}
TIME_SCHEMA = {
    "type": "function",
    "name": "get_time",
    "description": "Local time in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


def fco(call_id: str, output: str) -> Dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def final_output(script: Script) -> List[Dict[str, Any]]:
    """The ``output`` of a script's terminal event (what the server says it produced)."""
    return script.events()[-1]["response"]["output"]  # type: ignore[no-any-return]


class Recorder(rs.ResponseHandler):
    """Records the loop callbacks and a few stream callbacks, in order."""

    def __init__(self) -> None:
        self.log: List[Tuple[str, Any]] = []
        self.turn_params: List[Dict[str, Any]] = []
        self.threads: List[str] = []

    def on_turn_start(self, turn: int, request_params: Dict[str, Any]) -> None:
        self.log.append(("turn", turn))
        self.turn_params.append(dict(request_params))

    def on_created(self, response: rs.Response) -> None:
        self.log.append(("created", response.id))

    def on_function_call_done(self, call: rs.FunctionCall) -> None:
        self.log.append(("call_done", call.call_id))

    def on_tool_result(self, call: rs.FunctionCall, output: str) -> None:
        self.threads.append(threading.current_thread().name)
        self.log.append(("tool_result", (call.call_id, output)))

    def on_tool_error(self, call: rs.FunctionCall, exc: Exception) -> None:
        self.log.append(("tool_error", (call.call_id, type(exc).__name__)))

    def on_text_done(self, text: str) -> None:
        self.log.append(("text", text))

    def on_completed(self, response: rs.Response) -> None:
        self.log.append(("completed", response.id))

    def on_end(self) -> None:
        self.log.append(("end", None))


def bodies(server: MockServer) -> List[Dict[str, Any]]:
    return [r.json for r in server.requests]


# ------------------------------------------------------------------------ conversations


def test_two_turns_parallel_calls(server: MockServer, client: rs.Client) -> None:
    """Two calls in one turn: both run in order, the next turn answers both, by response id."""
    turn1 = (
        Script(seed=1)
        .function_call("get_weather", {"city": "Paris", "unit": None}, call_id="call_a")
        .function_call("get_time", {"city": "Tokyo"}, call_id="call_b")
        .completed()
    )
    turn2 = Script(seed=2).text("18 °C in Paris; noon in Tokyo.").completed()
    server.add(turn1)
    server.add(turn2)
    handler = Recorder()

    final = client.run(
        handler,
        tools=[get_weather, get_time],
        model="gpt-5",
        input="Weather in Paris, time in Tokyo?",
        instructions="Be brief.",
    )

    assert final.status == "completed"
    assert final.id == turn2.response_id
    assert final.output_text == "18 °C in Paris; noon in Tokyo."
    weather = '{"city":"Paris","temp":18,"unit":"celsius"}'
    assert bodies(server) == [
        {
            "model": "gpt-5",
            "input": "Weather in Paris, time in Tokyo?",
            "instructions": "Be brief.",
            "tools": [WEATHER_SCHEMA, TIME_SCHEMA],
            "stream": True,
        },
        {
            "model": "gpt-5",
            "input": [fco("call_a", weather), fco("call_b", "12:00 in Tokyo")],
            "instructions": "Be brief.",  # instructions do not carry over: sent every turn
            "tools": [WEATHER_SCHEMA, TIME_SCHEMA],
            "previous_response_id": turn1.response_id,
            "stream": True,
        },
    ]
    assert handler.log == [
        ("turn", 1),
        ("created", turn1.response_id),
        ("call_done", "call_a"),
        ("call_done", "call_b"),
        ("completed", turn1.response_id),
        ("end", None),
        ("tool_result", ("call_a", weather)),
        ("tool_result", ("call_b", "12:00 in Tokyo")),
        ("turn", 2),
        ("created", turn2.response_id),
        ("text", "18 °C in Paris; noon in Tokyo."),
        ("completed", turn2.response_id),
        ("end", None),
    ]
    # on_turn_start saw exactly what was sent (minus the SDK's own stream flag).
    assert handler.turn_params == [
        {k: v for k, v in body.items() if k != "stream"} for body in bodies(server)
    ]


def test_three_turns_with_a_failing_tool_an_unknown_tool_and_bad_arguments(
    server: MockServer, client: rs.Client
) -> None:
    """Errors go back to the model as outputs; the loop carries on to the answer."""
    turn1 = Script(seed=3).function_call("get_weather", {"city": "Oslo"}, call_id="c1").completed()
    turn2 = (
        Script(seed=4)
        .function_call("get_weather", {"city": "Atlantis", "unit": None}, call_id="c2")
        .function_call("get_stock_price", {"ticker": "ACME"}, call_id="c3")
        .function_call("get_weather", {"town": "Rome"}, call_id="c4")
        .function_call("get_time", '{"city": "Rome"', call_id="c5")
        .function_call("get_time", {"city": 7}, call_id="c6")
        .completed()
    )
    turn3 = Script(seed=5).text("Oslo is 18 °C; I could not find the rest.").completed()
    for script in (turn1, turn2, turn3):
        server.add(script)
    handler = Recorder()

    final = client.run(handler, tools=[get_weather, get_time], model="m", input="Weather?")

    assert final.output_text == "Oslo is 18 °C; I could not find the rest."
    sent = bodies(server)
    assert len(sent) == 3
    assert sent[1]["input"] == [fco("c1", '{"city":"Oslo","temp":18,"unit":"celsius"}')]
    assert sent[1]["previous_response_id"] == turn1.response_id
    assert sent[2]["previous_response_id"] == turn2.response_id
    assert sent[2]["input"] == [
        fco("c2", "Error: LookupError: no weather station in Atlantis"),
        fco(
            "c3",
            "Error: unknown tool 'get_stock_price'; the available tools are: get_time, get_weather",
        ),
        fco(
            "c4",
            "Error: invalid arguments for tool 'get_weather': arguments: unexpected property "
            "'town' (expected only city, unit)",
        ),
        fco("c5", sent[2]["input"][3]["output"]),  # checked below: json's wording varies
        fco(
            "c6",
            "Error: invalid arguments for tool 'get_time': city: expected a string, got an "
            "integer 7",
        ),
    ]
    bad_json = sent[2]["input"][3]["output"]
    assert bad_json.startswith(
        "Error: function call 'get_time' (c5) has arguments that are not valid JSON: "
    )
    assert bad_json.endswith('; raw arguments: \'{"city": "Rome"\'')
    errors = [entry for entry in handler.log if entry[0] in ("tool_error", "tool_result")]
    assert errors == [
        ("tool_result", ("c1", '{"city":"Oslo","temp":18,"unit":"celsius"}')),
        ("tool_error", ("c2", "LookupError")),
        ("tool_error", ("c3", "UnknownToolError")),
        ("tool_error", ("c4", "InvalidArgumentsError")),
        ("tool_error", ("c5", "InvalidArgumentsError")),
        ("tool_error", ("c6", "InvalidArgumentsError")),
    ]
    assert [e for e in handler.log if e[0] == "turn"] == [("turn", 1), ("turn", 2), ("turn", 3)]


def test_store_false_resends_the_conversation_with_encrypted_reasoning(
    server: MockServer, client: rs.Client
) -> None:
    """store=False: include encrypted reasoning, and send everything again every turn."""
    turn1 = (
        Script(model="o4-mini", seed=6)
        .reasoning(["Look up the weather first."], encrypted_content="gAAAA-enc-1")
        .function_call("get_weather", {"city": "Lima", "unit": "fahrenheit"}, call_id="s1")
        .completed()
    )
    turn2 = (
        Script(model="o4-mini", seed=7)
        .reasoning([], encrypted_content="gAAAA-enc-2")
        .function_call("get_time", {"city": "Lima"}, call_id="s2")
        .completed()
    )
    turn3 = Script(model="o4-mini", seed=8).text("64 °F at noon in Lima.").completed()
    for script in (turn1, turn2, turn3):
        server.add(script)
    handler = Recorder()

    final = client.run(
        handler,
        tools=[get_weather, get_time],
        model="o4-mini",
        input=[{"role": "user", "content": "Lima?"}],
        store=False,
        include=["message.output_text.logprobs"],
        reasoning={"effort": "low", "summary": "auto"},
    )

    assert final.output_text == "64 °F at noon in Lima."
    user = {"role": "user", "content": "Lima?"}
    out1, out2 = final_output(turn1), final_output(turn2)
    reasoning1, call1 = out1
    assert reasoning1 == {
        "id": reasoning1["id"],
        "type": "reasoning",
        "encrypted_content": "gAAAA-enc-1",
        "summary": [{"type": "summary_text", "text": "Look up the weather first."}],
    }
    assert call1["call_id"] == "s1" and call1["type"] == "function_call"
    weather = '{"city":"Lima","temp":64,"unit":"fahrenheit"}'
    common = {
        "model": "o4-mini",
        "store": False,
        "include": ["message.output_text.logprobs", "reasoning.encrypted_content"],
        "reasoning": {"effort": "low", "summary": "auto"},
        "tools": [WEATHER_SCHEMA, TIME_SCHEMA],
        "stream": True,
    }
    assert bodies(server) == [
        {**common, "input": [user]},
        {**common, "input": [user, *out1, fco("s1", weather)]},
        {**common, "input": [user, *out1, fco("s1", weather), *out2, fco("s2", "12:00 in Lima")]},
    ]
    assert all("previous_response_id" not in body for body in bodies(server))


def test_store_false_with_a_string_input_and_no_include(
    server: MockServer, client: rs.Client
) -> None:
    turn1 = Script(seed=9).function_call("get_time", {"city": "Cairo"}, call_id="t1").completed()
    turn2 = Script(seed=10).text("Noon.").completed()
    server.add(turn1)
    server.add(turn2)

    client.run(tools=[get_time], model="m", input="Time in Cairo?", store=False)

    first, second = bodies(server)
    assert first["input"] == "Time in Cairo?"
    assert first["include"] == ["reasoning.encrypted_content"]
    assert second["input"] == [
        {"role": "user", "content": "Time in Cairo?"},
        *final_output(turn1),
        fco("t1", "12:00 in Cairo"),
    ]


def test_max_turns_reached(server: MockServer, client: rs.Client) -> None:
    """The last allowed turn still calls a tool: MaxTurnsExceeded with every response."""
    scripts = [
        Script(seed=20 + i).function_call("get_time", {"city": "Rome"}, call_id=f"m{i}").completed()
        for i in range(3)
    ]
    for script in scripts:
        server.add(script)
    handler = Recorder()

    with pytest.raises(MaxTurnsExceeded) as info:
        client.run(handler, tools=[get_time], max_turns=3, model="m", input="Loop")

    exc = info.value
    assert isinstance(exc, rs.ResponsesStreamError)
    assert str(exc) == "the model still called tools after 3 turns"
    assert [r.id for r in exc.responses] == [s.response_id for s in scripts]
    assert exc.response is exc.responses[-1]
    assert len(server.requests) == 3
    # The calls of the last turn are not run: their results could not be sent.
    results = [e[1][0] for e in handler.log if e[0] == "tool_result"]
    assert results == ["m0", "m1"]


def test_max_turns_one(server: MockServer, client: rs.Client) -> None:
    server.add(Script(seed=30).function_call("get_time", {"city": "Rome"}).completed())
    with pytest.raises(MaxTurnsExceeded, match=r"after 1 turn$") as info:
        client.run(tools=[get_time], max_turns=1, model="m", input="x")
    assert len(info.value.responses) == 1


def test_no_function_calls_is_one_turn(server: MockServer, client: rs.Client) -> None:
    server.add(Script(seed=31).text("Hello!").completed())
    handler = Recorder()
    final = client.run(handler, tools=[get_time], model="m", input="Hi")
    assert final.output_text == "Hello!"
    assert len(server.requests) == 1
    assert [e for e in handler.log if e[0] == "turn"] == [("turn", 1)]


# ----------------------------------------------------------------------- tool execution


def test_tool_workers_run_calls_concurrently_and_answer_in_call_order(
    server: MockServer, client: rs.Client
) -> None:
    barrier = threading.Barrier(3, timeout=10)

    @tool
    def slow(n: int) -> int:
        """Waits until all three calls run at once, then finishes in reverse order."""
        barrier.wait()
        time.sleep(0.05 * (3 - n))
        return n * 10

    turn1 = Script(seed=40)
    for n in range(3):
        turn1 = turn1.function_call("slow", {"n": n}, call_id=f"p{n}")
    server.add(turn1.completed())
    server.add(Script(seed=41).text("Done.").completed())
    handler = Recorder()

    client.run(handler, tools=[slow], tool_workers=3, model="m", input="go")

    assert bodies(server)[1]["input"] == [fco("p0", "0"), fco("p1", "10"), fco("p2", "20")]
    results = [e[1][0] for e in handler.log if e[0] == "tool_result"]
    assert results == ["p0", "p1", "p2"]
    # Callbacks run on the caller's thread, never on a worker.
    assert set(handler.threads) == {threading.current_thread().name}


def test_calls_run_one_by_one_by_default(server: MockServer, client: rs.Client) -> None:
    active: List[int] = []
    seen: List[int] = []

    @tool
    def step(n: int) -> str:
        """One step."""
        active.append(n)
        seen.append(len(active))
        time.sleep(0.01)
        active.remove(n)
        return "ok"

    script = Script(seed=42)
    for n in range(3):
        script = script.function_call("step", {"n": n})
    server.add(script.completed())
    server.add(Script(seed=43).text("ok").completed())
    client.run(tools=[step], model="m", input="go")
    assert seen == [1, 1, 1]


def test_raise_tool_errors(server: MockServer, client: rs.Client) -> None:
    server.add(
        Script(seed=50)
        .function_call("get_weather", {"city": "Atlantis", "unit": None}, call_id="r1")
        .function_call("get_time", {"city": "Rome"}, call_id="r2")
        .completed()
    )
    handler = Recorder()
    with pytest.raises(LookupError, match="no weather station in Atlantis"):
        client.run(handler, tools=[get_weather, get_time], raise_tool_errors=True, input="x")
    assert ("tool_error", ("r1", "LookupError")) in handler.log
    assert not [e for e in handler.log if e[0] == "tool_result"]  # r2 never ran
    assert len(server.requests) == 1


def test_raise_tool_errors_with_workers_still_answers_unknown_tools(
    server: MockServer, client: rs.Client
) -> None:
    """raise_tool_errors is about exceptions from tools; bad calls are still answered."""
    server.add(Script(seed=51).function_call("nope", {}, call_id="u1").completed())
    server.add(Script(seed=52).text("Sorry.").completed())
    final = client.run(tools=[get_time], raise_tool_errors=True, tool_workers=2, input="x")
    assert final.output_text == "Sorry."
    assert bodies(server)[1]["input"][0]["output"].startswith("Error: unknown tool 'nope'")

    server.add(
        Script(seed=53)
        .function_call("get_time", {"city": "Rome"}, call_id="w1")
        .function_call("get_weather", {"city": "Atlantis", "unit": None}, call_id="w2")
        .completed()
    )
    handler = Recorder()
    with pytest.raises(LookupError):
        client.run(
            handler,
            tools=[get_weather, get_time],
            raise_tool_errors=True,
            tool_workers=2,
        )
    assert [e[0] for e in handler.log if e[0].startswith("tool")] == ["tool_result", "tool_error"]


def test_unserialisable_result_is_a_tool_error(server: MockServer, client: rs.Client) -> None:
    @tool
    def opaque() -> object:
        """Returns something JSON cannot hold."""
        return object()

    server.add(Script(seed=54).function_call("opaque", {}, call_id="o1").completed())
    server.add(Script(seed=55).text("Hm.").completed())
    handler = Recorder()
    client.run(handler, tools=[opaque], input="x")
    assert bodies(server)[1]["input"] == [
        fco("o1", "Error: TypeError: Object of type object is not JSON serializable")
    ]
    assert ("tool_error", ("o1", "TypeError")) in handler.log


def test_tool_results_of_every_shape(server: MockServer, client: rs.Client) -> None:
    @dataclasses.dataclass
    class Reading:
        city: str
        temp: float

    @tool
    def shape(kind: str) -> Any:
        """Returns a value of the given kind."""
        return {
            "str": "plain",
            "none": None,
            "list": [1, "a"],
            "dataclass": Reading("Oslo", 3.5),
            "number": 2.5,
        }[kind]

    script = Script(seed=56)
    for kind in ("str", "none", "list", "dataclass", "number"):
        script = script.function_call("shape", {"kind": kind}, call_id=kind)
    server.add(script.completed())
    server.add(Script(seed=57).text("ok").completed())
    client.run(tools=[shape], input="x")
    assert bodies(server)[1]["input"] == [
        fco("str", "plain"),
        fco("none", "null"),
        fco("list", '[1,"a"]'),
        fco("dataclass", '{"city":"Oslo","temp":3.5}'),
        fco("number", "2.5"),
    ]


# ------------------------------------------------------------------------ other endings


def test_incomplete_turn_is_returned_without_running_its_calls(
    server: MockServer, client: rs.Client
) -> None:
    server.add(
        Script(seed=60)
        .function_call("get_time", '{"city": "Ro', call_id="i1")
        .incomplete("max_output_tokens")
    )
    handler = Recorder()
    final = client.run(handler, tools=[get_time], input="x")
    assert final.status == "incomplete"
    assert final.function_calls[0].call_id == "i1"
    assert not [e for e in handler.log if e[0].startswith("tool")]
    assert len(server.requests) == 1


def test_stop_from_a_tool_callback_ends_the_loop(server: MockServer, client: rs.Client) -> None:
    class Stopper(Recorder):
        def on_tool_result(self, call: rs.FunctionCall, output: str) -> None:
            super().on_tool_result(call, output)
            self.stop()

    turn1 = Script(seed=61).function_call("get_time", {"city": "Rome"}).completed()
    server.add(turn1)
    final = client.run(Stopper(), tools=[get_time], input="x")
    assert final.id == turn1.response_id
    assert len(server.requests) == 1


def test_stop_during_a_stream_ends_the_loop(server: MockServer, client: rs.Client) -> None:
    class StopAtCall(rs.ResponseHandler):
        def on_function_call_done(self, call: rs.FunctionCall) -> None:
            self.stop()

    server.add(Script(seed=62).function_call("get_time", {"city": "Rome"}).completed())
    final = client.run(StopAtCall(), tools=[get_time], input="x")
    assert final.status == "in_progress"
    assert len(server.requests) == 1


def test_failed_turn_raises(server: MockServer, client: rs.Client) -> None:
    server.add(Script(seed=63).failed(code="server_error", message="boom"))
    with pytest.raises(rs.ResponseFailedError):
        client.run(tools=[get_time], input="x")


# ---------------------------------------------------------------------- request shaping


def test_on_turn_start_changes_are_sent_and_kept(server: MockServer, client: rs.Client) -> None:
    """A change made in on_turn_start is sent on that turn and kept for the next ones:
    tool_choice "required" on turn 1, set back to "auto" on turn 2 (so the loop can end),
    still "auto" on turn 3."""

    class Relax(rs.ResponseHandler):
        def on_turn_start(self, turn: int, request_params: Dict[str, Any]) -> None:
            if turn == 2:
                request_params["tool_choice"] = "auto"

    for i in range(2):
        server.add(Script(seed=70 + i).function_call("get_time", {"city": "Rome"}).completed())
    server.add(Script(seed=72).text("ok").completed())
    client.run(Relax(), tools=[get_time], tool_choice="required", input="x")
    assert [b["tool_choice"] for b in bodies(server)] == ["required", "auto", "auto"]


def test_conversation_param_needs_no_previous_response_id(
    server: MockServer, client: rs.Client
) -> None:
    server.add(
        Script(seed=73).function_call("get_time", {"city": "Rome"}, call_id="v1").completed()
    )
    server.add(Script(seed=74).text("ok").completed())
    client.run(tools=[get_time], conversation="conv_123", input="x")
    second = bodies(server)[1]
    assert second["conversation"] == "conv_123"
    assert second["input"] == [fco("v1", "12:00 in Rome")]
    assert "previous_response_id" not in second


def test_plain_functions_and_raw_tool_dicts(server: MockServer, client: rs.Client) -> None:
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    web_search = {"type": "web_search"}
    server.add(Script(seed=75).function_call("add", {"a": 2, "b": 3}, call_id="x1").completed())
    server.add(Script(seed=76).text("5").completed())
    client.run(tools=[add, web_search], input="2+3?")
    first, second = bodies(server)
    add_schema = {
        "type": "function",
        "name": "add",
        "description": "Add two numbers.",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
            "additionalProperties": False,
        },
        "strict": True,
    }
    assert first["tools"] == [add_schema, {"type": "web_search"}]
    assert second["input"] == [fco("x1", "5")]


def test_stream_options_pass_through(server: MockServer, client: rs.Client) -> None:
    server.add(Script(seed=77).text("ok").completed())
    client.run(
        tools=[],
        input="x",
        timeout=30,
        max_retries=0,
        extra_headers={"X-Trace": "t1"},
    )
    assert server.requests[0].headers["x-trace"] == "t1"
    # The stream options shape the call; none of them goes into the body.
    assert server.requests[0].json == {"input": "x", "tools": [], "stream": True}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_turns": 0}, "max_turns must be an int >= 1"),
        ({"max_turns": True}, "max_turns must be an int >= 1"),
        ({"tool_workers": 0}, "tool_workers must be None or an int >= 1"),
        ({"accumulate": False}, "drop accumulate=False"),
        ({"tools": get_time}, "tools must be a list"),
        ({"tools": [get_time, get_time]}, "two tools are named 'get_time'"),
    ],
)
def test_configuration_errors(
    server: MockServer, client: rs.Client, kwargs: Dict[str, Any], message: str
) -> None:
    params: Dict[str, Any] = {"tools": [get_time], "input": "x", **kwargs}
    with pytest.raises(rs.ConfigurationError, match=message):
        client.run(**params)
    assert server.requests == []


def test_unknown_tool_error_is_passed_to_the_handler(server: MockServer, client: rs.Client) -> None:
    seen: List[Optional[Exception]] = []

    class Keep(rs.ResponseHandler):
        def on_tool_error(self, call: rs.FunctionCall, exc: Exception) -> None:
            seen.append(exc)

    server.add(Script(seed=78).function_call("ghost", {}).completed())
    server.add(Script(seed=79).text("ok").completed())
    client.run(Keep(), tools=[get_time], input="x")
    assert isinstance(seen[0], UnknownToolError) and seen[0].name == "ghost"


# ----------------------------------------------------- public wiring (Client.run, exports)


@pytest.mark.skipif(not hasattr(rs.Client, "run"), reason="Client.run is not wired yet")
def test_client_run_and_exports(server: MockServer, client: rs.Client) -> None:
    assert rs.tool is tool  # type: ignore[attr-defined]
    assert rs.function_call_output is rs.tools.function_call_output  # type: ignore[attr-defined]
    assert rs.errors.MaxTurnsExceeded is MaxTurnsExceeded  # type: ignore[attr-defined]
    server.add(
        Script(seed=90).function_call("get_time", {"city": "Rome"}, call_id="z1").completed()
    )
    server.add(Script(seed=91).text("Noon in Rome.").completed())
    handler = Recorder()
    final = client.run(handler, tools=[get_time], model="m", input="x")  # type: ignore[attr-defined]
    assert final.output_text == "Noon in Rome."
    assert bodies(server)[1]["input"] == [fco("z1", "12:00 in Rome")]
    assert ("tool_result", ("z1", "12:00 in Rome")) in handler.log


@tool
def total(values: List[int]) -> int:
    """Add numbers up."""
    return sum(values)


@pytest.mark.parametrize(
    ("arguments", "why"),
    [
        ('{"values": ' + "[" * 100_000 + "]" * 100_000 + "}", "nests too deeply"),
        ('{"values": [1, NaN]}', "NaN is not JSON"),
        ('{"values": [Infinity]}', "Infinity is not JSON"),
    ],
    ids=["too-deep", "nan", "infinity"],
)
def test_arguments_json_cannot_hold_are_answered_to_the_model(
    server: MockServer, client: rs.Client, arguments: str, why: str
) -> None:
    """Arguments nested deeper than Python's stack, or with NaN/Infinity (not JSON), are
    invalid arguments like any other: answered to the model, reported to on_tool_error."""
    turn1 = Script(seed=71).function_call("total", arguments).completed()
    server.add(turn1)
    server.add(Script(seed=72).text("sorry").completed())
    handler = Recorder()
    final = client.run(handler, tools=[total], input="x")
    assert final.output_text == "sorry"
    (answer,) = bodies(server)[1]["input"]
    assert answer["type"] == "function_call_output" and why in answer["output"]
    assert ("tool_error", (final_output(turn1)[0]["call_id"], "InvalidArgumentsError")) in (
        handler.log
    )


def test_tool_definitions_no_call_could_satisfy_are_refused_when_decorated() -> None:
    """A set of unhashable items, and a name with a trailing newline, fail at decoration."""

    def tags(values: set[List[int]]) -> None:
        """Tags."""

    def named() -> None:
        """Named."""

    with pytest.raises(TypeError, match="the items of a set must be hashable"):
        tool(tags)
    with pytest.raises(ValueError, match="letters, digits"):
        tool(named, name="get_weather\n")


def test_stop_in_on_turn_start_sends_no_more_requests(
    server: MockServer, client: rs.Client
) -> None:
    """stop() between turns (here in on_turn_start of turn 2) ends the run before its
    request: the last turn's response is returned, its tools having run."""

    class StopAtTurnTwo(Recorder):
        def on_turn_start(self, turn: int, request_params: Dict[str, Any]) -> None:
            super().on_turn_start(turn, request_params)
            if turn == 2:
                self.stop()

    turn1 = Script(seed=73).function_call("get_time", {"city": "Rome"}).completed()
    server.add(turn1)
    handler = StopAtTurnTwo()
    final = client.run(handler, tools=[get_time], input="x")
    assert final.id == turn1.response_id and len(server.requests) == 1
    assert [entry for entry in handler.log if entry[0] == "turn"] == [("turn", 1), ("turn", 2)]
    assert any(entry[0] == "tool_result" for entry in handler.log)
    # the next call on the same handler starts afresh
    server.add(Script(seed=74).text("hello").completed())
    assert client.run(rs.ResponseHandler(), tools=[get_time], input="y").output_text == "hello"


@pytest.mark.parametrize("store", [False, None])
def test_what_on_turn_start_adds_is_part_of_the_conversation(
    server: MockServer, client: rs.Client, store: Optional[bool]
) -> None:
    """A developer message put in front by on_turn_start in turn 1, and a note appended in
    turn 2: with store=False every later turn re-sends both (they were lost); with a
    stored conversation, turn 2 sends the outputs and the note."""
    developer = {"role": "developer", "content": "be terse"}
    note = {"role": "user", "content": "and in Lima?"}

    class Injecting(rs.ResponseHandler):
        def on_turn_start(self, turn: int, params: Dict[str, Any]) -> None:
            if turn == 1:
                params["input"] = [developer, *params["input"]]
            if turn == 2:
                params["input"] = [*params["input"], note]

    turn1 = Script(seed=31).function_call("get_time", {"city": "Cairo"}, call_id="t1").completed()
    turn2 = Script(seed=32).function_call("get_time", {"city": "Lima"}, call_id="t2").completed()
    server.add(turn1)
    server.add(turn2)
    server.add(Script(seed=33).text("Noon twice.").completed())
    user = {"role": "user", "content": "Time in Cairo?"}
    extra = {"store": False} if store is False else {}
    client.run(Injecting(), tools=[get_time], model="m", input=[user], **extra)

    first, second, third = bodies(server)
    assert first["input"] == [developer, user]
    out1 = [*final_output(turn1), fco("t1", "12:00 in Cairo")]
    out2 = [*final_output(turn2), fco("t2", "12:00 in Lima")]
    if store is False:
        assert second["input"] == [developer, user, *out1, note]
        assert third["input"] == [developer, user, *out1, note, *out2]
    else:
        assert second["input"] == [fco("t1", "12:00 in Cairo"), note]
        assert third["input"] == [fco("t2", "12:00 in Lima")]


def test_a_raw_function_tool_named_like_a_tool_is_refused_before_any_request(
    server: MockServer, client: rs.Client
) -> None:
    """The API refuses two tools of one name, after the request went out: refused here."""
    raw = {"type": "function", "name": "get_time", "parameters": {"type": "object"}}
    with pytest.raises(rs.errors.ConfigurationError, match="get_time"):
        client.run(tools=[get_time, raw], model="m", input="x")
    with pytest.raises(rs.errors.ConfigurationError, match="get_time"):
        client.run(tools=[raw, dict(raw)], model="m", input="x")
    assert server.requests == []
