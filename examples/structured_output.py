"""Get a typed object back: structured outputs with a dataclass.

``text_format=WeatherReport`` sends ``text.format`` (a strict JSON Schema built from the
dataclass) and makes ``final.output_parsed`` a ``WeatherReport``. It is parsed only once the
response has completed: an incomplete (cut) response or a refusal gives ``None``, and a partial
JSON value is never handed out.

Runs offline against the SDK's MockServer (no key, no network):

    python examples/structured_output.py
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import List, Literal

import responses_stream as rs
from responses_stream.testing import MockServer, Script


@dataclass
class WeatherReport:
    """A short weather report.

    Attributes:
        city: The city the report is for.
        temperature_c: The temperature in degrees Celsius.
        sky: What the sky looks like.
        tips: Practical advice, one item each.
    """

    city: str
    temperature_c: float
    sky: Literal["sunny", "cloudy", "rain", "snow"]
    tips: List[str]


class Printer(rs.ResponseHandler):
    def on_text_delta(self, delta: str, snapshot: str) -> None:
        print(delta, end="", flush=True)  # the raw JSON, as it streams

    def on_completed(self, response: rs.Response) -> None:
        print(f"\n[completed] parsed: {response.output_parsed}")


def main() -> rs.Response:
    answer = {
        "city": "Paris",
        "temperature_c": 18.5,
        "sky": "sunny",
        "tips": ["Sunglasses", "A light jacket for the evening"],
    }
    script = Script(model="gpt-5-mini").text(json.dumps(answer, ensure_ascii=False)).completed()
    with MockServer() as server, rs.Client(base_url=server.url) as client:
        server.add(script, delay=0.005)
        final = client.stream(
            Printer(),
            text_format=WeatherReport,
            model="gpt-5-mini",
            input="Weather report for Paris, please.",
        )
        sent = server.requests[0].json["text"]["format"]
    report: WeatherReport = final.output_parsed
    print(f"[sent] text.format {sent['name']} strict={sent['strict']}")
    print(f"{report.city}: {report.temperature_c} °C, {report.sky}; tips: {', '.join(report.tips)}")
    return final


if __name__ == "__main__":
    main()
