"""Real servers on loopback for the tests: a free port, the app under uvicorn in a thread, or
``citewise serve`` in a subprocess, each waited for until it is ready."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_in_thread(app: ASGIApp, *, timeout_s: float = 300, **config: Any) -> Iterator[int]:
    """``app`` under a real uvicorn server (real lifespan) on a free loopback port, in a
    thread; yields the port once the lifespan has started, stops the server on exit.

    ``config`` goes to ``uvicorn.Config`` (e.g. ``ssl_certfile``)."""
    port = free_port()
    config.setdefault("lifespan", "on")
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **config)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    # uvicorn sets ``started`` after the lifespan's start-up (models loaded) and the bind.
    while not server.started:
        assert thread.is_alive(), "the server stopped during start-up"
        assert time.monotonic() < deadline, f"the server was not ready within {timeout_s} s"
        time.sleep(0.1)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=60)


@contextmanager
def citewise_serve(
    env: Mapping[str, str],
    *,
    port: int | None = None,
    log: Path | None = None,
    timeout_s: float = 240,
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``citewise serve`` in a subprocess with ``env`` on a loopback port (a free one unless
    given); yields the process and its base URL once ``/readyz`` answers 200, and stops it on
    exit. Its output goes to ``log`` if given (else stderr is kept for a start-up failure's
    message)."""
    port = port if port is not None else free_port()
    with ExitStack() as stack:
        out = stack.enter_context(log.open("wb")) if log is not None else None
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env={**env},
            stdout=out if out is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if out is not None else subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(process, url, log, timeout_s)
            yield process, url
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)


def _wait_ready(
    process: subprocess.Popen[bytes], url: str, log: Path | None, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            if log is not None:
                output = log.read_text(errors="replace")
            else:
                output = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise AssertionError(f"citewise serve exited at start-up: {output[-4000:]}")
        with suppress(httpx.TransportError):
            if httpx.get(f"{url}/readyz").status_code == 200:
                return
        assert time.monotonic() < deadline, f"citewise serve was not ready within {timeout_s} s"
        time.sleep(0.3)
