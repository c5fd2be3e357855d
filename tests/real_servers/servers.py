"""Install, start and stop real Responses API servers for ``tests/test_real_servers.py``.

Each server gets its own virtualenv under the cache directory (``$RS_REAL_SERVERS_CACHE``, by
default ``.venv-real-servers/`` in the repository root), so the project's own environment stays
clean; pip installs pinned versions once, later runs reuse them. A tiny random-weight model is
built locally (nothing comes from a model hub). Servers bind 127.0.0.1 on a free port, every step
has a time limit, and :func:`stop` ends exactly the processes :func:`start` started.

Run one by hand to poke at it: ``python -m tests.real_servers.servers llamacpp`` (Ctrl-C stops
it).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
NAMES = ("llamacpp", "transformers", "litellm")
ENV_VAR = "RS_REAL_SERVERS"
CACHE_ENV_VAR = "RS_REAL_SERVERS_CACHE"

# The versions these tests were written against; override with RS_<NAME>_SPECS (space-separated).
SPECS: Dict[str, List[List[str]]] = {
    "llamacpp": [
        ["xllamacpp==2026.10.11549", "gguf==0.19.0", "tokenizers==0.23.3", "numpy==2.4.6"]
    ],
    # torch first and alone: an exact CPU build (RS_TORCH_SPEC) keeps pip from pulling CUDA.
    "transformers": [
        [os.environ.get("RS_TORCH_SPEC", "torch==2.13.0")],
        ["transformers[serving]==5.23.0"],
    ],
    "litellm": [["litellm[proxy]==1.106.2"]],
}
INSTALL_TIMEOUT = {"llamacpp": 300.0, "transformers": 900.0, "litellm": 600.0}
START_TIMEOUT = {"llamacpp": 30.0, "transformers": 120.0, "litellm": 120.0}
MODEL_TIMEOUT = 180.0


class ServerStartError(RuntimeError):
    """A server could not be installed or started; the message ends with its log's tail."""


@dataclass
class RunningServer:
    """A started server: where to reach it and how to call it."""

    name: str
    base_url: str
    model: str
    api_key: Optional[str]
    log: Path
    install_seconds: float
    start_seconds: float
    processes: List[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log, lines)


def selected(value: Optional[str]) -> List[str]:
    """The servers ``RS_REAL_SERVERS`` asks for: unset or empty means none, ``all`` every one,
    else a comma-separated list of names. An unknown name is an error, not a silent skip."""
    if not value or not value.strip():
        return []
    names = [n.strip().lower() for n in value.split(",") if n.strip()]
    if "all" in names:
        return list(NAMES)
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise ValueError(
            f"{ENV_VAR}={value!r}: unknown server(s) {unknown}; use 'all' or some of {NAMES}"
        )
    return names


def cache_dir() -> Path:
    path = Path(os.environ.get(CACHE_ENV_VAR) or REPO / ".venv-real-servers")
    path.mkdir(parents=True, exist_ok=True)
    ignore = path / ".gitignore"
    if not ignore.exists():  # the cache never shows up in `git status`
        ignore.write_text("*\n")
    return path


# ----------------------------------------------------------------------------- processes


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / name


def _run(cmd: Sequence[str], log: Path, timeout: float, what: str) -> None:
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(map(str, cmd))}\n".encode())
        out.flush()
        try:
            done = subprocess.run(
                list(cmd), stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise ServerStartError(
                f"{what} took more than {timeout:.0f} s; see {log}\n{_tail(log)}"
            ) from None
    if done.returncode != 0:
        raise ServerStartError(f"{what} failed (exit {done.returncode}); see {log}\n{_tail(log)}")


def _spawn(
    cmd: Sequence[str], log: Path, env: Optional[Dict[str, str]] = None
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(map(str, cmd))}\n".encode())
        out.flush()
        return subprocess.Popen(
            list(cmd),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=os.name != "nt",  # its own process group, ended as one at stop
        )


def _end(proc: subprocess.Popen[bytes]) -> None:
    """End one process we started (and its process group), politely first."""
    if proc.poll() is None:
        try:
            if os.name == "nt":
                proc.terminate()
            else:
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            if os.name == "nt":
                proc.kill()
            else:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        except ProcessLookupError:
            pass
    proc.wait()


def _wait_ready(
    url: str, procs: Sequence[subprocess.Popen[bytes]], log: Path, timeout: float, what: str
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        for proc in procs:
            if proc.poll() is not None:
                raise ServerStartError(
                    f"{what} exited with {proc.returncode} while starting; see {log}\n{_tail(log)}"
                )
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status < 300:
                    return
        except urllib.error.HTTPError as exc:
            exc.close()  # not ready yet (503 while loading)
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise ServerStartError(
                f"{what} not ready at {url} after {timeout:.0f} s; see {log}\n{_tail(log)}"
            )
        time.sleep(0.2)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise installs into one cache between concurrent test runs (POSIX only)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        yield
        return
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _specs(name: str) -> List[List[str]]:
    override = os.environ.get(f"RS_{name.upper()}_SPECS")
    return [override.split()] if override else SPECS[name]


def _install(name: str, work: Path, log: Path) -> Path:
    """The server's venv, created and pip-installed unless an identical one exists."""
    venv = work / "venv"
    stamp = venv / "rs-installed.txt"
    wanted = f"{sys.version_info[:2]} {_specs(name)}"
    if stamp.exists() and stamp.read_text() == wanted:
        return venv
    _run(
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        log,
        120,
        f"creating the {name} venv",
    )
    python = str(_bin(venv, "python"))
    deadline = time.monotonic() + INSTALL_TIMEOUT[name]
    for group in _specs(name):
        left = max(deadline - time.monotonic(), 1.0)
        cmd = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *group]
        _run(cmd, log, left, f"pip install {' '.join(group)}")
    stamp.write_text(wanted)
    return venv


def _built(work: Path, script: str, suffix: str) -> Path:
    """Where the model built by ``script`` goes: named after the script's hash, so an edited
    builder gives a new model."""
    digest = hashlib.sha256((HERE / script).read_bytes()).hexdigest()[:12]
    return work / f"tiny-llama-{digest}{suffix}"


# ------------------------------------------------------------------------------ servers


def _start_llamacpp(work: Path, venv: Path, log: Path) -> RunningServer:
    python = str(_bin(venv, "python"))
    model = _built(work, "make_tiny_gguf.py", ".gguf")
    if not model.exists():
        tmp = model.with_suffix(".tmp")
        _run([python, str(HERE / "make_tiny_gguf.py"), str(tmp)], log, MODEL_TIMEOUT, "model")
        tmp.replace(model)
    port = _free_port()
    proc = _spawn([python, str(HERE / "xllamacpp_server.py"), str(model), str(port), "tiny"], log)
    server = RunningServer(
        "llamacpp", f"http://127.0.0.1:{port}/v1", "tiny", None, log, 0.0, 0.0, [proc]
    )
    return _ready(server, f"http://127.0.0.1:{port}/health")


def _start_transformers(work: Path, venv: Path, log: Path) -> RunningServer:
    python = str(_bin(venv, "python"))
    model = _built(work, "make_tiny_model.py", "")
    if not (model / "model.safetensors").exists():
        _run([python, str(HERE / "make_tiny_model.py"), str(model)], log, MODEL_TIMEOUT, "model")
    hub = work / "hf-cache"  # /v1/models fails unless the hub cache directory exists
    hub.mkdir(exist_ok=True)
    env = {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_CACHE": str(hub),
    }
    port = _free_port()
    cmd = [str(_bin(venv, "transformers")), "serve", str(model)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    proc = _spawn(cmd, log, env)
    # The server is pinned to the model given at start: requests send exactly this path.
    server = RunningServer(
        "transformers", f"http://127.0.0.1:{port}/v1", str(model), None, log, 0.0, 0.0, [proc]
    )
    return _ready(server, f"http://127.0.0.1:{port}/health")


def _start_litellm(work: Path, venv: Path, log: Path) -> RunningServer:
    upstream_port = _free_port()
    upstream = _spawn(
        [sys.executable, str(HERE / "fake_chat_upstream.py"), str(upstream_port)], log
    )
    server = RunningServer("litellm", "", "fake-bridge", None, log, 0.0, 0.0, [upstream])
    try:
        _wait_ready(
            f"http://127.0.0.1:{upstream_port}/v1/models", [upstream], log, 20, "fake upstream"
        )
        config = work / "config.yaml"
        config.write_text(
            "model_list:\n"
            "  - model_name: fake-bridge\n"
            "    litellm_params:\n"
            "      model: openai/fake-model\n"
            f"      api_base: http://127.0.0.1:{upstream_port}/v1\n"
            "      api_key: sk-fake\n"
            "      use_chat_completions_api: true   # the Responses -> Chat bridge\n"
            "general_settings:\n"
            "  master_key: os.environ/LITELLM_MASTER_KEY   # a well-known key is refused\n"
            "litellm_settings:\n"
            "  telemetry: false\n"
        )
        key = "sk-" + secrets.token_hex(16)
        env = {
            "LITELLM_MASTER_KEY": key,
            "LITELLM_TELEMETRY": "False",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        }
        port = _free_port()
        cmd = [str(_bin(venv, "litellm")), "--config", str(config)]
        cmd += ["--host", "127.0.0.1", "--port", str(port)]
        server.processes.append(_spawn(cmd, log, env))
        server.base_url = f"http://127.0.0.1:{port}/v1"
        server.api_key = key
    except BaseException:
        stop(server)
        raise
    return _ready(server, f"http://127.0.0.1:{port}/health/liveliness")


def _ready(server: RunningServer, health_url: str) -> RunningServer:
    try:
        _wait_ready(
            health_url, server.processes, server.log, START_TIMEOUT[server.name], server.name
        )
    except BaseException:
        stop(server)
        raise
    return server


_STARTERS: Dict[str, Callable[[Path, Path, Path], RunningServer]] = {
    "llamacpp": _start_llamacpp,
    "transformers": _start_transformers,
    "litellm": _start_litellm,
}


def start(name: str) -> RunningServer:
    """Install (first time only), build the model and start server ``name``; wait until it
    answers its health check. Raises :class:`ServerStartError` with the log's tail."""
    work = cache_dir() / name
    work.mkdir(exist_ok=True)
    log = work / "server.log"
    log.write_bytes(b"")
    began = time.monotonic()
    with _locked(work.with_suffix(".lock")):
        venv = _install(name, work, log)
        installed = time.monotonic()
        server = _STARTERS[name](work, venv, log)
    server.install_seconds = installed - began
    server.start_seconds = time.monotonic() - installed
    return server


def stop(server: RunningServer) -> None:
    """End every process :func:`start` started for ``server`` (last started first)."""
    for proc in reversed(server.processes):
        _end(proc)
    server.processes.clear()


def main(argv: Sequence[str]) -> int:
    names = selected(",".join(argv)) or ["llamacpp"]
    running = []
    try:
        for name in names:
            server = start(name)
            running.append(server)
            key = f", api_key {server.api_key}" if server.api_key else ""
            print(
                f"{name}: {server.base_url} (model {server.model!r}{key}); "
                f"install {server.install_seconds:.1f} s, start {server.start_seconds:.1f} s; "
                f"log {server.log}",
                flush=True,
            )
        print("Ctrl-C stops them.", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        for server in running:
            stop(server)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
