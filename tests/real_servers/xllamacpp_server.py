"""Run llama.cpp's own C++ HTTP server (embedded in the ``xllamacpp`` wheel) on 127.0.0.1.

Runs in the llama.cpp venv: ``python xllamacpp_server.py MODEL.gguf PORT [ALIAS]``; exits on
SIGTERM/SIGINT within about a second. Adapted from ``shared/tools/real-servers/`` (SOURCES.md).
"""

import signal
import sys
import threading

import xllamacpp as xlc


def main() -> None:
    model, port = sys.argv[1], int(sys.argv[2])
    alias = sys.argv[3] if len(sys.argv) > 3 else "tiny"
    params = xlc.CommonParams()
    params.model.path = model
    params.n_ctx = 1024
    params.n_parallel = 2
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.model_alias = {alias}
    params.cpuparams.n_threads = 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = xlc.Server(params)  # loads the model and starts llama.cpp's HTTP server threads
    address = server.listening_address
    if not address:
        sys.exit("llama.cpp HTTP server did not start (port busy?)")
    print("listening on", address, flush=True)
    while not stop.wait(0.5):
        pass
    del server  # stops the HTTP server and frees the model


if __name__ == "__main__":
    main()
