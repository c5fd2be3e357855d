"""What compatible servers do differently, one test per quirk, offline.

Each sample is a recorded stream from ``fixtures/transcripts`` (OpenRouter, LiteLLM, llama.cpp,
transformers serve, vLLM), or a copy edited the way that server is known to differ (see
SEMANTICS.md section 11 and ``real_servers/`` for the live counterparts). Every test plays the
bytes through ``rs.replay`` (the same pipeline as a live stream) or a ``MockServer`` and checks
the final ``Response`` and the callbacks.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

import pytest

import responses_stream as rs
from responses_stream.testing import MockServer

from .scripts import FIXTURES, deltas_of, drop_types, edit, frames, payload_of, payloads, sse

SERVERS = FIXTURES / "servers"
OPENROUTER = FIXTURES / "openrouter__reasoning-text-gpt-oss-no-event-lines-done.sse"
FUNCTION_CALL = FIXTURES / "openai-dotnet__function-call-single.sse"
TEXT = FIXTURES / "openai-dotnet__text-gpt4o-mini.sse"


# -------------------------------------------------------------------------------- helpers


class Recorder(rs.ResponseHandler):
    """Keeps every callback call in order, with the argument that matters."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: List[Tuple[str, Any]] = []

    def names(self) -> List[str]:
        return [name for name, _ in self.calls]

    def args(self, name: str) -> List[Any]:
        return [arg for n, arg in self.calls if n == name]

    def on_event(self, event: rs.events.Event) -> None:
        self.calls.append(("event", event.type))

    def on_created(self, response: rs.Response) -> None:
        self.calls.append(("created", response.to_dict()))

    def on_queued(self, response: rs.Response) -> None:
        self.calls.append(("queued", response.status))

    def on_in_progress(self, response: rs.Response) -> None:
        self.calls.append(("in_progress", response.status))

    def on_completed(self, response: rs.Response) -> None:
        self.calls.append(("completed", response))

    def on_incomplete(self, response: rs.Response) -> None:
        self.calls.append(("incomplete", response))

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        self.calls.append(("text_delta", (delta, snapshot)))

    def on_text_done(self, text: str) -> None:
        self.calls.append(("text_done", text))

    def on_reasoning_delta(self, delta: str, snapshot: str) -> None:
        self.calls.append(("reasoning_delta", delta))

    def on_reasoning_done(self, reasoning: rs.Reasoning) -> None:
        self.calls.append(("reasoning_done", reasoning))

    def on_function_call_created(self, call: rs.FunctionCall) -> None:
        self.calls.append(("call_created", call))

    def on_function_call_delta(self, delta: str, snapshot: str, call: rs.FunctionCall) -> None:
        self.calls.append(("call_delta", (delta, call.name)))

    def on_function_call_done(self, call: rs.FunctionCall) -> None:
        self.calls.append(("call_done", call))

    def on_error(self, error: rs.events.ErrorEvent) -> None:
        self.calls.append(("error", error))

    def on_unknown_event(self, event: rs.events.UnknownEvent) -> None:
        self.calls.append(("unknown", event))

    def on_keep_alive(self) -> None:
        self.calls.append(("keep_alive", None))

    def on_exception(self, exc: BaseException) -> None:
        self.calls.append(("exception", exc))

    def on_end(self) -> None:
        self.calls.append(("end", None))

    def text(self) -> str:
        """The deltas on_text_delta saw, checking each snapshot is the running text."""
        text = ""
        for delta, snapshot in self.args("text_delta"):
            text += delta
            assert snapshot.endswith(delta)
        return text


def lifecycle(handler: Recorder) -> List[str]:
    keep = {"created", "queued", "in_progress", "completed", "incomplete", "exception", "end"}
    return [n for n in handler.names() if n in keep]


# ----------------------------------------------------------------------------- OpenRouter


def test_openrouter_data_only_comment_and_done() -> None:
    """No ``event:`` lines, a ``: OPENROUTER PROCESSING`` comment first and ``data: [DONE]``
    last: the comment is a keep-alive (not an event), [DONE] ends the stream quietly."""
    data = OPENROUTER.read_bytes()
    assert b"\nevent:" not in data and data.startswith(b": OPENROUTER PROCESSING")
    assert data.rstrip().endswith(b"data: [DONE]")
    handler = Recorder()
    final = rs.replay(data, handler)
    assert handler.names()[0] == "keep_alive"
    assert handler.args("event")[0] == "response.created"
    assert len(handler.args("event")) == len(payloads(data))  # the comment is no wire event
    assert lifecycle(handler) == ["created", "in_progress", "completed", "end"]
    assert final.status == "completed" and final.id == "gen-1764265411-Fu1iEX7h5MRWiL79lb94"
    assert final.output_text == "4" == handler.text()
    assert final.usage is not None and final.usage.total_tokens == 115
    assert final.usage.input_tokens_details == {"cached_tokens": 0}


def test_openrouter_output_text_key_does_not_hide_the_text() -> None:
    """OpenRouter's Response objects carry ``"output_text": ""``; the property still gives the
    text, and to_dict() still gives back the key as sent."""
    final = rs.replay(OPENROUTER.read_bytes())
    assert final.output_text == "4"
    assert final.to_dict()["output_text"] == ""


def test_openrouter_temporary_ids_change_before_completed() -> None:
    """The reasoning item streams as ``rs_tmp_2kbe…`` and completes as ``rs_tmp_ku4i…``: the
    final output has the completed ids, and the Reasoning object handed to on_reasoning_done is
    the one in the final output, updated in place."""
    data = OPENROUTER.read_bytes()
    handler = Recorder()
    final = rs.replay(data, handler)
    (held,) = handler.args("reasoning_done")
    assert [item.id for item in final.output] == ["rs_tmp_ku4i7pagjwn", "msg_tmp_8cjof4f6zpw"]
    assert final.output[0] is held and held.id == "rs_tmp_ku4i7pagjwn"
    reasoning_text = deltas_of(data, "response.reasoning_text.delta")
    assert "".join(handler.args("reasoning_delta")) == reasoning_text
    assert [part.text for part in held.content] == [reasoning_text]


def test_openrouter_message_id_change_too() -> None:
    """Same quirk on the message: a new id only in response.completed replaces the streamed one;
    the text is unchanged."""

    def rename(p: Dict[str, Any]) -> Dict[str, Any]:
        if p["type"] == "response.completed":
            p["response"]["output"][1]["id"] = "msg_final"
        return p

    final = rs.replay(edit(OPENROUTER.read_bytes(), rename))
    assert [item.id for item in final.output] == ["rs_tmp_ku4i7pagjwn", "msg_final"]
    assert final.output_text == "4"


def test_openrouter_items_finished_out_of_order() -> None:
    """The message (output 1) is done before the reasoning (output 0): callbacks follow the wire
    order, the final output keeps the index order."""
    handler = Recorder()
    final = rs.replay(OPENROUTER.read_bytes(), handler)
    names = handler.names()
    assert names.index("text_done") < names.index("reasoning_done")
    assert [type(item) for item in final.output] == [rs.Reasoning, rs.Message]


def test_openrouter_out_of_order_with_empty_completed_output() -> None:
    """Without the authoritative output in response.completed, the items streamed out of order
    still land at their indexes, with the streamed (temporary) ids."""

    def empty(p: Dict[str, Any]) -> Dict[str, Any]:
        if p["type"] == "response.completed":
            p["response"]["output"] = []
        return p

    data = edit(OPENROUTER.read_bytes(), empty)
    final = rs.replay(data)
    assert [item.id for item in final.output] == ["rs_tmp_2kbe7x16sax", "msg_tmp_8cjof4f6zpw"]
    assert final.output_text == "4"
    reasoning = final.output[0]
    assert isinstance(reasoning, rs.Reasoning)
    assert reasoning.content[0].text == deltas_of(data, "response.reasoning_text.delta")


# -------------------------------------------------------------------------------- LiteLLM


def test_litellm_recorded_stream() -> None:
    """LiteLLM's bridge: data-only frames, sequence_number on one event only, an extra
    ``model`` key on every event, a ~500-char response id, ``[DONE]`` at the end."""
    data = (SERVERS / "litellm.sse").read_bytes()
    handler = Recorder()
    final = rs.replay(data, handler)
    assert final.status == "completed"
    assert final.output_text == "Hello from the fake chat upstream \u2014 caf\u00e9 \U0001f642!"
    assert handler.text() == final.output_text
    assert final.id is not None and len(final.id) > 400
    assert final.usage is not None and final.usage.output_tokens == 10
    assert lifecycle(handler) == ["created", "in_progress", "completed", "end"]


def test_litellm_without_output_item_added_and_empty_completed_output() -> None:
    """LiteLLM may skip ``output_item.added``/``content_part.added`` (the first event for the
    message is a delta), omit every ``sequence_number``, and complete with ``output: []``: the
    message is still built from the deltas and the .done events."""

    def litellm_style(p: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        if p["type"] in ("response.output_item.added", "response.content_part.added"):
            return None
        p.pop("sequence_number", None)
        if p["type"] == "response.completed":
            p["response"]["output"] = []
        return p

    source = (SERVERS / "litellm.sse").read_bytes()
    data = edit(source, litellm_style)
    assert b"output_item.added" not in data and b"sequence_number" not in data
    handler = Recorder()
    final = rs.replay(data, handler)
    assert final.status == "completed"
    assert final.output_text == deltas_of(source) == handler.text()
    (message,) = final.output
    assert isinstance(message, rs.Message)
    assert message.id == "msg_3135267c-abe9-40bc-8ce0-2995a078bc88"
    assert message.status == "completed"
    assert handler.args("text_done") == [final.output_text]


def test_litellm_deltas_only_message() -> None:
    """The barest LiteLLM stream: created, deltas, completed with ``output: []``, [DONE]. The
    message exists, is marked completed with the response, and holds all the text."""

    def bare(p: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        if p["type"] not in (
            "response.created",
            "response.output_text.delta",
            "response.completed",
        ):
            return None
        if p["type"] == "response.completed":
            p["response"]["output"] = []
        return p

    source = (SERVERS / "litellm.sse").read_bytes()
    handler = Recorder()
    final = rs.replay(edit(source, bare), handler)
    (message,) = final.output
    assert isinstance(message, rs.Message) and message.status == "completed"
    assert final.output_text == deltas_of(source) == handler.text()


def test_litellm_function_call_without_output_item_added() -> None:
    """A function call whose ``output_item.added`` never came (LiteLLM issue #22102): the
    arguments stream into a FunctionCall, on_function_call_done gets it complete with its name
    and parsed arguments, exactly once."""

    def litellm_style(p: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        if p["type"] == "response.output_item.added":
            return None
        p.pop("sequence_number", None)
        if p["type"] == "response.completed":
            p["response"]["output"] = []
        return p

    source = FUNCTION_CALL.read_bytes()
    handler = Recorder()
    final = rs.replay(edit(source, litellm_style, keep_event_lines=False), handler)
    (call,) = final.function_calls
    expected = next(p["item"] for p in payloads(source) if p["type"] == "response.output_item.done")
    assert (call.name, call.call_id, call.arguments) == (
        expected["name"],
        expected["call_id"],
        expected["arguments"],
    )
    assert call.parsed_arguments == json.loads(expected["arguments"])
    assert "".join(d for d, _ in handler.args("call_delta")) == expected["arguments"]
    assert handler.args("call_done") == [call]


def test_litellm_function_call_created_fires_for_an_implied_call() -> None:
    """When the call was never announced, on_function_call_created still fires once, before
    its first on_function_call_delta (the call exists from the first delta on)."""
    source = FUNCTION_CALL.read_bytes()
    handler = Recorder()
    rs.replay(edit(source, drop_types("response.output_item.added")), handler)
    names = [n for n in handler.names() if n.startswith("call_")]
    assert names[0] == "call_created"
    assert names.count("call_created") == 1


# ------------------------------------------------------------------------------ llama.cpp


@pytest.mark.parametrize("name", ["xllamacpp.sse", "llama-server.sse"])
def test_llamacpp_no_indexes_no_sequence_numbers_minimal_created(name: str) -> None:
    """llama.cpp: no ``output_index``/``content_index``/``sequence_number`` anywhere, and a
    response.created with only id, object and status. Deltas go to the right part by item id;
    the final Response has everything response.completed carried."""
    data = (SERVERS / name).read_bytes()
    assert b"sequence_number" not in data and b"output_index" not in data
    handler = Recorder()
    final = rs.replay(data, handler)
    (created,) = handler.args("created")
    assert created["status"] == "in_progress" and created["id"].startswith("resp_")
    assert created.get("model") is None and created.get("created_at") is None
    assert final.status == "completed" and final.model == "tiny"
    assert isinstance(final.created_at, int)
    assert final.output_text == deltas_of(data) == handler.text()
    assert handler.args("text_done") == [final.output_text]
    assert final.usage is not None and final.usage.output_tokens == 6
    assert final.usage.total_tokens == 18


def frame(kind: str, **fields: Any) -> bytes:
    """One llama.cpp-style frame: an ``event:`` line, no indexes, no sequence_number."""
    return f"event: {kind}\ndata: ".encode() + json.dumps({"type": kind, **fields}).encode()


def test_llamacpp_items_routed_by_item_id() -> None:
    """Without indexes, deltas are routed by ``item_id``: two messages whose deltas interleave
    (and no .done events, and an empty completed output) each get their own text."""
    first, second = "msg_dvZnXTO3V2RjS8StwlmBzVbL46thGxtl", "msg_second"
    body = frames((SERVERS / "xllamacpp.sse").read_bytes())
    created, in_progress, completed = body[0], body[1], payload_of(body[-1])
    assert completed is not None and completed["type"] == "response.completed"
    completed["response"]["output"] = []

    def added(item_id: str) -> List[bytes]:
        item = {"content": [], "id": item_id, "role": "assistant", "status": "in_progress"}
        return [
            frame("response.output_item.added", item={**item, "type": "message"}),
            frame("response.content_part.added", item_id=item_id, part={"type": "output_text"}),
        ]

    data = b"\n\n".join(
        [
            created,
            in_progress,
            *added(first),
            frame("response.output_text.delta", item_id=first, delta="one"),
            *added(second),
            frame("response.output_text.delta", item_id=second, delta="two"),
            frame("response.output_text.delta", item_id=first, delta=" more"),
            frame("response.output_text.delta", item_id=second, delta=" too"),
            b"event: response.completed\ndata: " + json.dumps(completed).encode(),
        ]
    )
    handler = Recorder()
    final = rs.replay(data + b"\n\n", handler)
    assert [item.id for item in final.output] == [first, second]
    assert [item.text for item in final.output if isinstance(item, rs.Message)] == [
        "one more",
        "two too",
    ]
    assert [snapshot for _, snapshot in handler.args("text_delta")] == [
        "one",
        "two",
        "one more",
        "two too",
    ]
    assert all(item.status == "completed" for item in final.output)


# ----------------------------------------------------------------------- transformers serve


def test_transformers_serve_queued_float_created_at_nulls_omitted() -> None:
    """transformers serve: response.created says ``status: "queued"`` (no response.queued event
    follows), ``created_at`` is a float, and null fields are left out rather than sent as null."""
    data = (SERVERS / "transformers-serve.sse").read_bytes()
    assert b"\nevent:" not in data and not data.startswith(b"event:")
    handler = Recorder()
    final = rs.replay(data, handler)
    (created,) = handler.args("created")
    assert created["status"] == "queued"
    assert "error" not in created and "usage" not in created
    assert handler.args("queued") == []  # no response.queued event: no on_queued
    assert handler.args("in_progress") == ["in_progress"]
    assert final.status == "completed"
    assert final.created_at == 1795311555.9450803 and isinstance(final.created_at, float)
    assert final.error is None and final.incomplete_details is None and final.instructions is None
    assert final.output_text == deltas_of(data) == handler.text()
    assert final.usage is not None and final.usage.total_tokens == 18
    numbers = [p["sequence_number"] for p in payloads(data)]
    assert numbers == list(range(len(numbers)))


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ("Unexpected fields in the request: {'bogus'}", "Unexpected fields in the request"),
        (
            [{"type": "float_parsing", "loc": ["body", "temperature"], "msg": "bad number"}],
            "temperature",
        ),
    ],
    ids=["detail-string", "detail-list"],
)
def test_transformers_serve_422_detail(detail: Any, expected: str) -> None:
    """FastAPI's ``422 {"detail": ...}`` (a string, or a list of validation errors) is an
    UnprocessableEntityError whose message carries the detail; it is not retried."""
    with MockServer() as server:
        server.add_json({"detail": detail}, status=422)
        handler = Recorder()
        with (
            rs.Client(base_url=server.base_url) as client,
            pytest.raises(rs.errors.UnprocessableEntityError) as info,
        ):
            client.stream(handler, model="m", input="hi", bogus=1)
        assert len(server.requests) == 1
    err = info.value
    assert err.status_code == 422
    assert expected in str(err) and expected in err.message
    assert err.body == {"detail": detail}
    assert handler.names() == ["exception", "end"]


# ----------------------------------------------------------------------------------- vLLM


def test_vllm_completed_event_with_incomplete_status() -> None:
    """vLLM ends a truncated reply with ``response.completed`` whose status is ``incomplete``:
    the final Response says incomplete, with the reason, whichever event carried it."""
    data = (SERVERS / "vllm.sse").read_bytes()
    handler = Recorder()
    final = rs.replay(data, handler)
    assert final.status == "incomplete"
    assert final.incomplete_details is not None
    assert final.incomplete_details.reason == "max_output_tokens"
    assert final.output_text == deltas_of(data) == handler.text()
    assert final.usage is not None and final.usage.output_tokens == 6


def test_vllm_truncation_reaches_on_incomplete() -> None:
    """A handler that watches on_incomplete for truncation sees vLLM's truncated replies too:
    on_incomplete runs (not on_completed) when response.completed carries status incomplete."""
    handler = Recorder()
    final = rs.replay((SERVERS / "vllm.sse").read_bytes(), handler)
    assert handler.args("incomplete") == [final]
    assert handler.args("completed") == []


def test_vllm_integer_error_code_http() -> None:
    """vLLM's HTTP errors carry ``code`` as the integer status: BadRequestError.code is a str."""
    body = {
        "error": {
            "message": "max_output_tokens must be at least 1, got -1.",
            "type": "BadRequestError",
            "param": None,
            "code": 400,
        }
    }
    with MockServer() as server:
        server.add_json(body, status=400)
        with (
            rs.Client(base_url=server.base_url) as client,
            pytest.raises(rs.errors.BadRequestError) as info,
        ):
            client.stream(model="tiny", input="hi", max_output_tokens=-1)
    err = info.value
    assert err.code == "400" and err.type == "BadRequestError"
    assert "max_output_tokens must be at least 1" in str(err)


def test_vllm_integer_error_code_in_stream() -> None:
    """An in-band error event with an integer ``code`` (vLLM): StreamError.code and the
    ErrorEvent's code are strings; the partial text is kept."""
    source = (SERVERS / "vllm.sse").read_bytes()
    cut = [f for f in frames(source) if b"output_text.done" not in f]
    cut = cut[: next(i for i, f in enumerate(cut) if b'"delta":"J"' in f) + 1]
    error = {
        "type": "error",
        "code": 500,
        "message": "engine dead",
        "param": None,
        "sequence_number": 7,
    }
    data = b"\n\n".join(cut) + b"\n\n" + sse(error, event_lines=True)
    handler = Recorder()
    with pytest.raises(rs.StreamError) as info:
        rs.replay(data, handler)
    assert info.value.code == "500" and "engine dead" in info.value.message
    (event,) = handler.args("error")
    assert event.code == "500"
    assert info.value.response is not None
    assert info.value.response.output_text == "7tantJ"


# ------------------------------------------------------------------- ChatGPT/Codex backend


def test_chatgpt_codex_rate_limits_before_created() -> None:
    """The ChatGPT backend sends ``codex.rate_limits`` before ``response.created`` and completes
    with ``output: []``: the unknown event reaches on_unknown_event with its data, first, and the
    response is still built."""
    limits = {
        "type": "codex.rate_limits",
        "plan_type": "plus",
        "rate_limits": {"primary": {"used_percent": 5.0, "window_minutes": 300}},
    }

    def empty_output(p: Dict[str, Any]) -> Dict[str, Any]:
        if p["type"] == "response.completed":
            p["response"]["output"] = []
        return p

    source = TEXT.read_bytes()
    data = sse(limits, event_lines=True) + edit(source, empty_output)
    handler = Recorder()
    final = rs.replay(data, handler)
    assert handler.names()[:2] == ["event", "unknown"]
    (unknown,) = handler.args("unknown")
    assert unknown.type == "codex.rate_limits" and unknown.data == limits
    assert lifecycle(handler)[:1] == ["created"]
    assert final.status == "completed"
    expected = rs.replay(source)
    assert final.output_text == expected.output_text == handler.text()
    assert final.id == expected.id


def test_chatgpt_codex_rate_limits_pull_style() -> None:
    """Pull style: the first event is an UnknownEvent, the rest as usual."""
    limits = {"type": "codex.rate_limits", "primary": {"used_percent": 5}}
    data = sse(limits) + TEXT.read_bytes()
    with MockServer() as server:
        server.add(data)
        with (
            rs.Client(base_url=server.base_url) as client,
            client.events(model="m", input="hi") as stream,
        ):
            events = list(stream)
            final = stream.response
    assert isinstance(events[0], rs.events.UnknownEvent)
    assert events[0].to_dict() == limits
    assert isinstance(events[1], rs.events.ResponseCreated)
    assert final.status == "completed" and final.output_text == rs.replay(TEXT).output_text
