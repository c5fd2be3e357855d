"""How an event's values are written into the snapshot (``_accumulator``'s steps): fresh
copies of the objects an event carries, strings grown in place by deltas, and final texts that
replace them."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Type, TypeVar

from .errors import ProtocolError
from .models import Model, OutputItem, output_item_from_dict

P = TypeVar("P", bound=Model)


MAX_PART_GAP = 256
"""How many parts an index may skip (placeholders fill them): past that, a ProtocolError."""


def parts_of(item: Any, attr: str) -> List[Any]:
    """``item.<attr>``, the list of its parts, made empty if it has none yet."""
    parts: Optional[List[Any]] = item.__dict__.get(attr)
    if parts is None:
        parts = item.__dict__[attr] = []
    return parts


def padded(parts: List[Any], index: int, cls: Type[Any]) -> Any:
    """A new ``cls`` part at ``index``, past the end of ``parts``: the parts before it that
    were not announced get their places, so their deltas, when they come, land there."""
    if index - len(parts) > MAX_PART_GAP:
        raise ProtocolError(f"{cls.TYPE} part index {index} is far past the {len(parts)} so far")
    parts.extend(cls.from_wire({"type": cls.TYPE}) for _ in range(len(parts), index))
    part = cls.from_wire({"type": cls.TYPE})
    parts.append(part)
    return part


def beside(parts: List[Any], index: int, cls: Type[Any], moved: Dict[Any, Any]) -> Any:
    """The ``cls`` part for ``index``, which holds a part of another type: an empty one (a
    placeholder) gives way; one with content stays, and a new part goes after the others,
    where every later event of its type for ``index`` finds it (``moved`` keeps it)."""
    there = parts[index]
    fields = there if isinstance(there, dict) else vars(there)  # a part of an unknown type
    if not any(value for key, value in fields.items() if key != "type"):
        part = parts[index] = cls.from_wire({"type": cls.TYPE})
        return part
    key = (id(parts), index, cls)
    if key not in moved:
        moved[key] = cls.from_wire({"type": cls.TYPE})
        parts.append(moved[key])
    return moved[key]


def fresh(event: Any, key: str, build: Callable[[Any], Any]) -> Any:
    """A new snapshot object for ``event.<key>``, sharing nothing mutable with the event."""
    raw = event.__dict__.get("_raw")
    if raw is not None:
        value = raw.get(key)
        return None if value is None else build(value)
    value = getattr(event, key, None)
    if value is None:
        return None
    return build(value.to_dict() if isinstance(value, Model) else dict(value))


def fresh_items(event: Any) -> List[OutputItem]:
    """New snapshot items for the output of a lifecycle event's response."""
    raw = event.__dict__.get("_raw")
    payload = raw.get("response") if raw is not None else event.response.to_dict()
    return [output_item_from_dict(item) for item in payload.get("output") or []]


def id_of(item: Any) -> Optional[str]:
    """An output item's ``id`` when it has a string one (a typed item or a raw dict)."""
    item_id = item.get("id") if isinstance(item, dict) else item.__dict__.get("id")
    return item_id if isinstance(item_id, str) else None


def update_in_place(old: Any, new: Any) -> Any:
    """``old`` made ``new`` (so objects the caller holds stay current) when both are models of
    one type; else ``new``."""
    if old is not None and type(old) is type(new) and not isinstance(new, dict):
        old.__dict__.clear()
        old.__dict__.update(new.__dict__)
        return old
    return new


def fill_missing(old: Any, new: Any) -> Any:
    """``old`` with every field it lacks (or holds as None) taken from ``new``; ``old``."""
    fields = old.__dict__
    for key, value in new.__dict__.items():
        if fields.get(key) is None:
            fields[key] = value
    return old


_KEPT_WHEN_EMPTIED = ("text", "refusal", "logprobs")


def updated_part(old: Any, new: Any) -> Any:
    """``old`` made ``new`` (:func:`update_in_place`), but streamed text, refusal and logprobs
    that ``new`` gives as empty stay: OpenAI's ``content_part.done`` carries ``"logprobs": []``
    after an ``output_text.done`` that carried them, and some proxies send empty finals."""
    kept = {}
    if not isinstance(old, dict) and not isinstance(new, dict):
        fields = old.__dict__
        kept = {key: fields[key] for key in _KEPT_WHEN_EMPTIED if fields.get(key)}
    part = update_in_place(old, new)
    for key, value in kept.items():
        if part.__dict__.get(key) in ("", []):
            part.__dict__[key] = value
    return part


def put_part(parts: List[Any], index: int, part: Any, moved: Dict[Any, Any]) -> Any:
    """A whole ``part`` (``content_part.added``/``.done``) put at ``index`` of ``parts``:
    onto the part there (:func:`updated_part`), beside one of another type
    (:func:`beside`), or after the others; the part now in the snapshot."""
    if not 0 <= index < len(parts):
        parts.append(part)
        return part
    old = parts[index]
    if type(old) is type(part) or isinstance(old, dict) or isinstance(part, dict):
        parts[index] = part = updated_part(old, part)
        return part
    return update_in_place(beside(parts, index, type(part), moved), part)


def index_of(by_index: Mapping[float, Any], item: Any, default: Optional[float]) -> Any:
    """The index ``item`` (that very object) is kept under in ``by_index``, else ``default``."""
    return next((index for index, there in by_index.items() if there is item), default)


def merge_output(
    new_output: List[OutputItem], by_id: Dict[str, Any], by_index: Mapping[float, Any]
) -> Tuple[List[OutputItem], List[OutputItem]]:
    """A terminal payload's output merged into the streamed items (``by_id``/``by_index``):
    the output, each streamed item updated in place, and the items that matched none.

    A new item updates the streamed item with its id, else the one streamed at its
    ``output_index`` (unless that one is found by its id elsewhere in the output: OpenRouter
    changes ids before the end, so position is the fallback).
    """
    new_ids = {id_of(item) for item in new_output} - {None}
    taken: Dict[int, bool] = {}
    merged: List[OutputItem] = []
    fresh: List[OutputItem] = []
    for index, item in enumerate(new_output):
        item_id = id_of(item)
        old = by_id.get(item_id) if item_id is not None else None
        if old is None:
            old = by_index.get(index)
            if old is not None and id_of(old) in new_ids and id_of(old) != item_id:
                old = None  # it is that other item's
        if old is not None and id(old) in taken:
            old = None
        updated = update_in_place(old, item)
        if updated is old:
            taken[id(old)] = True
        else:
            fresh.append(updated)
        merged.append(updated)
    return merged, fresh


def append(obj: Model, attr: str, delta: Any) -> str:
    """Append ``delta`` to a string attribute without copying the whole string each time.

    A delta that is not a string raises ``TypeError`` (``str + int``), before anything changes.
    """
    attrs = obj.__dict__
    text = attrs.get(attr) or ""
    attrs[attr] = None  # drop our reference so CPython may grow the string in place
    try:
        text += delta if delta is not None else ""
    finally:
        attrs[attr] = text
    return text


def final_text(part: P, event: Any, key: str) -> P:
    """A ``.done`` event's text replaces what the deltas built in ``part`` (when it has one)."""
    replace_text(part, key, text_of(event, key))
    return part


def replace_text(obj: Model, attr: str, text: Optional[str]) -> None:
    """``obj.<attr> = text`` (unless None): a final value in place of what the deltas built.

    An empty final leaves what the deltas built: no server streams text and then means none
    (some proxies send ``""`` in every ``.done``). The partial parse kept for the old string
    (``_json_items.parsed_so_far``) goes with a replaced one: that parser only checks that a
    string grew, and a replacement may share its end.
    """
    if text is not None:
        attrs = obj.__dict__
        if attrs.get(attr) != text and (text or not attrs.get(attr)):
            attrs[attr] = text
            attrs.pop("_partial_" + attr, None)


def text_of(event: Any, key: str) -> Optional[str]:
    """A ``.done`` event's final text, which must be a string (or absent)."""
    value = event.__dict__.get(key)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{event.type}: {key} must be a string, got {type(value).__name__}")
    return value


__all__ = [
    "MAX_PART_GAP",
    "append",
    "beside",
    "fill_missing",
    "final_text",
    "fresh",
    "fresh_items",
    "id_of",
    "index_of",
    "merge_output",
    "padded",
    "parts_of",
    "put_part",
    "replace_text",
    "text_of",
    "update_in_place",
    "updated_part",
]
