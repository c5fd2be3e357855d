"""Offline: play recorded stream bytes through the same pipeline as a live stream."""

from __future__ import annotations

import functools
import json
import os
from typing import Callable, Iterable, Iterator, List, Optional, Union

import requests

from ._accumulator import Accumulator
from ._config import check_flag
from ._resume import mark_of
from ._sse import split_blocks
from ._stream import StreamCore
from ._transport import EXPIRED_MESSAGES
from .errors import APITimeoutError
from .handler import ResponseHandler, carrying, handler_or_default, overridden, run_handler
from .models import Response
from .structured import asks_for_json, bind_text_format, text_format_schema

Source = Union[str, "os.PathLike[str]", bytes, bytearray, Iterable[bytes]]
"""A recording: a path to a ``.sse`` file, its bytes, or an iterable of byte chunks."""


class _ChunkReader:
    """A stand-in for urllib3's raw response over chunks already in memory."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        # An empty read means end of body, so empty chunks are dropped here.
        self._chunks: Iterator[bytes] = (bytes(chunk) for chunk in chunks if chunk)

    def read1(self, amt: int = -1) -> bytes:
        return next(self._chunks, b"")

    def read(self, amt: int = -1, decode_content: bool = True) -> bytes:
        return b"".join(self._chunks)

    def close(self) -> None:
        pass


def offline_response(
    chunks: Iterable[bytes], content_type: str = "text/event-stream"
) -> requests.Response:
    """A ``requests.Response`` whose body is ``chunks`` (an iterable of bytes)."""
    resp = requests.Response()
    resp.status_code = 200
    resp.headers["content-type"] = content_type
    resp.raw = _ChunkReader(chunks)
    return resp


def offline_stream(
    source: Source, *, accumulate: bool = True, text_format: Optional[type] = None
) -> StreamCore:
    """An :class:`StreamCore` over a recording (see :data:`Source`)."""
    check_flag("accumulate", accumulate)
    if text_format is not None:
        text_format_schema(text_format)  # TypeError now, as stream() raises it, not at the end
    chunks: List[bytes]
    if isinstance(source, (bytes, bytearray)):
        chunks = [bytes(source)]
    elif isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            chunks = [fh.read()]
    else:
        chunks = list(source)
    stream = StreamCore(offline_response(chunks), Accumulator(keep_output=accumulate))
    stream.on_mark = functools.partial(_replayed_mark, stream, None, stream.close)
    # A recording has no request: its first response object echoes the request's format.
    stream.json_output = text_format is not None or _records_json_output(chunks)
    if text_format is not None:
        bind_text_format(stream.response, text_format)
    return stream


def _records_json_output(chunks: List[bytes]) -> bool:
    """Whether the recording's first event with a response object asks for JSON output."""
    head = b""
    for chunk in chunks:  # the first MiB is plenty: the response object comes first
        head += chunk[: _HEAD_BYTES - len(head)]
        if len(head) >= _HEAD_BYTES:
            break
    for block in split_blocks(head)[:_HEAD_EVENTS]:
        for line in block.splitlines():
            if line.startswith(b"data:"):
                try:
                    payload = json.loads(line[5:])
                except ValueError:
                    continue
                response = payload.get("response") if isinstance(payload, dict) else None
                if isinstance(response, dict):
                    return asks_for_json(response)
    return False


_HEAD_BYTES = 1 << 20
_HEAD_EVENTS = 4


def replay(
    source: Source,
    handler: Optional[ResponseHandler] = None,
    *,
    accumulate: bool = True,
    text_format: Optional[type] = None,
) -> Response:
    """Play a recorded stream into ``handler`` offline and return the final response.

    ``source`` is a path to a ``.sse`` file, the raw bytes, or an iterable of byte chunks. The
    same pipeline as a live stream runs (framing, events, snapshot, callbacks, errors), so a
    recording of a failed or cut stream raises exactly as it did live, and one of a stream its
    caller stopped (``stop()``, leaving ``events()``) calls ``handler.stop()`` where that
    happened and returns the partial response without an error. One a time limit ended
    raises the same :class:`~responses_stream.APITimeoutError`. (A call that failed before
    its stream began, an HTTP error, records nothing: its error carries what the server
    said.) A recording of JSON output calls ``handler.on_parsed_delta`` as it did live;
    ``text_format`` (the dataclass the request used) also makes ``output_parsed`` an
    instance of it.
    """
    handler = handler_or_default(handler)

    on_resume = carrying(overridden(handler, "on_resume"))

    def open_stream() -> StreamCore:
        stream = offline_stream(source, accumulate=accumulate, text_format=text_format)
        stream.on_mark = functools.partial(_replayed_mark, stream, on_resume, handler.stop)
        return stream

    return run_handler(handler, open_stream)


def _replayed_mark(
    stream: StreamCore,
    on_resume: Optional[Callable[[str, Optional[int]], None]],
    stop: Callable[[], None],
    text: str,
    deliver_after: Optional[int],
) -> Optional[int]:
    """A mark the recording wrote (``_resume``), played as the live stream went: a resume
    (``on_resume`` again), a stop, a time limit, or the caller's ``starting_after``. Returns
    the cursor."""
    name, argument = mark_of(text)
    if (name, argument) == ("resumed", ""):
        after = stream.accumulator.resuming()  # as the live stream did at this point
        if on_resume is not None and stream.response.id is not None:
            on_resume(stream.response.id, after)
    elif (name, argument) == ("stopped", ""):
        stop()  # the live stream was stopped here: so is this one
    elif name == "timed-out" and argument in EXPIRED_MESSAGES:
        raise APITimeoutError(EXPIRED_MESSAGES[argument])  # as the live one did, here
    elif name == "after" and argument.isdigit():
        return int(argument)
    return deliver_after


__all__ = ["offline_response", "offline_stream", "replay"]
