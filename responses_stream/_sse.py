"""Bytes in, SSE messages out: the only module that knows sseclient-py.

sseclient-py parses the fields of each message (``event:``, ``data:``, comments, the optional
space after the colon). Its block framer (``SSEClient._read``) is replaced here because, as
measured in ``research/PERF-BASELINE.md`` and the SSE spec:

* it concatenates ``bytes`` line by line, which is quadratic for a multi-MB event arriving in
  small chunks; here pending bytes are kept in a list and joined once;
* it never strips a UTF-8 BOM, so a BOM in front of ``data:`` would lose the first event;
* it drops comment-only blocks silently; here they become messages named :data:`COMMENT` so the
  handler's ``on_keep_alive`` fires as soon as the comment arrives;
* it yields a truncated final block as if it were complete; here the caller is told
  (:attr:`FramedSSEClient.truncated`) so a cut stream is reported, not half-parsed.

Line endings CR, LF and CRLF are all accepted, including a CRLF split across two reads.
"""

from __future__ import annotations

from typing import Any, Iterator, List

from sseclient import SSEClient

if not hasattr(SSEClient, "events"):  # pragma: no cover - wrong distribution installed
    raise ImportError(
        "responses_stream needs the 'sseclient-py' distribution (pip install sseclient-py); the "
        "installed 'sseclient' module is a different project with the same import name."
    )

COMMENT = "\x00responses_stream.comment"
"""Event name given to a block made only of SSE comment lines (its data is the comment text)."""

_BOM = b"\xef\xbb\xbf"
_COMMENT_BYTES = COMMENT.encode()


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

    def _read(self) -> Iterator[bytes]:
        pending: List[bytes] = []  # bytes of the current, not yet terminated, block
        pending_ends_lf = False  # the last pending byte is "\n"
        skip_lf = False  # the previous read ended in "\r": a leading "\n" belongs to it
        at_start = True
        head = b""
        for received in self._source:
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
            if pending_ends_lf and chunk[:1] == b"\n":
                # The blank line that ends the block straddles two reads.
                pending.append(b"\n")
                block = b"".join(pending)
                pending = []
                start = 1
                yield from _emit(block)
            end = len(chunk)
            while start < end:
                cut = chunk.find(b"\n\n", start)
                if cut < 0:
                    break
                piece = chunk[start : cut + 2]
                if pending:
                    pending.append(piece)
                    piece = b"".join(pending)
                    pending = []
                yield from _emit(piece)
                start = cut + 2
            if start < end:
                pending.append(chunk[start:] if start else chunk)
                pending_ends_lf = chunk.endswith(b"\n")
            else:
                pending_ends_lf = False
        if at_start and head:
            pending.append(head)  # fewer than three bytes in the whole body
        if pending:
            tail = b"".join(pending)
            if tail.strip(b"\n"):
                self.truncated = True
                yield from _emit(tail + b"\n\n")


def _emit(block: bytes) -> Iterator[bytes]:
    """Yield ``block`` for sseclient-py to parse, turning comment-only blocks into messages."""
    body = block.strip(b"\n")
    if not body:
        return
    if body[:1] == b":":
        lines = body.split(b"\n")
        if all(line[:1] == b":" for line in lines):
            # sseclient-py drops comments; re-frame them as a message it will dispatch. The
            # "#" keeps the data non-empty even for a bare ":" line (it is stripped later).
            # One space after the colon is framing, as for fields (sseclient-py drops it for
            # every data line but the first, which carries the "#").
            texts = [line[1:] for line in lines]
            texts[0] = b"#" + (texts[0][1:] if texts[0][:1] == b" " else texts[0])
            yield (
                b"event: "
                + _COMMENT_BYTES
                + b"\n"
                + b"".join(b"data:" + t + b"\n" for t in texts)
                + b"\n"
            )
            return
    yield block


def iter_messages(source: Iterator[bytes]) -> Any:
    """Return the :class:`FramedSSEClient` over ``source`` (iterate its ``events()``)."""
    return FramedSSEClient(source)
