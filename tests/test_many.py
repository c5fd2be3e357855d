"""``client.stream_many`` and ``client.events_many``: many streams on one selector, each with
every guarantee of ``client.stream()``, over a real local server (MockServer's ``match`` gives
each request its own reply, whatever order they arrive in)."""

from __future__ import annotations

import gc
import gzip
import json
import os
import signal
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, cast

import pytest

import responses_stream as rs
from responses_stream import errors
from responses_stream._accumulator import Accumulator
from responses_stream._many import OPEN_BATCH, OPEN_WORKERS, Multiplexer, Slot
from responses_stream._many_run import run_callbacks
from responses_stream._stream import StreamCore
from responses_stream.checkpoints import SQLiteStore
from responses_stream.testing import MockServer, Script

from .scripts import requests_on, tls_server_context

MODEL = "gpt-5-mini"


def text_of(index: int) -> str:
    return f"Answer {index}: " + " ".join(f"word{index}-{k}" for k in range(12))


def answer(index: int, **kwargs: Any) -> Script:
    return Script(seed=index, model=MODEL, **kwargs).text(text_of(index), chunk=6).completed()


def request(index: int, **sdk: Any) -> Dict[str, Any]:
    return {"model": MODEL, "input": f"q{index}", **sdk}


def queue(server: MockServer, index: int, source: Any = None, **options: Any) -> None:
    options.setdefault("delay", 0.005)
    server.add(
        source if source is not None else answer(index), match={"input": f"q{index}"}, **options
    )


class Recorder(rs.ResponseHandler):
    """Records what it is told, on which thread, and checks no two callbacks overlap."""

    running = 0
    overlaps = 0
    threads: set = set()

    def __init__(self, index: int) -> None:
        self.index = index
        self.deltas: List[str] = []
        self.completed: Optional[rs.Response] = None
        self.exceptions: List[BaseException] = []
        self.retries: List[int] = []
        self.resumes: List[Optional[int]] = []
        self.ended = 0

    def _enter(self) -> None:
        Recorder.threads.add(threading.get_ident())
        Recorder.running += 1
        if Recorder.running > 1:
            Recorder.overlaps += 1
        time.sleep(0)  # let another thread run if one could
        Recorder.running -= 1

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        self._enter()
        self.deltas.append(delta)
        assert snapshot.endswith(delta)

    def on_completed(self, response: rs.Response) -> None:
        self._enter()
        self.completed = response

    def on_exception(self, exc: BaseException) -> None:
        self._enter()
        self.exceptions.append(exc)

    def on_retry(self, error: Exception, attempt: int, delay: float) -> None:
        self._enter()
        self.retries.append(attempt)

    def on_resume(self, response_id: str, starting_after: Optional[int]) -> None:
        self._enter()
        self.resumes.append(starting_after)

    def on_end(self) -> None:
        self._enter()
        self.ended += 1


@pytest.fixture(autouse=True)
def _reset_recorder() -> None:
    Recorder.running = Recorder.overlaps = 0
    Recorder.threads = set()


def raising_at(index: int, error: Callable[[], BaseException]) -> type:
    """A Recorder class whose stream ``index`` raises ``error()`` from its first text delta."""

    class Raising(Recorder):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            super().on_text_delta(delta, snapshot)
            if self.index == index:
                raise error()

    return Raising


class Handlers:
    """The handler factory: one Recorder (or ``cls``) per request, kept by index."""

    def __init__(self, cls: type = Recorder) -> None:
        self.cls = cls
        self.made: Dict[int, Any] = {}

    def __call__(self, index: int, params: Mapping[str, Any]) -> Any:
        assert params["input"] == f"q{index}"
        handler = self.made[index] = self.cls(index)
        return handler


def assert_answered(outcome: Any, index: int) -> None:
    assert isinstance(outcome, rs.Response), outcome
    assert outcome.status == "completed"
    assert outcome.output_text == text_of(index)


# ------------------------------------------------------------------------------------ basics


def test_many_streams_each_get_their_own_answer_in_input_order(
    server: MockServer, client: rs.Client
) -> None:
    count = 40
    for i in reversed(range(count)):  # queued in the reverse order: match decides
        queue(server, i)
    handlers = Handlers()
    outcomes = client.stream_many((request(i) for i in range(count)), handlers, concurrency=12)
    assert len(outcomes) == count
    for i, outcome in enumerate(outcomes):
        assert_answered(outcome, i)
        handler = handlers.made[i]
        assert "".join(handler.deltas) == text_of(i)
        assert handler.completed is outcome
        assert handler.ended == 1 and handler.exceptions == []
        assert outcome.metrics is not None and outcome.metrics.events >= 10
        assert outcome.metrics.bytes > 0 and outcome.metrics.time_to_first_token is not None
    assert Recorder.threads == {threading.get_ident()}  # every callback on the calling thread
    assert Recorder.overlaps == 0


def test_more_requests_than_a_batch_of_starts_all_get_their_outcome() -> None:
    """Streams that end as soon as they start (each batch of starts is over before the next
    one) still leave none of the requests behind."""
    count = OPEN_BATCH * 3 + 5

    def opener(slot: Slot, params: Mapping[str, Any]) -> Any:
        def steps() -> Any:
            finished = Accumulator()
            finished.response.id, finished.response.status = params["id"], "completed"
            return StreamCore(None, finished)
            yield  # the steps of a stream that needs no request (a finished checkpoint's)

        return steps()

    requests = [{"id": f"resp_{i}"} for i in range(count)]
    mux = Multiplexer(
        requests, opener, cast(Any, None), handler=None, concurrency=count, callbacks=True
    )
    outcomes = run_callbacks(mux, fail_fast=True)
    assert [getattr(o, "id", o) for o in outcomes] == [r["id"] for r in requests]


def test_concurrency_bounds_the_streams_open_at_once(server: MockServer, client: rs.Client) -> None:
    count, limit = 12, 3
    for i in range(count):
        queue(server, i, delay=0.01)
    open_now = [0]
    most = [0]

    class Counting(Recorder):
        def __init__(self, index: int) -> None:
            super().__init__(index)
            open_now[0] += 1
            most[0] = max(most[0], open_now[0])

        def on_end(self) -> None:
            open_now[0] -= 1

    outcomes = client.stream_many(
        [request(i) for i in range(count)], Handlers(Counting), concurrency=limit
    )
    assert most[0] == limit
    for i, outcome in enumerate(outcomes):
        assert_answered(outcome, i)


def test_no_thread_per_stream(server: MockServer, client: rs.Client) -> None:
    count = 60
    for i in range(count):
        queue(server, i, delay=0.02)
    peak = [threading.active_count()]
    before = threading.active_count()

    class Sampling(Recorder):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            peak[0] = max(peak[0], threading.active_count())

    outcomes = client.stream_many(
        [request(i) for i in range(count)], Handlers(Sampling), concurrency=count
    )
    assert [o for o in outcomes if not isinstance(o, rs.Response)] == []
    # The server's threads are MockServer's (one per connection); ours: the opening pool and
    # the watchdog. Count the client side by name.
    ours = [t.name for t in threading.enumerate() if t.name.startswith("responses_stream-many")]
    assert len(ours) <= OPEN_WORKERS
    assert peak[0] - before <= count + OPEN_WORKERS + 2  # MockServer's + the pool, never 2x


def test_keep_alive_connections_are_reused(server: MockServer, client: rs.Client) -> None:
    count = 10
    for i in range(count):
        queue(server, i)
    outcomes = client.stream_many([request(i) for i in range(count)], concurrency=2)
    for i, outcome in enumerate(outcomes):
        assert_answered(outcome, i)
    pools = client._transport.session.get_adapter(server.url).poolmanager.pools
    made = sum(pools[key].num_connections for key in pools.keys())
    assert made <= 3, made  # two at a time, with one spare at most while a turn changes
    # Back to blocking, and usable by an ordinary call afterwards.
    queue(server, 99)
    assert_answered(client.stream(**request(99)), 99)


def test_events_many_pulls_index_event_pairs(server: MockServer, client: rs.Client) -> None:
    count = 8
    for i in range(count):
        queue(server, i)
    texts: Dict[int, str] = dict.fromkeys(range(count), "")
    with client.events_many([request(i) for i in range(count)], concurrency=4) as streams:
        for index, event in streams:
            if isinstance(event, rs.events.OutputTextDelta):
                texts[index] += event.delta
                snapshot = streams.response(index)
                assert snapshot is not None and snapshot.output_text == texts[index]
    for i, outcome in enumerate(streams.outcomes):
        assert_answered(outcome, i)
        assert texts[i] == text_of(i)
        assert streams.response(i) is outcome


def test_leaving_events_many_early_closes_every_connection(
    server: MockServer, client: rs.Client
) -> None:
    for i in range(6):
        queue(server, i, delay=0.05)
    with client.events_many([request(i) for i in range(6)]) as streams:
        for index, event in streams:
            if isinstance(event, rs.events.OutputTextDelta):
                break
    partial = [o for o in streams.outcomes if o is not None]
    assert partial and all(isinstance(o, rs.Response) for o in partial)
    assert all(o.status != "completed" for o in partial)  # cut short, not finished
    for index in range(len(streams.outcomes)):
        assert streams.response(index) is streams.outcomes[index]
    with pytest.raises(IndexError):
        streams.response(-1)  # not the last one: an index counts from 0


# ------------------------------------------------------------------- one fault among many


def test_one_fault_of_each_kind_leaves_the_others_unaffected(
    server: MockServer, client: rs.Client, sleeps: List[float]
) -> None:
    count = 10
    cut, stall, limited, raising = 2, 4, 6, 8
    for i in range(count):
        if i == cut:
            body = answer(i).to_bytes()
            queue(server, i, body, close_after=len(body) // 2)
        elif i == stall:
            queue(server, i, stall=30, stall_after_events=5)
        elif i == limited:
            server.add_error(429, "slow down", code="rate_limit_exceeded", match={"input": f"q{i}"})
            queue(server, i)
        else:
            queue(server, i)

    class Raising(Recorder):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            super().on_text_delta(delta, snapshot)
            if self.index == raising and len(self.deltas) == 3:
                raise ValueError("the callback broke")

    handlers = Handlers(Raising)
    requests = [request(i) for i in range(count)]
    requests[stall]["timeout"] = rs.Timeout(connect=2, read=0.5)
    started = time.monotonic()
    outcomes = client.stream_many(requests, handlers)
    assert time.monotonic() - started < 10

    assert isinstance(outcomes[cut], errors.StreamInterrupted)
    assert outcomes[cut].response is not None and outcomes[cut].response.output_text
    assert text_of(cut).startswith(outcomes[cut].response.output_text)

    assert isinstance(outcomes[stall], errors.APITimeoutError)
    assert "read timeout" in str(outcomes[stall])
    partial = outcomes[stall].response
    assert partial is not None and text_of(stall).startswith(partial.output_text)

    assert_answered(outcomes[limited], limited)
    assert handlers.made[limited].retries == [1]
    assert outcomes[limited].metrics.retries == 1
    assert sleeps == []  # the back-off was a timer of the selector: no thread slept

    assert isinstance(outcomes[raising], ValueError)
    assert handlers.made[raising].exceptions == [outcomes[raising]]
    assert len(handlers.made[raising].deltas) == 3  # nothing after the callback that raised

    for i in set(range(count)) - {cut, stall, limited, raising}:
        assert_answered(outcomes[i], i)
        assert handlers.made[i].exceptions == []
    for handler in handlers.made.values():
        assert handler.ended == 1
    assert Recorder.threads == {threading.get_ident()}


def test_fail_fast_raises_the_callback_error_and_closes_the_rest(
    server: MockServer, client: rs.Client
) -> None:
    for i in range(5):
        queue(server, i, delay=0.02)

    handlers = Handlers(raising_at(1, lambda: KeyError("stop everything")))
    with pytest.raises(KeyError, match="stop everything"):
        client.stream_many([request(i) for i in range(5)], handlers, fail_fast=True)
    for handler in handlers.made.values():
        assert handler.ended == 1


@pytest.mark.parametrize("fail_fast", [False, True])
@pytest.mark.parametrize("callback", ["on_end", "on_exception"])
def test_fail_fast_raises_an_error_of_on_end_or_on_exception_too(
    server: MockServer, client: rs.Client, callback: str, fail_fast: bool
) -> None:
    """on_end and on_exception are callbacks too: with fail_fast their error is raised (as
    stream() raises it) and closes the rest; without it, it is that stream's outcome."""
    for i in (0, 2, 3):
        queue(server, i, delay=0.02)
    server.add_error(400, "bad request", match={"input": "q1"})  # stream 1 fails

    class Failing(Recorder):
        def on_end(self) -> None:
            super().on_end()
            if self.index == 1 and callback == "on_end":
                raise KeyError("on_end broke")

        def on_exception(self, exc: BaseException) -> None:
            super().on_exception(exc)
            if callback == "on_exception":
                raise KeyError("on_exception broke")

    handlers = Handlers(Failing)
    requests = [request(i) for i in range(4)]
    if not fail_fast:
        outcomes = client.stream_many(requests, handlers)
        assert isinstance(outcomes[1], KeyError) and "broke" in str(outcomes[1])
        for i in (0, 2, 3):
            assert_answered(outcomes[i], i)
    else:
        with pytest.raises(KeyError, match="broke"):
            client.stream_many(requests, handlers, fail_fast=True)
    for handler in handlers.made.values():
        assert handler.ended == 1


class _SlowStore(SQLiteStore):
    """A checkpoint store whose load() takes a while: its request opens on the pool late."""

    def load(self, key: str) -> Any:
        time.sleep(0.5)
        return super().load(key)


@pytest.mark.parametrize("how", ["slow store", "back-off"])
def test_closing_while_a_checkpointed_request_opens_sends_it_never(
    server: MockServer, tmp_path: Path, how: str
) -> None:
    """A checkpointed request opens on the pool (its store first). Leaving events_many while
    it is still opening (its store is slow, or it waits 30 s to retry a 429) raises nothing
    and sends nothing after: a response nobody will read is never created."""
    if how == "back-off":
        server.add_error(429, "slow down", headers={"retry-after": "30"}, match={"input": "d"})
    server.add(Script(seed=4).text("durable").completed(), match={"input": "d"})
    queue(server, 1, delay=0.02)
    store_class = _SlowStore if how == "slow store" else SQLiteStore
    before = {thread.ident for thread in threading.enumerate()}
    with store_class(str(tmp_path / "cp.db")) as store:
        durable = {"model": "m", "input": "d", "background": True, "checkpoint": store}
        durable["key"] = "job"
        with rs.Client(api_key="sk-test", base_url=server.url, max_retries=3) as client:
            with client.events_many([durable, request(1)]) as streams:
                for index, event in streams:
                    if index == 1 and event.type == "response.output_text.delta":
                        break
            sent = [r.json.get("input") for r in server.requests]
            time.sleep(1.0)  # long enough for the slow store, far less than the back-off
            assert [r.json.get("input") for r in server.requests] == sent
    assert sent.count("d") == (1 if how == "back-off" else 0)
    left = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    assert not [t for t in left if t.name.startswith("responses_stream-many")]


def test_a_callback_ctrl_c_while_a_checkpointed_request_backs_off(
    server: MockServer, tmp_path: Path
) -> None:
    """KeyboardInterrupt (from a callback, as Ctrl-C arrives) while another stream's request
    waits 30 s to be retried: raised at once, every handler ended once, nothing sent after."""
    server.add_error(429, "slow down", headers={"retry-after": "30"}, match={"input": "d"})
    queue(server, 1, delay=0.02)
    made: Dict[int, Recorder] = {}

    def make(index: int, params: Mapping[str, Any]) -> Any:
        made[index] = raising_at(1, KeyboardInterrupt)(index)
        return made[index]

    with SQLiteStore(str(tmp_path / "cp.db")) as store:
        durable = {"model": "m", "input": "d", "background": True, "checkpoint": store}
        durable["key"] = "job"
        with rs.Client(api_key="sk-test", base_url=server.url, max_retries=3) as client:
            started = time.monotonic()
            with pytest.raises(KeyboardInterrupt):
                client.stream_many([durable, request(1)], make)
            assert time.monotonic() - started < 5
            sent = len(server.requests)
            time.sleep(0.5)
            assert len(server.requests) == sent
    assert {i: h.ended for i, h in made.items()} == {0: 1, 1: 1}


def _open_sockets_to(port: int) -> List[socket.socket]:
    found = []
    for thing in gc.get_objects():
        if isinstance(thing, socket.socket) and thing.fileno() != -1:
            try:
                peer = thing.getpeername()
            except OSError:
                continue
            if peer[1] == port:
                found.append(thing)
    return found


def test_events_many_closed_from_another_thread_closes_every_connection(
    server: MockServer,
) -> None:
    """A Stop button: close() from another thread while this one iterates ends the
    iteration, and every stream's connection is closed (they stayed open, unreachable)."""
    for i in range(3):
        server.add(Script(seed=i).text("hello " * 200, chunk=3).completed(), delay=0.01)
    port = int(server.url.split(":")[2].split("/")[0])
    with rs.Client(api_key="sk-test", base_url=server.url) as client:
        with client.events_many([request(i) for i in range(3)]) as streams:
            closer = threading.Timer(0.2, streams.close)
            closer.start()
            seen = sum(1 for _ in streams)
            closer.join()
        outcomes = streams.outcomes
        assert 0 < seen and all(isinstance(outcome, rs.Response) for outcome in outcomes)
        assert not any(outcome.status == "completed" for outcome in outcomes)  # type: ignore[union-attr]
    del streams
    gc.collect()
    assert _open_sockets_to(port) == []


def test_idle_and_total_limits_hold_per_stream(server: MockServer, client: rs.Client) -> None:
    queue(server, 0, stall=30, stall_after_events=4)
    queue(server, 1, delay=0.3)  # slow but steady: the total limit ends it
    queue(server, 2)
    requests = [
        request(0, timeout=rs.Timeout(connect=2, read=30, idle=0.5)),
        request(1, timeout=rs.Timeout(connect=2, read=30, total=1.0)),
        request(2),
    ]
    started = time.monotonic()
    outcomes = client.stream_many(requests)
    assert time.monotonic() - started < 5
    assert isinstance(outcomes[0], errors.APITimeoutError) and "idle" in str(outcomes[0])
    assert isinstance(outcomes[1], errors.APITimeoutError) and "total" in str(outcomes[1])
    assert_answered(outcomes[2], 2)


def test_a_request_that_fails_before_streaming_is_its_outcome(
    server: MockServer, client: rs.Client
) -> None:
    queue(server, 0)
    server.add_error(400, "bad model", match={"input": "q1"})
    outcomes = client.stream_many([request(0), request(1), "not a dict"], Handlers())  # type: ignore[list-item]
    assert_answered(outcomes[0], 0)
    assert isinstance(outcomes[1], errors.BadRequestError) and outcomes[1].status_code == 400
    assert isinstance(outcomes[2], errors.ConfigurationError)


def test_bad_arguments_are_configuration_errors(client: rs.Client) -> None:
    with pytest.raises(errors.ConfigurationError, match="concurrency"):
        client.stream_many([], concurrency=0)
    assert client.stream_many([]) == []
    outcomes = client.stream_many([{"model": MODEL, "handler": rs.ResponseHandler()}])
    assert isinstance(outcomes[0], errors.ConfigurationError)


# ------------------------------------------------------------------------- stop and Ctrl-C


def test_stop_ends_one_stream_only(server: MockServer, client: rs.Client) -> None:
    for i in range(4):
        queue(server, i, delay=0.01)

    class Stopping(Recorder):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            super().on_text_delta(delta, snapshot)
            if self.index == 2 and len(self.deltas) == 2:
                self.stop()

    handlers = Handlers(Stopping)
    outcomes = client.stream_many([request(i) for i in range(4)], handlers)
    stopped = outcomes[2]
    assert isinstance(stopped, rs.Response) and stopped.status == "in_progress"
    assert stopped.output_text == "".join(handlers.made[2].deltas)
    assert handlers.made[2].exceptions == []
    for i in (0, 1, 3):
        assert_answered(outcomes[i], i)


def test_stop_from_another_thread_while_the_stream_waits(
    server: MockServer, client: rs.Client
) -> None:
    queue(server, 0, stall=30, stall_after_events=5)
    queue(server, 1, delay=0.05)
    handlers = Handlers()

    def stop_soon() -> None:
        while 0 not in handlers.made or not handlers.made[0].deltas:
            time.sleep(0.01)
        handlers.made[0].stop()

    stopper = threading.Thread(target=stop_soon)
    stopper.start()
    started = time.monotonic()
    outcomes = client.stream_many([request(0), request(1)], handlers)
    stopper.join()
    assert time.monotonic() - started < 10
    assert isinstance(outcomes[0], rs.Response) and outcomes[0].status == "in_progress"
    assert handlers.made[0].exceptions == []
    assert_answered(outcomes[1], 1)


def test_stop_of_a_waiting_stream_from_another_streams_callback(server: MockServer) -> None:
    """Stream 1's callback stops stream 0, which waits for data (its socket idle, no read
    limit): stream 0 ends at once with its partial response, as from another thread."""
    queue(server, 0, stall=30, stall_after_events=5)
    queue(server, 1, delay=0.05)

    class StopsTheOther(Recorder):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            super().on_text_delta(delta, snapshot)
            if self.index == 1 and 0 in handlers.made and handlers.made[0].deltas:
                handlers.made[0].stop()

    handlers = Handlers(StopsTheOther)
    started = time.monotonic()
    with rs.Client(base_url=server.url, timeout=rs.Timeout(connect=10, read=None)) as client:
        outcomes = client.stream_many([request(0), request(1)], handlers)
    assert time.monotonic() - started < 10
    assert isinstance(outcomes[0], rs.Response) and outcomes[0].status == "in_progress"
    assert outcomes[0].output_text == "".join(handlers.made[0].deltas)
    assert handlers.made[0].exceptions == []
    assert_answered(outcomes[1], 1)


def test_ctrl_c_closes_every_connection_and_raises(server: MockServer, client: rs.Client) -> None:
    for i in range(5):
        queue(server, i, delay=0.2)
    handlers = Handlers()
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            client.stream_many([request(i) for i in range(5)], handlers)
    finally:
        timer.cancel()
    for handler in handlers.made.values():
        assert handler.ended == 1
    # Nothing left open: the client still works, and -W error would report a leaked socket.
    queue(server, 9, delay=0)
    assert_answered(client.stream(**request(9)), 9)


def test_ctrl_c_in_a_callback_reaches_that_streams_on_exception(
    server: MockServer, client: rs.Client
) -> None:
    """A KeyboardInterrupt raised by a callback goes, as in stream(), to that stream's
    on_exception before on_end; then every stream is closed and it is raised."""
    for i in range(3):
        queue(server, i, delay=0.05)

    handlers = Handlers(raising_at(1, KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        client.stream_many([request(i) for i in range(3)], handlers)
    (raised,) = handlers.made[1].exceptions
    assert isinstance(raised, KeyboardInterrupt)
    for handler in handlers.made.values():
        assert handler.ended == 1


# ----------------------------------------------------------- background, recording, tracing


def test_background_streams_resume_after_a_cut(server: MockServer, client: rs.Client) -> None:
    count = 4
    for i in range(count):
        body = Script(seed=i, model=MODEL, background=True).text(text_of(i), chunk=6).completed()
        data = body.to_bytes()
        if i % 2:
            queue(server, i, data, close_after=len(data) // 2)  # resumed from the store
        else:
            queue(server, i, data)
    handlers = Handlers()
    requests = [request(i, background=True) for i in range(count)]
    outcomes = client.stream_many(requests, handlers)
    for i, outcome in enumerate(outcomes):
        assert_answered(outcome, i)
        assert "".join(handlers.made[i].deltas) == text_of(i)  # no event twice
        assert len(handlers.made[i].resumes) == i % 2
        assert outcome.metrics.resumes == i % 2
    assert Recorder.threads == {threading.get_ident()}


def test_record_to_and_text_format_per_stream(
    server: MockServer, client: rs.Client, tmp_path: Path
) -> None:
    for i in range(3):
        queue(server, i)
    requests = [request(i, record_to=tmp_path / f"{i}.sse") for i in range(3)]
    outcomes = client.stream_many(requests)
    for i, outcome in enumerate(outcomes):
        assert_answered(outcome, i)
        replayed = rs.replay(tmp_path / f"{i}.sse")
        assert replayed.output_text == text_of(i)


def test_each_stream_is_a_span_under_the_callers_span(server: MockServer) -> None:
    pytest.importorskip("opentelemetry.sdk")
    from .test_tracing import Otel

    otel = Otel()
    try:
        for i in range(3):
            queue(server, i)
        with rs.Client(
            api_key="sk-test", base_url=server.url, tracer_provider=otel.tracer_provider
        ) as traced:
            tracer = otel.tracer_provider.get_tracer("test")
            with tracer.start_as_current_span("batch") as parent:
                outcomes = traced.stream_many([request(i) for i in range(3)])
        for i, outcome in enumerate(outcomes):
            assert_answered(outcome, i)
        chats = [s for s in otel.spans() if s.name == f"chat {MODEL}"]
        assert len(chats) == 3
        for span in chats:
            assert span.parent is not None
            assert span.parent.span_id == parent.get_span_context().span_id
    finally:
        otel.shutdown()


# ------------------------------------------------------------------------ bodies and TLS


def test_gzip_bodies_are_inflated_without_blocking(server: MockServer, client: rs.Client) -> None:
    for i in range(3):
        body = gzip.compress(answer(i).to_bytes())
        pieces = [body[k : k + 200] for k in range(0, len(body), 200)]
        server.add(
            b"".join(pieces),
            chunk_size=200,
            delay=0.005,
            headers={"Content-Encoding": "gzip"},
            match={"input": f"q{i}"},
        )
    outcomes = client.stream_many([request(i) for i in range(3)])
    for i, outcome in enumerate(outcomes):
        assert_answered(outcome, i)


class TLSStreamServer:
    """Serves each request (keep-alive) a whole answer over TLS, chunked, one event per write
    with a short pause, so TLS records and reads interleave; one event is larger than a TLS
    record (16 KiB), so a read leaves decrypted bytes pending in the socket."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._threads: List[threading.Thread] = []
        self._stop = threading.Event()
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    def close(self) -> None:
        self._stop.set()
        with socket.create_connection(("127.0.0.1", self.port)):
            pass  # wakes accept()
        self._accepter.join(5)
        for thread in self._threads:
            thread.join(5)
        self._listener.close()

    def _accept(self) -> None:
        while True:
            plain, _ = self._listener.accept()
            if self._stop.is_set():
                plain.close()
                return
            thread = threading.Thread(target=self._serve, args=(plain,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, plain: socket.socket) -> None:
        plain.settimeout(5)
        with self.context.wrap_socket(plain, server_side=True) as sock:
            for _, body in requests_on(sock):
                index = int(json.loads(body)["input"][1:])
                script = Script(seed=index, model=MODEL).text(text_of(index), chunk=6)
                script = script.text("x" * 40000).completed()  # one event over a TLS record
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n"
                )
                for chunk in script.to_sse_chunks():
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    time.sleep(0.002)
                sock.sendall(b"0\r\n\r\n")


def test_streams_over_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    context, cert = tls_server_context(tmp_path, monkeypatch)
    server = TLSStreamServer(context)
    try:
        url = f"https://127.0.0.1:{server.port}/v1"
        with rs.Client(api_key="sk-test", base_url=url, timeout=rs.Timeout(2, 10)) as client:
            client._transport.session.verify = str(cert)
            outcomes = client.stream_many([request(i) for i in range(6)], concurrency=3)
            for i, outcome in enumerate(outcomes):
                assert isinstance(outcome, rs.Response), outcome
                assert outcome.status == "completed"
                texts = [item.text for item in outcome.output if hasattr(item, "text")]
                assert outcome.output_text == text_of(i) + "x" * 40000, texts
    finally:
        server.close()


def test_a_body_that_ends_without_a_terminal_event_ends_its_stream_at_once(
    server: MockServer, client: rs.Client
) -> None:
    """The last chunk of a well-formed body with no terminal event: the stream fails with the
    partial response as soon as the body ends, not when a time limit passes."""
    for i in range(3):
        script = Script(seed=i, model=MODEL).text(text_of(i), chunk=6)  # no .completed()
        server.add(script, match={"input": f"q{i}"}, delay=0.002)
    started = time.monotonic()
    outcomes = client.stream_many([request(i) for i in range(3)])
    assert time.monotonic() - started < 1.5  # the client's time limits are 2 s and more
    for i, outcome in enumerate(outcomes):
        assert isinstance(outcome, errors.ResponsesStreamError), outcome
        assert outcome.response is not None
        assert outcome.response.output_text == text_of(i)
