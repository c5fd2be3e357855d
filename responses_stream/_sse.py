"""Bytes in, SSE messages out: the only module that knows sseclient-py.

:class:`FramedSSEClient` is an ``sseclient.SSEClient`` (its :meth:`~FramedSSEClient.events`
gives ``sseclient.Event`` objects) and follows sseclient-py's field rules exactly: ``data:``
lines joined with newlines, one space after the colon dropped, the last ``event:`` wins
(``message`` when empty), a line without a colon is a field with an empty value, unknown fields
and comment lines ignored, a block without ``data`` not dispatched. A property test checks it
against sseclient-py's own parser. The framing and the field parsing are done here, because
sseclient-py:

* concatenates ``bytes`` line by line when framing, and ``data`` values line by line when
  parsing: both quadratic (a multi-MB event in small reads; a million ``data:`` lines); here
  pending bytes are kept in a list and joined once, and a block is parsed by a few passes of
  regular expressions over it (:func:`_parse_block`);
* never strips a UTF-8 BOM, so a BOM in front of ``data:`` would lose the first event;
* drops comment-only blocks silently; here they become messages named :data:`COMMENT` so the
  handler's ``on_keep_alive`` fires as soon as the comment arrives;
* decodes, strips and splits every line; the one-line ``data:`` and ``event:``+``data:``
  blocks that make up nearly every stream are split directly (see :meth:`messages`).
* yields a truncated final block as if it were complete; here the caller is told
  (:attr:`FramedSSEClient.truncated`) so a cut stream is reported, not half-parsed;
* has no bound: one endless line would take all the memory. Here no block (an event, with its
  lines and their line ends, without the blank line that ends it) may exceed
  ``max_event_bytes`` (:data:`DEFAULT_MAX_EVENT_BYTES`), and no comment line, nor a block of
  comments (what ``on_keep_alive`` receives), :data:`MAX_COMMENT_BYTES`. A block is checked as
  its bytes arrive, so an endless one fails once the limit is passed, having buffered about the
  limit, with :class:`~responses_stream.errors.ProtocolError`.

Line endings CR, LF and CRLF are all accepted, including a CRLF split across two reads; sizes
count the bytes after the UTF-8 BOM and any content coding are removed, a line end as one byte.
"""

from __future__ import annotations

import re
import sys
from itertools import chain
from typing import Any, Generator, Iterator, List, Optional, Tuple

from sseclient import Event, SSEClient

from .errors import ConfigurationError, ProtocolError

if not hasattr(SSEClient, "events"):  # pragma: no cover - wrong distribution installed
    raise ImportError(
        "responses_stream needs the 'sseclient-py' distribution (pip install sseclient-py); the "
        "installed 'sseclient' module is a different project with the same import name."
    )

DEFAULT_MAX_EVENT_BYTES = 64 * 1024 * 1024
"""The default ``max_event_bytes``: room for a large partial image (base64) in one event."""
MAX_COMMENT_BYTES = 64 * 1024
"""The longest comment line, and comment-only block, accepted (or ``max_event_bytes`` if that
is smaller): comments are keep-alives, and ``on_keep_alive`` never receives megabytes."""

COMMENT = "\x00responses_stream.comment"
"""Event name given to a block made only of SSE comment lines (its data is ``"#"`` and the
comment text); ``(COMMENT, "")`` says that nothing has arrived yet from a non-blocking body."""

_BOM = b"\xef\xbb\xbf"
_END: Tuple[Optional[bytes]] = (None,)
_BLOCK_END = re.compile(rb"(?:\r\n|\n|\r(?!\n))(?:\r\n|\n|\r)")
"""Two line ends in a row (CRLF, LF or CR, mixed as they come): the end of an SSE block."""
# The patterns below read one block, its line ends as "\n". Each begins with a literal "\n" (which
# re finds quickly): _parse_block puts one in front of the first line, or looks at it apart.
_FIELD_LINE = re.compile(rb"\n[^:]")
"""A line end followed by a line that is not a comment."""
_COMMENT_LINE = re.compile(rb"\n:[^\n]*")
_OTHER_LINE = re.compile(r"\n(?!data(?:[:\n]|\Z))[^\n]*")
"""A line that is not a ``data`` field (another field, a comment, blank)."""
_DATA_NAME = re.compile(r"\ndata(?:: ?)?")
"""A ``data`` line's name, its colon and one space after it: what its value is cut from."""
_EVENT_LINE = re.compile(r"\nevent(?:: ?([^\n]*))?(?=\n|\Z)")


def block_ends(data: bytes) -> Iterator[int]:
    """The offsets just past each block of ``data`` (raw bytes, any line endings).

    For bytes at rest (a recording, a file to serve); :meth:`FramedSSEClient.messages` applies
    the same rule to bytes as they arrive (a test checks that both agree).
    """
    return (match.end() for match in _BLOCK_END.finditer(data))


def split_blocks(data: bytes) -> List[bytes]:
    """``data`` cut after each block (a trailing unterminated block is the last piece)."""
    pieces, start = [], 0
    for end in block_ends(data):
        pieces.append(data[start:end])
        start = end
    if start < len(data):
        pieces.append(data[start:])
    return pieces


class FramedSSEClient(SSEClient):
    """A linear-time, bounded, CR/LF/CRLF-safe SSE parser with sseclient-py's field rules.

    ``source`` yields ``bytes`` as they arrive. Iterate :meth:`messages` for ``(event name,
    data)`` pairs, or :meth:`events` (sseclient-py's method) for ``sseclient.Event`` objects
    with ``.event`` and ``.data``. ``max_event_bytes`` bounds every block (``None``: no limit
    on anything, comments included); see the module's documentation. With ``waits``, an
    empty piece of ``source`` (a non-blocking read that found nothing) is passed on as
    ``(COMMENT, "")``; otherwise empty pieces are skipped.
    """

    def __init__(
        self,
        source: Iterator[bytes],
        max_event_bytes: Optional[int] = DEFAULT_MAX_EVENT_BYTES,
        *,
        waits: bool = False,
    ) -> None:
        super().__init__(source)
        check_max_event_bytes(max_event_bytes)
        self._source = source
        self._waits = waits  # an empty read means "nothing yet": say so (see messages)
        self.max_event_bytes = max_event_bytes
        """The most bytes one block may hold (None: no limit)."""
        self.max_comment_bytes = (
            None if max_event_bytes is None else min(MAX_COMMENT_BYTES, max_event_bytes)
        )
        """The most bytes a comment line, or a comment-only block, may hold (None: no limit)."""
        self.truncated = False
        """True once the source ended inside a block (no blank line after it)."""
        self.cut: Any = None
        """The data of the block the source ended or broke inside: the text of its ``data``
        lines, or its raw bytes when they do not parse (cut inside a UTF-8 character, or
        before any ``data`` line)."""
        self.bytes_received = 0
        """Body bytes received so far (before any normalisation)."""
        self.head = b""
        """The first bytes of the body (up to 1 KiB), kept for error reports."""

    def messages(self) -> Iterator[Tuple[str, str]]:
        """Yield ``(event name, data)`` for every message, as soon as its block is complete.

        Framing (finding the blank line that ends each block) and splitting happen in this one
        generator: with one event per network read, every extra generator level is a frame
        resumed per event. The two block shapes every Responses server sends (``data: X`` and
        ``event: N`` + ``data: X``, one line each) are split here directly; every other block
        (several data lines, ``id:``/``retry:`` fields, comments mixed with fields, no space
        after the colon) goes to :func:`_parse_block`. A block made only of comments becomes
        ``(COMMENT, "#" + text)``.

        Raises :class:`~responses_stream.errors.ProtocolError` as soon as the block being
        received is larger than ``max_event_bytes`` (or a comment line than
        ``max_comment_bytes``), having yielded every message before it.
        """
        limit = sys.maxsize if self.max_event_bytes is None else self.max_event_bytes
        comment_limit = sys.maxsize if self.max_comment_bytes is None else self.max_comment_bytes
        pending: List[bytes] = []  # bytes of the current, not yet terminated, block
        pending_ends_lf = False  # the last pending byte is "\n"
        # Set when the first piece of a block is kept (so they cost nothing on the hot path):
        pending_size = 0  # bytes in pending
        line_at = 0  # where the last (unterminated) line of pending starts
        line_head = b""  # its first bytes, to tell a comment (and name it in an error)
        skip_lf = False  # the previous read ended in "\r": a leading "\n" belongs to it
        at_start = True
        head = b""
        # None marks the end of the body, so the tail goes through the same loop below.
        try:
            for received in chain(self._source, _END):
                if received is None:
                    if at_start and head:
                        pending.append(head)  # fewer than three bytes in the whole body
                    tail = b"".join(pending)
                    if not tail.strip(b"\n"):
                        return
                    self.truncated = True
                    self.cut = _cut_data(tail, comment_limit)
                    chunk = tail + b"\n\n"
                    pending = []
                    pending_ends_lf = False
                else:
                    chunk = received
                    if not chunk:
                        if self._waits:
                            # Nothing has arrived yet (a non-blocking body, _body.decode_chunked):
                            # the consumer waits for the socket, then asks again.
                            yield COMMENT, ""
                        continue
                    if self.bytes_received < 1024:
                        self.head += chunk[: 1024 - self.bytes_received]
                    self.bytes_received += len(chunk)
                    if at_start:
                        # A BOM may itself arrive split; hold bytes until three are known.
                        head += chunk
                        if len(head) < 3 and _BOM.startswith(head):
                            continue
                        chunk = head[3:] if head.startswith(_BOM) else head
                        at_start = False
                        if not chunk:
                            continue
                    if skip_lf:
                        skip_lf = False
                        if chunk[:1] == b"\n":
                            chunk = chunk[1:]
                            if not chunk:
                                continue
                    if chunk.find(b"\r") >= 0:  # a find: `in` costs twice as much on bytes
                        # Normalise to LF; a trailing CR may be the first half of a CRLF.
                        skip_lf = chunk.endswith(b"\r")
                        chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
                start = 0
                end = len(chunk)
                big = end > limit  # a block inside this chunk may be too large: check each one
                straddled = None
                if pending_ends_lf and chunk[:1] == b"\n":
                    # The blank line that ends the block straddles two reads.
                    pending.append(b"\n")
                    straddled = b"".join(pending)
                    pending = []
                    start = 1
                while True:
                    if straddled is None and not pending and not big:
                        # The two block shapes every Responses server sends, read in place: two
                        # one-byte searches (memchr) instead of one for the blank line, which is a
                        # slow two-byte search over the whole event.
                        if chunk[start : start + 7] == b"event: ":
                            # "event: N\ndata: X\n\n"
                            name_end = chunk.find(b"\n", start + 7)
                            data_at = name_end + 7
                            if name_end > 0 and chunk[name_end + 1 : data_at] == b"data: ":
                                line_end = chunk.find(b"\n", data_at)
                                if (
                                    line_end > data_at
                                    and chunk[line_end + 1 : line_end + 2] == b"\n"
                                ):
                                    try:
                                        name = chunk[start + 7 : name_end].decode() or "message"
                                        data = chunk[data_at:line_end].decode()
                                    except UnicodeDecodeError:
                                        # The full parser below raises it, with the position
                                        # counted from the block's start, as for a block that
                                        # came in pieces: the error does not depend on the reads.
                                        pass
                                    else:
                                        start = line_end + 2
                                        yield name, data
                                        if start < end:
                                            continue
                                        break  # the chunk is used up (one event per read, paced)
                        elif chunk[start : start + 6] == b"data: ":
                            # "data: X\n\n"
                            data_at = start + 6
                            line_end = chunk.find(b"\n", data_at)
                            if line_end > data_at and chunk[line_end + 1 : line_end + 2] == b"\n":
                                try:
                                    data = chunk[data_at:line_end].decode()
                                except UnicodeDecodeError:
                                    pass  # as above: the full parser raises it
                                else:
                                    start = line_end + 2
                                    yield "message", data
                                    if start < end:
                                        continue
                                    break
                    if straddled is not None:
                        block = straddled  # no larger than the pending bytes already checked
                        straddled = None
                    else:
                        cut = chunk.find(b"\n\n", start)
                        if cut < 0:
                            break
                        block = chunk[start : cut + 2]
                        if pending:
                            pending.append(block)
                            block = b"".join(pending)
                            pending = []
                            if len(block) - 2 > limit:
                                raise _too_large(limit, block, block.find(b"\n") == len(block) - 2)
                        elif big and len(block) - 2 > limit:
                            raise _too_large(limit, block, block.find(b"\n") == len(block) - 2)
                        start = cut + 2
                    # Any other block, or one that came in pieces: the full parser.
                    if block[:1] in (b":", b"\n"):
                        first = block[:1]
                        if first == b"\n":
                            # Blank lines before a block: what follows is the block.
                            block = block.lstrip(b"\n")
                            if not block:
                                continue
                        comments = _comment_text(block, comment_limit)
                        if comments is not None:
                            # sseclient-py drops comments; they are heartbeats worth reporting.
                            yield COMMENT, comments
                            continue
                    message = _parse_block(block, comment_limit)
                    if message is not None:
                        yield message
                if start < end:
                    piece = chunk[start:] if start else chunk
                    if not pending:
                        pending_size = line_at = 0
                        line_head = b""
                    pending.append(piece)
                    pending_ends_lf = piece.endswith(b"\n")
                    # Bound the block as it grows: its size, and its last line if a comment.
                    line_end = piece.rfind(b"\n")
                    if line_end >= 0:
                        line_at = pending_size + line_end + 1
                        line_head = piece[line_end + 1 : line_end + 9]
                    elif len(line_head) < 8:
                        line_head += piece[: 8 - len(line_head)]
                    pending_size += len(piece)
                    if pending_size - pending_ends_lf > limit:
                        raise _too_large(limit, _first_bytes(pending), line_at == 0)
                    if line_head[:1] == b":" and pending_size - line_at > comment_limit:
                        raise _comment_too_large(comment_limit, line_head)
                else:
                    pending_ends_lf = False
        except (ProtocolError, UnicodeDecodeError):  # this framer's own: the block is whole
            raise
        except Exception:  # the source broke (a cut chunked body, a reset): keep its tail
            if at_start and head:
                pending.append(head)
            tail = b"".join(pending)
            if tail.strip(b"\n"):
                self.truncated = True
                self.cut = _cut_data(tail, comment_limit)
            raise

    def events(self) -> Generator[Event, None, None]:
        """sseclient-py's API: ``sseclient.Event`` objects (``.event``, ``.data``)."""
        for name, data in self.messages():
            event = Event()
            event.event, event.data = name, data
            yield event


def check_max_event_bytes(value: Optional[int]) -> Optional[int]:
    """``value`` if it is a valid ``max_event_bytes`` (a positive int, or None for no limit),
    else a :class:`~responses_stream.errors.ConfigurationError`."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigurationError(f"max_event_bytes must be a positive int or None, got {value!r}")
    return value


def _comment_text(block: bytes, comment_limit: int) -> Optional[str]:
    """``"#"`` + the text of ``block`` if it is made only of comment lines, else None.

    One space after each colon is framing, as for fields; the lines join with ``"\n"``.
    """
    if block[:1] != b":" or _FIELD_LINE.search(block, 0, len(block) - 2) is not None:
        return None
    if len(block) - 2 > comment_limit:
        raise _comment_too_large(comment_limit, block)
    texts = [line[1:2].lstrip(b" ") + line[2:] for line in block[:-2].split(b"\n")]
    return "#" + b"\n".join(texts).decode()


def _cut_data(tail: bytes, comment_limit: int) -> Any:
    """What :attr:`FramedSSEClient.cut` holds for a block cut short: see there."""
    try:
        message = _parse_block(tail.rstrip(b"\n") + b"\n\n", comment_limit)
    except (UnicodeDecodeError, ProtocolError):
        message = None
    return message[1] if message is not None else tail


def _parse_block(block: bytes, comment_limit: int) -> Optional[Tuple[str, str]]:
    """The ``(event name, data)`` of one block (ending in a blank line), or None without data.

    sseclient-py's field rules (the module's documentation), in time and memory linear in the
    block: a few passes of string methods and regular expressions, never one Python step per
    line (a million ``data:`` lines take a fraction of a second). Like sseclient-py, the whole
    block must be UTF-8 (UnicodeDecodeError otherwise).
    """
    if len(block) - 2 > comment_limit:
        first = block.find(b"\n")
        if block[:1] == b":" and first > comment_limit:
            raise _comment_too_large(comment_limit, block[:64])
        for match in _COMMENT_LINE.finditer(block):
            if match.end() - match.start() - 1 > comment_limit:
                raise _comment_too_large(
                    comment_limit, block[match.start() + 1 : match.start() + 65]
                )
    text = "\n" + str(memoryview(block)[:-2], "utf-8")  # "\n" before each line
    data = _OTHER_LINE.sub("", text)  # the data lines, each after a "\n"
    if not data:
        return None  # no data field: not dispatched
    if data.count("\n") == data.count("\ndata: "):
        data = data.replace("\ndata: ", "\n")  # the usual form: faster than the pattern
    else:
        data = _DATA_NAME.sub("\n", data)
    name = ""
    for event in _EVENT_LINE.finditer(text):  # the last one wins
        name = event.group(1) or ""
    return name or "message", data[1:]


def _too_large(limit: int, sample: bytes, one_line: bool) -> ProtocolError:
    """The error for a block over ``limit``; ``sample`` starts it (one line, or several)."""
    what = "comment" if one_line and sample[:1] == b":" else "event"
    for field in (b"data", b"event", b"id", b"retry"):
        if one_line and sample.startswith(field + b":"):
            what = f"{field.decode()}: line"
    return ProtocolError(
        f"an SSE {what} is larger than max_event_bytes ({limit} bytes)", data=sample[:1024]
    )


def _first_bytes(pieces: List[bytes], count: int = 1024) -> bytes:
    """The first ``count`` bytes of ``pieces`` joined (without joining them all)."""
    out = b""
    for piece in pieces:
        out += piece[: count - len(out)]
        if len(out) >= count:
            break
    return out


def _comment_too_large(limit: int, sample: bytes) -> ProtocolError:
    return ProtocolError(
        f"an SSE comment is larger than max_comment_bytes ({limit} bytes)", data=sample[:1024]
    )
