"""OpenTelemetry traces of a stream and of a tool loop, printed to the console.

Install the extra (``pip install 'responses-stream[otel]' opentelemetry-sdk``) and hand the client
a tracer provider: every stream becomes a ``chat {model}`` span that follows the OpenTelemetry
GenAI semantic conventions (model, token usage, finish reason, time to first chunk, errors), and
``client.run()`` becomes an ``invoke_agent`` span whose children are one ``chat`` span per turn
and one ``execute_tool {name}`` span per tool call. Prompts and answers are not recorded unless
you pass ``trace_content=True``. Without ``tracer_provider=``, tracing turns itself on when your
application has installed a global tracer provider (``tracing=True`` / ``False`` forces it).

Runs offline: the SDK's MockServer plays the model, so no key and no network are needed.

    python examples/tracing_console.py
"""

from __future__ import annotations

from typing import Dict

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

import responses_stream as rs
from responses_stream.testing import MockServer, Script

SHOWN = {
    "gen_ai.response.finish_reasons": "finish",
    "gen_ai.usage.input_tokens": "in",
    "gen_ai.usage.output_tokens": "out",
    "gen_ai.response.time_to_first_chunk": "first chunk s",
    "gen_ai.tool.call.id": "call",
    "error.type": "error",
}


@rs.tool
def get_weather(city: str) -> Dict[str, object]:
    """Get the current weather in a city.

    Args:
        city: The city name, e.g. "Paris".
    """
    return {"city": city, "temperature": 18, "sky": "sunny"}


class Printer(rs.ResponseHandler):
    """Prints the answer as it streams."""

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        print(delta, end="", flush=True)

    def on_text_done(self, text: str) -> None:
        print()


def one_line(span: ReadableSpan) -> str:
    """A span as one line: its name, duration and a few attributes (the exporter's default
    formatter prints the whole span as JSON)."""
    attributes = dict(span.attributes or {})
    seconds = ((span.end_time or 0) - (span.start_time or 0)) / 1e9
    details = []
    for key, label in SHOWN.items():
        value = attributes.get(key)
        if isinstance(value, float):
            value = round(value, 3)
        elif isinstance(value, tuple):
            value = ",".join(map(str, value))
        if value is not None:
            details.append(f"{label}={value}")
    indent = "  " if span.parent is not None else ""  # the children of a run
    return f"[span] {indent}{span.name} ({seconds:.3f} s) {' '.join(details)}\n"


def main() -> rs.Response:
    # Each finished span is printed as soon as it ends (a real application would use a
    # BatchSpanProcessor with an OTLP exporter instead).
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(formatter=one_line)))

    with MockServer() as server, rs.Client(base_url=server.url, tracer_provider=provider) as client:
        # One stream: one "chat gpt-5-mini" span.
        server.add(
            Script(model="gpt-5-mini").text("Hello from a traced stream!").completed(), delay=0.01
        )
        client.stream(Printer(), model="gpt-5-mini", input="Say hello.")

        # A tool loop: "invoke_agent" > "chat gpt-5-mini", "execute_tool get_weather", "chat ...".
        server.add(
            Script(model="gpt-5-mini").function_call("get_weather", {"city": "Paris"}).completed(),
            delay=0.01,
        )
        server.add(
            Script(model="gpt-5-mini").text("It is 18 °C and sunny in Paris.").completed(),
            delay=0.01,
        )
        final = client.run(
            Printer(), tools=[get_weather], model="gpt-5-mini", input="Weather in Paris?"
        )
    provider.shutdown()
    return final


if __name__ == "__main__":
    main()
