"""The accumulator on its own (``responses_stream._accumulator``): events in, a Response
snapshot out, with no I/O and no callbacks. ``feed`` applies one event and returns what it
touched; the sequence-number cursor drops what a resumed connection sends again."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import responses_stream as rs
from responses_stream._accumulator import REPEAT, Accumulator
from responses_stream.events import parse_event
from responses_stream.models import OutputText, Refusal

from .scripts import (
    OPENAI_TRANSCRIPTS,
    TERMINAL,
    payloads,
    split_responses,
    transcript_id,
    without_keys,
)


def feed(acc: Accumulator, *events: Dict[str, Any]) -> List[Any]:
    """Parse and feed each payload (a deep copy), returning what each feed() returned."""
    return [acc.feed(parse_event(copy.deepcopy(e))) for e in events]


def created(**response: Any) -> Dict[str, Any]:
    return {"type": "response.created", "response": {"id": "resp_1", **response}}


def added(index: int, item: Dict[str, Any]) -> Dict[str, Any]:
    return {"type": "response.output_item.added", "output_index": index, "item": item}


def done(index: int, item: Dict[str, Any]) -> Dict[str, Any]:
    return {"type": "response.output_item.done", "output_index": index, "item": item}


def text_delta(delta: Any, index: int = 0, part: int = 0, **extra: Any) -> Dict[str, Any]:
    return {
        "type": "response.output_text.delta",
        "output_index": index,
        "content_index": part,
        "item_id": f"msg_{index}",
        "delta": delta,
        **extra,
    }


def part_added(index: int, part: int) -> Dict[str, Any]:
    return {
        "type": "response.content_part.added",
        "output_index": index,
        "content_index": part,
        "item_id": f"msg_{index}",
        "part": {"type": "output_text", "text": "", "annotations": []},
    }


def terminal(kind: str, output: Optional[List[Any]] = None, **response: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {"id": "resp_1", **response}
    if output is not None:
        body["output"] = output
    return {"type": kind, "response": body}


MESSAGE = {"type": "message", "id": "msg_0", "role": "assistant", "status": "in_progress"}
CALL = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": ""}


# ------------------------------------------------------------------------------ deltas


def test_text_deltas_append_to_one_part_updated_in_place() -> None:
    """Each output_text delta appends to the same OutputText, which feed() returns, inside the
    message at its index; the response's output_text follows."""
    acc = Accumulator()
    first, part, again = feed(acc, added(0, MESSAGE), text_delta("Hel"), text_delta("lo"))
    assert isinstance(first, rs.Message) and first is acc.response.output[0]
    assert isinstance(part, OutputText) and again is part
    assert part.text == "Hello" and first.content == [part]
    assert acc.response.output_text == "Hello" and acc.saw_output


def test_deltas_for_different_parts_and_items_stay_apart() -> None:
    """Deltas keyed by output_index and content_index go to their own part, even interleaved."""
    acc = Accumulator()
    feed(
        acc,
        added(0, MESSAGE),
        added(1, {**MESSAGE, "id": "msg_1"}),
        text_delta("a", 0, 0),
        text_delta("x", 1, 0),
        text_delta("b", 0, 1),
        text_delta("c", 0, 0),
        text_delta("y", 1, 0),
    )
    first, second = acc.response.output
    assert [p.text for p in first.content] == ["ac", "b"]  # type: ignore[union-attr]
    assert [p.text for p in second.content] == ["xy"]  # type: ignore[union-attr]


def test_function_call_arguments_refusal_and_reasoning_deltas_append() -> None:
    """Arguments, refusal, summary and raw reasoning deltas each grow their own string."""
    acc = Accumulator()
    reasoning = {"type": "reasoning", "id": "rs_0", "summary": []}
    results = feed(
        acc,
        added(0, reasoning),
        {
            "type": "response.reasoning_summary_text.delta",
            "output_index": 0,
            "summary_index": 0,
            "delta": "Think",
        },
        {
            "type": "response.reasoning_summary_text.delta",
            "output_index": 0,
            "summary_index": 0,
            "delta": "ing.",
        },
        {
            "type": "response.reasoning_text.delta",
            "output_index": 0,
            "content_index": 0,
            "delta": "raw ",
        },
        {
            "type": "response.reasoning_text.delta",
            "output_index": 0,
            "content_index": 0,
            "delta": "text",
        },
        added(1, CALL),
        {"type": "response.function_call_arguments.delta", "output_index": 1, "delta": '{"a":'},
        {"type": "response.function_call_arguments.delta", "output_index": 1, "delta": "1}"},
        added(2, {**MESSAGE, "id": "msg_2"}),
        {"type": "response.refusal.delta", "output_index": 2, "content_index": 0, "delta": "No"},
        {"type": "response.refusal.delta", "output_index": 2, "content_index": 0, "delta": "pe"},
    )
    thinking, call, message = acc.response.output
    assert isinstance(thinking, rs.Reasoning) and thinking.summary_text == "Thinking."
    assert thinking.reasoning_text == "raw text"
    assert isinstance(call, rs.FunctionCall) and call.parsed_arguments == {"a": 1}
    assert results[7] is call
    assert isinstance(message, rs.Message) and message.refusal == "Nope"
    assert isinstance(results[-1], Refusal) and results[-1].refusal == "Nope"


@pytest.mark.parametrize(
    ("delta_type", "done_type", "key", "attr", "item_type"),
    [
        (
            "response.custom_tool_call_input.delta",
            "response.custom_tool_call_input.done",
            "input",
            "input",
            "custom_tool_call",
        ),
        (
            "response.mcp_call_arguments.delta",
            "response.mcp_call_arguments.done",
            "arguments",
            "arguments",
            "mcp_call",
        ),
        (
            "response.code_interpreter_call_code.delta",
            "response.code_interpreter_call_code.done",
            "code",
            "code",
            "code_interpreter_call",
        ),
    ],
)
def test_streamed_tool_fields_append_then_the_done_value_wins(
    delta_type: str, done_type: str, key: str, attr: str, item_type: str
) -> None:
    """Tool items whose input streams (custom tools, MCP, code interpreter) grow the field
    from deltas, creating the item if it was never announced; the .done value replaces it."""
    acc = Accumulator()
    one, two = feed(
        acc,
        {"type": delta_type, "output_index": 0, "item_id": "t_1", "delta": "print("},
        {"type": delta_type, "output_index": 0, "item_id": "t_1", "delta": "1)"},
    )
    assert one is two and type(one).TYPE == item_type
    assert (one.id, getattr(one, attr), one.status) == ("t_1", "print(1)", "in_progress")
    (final,) = feed(acc, {"type": done_type, "output_index": 0, "item_id": "t_1", key: "print(2)"})
    assert final is one and getattr(one, attr) == "print(2)"


def test_apply_patch_diff_deltas_build_the_operation_diff() -> None:
    """apply_patch diff deltas append to ``operation.diff``; the .done diff replaces it."""
    acc = Accumulator()
    kind = "response.apply_patch_call_operation_diff"
    item = {"type": "apply_patch_call", "id": "ap_1", "operation": {"type": "update_file"}}
    feed(
        acc,
        added(0, item),
        {"type": f"{kind}.delta", "output_index": 0, "delta": "-a\n"},
        {"type": f"{kind}.delta", "output_index": 0, "delta": "+b\n"},
    )
    call = acc.response.output[0]
    assert call.operation == {"type": "update_file", "diff": "-a\n+b\n"}  # type: ignore[union-attr]
    feed(acc, {"type": f"{kind}.done", "output_index": 0, "diff": "+c\n"})
    assert call.operation["diff"] == "+c\n"  # type: ignore[union-attr]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1), st.text(max_size=6)), max_size=30))
def test_interleaved_deltas_rebuild_each_part(deltas: List[Any]) -> None:
    """Property: once two messages with two text parts each are announced, text deltas for
    them in any order give each part exactly the join of its own deltas."""
    acc = Accumulator()
    for index in (0, 1):
        feed(acc, added(index, {**MESSAGE, "id": f"msg_{index}"}))
        for part in (0, 1):
            feed(acc, part_added(index, part))
    expected = {(i, p): "" for i in (0, 1) for p in (0, 1)}
    for index, part, text in deltas:
        feed(acc, text_delta(text, index, part))
        expected[index, part] += text
    got = {
        (i, p): part.text  # type: ignore[union-attr]
        for i, item in enumerate(acc.response.output)
        for p, part in enumerate(item.content)  # type: ignore[union-attr]
    }
    assert got == expected
    assert acc.response.output_text == "".join(expected[key] for key in sorted(expected))


def test_a_delta_for_a_later_part_keeps_its_index() -> None:
    """Without content_part.added, a delta for content_index 1 that comes before any for 0
    must not be merged with part 0's text."""
    acc = Accumulator()
    feed(acc, added(0, MESSAGE), text_delta("second", part=1), text_delta("first", part=0))
    texts = [p.text for p in acc.response.output[0].content]  # type: ignore[union-attr]
    assert texts == ["first", "second"]


def test_a_delta_that_is_not_a_string_raises_before_changing_anything() -> None:
    """A number where a delta belongs raises TypeError and leaves the text as it was."""
    acc = Accumulator()
    feed(acc, added(0, MESSAGE), text_delta("ok"))
    with pytest.raises(TypeError):
        feed(acc, text_delta(5))
    assert acc.response.output_text == "ok"
    feed(acc, text_delta("!"))
    assert acc.response.output_text == "ok!"


# ------------------------------------------------------------------------- done events


def test_done_events_replace_what_the_deltas_built() -> None:
    """output_text.done, function_call_arguments.done and refusal.done are authoritative over
    the accumulated deltas, on the same objects."""
    acc = Accumulator()
    feed(acc, added(0, MESSAGE), text_delta("Helo"))
    part = acc.response.output[0].content[0]  # type: ignore[union-attr]
    (got,) = feed(
        acc,
        {
            "type": "response.output_text.done",
            "output_index": 0,
            "content_index": 0,
            "text": "Hello",
            "logprobs": [{"token": "Hello"}],
        },
    )
    assert got is part and (part.text, part.logprobs) == ("Hello", [{"token": "Hello"}])
    feed(
        acc,
        added(1, CALL),
        {"type": "response.function_call_arguments.delta", "output_index": 1, "delta": "{"},
        {
            "type": "response.function_call_arguments.done",
            "output_index": 1,
            "arguments": "{}",
            "name": "g",
        },
        {"type": "response.refusal.delta", "output_index": 0, "content_index": 1, "delta": "x"},
        {"type": "response.refusal.done", "output_index": 0, "content_index": 1, "refusal": "No."},
    )
    call = acc.response.function_calls[0]
    assert (call.arguments, call.name) == ("{}", "g")
    assert acc.response.refusal == "No." and acc.response.output_text == "Hello"


def test_output_item_done_updates_the_held_item_in_place() -> None:
    """output_item.done replaces the item's content with the final one, on the object a caller
    may already hold, and marks it finished."""
    acc = Accumulator()
    (held,) = feed(acc, added(0, CALL))
    feed(acc, {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "{"})
    final = {**CALL, "arguments": '{"a":1}', "status": "completed"}
    (got,) = feed(acc, done(0, final))
    assert got is held and acc.response.output == [held]
    assert (held.arguments, held.status) == ('{"a":1}', "completed")
    assert held.to_dict() == final


def test_content_part_events_put_the_part_at_its_index() -> None:
    """content_part.added adds the part; content_part.done replaces it in place."""
    acc = Accumulator()
    part = {"type": "output_text", "text": "", "annotations": []}
    results = feed(
        acc,
        added(0, MESSAGE),
        {
            "type": "response.content_part.added",
            "output_index": 0,
            "content_index": 0,
            "part": part,
        },
        text_delta("Hi"),
        {
            "type": "response.content_part.done",
            "output_index": 0,
            "content_index": 0,
            "part": {**part, "text": "Hi!"},
        },
    )
    assert results[1] is results[2] is results[3]
    assert acc.response.output[0].content == [results[1]]  # type: ignore[union-attr]
    assert results[3].text == "Hi!"


DONE_CASES = [
    (
        text_delta("kept"),
        {"type": "response.output_text.done", "output_index": 0, "content_index": 0, "text": 1},
        lambda r: r.output_text,
    ),
    (
        {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "kept"},
        {"type": "response.function_call_arguments.done", "output_index": 0, "arguments": {}},
        lambda r: r.function_calls[0].arguments,
    ),
    (
        {"type": "response.refusal.delta", "output_index": 0, "content_index": 0, "delta": "kept"},
        {"type": "response.refusal.done", "output_index": 0, "content_index": 0, "refusal": []},
        lambda r: r.refusal,
    ),
]


@pytest.mark.parametrize(
    ("delta", "event", "read"), DONE_CASES, ids=[case[1]["type"] for case in DONE_CASES]
)
def test_a_done_value_that_is_not_a_string_is_rejected(
    delta: Dict[str, Any], event: Dict[str, Any], read: Any
) -> None:
    """A .done event whose final text is not a string raises TypeError naming the event and
    the key, and the value the deltas built stays."""
    acc = Accumulator()
    feed(acc, delta)
    assert read(acc.response) == "kept"
    key = next(k for k in ("text", "arguments", "refusal") if k in event)
    with pytest.raises(TypeError, match=f"{event['type']}: {key} must be a string"):
        feed(acc, event)
    assert read(acc.response) == "kept"


# --------------------------------------------------------------------- odd streams


def test_an_item_that_was_never_announced_is_created() -> None:
    """A delta for an item without output_item.added (LiteLLM) creates it, in progress, with
    the event's item id."""
    acc = Accumulator()
    feed(acc, created(), text_delta("hi", index=0))
    (message,) = acc.response.output
    assert isinstance(message, rs.Message)
    assert (message.id, message.status, message.text) == ("msg_0", "in_progress", "hi")


def test_without_indexes_events_are_routed_by_item_id() -> None:
    """llama.cpp sends no output_index: deltas find their message by item_id."""
    acc = Accumulator()

    def delta(item_id: str, text: str) -> Dict[str, Any]:
        return {"type": "response.output_text.delta", "item_id": item_id, "delta": text}

    feed(
        acc,
        {"type": "response.output_item.added", "item": {**MESSAGE, "id": "a"}},
        {"type": "response.output_item.added", "item": {**MESSAGE, "id": "b"}},
        delta("a", "one"),
        delta("b", "two"),
        delta("a", " more"),
    )
    assert [m.text for m in acc.response.output] == ["one more", "two"]  # type: ignore[union-attr]


def test_items_finished_out_of_order_keep_their_index_order() -> None:
    """An item announced at index 1 before index 0 still ends up second."""
    acc = Accumulator()
    feed(acc, added(1, {**MESSAGE, "id": "msg_1"}), added(0, CALL))
    assert [type(item) for item in acc.response.output] == [rs.FunctionCall, rs.Message]


def test_tool_progress_events_set_the_item_status() -> None:
    """web_search_call.in_progress/searching/completed set the item's status in turn."""
    acc = Accumulator()
    feed(acc, added(0, {"type": "web_search_call", "id": "ws_1", "status": "in_progress"}))
    item = acc.response.output[0]
    for step in ("searching", "completed"):
        (got,) = feed(acc, {"type": f"response.web_search_call.{step}", "output_index": 0})
        assert got is item and item.status == step  # type: ignore[union-attr]


def test_unknown_and_keep_alive_events_change_nothing() -> None:
    """Events without a step (unknown types, keep-alives) return None and leave the snapshot."""
    acc = Accumulator()
    feed(acc, created(status="in_progress"))
    before = acc.response.to_dict()
    assert feed(acc, {"type": "codex.rate_limits"}, {"type": "keepalive"}) == [None, None]
    assert acc.response.to_dict() == before and not acc.saw_output


def test_the_error_event_is_kept() -> None:
    """An error event is returned and kept as ``error_event``; the snapshot is unchanged."""
    acc = Accumulator()
    (error,) = feed(acc, {"type": "error", "code": "server_error", "message": "boom"})
    assert acc.error_event is error and error.code == "server_error"
    assert acc.response.status is None


def test_continues_an_existing_snapshot() -> None:
    """Accumulator(response=...) picks up the items of a snapshot (a resumed stream)."""
    snapshot = rs.Response.from_wire({"id": "r", "output": [{**MESSAGE, "content": []}]})
    acc = Accumulator(snapshot)
    feed(acc, text_delta("more"))
    assert acc.response is snapshot and snapshot.output_text == "more"
    assert len(snapshot.output) == 1


# ------------------------------------------------------------------------ lifecycle


def test_lifecycle_events_copy_the_response_fields_not_the_objects() -> None:
    """response.created and in_progress copy the response's own fields onto the snapshot; the
    snapshot shares nothing with the event, so the event still gives back what arrived."""
    acc = Accumulator()
    (event,) = [parse_event(created(status="queued", model="gpt-4o", metadata={"a": "1"}))]
    got = acc.feed(event)
    assert got is acc.response
    assert (got.id, got.status, got.model) == ("resp_1", "queued", "gpt-4o")
    feed(acc, {"type": "response.in_progress", "response": {"status": "in_progress"}})
    assert acc.response.status == "in_progress" and acc.response.model == "gpt-4o"
    acc.response.output.append(rs.Message())
    assert event.to_dict()["response"] == {
        "id": "resp_1",
        "status": "queued",
        "model": "gpt-4o",
        "metadata": {"a": "1"},
    }


@pytest.mark.parametrize(
    ("kind", "status", "item_status"),
    [
        ("response.completed", "completed", "completed"),
        ("response.incomplete", "incomplete", "incomplete"),
        ("response.failed", "failed", "in_progress"),
    ],
)
def test_a_terminal_event_without_output_ends_the_open_items(
    kind: str, status: str, item_status: str
) -> None:
    """Without an output in the terminal payload the streamed items are kept; those still in
    progress take the response's final status (not on failure); the terminal event is kept."""
    acc = Accumulator()
    feed(acc, created(), added(0, MESSAGE), text_delta("partial"))
    (final,) = feed(acc, terminal(kind))
    assert final is acc.response and final.status == status
    assert acc.terminal is not None and acc.terminal.type == kind
    (message,) = final.output
    assert message.status == item_status and final.output_text == "partial"  # type: ignore[union-attr]
    assert acc.unfinished_at_terminal == [message]


def test_the_terminal_payload_status_wins() -> None:
    """A terminal payload's own status is kept: vLLM's response.completed with status
    incomplete, or a response that ended cancelled."""
    for status in ("incomplete", "cancelled"):
        acc = Accumulator()
        feed(acc, created(), terminal("response.completed", status=status))
        assert acc.response.status == status
        assert acc.terminal is not None


def test_a_terminal_output_replaces_the_streamed_items_in_place() -> None:
    """A non-empty terminal output is authoritative (OpenRouter changes ids before completing):
    it replaces the streamed items, updating the objects a caller holds."""
    acc = Accumulator()
    (held,) = feed(acc, added(0, {**MESSAGE, "id": "msg_tmp"}))
    feed(acc, text_delta("draft"))
    text = [{"type": "output_text", "text": "final", "annotations": []}]
    final_item = {**MESSAGE, "id": "msg_final", "status": "completed", "content": text}
    feed(acc, terminal("response.completed", [final_item], status="completed"))
    assert acc.response.output == [held]
    assert (held.id, held.text, held.status) == ("msg_final", "final", "completed")
    assert acc.unfinished_at_terminal == [held]  # no output_item.done had come for it


def test_an_empty_terminal_output_keeps_the_streamed_items() -> None:
    """``output: []`` (LiteLLM, the ChatGPT backend) keeps what was streamed."""
    acc = Accumulator()
    text = [{"type": "output_text", "text": "kept"}]
    closed = {**MESSAGE, "status": "completed", "content": text}
    feed(acc, added(0, MESSAGE), text_delta("kept"), done(0, closed))
    (message,) = acc.response.output
    feed(acc, terminal("response.completed", [], status="completed"))
    assert acc.response.output == [message] and acc.response.output_text == "kept"
    assert acc.response.status == "completed" and acc.unfinished_at_terminal == []


# ------------------------------------------------------------------- sequence numbers


def numbered(seq: Any, delta: str) -> Dict[str, Any]:
    return text_delta(delta, sequence_number=seq)


def test_the_cursor_is_the_highest_integer_sequence_number() -> None:
    """last_sequence_number is the highest integer seen; out-of-order or repeated numbers on a
    stream that was not resumed are applied, not dropped and not an error."""
    acc = Accumulator()
    assert acc.last_sequence_number is None
    feed(acc, *(numbered(s, str(i)) for i, s in enumerate([0, 1, 1, 0, 5, 3])))
    assert acc.last_sequence_number == 5 and acc.response.output_text == "012345"


@pytest.mark.parametrize("odd", ["7", 2.5, True, None, [3]])
def test_a_sequence_number_that_is_not_an_integer_does_not_move_the_cursor(odd: Any) -> None:
    """Only integers move the cursor; events with anything else are applied."""
    acc = Accumulator()
    feed(acc, numbered(2, "a"), numbered(odd, "b"))
    assert acc.last_sequence_number == 2 and acc.response.output_text == "ab"


def test_after_resuming_events_already_applied_are_skipped() -> None:
    """resuming() returns the cursor; events up to it that the new connection sends again
    return REPEAT and change nothing; the next one is applied."""
    acc = Accumulator()
    feed(acc, numbered(0, "a"), numbered(1, "b"))
    assert acc.resuming() == 1
    assert feed(acc, numbered(0, "a"), numbered(1, "b")) == [REPEAT, REPEAT]
    assert acc.response.output_text == "ab"
    (part,) = feed(acc, numbered(2, "c"))
    assert isinstance(part, OutputText) and part.text == "abc"
    assert acc.last_sequence_number == 2


def test_a_gap_after_resuming_raises_stream_interrupted() -> None:
    """If the first new event after resuming() does not follow the cursor, StreamInterrupted
    says so (with the cursor), and nothing is applied."""
    acc = Accumulator()
    feed(acc, numbered(0, "a"), numbered(1, "b"))
    acc.resuming()
    with pytest.raises(rs.StreamInterrupted) as info:
        feed(acc, numbered(3, "d"))
    assert info.value.last_sequence_number == 1
    assert "asked for those after sequence_number 1, got 3 first" in str(info.value)
    assert acc.response.output_text == "ab" and acc.last_sequence_number == 1


def test_every_event_of_a_resumed_connection_is_checked() -> None:
    """Keep-alives pass; every numbered event of the resumed connection, not only its first,
    must follow the last one applied: one sent again later in the connection is a REPEAT,
    one that skips an event is StreamInterrupted, and so is one without a number (nothing
    tells it from one delivered before the break)."""
    acc = Accumulator()
    feed(acc, numbered(4, "a"))
    acc.resuming()
    feed(acc, {"type": "keepalive"})
    assert feed(acc, numbered(5, "b"), numbered(6, "c"), numbered(6, "c"), numbered(5, "b"))[
        2:
    ] == [REPEAT, REPEAT]
    assert acc.response.output_text == "abc"
    with pytest.raises(rs.StreamInterrupted) as info:
        feed(acc, numbered(8, "e"))
    assert "the resumed stream skipped events: 8 came after 6" in str(info.value)
    assert info.value.last_sequence_number == 6
    assert acc.response.output_text == "abc" and acc.last_sequence_number == 6
    (part,) = feed(acc, numbered(7, "d"))
    assert part.text == "abcd" and acc.cursor_exact
    with pytest.raises(rs.StreamInterrupted, match="without a sequence_number"):
        feed(acc, numbered(None, "-"))
    assert acc.response.output_text == "abcd" and not acc.cursor_exact


def test_a_stream_that_was_not_resumed_is_not_checked() -> None:
    """Before any resume, numbers are not compared (servers that number oddly still work)."""
    acc = Accumulator()
    feed(acc, numbered(5, "b"), numbered(9, "c"), numbered(6, "d"), numbered(6, "e"))
    assert acc.response.output_text == "bcde" and acc.last_sequence_number == 9


def test_resuming_before_any_numbered_event_drops_nothing() -> None:
    """With no cursor yet, resuming() returns None and every event is applied."""
    acc = Accumulator()
    assert acc.resuming() is None
    feed(acc, numbered(0, "a"), numbered(7, "b"))
    assert acc.response.output_text == "ab"


# ------------------------------------------------------------------- keep_output=False


def test_keep_output_false_keeps_the_response_fields_and_the_end_only() -> None:
    """Without output the snapshot keeps the response's own fields, its status, the terminal
    and error events, and whether output arrived; items, parts and text are not kept."""
    acc = Accumulator(keep_output=False)
    results = feed(
        acc,
        created(status="in_progress", model="m"),
        added(0, MESSAGE),
        text_delta("hi"),
        {"type": "error", "code": "x"},
        terminal(
            "response.completed",
            [{**MESSAGE, "content": [{"type": "output_text", "text": "hi"}]}],
            status="completed",
        ),
    )
    assert results[1:3] == [None, None]
    assert acc.response.output == [] and acc.response.output_text == ""
    assert (acc.response.status, acc.response.model) == ("completed", "m")
    assert acc.saw_output and acc.terminal is not None and acc.error_event is results[3]


def test_keep_output_false_without_deltas_saw_no_output() -> None:
    """saw_output stays False when no delta came."""
    acc = Accumulator(keep_output=False)
    feed(acc, created(), terminal("response.incomplete"))
    assert not acc.saw_output and acc.response.status == "incomplete"


# ----------------------------------------------------------------------- transcripts


def _bodies(path: Path) -> List[bytes]:
    return split_responses(path.read_bytes())


@pytest.mark.parametrize("path", OPENAI_TRANSCRIPTS, ids=transcript_id)
def test_output_is_rebuilt_when_terminal_output_is_empty(path: Path) -> None:
    """With response.completed carrying output: [] (LiteLLM, ChatGPT backend), the streamed
    items give the same output (encrypted_content aside: OpenAI re-encrypts it per event)."""
    for body in _bodies(path):
        events = payloads(body)
        end = next(e for e in events if e.get("type") in TERMINAL)
        if end["response"].get("status") == "failed":
            continue
        acc = Accumulator()
        emptied = copy.deepcopy(end)
        emptied["response"]["output"] = []
        for data in events:
            acc.feed(parse_event(emptied if data is end else data))
        ignore = {"encrypted_content"}
        if "openrouter" in path.name:
            ignore |= {"id"}  # OpenRouter's temporary ids change before completion
        got = without_keys(acc.response.to_dict()["output"], ignore)
        assert got == without_keys(end["response"]["output"], ignore)


@pytest.mark.parametrize("path", OPENAI_TRANSCRIPTS, ids=transcript_id)
def test_deltas_alone_rebuild_the_text(path: Path) -> None:
    """Dropping every .done event and the terminal output, the deltas still give the right
    answer text, function arguments and reasoning summaries."""
    for body in _bodies(path):
        events = payloads(body)
        end = next(e for e in events if e.get("type") in TERMINAL)
        expected = rs.Response.from_wire(end["response"])
        acc = Accumulator()
        for data in events:
            kind = data.get("type", "")
            if not kind.endswith(".done") and kind not in TERMINAL:
                acc.feed(parse_event(data))
        got = acc.response
        assert got.output_text == expected.output_text
        assert [(c.name, c.arguments) for c in got.function_calls] == [
            (c.name, c.arguments) for c in expected.function_calls
        ]
        assert [r.summary_text for r in got.reasoning_items] == [
            r.summary_text for r in expected.reasoning_items
        ]


# ------------------------------------------------------------- odd streams (hardening)


def test_a_done_value_replacing_arguments_is_what_partial_arguments_shows() -> None:
    """The parse partial_arguments kept of the deltas goes when .done replaces the string,
    even when the replacement ends like the streamed text did."""
    acc = Accumulator()
    streamed = '{"city": "Paris", "note": "aaaaaaaaaaaaaaaaaaaa'
    final = '{"city": "Lyon!", "note": "aaaaaaaaaaaaaaaaaaaa"}'
    (call,) = feed(
        acc,
        {
            **added(0, CALL),
            "type": "response.function_call_arguments.delta",
            "delta": streamed,
            "item_id": "fc_1",
        },
    )
    assert call.partial_arguments == {"city": "Paris", "note": "aaaaaaaaaaaaaaaaaaaa"}
    feed(
        acc,
        {
            "type": "response.function_call_arguments.done",
            "output_index": 0,
            "item_id": "fc_1",
            "arguments": final,
        },
    )
    assert call.arguments == final and call.partial_arguments == {"city": "Lyon!", "note": "a" * 20}


@pytest.mark.parametrize("kind", ["mcp_call", "custom_tool_call"])
def test_a_done_value_replacing_a_streamed_tool_field_is_parsed_again(kind: str) -> None:
    """The same for the tool items whose input streams (MCP arguments, custom tool input)."""
    field, prop = (
        ("arguments", "partial_arguments") if kind == "mcp_call" else ("input", "partial_input")
    )
    stem = (
        "response.mcp_call_arguments" if kind == "mcp_call" else "response.custom_tool_call_input"
    )
    acc = Accumulator()
    (item,) = feed(
        acc,
        {
            "type": f"{stem}.delta",
            "output_index": 0,
            "item_id": "t",
            "delta": '{"a": "xxxxxxxxxxxxxxxxxxxxxxxx',
        },
    )
    assert getattr(item, prop) == {"a": "x" * 24}
    feed(
        acc,
        {
            "type": f"{stem}.done",
            "output_index": 0,
            "item_id": "t",
            field: '{"b": "xxxxxxxxxxxxxxxxxxxxxxxx"}',
        },
    )
    assert getattr(item, prop) == {"b": "x" * 24}


def test_text_deltas_without_index_or_id_go_to_the_last_item_announced() -> None:
    """With neither output_index nor item_id, a text delta goes to the last item: a second
    message announced (the first never closed) takes the deltas after it."""
    acc = Accumulator()
    first = {"type": "message", "id": "m0", "role": "assistant", "content": []}
    bare = {"type": "response.output_text.delta"}
    feed(
        acc,
        {"type": "response.output_item.added", "item": first},
        {**bare, "delta": "A"},
        {"type": "response.output_item.added", "item": {**first, "id": "m1"}},
        {**bare, "delta": "B"},
    )
    assert [m.content[0].text for m in acc.response.output] == ["A", "B"]  # type: ignore[union-attr]


def test_an_item_announced_again_keeps_what_its_deltas_built() -> None:
    """A repeated output_item.added for the item being streamed (same id) changes nothing:
    the deltas before and after it land in the part in the snapshot."""
    acc = Accumulator()
    message = {**MESSAGE, "content": []}
    feed(
        acc,
        added(0, message),
        part_added(0, 0),
        text_delta("Hel"),
        added(0, message),
        text_delta("lo"),
    )
    assert acc.response.output_text == "Hello"
    feed(acc, done(0, {**message, "id": "msg_0"}))  # .done is authoritative: it replaces
    assert acc.response.output_text == ""


def test_a_new_item_at_the_same_index_takes_the_deltas_after_it() -> None:
    """A different item (another id) announced at an index replaces what was there."""
    acc = Accumulator()
    feed(
        acc,
        added(0, {**MESSAGE, "content": []}),
        text_delta("old"),
        added(0, {**MESSAGE, "id": "msg_new", "content": []}),
        text_delta("new"),
    )
    assert acc.response.output_text == "new"


REFUSAL_0 = {
    "type": "response.refusal.delta",
    "output_index": 0,
    "content_index": 0,
    "item_id": "msg_0",
    "delta": "no",
}


def test_a_part_of_another_type_at_the_cached_index_keeps_both() -> None:
    """A refusal delta at the text part's index, then text again: the text part keeps its
    place and every text delta, the refusal gets a part of its own after it (it replaced
    the text part, which lost "a")."""
    acc = Accumulator()
    feed(acc, added(0, {**MESSAGE, "content": []}), text_delta("a"), REFUSAL_0, text_delta("b"))
    text, refused = acc.response.output[0].content  # type: ignore[union-attr]
    assert isinstance(text, OutputText) and text.text == "ab"
    assert isinstance(refused, Refusal) and refused.refusal == "no"
    assert acc.response.output_text == "ab" and acc.response.refusal == "no"


def test_an_empty_placeholder_of_another_type_gives_way() -> None:
    """A delta for index 2 makes placeholders at 0 and 1; a refusal for index 0 then takes
    the empty placeholder's place rather than going after it."""
    acc = Accumulator()
    feed(acc, added(0, {**MESSAGE, "content": []}), text_delta("c", part=2), REFUSAL_0)
    parts = acc.response.output[0].content  # type: ignore[union-attr]
    assert [type(p).__name__ for p in parts] == ["Refusal", "OutputText", "OutputText"]
    assert acc.response.output_text == "c" and acc.response.refusal == "no"


def test_a_part_index_far_past_the_parts_is_a_protocol_error() -> None:
    """A hostile index would make that many placeholder parts: refused instead."""
    acc = Accumulator()
    with pytest.raises(rs.errors.ProtocolError, match="far past"):
        feed(acc, added(0, {**MESSAGE, "content": []}), text_delta("x", part=100_000))
    feed(acc, text_delta("y", part=200))  # a gap within bounds is filled
    assert len(acc.response.output[0].content) == 201  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "kind, item_type",
    [
        ("web_search_call", "web_search_call"),
        ("file_search_call", "file_search_call"),
        ("code_interpreter_call", "code_interpreter_call"),
        ("image_generation_call", "image_generation_call"),
        ("mcp_call", "mcp_call"),
        ("mcp_list_tools", "mcp_list_tools"),
    ],
)
def test_status_events_for_an_unannounced_tool_item_create_it(kind: str, item_type: str) -> None:
    """A tool's progress event for an item never announced (no output_item.added) creates it
    with that status, as a delta for it would."""
    acc = Accumulator()
    (item,) = feed(
        acc, {"type": f"response.{kind}.in_progress", "output_index": 0, "item_id": "t_1"}
    )
    assert item is acc.response.output[0]
    assert (type(item).TYPE, item.id, item.status) == (item_type, "t_1", "in_progress")
    (again,) = feed(
        acc, {"type": f"response.{kind}.completed", "output_index": 0, "item_id": "t_1"}
    )
    assert again is item and item.status == "completed" and len(acc.response.output) == 1


@pytest.mark.parametrize(
    "event",
    [
        {"type": "response.apply_patch_call_operation_diff.done", "output_index": 0, "diff": 3},
        {"type": "response.apply_patch_call_operation_diff.delta", "output_index": 0, "delta": 3},
        {
            "type": "response.function_call_arguments.done",
            "output_index": 0,
            "arguments": "{}",
            "name": 7,
        },
    ],
)
def test_text_fields_of_the_wrong_type_are_refused(event: Dict[str, Any]) -> None:
    """A number where text belongs raises (a ProtocolError in a stream), changing nothing."""
    acc = Accumulator()
    feed(acc, added(0, CALL))
    before = acc.response.to_dict()
    with pytest.raises(TypeError):
        feed(acc, event)
    assert acc.response.to_dict() == before


def test_a_resumed_lifecycle_event_without_an_id_continues_the_response() -> None:
    """Only another id refuses a resumed connection: a payload with none (servers leave
    fields out) continues the response it resumes."""
    acc = Accumulator()
    feed(acc, {"type": "response.created", "sequence_number": 0, "response": {"id": "r1"}})
    acc.resuming()
    completed = {"status": "completed", "output": []}
    feed(acc, {"type": "response.completed", "sequence_number": 1, "response": completed})
    assert acc.response.id == "r1" and acc.response.status == "completed"


def test_a_delta_at_the_index_of_a_part_of_an_unknown_type_keeps_both() -> None:
    """The unknown part (a raw dict) stays, and the text gets a part of its own."""
    future = {"type": "future_part", "x": 1}
    acc = Accumulator()
    feed(acc, added(0, {**MESSAGE, "content": [future]}), text_delta("hi"), text_delta("!"))
    first, text = acc.response.output[0].content  # type: ignore[union-attr]
    assert first == future and isinstance(text, OutputText) and text.text == "hi!"


def test_events_for_an_item_of_an_unknown_type_go_to_one_typed_item_beside_it() -> None:
    """Text events for an item of a type this SDK does not know: that item stays as it came,
    and one typed message beside it takes every event (not a new one per event)."""
    acc = Accumulator()
    where = {"output_index": 0, "item_id": "fut_1", "content_index": 0}
    part = {"type": "output_text", "annotations": [], "text": ""}
    feed(
        acc,
        created(),
        added(0, {"id": "fut_1", "type": "future_message", "content": []}),
        {"type": "response.content_part.added", **where, "part": part},
        {"type": "response.output_text.delta", **where, "delta": "h"},
        {"type": "response.output_text.delta", **where, "delta": "i"},
        {"type": "response.output_text.done", **where, "text": "hi"},
        {"type": "response.content_part.done", **where, "part": dict(part, text="hi")},
    )
    output = acc.response.to_dict()["output"]
    assert [item["type"] for item in output] == ["future_message", "message"]
    assert acc.response.output_text == "hi"


def test_argument_deltas_for_an_unknown_item_type_build_one_call() -> None:
    acc = Accumulator()
    where = {"output_index": 0, "item_id": "fx_1"}
    touched = feed(
        acc,
        created(),
        added(0, {"id": "fx_1", "type": "function_call_v2", "arguments": ""}),
        {"type": "response.function_call_arguments.delta", **where, "delta": '{"a":'},
        {"type": "response.function_call_arguments.delta", **where, "delta": "1}"},
    )
    assert touched[2] is touched[3]
    output = acc.response.to_dict()["output"]
    assert [(item["type"], item["arguments"]) for item in output] == [
        ("function_call_v2", ""),
        ("function_call", '{"a":1}'),
    ]


def test_an_announcement_after_the_deltas_adds_what_the_call_lacked() -> None:
    """Arguments first (a placeholder call), then output_item.added with the name and call_id:
    the call keeps its arguments and gains the name and call_id a tool loop dispatches on."""
    acc = Accumulator()
    call = {"id": "fc_1", "type": "function_call", "name": "get_weather", "call_id": "call_1"}
    feed(
        acc,
        created(),
        {
            "type": "response.function_call_arguments.delta",
            "output_index": 0,
            "item_id": "fc_1",
            "delta": '{"city":"Paris"}',
        },
        added(0, dict(call, arguments="", status="in_progress")),
    )
    [item] = acc.response.output
    assert isinstance(item, rs.FunctionCall)
    assert (item.name, item.call_id, item.arguments) == (
        "get_weather",
        "call_1",
        '{"city":"Paris"}',
    )


def test_a_part_done_with_empty_logprobs_keeps_the_ones_the_text_done_gave() -> None:
    """OpenAI sends content_part.done with "logprobs": [] right after an output_text.done that
    carried them (openai-dotnet__text-logprobs-top-logprobs.sse)."""
    acc = Accumulator()
    where = {"output_index": 0, "item_id": "msg_1", "content_index": 0}
    logprobs = [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": []}]
    part = {"type": "output_text", "annotations": [], "text": "", "logprobs": []}
    feed(
        acc,
        created(),
        added(0, {"id": "msg_1", "type": "message", "role": "assistant", "content": []}),
        {"type": "response.content_part.added", **where, "part": part},
        {"type": "response.output_text.delta", **where, "delta": "Hi"},
        {"type": "response.output_text.done", **where, "text": "Hi", "logprobs": logprobs},
        {"type": "response.content_part.done", **where, "part": dict(part, text="Hi")},
    )
    [text] = acc.response.output[0].content
    assert text.text == "Hi" and text.to_dict()["logprobs"] == logprobs


@pytest.mark.parametrize(
    "done",
    [
        {"type": "response.output_text.done", "content_index": 0, "text": ""},
        {
            "type": "response.content_part.done",
            "content_index": 0,
            "part": {"type": "output_text", "text": ""},
        },
    ],
    ids=["text-done", "part-done"],
)
def test_an_empty_final_text_leaves_the_streamed_text(done: Dict[str, Any]) -> None:
    """A proxy that sends "" in every .done (opencode-llm-proxy#48): the text stays."""
    acc = Accumulator()
    where = {"output_index": 0, "item_id": "msg_1", "content_index": 0}
    feed(
        acc,
        created(),
        {"type": "response.output_text.delta", **where, "delta": "kept"},
        {**done, "output_index": 0, "item_id": "msg_1"},
    )
    assert acc.response.output_text == "kept"


def test_empty_final_arguments_leave_the_streamed_arguments() -> None:
    acc = Accumulator()
    where = {"output_index": 0, "item_id": "fc_1"}
    feed(
        acc,
        created(),
        added(0, {"id": "fc_1", "type": "function_call", "name": "f", "call_id": "c"}),
        {"type": "response.function_call_arguments.delta", **where, "delta": '{"a": 1}'},
        {"type": "response.function_call_arguments.done", **where, "arguments": ""},
    )
    assert acc.response.output[0].arguments == '{"a": 1}'


@pytest.mark.parametrize("spacing", [1, 10], ids=["next-to-each-other", "far-apart"])
def test_each_item_of_an_unknown_type_gets_its_own_typed_item_beside_it(spacing: int) -> None:
    """Six unknown call items, each finished (its object replaced) before the next: each
    one's arguments go to its own call, placed right after it, and none is taken over by
    the server's next item."""
    handler_done: List[Any] = []

    class Done(rs.ResponseHandler):
        def on_function_call_done(self, call: rs.FunctionCall) -> None:
            handler_done.append((call.id, call.arguments))

    events: List[Dict[str, Any]] = [created()]
    for k in range(6):
        index, item = k * spacing, {"type": "future_call", "id": f"fu_{k}"}
        where = {"output_index": index, "item_id": f"fu_{k}"}
        events += [
            added(index, dict(item, status="in_progress")),
            {"type": "response.function_call_arguments.delta", **where, "delta": f'{{"k":{k}}}'},
            {"type": "response.function_call_arguments.done", **where, "arguments": f'{{"k":{k}}}'},
            done(index, dict(item, status="completed")),
        ]
    events.append(terminal("response.completed", output=[]))
    body = b"".join(b"data: %s\n\n" % json.dumps(event).encode() for event in events)
    final = rs.replay(body, Done())
    calls = [(item.id, item.arguments) for item in final.output if not isinstance(item, dict)]
    expected = [(f"fu_{k}", f'{{"k":{k}}}') for k in range(6)]
    assert calls == expected and handler_done == expected
    types = [item["type"] for item in final.to_dict()["output"]]
    assert types == ["future_call", "function_call"] * 6


def test_an_announcement_after_index_only_deltas_adds_what_the_call_lacked() -> None:
    """Deltas with an output_index and no item_id (a placeholder without an id), then the
    output_item.added: the streamed arguments stay, the name and id arrive."""
    acc = Accumulator()
    call = {"id": "fc_1", "type": "function_call", "name": "get_weather", "call_id": "c1"}
    feed(
        acc,
        created(),
        {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": '{"a":'},
        {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "1}"},
        added(0, dict(call, arguments="", status="in_progress")),
    )
    [item] = acc.response.output
    assert (item.id, item.name, item.arguments) == ("fc_1", "get_weather", '{"a":1}')
