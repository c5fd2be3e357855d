"""The rest of the fault matrix: resets, big and long streams, odd sequence numbers, total
timeouts, and an exception from every kind of callback."""

from __future__ import annotations

import time
from typing import Any, List

import pytest

import responses_stream as rs
from responses_stream.testing import MockServer, Script

from .scripts import Boom, fd_count, sse, wait_for_fds


def test_tcp_reset_mid_stream_is_interrupted_with_partial_text(server: MockServer) -> None:
    """A TCP RST after some events: StreamInterrupted holding exactly the text sent."""
    script = Script(seed=51).text("alpha beta gamma delta epsilon", chunk=6).completed()
    body = script.to_bytes()
    cut = body.index(b"response.output_text.done")
    cut = body.rfind(b"\n\n", 0, cut) + 2
    server.add(script, close_after=cut, reset=True)
    with rs.Client(base_url=server.url) as client, pytest.raises(rs.StreamInterrupted) as info:
        client.stream(model="m", input="x")
    assert info.value.response is not None
    assert info.value.response.output_text == "alpha beta gamma delta epsilon"


def test_headers_then_nothing_times_out(server: MockServer) -> None:
    """Headers, then silence: APITimeoutError soon after the read timeout (not after the
    server's 5 s stall), with an empty snapshot."""
    server.add(Script(seed=52).text("never").completed(), stall=5.0, stall_after_events=0)
    start = time.monotonic()
    with rs.Client(base_url=server.url, timeout=rs.Timeout(connect=2, read=0.4)) as client:
        with pytest.raises(rs.APITimeoutError) as info:
            client.stream(model="m", input="x")
    assert time.monotonic() - start < 3
    assert info.value.response is not None and info.value.response.output == []


def test_total_timeout_bounds_a_slow_but_alive_stream(server: MockServer) -> None:
    """Events keep coming (so no idle timeout), but Timeout(total=...) ends the call."""
    script = Script(seed=53).text(" ".join(["tick"] * 60), chunk=5).completed()
    server.add(script, delay=0.05)
    start = time.monotonic()
    with rs.Client(base_url=server.url, timeout=rs.Timeout(read=5, total=0.6)) as client:
        with pytest.raises(rs.APITimeoutError) as info:
            client.stream(model="m", input="x")
    assert 0.5 < time.monotonic() - start < 2.5
    partial = info.value.response
    assert partial is not None and partial.output_text.startswith("tick")


def test_ten_megabyte_event_over_http(server: MockServer) -> None:
    """A 10 MB event (an image generation partial, say) arrives intact in one piece."""
    big = "A" * 10_000_000
    events = [
        {"type": "response.created", "response": {"id": "r_big"}, "sequence_number": 0},
        {"type": "response.output_text.delta", "delta": big, "sequence_number": 1},
        {"type": "response.completed", "response": {"id": "r_big", "status": "completed"}},
    ]
    server.add(sse(*events), chunk_size=65536)
    with rs.Client(base_url=server.url) as client:
        assert client.stream(model="m", input="x").output_text == big


@pytest.mark.slow
def test_one_hundred_thousand_events_over_http(server: MockServer) -> None:
    """100k deltas: every one reaches the handler and the text is complete."""

    class Count(rs.ResponseHandler):
        n = 0

        def on_text_delta(self, delta: str, snapshot: str) -> None:
            self.n += 1

    deltas = [f"w{i % 10}" for i in range(100_000)]
    script = Script(seed=54).text("".join(deltas), chunk=[*deltas]).completed()
    server.add(script.to_bytes(), chunk_size=1 << 20)
    handler = Count()
    with rs.Client(base_url=server.url) as client:
        final = client.stream(handler, model="m", input="x")
    assert handler.n == 100_000 and final.output_text == "".join(deltas)


def test_sequence_numbers_that_repeat_or_go_backwards_lose_nothing(server: MockServer) -> None:
    """A foreground stream with odd sequence numbers (LiteLLM sends 0s): nothing is dropped."""
    seqs = [0, 1, 1, 0, 5, 3, 3]
    events: List[Any] = [
        {"type": "response.created", "response": {"id": "r"}, "sequence_number": 0}
    ]
    events += [
        {"type": "response.output_text.delta", "delta": f"<{i}>", "sequence_number": s}
        for i, s in enumerate(seqs)
    ]
    events.append({"type": "response.completed", "response": {"status": "completed"}})
    server.add(sse(*events))
    with rs.Client(base_url=server.url) as client:
        with client.events(model="m", input="x") as stream:
            got = [e.sequence_number for e in stream]
    assert got == [0, *seqs, None]
    assert stream.response.output_text == "".join(f"<{i}>" for i in range(len(seqs)))
    assert stream.last_sequence_number == 5


CALLBACKS = [
    ("on_event", "(self, event)"),
    ("on_created", "(self, response)"),
    ("on_in_progress", "(self, response)"),
    ("on_text_delta", "(self, delta, snapshot)"),
    ("on_text_done", "(self, text)"),
    ("on_output_text_delta", "(self, event)"),
    ("on_function_call_created", "(self, call)"),
    ("on_function_call_delta", "(self, delta, snapshot, call)"),
    ("on_function_call_done", "(self, call)"),
    ("on_reasoning_delta", "(self, delta, snapshot)"),
    ("on_reasoning_done", "(self, reasoning)"),
    ("on_completed", "(self, response)"),
    ("on_keep_alive", "(self)"),
]


@pytest.mark.parametrize(("name", "signature"), CALLBACKS, ids=[c[0] for c in CALLBACKS])
def test_exception_in_every_kind_of_callback(server: MockServer, name: str, signature: str) -> None:
    """Whatever callback raises: on_exception gets it, it reaches the caller unchanged, on_end
    runs, and the socket is closed."""
    calls: List[Any] = []
    boom = Boom(name)

    def raiser(*args: Any) -> None:
        raise boom

    handler_cls = type(
        "Raiser",
        (rs.ResponseHandler,),
        {
            name: raiser,
            "on_exception": lambda self, exc: calls.append(("exception", exc)),
            "on_end": lambda self: calls.append(("end",)),
        },
    )
    script = (
        Script(seed=55)
        .reasoning(summary=["thinking"])
        .function_call("f", {"a": 1})
        .text("hello world")
        .completed()
    )
    body = b": keep-alive\n\n" + script.to_bytes()
    server.add(body, delay=0.01)

    with rs.Client(base_url=server.url) as client:
        before = fd_count()
        with pytest.raises(Boom) as info:
            client.stream(handler_cls(), model="m", input="x")
        # A body read to its end leaves a reusable connection in the pool (its socket and the
        # in-process server's); any other raise must close the socket at once.
        pooled = 2 if name == "on_completed" else 0
        assert wait_for_fds(before + pooled, timeout=3) <= before + pooled
    assert wait_for_fds(before, timeout=3) <= before
    assert info.value is boom
    assert calls == [("exception", boom), ("end",)]


@pytest.mark.parametrize("framing", ["close", "chunked", "length"])
@pytest.mark.parametrize("consumer", ["stream", "stream_many"])
def test_a_body_cut_inside_an_event_keeps_that_event_on_the_error(
    server: MockServer, framing: str, consumer: str
) -> None:
    """However the body is framed (OpenAI's is chunked), an event cut short is not lost: its
    data is the error's ``unparsed``, and the stream says it was truncated."""
    body = Script(seed=1).text("hello world, this is it", chunk=4).completed().to_bytes()
    start = body.index(b"data: ", body.index(b"response.output_text.delta")) + len(b"data: ")
    cut = start + 25
    server.add(body, close_after=cut, framing=framing)
    with rs.Client(api_key="sk-test", base_url=server.url, max_retries=0) as client:
        if consumer == "stream":
            with pytest.raises(rs.errors.StreamInterrupted) as caught:
                client.stream(model="m", input="x")
            error = caught.value
        else:
            [outcome] = client.stream_many([{"model": "m", "input": "x"}])
            assert isinstance(outcome, rs.errors.StreamInterrupted)
            error = outcome
    assert error.unparsed == body[start:cut].decode()
    assert error.response is not None and error.last_sequence_number is not None


def test_an_events_stream_cut_inside_an_event_is_truncated(server: MockServer) -> None:
    """Cut before the event's data line: what arrived of it is ``unparsed``, as bytes."""
    body = Script(seed=1).text("hello world", chunk=4).completed().to_bytes()
    cut = body.index(b"response.completed") + 5
    block = body.rfind(b"\n\n", 0, cut) + 2
    server.add(body, close_after=cut, framing="chunked")
    with rs.Client(api_key="sk-test", base_url=server.url, max_retries=0) as client:
        with client.events(model="m", input="x") as events:
            with pytest.raises(rs.errors.StreamInterrupted) as caught:
                list(events)
            assert events.truncated
    assert caught.value.unparsed == body[block:cut]


def test_a_close_delimited_body_cut_before_an_events_data_keeps_its_bytes(
    server: MockServer,
) -> None:
    """Cut after ``event:`` and before ``data:``: nothing parses, and the bytes that arrived
    are ``unparsed``, for a body ended by the close as for a chunked one."""
    body = Script(seed=1).text("hello world", chunk=4).completed().to_bytes()
    cut = body.index(b"response.completed") + 5
    block = body.rfind(b"\n\n", 0, cut) + 2
    server.add(body, close_after=cut, framing="close")
    with rs.Client(api_key="sk-test", base_url=server.url, max_retries=0) as client:
        with pytest.raises(rs.errors.StreamInterrupted) as caught:
            client.stream(model="m", input="x")
    assert caught.value.unparsed == body[block:cut]
