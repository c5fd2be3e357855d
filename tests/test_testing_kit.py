"""Tests for the public testing kit, ``responses_stream.testing`` (Script and MockServer)."""

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import requests
import sseclient

from responses_stream.testing import MockServer, RecordedRequest, Script, mock_server

from .scripts import (
    CALLS,
    ENCRYPTED,
    FIXTURES,
    SCRIPTS,
    SUMMARY,
    TERMINAL,
    function_calls_script,
    reasoning_script,
    text_script,
)

Event = Dict[str, Any]
HELLO = "Hello! How can I assist you today?"


def of_type(events: List[Event], type_: str) -> List[Event]:
    return [e for e in events if e["type"] == type_]


# ---------------------------------------------------------------------------------------------
# Script
# ---------------------------------------------------------------------------------------------


class TestScript:
    @pytest.mark.parametrize("name", sorted(SCRIPTS))
    def test_sequence_numbers_contiguous_from_zero(self, name: str) -> None:
        """Every event has a sequence_number, 0, 1, 2, ... without gaps."""
        events = SCRIPTS[name]().events()
        assert [e["sequence_number"] for e in events] == list(range(len(events)))
        assert events[0]["type"] == "response.created"
        assert events[-1]["type"] in TERMINAL

    @pytest.mark.parametrize("name", sorted(SCRIPTS))
    def test_terminal_output_equals_done_items(self, name: str) -> None:
        """The terminal response.output is exactly the output_item.done items, in order."""
        events = SCRIPTS[name]().events()
        done = of_type(events, "response.output_item.done")
        assert [e["output_index"] for e in done] == list(range(len(done)))
        added = of_type(events, "response.output_item.added")
        assert [e["item"]["id"] for e in added] == [e["item"]["id"] for e in done]
        assert events[-1]["response"]["output"] == [e["item"] for e in done]
        ids = {e["response"]["id"] for e in events if "response" in e}
        assert len(ids) == 1

    def test_text_deltas_join_to_the_text(self) -> None:
        """Text deltas are word-ish tokens that join to the text of every done event."""
        text = HELLO
        events = Script(seed=1).text(text).completed().events()
        deltas = [e["delta"] for e in of_type(events, "response.output_text.delta")]
        assert deltas == ["Hello", "!", " How", " can", " I", " assist", " you", " today", "?"]
        assert of_type(events, "response.output_text.done")[0]["text"] == text
        assert of_type(events, "response.content_part.done")[0]["part"]["text"] == text
        message = events[-1]["response"]["output"][0]
        assert message["content"][0] == {
            "type": "output_text",
            "annotations": [],
            "logprobs": [],
            "text": text,
        }
        assert message["id"].startswith("msg_") and message["role"] == "assistant"

    @pytest.mark.parametrize(
        "chunk, expected",
        [(4, ["abcd", "efgh", "ij"]), (["a", "bcdefghi", "j"], ["a", "bcdefghi", "j"])],
    )
    def test_text_chunking(self, chunk: Any, expected: List[str]) -> None:
        """chunk= gives fixed-size or explicit deltas."""
        events = Script().text("abcdefghij", chunk=chunk).completed().events()
        assert [e["delta"] for e in of_type(events, "response.output_text.delta")] == expected

    def test_chunk_pieces_must_join(self) -> None:
        """Explicit pieces that do not rebuild the text are rejected."""
        with pytest.raises(ValueError):
            Script().text("abc", chunk=["a", "b"])
        with pytest.raises(ValueError):
            Script().text("abc", chunk=0)

    def test_delta_obfuscation_pads_to_sixteen(self) -> None:
        """Foreground deltas carry obfuscation like OpenAI; background ones do not."""
        events = text_script().events()
        for delta in of_type(events, "response.output_text.delta"):
            assert (len(delta["delta"]) + len(delta["obfuscation"])) % 16 == 0
        background = SCRIPTS["background"]().events()
        assert all("obfuscation" not in e for e in background)

    def test_function_call_arguments_are_valid_json(self) -> None:
        """Function call arguments given as a mapping stream as several deltas that join to
        its compact JSON; each call gets its own ids and is listed in the tools."""
        events = function_calls_script().events()
        done = of_type(events, "response.function_call_arguments.done")
        assert [json.loads(e["arguments"]) for e in done] == [args for _, args in CALLS]
        for e in done:
            pieces = [
                d["delta"]
                for d in of_type(events, "response.function_call_arguments.delta")
                if d["item_id"] == e["item_id"]
            ]
            assert len(pieces) > 1 and "".join(pieces) == e["arguments"]
        items = events[-1]["response"]["output"]
        assert [i["type"] for i in items] == ["function_call", "function_call"]
        assert all(i["id"].startswith("fc_") and i["call_id"].startswith("call_") for i in items)
        assert items[0]["call_id"] != items[1]["call_id"]
        assert items[0]["arguments"] == '{"city":"Paris","unit":"celsius"}'
        assert [t["name"] for t in events[0]["response"]["tools"]] == ["get_weather", "get_time"]

    def test_function_call_string_arguments_are_sent_as_given(self) -> None:
        """A str is sent unchanged, even when it is not valid JSON; call_id= is used as given."""
        for raw in ('{"password": "radiance"}', "{not json"):
            script = Script(seed=2).function_call("f", raw, call_id="call_mine").completed()
            (item,) = script.events()[-1]["response"]["output"]
            assert (item["arguments"], item["call_id"]) == (raw, "call_mine")

    def test_reasoning_summary_parts(self) -> None:
        """Each summary string is one summary part with its added/delta/done events."""
        events = reasoning_script().events()
        types = [e["type"] for e in events[2:]]
        assert types[:2] == [
            "response.output_item.added",
            "response.reasoning_summary_part.added",
        ]
        done = of_type(events, "response.reasoning_summary_text.done")
        assert [e["summary_index"] for e in done] == [0, 1]
        assert [e["text"] for e in done] == SUMMARY
        for e in done:
            deltas = of_type(events, "response.reasoning_summary_text.delta")
            joined = "".join(d["delta"] for d in deltas if d["summary_index"] == e["summary_index"])
            assert joined == e["text"]
        item = events[-1]["response"]["output"][0]
        assert item["id"].startswith("rs_")
        assert item["encrypted_content"] == ENCRYPTED
        assert [p["text"] for p in item["summary"]] == [e["text"] for e in done]
        usage = events[-1]["response"]["usage"]
        assert usage["output_tokens_details"]["reasoning_tokens"] > 0

    def test_refusal(self) -> None:
        """A refusal is a message with a refusal part and still completes."""
        events = SCRIPTS["refusal"]().events()
        assert of_type(events, "response.content_part.added")[0]["part"] == {
            "type": "refusal",
            "refusal": "",
        }
        assert of_type(events, "response.refusal.done")[0]["refusal"] == (
            "I'm sorry, I can't assist with that."
        )
        assert events[-1]["response"]["status"] == "completed"

    def test_web_search(self) -> None:
        """A web search call goes in_progress, searching, completed."""
        events = SCRIPTS["web_search"]().events()
        types = [e["type"] for e in events[3:6]]
        assert types == [
            "response.web_search_call.in_progress",
            "response.web_search_call.searching",
            "response.web_search_call.completed",
        ]
        item = events[-1]["response"]["output"][0]
        assert item["id"].startswith("ws_")
        assert item["action"]["query"] == "tallest mountain in Alberta"
        assert events[-1]["response"]["usage"]["input_tokens"] == 100

    def test_completed_usage(self) -> None:
        """completed() computes a plausible usage; total is input plus output."""
        response = Script(seed=1).text(HELLO).completed().events()[-1]["response"]
        usage = response["usage"]
        assert response["status"] == "completed" and response["completed_at"] is not None
        assert usage["output_tokens"] == 9
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
        assert response["error"] is None and response["incomplete_details"] is None

    def test_incomplete(self) -> None:
        """incomplete() sets the reason and marks the cut message incomplete."""
        events = SCRIPTS["incomplete"]().events()
        response = events[-1]["response"]
        assert events[-1]["type"] == "response.incomplete"
        assert response["status"] == "incomplete"
        assert response["incomplete_details"] == {"reason": "max_output_tokens"}
        assert of_type(events, "response.output_item.done")[0]["item"]["status"] == "incomplete"

    def test_failed(self) -> None:
        """failed() ends with response.failed and its error object."""
        response = SCRIPTS["failed"]().events()[-1]["response"]
        assert response["status"] == "failed"
        assert response["error"] == {"code": "server_error", "message": "boom"}
        assert response["usage"] is None

    def test_error_event_is_nested_then_failed(self) -> None:
        """error() writes the nested production error event, then response.failed."""
        events = SCRIPTS["error"]().events()
        assert [e["type"] for e in events] == [
            "response.created",
            "response.in_progress",
            "error",
            "response.failed",
        ]
        assert events[2] == {
            "type": "error",
            "sequence_number": 2,
            "error": {
                "type": "insufficient_quota",
                "code": "insufficient_quota",
                "message": "You exceeded your quota.",
                "param": None,
            },
        }
        assert events[3]["response"]["error"]["code"] == "insufficient_quota"

    def test_background_start(self) -> None:
        """Background scripts start queued and send response.queued."""
        events = SCRIPTS["background"]().events()
        assert [e["type"] for e in events[:3]] == [
            "response.created",
            "response.queued",
            "response.in_progress",
        ]
        assert events[0]["response"]["status"] == "queued"
        assert all(e["response"]["background"] is True for e in events if "response" in e)

    def test_no_ending_means_truncated(self) -> None:
        """Without an ending method the stream stops with no terminal event."""
        events = Script().text("hi").events()
        assert events[-1]["type"] == "response.output_item.done"

    def test_builder_misuse(self) -> None:
        """Items cannot follow the ending and a script ends once."""
        script = Script().completed()
        with pytest.raises(ValueError):
            script.text("late")
        with pytest.raises(ValueError):
            script.failed()

    def test_reusable_and_deterministic(self) -> None:
        """Rendering twice gives the same output; a seed fixes ids and padding."""
        script = reasoning_script()
        assert script.to_bytes() == script.to_bytes()
        first = script.events()
        first[0]["response"]["id"] = "mutated"
        assert script.events()[0]["response"]["id"] == script.response_id
        assert reasoning_script().to_bytes() == script.to_bytes()
        other = Script(model="o3-mini", seed=99).text("x").completed()
        assert other.response_id != script.response_id
        assert Script(response_id="resp_fixed").response_id == "resp_fixed"
        assert script.response_id.startswith("resp_") and len(script.response_id) == 55

    @pytest.mark.parametrize("framing", ["event", "data"])
    @pytest.mark.parametrize("line_ending", ["\n", "\r\n", "\r"])
    @pytest.mark.parametrize("done", [False, True])
    def test_sse_roundtrip_through_sseclient(
        self, framing: str, line_ending: str, done: bool
    ) -> None:
        """to_bytes() parses back with sseclient + json.loads to exactly events()."""
        script = reasoning_script()
        body = script.to_bytes(framing=framing, line_ending=line_ending, done_sentinel=done)
        assert body == b"".join(script.to_sse_chunks(framing, line_ending, done))
        parsed = list(sseclient.SSEClient(iter([body])).events())
        if done:
            assert parsed.pop().data == "[DONE]"
        assert [json.loads(e.data) for e in parsed] == script.events()
        expected_names = [e["type"] if framing == "event" else "message" for e in script.events()]
        assert [e.event for e in parsed] == expected_names

    def test_wire_format_is_compact_utf8(self) -> None:
        """Each chunk is 'event: T\\ndata: <compact json>\\n\\n' with raw UTF-8."""
        script = Script(seed=1).text("It\u2019s fine").completed()
        chunks = script.to_sse_chunks()
        assert len(chunks) == len(script.events())
        assert chunks[0].startswith(b'event: response.created\ndata: {"type":"response.created",')
        assert chunks[0].endswith(b"}\n\n") and chunks[0].count(b"\n") == 3
        assert "It\u2019s".encode() in b"".join(chunks)

    def test_rejects_unknown_framing(self) -> None:
        """Bad framing or line endings are rejected."""
        with pytest.raises(ValueError):
            text_script().to_bytes(framing="ws")
        with pytest.raises(ValueError):
            text_script().to_bytes(line_ending="\n\r")

    @pytest.mark.parametrize(
        "name, transcript",
        [
            ("text", "openai-dotnet__text-gpt4o-mini.sse"),
            ("function_calls", "mirascope__function-call-parallel-gpt4o.sse"),
            ("reasoning", "pydantic-ai__reasoning-summary-encrypted-o3mini-long.sse"),
            ("refusal", "mirascope__refusal-gpt4o-structured.sse"),
            ("error", "swiftagent__error-event-insufficient-quota-then-failed.sse"),
            ("incomplete", "dd-trace-py__incomplete-max-output-tokens-gpt4o.sse"),
        ],
    )
    def test_event_keys_match_real_recordings(self, name: str, transcript: str) -> None:
        """Each event type has the same keys, in the same order, as a real recording."""
        real: Dict[str, List[str]] = {}
        items: Dict[str, List[str]] = {}
        response_keys: List[str] = []
        for event in sseclient.SSEClient(iter([(FIXTURES / transcript).read_bytes()])).events():
            payload = json.loads(event.data)
            real.setdefault(payload["type"], list(payload))
            if "response" in payload and not response_keys:
                response_keys = list(payload["response"])
            if payload["type"] == "response.output_item.done":
                items.setdefault(payload["item"]["type"], list(payload["item"]))
        for payload in SCRIPTS[name]().events():
            if payload["type"] == "response.output_text.delta" and name == "incomplete":
                continue  # that recording predates obfuscation
            assert list(payload) == real[payload["type"]], payload["type"]
            if payload["type"] == "response.output_item.done":
                assert list(payload["item"]) == items[payload["item"]["type"]]
            if "response" in payload:
                # Ours adds completed_at (newer API versions send it). The 2025-07 recording
                # predates prompt_cache_key, safety_identifier and text.verbosity.
                newer = {"completed_at", "prompt_cache_key", "safety_identifier"}
                ours = [k for k in payload["response"] if k not in newer]
                assert ours == [k for k in response_keys if k not in newer]


# ---------------------------------------------------------------------------------------------
# MockServer over real loopback HTTP
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def test_renders_never_share_the_usage_given() -> None:
    details = {"cached_tokens": 5}
    script = Script(seed=16).text("hi").completed(usage={"input_tokens_details": details})
    first = script.events()
    first[-1]["response"]["usage"]["input_tokens_details"]["cached_tokens"] = 99
    assert script.events()[-1]["response"]["usage"]["input_tokens_details"] == {"cached_tokens": 5}
    assert details == {"cached_tokens": 5}


def test_a_delta_of_sixteen_characters_has_an_empty_obfuscation() -> None:
    """As the real wire pads: delta + obfuscation is a multiple of 16 characters, and a delta
    that is one already gets none (19 such deltas in the recorded transcripts)."""
    script = Script(seed=17).text("abcdefghijklmnop" + "q" * 5, chunk=16).completed()
    deltas = [e for e in script.events() if e["type"] == "response.output_text.delta"]
    assert [(e["delta"], len(e["obfuscation"])) for e in deltas] == [
        ("abcdefghijklmnop", 0),
        ("qqqqq", 11),
    ]


def read_all(resp: requests.Response) -> Tuple[List[bytes], Optional[Exception]]:
    """Read a streamed body with read1 until EOF; return the reads and the error, if any."""
    reads: List[bytes] = []
    try:
        while True:
            data = resp.raw.read1(65536)
            if not data:
                return reads, None
            reads.append(data)
    except Exception as exc:  # urllib3 wraps drops as ProtocolError / IncompleteRead
        return reads, exc


def stream(http: requests.Session, server: MockServer, **kwargs: Any) -> requests.Response:
    body: Dict[str, Any] = {"model": "gpt-4o-mini", "input": "hi", "stream": True}
    return http.post(f"{server.url}/responses", json=body, stream=True, timeout=5, **kwargs)


class TestMockServer:
    def test_url(self, server: MockServer) -> None:
        """url and base_url point at the loopback port with the /v1 prefix."""
        assert server.url == server.base_url == f"http://127.0.0.1:{server.port}/v1"

    def test_chunked_one_event_per_read_with_delay(
        self, server: MockServer, http: requests.Session
    ) -> None:
        """Chunked framing sends one chunk per event; with delay each arrives on its own."""
        script = Script(seed=1).text("Hi there!").completed()
        server.add(script, delay=0.03)
        with stream(http, server) as resp:
            assert resp.status_code == 200
            assert resp.headers["Transfer-Encoding"] == "chunked"
            assert resp.headers["Content-Type"] == "text/event-stream; charset=utf-8"
            assert resp.headers["x-request-id"].startswith("req_")
            stamps: List[float] = []
            reads: List[bytes] = []
            while True:
                data = resp.raw.read1(65536)
                if not data:
                    break
                reads.append(data)
                stamps.append(time.monotonic())
        assert reads == script.to_sse_chunks()
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        assert min(gaps) > 0.015

    def test_close_framing(self, server: MockServer, http: requests.Session) -> None:
        """framing='close' has neither length nor chunking and ends with the connection."""
        script = text_script()
        server.add(script, framing="close")
        with stream(http, server) as resp:
            assert "Transfer-Encoding" not in resp.headers
            assert "Content-Length" not in resp.headers
            assert resp.headers["Connection"] == "close"
            reads, error = read_all(resp)
        assert error is None and b"".join(reads) == script.to_bytes()

    def test_length_framing_and_chunk_size(
        self, server: MockServer, http: requests.Session
    ) -> None:
        """framing='length' sends Content-Length; chunk_size splits the body anywhere."""
        script = text_script()
        server.add(script, framing="length")
        server.add(script, chunk_size=64, delay=0.002)
        with stream(http, server) as resp:
            assert resp.headers["Content-Length"] == str(len(script.to_bytes()))
            assert b"".join(read_all(resp)[0]) == script.to_bytes()
        with stream(http, server) as resp:
            reads, error = read_all(resp)
        assert error is None and b"".join(reads) == script.to_bytes()
        assert max(len(r) for r in reads) <= 64 and len(reads) > 10

    @pytest.mark.parametrize("framing", ["chunked", "close"])
    def test_close_after_cuts_at_exact_byte(
        self, server: MockServer, http: requests.Session, framing: str
    ) -> None:
        """close_after=N delivers exactly N body bytes, then drops the connection."""
        body = text_script().to_bytes()
        cut = len(body) // 2 + 3
        server.add(text_script(), close_after=cut, framing=framing)
        with stream(http, server) as resp:
            reads, error = read_all(resp)
        assert b"".join(reads) == body[:cut]
        if framing == "chunked":
            assert error is not None  # no terminating chunk: the client sees a truncated body
        else:
            assert error is None  # close framing: truncation is indistinguishable from the end

    def test_reset_sends_rst(self, server: MockServer, http: requests.Session) -> None:
        """reset=True aborts the connection with a TCP reset."""
        server.add(text_script(), close_after=200, reset=True)
        with stream(http, server) as resp:
            reads, error = read_all(resp)
        assert error is not None
        assert len(b"".join(reads)) <= 200
        assert "ConnectionResetError" in repr(error)  # urllib3 wraps it in ProtocolError

    def test_stall_after_headers_times_out_reads(
        self, server: MockServer, http: requests.Session
    ) -> None:
        """stall= holds the body back after the headers, so a read timeout fires."""
        server.add(text_script(), stall=2.0)
        with http.post(f"{server.url}/responses", json={}, stream=True, timeout=(2, 0.2)) as resp:
            assert resp.status_code == 200
            with pytest.raises(requests.exceptions.ConnectionError):
                for _ in resp.iter_content(1024):
                    pass

    def test_stall_after_events(self, server: MockServer, http: requests.Session) -> None:
        """stall_after_events=k sends k events, then pauses."""
        script = text_script()
        server.add(script, stall=0.3, stall_after_events=2)
        start = time.monotonic()
        with stream(http, server) as resp:
            first = resp.raw.read1(65536)
            first += resp.raw.read1(65536)
            early = time.monotonic() - start
            rest, error = read_all(resp)
            late = time.monotonic() - start
        assert first == b"".join(script.to_sse_chunks()[:2])
        assert early < 0.25 <= late
        assert error is None and first + b"".join(rest) == script.to_bytes()

    def test_json_errors(self, server: MockServer, http: requests.Session) -> None:
        """add_json/add_error reply with the status, headers and body given."""
        server.add_error(
            429,
            "Rate limit reached",
            type="requests",
            code="rate_limit_exceeded",
            headers={"retry-after": "1"},
        )
        server.add_json({"ok": True}, status=201, headers={"X-Custom": "yes"})
        resp = http.post(f"{server.url}/responses", json={}, timeout=5)
        assert resp.status_code == 429
        assert resp.headers["retry-after"] == "1"
        assert resp.headers["Content-Type"] == "application/json"
        assert resp.json() == {
            "error": {
                "message": "Rate limit reached",
                "type": "requests",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        }
        assert resp.text.startswith('{\n  "error": {')
        resp = http.post(f"{server.url}/responses", json={}, timeout=5)
        assert (resp.status_code, resp.headers["X-Custom"], resp.json()) == (
            201,
            "yes",
            {"ok": True},
        )

    def test_empty_queue_and_unknown_route(
        self, server: MockServer, http: requests.Session
    ) -> None:
        """Nothing queued gives a 500 that says so; unknown routes give 404."""
        resp = http.post(f"{server.url}/responses", json={}, timeout=5)
        assert resp.status_code == 500
        assert "nothing queued" in resp.json()["error"]["message"]
        resp = http.get(f"{server.url}/models", timeout=5)
        assert resp.status_code == 404
        assert resp.json()["error"]["message"] == "Invalid URL (GET /v1/models)"

    def test_fifo_and_pending(self, server: MockServer, http: requests.Session) -> None:
        """Queued replies are served in order; pending counts those not served yet."""
        first, second = Script(seed=1).text("one").completed(), text_script()
        server.add(first)
        server.add(second)
        assert server.pending == 2
        for script in (first, second):
            with stream(http, server) as resp:
                assert b"".join(read_all(resp)[0]) == script.to_bytes()
        assert server.pending == 0

    def test_records_requests(self, server: MockServer, http: requests.Session) -> None:
        """Every request is recorded with its method, path, query, headers and JSON body."""
        server.add(text_script())
        with stream(http, server, headers={"Authorization": "Bearer sk-test"}) as resp:
            read_all(resp)
        http.get(f"{server.url}/responses/resp_x?stream=true&starting_after=3", timeout=5)
        post, get = server.requests
        assert isinstance(post, RecordedRequest)
        assert (post.method, post.path, post.query) == ("POST", "/v1/responses", {})
        assert post.headers["authorization"] == "Bearer sk-test"
        assert post.json == {"model": "gpt-4o-mini", "input": "hi", "stream": True}
        assert json.loads(post.body) == post.json
        assert get.query == {"stream": "true", "starting_after": "3"}
        assert get.json is None and get.body == b""

    @pytest.mark.parametrize("as_path", [str, Path])
    def test_serves_recorded_file_verbatim(
        self, server: MockServer, http: requests.Session, tmp_path: Path, as_path: Any
    ) -> None:
        """A recorded .sse file (str or Path) is served byte for byte."""
        script = text_script()
        body = b": OPENROUTER PROCESSING\n\n" + script.to_bytes(framing="data", done_sentinel=True)
        recording = tmp_path / "recorded.sse"
        recording.write_bytes(body)
        server.add(as_path(recording), delay=0.001)
        with stream(http, server) as resp:
            reads, error = read_all(resp)
        assert error is None and b"".join(reads) == body
        assert len(reads) == len(script.events()) + 2

    def test_resume_with_starting_after(self, server: MockServer, http: requests.Session) -> None:
        """A served stream can be resumed after any sequence_number, byte-identical."""
        script = Script(background=True, seed=11).text("Once upon a time there was a star.")
        script.completed()
        chunks = script.to_sse_chunks()
        server.add(script, close_after=len(b"".join(chunks[:5])) + 10)
        with stream(http, server) as resp:
            assert read_all(resp)[1] is not None
        url = f"{server.url}/responses/{script.response_id}"
        with http.get(url, params={"stream": "true", "starting_after": "4"}, stream=True) as resp:
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            resumed, error = read_all(resp)
        assert error is None and resumed == chunks[5:]
        with http.get(url, params={"stream": "true"}, stream=True) as resp:
            assert b"".join(read_all(resp)[0]) == script.to_bytes()
        latest = http.get(url, timeout=5).json()
        assert latest == script.events()[-1]["response"]
        missing = http.get(f"{server.url}/responses/resp_nope?stream=true", timeout=5)
        assert missing.status_code == 404
        assert missing.json()["error"]["message"] == "Response with id 'resp_nope' not found."

    def test_resume_data_only_recording_keeps_done(
        self, server: MockServer, http: requests.Session
    ) -> None:
        """Resuming a data-only stream replays the later events and the [DONE] sentinel."""
        script = Script(background=True, seed=12).text("abc").completed()
        body = script.to_bytes(framing="data", done_sentinel=True)
        assert server.store(body) == script.response_id
        url = f"{server.url}/responses/{script.response_id}?stream=true&starting_after=3"
        with http.get(url, stream=True, timeout=5) as resp:
            data = b"".join(read_all(resp)[0])
        assert data == b"".join(script.to_sse_chunks("data", "\n", True)[4:])

    def test_cancel_is_idempotent(self, server: MockServer, http: requests.Session) -> None:
        """Cancel returns the response with status cancelled, every time."""
        script = Script(background=True, seed=13).text("long story").completed()
        server.add(script)
        with stream(http, server) as resp:
            read_all(resp)
        url = f"{server.url}/responses/{script.response_id}"
        first = http.post(f"{url}/cancel", timeout=5)
        second = http.post(f"{url}/cancel", timeout=5)
        assert first.status_code == second.status_code == 200
        assert first.json() == second.json()
        assert first.json()["status"] == "cancelled"
        assert first.json()["id"] == script.response_id
        assert http.get(url, timeout=5).json()["status"] == "cancelled"
        with http.get(url, params={"stream": "true"}, stream=True, timeout=5) as resp:
            assert read_all(resp) == ([], None)
        assert http.post(f"{server.url}/responses/resp_nope/cancel", timeout=5).status_code == 404

    def test_queue_on_other_routes(self, server: MockServer, http: requests.Session) -> None:
        """A reply queued for another route wins over the built-in behaviour there."""
        server.add_error(
            500, "resume broke", type="server_error", method="GET", path="responses/r1"
        )
        resp = http.get(f"{server.url}/responses/r1?stream=true", timeout=5)
        assert resp.status_code == 500 and resp.json()["error"]["message"] == "resume broke"

    def test_a_foreground_response_is_not_resumed_or_cancelled_as_the_api_answers(
        self, server: MockServer, http: requests.Session
    ) -> None:
        """Only background responses can be resumed (else 404) or cancelled (else 400); the
        JSON of a foreground one can still be retrieved."""
        script = Script(seed=14).text("foreground").completed()
        server.add(script)
        with stream(http, server) as resp:
            read_all(resp)
        url = f"{server.url}/responses/{script.response_id}"
        assert http.get(f"{url}?stream=true", timeout=5).status_code == 404
        cancelled = http.post(f"{url}/cancel", timeout=5)
        assert cancelled.status_code == 400
        assert cancelled.json()["error"]["type"] == "invalid_request_error"
        assert http.get(url, timeout=5).json()["status"] == "completed"

    def test_a_request_no_queued_reply_fits_says_so(
        self, server: MockServer, http: requests.Session
    ) -> None:
        server.add(text_script(), match={"input": "something else"})
        with stream(http, server) as resp:
            message = resp.json()["error"]["message"]
        assert resp.status_code == 500 and "1 reply queued, but none for this request" in message
        assert server.pending == 1

    def test_a_body_length_it_cannot_read_is_a_400(self, server: MockServer) -> None:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Length: ab\r\n\r\n")
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 400 ") or answer.startswith(b"HTTP/1.0 400 ")

    def test_a_reset_after_a_prefix_delivers_all_of_it_first(
        self, server: MockServer, http: requests.Session
    ) -> None:
        """An RST discards what the kernel has not sent: the server waits for the client to
        take the promised prefix, however slowly it reads."""
        body = Script(seed=15).text("x" * 4_000_000, chunk=4000).completed().to_bytes()
        server.add(body, close_after=len(body) - 1000, reset=True, framing="length")
        with stream(http, server) as resp:
            time.sleep(0.5)  # the server has written it all; the kernel holds most of it
            reads, error = read_all(resp)
        assert error is not None
        assert b"".join(reads) == body[: len(body) - 1000]

    def test_rejects_bad_arguments(self, server: MockServer) -> None:
        """Unknown framing and literal SSE passed as str are rejected."""
        with pytest.raises(ValueError):
            server.add(text_script(), framing="gzip")
        with pytest.raises(TypeError):
            server.add("event: x\ndata: {}\n\n")


class TestShutdown:
    def test_client_hanging_up_mid_stream(self, server: MockServer) -> None:
        """A client that disconnects mid-stream does not disturb the next request."""
        server.add(text_script(), delay=0.05)
        server.add(text_script())
        with requests.Session() as http:
            with stream(http, server) as resp:
                assert resp.raw.read1(65536) == text_script().to_sse_chunks()[0]
            with stream(http, server) as resp:
                assert b"".join(read_all(resp)[0]) == text_script().to_bytes()

    def test_close_is_clean_with_open_connections(self) -> None:
        """close() ends keep-alive and stalled connections and joins every thread."""
        before = set(threading.enumerate())
        server = MockServer()
        port = server.port
        server.add(text_script())
        server.add(text_script(), stall=30)
        with requests.Session() as http:
            with stream(http, server) as resp:
                read_all(resp)  # this connection now idles in the pool (keep-alive)
            with requests.Session() as other, stream(other, server) as stalled:
                assert stalled.status_code == 200
                start = time.monotonic()
                server.close()
                assert time.monotonic() - start < 2
                reads, error = read_all(stalled)
                assert reads == [] and error is not None
        assert set(threading.enumerate()) <= before
        server.close()  # idempotent
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()

    def test_context_manager_and_generator(self) -> None:
        """Both the context manager and mock_server() close the server on exit."""
        with MockServer(prefix="/openai/v1") as server:
            assert server.url.endswith("/openai/v1")
        assert not server._thread.is_alive()
        gen = mock_server()
        served = next(gen)
        gen.close()
        assert not served._thread.is_alive()


@pytest.mark.parametrize(
    ("match", "other"),
    [
        ({"input": 0}, {"input": False}),
        ({"top_logprobs": 1}, {"top_logprobs": True}),
        ({"metadata": {"flag": True}}, {"metadata": {"flag": 1}}),
        ({"tools": [0]}, {"tools": [False]}),
    ],
    ids=["false-is-not-0", "true-is-not-1", "nested", "in-a-list"],
)
def test_match_compares_values_as_json_does(match: Dict[str, Any], other: Dict[str, Any]) -> None:
    """JSON true and false are not the numbers 1 and 0 (Python's == says they are), at any
    depth: a reply whose match differs only so is not served; the exact value is."""
    with MockServer() as server:
        server.add(Script(seed=1).text("matched").completed(), match=match)
        url = server.url + "/responses"
        missed = requests.post(url, json={"model": "m", **other}, timeout=10)
        assert missed.status_code >= 400 and server.pending == 1
        hit = requests.post(url, json={"model": "m", **match}, timeout=10)
        assert hit.status_code == 200 and b"matched" in hit.content and server.pending == 0


def test_a_request_id_given_in_headers_is_the_one_sent() -> None:
    """headers= replaces the default headers, the generated x-request-id included."""
    with MockServer() as server:
        server.add_json({"error": {"message": "no"}}, status=401, headers={"x-request-id": "req_a"})
        server.add(Script(seed=1).text("hi").completed(), headers={"X-Request-Id": "req_b"})
        server.add(Script(seed=2).text("hi").completed())
        url = server.url + "/responses"
        first = requests.post(url, json={"model": "m"}, timeout=10)
        second = requests.post(url, json={"model": "m"}, timeout=10)
        third = requests.post(url, json={"model": "m"}, timeout=10)
    assert first.headers["x-request-id"] == "req_a"
    assert second.headers["x-request-id"] == "req_b"
    assert third.headers["x-request-id"].startswith("req_0")


def test_a_tool_called_twice_is_listed_once_in_the_response() -> None:
    """As on the real wire (a parallel call to one function lists it once)."""
    script = (
        Script(seed=3)
        .function_call("get_weather", {"city": "Paris"})
        .function_call("get_weather", {"city": "Rome"})
        .web_search("news")
        .web_search("more news")
        .completed()
    )
    final = script.events()[-1]["response"]
    assert [tool.get("name", tool["type"]) for tool in final["tools"]] == [
        "get_weather",
        "web_search",
    ]
    assert final["usage"]["input_tokens"] == 11 + 40 * 2
