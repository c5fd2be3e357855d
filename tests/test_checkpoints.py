"""Checkpoint stores (responses_stream.checkpoints) against real storage: SQLite files in a
temporary directory and a real redis-server on 127.0.0.1 (tests/redis_server.py).

Every behavioural test runs on both stores. What they prove: a loaded snapshot is exactly the
saved one (realistic, recorded, unicode, after arbitrary edits), saves stay incremental as a
response grows (``stats.bytes_written``), another writer (store instance or process) is noticed
through the generation token, and every storage failure is a ``CheckpointError`` that leaves
the previous checkpoint readable.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import uuid
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Union

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import responses_stream as rs
from responses_stream.checkpoints import (
    Checkpoint,
    CheckpointStats,
    CheckpointStore,
    RedisStore,
    SQLiteStore,
)
from responses_stream.errors import CheckpointError, ConfigurationError
from responses_stream.models import OutputText
from tests.redis_server import REDIS_SERVER, RedisServer, redis_server, running_redis

try:
    import redis
except ImportError:  # an optional extra; the redis_py fixture fails clearly without it
    redis = None  # type: ignore[assignment]

__all__ = ["redis_server"]  # the module-scoped fixture, imported for pytest to find

Store = Union[SQLiteStore, RedisStore]
Snapshot = Dict[str, Any]
ROOT = Path(rs.__file__).resolve().parent.parent  # where the package under test lives
TRANSCRIPTS = sorted((Path(__file__).parent / "fixtures" / "transcripts").rglob("*.sse"))
SUBPROCESS_TIMEOUT = 60


# ------------------------------------------------------------------------------- helpers


class StoreKit:
    """Makes stores of one kind on one backing storage, and closes them at teardown."""

    def __init__(self, kind: str, path: Path, server: Optional[RedisServer]) -> None:
        self.kind = kind
        self.path = path
        self.server = server
        self.prefix = f"t{uuid.uuid4().hex[:8]}:"
        self.stores: List[Store] = []

    @property
    def spec(self) -> Dict[str, Any]:
        """How a child process makes the same store."""
        if self.kind == "sqlite":
            return {"kind": "sqlite", "path": str(self.path)}
        assert self.server is not None
        return {"kind": "redis", "url": self.server.url, "prefix": self.prefix}

    def make(self, **options: Any) -> Store:
        store: Store
        if self.kind == "sqlite":
            store = SQLiteStore(self.path, **options)
        else:
            assert self.server is not None
            store = RedisStore(self.server.url, self.prefix, **options)
        self.stores.append(store)
        return store

    def close_all(self) -> None:
        for store in self.stores:
            store.close()
        self.stores.clear()

    def segment_count(self, key: str) -> int:
        """How many segments are stored for ``key`` (the documented layout), to find orphans."""
        if self.kind == "sqlite":
            with sqlite3.connect(self.path) as conn:
                rows = conn.execute(
                    "SELECT COUNT(DISTINCT slot) FROM responses_stream_checkpoint_segments"
                    " WHERE key = ?",
                    (key,),
                ).fetchone()
            conn.close()
            return int(rows[0])
        with redis_client(self) as client:
            return len(list(client.scan_iter(match=f"{self.prefix}{{{key}}}:seg:*")))


def redis_client(kit: StoreKit) -> Any:
    assert kit.server is not None and redis is not None
    return redis.Redis.from_url(kit.server.url)


@pytest.fixture
def redis_py() -> Any:
    """redis-py, for the tests that use a real redis-server: skipped only when the
    ``redis-server`` binary is absent; a missing redis-py is a failure (a missing test
    dependency), not a skip."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    if redis is None:
        pytest.fail("redis-py is not installed: pip install 'responses-stream[redis]'")
    return redis


@pytest.fixture(params=["sqlite", "redis"])
def kit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreKit]:
    server = None
    if request.param == "redis":
        request.getfixturevalue("redis_py")
        server = request.getfixturevalue("redis_server")
    kit = StoreKit(request.param, tmp_path / "checkpoints.db", server)
    yield kit
    kit.close_all()


@pytest.fixture
def store(kit: StoreKit) -> Store:
    return kit.make()


def checkpoint(key: str, data: Snapshot, seq: Optional[int] = 7) -> Checkpoint:
    snapshot = rs.Response.from_dict(copy.deepcopy(data))  # strings are shared, not copied
    return Checkpoint(
        key=key,
        response_id=data.get("id") or "resp_none",
        sequence_number=seq,
        snapshot=snapshot,
        status=data.get("status"),
        updated_at=1750000000.25,
    )


def save_and_check(store: Store, cp: Checkpoint) -> None:
    """Save, then load back and compare everything."""
    expected = cp.snapshot.to_dict()
    store.save(cp)
    loaded = store.load(cp.key)
    assert loaded is not None
    assert loaded.snapshot.to_dict() == expected
    assert isinstance(loaded.snapshot, rs.Response)
    assert (loaded.key, loaded.response_id, loaded.sequence_number) == (
        cp.key,
        cp.response_id,
        cp.sequence_number,
    )
    assert (loaded.status, loaded.updated_at) == (cp.status, cp.updated_at)


def realistic(text: str = "", arguments: str = "", summary: str = "") -> Snapshot:
    """A background response mid-stream: reasoning, a message, a function call, an unknown
    item type, unknown top-level keys."""
    return {
        "id": "resp_68a1b2c3",
        "object": "response",
        "created_at": 1750000000,
        "status": "in_progress",
        "background": True,
        "model": "gpt-5-2025-08-07",
        "instructions": "You are a careful assistant. " * 20,
        "metadata": {"job": "42", "tenant": "acme"},
        "tools": [
            {
                "type": "function",
                "name": "get_weather",
                "description": "Weather for a city. " * 20,
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                "strict": True,
            }
        ],
        "temperature": 0.7,
        "usage": None,
        "x_server_extension": {"trace": [1, 2.5, None, True]},
        "output": [
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": summary}],
                "encrypted_content": "gAAAAB" + "Zm9v" * 200,
                "status": "in_progress",
            },
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "in_progress",
                "content": [
                    {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
                ],
            },
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": arguments,
                "status": "in_progress",
            },
            {
                "type": "future_item_type",
                "id": "fi_1",
                "payload": {"nested": [{"deep": "y" * 300}, ["z" * 400, 3]], "n": None},
            },
        ],
    }


UNICODE = (
    "Grüße, 漢字, emoji 😀🎉 (astral), \U0001d518\U0001d52b (fraktur), RTL שלום,"
    " \u200bzero-width, tab\t\n"
)


def recorded_snapshots() -> List[Any]:
    """The final response of every recorded transcript (parsed here, not by the SDK)."""
    out = []
    for path in TRANSCRIPTS:
        last = None
        for line in path.read_text(encoding="utf-8", errors="surrogatepass").splitlines():
            if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]"):
                try:
                    event = json.loads(line[5:])
                except ValueError:
                    continue
                if isinstance(event, dict) and isinstance(event.get("response"), dict):
                    last = event["response"]
        if last is not None:
            out.append(pytest.param(last, id=path.stem))
    return out


# ----------------------------------------------------------------------------- round trips


def test_both_stores_satisfy_the_protocol(kit: StoreKit) -> None:
    assert isinstance(kit.make(), CheckpointStore)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(realistic(), id="empty-strings"),
        pytest.param(
            realistic("Hello! " * 100, '{"city": "' + "Paris" * 80 + '"}', "Thinking " * 60),
            id="long-strings",
        ),
        pytest.param(
            realistic(UNICODE * 20, '{"q": "' + UNICODE * 10 + '"}', UNICODE), id="unicode"
        ),
        pytest.param(realistic("\ud83d" + "x" * 300 + "\ude00" + "\udfff"), id="lone-surrogates"),
        pytest.param({"id": "resp_2", "status": "queued", "output": []}, id="queued"),
        pytest.param(
            {**realistic("done " * 80), "status": "completed", "usage": {"output_tokens": 9}},
            id="completed",
        ),
    ],
)
def test_round_trip(kit: StoreKit, store: Store, data: Snapshot) -> None:
    save_and_check(store, checkpoint("job-1", data))
    loaded = store.load("job-1")
    assert loaded is not None
    assert loaded.terminal == (data["status"] == "completed")
    # Another store instance (no memory of the save) reads the same.
    assert kit.make().load("job-1") == loaded


def test_round_trip_of_recorded_transcripts(store: Store) -> None:
    snapshots = recorded_snapshots()
    assert snapshots, "no recorded transcripts found"
    for i, param in enumerate(snapshots):
        save_and_check(store, checkpoint(f"rec-{i}", param.values[0], seq=i))


def test_types_survive(store: Store) -> None:
    data = realistic("t" * 300, '{"a": 1}', "s" * 300)
    save_and_check(store, checkpoint("typed", data))
    loaded = store.load("typed")
    assert loaded is not None
    output = loaded.snapshot.output
    assert isinstance(output[0], rs.Reasoning) and output[0].summary_text == "s" * 300
    assert isinstance(output[1], rs.Message) and output[1].text == "t" * 300
    assert isinstance(output[2], rs.FunctionCall) and output[2].arguments == '{"a": 1}'
    assert isinstance(output[3], dict) and output[3]["type"] == "future_item_type"


def test_missing_key_and_delete(kit: StoreKit, store: Store) -> None:
    assert store.load("nothing-here") is None
    store.delete("nothing-here")  # deleting a missing key is not an error
    save_and_check(store, checkpoint("gone", realistic("a" * 1000)))
    assert kit.segment_count("gone") > 0
    store.delete("gone")
    assert store.load("gone") is None
    assert kit.segment_count("gone") == 0
    # Saving again after a delete starts over cleanly.
    save_and_check(store, checkpoint("gone", realistic("b" * 500)))


def test_save_reads_the_snapshot_once(store: Store) -> None:
    cp = checkpoint("live", realistic("x" * 400))
    expected = cp.snapshot.to_dict()
    store.save(cp)
    # The SDK goes on streaming into the same object after save returns.
    message = cp.snapshot.output[1]
    assert isinstance(message, rs.Message) and isinstance(message.content[0], OutputText)
    message.content[0].text += "more"
    cp.snapshot.output.append({"type": "late"})
    loaded = store.load("live")
    assert loaded is not None and loaded.snapshot.to_dict() == expected


def test_checkpoint_from_snapshot() -> None:
    snapshot = rs.Response.from_dict({"id": "resp_9", "status": "in_progress", "output": []})
    cp = Checkpoint.from_snapshot("k", snapshot, 12, updated_at=5.0)
    assert (cp.key, cp.response_id, cp.sequence_number, cp.status) == (
        "k",
        "resp_9",
        12,
        "in_progress",
    )
    assert cp.updated_at == 5.0 and cp.snapshot is snapshot and not cp.terminal
    for status in ("completed", "incomplete", "failed", "cancelled"):
        snapshot.status = status
        assert Checkpoint.from_snapshot("k", snapshot, 13).terminal
    with pytest.raises(ConfigurationError):
        Checkpoint.from_snapshot("k", rs.Response.from_dict({"output": []}), None)


# ------------------------------------------------------------------------ incremental saves


@pytest.mark.slow
def test_growth_writes_each_byte_about_once(store: Store) -> None:
    """1,000 saves of a response growing by ~1 KiB each: ~1 MB written in all, not ~500 MB,
    and every save loads back exactly."""
    data = realistic()
    text = data["output"][1]["content"][0]
    call = data["output"][2]
    summary = data["output"][0]["summary"][0]
    naive = 0  # what rewriting every long string on every save would write
    marks: Dict[int, int] = {}
    for i in range(1000):
        # Most growth in the text; the arguments and the summary grow now and then.
        text["text"] += f"<{i}>" + "lorem ipsum " * 84 + "déjà vu"
        if i % 10 == 0:
            call["arguments"] += json.dumps({"step": i, "pad": "p" * 40})
        if i % 25 == 0:
            summary["text"] += "Considering the next step (漢字, 😀). " * 3
        naive += len(text["text"]) + len(call["arguments"]) + len(summary["text"])
        save_and_check(store, checkpoint("grow", data, seq=i))
        if i in (100, 200, 900):
            marks[i] = store.stats.bytes_written
    final = len(json.dumps(data, ensure_ascii=False).encode("utf-8"))
    assert final > 1_000_000
    assert store.stats.saves == 1000 and store.stats.full_saves == 1
    # Each save writes what the strings gained plus the skeleton (~1.4 KiB here), whatever
    # the size reached: the last 100 saves cost what saves 100-199 cost.
    late = store.stats.bytes_written - marks[900]
    assert late < 1.2 * (marks[200] - marks[100])
    assert store.stats.bytes_written < final + 1000 * 2048
    assert naive > 400_000_000 > 100 * store.stats.bytes_written


def test_replaced_strings_are_rewritten_incrementally(kit: StoreKit, store: Store) -> None:
    """Changes that are not growth: each one loads exactly, without a full rewrite, and leaves
    no orphan segment behind."""
    data = realistic("abc" * 200, '{"x": "' + "1" * 300 + '"}', "sum " * 100)
    message = data["output"][1]
    steps: List[Callable[[], None]] = [
        lambda: message["content"][0].update(text="shorter but long " * 20),  # .done rewrote it
        lambda: message["content"][0].update(text=message["content"][0]["text"][:-1] + "!"),
        lambda: message["content"][0].update(text="tiny"),  # below the segment size
        lambda: message["content"][0].update(text="back to long " * 40),
        data["output"].reverse,  # every path moves
        lambda: data["output"].__setitem__(0, {"type": "web_search_call", "id": "ws_1"}),
        lambda: message["content"].append({"type": "refusal", "refusal": "no " * 200}),
        lambda: message["content"].pop(0),  # a part removed: the refusal moves up
        lambda: data.update(instructions=None),  # a long string becomes null
        lambda: data["output"].insert(0, {"type": "message", "content": [{"text": "n" * 999}]}),
        data["output"].clear,
    ]
    save_and_check(store, checkpoint("edit", data))
    for step in steps:
        step()
        save_and_check(store, checkpoint("edit", data))
        assert kit.segment_count("edit") == count_long_strings(data)
    assert store.stats.full_saves == 1


def count_long_strings(value: Any) -> int:
    if isinstance(value, str):
        return int(len(value) >= 256)
    if isinstance(value, dict):
        return sum(count_long_strings(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_long_strings(v) for v in value)
    return 0


CHARS = st.sampled_from(["a", "é", "漢", "😀", "\ud83d", " ", '"', "\\"])
EDITS = st.lists(
    st.one_of(
        st.tuples(st.just("grow"), st.integers(0, 5), CHARS, st.integers(0, 300)),
        st.tuples(st.just("replace"), st.integers(0, 5), CHARS, st.integers(0, 600)),
        st.tuples(st.just("insert"), st.integers(0, 5), CHARS, st.integers(0, 600)),
        st.tuples(st.just("remove"), st.integers(0, 5)),
        st.tuples(st.just("swap"), st.integers(0, 5), st.integers(0, 5)),
        st.tuples(
            st.just("other-writer"),
        ),
    ),
    max_size=12,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(edits=EDITS)
def test_any_edit_sequence_loads_exactly(kit: StoreKit, edits: List[Any]) -> None:
    kit.close_all()  # the previous example's stores
    store, other = kit.make(), kit.make()
    key = uuid.uuid4().hex
    data: Snapshot = {"id": "resp_h", "status": "in_progress", "output": []}
    items: List[Dict[str, Any]] = data["output"]
    for edit in edits:
        op, n = edit[0], len(items)
        if op == "grow" and n:
            items[edit[1] % n]["content"][0]["text"] += edit[2] * edit[3]
        elif op == "replace" and n:
            items[edit[1] % n]["content"][0]["text"] = edit[2] * edit[3]
        elif op == "insert":
            part = {"type": "output_text", "text": edit[2] * edit[3], "annotations": []}
            items.insert(edit[1] % (n + 1), {"type": "message", "content": [part]})
        elif op == "remove" and n:
            items.pop(edit[1] % n)
        elif op == "swap" and n:
            i, j = edit[1] % n, edit[2] % n
            items[i], items[j] = items[j], items[i]
        elif op == "other-writer":
            # Another instance writes a different snapshot: the next save must notice.
            other.save(checkpoint(key, {"id": "resp_o", "output": [{"t": "o" * 700}] * 3}))
        save_and_check(store, checkpoint(key, data))


# -------------------------------------------------------------------- several writers


def test_two_instances_writing_alternately(kit: StoreKit) -> None:
    a, b = kit.make(), kit.make()
    data_a = realistic("A" * 2000, "a" * 300)
    data_b = realistic("B" * 900)
    data_b["output"].append({"type": "extra", "blob": "b" * 5000})  # more segments than A
    save_and_check(a, checkpoint("shared", data_a))
    data_a["output"][1]["content"][0]["text"] += "A" * 100
    save_and_check(a, checkpoint("shared", data_a))
    assert a.stats.full_saves == 1  # the second save was incremental
    save_and_check(b, checkpoint("shared", data_b))
    data_a["output"][1]["content"][0]["text"] += "A" * 100
    save_and_check(a, checkpoint("shared", data_a))  # A's memory is stale now
    assert a.stats.full_saves == 2
    assert kit.segment_count("shared") == count_long_strings(data_a)
    loaded = b.load("shared")
    assert (
        loaded is not None
        and loaded.snapshot.to_dict() == checkpoint("s", data_a).snapshot.to_dict()
    )


CHILD = r"""
import json, sys
import responses_stream as rs
from responses_stream.checkpoints import Checkpoint, RedisStore, SQLiteStore

job = json.load(sys.stdin)
spec = job["store"]
if spec["kind"] == "sqlite":
    store = SQLiteStore(spec["path"])
else:
    store = RedisStore(spec["url"], spec["prefix"])

def save(key, data, seq):
    snapshot = rs.Response.from_dict(data)
    store.save(Checkpoint(key, data["id"], seq, snapshot, data.get("status"), 1.5))

results = []
for op in job["ops"]:
    if op["op"] == "save":
        save(op["key"], op["data"], op["seq"])
    elif op["op"] == "load":
        cp = store.load(op["key"])
        results.append(None if cp is None else cp.snapshot.to_dict())
    elif op["op"] == "grow":
        w = op["writer"]
        data = {"id": "resp_w%d" % w, "status": "in_progress", "output": [
            {"type": "message", "content": [{"type": "output_text", "text": ""}]}]}
        part = data["output"][0]["content"][0]
        for step in range(op["steps"]):
            part["text"] += "[writer %d step %d]" % (w, step) + "w" * 200
            for key in op["keys"]:
                save(key, data, step)
        results.append(rs.Response.from_dict(data).to_dict())
store.close()
print(json.dumps({"results": results, "full_saves": store.stats.full_saves}))
"""


@pytest.fixture
def children() -> Iterator[List[subprocess.Popen[str]]]:
    """Child processes a test starts; any still running at teardown is killed and reaped."""
    started: List[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=SUBPROCESS_TIMEOUT)


def run_child(
    started: List[subprocess.Popen[str]], spec: Dict[str, Any], ops: List[Dict[str, Any]]
) -> subprocess.Popen[str]:
    """Start a fresh interpreter that runs ``ops`` against the store described by ``spec``."""
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started.append(process)
    assert process.stdin is not None
    process.stdin.write(json.dumps({"store": spec, "ops": ops}))
    process.stdin.close()
    process.stdin = None  # communicate() would flush the closed pipe
    return process


def child_results(process: subprocess.Popen[str]) -> Dict[str, Any]:
    out, err = process.communicate(timeout=SUBPROCESS_TIMEOUT)  # the fixture reaps on failure
    assert process.returncode == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


@pytest.mark.slow
def test_two_processes_writing_alternately(
    kit: StoreKit, children: List[subprocess.Popen[str]]
) -> None:
    store = kit.make()
    mine = realistic("M" * 3000, "m" * 400)
    save_and_check(store, checkpoint("proc", mine))
    theirs = realistic("T" * 700)
    theirs["output"].append({"type": "blob", "data": ["t" * 500, "u" * 600]})
    child_results(
        run_child(children, kit.spec, [{"op": "save", "key": "proc", "data": theirs, "seq": 1}])
    )
    loaded = store.load("proc")
    assert loaded is not None and loaded.snapshot.to_dict() == theirs
    mine["output"][1]["content"][0]["text"] += "M" * 50
    save_and_check(store, checkpoint("proc", mine))  # must not append to the child's layout
    assert store.stats.full_saves == 2
    seen = child_results(run_child(children, kit.spec, [{"op": "load", "key": "proc"}]))
    assert seen["results"] == [checkpoint("proc", mine).snapshot.to_dict()]
    assert kit.segment_count("proc") == count_long_strings(mine)


@pytest.mark.slow
def test_concurrent_writer_processes_do_not_corrupt(
    kit: StoreKit, children: List[subprocess.Popen[str]]
) -> None:
    writers = 3  # on a database none of them has created yet: they race for that too
    for w in range(writers):
        ops = [{"op": "grow", "writer": w, "steps": 40, "keys": ["race", f"own-{w}"]}]
        run_child(children, kit.spec, ops)
    finals = [child_results(child)["results"][0] for child in children]
    store = kit.make()
    for w, final in enumerate(finals):
        loaded = store.load(f"own-{w}")
        assert loaded is not None and loaded.snapshot.to_dict() == final
    # The race key holds the last save of whichever writer saved last: its final snapshot.
    loaded = store.load("race")
    assert loaded is not None and loaded.snapshot.to_dict() in finals
    if kit.kind == "sqlite":
        with sqlite3.connect(kit.path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        conn.close()


def test_threads_share_one_store(kit: StoreKit) -> None:
    store = kit.make()
    errors: List[BaseException] = []
    finals: Dict[int, Snapshot] = {}

    def work(n: int) -> None:
        try:
            data = realistic()
            for step in range(30):
                data["output"][1]["content"][0]["text"] += f"[t{n}.{step}]" + "x" * 100
                store.save(checkpoint(f"thread-{n}", data, seq=step))
                store.save(checkpoint("thread-shared", data, seq=step))
            finals[n] = checkpoint("f", data).snapshot.to_dict()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SUBPROCESS_TIMEOUT)
    assert not any(t.is_alive() for t in threads) and not errors
    for n, final in finals.items():
        loaded = store.load(f"thread-{n}")
        assert loaded is not None and loaded.snapshot.to_dict() == final
    shared = store.load("thread-shared")
    assert shared is not None and shared.snapshot.to_dict() in finals.values()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_sqlite_store_is_safe_after_fork(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "fork.db") as store:
        parent = realistic("P" * 1000)
        save_and_check(store, checkpoint("parent", parent))
        child_data = realistic("C" * 1000)
        with warnings.catch_warnings():
            # Python 3.12+ warns about fork() in a process with threads; this one has none.
            warnings.filterwarnings("ignore", "This process", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: use the inherited store, then leave without pytest's exit
            code = 1
            try:
                loaded = store.load("parent")
                store.save(checkpoint("child", child_data))
                if loaded is not None and loaded.snapshot.to_dict() == parent:
                    code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        loaded = store.load("child")
        assert loaded is not None and loaded.snapshot.to_dict() == child_data
        parent["output"][1]["content"][0]["text"] += "P"
        save_and_check(store, checkpoint("parent", parent))


# ------------------------------------------------------------------------ SQLite failures


def test_sqlite_disk_full_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    # max_page_count caps the file the way a full disk does (SQLITE_FULL).
    with SQLiteStore(tmp_path / "full.db", pragmas={"max_page_count": 64}) as store:
        small = realistic("s" * 300)
        save_and_check(store, checkpoint("k", small))
        with pytest.raises(CheckpointError, match="full") as info:
            store.save(checkpoint("k", realistic("L" * 2_000_000)))
        assert info.value.key == "k" and isinstance(info.value.__cause__, sqlite3.Error)
        loaded = store.load("k")
        assert loaded is not None and loaded.snapshot.to_dict() == small
        small["output"][1]["content"][0]["text"] += "t" * 10
        save_and_check(store, checkpoint("k", small))  # works again once it fits


def test_sqlite_locked_database(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    with SQLiteStore(path, timeout=0.1) as store:
        before = realistic("b" * 500)
        save_and_check(store, checkpoint("k", before))
        locker = sqlite3.connect(path, isolation_level=None)
        try:
            locker.execute("BEGIN EXCLUSIVE")
            with pytest.raises(CheckpointError, match="locked"):
                store.save(checkpoint("k", realistic("after" * 100)))
            with pytest.raises(CheckpointError, match="locked"):
                store.delete("k")
            # WAL: readers are not blocked by the writer, and see the last commit.
            loaded = store.load("k")
            assert loaded is not None and loaded.snapshot.to_dict() == before
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        before["output"][1]["content"][0]["text"] += "!"
        save_and_check(store, checkpoint("k", before))


def test_sqlite_missing_or_removed_directory(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "missing" / "db.sqlite") as store:
        calls: List[Callable[[], object]] = [
            lambda: store.load("k"),
            lambda: store.save(checkpoint("k", realistic())),
        ]
        for call in calls:
            with pytest.raises(CheckpointError) as info:
                call()
            assert info.value.key == "k" and isinstance(info.value.__cause__, sqlite3.Error)
    directory = tmp_path / "removed"
    directory.mkdir()
    with SQLiteStore(directory / "db.sqlite") as store:
        save_and_check(store, checkpoint("k", realistic("r" * 400)))
        shutil.rmtree(directory)
        # Writing on into the unlinked file would lose every later save: it must fail.
        with pytest.raises(CheckpointError):
            store.save(checkpoint("k", realistic("r" * 500)))
        with pytest.raises(CheckpointError):
            store.load("k")
        directory.mkdir()
        assert store.load("k") is None  # a new, empty database
        save_and_check(store, checkpoint("k", realistic("r" * 600)))


def test_sqlite_corrupt_database_file(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"this is not an SQLite database\n" * 200)
    with SQLiteStore(path) as store:
        with pytest.raises(CheckpointError, match="not a database"):
            store.load("k")
        with pytest.raises(CheckpointError):
            store.save(checkpoint("k", realistic()))
    assert path.read_bytes() == b"this is not an SQLite database\n" * 200  # left alone


def test_sqlite_rows_are_queryable(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "q.db") as store:
        store.save(checkpoint("a", realistic("x" * 500), seq=3))
        store.save(checkpoint("b", {"id": "resp_b", "status": "completed", "output": []}, 9))
    with sqlite3.connect(tmp_path / "q.db") as conn:
        rows = conn.execute(
            "SELECT key, response_id, sequence_number, status, updated_at"
            " FROM responses_stream_checkpoints ORDER BY key"
        ).fetchall()
    conn.close()
    assert rows == [
        ("a", "resp_68a1b2c3", 3, "in_progress", 1750000000.25),
        ("b", "resp_b", 9, "completed", 1750000000.25),
    ]


def test_sqlite_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        SQLiteStore(tmp_path / "x.db", pragmas={"max_page_count; DROP TABLE x": 1})
    store = SQLiteStore(tmp_path / "x.db")
    store.close()
    with pytest.raises(CheckpointError, match="closed"):
        store.load("k")


# ----------------------------------------------------------------- corrupt stored values


def corrupt(kit: StoreKit, key: str, how: str) -> None:
    """Damage what the store wrote for ``key``, by hand (the documented layout)."""
    if how in ("usage", "open_items"):  # valid JSON, wrong shapes inside

        def edit(record: bytes) -> bytes:
            data = json.loads(record)
            if how == "usage":
                data["response"]["usage"] = 5
            else:
                data["open_items"] = ["x"]
            return json.dumps(data).encode()

        if kit.kind == "sqlite":
            with sqlite3.connect(kit.path) as conn:
                (record,) = conn.execute(
                    "SELECT record FROM responses_stream_checkpoints WHERE key = ?", (key,)
                ).fetchone()
                conn.execute(
                    "UPDATE responses_stream_checkpoints SET record = ? WHERE key = ?",
                    (edit(record), key),
                )
            conn.close()
        else:
            meta = f"{kit.prefix}{{{key}}}:meta"
            with redis_client(kit) as client:
                client.hset(meta, "record", edit(client.hget(meta, "record")))
        return
    if kit.kind == "sqlite":
        with sqlite3.connect(kit.path) as conn:
            if how == "record":
                conn.execute(
                    "UPDATE responses_stream_checkpoints SET record = ? WHERE key = ?",
                    (b'{"format": 1, "garbage', key),
                )
            elif how == "number":
                conn.execute(
                    "UPDATE responses_stream_checkpoints SET record = 12345 WHERE key = ?", (key,)
                )
            elif how == "segment":
                conn.execute(
                    "DELETE FROM responses_stream_checkpoint_segments WHERE key = ?", (key,)
                )
            else:
                conn.execute(
                    "UPDATE responses_stream_checkpoint_segments SET chunk = ? WHERE key = ?",
                    (b"\xff\xfe", key),
                )
        conn.close()
        return
    meta = f"{kit.prefix}{{{key}}}:meta"
    with redis_client(kit) as client:
        if how == "record":
            client.hset(meta, "record", b"\x00not json")
        elif how == "number":
            client.hset(meta, "record", 12345)
        elif how == "segment":
            client.delete(f"{kit.prefix}{{{key}}}:seg:0")
        else:
            client.set(f"{kit.prefix}{{{key}}}:seg:0", b"\xff\xfe")


@pytest.mark.parametrize("how", ["record", "number", "segment", "utf8", "usage", "open_items"])
def test_corrupt_value_raises_checkpoint_error(kit: StoreKit, how: str) -> None:
    store = kit.make()
    save_and_check(store, checkpoint("bad", realistic("x" * 700)))
    corrupt(kit, "bad", how)
    with pytest.raises(CheckpointError) as info:
        store.load("bad")
    assert info.value.key == "bad" and info.value.__cause__ is not None
    # A failed load makes the store forget the key's state: the next save rewrites it all,
    # which repairs the key.
    save_and_check(store, checkpoint("bad", realistic("y" * 800)))
    assert store.stats.full_saves == 2


def test_a_key_the_storage_cannot_hold_is_a_checkpoint_error_and_undone(kit: StoreKit) -> None:
    """A key with a lone surrogate (no UTF-8 for it): every operation raises CheckpointError
    (nothing else escapes), and leaves nothing half done: the store, and another instance on
    the same storage, go on working."""
    store = kit.make()
    bad = "job-\udc00"
    for operation in (
        lambda: store.save(checkpoint(bad, realistic("x" * 700))),
        lambda: store.load(bad),
        lambda: store.delete(bad),
    ):
        with pytest.raises(CheckpointError) as info:
            operation()
        assert info.value.key == bad
    save_and_check(store, checkpoint("good", realistic("y" * 700)))
    other = kit.make(timeout=1.0) if kit.kind == "sqlite" else kit.make()
    save_and_check(other, checkpoint("also-good", realistic("z" * 700)))


def test_open_items_and_the_error_event_round_trip(store: Store) -> None:
    """What a resumed call needs beyond the snapshot comes back as saved (None when absent,
    as in records of earlier versions)."""
    error = {"type": "error", "sequence_number": 3, "error": {"code": "quota", "message": "m"}}
    saved = dataclasses.replace(
        checkpoint("extra", realistic("x" * 700)), open_items=[0, 2], error_event=error
    )
    store.save(saved)
    loaded = store.load("extra")
    assert loaded is not None and loaded.open_items == [0, 2] and loaded.error_event == error
    store.save(checkpoint("plain", realistic("y")))
    plain = store.load("plain")
    assert plain is not None and plain.open_items is None and plain.error_event is None


# ------------------------------------------------------------------------- Redis specifics


def test_redis_keys_of_another_type(redis_py: Any, redis_server: RedisServer) -> None:
    with RedisStore(redis_server.url, "wrongtype:") as store:
        save_and_check(store, checkpoint("k", realistic("x" * 700)))
        with redis_py.Redis.from_url(redis_server.url) as client:
            client.delete("wrongtype:{k}:seg:0")
            client.rpush("wrongtype:{k}:seg:0", b"x")  # a list where a segment string was
            before = {key: client.dump(key) for key in client.scan_iter(match="wrongtype:*")}
            with pytest.raises(CheckpointError) as info:
                store.load("k")
            assert isinstance(info.value.__cause__, redis_py.exceptions.ResponseError)
            # The save checks every key's type before it writes anything: nothing changed.
            with pytest.raises(CheckpointError, match="holds a list"):
                store.save(checkpoint("k", realistic("y" * 900)))
            after = {key: client.dump(key) for key in client.scan_iter(match="wrongtype:*")}
            assert after == before
        store.delete("k")
        save_and_check(store, checkpoint("k", realistic("z" * 900)))


def test_redis_server_killed_then_restarted(redis_py: Any, tmp_path: Path) -> None:
    with running_redis(tmp_path) as server:
        with RedisStore(server.url, timeout=1.0) as store:
            data = realistic("k" * 1000)
            save_and_check(store, checkpoint("k", data))
            server.kill()
            calls: List[Callable[[], object]] = [
                lambda: store.save(checkpoint("k", data)),
                lambda: store.load("k"),
                lambda: store.delete("k"),
            ]
            for call in calls:
                with pytest.raises(CheckpointError) as info:
                    call()
                assert isinstance(info.value.__cause__, redis_py.exceptions.RedisError)
                assert info.value.key == "k"
            server.start()  # same port, empty (no persistence)
            assert store.load("k") is None
            data["output"][1]["content"][0]["text"] += "after restart"
            save_and_check(store, checkpoint("k", data))


def test_redis_ttl_and_client_ownership(redis_py: Any, redis_server: RedisServer) -> None:
    prefix = f"ttl{uuid.uuid4().hex[:6]}:"
    with redis_py.Redis.from_url(redis_server.url) as client:
        with RedisStore(client, prefix, ttl=60) as store:
            save_and_check(store, checkpoint("k", realistic("x" * 600)))
            keys = list(client.scan_iter(match=f"{prefix}*"))
            assert len(keys) >= 2
            assert all(0 < client.pttl(k) <= 60_000 for k in keys)
        assert client.ping()  # a client given to the store stays open after close()
        with RedisStore(client, prefix) as store:
            save_and_check(store, checkpoint("k", realistic("x" * 600)))
            assert all(client.pttl(k) == -1 for k in client.scan_iter(match=f"{prefix}*"))
    with pytest.raises(ConfigurationError):
        RedisStore(redis_server.url, ttl=0)
    with pytest.raises(ConfigurationError):
        RedisStore(object())


def test_redis_store_without_redis_py(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis now raises ImportError
    with pytest.raises(ConfigurationError, match=r"responses-stream\[redis\]"):
        RedisStore("redis://127.0.0.1:1/0")


def test_redis_py_is_imported_only_when_used() -> None:
    code = (
        "import sys, responses_stream.checkpoints as c\n"
        "assert 'redis' not in sys.modules, 'imported too early'\n"
        "c.SQLiteStore(':memory:').close()\n"
        "assert 'redis' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr


def test_stats_start_at_zero(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        assert store.stats == CheckpointStats()
        store.save(checkpoint("k", realistic("x" * 300)))
        assert store.load("k") is not None
        assert store.stats.saves == store.stats.full_saves == store.stats.loads == 1
        assert store.stats.bytes_written >= 300 and store.stats.bytes_read >= 300
