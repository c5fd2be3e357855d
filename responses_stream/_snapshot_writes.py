"""How an event's values are written into the snapshot (``_accumulator``'s steps): fresh
copies of the objects an event carries, strings grown in place by deltas, and final texts that
replace them."""

from __future__ import annotations

from typing import Any, Callable, List, Optional, TypeVar

from .models import Model, OutputItem, output_item_from_dict

P = TypeVar("P", bound=Model)


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

    The partial parse kept for the old string (``_json_items.parsed_so_far``) goes with it:
    that parser only checks that a string grew, and a replacement may share its end.
    """
    if text is not None:
        attrs = obj.__dict__
        if attrs.get(attr) != text:
            attrs[attr] = text
            attrs.pop("_partial_" + attr, None)


def text_of(event: Any, key: str) -> Optional[str]:
    """A ``.done`` event's final text, which must be a string (or absent)."""
    value = event.__dict__.get(key)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{event.type}: {key} must be a string, got {type(value).__name__}")
    return value


__all__ = ["append", "final_text", "fresh", "fresh_items", "replace_text", "text_of"]
