"""Saves a background stream's progress to a checkpoint store and picks it up again.

``client.stream(handler, checkpoint=store, key="job-42", background=True, ...)`` (and
``events()``, ``run()``) goes through a :class:`Durable`, which first loads ``key``:

* nothing saved: the response is created (the one POST) and a checkpoint is saved the moment
  its id arrives (``response.created``), before that event is delivered; then every
  ``checkpoint_every`` seconds and after the terminal event;
* a checkpoint: no POST. The response is resumed after the saved ``sequence_number``
  (``GET /responses/{id}?stream=true&starting_after=N``) onto the saved snapshot, after
  ``on_resume(response_id, N)``;
* a terminal checkpoint: no request at all. The saved final response is the result
  (a ``failed`` one raises :class:`~responses_stream.errors.ResponseFailedError`, as the
  stream that saved it did).

The delivery rule. A checkpoint at sequence number N is saved only once the events up to N
have been handled: the save runs when the consumer asks for the event after N, so the
handler's callbacks for N have returned. After a crash the next call delivers the events
after N. So events after the last saved checkpoint may be delivered again, each with its own
``sequence_number`` (a sink drops repeats by it); nothing up to N is delivered twice, and
nothing is skipped (the accumulator checks that the resumed stream continues at N + 1). The
first checkpoint, saved before anything is delivered, has ``sequence_number=None``: resuming
from it replays the stream from its start onto a fresh snapshot.

Cost. Without a checkpoint nothing here runs: the stream's per-event loop does not know this
module. With one, the stream's pairs pass through :meth:`Durable._saving`, which per event
compares the arrival time that the stream's loop records anyway (``meter.last_event_at``) with
the next save's time. A save writes only what the snapshot gained since the previous one (the
stores append to long strings), so its cost does not grow with the response.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Tuple, TypeVar, cast

from ._accumulator import Accumulator
from ._base import dump
from ._stream import Pair, StreamCore
from ._transport import attach
from .errors import CheckpointError, ConfigurationError, ResponsesStreamError
from .events import ErrorEvent, parse_event
from .structured import asks_for_json, bind_text_format

# The stores' module is loaded by the first call with a checkpoint: the client imports this
# module, and most programs never checkpoint.
if TYPE_CHECKING:
    from ._store_base import Checkpoint, CheckpointStore

__all__ = ["DEFAULT_EVERY", "Durable", "per_turn", "restore", "turn_key"]

DEFAULT_EVERY = 0.5
"""Seconds between two checkpoints of a stream (``checkpoint_every=``)."""

Reopen = Callable[[str, Optional[int]], StreamCore]
"""Opens ``GET /responses/{id}?stream=true[&starting_after=N]`` as a background stream."""

R = TypeVar("R")


def turn_key(key: str, turn: int) -> str:
    """The checkpoint key of turn ``turn`` of ``client.run(key=key)``: ``key`` for the first
    turn, ``key:turn-2`` and so on after it (each turn is a response of its own)."""
    return key if turn == 1 else f"{key}:turn-{turn}"


def per_turn(stream: Callable[..., R], checkpoint: Any, key: Any, every: float) -> Callable[..., R]:
    """``stream`` (``Client.stream``) for the tool loop: each call, one turn, is checkpointed
    under its turn's key (:func:`turn_key`), so a retried ``run()`` resumes the turn it was in
    and returns the finished ones from their checkpoints."""
    turns = itertools.count(1)

    def stream_turn(handler: Any = None, **request: Any) -> R:
        return stream(
            handler,
            checkpoint=checkpoint,
            key=turn_key(key, next(turns)),
            checkpoint_every=every,
            **request,
        )

    return stream_turn


class Durable:
    """The checkpoints of one call: where (``store``, ``key``) and how often (``every``)."""

    def __init__(self, store: CheckpointStore, key: str, every: float) -> None:
        self.store = store
        self.key = key
        self.every = every
        self._stream: Optional[StreamCore] = None
        self._saved: Optional[Tuple[Optional[int], Optional[str]]] = None  # what the store has
        self._fresh = False  # a new response: save as soon as its id is known

    @classmethod
    def configure(cls, checkpoint: Any, key: Any, every: Any, params: Any) -> Optional[Durable]:
        """The :class:`Durable` for a verb's keywords, ``None`` without ``checkpoint``; raises
        :class:`~responses_stream.ConfigurationError` for keywords that do not go together."""
        if isinstance(every, bool) or not isinstance(every, (int, float)) or not every >= 0:
            raise ConfigurationError(
                f"checkpoint_every must be a number of seconds >= 0, got {every!r}"
            )
        if checkpoint is None:
            if key is not None:
                raise ConfigurationError("key= names a checkpoint: pass checkpoint= too")
            return None
        from ._store_base import CheckpointStore

        if not isinstance(checkpoint, CheckpointStore):
            raise ConfigurationError(
                "checkpoint= takes a store with load, save and delete "
                f"(responses_stream.checkpoints), got {checkpoint!r}"
            )
        if params.get("background") is not True:
            raise ConfigurationError(
                "checkpoint= needs background=True: only a background response can be "
                "resumed by another process"
            )
        if not isinstance(key, str) or not key:
            raise ConfigurationError(
                f"checkpoint= needs key=, a non-empty string naming the job, got {key!r}"
            )
        try:
            key.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate: no store could write it
            raise ConfigurationError(f"key= must be valid text: {key!r} ({exc.reason})") from None
        return cls(checkpoint, key, float(every))

    # ------------------------------------------------------------------------------ opening

    def open(
        self,
        create: Callable[[], StreamCore],
        reopen: Reopen,
        call: Any,
        text_format: Optional[type],
    ) -> StreamCore:
        """The stream of this call: created (``create``, the POST) when the store has nothing
        under the key, resumed (``reopen``) from its checkpoint, or finished without a
        request when that checkpoint is terminal. ``call`` is the client's ``_Call`` (its
        ``on_resume`` callback and ``accumulate``)."""
        keep_output: bool = call.accumulate
        on_resume: Optional[Callable[[str, Optional[int]], None]] = call.on_resume
        saved = self._load()
        if saved is None:
            self._fresh = True
            return self._watch(create())
        self._saved = (saved.sequence_number, saved.status)
        if saved.terminal:
            return self._finished(saved, keep_output, text_format)
        if on_resume is not None:
            on_resume(saved.response_id, saved.sequence_number)
        stream = reopen(saved.response_id, saved.sequence_number)
        if saved.sequence_number is not None:
            # The events up to it are in the snapshot: the resumed stream continues it.
            stream.accumulator = restore(saved, keep_output=keep_output)
        # As for the request that created it (the response echoes its text format).
        text = saved.snapshot.__dict__.get("text")
        stream.json_output = text_format is not None or asks_for_json({"text": dump(text)})
        if text_format is not None:
            bind_text_format(stream.response, text_format)
        return self._watch(stream)

    def _load(self) -> Optional[Checkpoint]:
        loaded: Optional[Checkpoint] = self._use_store("load", self.key)
        return loaded

    def _use_store(self, action: str, argument: Any) -> Any:
        """``store.load(key)`` or ``store.save(checkpoint)``. A store of the user's own that
        raises something else than ``CheckpointError`` breaks the contract: it becomes one."""
        try:
            return getattr(self.store, action)(argument)
        except CheckpointError:
            raise
        except Exception as exc:
            raise CheckpointError(
                f"could not {action} checkpoint {self.key!r}: {exc}", key=self.key
            ) from exc

    def _watch(self, stream: StreamCore) -> StreamCore:
        self._stream = stream
        stream.wrap_pairs = self._saving
        return stream

    @staticmethod
    def _finished(saved: Checkpoint, keep_output: bool, text_format: Optional[type]) -> StreamCore:
        """A stream that delivers nothing: its response is the saved final one. A failed one
        raises what the stream that saved it raised (StreamError after an error event, else
        ResponseFailedError)."""
        snapshot = saved.snapshot
        if text_format is not None:
            bind_text_format(snapshot, text_format)
        stream = StreamCore(None, restore(saved, keep_output=keep_output))
        if saved.status == "failed":
            try:
                stream.raise_end("response.failed")
            except ResponsesStreamError as error:
                raise attach(error, stream) from None
        return stream

    # ------------------------------------------------------------------------------- saving

    def _saving(self, pairs: Iterator[Pair]) -> Iterator[Pair]:
        """``pairs``, saving checkpoints as the consumer goes: the per-event path."""
        stream = self._stream
        assert stream is not None
        meter = stream.meter
        due = -math.inf
        try:
            if self._fresh:
                for pair in pairs:
                    if stream.accumulator.response.id is None:
                        yield pair  # before response.created: a keep-alive, say
                        continue
                    # The response exists: record it before anything of it is delivered.
                    due = self._save(None)
                    yield pair
                    if meter.last_event_at >= due:  # checkpoint_every=0: after every event
                        due = self._save(stream.accumulator.last_sequence_number)
                    break
            for pair in pairs:
                yield pair
                # The consumer has handled the event: it may go into a checkpoint.
                if meter.last_event_at >= due:
                    due = self._save(stream.accumulator.last_sequence_number)
        except CheckpointError:
            raise  # a save above failed: the store keeps the previous checkpoint
        except ResponsesStreamError:
            # The stream ended with an error after its terminal event (response.failed):
            # that end is saved too, so a retry ends the same way without a request.
            if stream.accumulator.terminal is not None:
                self._save(stream.accumulator.last_sequence_number)
            raise
        finally:
            close = getattr(pairs, "close", None)
            if close is not None:
                close()  # closed early: the connection is let go now, not at collection
        self._save(stream.accumulator.last_sequence_number)

    def ended(self) -> None:
        """The response ended after its stream (a cancel, ``cancel_on_stop``): save that end."""
        if self._stream is not None:
            self._save(self._stream.accumulator.last_sequence_number)

    def _save(self, sequence_number: Optional[int]) -> float:
        """Save the snapshot as delivered up to ``sequence_number`` (unless the store has it
        already); returns when the next save is due: ``every`` seconds after the arrival of the
        last event saved (so ``checkpoint_every=0`` saves after every event)."""
        stream = self._stream
        assert stream is not None
        snapshot = stream.accumulator.response
        mark = (sequence_number, snapshot.status)
        if mark != self._saved and snapshot.id is not None:  # no id: nothing could resume it
            from ._store_base import Checkpoint  # loaded already: the store imported it

            acc = stream.accumulator
            error = acc.error_event
            checkpoint = Checkpoint.from_snapshot(
                self.key,
                snapshot,
                sequence_number,
                open_items=acc.open_items(),
                error_event=None if error is None else error.to_dict(),
            )
            self._use_store("save", checkpoint)
            self._saved = mark
        return stream.meter.last_event_at + self.every


def restore(saved: Checkpoint, *, keep_output: bool = True) -> Accumulator:
    """An accumulator that continues ``saved``: its snapshot, its cursor, and a resumed
    connection's checks (repeats up to the cursor dropped, a gap after it an error)."""

    snapshot = saved.snapshot
    accumulator = Accumulator(snapshot, keep_output=keep_output, open_items=saved.open_items)
    accumulator.last_sequence_number = saved.sequence_number
    accumulator.saw_output = bool(snapshot.output)
    if saved.error_event is not None:
        accumulator.error_event = cast(ErrorEvent, parse_event(saved.error_event))
    accumulator.resuming()
    return accumulator
