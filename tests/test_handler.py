"""Handler callbacks (which fire, in what order, with what arguments) and how a stream ends,
offline, through replay."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import pytest

import responses_stream as rs
from responses_stream._accumulator import Accumulator
from responses_stream._replay import offline_response
from responses_stream._stream import StreamCore
from responses_stream.testing import Script

from .scripts import FIXTURES, sse

CREATED = {"type": "response.created", "response": {"id": "r1", "status": "in_progress"}}
COMPLETED = {"type": "response.completed", "response": {"id": "r1", "status": "completed"}}


def delta(text: str, **extra: Any) -> Dict[str, Any]:
    return {"type": "response.output_text.delta", "delta": text, **extra}


class Recorder(rs.ResponseHandler):
    """Records every overridden callback as (name, args)."""

    def __init__(self) -> None:
        self.calls: List[Tuple[str, Any]] = []

    def on_event(self, event: rs.events.Event) -> None:
        self.calls.append(("event", event.type))

    def on_created(self, response: rs.Response) -> None:
        self.calls.append(("created", response.id))

    def on_in_progress(self, response: rs.Response) -> None:
        self.calls.append(("in_progress", response.status))

    def on_completed(self, response: rs.Response) -> None:
        self.calls.append(("completed", response.output_text))

    def on_incomplete(self, response: rs.Response) -> None:
        self.calls.append(("incomplete", response.incomplete_details))

    def on_failed(self, response: rs.Response) -> None:
        self.calls.append(("failed", response.error.code if response.error else None))

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        self.calls.append(("text_delta", (delta, snapshot)))

    def on_text_done(self, text: str) -> None:
        self.calls.append(("text_done", text))

    def on_refusal_delta(self, delta: str, snapshot: str) -> None:
        self.calls.append(("refusal_delta", (delta, snapshot)))

    def on_refusal_done(self, refusal: str) -> None:
        self.calls.append(("refusal_done", refusal))

    def on_function_call_created(self, call: rs.FunctionCall) -> None:
        self.calls.append(("call_created", call.name))

    def on_function_call_delta(self, delta: str, snapshot: str, call: rs.FunctionCall) -> None:
        self.calls.append(("call_delta", (delta, snapshot, call.name)))

    def on_function_call_done(self, call: rs.FunctionCall) -> None:
        self.calls.append(("call_done", (call.name, call.parsed_arguments)))

    def on_reasoning_delta(self, delta: str, snapshot: str) -> None:
        self.calls.append(("reasoning_delta", (delta, snapshot)))

    def on_reasoning_done(self, reasoning: rs.Reasoning) -> None:
        self.calls.append(("reasoning_done", (reasoning.summary_text, reasoning.encrypted_content)))

    def on_error(self, error: rs.events.ErrorEvent) -> None:
        self.calls.append(("error", (error.code, error.message)))

    def on_unknown_event(self, event: rs.events.UnknownEvent) -> None:
        self.calls.append(("unknown", event.type))

    def on_keep_alive(self) -> None:
        self.calls.append(("keep_alive", None))

    def on_output_text_annotation_added(self, event: rs.events.OutputTextAnnotationAdded) -> None:
        self.calls.append(("annotation", event.annotation))

    def on_exception(self, exc: BaseException) -> None:
        self.calls.append(("exception", type(exc).__name__))

    def on_end(self) -> None:
        self.calls.append(("end", None))

    def names(self) -> List[str]:
        return [name for name, _ in self.calls if name != "event"]


def test_text_stream_callbacks_in_order() -> None:
    """Lifecycle, deltas with growing snapshots, done, completed, end: in wire order."""
    script = Script(seed=1).text("Hello there, world", chunk=["Hello", " there,", " world"])
    handler = Recorder()
    final = rs.replay(script.completed().to_bytes(), handler)
    assert final.output_text == "Hello there, world"
    accumulated = [args for name, args in handler.calls if name == "text_delta"]
    assert accumulated == [
        ("Hello", "Hello"),
        (" there,", "Hello there,"),
        (" world", "Hello there, world"),
    ]
    assert handler.names() == [
        "created",
        "in_progress",
        "text_delta",
        "text_delta",
        "text_delta",
        "text_done",
        "completed",
        "end",
    ]
    # on_event fires first, once per wire event.
    assert [args for name, args in handler.calls if name == "event"] == [
        e["type"] for e in script.events()
    ]
    assert handler.calls[0] == ("event", "response.created")


def test_function_call_callbacks() -> None:
    """created -> deltas with the arguments so far -> done with parsed arguments."""
    script = Script(seed=2).function_call("get_weather", {"city": "Paris"}, chunk=3).completed()
    handler = Recorder()
    final = rs.replay(script.to_bytes(), handler)
    names = handler.names()
    assert names[0:3] == ["created", "in_progress", "call_created"]
    deltas = [args for name, args in handler.calls if name == "call_delta"]
    assert len(deltas) > 1
    so_far = ""
    for delta, snapshot, name in deltas:
        so_far += delta
        assert (snapshot, name) == (so_far, "get_weather")
    assert so_far == '{"city":"Paris"}'
    assert ("call_done", ("get_weather", {"city": "Paris"})) in handler.calls
    assert final.function_calls[0].call_id
    assert names.index("call_done") < names.index("completed")


def test_reasoning_callbacks_carry_encrypted_content() -> None:
    """Summary deltas accumulate; reasoning_done has the summary and the encrypted content."""
    script = Script(seed=3).reasoning(summary=["First.", "Second."], encrypted_content="enc123")
    handler = Recorder()
    rs.replay(script.text("ok").completed().to_bytes(), handler)
    done = [args for name, args in handler.calls if name == "reasoning_done"]
    assert done == [("First.\n\nSecond.", "enc123")]
    deltas = [args for name, args in handler.calls if name == "reasoning_delta"]
    # The snapshot is the running text of the summary part the delta belongs to.
    assert [snapshot for _, snapshot in deltas] == ["First", "First.", "Second", "Second."]


def test_refusal_callbacks_and_response_refusal() -> None:
    """A refusal streams through on_refusal_delta/done and sets response.refusal."""
    script = Script(seed=4).refusal("I can't help with that.").completed()
    handler = Recorder()
    final = rs.replay(script.to_bytes(), handler)
    assert ("refusal_done", "I can't help with that.") in handler.calls
    assert final.refusal == "I can't help with that."
    assert final.output_text == ""


def test_real_refusal_and_annotations_transcripts() -> None:
    """Recorded refusal and url_citation streams reach their callbacks."""
    handler = Recorder()
    final = rs.replay(FIXTURES / "mirascope__refusal-gpt4o-structured.sse", handler)
    assert final.refusal and ("refusal_done", final.refusal) in handler.calls
    handler = Recorder()
    final = rs.replay(FIXTURES / "pydantic-ai__web-search-url-citation-gpt52.sse", handler)
    annotations = [a for n, a in handler.calls if n == "annotation"]
    assert annotations and all(a["type"] == "url_citation" for a in annotations)
    message = next(item for item in final.output if isinstance(item, rs.Message))
    assert message.content[0].annotations == annotations  # type: ignore[union-attr]


def test_incomplete_returns_response() -> None:
    """response.incomplete returns the Response (status incomplete) after on_incomplete."""
    handler = Recorder()
    final = rs.replay(Script(seed=5).text("Cut sh").incomplete().to_bytes(), handler)
    assert final.status == "incomplete"
    assert final.incomplete_details is not None
    assert final.incomplete_details.reason == "max_output_tokens"
    assert handler.names()[-2:] == ["incomplete", "end"]


def test_failed_calls_on_failed_then_raises() -> None:
    """response.failed: on_failed, then ResponseFailedError with the response, then on_end."""
    handler = Recorder()
    with pytest.raises(rs.ResponseFailedError) as info:
        rs.replay(Script(seed=6).text("part").failed("server_error", "boom").to_bytes(), handler)
    assert info.value.response is not None
    assert info.value.response.status == "failed"
    assert handler.names()[-3:] == ["failed", "exception", "end"]


@pytest.mark.parametrize(
    "name",
    [
        "swiftagent__error-event-insufficient-quota-then-failed.sse",
        "vercel-ai__error-event-insufficient-quota-then-failed.sse",
    ],
)
def test_nested_error_event_then_failed(name: str) -> None:
    """The real nested error shape is normalised; on_error, on_failed, then StreamError."""
    handler = Recorder()
    with pytest.raises(rs.StreamError) as info:
        rs.replay(FIXTURES / name, handler)
    err = info.value
    assert err.code == "insufficient_quota" and "quota" in err.message
    assert err.retryable is False
    assert err.response is not None and err.response.status == "failed"
    errors = [a for n, a in handler.calls if n == "error"]
    assert len(errors) == 1 and errors[0][0] == "insufficient_quota"
    assert handler.names()[-4:] == ["error", "failed", "exception", "end"]


def test_flat_error_event_and_retryable() -> None:
    """The documented flat error shape; a rate limit before any output is retryable."""
    body = sse(
        CREATED,
        {"type": "error", "code": "rate_limit_exceeded", "message": "slow down", "param": None},
    )
    with pytest.raises(rs.StreamError) as info:
        rs.replay(body)
    assert info.value.code == "rate_limit_exceeded" and info.value.retryable


def test_unknown_events_and_keepalives() -> None:
    """Unknown types reach on_unknown_event; comments and keepalive events on_keep_alive."""
    body = (
        b": OPENROUTER PROCESSING\n\n"
        b'data: {"type":"codex.rate_limits","primary":{"used_percent":5}}\n\n'
        b'data: {"type":"response.created","response":{"id":"r1","status":"in_progress"}}\n\n'
        b'event: keepalive\ndata: {"type":"keepalive","sequence_number":1}\n\n'
        b'data: {"type":"response.output_text.delta","delta":"hi"}\n\n'
        b'data: {"type":"response.completed","response":{"id":"r1","status":"completed"}}\n\n'
        b"data: [DONE]\n\n"
    )
    handler = Recorder()
    final = rs.replay(body, handler)
    assert final.output_text == "hi"
    assert handler.names() == [
        "keep_alive",
        "unknown",
        "created",
        "keep_alive",
        "text_delta",
        "completed",
        "end",
    ]
    # The comment is not a wire event: on_event saw only the four real events.
    assert [a for n, a in handler.calls if n == "event"] == [
        "codex.rate_limits",
        "response.created",
        "keepalive",
        "response.output_text.delta",
        "response.completed",
    ]


@pytest.mark.parametrize("kind", [[1], {"a": 1}, 7, None, ""])
def test_a_type_that_is_not_a_string_is_an_unknown_event(kind: Any) -> None:
    """A non-string ``type`` (even an unhashable one) reaches on_unknown_event (with type "")
    and the stream goes on."""
    body = sse(CREATED, {"type": kind, "sequence_number": 2}, delta("hi"), COMPLETED)
    handler = Recorder()
    assert rs.replay(body, handler).output_text == "hi"
    assert handler.names() == ["created", "unknown", "text_delta", "completed", "end"]
    assert [a for n, a in handler.calls if n == "unknown"] == [""]


@pytest.mark.parametrize("odd", ["7", 2.5, True, [3], {"n": 1}])
def test_a_sequence_number_that_is_not_an_integer_is_no_cursor(odd: Any) -> None:
    """Only integers move the resume cursor; other values arrive unchanged and break nothing."""
    body = sse(
        {**CREATED, "sequence_number": 0},
        delta("a", sequence_number=odd),
        delta("b", sequence_number=4),
        delta("c", sequence_number=odd),
        COMPLETED,
    )
    assert rs.replay(body).output_text == "abc"
    for deliver_after in (None, 0):
        stream = StreamCore(offline_response([body]), Accumulator(), deliver_after=deliver_after)
        deltas = [e for e in stream if isinstance(e, rs.events.OutputTextDelta)]
        assert [e.delta for e in deltas] == ["a", "b", "c"]
        assert deltas[0].sequence_number == odd  # kept as it arrived
        assert stream.last_sequence_number == 4 and stream.response.output_text == "abc"


def test_eof_without_terminal_raises_interrupted_with_everything() -> None:
    """A body that ends early raises StreamInterrupted with all text received."""
    data = Script(seed=7).text("one two three four").completed().to_bytes()
    cut = data.index(b"response.output_text.done")
    data = data[: data.rfind(b"\n\n", 0, cut) + 2]
    handler = Recorder()
    with pytest.raises(rs.StreamInterrupted) as info:
        rs.replay(data, handler)
    assert info.value.response is not None
    assert info.value.response.output_text == "one two three four"
    assert info.value.last_sequence_number is not None
    assert info.value.response_id == info.value.response.id
    assert handler.names()[-2:] == ["exception", "end"]


def test_done_before_terminal_is_interrupted() -> None:
    """data: [DONE] before a terminal event is reported, not taken as success."""
    body = b'data: {"type":"response.output_text.delta","delta":"a"}\n\ndata: [DONE]\n\n'
    with pytest.raises(rs.StreamInterrupted, match="DONE"):
        rs.replay(body)


def test_truncated_json_at_eof_is_interrupted_not_protocol_error() -> None:
    """A cut inside the last JSON line is an interruption; the text before it is kept."""
    body = (
        b'data: {"type":"response.output_text.delta","delta":"abc"}\n\n'
        b'data: {"type":"response.output_text.delta","del'
    )
    with pytest.raises(rs.StreamInterrupted) as info:
        rs.replay(body)
    assert info.value.response is not None and info.value.response.output_text == "abc"


def test_malformed_json_mid_stream_is_protocol_error() -> None:
    """Invalid JSON followed by more data is a ProtocolError carrying the raw line."""
    body = b'data: {"type":"response.output_text.delta","delta":"a"}\n\ndata: {nope\n\ndata: {}\n\n'
    with pytest.raises(rs.ProtocolError) as info:
        rs.replay(body)
    assert info.value.data == "{nope"
    assert info.value.response is not None and info.value.response.output_text == "a"


def test_stop_returns_partial_snapshot() -> None:
    """handler.stop() ends the stream after the current callback; the snapshot is returned."""

    class StopAfterTwo(rs.ResponseHandler):
        deltas = 0

        def on_text_delta(self, delta: str, snapshot: str) -> None:
            self.deltas += 1
            if self.deltas == 2:
                self.stop()

    handler = StopAfterTwo()
    script = Script(seed=8).text("a b c d e", chunk=1).completed()
    final = rs.replay(script.to_bytes(), handler)
    assert final.output_text == "a "
    assert handler.snapshot is final and handler.stopped


def test_callback_exception_reaches_caller_unchanged() -> None:
    """An exception from a callback is re-raised as is, after on_exception and before on_end."""

    mine = KeyError("mine")

    class Boom(Recorder):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            raise mine

    handler = Boom()
    with pytest.raises(KeyError) as info:
        rs.replay(Script(seed=9).text("x").completed().to_bytes(), handler)
    assert info.value is mine
    assert handler.calls[-2:] == [("exception", "KeyError"), ("end", None)]


def test_accumulate_false_keeps_no_output() -> None:
    """accumulate=False: raw callbacks fire, lifecycle still works, no output is kept."""

    class Counter(rs.ResponseHandler):
        n = 0

        def on_output_text_delta(self, event: rs.events.OutputTextDelta) -> None:
            self.n += 1

    handler = Counter()
    script = Script(seed=10).text("a b c d", chunk=1).completed()
    final = rs.replay(script.to_bytes(), handler, accumulate=False)
    assert handler.n == 7
    assert final.status == "completed" and final.id == script.response_id
    assert final.output == [] and final.output_text == ""


def test_function_call_done_fallback_when_item_never_closed() -> None:
    """A call with no output_item.done still reaches on_function_call_done before completed."""
    arguments = {"item_id": "fc1", "output_index": 0, "delta": '{"a":1}'}
    body = sse(
        CREATED,
        {"type": "response.function_call_arguments.delta", **arguments},
        {**COMPLETED, "response": {**COMPLETED["response"], "output": []}},
    )
    handler = Recorder()
    final = rs.replay(body, handler)
    assert ("call_done", (None, {"a": 1})) in handler.calls
    assert handler.names().index("call_done") < handler.names().index("completed")
    assert final.function_calls[0].status == "completed"


def test_handler_is_reusable_across_streams() -> None:
    """One handler serves several streams one after the other (the tool loop needs this)."""
    handler = Recorder()
    rs.replay(Script(seed=11).text("one").completed().to_bytes(), handler)
    rs.replay(Script(seed=12).text("two").completed().to_bytes(), handler)
    assert [a for n, a in handler.calls if n == "completed"] == ["one", "two"]


# ------------------------------------------------------------------ the terminal event


FC_OPEN = {
    "type": "function_call",
    "id": "fc_1",
    "call_id": "call_1",
    "name": "get_weather",
    "arguments": "",
    "status": "in_progress",
}
FC_DONE = {**FC_OPEN, "arguments": '{"city":"Paris"}', "status": "completed"}
REASONING = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "xyz"}


def _ended(output: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {
        "type": "response.completed",
        "response": {"id": "r1", "status": "completed", "output": output},
    }


class Ends(rs.ResponseHandler):
    def __init__(self) -> None:
        self.log: List[Tuple[str, Any]] = []

    def on_event(self, event: rs.events.Event) -> None:
        if event.type == "response.completed":
            self.log.append(("event", event.type))

    def on_function_call_created(self, call: rs.FunctionCall) -> None:
        self.held = call
        self.log.append(("created", call.id))

    def on_function_call_done(self, call: rs.FunctionCall) -> None:
        self.log.append(("call_done", (call.id, call.arguments)))

    def on_reasoning_done(self, item: rs.Reasoning) -> None:
        self.log.append(("reasoning_done", item.id))

    def on_completed(self, response: rs.Response) -> None:
        self.log.append(("completed", None))


@pytest.mark.parametrize("index", [0, 1])
def test_a_call_never_closed_is_done_at_the_end_wherever_it_streamed(index: int) -> None:
    """A call streamed at any output_index and never closed: the terminal output (here with
    an item before it) updates the held object in place, by its id, and on_function_call_done
    fires once with it; the item that only the terminal output brings is done too. Order:
    on_event, then the done callbacks, then on_completed."""
    added = {"type": "response.output_item.added", "output_index": index, "item": FC_OPEN}
    arguments = {
        "type": "response.function_call_arguments.delta",
        "output_index": index,
        "item_id": "fc_1",
        "delta": '{"city":"Par',
    }
    output = [REASONING, FC_DONE] if index == 1 else [FC_DONE, REASONING]
    handler = Ends()
    final = rs.replay(sse(CREATED, added, arguments, _ended(output)), handler)
    (call,) = final.function_calls
    assert handler.held is call and call.arguments == '{"city":"Paris"}'
    assert handler.log[0] == ("created", "fc_1") and handler.log[1] == (
        "event",
        "response.completed",
    )
    assert sorted(handler.log[2:4], key=str) == sorted(
        [("call_done", ("fc_1", '{"city":"Paris"}')), ("reasoning_done", "rs_1")], key=str
    )
    assert handler.log[4:] == [("completed", None)]


def test_items_finished_before_the_end_are_not_finished_again() -> None:
    """Items closed by output_item.done are not done again when the terminal output (with
    changed ids, as OpenRouter sends) replaces them."""
    added = {"type": "response.output_item.added", "output_index": 0, "item": FC_OPEN}
    done = {"type": "response.output_item.done", "output_index": 0, "item": FC_DONE}
    handler = Ends()
    rs.replay(sse(CREATED, added, done, _ended([{**FC_DONE, "id": "fc_renamed"}])), handler)
    assert [entry[0] for entry in handler.log] == ["created", "call_done", "event", "completed"]


def test_truncated_still_says_so_after_the_stream_ended() -> None:
    """A body that ends inside an event: truncated is True after the error, not only while
    the body is read."""
    body = sse(CREATED, delta("hi"))
    stream = StreamCore(offline_response([body[:-10]]), Accumulator())
    with pytest.raises(rs.StreamInterrupted):
        for _ in stream:
            pass
    assert stream.truncated is True
    whole = StreamCore(offline_response([sse(CREATED, delta("hi"), COMPLETED)]), Accumulator())
    assert list(whole) and whole.truncated is False
