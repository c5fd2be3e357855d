"""PartialJSON (responses_stream/_partial_json.py): the incremental partial-JSON parser.

Two oracles: json.loads for the final value (and for accepting/rejecting a document), and a
small recursive reference below (`expected_partial`) that computes, from a prefix of a valid
document, exactly what the contract says the partial value must be. Hypothesis feeds many
documents (json.dumps with several options, plus a scrambled serializer with random
whitespace, escapes and number spellings) in arbitrary splits and compares after every delta.
"""

from __future__ import annotations

import copy
import json
import math
import platform
import re
import sys
import tracemalloc
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from responses_stream._partial_json import PartialJSON

# -- helpers ------------------------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Exact equality: types (True is not 1, 1 is not 1.0), float bits (NaN, -0.0), order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return repr(a) == repr(b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def consistent(partial: Any, final: Any) -> bool:
    """The contract's "never contradicts the final value" (documents without duplicate keys).

    Dict: its keys are the first keys of the final dict, all values complete but the last one's;
    list: a prefix, the last element possibly partial; string: a prefix; scalar: equal.
    """
    if isinstance(final, dict):
        if type(partial) is not dict:
            return False
        keys = list(partial)
        if keys != list(final)[: len(keys)]:
            return False
        return not keys or (
            all(same(partial[k], final[k]) for k in keys[:-1])
            and consistent(partial[keys[-1]], final[keys[-1]])
        )
    if isinstance(final, list):
        if type(partial) is not list or len(partial) > len(final):
            return False
        return not partial or (
            all(same(x, y) for x, y in zip(partial[:-1], final))
            and consistent(partial[-1], final[len(partial) - 1])
        )
    if isinstance(final, str):
        return type(partial) is str and final.startswith(partial)
    return same(partial, final)


# The reference for partial values: a recursive-descent parse of the *complete* valid
# document into nodes with positions, then "what has started / completed before `cut`".
_REF_WS = re.compile(r"[ \t\n\r]*")
_REF_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"', re.S)
_REF_SCALAR = re.compile(
    r"-?Infinity|NaN|true|false|null|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"
)
# One unit of string content: a surrogate pair escape (json.loads joins it), an escape, a char.
_REF_UNIT = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\.|.", re.S
)
_REF_HIGH = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}")
MISSING: Any = object()


class Node:
    def __init__(self, kind: str, start: int) -> None:
        self.kind = kind
        self.start = start
        self.end = start
        self.value: Any = None
        self.raw = ""
        self.items: List[Tuple[Optional[str], Node]] = []


def ref_parse(text: str, i: int = 0) -> Tuple[Node, int]:
    i = _REF_WS.match(text, i).end()  # type: ignore[union-attr]
    c = text[i]
    if c in "[{":
        node = Node("array" if c == "[" else "object", i)
        closer = "]" if c == "[" else "}"
        i = _REF_WS.match(text, i + 1).end()  # type: ignore[union-attr]
        while text[i] != closer:
            key = None
            if c == "{":
                m = _REF_STRING.match(text, i)
                assert m is not None
                key = json.loads(m.group(0))
                i = _REF_WS.match(text, m.end()).end()  # type: ignore[union-attr]
                assert text[i] == ":"
                i += 1
            child, i = ref_parse(text, i)
            node.items.append((key, child))
            i = _REF_WS.match(text, i).end()  # type: ignore[union-attr]
            if text[i] == ",":
                i = _REF_WS.match(text, i + 1).end()  # type: ignore[union-attr]
        node.end = i + 1
        return node, i + 1
    node = Node("string" if c == '"' else "scalar", i)
    m = (_REF_STRING if c == '"' else _REF_SCALAR).match(text, i)
    assert m is not None
    node.end = m.end()
    node.value = json.loads(m.group(0))
    if c == '"':
        node.raw = m.group(1)
    return node, node.end


def ref_partial(node: Node, cut: int) -> Any:
    if cut <= node.start:
        return MISSING
    if node.kind == "scalar":  # complete once the delimiter after it has been read
        return node.value if cut > node.end else MISSING
    if node.kind == "string":
        if cut >= node.end:
            return node.value
        units = []
        covered = cut - node.start - 1  # raw content characters fed so far
        for m in _REF_UNIT.finditer(node.raw):
            if m.end() > covered:
                break
            units.append(m.group(0))
        rest = covered - sum(map(len, units))
        # A lone high surrogate escape is held back until a complete escape (or anything
        # else) follows it: with only part of the next escape read, it may still pair.
        if units and _REF_HIGH.fullmatch(units[-1]) and rest < 6:
            units.pop()
        return "".join(json.loads('"' + u + '"') for u in units)
    out: Any = [] if node.kind == "array" else {}
    for key, child in node.items:
        value = ref_partial(child, cut)
        if value is MISSING:
            break
        if key is None:
            out.append(value)
        else:
            out[key] = value
    return out


def expected_partial(text: str, cut: int) -> Any:
    """What `value` must be after exactly text[:cut] of the valid document `text` was fed."""
    value = ref_partial(ref_parse(text)[0], cut)
    return None if value is MISSING else value


def pieces_at(text: str, cuts: Sequence[int]) -> List[str]:
    bounds = [0, *sorted(set(cuts) | {len(text)})]
    return [text[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


def check_valid(text: str, pieces: Sequence[str]) -> PartialJSON:
    """Feed a valid document; after every delta compare with the reference; then finish."""
    final = json.loads(text)
    pairs: List[List[str]] = []
    json.loads(text, object_pairs_hook=lambda kv: pairs.append([k for k, _ in kv]))
    unique_keys = all(len(set(keys)) == len(keys) for keys in pairs)
    p = PartialJSON()
    fed = 0
    for piece in pieces:
        p.feed(piece)
        fed += len(piece)
        assert p.error is None, (p.error, text)
        want = expected_partial(text, fed)
        assert same(p.value, want), (p.value, want, text[:fed])
        # None: the top-level value has not started (or is an incomplete scalar).
        assert p.value is None or not unique_keys or consistent(p.value, final)
    assert same(p.finish(), final)
    assert p.done and p.error is None
    return p


def check_agrees(text: str, pieces: Sequence[str]) -> None:
    """Any text: accepted and equal to json.loads, or rejected like json.loads (and the
    error message and partial value do not depend on how the text was split)."""
    p = PartialJSON()
    for piece in pieces:
        p.feed(piece)
    whole = PartialJSON()
    whole.feed(text)
    assert p.error == whole.error
    assert same(p.value, whole.value)
    try:
        expected = json.loads(text)
    except ValueError:
        with pytest.raises(ValueError):
            p.finish()
        assert p.error is not None
        assert not p.error.startswith("Internal"), p.error
    else:
        assert same(p.finish(), expected), (text, p.error)


def feed_each(pieces: Sequence[str]) -> Tuple[PartialJSON, List[Any]]:
    p = PartialJSON()
    seen = []
    for piece in pieces:
        p.feed(piece)
        seen.append(copy.deepcopy(p.value))
    return p, seen


# -- strategies --------------------------------------------------------------------------

SPECIAL_CHARS = '"\\/\b\f\n\r\t\x00\x1f\x7f\u2028\ud800\udbff\udc00\udfff\xe9\U0001f600\U0010ffff'
texts = st.text(
    st.one_of(st.characters(exclude_categories=()), st.sampled_from(SPECIAL_CHARS)), max_size=8
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
)
DUMPS_OPTIONS: List[Dict[str, Any]] = [
    {},
    {"ensure_ascii": False},
    {"indent": 2},
    {"indent": "\t", "ensure_ascii": False},
    {"separators": (",", ":")},
    {"separators": (" ,\r\n", " :\t"), "ensure_ascii": False},
    {"indent": 0, "separators": (",", ": ")},
]
SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f"}
SHORT_ESCAPES.update({"\n": "\\n", "\r": "\\r", "\t": "\\t"})


def u_escape(draw: Any, code: int) -> str:
    digits = f"{code:04x}"
    return "\\u" + (digits.upper() if draw(st.booleans()) else digits)


def scramble_string(draw: Any, s: str) -> str:
    out = ['"']
    for c in s:
        code = ord(c)
        options = []
        if c not in '"\\' and code >= 0x20:
            options.append(c)
        if c in SHORT_ESCAPES:
            options.append(SHORT_ESCAPES[c])
        if code <= 0xFFFF:
            options.append(u_escape(draw, code))
        else:
            code -= 0x10000
            options.append(
                u_escape(draw, 0xD800 + (code >> 10)) + u_escape(draw, 0xDC00 + (code & 0x3FF))
            )
        out.append(draw(st.sampled_from(options)))
    out.append('"')
    return "".join(out)


def scramble(draw: Any, value: Any) -> str:
    """Any valid JSON spelling of `value` (json.loads of it is the oracle, not `value`)."""

    def ws() -> str:
        return str(draw(st.text(" \t\n\r", max_size=2)))

    if isinstance(value, str):
        return scramble_string(draw, value)
    if isinstance(value, list):
        inner = ",".join(ws() + scramble(draw, v) + ws() for v in value)
        return "[" + (inner or ws()) + "]"
    if isinstance(value, dict):
        inner = ",".join(
            ws() + scramble_string(draw, k) + ws() + ":" + ws() + scramble(draw, v) + ws()
            for k, v in value.items()
        )
        return "{" + (inner or ws()) + "}"
    text = json.dumps(value)
    if isinstance(value, bool) or value is None:
        return text
    if isinstance(value, int) and draw(st.booleans()):
        text += draw(st.sampled_from([".0", "e0", "E+00", ".000e-0"]))
    return text.replace("e", "E") if draw(st.booleans()) else text


@st.composite
def documents(draw: Any) -> str:
    value = draw(json_values)
    if draw(st.booleans()):
        text = json.dumps(value, **draw(st.sampled_from(DUMPS_OPTIONS)))
    else:
        text = scramble(draw, value)
    padding = st.text(" \t\n\r", max_size=2)
    return str(draw(padding)) + text + str(draw(padding))


@st.composite
def splits(draw: Any, text: str) -> List[str]:
    if len(text) <= 60 and draw(st.integers(0, 3)) == 0:
        return list(text)  # one character per delta
    return pieces_at(text, draw(st.lists(st.integers(0, len(text)), max_size=30)))


JSONISH = '{}[],:"\\ \t\n0123456789-+.eEtrufalsnNIiyx/b\x01\ud83d\ude00'
SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- properties --------------------------------------------------------------------------


@pytest.mark.slow
@SETTINGS
@given(st.data())
def test_any_document_in_any_split_matches_the_reference_after_every_delta(data: Any) -> None:
    text = data.draw(documents())
    check_valid(text, data.draw(splits(text)))


@pytest.mark.slow
@SETTINGS
@given(st.data())
def test_damaged_documents_are_rejected_exactly_when_json_loads_rejects_them(data: Any) -> None:
    text = data.draw(documents())
    n = len(text)
    k = data.draw(st.integers(0, n - 1))
    kind = data.draw(st.sampled_from(["truncate", "replace", "insert", "delete", "append"]))
    char = data.draw(st.sampled_from(JSONISH))
    if kind == "truncate":
        text = text[:k]
    elif kind == "replace":
        text = text[:k] + char + text[k + 1 :]
    elif kind == "insert":
        text = text[:k] + char + text[k:]
    elif kind == "delete":
        text = text[:k] + text[k + 1 :]
    else:
        text += data.draw(st.text(JSONISH, min_size=1, max_size=3))
    check_agrees(text, data.draw(splits(text)))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_arbitrary_text_agrees_with_json_loads(data: Any) -> None:
    text = data.draw(st.text(st.sampled_from(JSONISH), max_size=24) | st.text(max_size=12))
    check_agrees(text, data.draw(splits(text)))


# -- the rules, one example each ------------------------------------------------------------


def test_nothing_before_the_value_starts() -> None:
    p = PartialJSON()
    assert p.value is None and not p.done and p.error is None
    p.feed(" \n\t\r ")
    assert p.value is None and not p.done and p.error is None


def test_a_key_appears_only_once_its_number_is_complete() -> None:
    _, seen = feed_each(['{"a": 1', "2", "3.5", " ", ', "b": -', "4e", "1", "}"])
    assert seen[:-1] == [{}, {}, {}, {"a": 123.5}, {"a": 123.5}, {"a": 123.5}, {"a": 123.5}]
    assert same(seen[-1], {"a": 123.5, "b": -40.0})


def test_literals_appear_only_once_a_delimiter_follows() -> None:
    _, seen = feed_each(["[t", "ru", "e", ",", " nu", "ll", "]"])
    assert seen == [[], [], [], [True], [True], [True], [True, None]]
    _, seen = feed_each(['{"x": fals', "e", "}"])
    assert seen == [{}, {}, {"x": False}]


def test_a_scalar_followed_by_garbage_never_appears() -> None:
    cases: List[Tuple[str, Any]] = [("[1x", []), ('{"a": truex', {}), ("[nullx", []), ("-1x", None)]
    for text, value in cases:
        for pieces in ([text], list(text)):
            p, _ = feed_each(pieces)
            assert p.error is not None and p.value == value, (text, p.value)


def test_strings_appear_at_the_opening_quote_and_grow() -> None:
    _, seen = feed_each(['{"s', '": ', '"', "ab", "c", '"', "}"])
    assert seen == [{}, {}, {"s": ""}, {"s": "ab"}, {"s": "abc"}, {"s": "abc"}, {"s": "abc"}]
    _, seen = feed_each(['["', "x", '", "', "y"])
    assert seen == [[""], ["x"], ["x", ""], ["x", "y"]]


def test_a_key_waits_for_its_value_to_start() -> None:
    _, seen = feed_each(['{"outer": {"k', "ey", '"', ": ", "[", "]}}"])
    assert seen == [
        {"outer": {}},
        {"outer": {}},
        {"outer": {}},
        {"outer": {}},
        {"outer": {"key": []}},
        {"outer": {"key": []}},
    ]


def test_containers_appear_at_their_bracket() -> None:
    _, seen = feed_each(["[", "{", '"a": [', "[", "]", "]", "}", "]"])
    assert seen == [[], [{}], [{"a": []}], [{"a": [[]]}]] + [[{"a": [[]]}]] * 4


def test_array_elements_follow_the_same_rules() -> None:
    _, seen = feed_each(["[1", ", 2", ",", ' "', "q", '", null', "]"])
    assert seen == [[], [1], [1, 2], [1, 2, ""], [1, 2, "q"], [1, 2, "q"], [1, 2, "q", None]]


def test_top_level_scalars_complete_at_whitespace_or_finish() -> None:
    p = PartialJSON()
    p.feed("4")
    p.feed("2")
    assert (p.value, p.done) == (None, False)
    assert p.finish() == 42
    assert p.done
    p = PartialJSON()
    p.feed("-1.5e3\n")
    assert same(p.value, -1500.0) and p.done
    p = PartialJSON()
    p.feed("tr")
    p.feed("ue")
    assert (p.value, p.done) == (None, False)
    assert p.finish() is True
    p = PartialJSON()
    p.feed('"ab')
    assert (p.value, p.done) == ("ab", False)
    p.feed('c"')
    assert (p.value, p.done) == ("abc", True)


def test_containers_grow_in_place() -> None:
    p = PartialJSON()
    p.feed('{"a": [1, ')
    d = p.value
    inner = d["a"]
    p.feed('2], "b": {"c": "x')
    p.feed('y"}}')
    assert p.value is d and d["a"] is inner
    assert d == {"a": [1, 2], "b": {"c": "xy"}}
    assert p.finish() is d


@pytest.mark.skipif(platform.python_implementation() != "CPython", reason="refcounts")
def test_a_growing_string_is_referenced_only_by_its_container() -> None:
    # CPython appends in place only to a string nobody else references; a reference kept
    # by the parser would make every delta copy the whole string (quadratic).
    class Holder:
        s: Any = None

    holder = Holder()
    holder.s = "".join(["ab", "cd"])
    in_dict = {"k": "".join(["ab", "cd"])}
    in_list = ["".join(["ab", "cd"])]
    cases: List[Tuple[str, Callable[[Any], Any], Callable[[], int]]] = [
        ('{"k": "ab', lambda v: v["k"], lambda: sys.getrefcount(in_dict["k"])),
        ('[1, "ab', lambda v: v[-1], lambda: sys.getrefcount(in_list[-1])),
        ('"ab', lambda v: v, lambda: sys.getrefcount(holder.s)),
    ]
    for start, read, baseline in cases:
        p = PartialJSON()
        p.feed(start)
        for piece in ["cd", "\\nef", "gh\\u00e9", "\\ud83d", "\\ude00ij"]:
            p.feed(piece)
            # Counted outside the assert: pytest's rewriting would keep its own reference.
            count = sys.getrefcount(read(p.value))
            assert count == baseline(), start
        assert read(p.value) == "abcd\nefgh\xe9\U0001f600ij"


@pytest.mark.skipif(
    platform.python_implementation() != "CPython" or sys.gettrace() is not None,
    reason="CPython's in-place str append (a tracer, e.g. coverage, turns it off on 3.11)",
)
def test_a_growing_string_is_extended_in_place() -> None:
    # Not timing but memory: appending to a copy needs the old and the new string at once,
    # so the traced peak rises by the string's size; an in-place append (realloc) does not.
    size = 400_000
    cases: List[Tuple[str, Callable[[Any], Any]]] = [
        ('{"k": "', lambda v: v["k"]),
        ('[1, "', lambda v: v[-1]),
        ('"', lambda v: v),
    ]
    for start, read in cases:
        tracemalloc.start()
        try:
            p = PartialJSON()
            p.feed(start)
            p.feed("x" * size)
            for _ in range(200):  # also lets CPython specialise the `s += piece` in place
                p.feed("y" * 10)
                read(p.value)
            tracemalloc.reset_peak()
            for _ in range(200):
                p.feed("z\\\\" * 5)  # JSON z\\ (decoded: z and a backslash)
                read(p.value)
            current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert p.error is None and len(read(p.value)) == size + 4000
        assert peak - current < size // 2, (start, peak - current)


def test_equals_json_loads_on_the_hard_cases() -> None:
    cases = [
        '{"a": 1, "b": 2, "a": 3}',  # duplicate keys: last value wins, first position
        "123456789012345678901234567890123456789",
        "[1E400, -1e400, 1e-400, -0.0, -0, 0.5, 1e5, 1E+2, 10]",
        "[NaN, Infinity, -Infinity]",
        '"\\ud83d\\ude00 \\uD83D\\uDE00 \\ud800 \\udc00 \\ud800\\u0041 \\ud800\\ud800\\udc00"',
        '"\ud800\udc00 raw surrogates \\ud800\udc00 escape then raw"',
        '"\\"\\\\\\/\\b\\f\\n\\r\\t\u2028\x7f"',
        ' \t\n\r{ "a" : [ ] , "b" : { } } \t\n\r',
        "[[[[[]]]], {}]",
    ]
    for text in cases:
        check_valid(text, [text])
        check_valid(text, list(text))


def test_json_loads_number_limits_are_kept() -> None:
    # On Python >= 3.11 json.loads rejects ints of more than 4300 digits: so must we.
    for text in ["1" * 5000, "[" + "9" * 4300 + "]", "0." + "0" * 5000 + "1"]:
        check_agrees(text, [text])
        check_agrees(text, list(text))


def test_tokens_split_at_every_position() -> None:
    text = (
        '{"k\\u00e9y\\ud83d\\ude00": [true, false, null, NaN, -Infinity, Infinity, '
        '-12.5e-3, 0, "\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\ud83d\\ude00\\ud83d\\u0041\\udc00"], '
        '"": {"x": 1E400}} '
    )
    check_valid(text, list(text))
    for cut in range(len(text) + 1):
        check_valid(text, pieces_at(text, [cut]))


def test_a_split_surrogate_pair_is_never_shown_half() -> None:
    _, seen = feed_each(['"a\\ud83d', "\\ud", "e00", 'b"'])
    assert seen == ["a", "a", "a\U0001f600", "a\U0001f600b"]
    _, seen = feed_each(['"a\\ud83d', '"'])  # a lone high surrogate, as json.loads keeps it
    assert seen == ["a", "a\ud83d"]
    _, seen = feed_each(['"a\\ud83d', "\\u0", "041", '"'])
    assert seen == ["a", "a", "a\ud83dA", "a\ud83dA"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "[1,]",
        "[1 2]",
        "[,1]",
        '{"a" 1}',
        '{"a":}',
        '{"a":1,}',
        "{1: 2}",
        "{'a': 1}",
        '{"a"}',
        "01",
        "1.",
        ".5",
        "+1",
        "-",
        "--1",
        "1e",
        "1e+",
        "0x10",
        "tru",
        "truex",
        "nul",
        "nan",
        "inf",
        "-NaN",
        "-Infinit",
        '"a\nb"',
        '"a\x00"',
        '"\\x"',
        '"\\u12G4"',
        '"\\u12"',
        '"abc',
        "\ufeff[]",
        '{"a": 1}x',
        '{"a": 1} {}',
        "[] []",
        "1 2",
        '"a" "b"',
        "[[]",
        "]",
        "}",
    ],
)
def test_invalid_documents_set_error_and_feed_never_raises(text: str) -> None:
    check_agrees(text, [text])
    check_agrees(text, list(text))
    with pytest.raises(ValueError):
        json.loads(text)  # the list above is really invalid


def test_error_stops_parsing_and_keeps_the_last_consistent_value() -> None:
    p = PartialJSON()
    p.feed('{"a": [1, "xy')
    p.feed('z", 2 3], "b": 1}')
    assert p.error is not None and "Expecting ',' delimiter" in p.error
    assert p.value == {"a": [1, "xyz", 2]}
    error = p.error
    p.feed('"more"]')
    assert p.error == error and p.value == {"a": [1, "xyz", 2]}
    with pytest.raises(ValueError, match="Expecting ','"):
        p.finish()


def test_finish_is_idempotent_and_input_after_it_is_an_error() -> None:
    p = PartialJSON()
    p.feed("[1]")
    assert p.finish() == [1]
    assert p.finish() == [1]
    p.feed(" ")
    assert p.error is not None and "after finish" in p.error
    p = PartialJSON()
    p.feed("[1")
    with pytest.raises(ValueError, match="Incomplete"):
        p.finish()
    assert p.error is not None and "Incomplete" in p.error
    with pytest.raises(ValueError, match="Incomplete"):
        p.finish()


def test_error_positions_are_character_offsets() -> None:
    for text, pos in [("[1,]", 3), ('{"a": 1}x', 8), ('"ab\\x"', 3), ("[01]", 1)]:
        p = PartialJSON()
        for c in text:
            p.feed(c)
        assert p.error is not None and p.error.endswith(f"at character {pos}"), p.error


def test_deep_nesting_does_not_recurse() -> None:
    depth = 100_000
    for opening, middle, closing in [("[", "", "]"), ('{"a":', "null", "}")]:
        text = opening * depth + middle + closing * depth
        p = PartialJSON()
        for k in range(0, len(text), 4093):
            p.feed(text[k : k + 4093])
        node = p.finish()
        levels = 0
        while isinstance(node, (list, dict)) and node:
            node = node[0] if isinstance(node, list) else node["a"]
            levels += 1
        assert levels == (depth - 1 if middle == "" else depth)
        assert p.done and p.error is None


def test_specials_are_json_loads_own_objects() -> None:
    p = PartialJSON()
    p.feed("[NaN, Infinity, -Infinity]")
    value = p.finish()
    assert math.isnan(value[0]) and value[1] == math.inf and value[2] == -math.inf
    assert value == json.loads("[NaN, Infinity, -Infinity]")  # NaN: same object, so equal
