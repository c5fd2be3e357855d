"""The benchmark servers' processes: started with a command, ready on a READY line, stopped by
PID (shared by :mod:`benchmarks.run` and :mod:`benchmarks.scale`)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent


def run_worker_process(
    module: str, spec: Dict[str, Any], limit: float
) -> Tuple[List[Dict[str, Any]], Optional[str], List[str]]:
    """Run ``python -m module <spec as JSON>`` in a fresh process, killed after ``limit`` s.

    Returns the dicts it printed on ``RESULT `` lines, why it failed (None if it exited 0)
    and the last lines of its stderr.
    """
    cmd = [sys.executable, "-m", module, json.dumps(spec)]
    failure, stdout, stderr = None, "", ""
    try:
        cp = subprocess.run(
            cmd, check=False, cwd=REPO, capture_output=True, text=True, timeout=limit
        )  # kills the child on timeout
        stdout, stderr = cp.stdout, cp.stderr
        if cp.returncode != 0:
            failure = f"worker exited with {cp.returncode}"
    except subprocess.TimeoutExpired as exc:
        failure = f"worker timed out after {limit:.0f}s"
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
    results = [json.loads(line[7:]) for line in stdout.splitlines() if line.startswith("RESULT ")]
    return results, failure, stderr.strip().splitlines()[-3:]


class ServerProcess:
    """A benchmark server (``module``) in its own process, always stopped by PID.

    ``prepare`` names the streams :mod:`benchmarks.server` renders before it serves; the
    server prints ``READY <port>`` (and, for that server, the bulk body sizes as JSON).
    """

    def __init__(
        self,
        prepare: Sequence[str],
        max_seconds: float,
        cpu: Optional[int] = None,
        *,
        module: str = "benchmarks.server",
    ) -> None:
        self.log_file: IO[bytes] = tempfile.NamedTemporaryFile(
            prefix=f"bench-{module.rpartition('.')[2]}-", suffix=".log", delete=False
        )
        cmd = [sys.executable, "-m", module, "--max-seconds", str(max_seconds)]
        if prepare:
            cmd += ["--prepare", ",".join(prepare)]
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=self.log_file, text=True
        )
        if cpu is not None:  # before it has rendered its streams, long before it serves
            os.sched_setaffinity(self.proc.pid, {cpu})
        self.port = 0
        self.sizes: Dict[str, int] = {}  # bulk body sizes in bytes, from the READY line

    def wait_ready(self, timeout: float = 120.0) -> int:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                line = self.proc.stdout.readline()
                if line.startswith("READY "):
                    _, port, *sizes = line.split(" ", 2)
                    self.port = int(port)
                    self.sizes = json.loads(sizes[0]) if sizes else {}
                    return self.port
            if self.proc.poll() is not None:
                break
        raise RuntimeError(f"{self.proc.args[2]} did not start; see {self.log_file.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log_file.close()
        try:
            os.unlink(self.log_file.name)
        except OSError:
            pass
