"""Pull style: iterate typed events instead of subclassing a handler.

Runs offline against the SDK's MockServer.

    python examples/pull_events.py
"""

from __future__ import annotations

import responses_stream as rs
from responses_stream.testing import MockServer, Script


def main() -> rs.Response:
    script = Script().text("Pull-style iteration gives you every typed event.").completed()
    with MockServer() as server, rs.Client(base_url=server.url) as client:
        server.add(script)
        with client.events(model="gpt-5-mini", input="Hi") as stream:
            for event in stream:
                if isinstance(event, rs.events.OutputTextDelta):
                    print(event.delta, end="", flush=True)
            print(f"\n[{stream.response.status}] request id: {stream.request_id}")
            return stream.response


if __name__ == "__main__":
    main()
