"""JSON conveniences shared by models and events, with dataclasses-json loaded on first use.

dataclasses-json (and marshmallow under it) costs ~60 ms to import; nothing on the streaming
path needs it, so it is imported only when ``to_json`` is called.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Type, TypeVar

J = TypeVar("J", bound="JsonMixin")


class JsonMixin:
    """``to_json`` / ``from_json`` on top of the class's own ``to_dict`` / ``from_dict``."""

    def to_dict(self, encode_json: bool = False) -> Dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def from_dict(cls: Type[J], kvs: Any, *, infer_missing: bool = False) -> J:  # pragma: no cover
        raise NotImplementedError

    def to_json(self, **kwargs: Any) -> str:
        """The object as a JSON string (``json.dumps`` keywords pass through).

        Values JSON cannot hold natively (datetime, Decimal, UUID, Enum) are encoded the way
        dataclasses-json does.
        """
        from dataclasses_json.core import _ExtendedEncoder

        kwargs.setdefault("cls", _ExtendedEncoder)
        kwargs.setdefault("ensure_ascii", False)
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls: Type[J], text: str) -> J:
        """Build an instance from a JSON string (the inverse of :meth:`to_json`)."""
        return cls.from_dict(json.loads(text))
