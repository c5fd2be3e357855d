"""Let the model call a Python function: a weather tool loop, end to end.

``@rs.tool`` turns a typed function into a tool (name, description and JSON Schema come from the
function itself). ``client.run()`` streams a turn into your handler, runs the functions the
model calls, sends their results back (``function_call_output`` items after
``previous_response_id``) and streams the next turn, until the model answers in text.

Runs offline: the SDK's MockServer plays the model's two turns, so no key and no network are
needed. Point ``Client`` at the real API and the same code works unchanged.

    python examples/tool_loop.py
"""

from __future__ import annotations

import json
from typing import Dict, Literal

import responses_stream as rs
from responses_stream.testing import MockServer, Script

FORECASTS = {"Paris": (18, "sunny"), "Tokyo": (24, "cloudy")}


@rs.tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> Dict[str, object]:
    """Get the current weather in a city.

    Args:
        city: The city name, e.g. "Paris".
        unit: The temperature unit.
    """
    temp, sky = FORECASTS[city]  # a KeyError goes back to the model as the output
    if unit == "fahrenheit":
        temp = round(temp * 9 / 5 + 32)
    return {"city": city, "temperature": temp, "unit": unit, "sky": sky}


class Printer(rs.ResponseHandler):
    """Prints each turn, each tool call and its result, then the answer as it streams."""

    def on_turn_start(self, turn: int, request_params: Dict[str, object]) -> None:
        print(f"[turn {turn}]")

    def on_function_call_done(self, call: rs.FunctionCall) -> None:
        print(f"  [call] {call.name}({call.arguments})")

    def on_tool_result(self, call: rs.FunctionCall, output: str) -> None:
        print(f"  [result] {output}")

    def on_tool_error(self, call: rs.FunctionCall, exc: Exception) -> None:
        print(f"  [tool error] {exc!r}")

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        print(delta, end="", flush=True)


def main() -> rs.Response:
    # What the model does, turn by turn: two parallel calls, then the answer.
    turn1 = (
        Script(model="gpt-5-mini")
        .function_call("get_weather", {"city": "Paris", "unit": None})
        .function_call("get_weather", {"city": "Tokyo", "unit": None})
        .completed()
    )
    turn2 = (
        Script(model="gpt-5-mini")
        .text("Paris: 18 °C and sunny. Tokyo: 24 °C under clouds. Pack a light jacket for Tokyo!")
        .completed()
    )
    with MockServer() as server, rs.Client(base_url=server.url) as client:
        server.add(turn1, delay=0.01)
        server.add(turn2, delay=0.01)
        final = client.run(
            Printer(),
            tools=[get_weather],
            model="gpt-5-mini",
            input="What's the weather in Paris and Tokyo?",
        )
        sent = server.requests[1].json["input"]
    print(f"\n[{final.status}] turn 2 sent: {json.dumps(sent, ensure_ascii=False)[:120]}...")
    return final


if __name__ == "__main__":
    main()
