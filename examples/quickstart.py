"""Stream a response into a handler: reasoning summary, a tool call, then the answer text.

Runs offline: it starts the SDK's own MockServer on 127.0.0.1 with a scripted response, so no
API key and no network are needed. Point ``Client`` at the real API (drop ``base_url``, set
``OPENAI_API_KEY``) and the same handler works unchanged.

    python examples/quickstart.py
"""

from __future__ import annotations

import responses_stream as rs
from responses_stream.testing import MockServer, Script


class Printer(rs.ResponseHandler):
    """Prints what the model does, as it arrives."""

    def on_reasoning_done(self, reasoning: rs.Reasoning) -> None:
        print(f"[thinking] {reasoning.summary_text}")

    def on_function_call_done(self, call: rs.FunctionCall) -> None:
        print(f"[tool call] {call.name}({call.parsed_arguments})")

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        print(delta, end="", flush=True)

    def on_completed(self, response: rs.Response) -> None:
        usage = response.usage
        tokens = f"{usage.input_tokens} in / {usage.output_tokens} out" if usage else "n/a"
        print(f"\n[done] status={response.status} tokens: {tokens}")


def main() -> rs.Response:
    script = (
        Script(model="gpt-5-mini")
        .reasoning(summary=["The user wants the weather in Paris; I should look it up."])
        .function_call("get_weather", {"city": "Paris"})
        .text("It is 18 °C and sunny in Paris today. Enjoy the walk along the Seine! ☀️")
        .completed()
    )
    with MockServer() as server:
        server.add(script, delay=0.02)  # one event every 20 ms, like a real model
        with rs.Client(base_url=server.url) as client:
            return client.stream(handler=Printer(), model="gpt-5-mini", input="Weather in Paris?")


if __name__ == "__main__":
    main()
