"""A real ``redis-server`` for tests: started on 127.0.0.1 on a free port, in a temporary
directory, with persistence off, and stopped by its PID.

Use the context manager, or import the fixture into a test module::

    from tests.redis_server import redis_server  # noqa: F401  (module-scoped fixture)

    def test_something(redis_server):
        client = redis.Redis.from_url(redis_server.url)

:func:`running_redis` and the fixture skip the test when no ``redis-server`` binary is on the
PATH (``apt-get install redis-server``). Everything waits for a bounded time.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest

REDIS_SERVER = shutil.which("redis-server")
"""Path of the ``redis-server`` binary, or ``None`` when it is not installed."""

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ping(port: int, timeout: float = 0.5) -> bool:
    """Whether a Redis server on 127.0.0.1:``port`` answers PING (plain RESP, no client lib)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process in ``directory``; :meth:`start`, :meth:`stop`, restart.

    ``port`` stays the same across restarts, so clients (and their URLs) keep working after a
    :meth:`start` that follows a :meth:`stop` or :meth:`kill`.
    """

    def __init__(self, directory: Path, port: Optional[int] = None) -> None:
        if REDIS_SERVER is None:
            raise RuntimeError("redis-server is not installed")
        self.directory = directory
        self.port = port if port is not None else free_port()
        self.process: Optional[subprocess.Popen[bytes]] = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> Optional[int]:
        """The running server's PID, or ``None``."""
        return self.process.pid if self.process is not None else None

    @property
    def log(self) -> Path:
        """The server's log file (read when it fails to start)."""
        return self.directory / f"redis-{self.port}.log"

    def start(self) -> None:
        """Start the server and wait (bounded) until it answers PING."""
        assert REDIS_SERVER is not None and self.process is None
        args = [
            REDIS_SERVER,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--logfile", str(self.log),
            "--daemonize", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if ping(self.port):
                return
            time.sleep(0.02)
        self.stop()
        log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        raise RuntimeError(f"redis-server on port {self.port} did not start:\n{log}")

    def stop(self) -> None:
        """Stop the server by its PID: SIGTERM, then SIGKILL if it has not exited in time."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


@contextlib.contextmanager
def running_redis(directory: Optional[Path] = None) -> Iterator[RedisServer]:
    """A started :class:`RedisServer`, stopped on exit; skips the test without ``redis-server``.

    ``directory`` holds its log (a temporary directory, removed afterwards, when omitted).
    """
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        # A port found free can be taken before the server binds it: try a few.
        for attempt in range(3):
            server = RedisServer(directory)
            try:
                server.start()
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server shared by a test module (skipped when it is not installed)."""
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server
