"""How a checkpoint is cut into a small record and append-only segments, for the stores in
:mod:`responses_stream.checkpoints`. Pure: no I/O.

A snapshot's bulk is a few long strings that only grow while the response streams (message text,
function-call ``arguments``, reasoning summaries). Every string of at least
:data:`MIN_SEGMENT` characters anywhere in ``snapshot.to_dict()`` is cut out and stored as a
*segment* in a numbered *slot*; what is left, the *skeleton*, goes into the *record* together with
the checkpoint's metadata and the list of ``(slot, path)`` pairs that say where each segment goes
back. A save that knows what the key held (its :class:`KeyState`) writes the record, appends only
the new suffix of each segment that grew, and rewrites a segment that changed in any other way.

Segments are UTF-8 with ``surrogatepass``: a Python string assembled from deltas can hold a lone
surrogate (a pair split across two JSON escapes), which plain UTF-8 cannot encode. The record is
ASCII-only JSON for the same reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

__all__ = [
    "FORMAT",
    "MIN_SEGMENT",
    "CorruptCheckpoint",
    "KeyState",
    "SavePlan",
    "Segment",
    "SegmentWrite",
    "as_bytes",
    "decode",
    "decode_text",
    "encode_text",
    "plan_save",
]

FORMAT = 1
"""Version of the record layout; a record with another ``format`` is refused on load."""

MIN_SEGMENT = 256
"""Strings this long or longer become segments. Shorter ones stay in the skeleton: rewriting them
on every save costs at most this much per string, and keeps tiny strings out of the store's
segment rows/keys."""

PathPart = Union[str, int]
Path = Tuple[PathPart, ...]

# Checkpoint metadata kept in the record next to the skeleton, with the types load accepts.
_META_TYPES: Tuple[Tuple[str, Tuple[type, ...], bool], ...] = (
    ("key", (str,), False),
    ("response_id", (str,), False),
    ("sequence_number", (int,), True),
    ("status", (str,), True),
    ("updated_at", (int, float), False),
    ("open_items", (list,), True),  # not in records of earlier versions: None
    ("error_event", (dict,), True),
)


class CorruptCheckpoint(ValueError):
    """A stored record or segment cannot be turned back into a checkpoint."""


@dataclass
class Segment:
    """What a store last wrote in one slot: the full text and how many chunks hold it."""

    slot: int
    text: str
    chunks: int


@dataclass
class KeyState:
    """What one store instance last wrote for one key; trusted only while ``token`` matches."""

    token: str
    segments: Dict[Path, Segment]


@dataclass
class SegmentWrite:
    """One change to a slot: ``set`` (replace), ``append`` (chunk number ``seq``), ``delete``."""

    slot: int
    mode: str
    data: bytes = b""
    seq: int = 0


@dataclass
class SavePlan:
    """Everything one save writes, and the :class:`KeyState` to remember once it committed."""

    full: bool
    record: bytes
    writes: List[SegmentWrite]
    slots: int
    state: KeyState
    bytes_written: int = field(init=False)

    def __post_init__(self) -> None:
        self.bytes_written = len(self.record) + sum(len(w.data) for w in self.writes)


def encode_text(text: str) -> bytes:
    """A segment's bytes (UTF-8 that lets lone surrogates through)."""
    return text.encode("utf-8", "surrogatepass")


def as_bytes(value: Any) -> bytes:
    """A stored value as bytes: what the storage gave back, or :class:`CorruptCheckpoint`.

    Text is accepted too (a Redis client with ``decode_responses=True``, a hand-edited row).
    """
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return encode_text(value)
    raise CorruptCheckpoint(f"a stored value is a {type(value).__name__}, not bytes")


def decode_text(data: bytes) -> str:
    """The text of a segment's bytes; raises :class:`CorruptCheckpoint` on invalid UTF-8."""
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as exc:
        raise CorruptCheckpoint(f"a segment is not valid UTF-8: {exc}") from exc


def _cut(value: Any, path: Path, out: List[Tuple[Path, str]]) -> Any:
    """A copy of ``value`` with every long string replaced by ``None``; (path, string) to out."""
    if isinstance(value, str):
        if len(value) >= MIN_SEGMENT:
            out.append((path, value))
            return None
        return value
    if isinstance(value, dict):
        return {k: _cut(v, (*path, k), out) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut(v, (*path, i), out) for i, v in enumerate(value)]
    return value


def plan_save(
    meta: Mapping[str, Any],
    snapshot: Dict[str, Any],
    previous: Optional[KeyState],
    token: str,
) -> SavePlan:
    """Plan a save of ``snapshot`` (a ``to_dict()`` result; not modified).

    With ``previous`` (what the key holds now, verified by the caller) the plan is incremental;
    with ``None`` it rewrites every segment into slots ``0..n-1``. ``token`` is the new
    generation token written with the record. Raises :class:`CorruptCheckpoint` when the
    snapshot is not JSON data.
    """
    strings: List[Tuple[Path, str]] = []
    skeleton = _cut(snapshot, (), strings)
    segments: Dict[Path, Segment] = {}
    writes: List[SegmentWrite] = []
    if previous is None:
        for slot, (path, text) in enumerate(strings):
            segments[path] = Segment(slot, text, 1)
            writes.append(SegmentWrite(slot, "set", encode_text(text)))
    else:
        old = previous.segments
        taken = {old[path].slot for path, _ in strings if path in old}
        freed = {seg.slot for seg in old.values()} - taken
        next_free = 0
        for path, text in strings:
            seg = old.get(path)
            if seg is None:
                # A new long string (or one that moved): the lowest free slot keeps slot numbers
                # dense, so a store can find every slot from their count alone.
                while next_free in taken:
                    next_free += 1
                slot = next_free
                taken.add(slot)
                freed.discard(slot)
                segments[path] = Segment(slot, text, 1)
                writes.append(SegmentWrite(slot, "set", encode_text(text)))
            elif text.startswith(seg.text):
                if len(text) == len(seg.text):
                    segments[path] = seg
                else:
                    suffix = encode_text(text[len(seg.text) :])
                    writes.append(SegmentWrite(seg.slot, "append", suffix, seg.chunks))
                    segments[path] = Segment(seg.slot, text, seg.chunks + 1)
            else:
                # Not a growth (a .done event replaced it, the item changed): rewrite it whole.
                segments[path] = Segment(seg.slot, text, 1)
                writes.append(SegmentWrite(seg.slot, "set", encode_text(text)))
        writes.extend(SegmentWrite(slot, "delete") for slot in sorted(freed))
    record = {
        "format": FORMAT,
        **meta,
        "response": skeleton,
        "segments": [[seg.slot, list(path)] for path, seg in segments.items()],
    }
    try:
        data = json.dumps(record, separators=(",", ":")).encode("ascii")
    except (TypeError, ValueError) as exc:
        raise CorruptCheckpoint(f"the snapshot is not JSON data: {exc}") from exc
    slots = 1 + max((seg.slot for seg in segments.values()), default=-1)
    return SavePlan(previous is None, data, writes, slots, KeyState(token, segments))


def _fits(node: Any, part: Any) -> bool:
    """Whether ``part`` is an existing key of dict ``node`` or an index of list ``node``."""
    if isinstance(node, dict):
        return isinstance(part, str) and part in node
    return isinstance(node, list) and type(part) is int and 0 <= part < len(node)


def _put(skeleton: Dict[str, Any], path: Any, text: str) -> None:
    """Put a segment's text back at ``path``, where the skeleton holds its ``None``."""
    if not isinstance(path, list) or not path:
        raise CorruptCheckpoint(f"bad segment path {path!r}")
    node: Any = skeleton
    for part in path[:-1]:
        if not _fits(node, part):
            raise CorruptCheckpoint(f"segment path {path!r} does not fit the snapshot")
        node = node[part]
    last = path[-1]
    if not _fits(node, last) or node[last] is not None:
        raise CorruptCheckpoint(f"segment path {path!r} does not fit the snapshot")
    node[last] = text


def decode(record: bytes, segments: Mapping[int, bytes]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Rebuild ``(metadata, snapshot_dict)`` from a record and its segments' bytes by slot.

    Raises :class:`CorruptCheckpoint` for anything that does not fit: invalid JSON, another
    ``format``, metadata of the wrong type, a missing segment, a path that does not fit.
    """
    try:
        data = json.loads(record)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptCheckpoint(f"the record is not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CorruptCheckpoint("the record is not a checkpoint of a known format")
    meta: Dict[str, Any] = {}
    for name, types, optional in _META_TYPES:
        value = data.get(name)
        if not (
            (value is None and optional)
            or (isinstance(value, types) and not isinstance(value, bool))
        ):
            raise CorruptCheckpoint(f"the record's {name!r} is {value!r}")
        meta[name] = value
    if meta["open_items"] is not None and not all(type(i) is int for i in meta["open_items"]):
        raise CorruptCheckpoint(f"the record's 'open_items' is {meta['open_items']!r}")
    snapshot = data.get("response")
    places = data.get("segments")
    if not isinstance(snapshot, dict) or not isinstance(places, list):
        raise CorruptCheckpoint("the record has no snapshot")
    for place in places:
        if not (isinstance(place, list) and len(place) == 2 and isinstance(place[0], int)):
            raise CorruptCheckpoint(f"bad segment entry {place!r}")
        chunk = segments.get(place[0])
        if chunk is None:
            raise CorruptCheckpoint(f"segment {place[0]} is missing")
        _put(snapshot, place[1], decode_text(chunk))
    return meta, snapshot
