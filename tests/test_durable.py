"""Durable background streams: ``checkpoint=`` on ``stream()``, ``events()`` and ``run()``.

First the client's wiring, over an in-process MockServer: the keywords that go together, a
checkpoint saved when the response is created and then at the cadence, a resume that sends no
POST and continues the saved snapshot, a finished checkpoint that sends no request, a failing
store. Then real crashes: worker processes killed with SIGKILL half way through their
streams, with Celery, a real Redis broker and ``RedisStore``, and with a
``ProcessPoolExecutor`` and ``SQLiteStore``. Both check that nothing is bought twice (one POST
per key), that the survivors resume with the right ``starting_after``, and that each job's
delivered deltas, repeats dropped by sequence number, are exactly its text. Every process a
test starts is stopped by its PID.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import importlib.util
import json
import multiprocessing
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

import responses_stream as rs
from responses_stream.checkpoints import Checkpoint, RedisStore, SQLiteStore
from responses_stream.errors import CheckpointError, ConfigurationError
from responses_stream.testing import MockServer, Script
from tests.redis_server import running_redis

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "examples" / "celery_app"
TEXT = "Once upon a time a small fox 🦊 found a quiet 森 by the river, and slept soundly. " * 3


def _load_mock_api() -> Any:
    """examples/celery_app/mock_api.py as a module: the scripted texts and ids."""
    spec = importlib.util.spec_from_file_location("celery_app_mock_api", APP / "mock_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mock_api = _load_mock_api()


# ------------------------------------------------------------------------------- helpers


class Seen(rs.ResponseHandler):
    """Records what a stream delivered: sequence numbers, text deltas, resumes, done calls."""

    def __init__(self, clock: Optional[List[float]] = None) -> None:
        self.seqs: List[Optional[int]] = []
        self.deltas: List[Tuple[Optional[int], str]] = []
        self.resumes: List[Tuple[str, Optional[int]]] = []
        self.calls_done: List[str] = []
        self.ended = 0
        self.clock = clock  # a fake clock's time, moved on by each event

    def on_event(self, event: rs.events.Event) -> None:
        self.seqs.append(event.sequence_number)
        if self.clock is not None:
            self.clock[0] += 0.125

    def on_output_text_delta(self, event: rs.events.OutputTextDelta) -> None:
        self.deltas.append((event.sequence_number, event.delta))

    def on_resume(self, response_id: str, starting_after: Optional[int]) -> None:
        self.resumes.append((response_id, starting_after))

    def on_function_call_done(self, call: rs.FunctionCall) -> None:
        self.calls_done.append(call.call_id or "")

    def on_end(self) -> None:
        self.ended += 1

    @property
    def text(self) -> str:
        return "".join(delta for _, delta in self.deltas)


class Spy:
    """A checkpoint store that records each save and can be told to fail (any store works)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.saves: List[Tuple[Optional[int], Optional[str]]] = []
        self.loads = 0
        self.fail: Optional[Exception] = None

    def load(self, key: str) -> Optional[Checkpoint]:
        self.loads += 1
        if self.fail is not None:
            raise self.fail
        loaded: Optional[Checkpoint] = self.store.load(key)
        return loaded

    def save(self, checkpoint: Checkpoint) -> None:
        if self.fail is not None:
            raise self.fail
        self.store.save(checkpoint)
        self.saves.append((checkpoint.sequence_number, checkpoint.status))

    def delete(self, key: str) -> None:
        self.store.delete(key)


def background(text: str = TEXT, seed: int = 7) -> Script:
    return Script(model="gpt-5-mini", background=True, seed=seed).text(text).completed()


def cut_after(script: Script, events: int) -> int:
    """The byte offset of the end of the first ``events`` events of ``script``."""
    return sum(len(chunk) for chunk in script.to_sse_chunks()[:events])


def durable(client: rs.Client, handler: rs.ResponseHandler, store: Any, **kw: Any) -> rs.Response:
    """``client.stream`` of a durable job ``job-1``."""
    params: Dict[str, Any] = {"model": "gpt-5-mini", "input": "hi", "background": True}
    params.update(kw)
    return client.stream(handler, checkpoint=store, key="job-1", **params)


def routes(server: MockServer) -> List[Tuple[str, Optional[str]]]:
    """Each request the server received: its method and its ``starting_after``."""
    return [(r.method, r.query.get("starting_after")) for r in server.requests]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path / "checkpoints.db") as made:
        yield made


# ------------------------------------------------------------------------ configuration


def test_checkpoint_needs_background_a_key_and_a_store(
    client: rs.Client, server: MockServer, store: SQLiteStore
) -> None:
    cases: List[Tuple[Dict[str, Any], str]] = [
        ({"checkpoint": store, "key": "k"}, "background=True"),
        ({"checkpoint": store, "key": "k", "background": False}, "background=True"),
        ({"checkpoint": store, "background": True}, "key="),
        ({"checkpoint": store, "key": "", "background": True}, "key="),
        ({"key": "k", "background": True}, "checkpoint="),
        ({"checkpoint": object(), "key": "k", "background": True}, "load, save and delete"),
        ({"checkpoint": store, "key": "k", "background": True, "checkpoint_every": -1}, ">= 0"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ConfigurationError, match=message):
            client.stream(model="m", input="x", **kwargs)
        with pytest.raises(ConfigurationError, match=message):
            client.events(model="m", input="x", **kwargs)
        with pytest.raises(ConfigurationError, match=message):
            client.run(tools=[], model="m", input="x", **kwargs)
    assert server.requests == []  # nothing was sent
    assert store.load("k") is None


# ------------------------------------------------------------------- saving and resuming


def test_first_call_saves_at_created_then_at_the_cadence_and_at_the_end(
    client: rs.Client, server: MockServer, store: SQLiteStore
) -> None:
    script = background()
    server.add(script)
    now = [0.0]
    client._transport.clock = lambda: now[0]  # each event moves it on by 0.125 s
    spy = Spy(store)
    seen = Seen(clock=now)
    final = durable(client, seen, spy, checkpoint_every=0.5)
    last = len(script.events()) - 1
    # The first checkpoint comes before anything was delivered (sequence_number None), then
    # one every 0.5 s of events (every fourth), then the terminal one.
    expected = [(None, "queued")] + [(n, "in_progress") for n in range(4, last, 4)]
    assert spy.saves == [*expected, (last, "completed")]
    saved = store.load("job-1")
    assert saved is not None and saved.terminal and saved.sequence_number == last
    assert saved.snapshot.to_dict() == final.to_dict() and final.output_text == TEXT
    assert routes(server) == [("POST", None)]


def test_a_finished_checkpoint_returns_the_response_without_any_request(
    client: rs.Client, server: MockServer, store: SQLiteStore
) -> None:
    server.add(background())
    first = durable(client, Seen(), store)
    seen = Seen()
    again = durable(client, seen, store)
    assert len(server.requests) == 1  # the first call's POST only
    assert again.to_dict() == first.to_dict() and again.output_text == TEXT
    assert seen.seqs == [] and seen.resumes == [] and seen.ended == 1
    with client.events(
        model="m", input="x", background=True, checkpoint=store, key="job-1"
    ) as events:
        assert list(events) == [] and events.response.output_text == TEXT
    assert len(server.requests) == 1


def test_a_failed_checkpoint_raises_like_the_stream_that_saved_it(
    client: rs.Client, server: MockServer, store: SQLiteStore
) -> None:
    server.add(Script(background=True, seed=3).text("partial").failed())
    for _ in range(2):
        with pytest.raises(rs.ResponseFailedError):
            durable(client, Seen(), store)
    saved = store.load("job-1")
    assert saved is not None and saved.status == "failed"
    assert routes(server) == [("POST", None)]


@pytest.mark.parametrize("every", [0.0, 0.5])
def test_a_resumed_call_sends_no_post_and_continues_the_saved_snapshot(
    client: rs.Client, server: MockServer, store: SQLiteStore, every: float
) -> None:
    script = background()
    server.add(script, close_after=cut_after(script, 30))  # the worker's connection dies
    first = Seen()
    with pytest.raises(rs.StreamInterrupted):
        durable(client, first, store, max_resumes=0, checkpoint_every=every)
    saved = store.load("job-1")
    assert saved is not None and not saved.terminal
    after = saved.sequence_number
    if every == 0:  # saved after every event handled: exactly what was delivered
        assert after == first.seqs[-1] == 29
    # Another process (a new client and store) picks the key up.
    with SQLiteStore(store.path) as other, rs.Client(base_url=server.url) as replacement:
        second = Seen()
        final = durable(replacement, second, other)
    assert routes(server) == [("POST", None), ("GET", None if after is None else str(after))]
    assert second.resumes == [(script.response_id, after)]
    assert final.status == "completed" and final.output_text == TEXT
    assert len(final.output) == 1  # the deltas continued the saved message, not a new one
    # Nothing up to the checkpoint twice, nothing skipped; repeats only after it.
    start = -1 if after is None else after
    assert second.seqs == list(range(start + 1, len(script.events())))
    merged = dict(first.deltas)
    merged.update(second.deltas)
    assert "".join(merged[n] for n in sorted(merged)) == TEXT


def test_checkpoint_every_infinity_saves_at_created_and_at_the_end_only(
    client: rs.Client, server: MockServer, store: SQLiteStore
) -> None:
    script = background()
    server.add(script, close_after=cut_after(script, 25))
    spy = Spy(store)
    with pytest.raises(rs.StreamInterrupted):
        durable(client, Seen(), spy, max_resumes=0, checkpoint_every=float("inf"))
    assert spy.saves == [(None, "queued")]
    # From a checkpoint saved before anything was delivered, everything comes again.
    seen = Seen()
    final = durable(client, seen, spy)
    assert routes(server) == [("POST", None), ("GET", None)]
    assert seen.seqs == list(range(len(script.events()))) and final.output_text == TEXT
    assert spy.saves[-1] == (len(script.events()) - 1, "completed")


def test_items_finished_before_the_checkpoint_are_not_finished_again(
    client: rs.Client, server: MockServer, store: SQLiteStore
) -> None:
    script = (
        Script(background=True, seed=5)
        .function_call("get_weather", {"city": "Paris"})
        .text("It is sunny.")
        .completed()
    )
    types = [event["type"] for event in script.events()]
    done = types.index("response.output_item.done") + 1  # the call is complete
    server.add(script, close_after=cut_after(script, done))
    first = Seen()
    with pytest.raises(rs.StreamInterrupted):
        durable(client, first, store, max_resumes=0, checkpoint_every=0)
    second = Seen()
    final = durable(client, second, store)
    assert len(first.calls_done) == 1 and second.calls_done == []
    assert json.loads(final.function_calls[0].arguments or "") == {"city": "Paris"}
    assert final.output_text == "It is sunny." and len(final.output) == 2


def test_the_last_item_finished_before_the_checkpoint_is_not_finished_again(
    client: rs.Client, server: MockServer, store: SQLiteStore
) -> None:
    """The last item (a reasoning item, which has no status) was finished at the checkpoint:
    the resumed call, which ends with response.incomplete, calls no *_done for it again."""

    class Reasoned(Seen):
        def __init__(self) -> None:
            super().__init__()
            self.reasoning_done: List[str] = []

        def on_reasoning_done(self, item: rs.Reasoning) -> None:
            self.reasoning_done.append(item.id or "")

    script = Script(background=True, seed=6).reasoning("thinking it over").incomplete()
    types = [event["type"] for event in script.events()]
    done = types.index("response.output_item.done") + 1
    server.add(script, close_after=cut_after(script, done))
    first = Reasoned()
    with pytest.raises(rs.StreamInterrupted):
        durable(client, first, store, max_resumes=0, checkpoint_every=0)
    saved = store.load("job-1")
    assert saved is not None and saved.open_items == []
    second = Reasoned()
    final = durable(client, second, store)
    assert final.status == "incomplete"
    assert len(first.reasoning_done) == 1 and second.reasoning_done == []


def test_a_resumed_call_with_text_format_calls_on_parsed_delta(
    client: rs.Client, server: MockServer, store: SQLiteStore
) -> None:
    """The request asked for JSON (text_format=): the call resumed from its checkpoint, which
    sends no request of its own, still calls on_parsed_delta after each delta."""

    @dataclasses.dataclass
    class Recipe:
        title: str
        minutes: int

    class Parsed(Seen):
        def __init__(self) -> None:
            super().__init__()
            self.partials: List[Any] = []

        def on_parsed_delta(self, partial: Any, snapshot: str) -> None:
            self.partials.append(partial)

    text = json.dumps({"title": "Pancakes with syrup", "minutes": 25})
    script = Script(background=True, seed=8).text(text, chunk=4).completed()
    server.add(script, close_after=cut_after(script, 8))
    first = Parsed()
    with pytest.raises(rs.StreamInterrupted):
        durable(client, first, store, max_resumes=0, checkpoint_every=0, text_format=Recipe)
    second = Parsed()
    final = durable(client, second, store, text_format=Recipe)
    assert final.output_parsed == Recipe("Pancakes with syrup", 25)
    assert first.partials and len(second.partials) == len(second.deltas) > 0
    assert second.partials[-1] == {"title": "Pancakes with syrup", "minutes": 25}


@pytest.mark.parametrize("crash", [False, True], ids=["ended", "crashed-before-failed"])
def test_a_retry_after_an_error_event_raises_what_the_first_call_raised(
    client: rs.Client, server: MockServer, store: SQLiteStore, crash: bool
) -> None:
    """error then response.failed: the first call raises StreamError (with its code), and so
    does a call run again with the key, whether the first one saw the end or died before it."""
    script = (
        Script(background=True, seed=9)
        .text("partial")
        .error(code="insufficient_quota", message="quota")
    )
    types = [event["type"] for event in script.events()]
    if crash:
        server.add(script, close_after=cut_after(script, types.index("error") + 1))
        server.add(
            b"".join(script.to_sse_chunks()[types.index("error") + 1 :]),
            method="GET",
            path=f"responses/{script.response_id}",
        )
        with pytest.raises(rs.StreamInterrupted):
            durable(client, Seen(), store, max_resumes=0, checkpoint_every=0)
    else:
        server.add(script)
        with pytest.raises(rs.StreamError) as first:
            durable(client, Seen(), store)
        assert first.value.code == "insufficient_quota"
    with pytest.raises(rs.StreamError) as again:
        durable(client, Seen(), store)
    assert again.value.code == "insufficient_quota" and "quota" in str(again.value)
    assert again.value.response is not None and again.value.response.output_text == "partial"


def test_a_cancelled_stop_is_saved_so_a_retry_sends_nothing(
    client: rs.Client, server: MockServer, store: SQLiteStore
) -> None:
    """stop() with cancel_on_stop=True: the cancel's end is saved, and the job run again
    returns the cancelled response without a request."""

    class StopEarly(Seen):
        def on_output_text_delta(self, event: rs.events.OutputTextDelta) -> None:
            super().on_output_text_delta(event)
            self.stop()

    server.add(background(), delay=0.01)
    stopped = durable(client, StopEarly(), store, cancel_on_stop=True)
    assert stopped.status == "cancelled"
    saved = store.load("job-1")
    assert saved is not None and saved.status == "cancelled"
    count = len(server.requests)
    again = durable(client, Seen(), store)
    assert again.status == "cancelled" and again.output_text == stopped.output_text
    assert len(server.requests) == count


def test_a_key_no_store_could_hold_is_refused_before_any_request(
    client: rs.Client, server: MockServer, store: SQLiteStore
) -> None:
    with pytest.raises(rs.ConfigurationError, match="key= must be valid text"):
        client.stream(model="m", input="x", background=True, checkpoint=store, key="job-\ud800")
    assert server.requests == []


def test_a_stream_that_breaks_after_the_resume_is_resumed_again(
    client: rs.Client, server: MockServer, store: SQLiteStore
) -> None:
    script = background()
    server.add(script, close_after=cut_after(script, 10))
    with pytest.raises(rs.StreamInterrupted):
        durable(client, Seen(), store, max_resumes=0, checkpoint_every=0)
    # The resume itself breaks; the in-stream resumer continues it from where it broke.
    path = f"/v1/responses/{script.response_id}"
    remainder = b"".join(script.to_sse_chunks()[10:])
    server.add(remainder, method="GET", path=path, close_after=200)
    client._transport.sleep = lambda seconds: None
    seen = Seen()
    final = durable(client, seen, store)
    assert final.output_text == TEXT and seen.seqs == list(range(10, len(script.events())))
    assert len(seen.resumes) == 2 and seen.resumes[0] == (script.response_id, 9)
    assert routes(server)[0] == ("POST", None) and routes(server)[1] == ("GET", "9")


def test_events_saves_as_it_is_iterated(
    client: rs.Client, server: MockServer, store: SQLiteStore
) -> None:
    script = background()
    server.add(script)
    with client.events(
        model="m", input="x", background=True, checkpoint=store, key="pull", checkpoint_every=0
    ) as events:
        for event in events:
            saved = store.load("pull")
            assert saved is not None  # saved when response.created arrived
            if event.sequence_number:
                assert saved.sequence_number == event.sequence_number - 1
    saved = store.load("pull")
    assert saved is not None and saved.terminal and saved.snapshot.output_text == TEXT


def test_run_checkpoints_each_turn_under_its_own_key(
    client: rs.Client, server: MockServer, store: SQLiteStore
) -> None:
    ran: List[str] = []

    @rs.tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        ran.append(city)
        return "sunny"

    call = Script(background=True, seed=1).function_call("get_weather", {"city": "Oslo"})
    server.add(call.completed())
    server.add(Script(background=True, seed=2).text("Sunny in Oslo.").completed())
    kwargs: Dict[str, Any] = {"model": "m", "input": "Weather?", "background": True}
    final = client.run(tools=[get_weather], checkpoint=store, key="agent", **kwargs)
    assert final.output_text == "Sunny in Oslo." and ran == ["Oslo"]
    first, second = store.load("agent"), store.load("agent:turn-2")
    assert first is not None and first.terminal and second is not None and second.terminal
    # A retried run: both turns come from their checkpoints (the tool runs again).
    again = client.run(tools=[get_weather], checkpoint=store, key="agent", **kwargs)
    assert again.output_text == final.output_text and len(server.requests) == 2
    assert ran == ["Oslo", "Oslo"]


# ---------------------------------------------------------------------- failing stores


def test_a_full_disk_raises_checkpoint_error_and_keeps_the_last_checkpoint(
    client: rs.Client, server: MockServer, tmp_path: Path
) -> None:
    pieces = [f"{n:04d}" + "x" * 996 for n in range(600)]  # 600 kB of text
    text = "".join(pieces)
    script = Script(background=True, seed=9).text(text, chunk=pieces).completed()
    server.add(script)
    path = tmp_path / "small.db"
    # max_page_count caps the file the way a full disk does (SQLITE_FULL): 64 pages of 4 kB.
    full = SQLiteStore(path, pragmas={"max_page_count": 64})
    first = Seen()
    with pytest.raises(CheckpointError, match="full") as info:
        durable(client, first, full, checkpoint_every=0)
    full.close()
    assert info.value.key == "job-1"
    with SQLiteStore(path) as store:
        saved = store.load("job-1")  # the last checkpoint that fitted, whole
        assert saved is not None and saved.sequence_number is not None
        kept = saved.snapshot.output_text
        assert kept and text.startswith(kept) and first.text.startswith(kept)
        second = Seen()
        final = durable(client, second, store)
    assert final.output_text == text
    assert routes(server) == [("POST", None), ("GET", str(saved.sequence_number))]
    assert second.seqs[0] == saved.sequence_number + 1


def test_a_store_that_fails_to_load_sends_nothing(
    client: rs.Client, server: MockServer, store: SQLiteStore
) -> None:
    spy = Spy(store)
    spy.fail = OSError("the volume went away")
    seen = Seen()
    with pytest.raises(CheckpointError, match="the volume went away") as info:
        durable(client, seen, spy)
    assert info.value.key == "job-1" and seen.ended == 1
    assert server.requests == []


def test_redis_down_raises_checkpoint_error(
    client: rs.Client, server: MockServer, tmp_path: Path
) -> None:
    pytest.importorskip("redis")
    script = background()
    server.add(script, delay=0.01)
    with running_redis(tmp_path) as redis_server:
        store = RedisStore(redis_server.url, prefix="down:", timeout=0.5)

        class KillRedis(Seen):
            def on_output_text_delta(self, event: rs.events.OutputTextDelta) -> None:
                super().on_output_text_delta(event)
                if len(self.deltas) == 5:
                    redis_server.kill()

        try:
            with pytest.raises(CheckpointError, match="Redis"):
                durable(client, KillRedis(), store, checkpoint_every=0)
        finally:
            store.close()
    assert routes(server) == [("POST", None)]


# ------------------------------------------------------------------------ real crashes


class MockAPI:
    """examples/celery_app/mock_api.py in a process of its own, stopped by its PID."""

    def __init__(self, log: Path, *, responses: int, deltas: int, delay: float) -> None:
        self.log = log
        self.deltas = deltas
        args = [sys.executable, str(APP / "mock_api.py"), "--log", str(log)]
        args += ["--responses", str(responses), "--deltas", str(deltas), "--delay", str(delay)]
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 30)
        line = self.process.stdout.readline() if ready else ""
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"mock_api.py did not start: {line!r}")
        self.url = line.split()[1]

    def requests(self) -> List[Dict[str, Any]]:
        with open(self.log, encoding="utf-8") as log:
            return [json.loads(line) for line in log if line.endswith("\n")]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def children(pid: int) -> List[int]:
    """The child processes of ``pid`` (Linux /proc)."""
    found: List[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(child) for child in f.read().split()]
    except OSError:
        pass
    return found


def kill_by_pid(pids: List[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` every 20 ms until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def posts_by_key(requests: List[Dict[str, Any]], field: str) -> Dict[str, List[int]]:
    """For each job key (``metadata[field]``), the indexes of its POSTs among all POSTs: the
    mock serves response ``i`` to the ``i``-th POST."""
    posts = [r for r in requests if r["method"] == "POST" and r["path"] == "/v1/responses"]
    found: Dict[str, List[int]] = collections.defaultdict(list)
    for index, request in enumerate(posts):
        found[request["json"]["metadata"][field]].append(index)
    return found


def resume_gets(requests: List[Dict[str, Any]]) -> Dict[str, List[Optional[str]]]:
    """For each response id, the ``starting_after`` of each resume GET, in order."""
    found: Dict[str, List[Optional[str]]] = collections.defaultdict(list)
    for request in requests:
        if request["method"] == "GET" and request["query"].get("stream") == "true":
            found[request["path"].rsplit("/", 1)[1]].append(request["query"].get("starting_after"))
    return found


def check_jobs(
    requests: List[Dict[str, Any]],
    field: str,
    results: Dict[str, str],
    delivered: Dict[str, List[Tuple[int, str]]],
    at_kill: Dict[str, Optional[Checkpoint]],
) -> int:
    """The assertions both crash tests share; returns how many repeated deltas were dropped.

    ``at_kill`` holds, for each job a crash interrupted, its checkpoint just after the crash.
    """
    posts = posts_by_key(requests, field)
    gets = resume_gets(requests)
    assert set(posts) == set(results)
    assert all(len(indexes) == 1 for indexes in posts.values()), posts  # nothing bought twice
    repeats = 0
    for key, text in results.items():
        (index,) = posts[key]
        assert text == mock_api.answer_text(index, DELTAS)
        saved = at_kill.get(key)
        if saved is not None:  # resumed from the crashed worker's checkpoint
            assert saved.response_id == mock_api.response_id(index)
            after = None if saved.sequence_number is None else str(saved.sequence_number)
            assert gets[saved.response_id][:1] == [after], (key, gets[saved.response_id])
        else:
            assert mock_api.response_id(index) not in gets
        seen: Dict[int, str] = {}
        for sequence_number, delta in delivered[key]:
            if sequence_number in seen:
                repeats += 1
                # Only events after the last checkpoint come again.
                assert saved is not None and sequence_number > (saved.sequence_number or -1)
                assert seen[sequence_number] == delta
            seen[sequence_number] = delta
        assert "".join(seen[n] for n in sorted(seen)) == text
    return repeats


HOST = socket.gethostname()  # in the names of the Celery workers
DELTAS = 40  # text deltas per scripted response
DELAY = 0.04  # seconds between two events: about 2 s per response


def _pool_job(url: str, database: str, sinks: str, key: str) -> str:
    """What a ProcessPoolExecutor worker runs: one durable job (module-level: picklable)."""
    sink = Path(sinks)
    with open(sink / f"{key}.pid", "a") as pid_file:
        pid_file.write(f"{os.getpid()}\n")

    class Sink(rs.ResponseHandler):
        def __init__(self, out: Any) -> None:
            self.out = out

        def on_output_text_delta(self, event: rs.events.OutputTextDelta) -> None:
            self.out.write(json.dumps([event.sequence_number, event.delta]) + "\n")
            self.out.flush()

    with rs.Client(base_url=url, max_retries=0) as client, SQLiteStore(database) as store:
        with open(sink / f"{key}.jsonl", "a", encoding="utf-8") as out:
            final = client.stream(
                Sink(out),
                checkpoint=store,
                key=key,
                background=True,
                model="gpt-5-mini",
                input=f"job {key}",
                metadata={"job": key},
            )
    return final.output_text


def _sunk(sinks: Path, key: str, suffix: str = ".jsonl") -> List[Any]:
    path = sinks / f"{key}{suffix}"
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.endswith("\n")]


@pytest.mark.slow
def test_sqlite_jobs_survive_a_sigkilled_pool_process(tmp_path: Path) -> None:
    started = time.monotonic()
    database = tmp_path / "checkpoints.db"
    sinks = tmp_path / "sinks"
    sinks.mkdir()
    keys = [f"job-{n}" for n in range(8)]
    context = multiprocessing.get_context("spawn")
    api = MockAPI(tmp_path / "requests.jsonl", responses=20, deltas=DELTAS, delay=DELAY)
    pools: List[concurrent.futures.ProcessPoolExecutor] = []
    try:
        pool = concurrent.futures.ProcessPoolExecutor(4, mp_context=context)
        pools.append(pool)
        futures = {k: pool.submit(_pool_job, api.url, str(database), str(sinks), k) for k in keys}

        def half_way() -> Optional[str]:
            return next((k for k in keys if len(_sunk(sinks, k)) >= DELTAS // 2), None)

        victim = until(half_way, 30, "a job half way")
        (pid,) = _sunk(sinks, victim, ".pid")
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        concurrent.futures.wait(futures.values(), timeout=30)
        pool.shutdown(wait=True)  # the pool is broken: its other processes were ended too
        results: Dict[str, str] = {}
        for key, future in futures.items():
            if future.exception() is None:
                results[key] = future.result()
            else:
                assert isinstance(future.exception(), concurrent.futures.process.BrokenProcessPool)
        with SQLiteStore(database) as store:
            at_kill = {k: store.load(k) for k in keys if k not in results}
        assert at_kill[victim] is not None  # the killed job had saved its progress
        # A replacement pool picks the keys up.
        replacement = concurrent.futures.ProcessPoolExecutor(4, mp_context=context)
        pools.append(replacement)
        again = {
            k: replacement.submit(_pool_job, api.url, str(database), str(sinks), k) for k in at_kill
        }
        recovered = again[victim].result(timeout=30)
        recovery = time.monotonic() - killed_at
        results.update({k: f.result(timeout=30) for k, f in again.items()})
        results[victim] = recovered
    finally:
        try:
            for made in pools:
                for process in list((getattr(made, "_processes", None) or {}).values()):
                    if process.is_alive():
                        process.kill()  # by its PID
                made.shutdown(wait=True, cancel_futures=True)
        finally:
            api.stop()
    delivered = {k: [(int(seq), str(delta)) for seq, delta in _sunk(sinks, k)] for k in keys}
    interrupted = {k: saved for k, saved in at_kill.items() if saved is not None}
    repeats = check_jobs(api.requests(), "job", results, delivered, interrupted)
    report = {
        "recovery_s": round(recovery, 2),
        "posts": len(keys),
        "resumed": len(interrupted),
        "repeats_dropped": repeats,
        "total_s": round(time.monotonic() - started, 1),
    }
    print(f"\nSQLite + ProcessPoolExecutor: {report}")
    assert time.monotonic() - started < 60


class CeleryWorker:
    """``celery -A tasks worker`` (prefork) of examples/celery_app, stopped by its PIDs."""

    def __init__(self, name: str, env: Dict[str, str], directory: Path) -> None:
        self.log = directory / f"{name}.log"
        self.output = open(directory / f"{name}.out", "wb")  # closed by stop()
        args = [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--pool", "prefork"]
        args += ["--concurrency", "4", "-n", f"{name}@%h", "--loglevel", "INFO"]
        args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        args += ["--logfile", str(self.log)]
        self.process = subprocess.Popen(
            args, cwd=APP, env=env, stdin=subprocess.DEVNULL, stdout=self.output, stderr=self.output
        )

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the worker exited: {self.log.read_text(errors='replace')}")
        return self.log.exists() and " ready." in self.log.read_text(errors="replace")

    def pids(self) -> List[int]:
        """The worker's main process and its pool processes."""
        return [self.process.pid, *children(self.process.pid)]

    def kill(self) -> None:
        """SIGKILL to the worker and to each of its pool processes at once, as a crash."""
        kill_by_pid(self.pids())
        self.process.wait(10)

    def stop(self) -> None:
        pids = self.pids()
        if self.process.poll() is None:
            self.process.terminate()  # warm shutdown: its tasks have finished
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                pass
        kill_by_pid([pid for pid in pids if os.path.exists(f"/proc/{pid}")])
        if self.process.poll() is None:
            self.process.wait(10)
        self.output.close()


def _celery_list(sink: Any, name: str, task_id: str) -> List[Any]:
    """A list the example's task writes: ``attempts`` (worker names) or ``deltas``."""
    return [
        json.loads(raw) if name == "deltas" else raw.decode()
        for raw in sink.lrange(f"celery_app:{name}:{task_id}", 0, -1)
    ]


@pytest.mark.slow
@pytest.mark.skipif(sys.version_info < (3, 10), reason="celery==5.7.0 needs Python 3.10")
def test_celery_workers_survive_a_sigkill(tmp_path: Path) -> None:
    import redis
    from celery import Celery

    started = time.monotonic()
    count = 20
    with running_redis(tmp_path) as broker:
        api = MockAPI(tmp_path / "requests.jsonl", responses=count + 5, deltas=DELTAS, delay=DELAY)
        env = dict(os.environ)
        env.update(
            CELERY_APP_REDIS_URL=broker.url,
            CELERY_APP_VISIBILITY_TIMEOUT="5",  # a dead worker's tasks go to another after 5 s
            OPENAI_BASE_URL=api.url,
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        )
        app = Celery("test", broker=broker.url, backend=broker.url)
        sink = redis.Redis.from_url(broker.url)
        store = RedisStore(broker.url, prefix="celery_app:checkpoint:")
        workers: List[CeleryWorker] = []
        try:
            workers += [CeleryWorker("a", env, tmp_path), CeleryWorker("b", env, tmp_path)]
            until(lambda: all(worker.ready() for worker in workers), 30, "both workers ready")
            results = [
                app.send_task("celery_app.answer", args=[f"Question {n}"]) for n in range(count)
            ]
            ids = [result.id for result in results]

            def on_a() -> List[str]:
                return [i for i in ids if _celery_list(sink, "attempts", i)[:1] == [f"a@{HOST}"]]

            def a_half_way() -> bool:
                half = [i for i in on_a() if len(_celery_list(sink, "deltas", i)) >= DELTAS // 2]
                return bool(half)

            until(a_half_way, 30, "worker a's streams half way")
            workers[0].kill()
            killed_at, killed_wall = time.monotonic(), time.time()
            interrupted = on_a()
            at_kill = {i: store.load(i) for i in interrupted}
            assert interrupted and not any(r.ready() for r in results if r.id in interrupted)
            done: Dict[str, float] = {}

            def all_done() -> bool:
                for result in results:
                    if result.id not in done and result.ready():
                        done[result.id] = time.monotonic()
                return len(done) == count

            until(all_done, 50, "every task")
            texts = {result.id: result.get(timeout=5) for result in results}
        finally:
            try:
                for worker in workers:
                    worker.stop()
            finally:
                api.stop()
                store.close()
                app.close()
        delivered = {i: [(int(s), str(d)) for s, d in _celery_list(sink, "deltas", i)] for i in ids}
        ran = {i: _celery_list(sink, "attempts", i) for i in ids}
        sink.close()
    # Every task completed on the surviving worker; the interrupted ones had started on a.
    assert all(names[-1] == f"b@{HOST}" for names in ran.values()), ran
    assert all(ran[i] == [f"a@{HOST}", f"b@{HOST}"] for i in interrupted), ran
    requests = api.requests()
    saved = {i: cp for i, cp in at_kill.items() if cp is not None}
    assert set(saved) == set(interrupted)  # each had saved a checkpoint before the kill
    repeats = check_jobs(requests, "celery_task_id", texts, delivered, saved)
    first_get = min(
        r["t"]
        for r in requests
        if r["method"] == "GET"
        and r["path"].rsplit("/", 1)[1] in {cp.response_id for cp in saved.values()}
    )
    report = {
        "interrupted": len(interrupted),
        "first_resume_get_s": round(first_get - killed_wall, 2),
        "recovery_s": round(max(done[i] for i in interrupted) - killed_at, 2),
        "posts": sum(r["method"] == "POST" for r in requests),
        "repeats_dropped": repeats,
        "total_s": round(time.monotonic() - started, 1),
    }
    print(f"\nCelery + Redis: {report}")
    assert report["posts"] == count
    assert time.monotonic() - started < 60
