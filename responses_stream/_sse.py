"""Bytes in, SSE messages out: the only module that knows sseclient-py.

sseclient-py parses the fields of each message (``event:``, ``data:``, comments, the optional
space after the colon). Its block framer (``SSEClient._read``) is replaced here because, as
measured in ``research/PERF-BASELINE.md`` and the SSE spec:

* it concatenates ``bytes`` line by line, which is quadratic for a multi-MB event arriving in
  small chunks; here pending bytes are kept in a list and joined once;
* it never strips a UTF-8 BOM, so a BOM in front of ``data:`` would lose the first event;
* it drops comment-only blocks silently; here they become messages named :data:`COMMENT` so the
  handler's ``on_keep_alive`` fires as soon as the comment arrives;
* it decodes, strips and splits every line; the one-line ``data:`` and ``event:``+``data:``
  blocks that make up nearly every stream are split directly (see :meth:`messages`).
* it yields a truncated final block as if it were complete; here the caller is told
  (:attr:`FramedSSEClient.truncated`) so a cut stream is reported, not half-parsed.

Line endings CR, LF and CRLF are all accepted, including a CRLF split across two reads.
"""

from __future__ import annotations

import re
from itertools import chain
from typing import Generator, Iterator, List, Optional, Tuple

from sseclient import Event, SSEClient

if not hasattr(SSEClient, "events"):  # pragma: no cover - wrong distribution installed
    raise ImportError(
        "responses_stream needs the 'sseclient-py' distribution (pip install sseclient-py); the "
        "installed 'sseclient' module is a different project with the same import name."
    )

COMMENT = "\x00responses_stream.comment"
"""Event name given to a block made only of SSE comment lines (its data is the comment text)."""

_BOM = b"\xef\xbb\xbf"
_END: Tuple[Optional[bytes]] = (None,)
_BLOCK_END = re.compile(rb"(?:\r\n|\n|\r(?!\n))(?:\r\n|\n|\r)")
"""Two line ends in a row (CRLF, LF or CR, mixed as they come): the end of an SSE block."""


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
    """sseclient-py's parser over a linear-time, CR/LF/CRLF-safe block framer.

    ``source`` yields ``bytes`` as they arrive. Iterate :meth:`events` (sseclient-py's method) to
    get ``sseclient.Event`` objects with ``.event`` and ``.data``.
    """

    def __init__(self, source: Iterator[bytes]) -> None:
        super().__init__(source)
        self._source = source
        self.truncated = False
        """True once the source ended inside a block (no blank line after it)."""
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
        after the colon) is parsed by sseclient-py, so the field rules stay exactly
        sseclient-py's. A block made only of comments becomes ``(COMMENT, "#" + text)``.
        """
        pending: List[bytes] = []  # bytes of the current, not yet terminated, block
        pending_ends_lf = False  # the last pending byte is "\n"
        skip_lf = False  # the previous read ended in "\r": a leading "\n" belongs to it
        at_start = True
        head = b""
        # None marks the end of the body, so the tail goes through the same loop below.
        for received in chain(self._source, _END):
            if received is None:
                if at_start and head:
                    pending.append(head)  # fewer than three bytes in the whole body
                tail = b"".join(pending)
                if not tail.strip(b"\n"):
                    return
                self.truncated = True
                chunk = tail + b"\n\n"
                pending = []
                pending_ends_lf = False
            else:
                chunk = received
                if not chunk:
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
                if b"\r" in chunk:
                    # Normalise to LF; a trailing CR may be the first half of a CRLF.
                    skip_lf = chunk.endswith(b"\r")
                    chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            start = 0
            end = len(chunk)
            straddled = None
            if pending_ends_lf and chunk[:1] == b"\n":
                # The blank line that ends the block straddles two reads.
                pending.append(b"\n")
                straddled = b"".join(pending)
                pending = []
                start = 1
            while True:
                if straddled is not None:
                    block = straddled
                    straddled = None
                else:
                    cut = chunk.find(b"\n\n", start)
                    if cut < 0:
                        break
                    block = chunk[start : cut + 2]  # the chunk itself when it is one block
                    if pending:
                        pending.append(block)
                        block = b"".join(pending)
                        pending = []
                    start = cut + 2
                first = block[:1]
                if first == b"d":
                    # "data: X\n\n"
                    if block[:6] == b"data: ":
                        line_end = block.find(b"\n", 6)
                        if line_end == len(block) - 2 and line_end > 6:
                            yield "message", block[6:line_end].decode()
                            continue
                elif first == b"e":
                    # "event: N\ndata: X\n\n"
                    if block[:7] == b"event: ":
                        name_end = block.find(b"\n", 7)
                        data_at = name_end + 7
                        if block[name_end + 1 : data_at] == b"data: ":
                            line_end = block.find(b"\n", data_at)
                            if line_end == len(block) - 2 and line_end > data_at:
                                name = block[7:name_end].decode() or "message"
                                yield name, block[data_at:line_end].decode()
                                continue
                elif first == b":":
                    lines = block.rstrip(b"\n").split(b"\n")
                    if all(line[:1] == b":" for line in lines):
                        # sseclient-py drops comments; they are heartbeats worth reporting. One
                        # space after the colon is framing, as for fields.
                        texts = [line[1:2].lstrip(b" ") + line[2:] for line in lines]
                        yield COMMENT, "#" + b"\n".join(texts).decode()
                        continue
                elif first == b"\n":
                    block = block.lstrip(b"\n")
                    if not block:
                        continue
                    # Blank lines before a block: parse what follows on the general path.
                for event in _OneBlock(block).events():
                    yield event.event, event.data
            if start < end:
                pending.append(chunk[start:] if start else chunk)
                pending_ends_lf = chunk.endswith(b"\n")
            else:
                pending_ends_lf = False

    def events(self) -> Generator[Event, None, None]:
        """sseclient-py's API: ``sseclient.Event`` objects (``.event``, ``.data``)."""
        for name, data in self.messages():
            event = Event()
            event.event, event.data = name, data
            yield event


class _OneBlock(SSEClient):
    """sseclient-py's field parser applied to one already framed block."""

    def __init__(self, block: bytes) -> None:
        super().__init__(iter(()))
        self._block = block

    def _read(self) -> Iterator[bytes]:
        yield self._block
