"""Show a reasoning model's summary as it streams, then keep its encrypted reasoning.

Reasoning summaries arrive through ``on_reasoning_delta`` and, once the reasoning item is done,
``on_reasoning_done`` gets the whole ``Reasoning`` item. With ``store=False`` and
``include=["reasoning.encrypted_content"]`` the item carries ``encrypted_content``: send it back
in the next request's ``input`` to keep the model's reasoning across turns.

Runs offline against the SDK's MockServer (no key, no network):

    python examples/reasoning_summaries.py
"""

from __future__ import annotations

import responses_stream as rs
from responses_stream.testing import MockServer, Script


class ReasoningPrinter(rs.ResponseHandler):
    def on_reasoning_delta(self, delta: str, snapshot: str) -> None:
        print(delta, end="", flush=True)

    def on_reasoning_done(self, reasoning: rs.Reasoning) -> None:
        size = len(reasoning.encrypted_content or "")
        print(f"\n[reasoning done; encrypted_content: {size} chars]")

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        print(delta, end="", flush=True)


def main() -> rs.Response:
    script = (
        Script(model="o4-mini")
        .reasoning(
            summary=["**Checking the numbers**\n\n17 x 24 = 17 x 20 + 17 x 4 = 340 + 68."],
            encrypted_content="gAAAAABo" + "x7Kq" * 200,  # opaque; real ones are a few KB
        )
        .text("17 x 24 = 408.")
        .completed()
    )
    with MockServer() as server, rs.Client(base_url=server.url) as client:
        server.add(script, delay=0.02)
        final = client.stream(
            handler=ReasoningPrinter(),
            model="o4-mini",
            input="What is 17 x 24?",
            reasoning={"effort": "low", "summary": "auto"},
            include=["reasoning.encrypted_content"],
            store=False,
        )
    # Next turn: input=[*(item.to_dict() for item in final.output), {"role": "user", ...}]
    print(f"\n[{final.status}] {len(final.reasoning_items)} reasoning item to send back")
    return final


if __name__ == "__main__":
    main()
