"""StreamMetrics: timings and counts of every stream, on the response, the stream and, live,
the handler; over a real local server, and offline for replay."""

from __future__ import annotations

import dataclasses
from typing import Any, List

import pytest

import responses_stream as rs
from responses_stream.testing import MockServer, Script

DELAY = 0.02
"""Seconds between the pieces the server sends (one piece per event)."""


def _script() -> Script:
    return (
        Script(seed=9)
        .text("one two three four five six seven")
        .completed(usage={"output_tokens": 70})
    )


def test_a_streamed_response_carries_its_metrics(server: MockServer) -> None:
    """Durations come in order, counts match what was sent, the rate uses usage tokens."""
    script = _script()
    body = script.to_bytes()
    server.add(script, delay=DELAY)
    with rs.Client(api_key="sk-test", base_url=server.url) as client:
        final = client.stream(model="m", input="hi")
    m = final.metrics
    assert isinstance(m, rs.StreamMetrics)
    assert m.request_id is not None and m.request_id.startswith("req_")
    assert m.events == len(script.events())
    assert m.bytes == len(body)
    assert m.retries == 0 and m.resumes == 0
    assert m.started_at is not None and m.started_at > 1e9  # wall clock
    assert m.time_to_headers is not None and m.time_to_first_event is not None
    assert m.time_to_first_token is not None and m.duration is not None
    assert 0 <= m.time_to_headers <= m.time_to_first_event <= m.time_to_first_token <= m.duration
    deltas = [e for e in script.events() if e["type"] == "response.output_text.delta"]
    # The first token comes after the events before it, each DELAY apart.
    assert m.time_to_first_token - m.time_to_first_event >= 0.5 * DELAY
    assert m.max_gap is not None and m.max_gap >= 0.5 * DELAY
    assert m.output_tokens_per_second is not None
    span = (len(deltas) - 1) * DELAY
    assert 70 / (span * 4) < m.output_tokens_per_second < 70 / (span * 0.25)


def test_metrics_are_not_part_of_to_dict_and_absent_on_a_retrieved_response(
    server: MockServer,
) -> None:
    """to_dict() is the wire data only; a response that was not streamed has no metrics."""
    server.add(_script())
    with rs.Client(api_key="sk-test", base_url=server.url) as client:
        final = client.stream(model="m", input="hi")
        assert "metrics" not in final.to_dict() and "_metrics" not in final.to_dict()
        server.add_json(
            {"id": "resp_x", "object": "response", "status": "completed"},
            method="GET",
            path="responses/resp_x",
        )
        assert client.retrieve("resp_x").metrics is None


def test_handler_metrics_are_live_during_the_stream(server: MockServer) -> None:
    """In callbacks, handler.metrics counts the events so far; after, it is the final one."""
    seen: List[rs.StreamMetrics] = []

    class Watch(rs.ResponseHandler):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            metrics = self.metrics
            assert metrics is not None
            seen.append(metrics)

    handler = Watch()
    assert handler.metrics is None
    server.add(_script(), delay=0.005)
    with rs.Client(api_key="sk-test", base_url=server.url) as client:
        final = client.stream(handler, model="m", input="hi")
    counts = [m.events for m in seen]
    assert counts == sorted(counts) and len(set(counts)) == len(counts)
    assert seen[0].time_to_first_token is not None
    assert 0 < seen[-1].bytes <= final.metrics.bytes  # type: ignore[union-attr]
    assert handler.metrics == final.metrics


def test_events_stream_metrics_and_frozen(server: MockServer) -> None:
    """stream.metrics on events(); StreamMetrics is a frozen dataclass."""
    server.add(_script())
    with rs.Client(api_key="sk-test", base_url=server.url) as client:
        with client.events(model="m", input="hi") as stream:
            first = None
            for event in stream:
                if first is None:
                    first = stream.metrics
            final = stream.metrics
    assert first is not None and first.events == 1
    assert final.events == len(_script().events())
    assert stream.response.metrics == final
    with pytest.raises(dataclasses.FrozenInstanceError):
        final.events = 0  # type: ignore[misc]


def test_retries_are_counted(server: MockServer) -> None:
    """A 429 answered before the stream starts counts as one retry."""
    server.add_error(429, "slow down", type="rate_limit_error", headers={"retry-after-ms": "1"})
    server.add(_script())
    with rs.Client(api_key="sk-test", base_url=server.url) as client:
        final = client.stream(model="m", input="hi")
    assert final.metrics is not None and final.metrics.retries == 1


def test_keep_alives_count_as_events_but_not_as_tokens() -> None:
    """Offline replay: a comment is an event; without usage there is no rate."""
    body = b": ping\n\n" + Script(seed=2).text("hi there").completed().to_bytes()
    final = rs.replay(body)
    m = final.metrics
    assert m is not None
    assert m.events == len(Script(seed=2).text("hi there").completed().events()) + 1
    assert m.time_to_first_token is not None and m.time_to_first_event is not None
    assert m.time_to_first_event <= m.time_to_first_token


def test_a_failed_stream_keeps_metrics_on_its_partial_response(server: MockServer) -> None:
    """The partial response on the error carries the metrics of what was received."""
    body = _script().to_bytes()
    server.add(body, close_after=len(body) // 2, framing="close")
    with rs.Client(api_key="sk-test", base_url=server.url) as client:
        with pytest.raises(rs.StreamInterrupted) as caught:
            client.stream(model="m", input="hi")
    m: Any = caught.value.response.metrics
    assert m is not None and m.events > 0 and m.bytes == len(body) // 2


@pytest.mark.parametrize("verb", ["stream", "stream_many"])
def test_bytes_count_the_whole_body_however_it_is_split(server: MockServer, verb: str) -> None:
    """metrics.bytes is every body byte received, the ones after the terminal event (a
    trailing data: [DONE]) included, whether they came with it or in a read of their own."""
    body = Script(seed=2).text("counted in full").completed().to_bytes() + b"data: [DONE]\n\n"
    counts = []
    with rs.Client(base_url=server.url, max_retries=0) as client:
        for chunk_size in (None, len(body), 7):  # a read per event, one read, small reads
            server.add(body, chunk_size=chunk_size)
            if verb == "stream":
                final = client.stream(model="m", input="x")
            else:
                (final,) = client.stream_many([{"model": "m", "input": "x"}])
            assert isinstance(final, rs.Response) and final.metrics is not None
            counts.append(final.metrics.bytes)
    assert counts == [len(body)] * 3


def test_the_longest_gap_spans_a_resume(
    server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A background stream cut, then resumed after a 0.4 s back-off: the caller waited that
    long between two events, and max_gap says so (each connection restarted it)."""
    monkeypatch.setattr("responses_stream._resume.backoff_delay", lambda attempt: 0.4)
    script = Script(background=True, seed=8).text("resumed after a wait", chunk=4).completed()
    body = script.to_bytes()
    server.add(script, close_after=body.index(b"\n\n", len(body) // 2) + 2)
    with rs.Client(api_key="sk-test", base_url=server.url) as client:
        final = client.stream(model="m", input="x", background=True)
    assert final.output_text == "resumed after a wait"
    assert final.metrics is not None and final.metrics.resumes == 1
    assert final.metrics.max_gap >= 0.4
