"""One stream's socket on ``stream_many``'s selector: its body read without ever waiting.

The loop reads a socket only when the selector says it is readable; a read that comes up short
means the socket is drained until the selector says so again. What http.client read with the
head comes first, as the selector never reports it.
"""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import socket
import ssl
import weakref
from typing import Any, Optional, cast

from ._metrics import Meter

WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
"""What a non-blocking socket raises when it cannot go on now."""


class Waker:
    """``stream_many``'s selector, with a socket pair that wakes it from anywhere: another
    thread, or a signal handler while it waits (registered with ``None`` as its data).

    Released by :meth:`close`, or when dropped unclosed (an ``events_many()`` never entered).
    """

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self._read, self._write = socket.socketpair()
        self._read.setblocking(False)
        self._write.setblocking(False)
        self.selector.register(self._read, selectors.EVENT_READ, None)
        pair = (self._read, self._write)
        self.close = weakref.finalize(self, _release, os.getpid(), self.selector, *pair)
        """Close the selector and the socket pair (once; later calls do nothing)."""

    def wake(self) -> None:
        """Make the selector's wait return (safe from any thread and from a signal handler)."""
        with contextlib.suppress(OSError):  # full: a wake-up is pending anyway
            self._write.send(b"\0")

    def woken(self) -> None:
        """The selector said the socket pair is readable: take what woke it."""
        with contextlib.suppress(OSError):
            while self._read.recv(4096):
                pass


def _release(pid: int, selector: selectors.BaseSelector, *pair: socket.socket) -> None:
    if os.getpid() != pid:
        return  # a forked child at its exit: the selector (epoll) is the parent's too
    for sock in pair:
        with contextlib.suppress(KeyError, ValueError, OSError):
            selector.unregister(sock)
        sock.close()
    selector.close()


class LoopSocket:
    """One stream's socket on the selector, its body read without ever waiting (``_many``)."""

    __slots__ = ("_buffered", "_file", "_meter", "_selector", "_timeout", "_tls", "ready", "sock")

    def __init__(
        self, sock_file: Any, selector: selectors.BaseSelector, owner: Any, meter: Meter
    ) -> None:
        self._file = sock_file
        self.sock: socket.socket = sock_file.raw._sock
        self._selector: Optional[selectors.BaseSelector] = selector
        self._meter = meter
        # The timeout to give back: the socket's own, or for one answered on the selector
        # (non-blocking from the start) the one its request was sent with.
        self._timeout = getattr(sock_file.raw, "timeout", self.sock.gettimeout())
        self._tls = isinstance(self.sock, ssl.SSLSocket)
        # http.client's buffered reader may hold body bytes read with the headers: those
        # first, as the selector never reports them.
        self._buffered = True
        self.ready = True
        """The selector reported the socket readable (a read that came up short clears it)."""
        if self.sock.gettimeout() != 0.0:
            self.sock.setblocking(False)
        selector.register(self.sock, selectors.EVENT_READ, owner)

    def read(self, size: int) -> Optional[bytes]:
        """What has arrived (at most ``size`` bytes), ``b""`` at the end, None if nothing yet."""
        if self._buffered:
            try:
                data: bytes = self._file.read1(size)
            except WOULD_BLOCK:
                data = b""
            if data:
                self._meter.data_at = self._meter.clock()
                return data
            self._buffered = False  # empty: from now on straight off the socket
        if not self.ready:
            return None
        try:
            data = self.sock.recv(size)
        except WOULD_BLOCK:
            self.ready = False
            return None
        if data:
            self._meter.data_at = self._meter.clock()
        if len(data) < size and not (self._tls and cast(ssl.SSLSocket, self.sock).pending()):
            self.ready = False  # all there was: wait for the selector before reading again
        return data

    def waiting(self) -> bool:
        """Bytes have arrived that the loop has not read yet (it is busy): the watchdog's
        check before it ends a stream for a silent server (``Guard.held``)."""
        if self._buffered or (self._tls and cast(ssl.SSLSocket, self.sock).pending()):
            return True
        try:
            if hasattr(select, "poll"):
                poller = select.poll()
                poller.register(self.sock, select.POLLIN)
                return bool(poller.poll(0))
            return bool(select.select([self.sock], [], [], 0)[0])
        except (OSError, ValueError):  # closed meanwhile
            return False

    def detach(self) -> None:
        """Off the selector, and blocking again (before the socket is pooled or closed)."""
        selector, self._selector = self._selector, None
        if selector is None:
            return
        with contextlib.suppress(KeyError, ValueError, OSError):
            selector.unregister(self.sock)
        with contextlib.suppress(OSError):
            self.sock.settimeout(self._timeout)


__all__ = ["WOULD_BLOCK", "LoopSocket"]
