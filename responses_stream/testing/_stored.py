"""Responses a :class:`~responses_stream.testing.MockServer` has served, kept for its
retrieve, resume and cancel routes."""

import copy
import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

_JSONDict = Dict[str, Any]


_LINE = re.compile(rb"\r\n|\r|\n")


def _payload(chunk: bytes) -> Optional[_JSONDict]:
    """The JSON object in one SSE block's ``data:`` lines, or ``None`` (comments, ``[DONE]``)."""
    data = [line[5:] for line in _LINE.split(chunk) if line.startswith(b"data:")]
    if not data:
        return None
    text = b"\n".join(d[1:] if d.startswith(b" ") else d for d in data)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # served as it is; only valid events are indexed
        return None
    return value if isinstance(value, dict) else None


@dataclass
class _Stored:
    """A response the server has seen, kept for retrieve, resume and cancel."""

    events: List[Tuple[float, bytes, Optional[_JSONDict]]]
    cancelled: bool = False

    @classmethod
    def index(cls, chunks: Sequence[bytes]) -> Tuple[Optional[str], "_Stored"]:
        # Each block gets its sequence_number (or its position among JSON events). A block
        # without JSON (a comment, [DONE]) sorts just after the block before it.
        entries: List[Tuple[float, bytes, Optional[_JSONDict]]] = []
        position, previous, response_id = 0, -1.0, None
        for chunk in chunks:
            payload = _payload(chunk)
            if payload is None:
                seq = previous + 0.5
            else:
                number = payload.get("sequence_number")
                seq = float(number) if isinstance(number, int) else float(position)
                position += 1
                response = payload.get("response")
                if response_id is None and isinstance(response, dict):
                    rid = response.get("id")
                    response_id = rid if isinstance(rid, str) else None
            entries.append((seq, chunk, payload))
            previous = seq
        return response_id, cls(entries)

    def latest(self) -> _JSONDict:
        """The newest response object in the stream (status ``cancelled`` once cancelled)."""
        response: _JSONDict = {}
        for _, _, payload in self.events:
            if payload is not None and isinstance(payload.get("response"), dict):
                response = payload["response"]
        response = copy.deepcopy(response)
        if self.cancelled:
            response["status"] = "cancelled"
        return response
