"""Compressed bodies (gzip, deflate) inflated step by step: at most DECODE_STEP bytes a step.

A server may compress an event stream although the client asks for ``identity``. urllib3
before 2.6 inflates each read whole, so a body that expands 1,000 times (a "zip bomb") would
turn one 64 KiB read into 64 MB; here each step makes at most :data:`DECODE_STEP` bytes, the
rest of the input waiting for the next step, so the SSE framer's ``max_event_bytes`` ends
such a body having held about that much. What comes before damaged data is delivered, then
urllib3's ``DecodeError`` is raised, however the body was split into reads.
"""

from __future__ import annotations

import functools
import zlib
from typing import Any, Iterator, List, Optional

import urllib3.exceptions
import urllib3.response

DECODE_STEP = 65536
"""The most decompressed bytes made from a compressed body in one step."""
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_CODINGS = ("gzip", "x-gzip", "deflate")


def compressed_body(raw: Any, read_size: int) -> Optional[Iterator[bytes]]:
    """The body of ``raw`` (a urllib3 response, read through urllib3 undecoded) inflated here
    step by step, or None unless its codings are ``gzip`` and ``deflate`` alone or combined.
    Other codings (``br``, ``zstd``) stay with urllib3, which bounds them itself from 2.6 on.
    """
    if not isinstance(raw, urllib3.response.HTTPResponse):
        return None
    codings = content_codings(raw)
    if not codings:
        return None
    read1 = getattr(raw, "read1", None)
    body: Iterator[bytes]
    if read1 is not None:
        body = iter(functools.partial(read1, read_size, decode_content=False), b"")
    else:  # urllib3 1.26
        body = raw.stream(1024, decode_content=False)
    for coding in reversed(codings):  # the last coding applied is the first removed
        body = inflate(body, coding)
    return body


def _before_damage(inflater: Any, data: bytes) -> bytes:
    """What ``inflater`` makes of ``data`` before the byte it fails on."""
    out = []
    for at in range(len(data)):
        try:
            out.append(inflater.decompress(data[at : at + 1]))
        except zlib.error:
            break
    return b"".join(out)


def content_codings(raw: Any) -> Optional[List[str]]:
    """The content codings of ``raw``, the last applied last (``[]`` for none), or None when
    one of them is not gzip or deflate."""
    header = str(raw.headers.get("content-encoding", "")).lower()
    codings = [c.strip() for c in header.split(",") if c.strip() not in ("", "identity")]
    return codings if all(c in _CODINGS for c in codings) else None


def inflate(body: Iterator[bytes], coding: str) -> Iterator[bytes]:
    """``body`` with one gzip or deflate coding removed, at most DECODE_STEP bytes a step.

    As urllib3 does: gzip members follow one another, bytes that are not a gzip member after
    the first are ignored, and ``deflate`` is zlib-wrapped or, as some servers send it, raw.
    """
    gzip = coding != "deflate"
    inflater: Any = None
    head = b""  # the first bytes, until two tell a deflate body's format
    ignore = False  # after the end of a deflate stream, or garbage after a gzip member
    members = 0  # gzip members ended
    for received in body:
        if not received:
            yield received  # nothing has arrived yet (a non-blocking body): see decode_chunked
            continue
        data = received
        if ignore:
            continue  # read to the end all the same: the connection may be reused
        if inflater is None:
            head += data
            if len(head) < 2:
                continue
            data, head = head, b""
            inflater = zlib.decompressobj(_GZIP_WBITS if gzip else _deflate_wbits(data))
        while True:
            if inflater.eof:
                if not gzip:
                    ignore = True
                    break
                inflater = zlib.decompressobj(_GZIP_WBITS)  # the next gzip member
                members += 1
            # To make what comes before a bad byte, if one is here (after the first member,
            # bad bytes are ignored: no copy needed).
            before = None if members else inflater.copy()
            try:
                out = inflater.decompress(data, DECODE_STEP)
            except zlib.error as exc:
                if members:
                    ignore = True  # garbage after a gzip member: other clients accept it too
                    break
                # The failed step made nothing: make, a byte at a time, what comes before the
                # damage (less than DECODE_STEP, or the step would have stopped there first),
                # so it is delivered however the body was split into reads.
                out = _before_damage(before, data)
                if out:
                    yield out
                raise urllib3.exceptions.DecodeError(
                    f"Received response with content-encoding: {coding}, but failed to decode "
                    f"it: {exc}"
                ) from exc
            if out:
                yield out
            # The input not used yet, or after the end of the stream; output may be pending
            # when this step made all it could.
            data = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
            if not data and (inflater.eof or len(out) < DECODE_STEP):
                break


def _deflate_wbits(head: bytes) -> int:
    """zlib's ``wbits`` for a deflate body starting with ``head``: zlib-wrapped, else raw."""
    if head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0:
        return zlib.MAX_WBITS
    return -zlib.MAX_WBITS
