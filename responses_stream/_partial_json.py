"""Incremental parser for a JSON document that arrives in many small pieces.

Used while a model streams a function call's JSON arguments (or a structured output) as
deltas: :class:`PartialJSON` consumes each delta once and keeps its state, so the arguments
parsed so far are available as Python values after every delta at a total cost linear in
the bytes received. Re-parsing the whole snapshot on every delta (what jiter's partial mode,
pydantic-ai and the AI SDK's ``parsePartialJson`` do) costs time quadratic in the length.

The finished value is exactly what :func:`json.loads` returns for the same text, and the
parser rejects whatever :func:`json.loads` rejects, with one deliberate difference: nesting
depth is unlimited (an explicit stack, no recursion), where :func:`json.loads` raises
:class:`RecursionError` beyond about a thousand levels.
"""

from __future__ import annotations

import re
from json.decoder import NaN, NegInf, PosInf  # type: ignore[attr-defined]
from json.decoder import scanstring as _c_scanstring  # type: ignore[attr-defined]
from typing import Any, Callable, Dict, List, Optional, Tuple, cast

__all__ = ["PartialJSON"]

# The C string scanner behind json.loads: decoding escapes with it (rather than in Python)
# is both faster and bit-for-bit json.loads (surrogate pairs joined, lone ones kept).
_scanstring: Callable[[str, int, bool], Tuple[str, int]] = _c_scanstring

# Patterns that match the empty string always match: typed so, without a None check.
_Scan = Callable[[str, int], "re.Match[str]"]
_WS = cast(_Scan, re.compile(r"[ \t\n\r]*").match)
# String content up to the next quote, control character, or incomplete/invalid escape.
# Unrolled (plain run, then escape + plain run, repeated) so the engine never backtracks.
_STR_RUN = cast(
    _Scan,
    re.compile(r'[^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*').match,
)
# What may still become a valid escape once more input arrives.
_ESC_PREFIX = re.compile(r"\\(?:u[0-9a-fA-F]{0,3})?").fullmatch
_NUM_RUN = cast(_Scan, re.compile(r"[-+.eE0-9]*").match)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?").fullmatch
# json.loads returns these very objects for NaN/Infinity/-Infinity, so a parsed [NaN]
# compares equal to json.loads' list (list equality tries identity first).
_LITERALS: Dict[str, Tuple[str, Any]] = {
    "t": ("true", True),
    "f": ("false", False),
    "n": ("null", None),
    "N": ("NaN", NaN),
    "I": ("Infinity", PosInf),
    "-": ("-Infinity", NegInf),
}

# Parser states (ints: compared on every token of the hot loop). Those up to _AFTER skip
# whitespace before their next token; the loop relies on that order.
_VALUE = 0  # a value is required: top level, after ':' or after ',' in an array
_ARR_FIRST = 1  # just after '[': a value or ']'
_OBJ_FIRST = 2  # just after '{': a key or '}'
_OBJ_KEY = 3  # after ',' in an object: a key
_COLON = 4
_AFTER = 5  # after a complete value: ',' or a closing bracket, or only whitespace at top level
_STR = 6  # inside a string value
_KEY = 7  # inside an object key
_NUM = 8  # inside a number
_SCALAR_END = 9  # a number/literal is read; it is committed once a delimiter follows

_CLOSED, _OPEN, _FAILED = 0, 1, 2


class PartialJSON:
    """Parses one JSON document fed as successive text deltas; the value so far after each.

    Create one per streamed document (per function call's arguments, per structured output),
    call :meth:`feed` with every delta as it arrives, read :attr:`value` whenever you need
    the arguments so far, and call :meth:`finish` when the stream says the document is done.

    What a partial :attr:`value` shows (every partial is consistent with the final value):

    * Objects and arrays appear as soon as ``{`` / ``[`` is read, and grow.
    * A string appears as ``""`` once its opening quote is read, then grows; an escape or a
      surrogate pair split across deltas is shown only once it is complete.
    * A number, ``true``, ``false``, ``null``, ``NaN`` or ``Infinity`` appears only once it is
      complete: when a delimiter follows it, or (at top level) at :meth:`finish`.
    * An object key appears once its value has started, following the rules above.

    Containers are updated **in place**: the dicts and lists returned by :attr:`value` are
    the parser's own and keep growing with later deltas, so reading :attr:`value` after
    every delta costs nothing. Copy (``copy.deepcopy``) if you need a frozen snapshot, and
    do not mutate them. A growing string is extended in place too (CPython appends to a
    string no one else references without copying it); holding your own reference to a
    still-growing string, or hashing it, makes each later delta of it copy the string.

    Duplicate keys behave as in :func:`json.loads` (the last one wins), which means a partial
    value can show an earlier duplicate's value that the final value replaces.

    Not thread-safe: one parser per document, fed from one thread (the stream's).
    """

    __slots__ = (
        "_carry",
        "_done",
        "_error",
        "_finished",
        "_key",
        "_keyparts",
        "_numparts",
        "_numstart",
        "_pending",
        "_seen",
        "_stack",
        "_state",
        "_top",
    )

    def __init__(self) -> None:
        self._top: Any = None
        self._stack: List[Any] = []  # the open containers, innermost last
        self._state = _VALUE
        self._key = ""  # the key whose value is being read, in the innermost object
        self._keyparts: List[str] = []  # a key split across deltas
        self._numparts: List[str] = []  # a number split across deltas (may be long)
        self._numstart = 0  # where that number started, for error positions
        self._pending: Any = None  # a complete scalar waiting for its delimiter
        # At most 11 characters of an unfinished escape or literal, re-read with the next
        # delta: bounded, so prepending it keeps the total cost linear.
        self._carry = ""
        self._seen = 0  # characters fed so far, for error positions
        self._done = False
        self._finished = False
        self._error: Optional[str] = None

    @property
    def value(self) -> Any:
        """The document parsed so far, for showing or using the arguments as they stream.

        ``None`` before the top-level value has started (and while a top-level scalar is
        incomplete). Dicts and lists are the parser's own, updated in place by later feeds.
        After an error it keeps the last consistent partial value.
        """
        return self._top

    @property
    def done(self) -> bool:
        """True once a complete top-level value has been read (checked before using it).

        A top-level number is complete only when whitespace follows it or at :meth:`finish`.
        Stays true if garbage after the value then sets :attr:`error`.
        """
        return self._done

    @property
    def error(self) -> Optional[str]:
        """Why the input is not valid JSON (with the character offset), or ``None``.

        Set by :meth:`feed` at the first invalid character, or by :meth:`finish` when the
        document is incomplete; once set, further feeds are ignored.
        """
        return self._error

    def feed(self, text: str) -> None:
        """Consume the next delta of the document; call once per delta, in order.

        Never raises: invalid input sets :attr:`error` and stops parsing. Cost is linear in
        ``len(text)`` plus a constant, whatever was fed before.
        """
        if self._error is not None or not text:
            return
        if self._finished:
            self._error = f"Input after finish() at character {self._seen}"
            return
        try:
            self._feed(text)
        except Exception as exc:  # pragma: no cover - a bug; feed runs in stream callbacks
            self._error = f"Internal parser error: {exc!r}"

    def finish(self) -> Any:
        """Mark the end of input and return the final value (what ``json.loads`` returns).

        Call when the stream reports the document complete. Completes a trailing top-level
        scalar. Raises :class:`ValueError` (and sets :attr:`error`) if the document is
        invalid or incomplete. Calling it again returns the same value or raises again.
        """
        if self._error is None and not self._finished:
            self._finished = True
            if not self._stack:
                if self._state == _NUM and self._end_number(
                    self._numparts_text(""), self._numstart
                ):
                    self._state = _SCALAR_END
                if self._state == _SCALAR_END and self._error is None:
                    self._top = self._pending
                    self._pending = None
                    self._done = True
                    self._state = _AFTER
            if not self._done and self._error is None:
                self._error = f"Incomplete JSON document at character {self._seen}"
        if self._error is not None:
            raise ValueError(self._error)
        return self._top

    # -- internals ---------------------------------------------------------------------

    def _fail(self, message: str, base: int, i: int) -> None:
        self._error = f"{message} at character {base + i}"

    def _numparts_text(self, last: str) -> str:
        parts = self._numparts
        if parts:
            parts.append(last)
            last = "".join(parts)
            self._numparts = []
        return last

    def _end_number(self, text: str, pos: int) -> bool:
        """Convert a complete number token into ``_pending`` as json.loads does, or fail."""
        m = _NUMBER(text)
        if m is None:
            self._fail("Invalid number", pos, 0)
            return False
        try:
            # int for integers, float otherwise ("1E400" -> inf), exactly like json.loads;
            # int() enforces the same digit limit as json.loads (Python >= 3.11).
            self._pending = int(text) if m.group(1) is None and m.group(2) is None else float(text)
        except ValueError as exc:
            self._fail(f"Invalid number ({exc})", pos, 0)
            return False
        return True

    def _attach(self, value: Any) -> None:
        """Put a value that has started (container, string, complete scalar) in place."""
        stack = self._stack
        if not stack:
            self._top = value
        else:
            parent = stack[-1]
            if type(parent) is list:
                parent.append(value)
            else:
                parent[self._key] = value

    def _grow(self, piece: str) -> None:
        """Append to the string value being read, in place when CPython can."""
        # The container's reference is dropped around `s += piece` so that the local is
        # the only one: CPython then resizes the string instead of copying it, which keeps
        # one huge string streamed in tiny deltas linear rather than quadratic.
        stack = self._stack
        if not stack:
            s = self._top
            self._top = None
            s += piece
            self._top = s
        else:
            parent = stack[-1]
            if type(parent) is list:
                s = parent[-1]
                parent[-1] = None
                s += piece
                parent[-1] = s
            else:
                key = self._key
                s = parent[key]
                parent[key] = None
                s += piece
                parent[key] = s

    def _scan(self, text: str, i: int, base: int) -> Tuple[str, int, int]:
        """Read string content from ``i``: (decoded piece, next index, _CLOSED/_OPEN/_FAILED).

        _CLOSED: the closing quote was read (index after it). _OPEN: the delta ended inside
        the string; an unfinished escape is kept in ``_carry``. _FAILED: ``_error`` is set;
        the piece is the valid content before the error.
        """
        n = len(text)
        j = _STR_RUN(text, i).end()
        raw = text[i:j]
        piece = _scanstring(raw + '"', 0, True)[0] if "\\" in raw else raw
        carry = ""
        if j < n:
            c = text[j]
            if c == '"':
                return piece, j + 1, _CLOSED
            if c != "\\":
                self._fail("Invalid control character", base, j)
                return piece, j, _FAILED
            carry = text[j : j + 6]
            # Not even the start of a valid escape (else it would be kept for the next delta).
            if _ESC_PREFIX(carry) is None:
                self._fail("Invalid \\escape", base, j)
                return piece, j, _FAILED
        # A high surrogate escape at the end may pair with a low one in the next delta:
        # hold it back (re-read with that delta) rather than show a lone surrogate that the
        # final string would not contain. A raw surrogate character never pairs.
        if piece and "\ud800" <= piece[-1] <= "\udbff" and raw[-1] != piece[-1]:
            carry = raw[-6:] + carry
            piece = piece[:-1]
        self._carry = carry
        return piece, n, _OPEN

    def _close(self, stack: List[Any]) -> None:
        """A container closed; the document is done when it was the outermost one."""
        stack.pop()
        if not stack:
            self._done = True

    def _feed(self, text: str) -> None:
        carry = self._carry
        base = self._seen - len(carry)
        self._seen += len(text)
        if carry:
            text = carry + text
            self._carry = ""
        n = len(text)
        i = 0
        state = self._state
        stack = self._stack
        while i < n:
            if state <= _AFTER:  # the states that skip whitespace before their next token
                i = _WS(text, i).end()
                if i == n:
                    break
            if state == _STR:
                piece, i, status = self._scan(text, i, base)
                if piece:
                    self._grow(piece)
                if status != _CLOSED:
                    break
                state = _AFTER
                if not stack:
                    self._done = True
            elif state == _AFTER:
                c = text[i]
                if not stack:
                    self._fail("Extra data", base, i)
                    break
                in_list = type(stack[-1]) is list
                if c == ",":
                    state = _VALUE if in_list else _OBJ_KEY
                elif c == ("]" if in_list else "}"):
                    self._close(stack)
                else:
                    self._fail("Expecting ',' delimiter", base, i)
                    break
                i += 1
            elif state in (_VALUE, _ARR_FIRST):
                c = text[i]
                if c == '"':
                    piece, i, status = self._scan(text, i + 1, base)
                    self._attach(piece)
                    if status == _CLOSED:
                        state = _AFTER
                        if not stack:
                            self._done = True
                    elif status == _OPEN:
                        state = _STR
                        break
                    else:
                        break
                elif c == "{":
                    container: Any = {}
                    self._attach(container)
                    stack.append(container)
                    state = _OBJ_FIRST
                    i += 1
                elif c == "[":
                    container = []
                    self._attach(container)
                    stack.append(container)
                    state = _ARR_FIRST
                    i += 1
                elif c == "]" and state == _ARR_FIRST:
                    self._close(stack)
                    state = _AFTER
                    i += 1
                elif "0" <= c <= "9" or (c == "-" and i + 1 < n and text[i + 1] != "I"):
                    j = _NUM_RUN(text, i + 1).end()
                    if j == n:
                        self._numparts = [text[i:]]
                        self._numstart = base + i
                        state = _NUM
                        break
                    if not self._end_number(text[i:j], base + i):
                        break
                    state = _SCALAR_END
                    i = j
                elif c in _LITERALS:
                    word, scalar = _LITERALS[c]
                    if text.startswith(word, i):
                        self._pending = scalar
                        state = _SCALAR_END
                        i += len(word)
                    elif word.startswith(text[i:]):
                        self._carry = text[i:]  # a literal cut by the delta: at most 8 chars
                        break
                    else:
                        self._fail("Expecting value", base, i)
                        break
                else:
                    self._fail("Expecting value", base, i)
                    break
            elif state == _SCALAR_END:
                c = text[i]
                if stack:
                    closer = "]" if type(stack[-1]) is list else "}"
                    if not (c in " \t\n\r," or c == closer):
                        self._fail("Expecting ',' delimiter", base, i)
                        break
                elif c not in " \t\n\r":
                    self._fail("Extra data", base, i)
                    break
                self._attach(self._pending)
                self._pending = None
                if not stack:
                    self._done = True
                state = _AFTER
            elif state == _NUM:
                j = _NUM_RUN(text, i).end()
                if j == n:
                    self._numparts.append(text[i:])
                    break
                if not self._end_number(self._numparts_text(text[i:j]), self._numstart):
                    break
                state = _SCALAR_END
                i = j
            elif state in (_OBJ_FIRST, _OBJ_KEY):
                c = text[i]
                if c == '"':
                    piece, i, status = self._scan(text, i + 1, base)
                    if status == _CLOSED:
                        self._key = piece
                        state = _COLON
                    elif status == _OPEN:
                        self._keyparts = [piece]
                        state = _KEY
                        break
                    else:
                        break
                elif c == "}" and state == _OBJ_FIRST:
                    self._close(stack)
                    state = _AFTER
                    i += 1
                else:
                    self._fail("Expecting property name enclosed in double quotes", base, i)
                    break
            elif state == _KEY:
                piece, i, status = self._scan(text, i, base)
                self._keyparts.append(piece)
                if status == _CLOSED:
                    self._key = "".join(self._keyparts)
                    self._keyparts = []
                    state = _COLON
                else:
                    break
            else:  # _COLON
                if text[i] != ":":
                    self._fail("Expecting ':' delimiter", base, i)
                    break
                state = _VALUE
                i += 1
        self._state = state
