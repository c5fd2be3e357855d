"""Deterministic, realistic OpenAI Responses SSE streams for the benchmark server.

Everything here is pure and seeded, so the server (which renders the bytes) and the
runner (which only needs the expected delta count and length) agree without talking.

A scenario is named ``<variant>-<n>-<framing>[-p<gap_us>]``:

* ``variant``: ``text`` (word-like tokens), ``func`` (one function call whose JSON
  arguments arrive as ``n`` escape-heavy ``function_call_arguments.delta`` events) or
  ``cjk`` (CJK and emoji tokens, raw UTF-8 on the wire, ``ensure_ascii=False``).
* ``n``: the number of delta events.
* ``framing``: ``ev`` (chunked, one HTTP chunk per SSE event) or ``close`` (no
  Content-Length and no Transfer-Encoding; the body ends when the connection closes).
* ``-p<gap_us>``: paced mode. One event per ``send()`` with ``gap_us`` between deltas;
  each delta text is the server's ``time.perf_counter_ns()`` taken just before the
  send, zero-padded to :data:`STAMP_WIDTH` digits, so the client can compute latency.

Wire format matches the real API byte for byte in shape:
``event: <type>\\ndata: <compact json>\\n\\n``.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

VARIANTS = ("text", "func", "cjk")
FRAMINGS = ("ev", "close")

#: Width of the zero-padded ``perf_counter_ns()`` stamp used as delta text in paced mode.
STAMP_WIDTH = 19

#: Delta event types every contender counts.
TEXT_DELTA = "response.output_text.delta"
FUNC_DELTA = "response.function_call_arguments.delta"

_NAME_RE = re.compile(r"^(text|func|cjk)-(\d+)-(ev|close)(?:-p(\d+))?$")


@dataclass(frozen=True)
class Scenario:
    """One stream the server can produce."""

    variant: str
    n: int
    framing: str
    gap_us: Optional[int] = None  # None = bulk (whole body in one sendall)

    @property
    def name(self) -> str:
        base = f"{self.variant}-{self.n}-{self.framing}"
        return base if self.gap_us is None else f"{base}-p{self.gap_us}"

    @property
    def paced(self) -> bool:
        return self.gap_us is not None

    @classmethod
    def parse(cls, name: str) -> Scenario:
        m = _NAME_RE.match(name)
        if not m:
            raise ValueError(f"bad scenario name {name!r}")
        variant, n, framing, gap = m.groups()
        if variant == "func" and int(n) < 16:
            raise ValueError("func scenarios need n >= 16")
        return cls(variant, int(n), framing, None if gap is None else int(gap))


# --------------------------------------------------------------------------------------
# Token generation
# --------------------------------------------------------------------------------------

_WORDS = (
    "the of and to in is that for it as with was on be by this are from or an at which "
    "not have but all can more one has were their will also been its other than into "
    "model stream event token server client request response data value system time "
    "first would these there two most each many some could them only between over "
    "results first example function memory python process latency buffer parser text "
    "because through where after before should under while however using"
).split()
_PUNCT = [".", ",", ":", ";", "!", "?", "\n", "\n\n", '"', " (", ")", " -", "'s", " `", "`"]
_CJK = (
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学"
    "对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头"
    "面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情"
    "部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少"
    "关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安"
    "表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风"
    "战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连"
)
# Fullwidth comma, ideographic full stop/comma, fullwidth colon/!/?, corner brackets.
_CJK_PUNCT = ["\uff0c", "\u3002", "\u3001", "\uff1a", "\uff01", "\uff1f", "\u300c", "\u300d", "\n"]
_EMOJI = [
    "😀",
    "🚀",
    "👍",
    "👍🏽",
    "🎉",
    "🔥",
    "✅",
    "🇯🇵",
    "🇨🇳",
    "👨\u200d👩\u200d👧",
    "🧑\u200d💻",
    "❤️",
    "🙂",
    "🤖",
]
_CODE = (
    'def main(argv):\n\tpath = "C:\\\\Users\\\\bench\\\\data.json"\n'
    '\tprint("loaded \\"%s\\"\\n" % path)\n\tif not argv:\n\t\treturn {"ok": false}\n'
    '\tpattern = r\'\\d+\\s*"quoted"\'\n\treturn json.dumps({"a": [1, 2, "x\\ty"]})\n'
)
_FUNC_PREFIX = ["{", '"', "path", '":', '"', "src", "/app", ".py", '",', '"', "content", '":"']
_FUNC_SUFFIX = ['"}']


def make_deltas(variant: str, n: int, seed: int = 1234) -> List[str]:
    """Return the ``n`` delta strings of a bulk stream (1-8 characters each)."""
    rng = random.Random(f"{variant}-{n}-{seed}")
    out: List[str] = []
    if variant == "text":
        for _ in range(n):
            r = rng.random()
            if r < 0.78:
                tok = " " + rng.choice(_WORDS)
            elif r < 0.93:
                tok = rng.choice(_PUNCT)
            else:
                tok = " " + str(rng.randint(0, 99999))
            out.append(tok[:8])
    elif variant == "cjk":
        for _ in range(n):
            r = rng.random()
            if r < 0.70:
                k = rng.randint(1, 3)
                out.append("".join(rng.choice(_CJK) for _ in range(k)))
            elif r < 0.85:
                out.append(rng.choice(_EMOJI))
            else:
                out.append(rng.choice(_CJK_PUNCT))
    elif variant == "func":
        # Valid JSON arguments: {"path":"src/app.py","content":"<escaped code...>"}.
        # Each body token is the JSON-escaped form of 1-4 source characters, so the
        # concatenation is valid JSON and the wire is full of \\\" and \\\\n.
        n_body = n - len(_FUNC_PREFIX) - len(_FUNC_SUFFIX)
        out.extend(_FUNC_PREFIX)
        pos = 0
        for _ in range(n_body):
            k = rng.randint(1, 4)
            src = "".join(_CODE[(pos + i) % len(_CODE)] for i in range(k))
            pos += k
            out.append(json.dumps(src)[1:-1])
        out.extend(_FUNC_SUFFIX)
    else:
        raise ValueError(variant)
    return out


def expected(scenario: Scenario) -> Tuple[int, int]:
    """Return ``(delta event count, total delta length in characters)``."""
    if scenario.paced:
        return scenario.n, scenario.n * STAMP_WIDTH
    deltas = make_deltas(scenario.variant, scenario.n)
    return len(deltas), sum(map(len, deltas))


# --------------------------------------------------------------------------------------
# Event rendering
# --------------------------------------------------------------------------------------

_OBF_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _sse(obj: Dict[str, Any]) -> bytes:
    """Render one SSE event exactly as the API does (compact JSON, raw UTF-8)."""
    data = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return f"event: {obj['type']}\ndata: {data}\n\n".encode()


class StreamRenderer:
    """Builds the events of one response; shared by bulk and paced modes."""

    def __init__(self, variant: str, seed: int = 1234) -> None:
        self.variant = variant
        self.rng = random.Random(f"render-{variant}-{seed}")
        hx = "".join(self.rng.choice("0123456789abcdef") for _ in range(48))
        self.resp_id = "resp_0b" + hx
        self.item_id = ("fc_0b" if variant == "func" else "msg_0b") + hx[::-1]
        self.call_id = "call_" + "".join(self.rng.choice(_OBF_ALPHABET) for _ in range(24))
        self.created_at = 1758064478
        self.delta_type = FUNC_DELTA if variant == "func" else TEXT_DELTA

    # -- pieces ---------------------------------------------------------------------

    def _response(self, status: str, output: List[Any], usage: Any) -> Dict[str, Any]:
        tools: List[Any] = []
        if self.variant == "func":
            tools = [
                {
                    "type": "function",
                    "description": "Write a file to the workspace.",
                    "name": "write_file",
                    "parameters": {
                        "type": "object",
                        "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
                        "required": ["path", "content"],
                        "additionalProperties": False,
                    },
                    "strict": True,
                }
            ]
        return {
            "id": self.resp_id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": False,
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "max_output_tokens": None,
            "max_tool_calls": None,
            "model": "gpt-4o-mini-2024-07-18",
            "output": output,
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "prompt_cache_key": None,
            "reasoning": {"effort": None, "summary": None},
            "safety_identifier": None,
            "service_tier": "default" if status == "completed" else "auto",
            "store": True,
            "temperature": 1.0,
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": "auto",
            "tools": tools,
            "top_logprobs": 0,
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": usage,
            "user": None,
            "metadata": {},
        }

    def _item(self, status: str, full: str) -> Dict[str, Any]:
        if self.variant == "func":
            return {
                "id": self.item_id,
                "type": "function_call",
                "status": status,
                "arguments": full,
                "call_id": self.call_id,
                "name": "write_file",
            }
        content = []
        if status == "completed":
            content = [{"type": "output_text", "annotations": [], "logprobs": [], "text": full}]
        return {
            "id": self.item_id,
            "type": "message",
            "status": status,
            "content": content,
            "role": "assistant",
        }

    def head(self) -> List[bytes]:
        """Events before the first delta (sequence numbers 0..len-1)."""
        objs: List[Dict[str, Any]] = [
            {"type": "response.created", "response": self._response("in_progress", [], None)},
            {"type": "response.in_progress", "response": self._response("in_progress", [], None)},
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": self._item("in_progress", ""),
            },
        ]
        if self.variant != "func":
            objs.append(
                {
                    "type": "response.content_part.added",
                    "item_id": self.item_id,
                    "output_index": 0,
                    "content_index": 0,
                    "part": {"type": "output_text", "annotations": [], "logprobs": [], "text": ""},
                }
            )
        return [_sse(_with_seq(o, i)) for i, o in enumerate(objs)]

    def delta(self, seq: int, delta: str) -> bytes:
        """One delta event. The obfuscation field pads like the real API does."""
        obf_len = max(2, 16 - len(delta))
        obf = "".join(self.rng.choice(_OBF_ALPHABET) for _ in range(obf_len))
        obj: Dict[str, Any]
        if self.variant == "func":
            obj = {
                "type": FUNC_DELTA,
                "sequence_number": seq,
                "item_id": self.item_id,
                "output_index": 0,
                "delta": delta,
                "obfuscation": obf,
            }
        else:
            obj = {
                "type": TEXT_DELTA,
                "sequence_number": seq,
                "item_id": self.item_id,
                "output_index": 0,
                "content_index": 0,
                "delta": delta,
                "logprobs": [],
                "obfuscation": obf,
            }
        return _sse(obj)

    def tail(self, seq0: int, full: str, n_deltas: int) -> List[bytes]:
        """Events after the last delta; each of the last three repeats the full text."""
        item_done = self._item("completed", full)
        usage = {
            "input_tokens": 11,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": n_deltas,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 11 + n_deltas,
        }
        objs: List[Dict[str, Any]]
        if self.variant == "func":
            objs = [
                {
                    "type": "response.function_call_arguments.done",
                    "item_id": self.item_id,
                    "output_index": 0,
                    "arguments": full,
                }
            ]
        else:
            part = {"type": "output_text", "annotations": [], "logprobs": [], "text": full}
            objs = [
                {
                    "type": "response.output_text.done",
                    "item_id": self.item_id,
                    "output_index": 0,
                    "content_index": 0,
                    "text": full,
                    "logprobs": [],
                },
                {
                    "type": "response.content_part.done",
                    "item_id": self.item_id,
                    "output_index": 0,
                    "content_index": 0,
                    "part": part,
                },
            ]
        objs.append({"type": "response.output_item.done", "output_index": 0, "item": item_done})
        objs.append(
            {
                "type": "response.completed",
                "response": self._response("completed", [item_done], usage),
            }
        )
        return [_sse(_with_seq(o, seq0 + i)) for i, o in enumerate(objs)]


def _with_seq(obj: Dict[str, Any], seq: int) -> Dict[str, Any]:
    """Insert ``sequence_number`` right after ``type`` (the API's key order)."""
    out: Dict[str, Any] = {"type": obj["type"], "sequence_number": seq}
    out.update((k, v) for k, v in obj.items() if k != "type")
    return out


def render_events(scenario: Scenario) -> List[bytes]:
    """All events of a bulk scenario, in order, unframed."""
    r = StreamRenderer(scenario.variant)
    deltas = make_deltas(scenario.variant, scenario.n)
    head = r.head()
    seq = len(head)
    events = head
    for d in deltas:
        events.append(r.delta(seq, d))
        seq += 1
    events.extend(r.tail(seq, "".join(deltas), len(deltas)))
    return events


def frame_chunk(event: bytes) -> bytes:
    """Wrap one event as one HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(event), event)


CHUNKED_END = b"0\r\n\r\n"


def render_body(scenario: Scenario) -> bytes:
    """The complete, framed HTTP body of a bulk scenario."""
    events = render_events(scenario)
    if scenario.framing == "ev":
        return b"".join(map(frame_chunk, events)) + CHUNKED_END
    return b"".join(events)


@dataclass
class PacedTemplate:
    """Pre-rendered pieces of a paced stream; only the stamp is filled in at send time."""

    renderer: StreamRenderer
    head: List[bytes]
    delta_parts: List[Tuple[bytes, bytes]]  # (before stamp, after stamp) per delta


_STAMP_PLACEHOLDER = "0" * STAMP_WIDTH


def render_paced(scenario: Scenario) -> PacedTemplate:
    r = StreamRenderer(scenario.variant)
    head = r.head()
    parts: List[Tuple[bytes, bytes]] = []
    marker = b'"delta":"'
    for i in range(scenario.n):
        ev = r.delta(len(head) + i, _STAMP_PLACEHOLDER)
        at = ev.index(marker) + len(marker)
        parts.append((ev[:at], ev[at + STAMP_WIDTH :]))
    return PacedTemplate(r, head, parts)
