"""Run the parser-chunker in worker processes so parsing overlaps with embedding."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

from core.errors import DocumentError, ParseError, TooLargeError
from ingest.document_parser import DocumentParser, ParsedDocument
from ingest.parse_limits import ParseLimits, limit_memory

log = logging.getLogger(__name__)

ParserFactory = Callable[[], DocumentParser]
Outcome = ParsedDocument | DocumentError

_worker_processor: DocumentParser | None = None
_worker_limits = ParseLimits()
# The parent waits this much longer than the worker's own alarm before it kills the worker: a
# parser stuck in native code never returns to Python to notice the alarm.
_KILL_GRACE_S = 30.0


class _ParseTimeout(Exception):
    """Raised in a parser process by its per-file alarm."""


def _init_worker(factory: ParserFactory, limits: ParseLimits) -> None:
    global _worker_processor, _worker_limits  # noqa: PLW0603 - one per worker process
    parent = multiprocessing.parent_process()
    if parent is not None:
        # A parent killed with SIGKILL cannot shut its pool down; don't outlive it.
        threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    _worker_limits = limits
    limit_memory(limits.memory_bytes)  # in this process only: the parent is never limited
    signal.signal(signal.SIGALRM, _on_alarm)
    _worker_processor = factory()
    _worker_processor.warm_up()


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise _ParseTimeout


def _ready() -> bool:
    return _worker_processor is not None


def _exit_with(parent: BaseProcess) -> None:
    parent.join()
    os._exit(0)


def _process_in_worker(path: Path) -> Outcome:
    assert _worker_processor is not None, "worker used before its initializer ran"
    limits = _worker_limits
    signal.setitimer(signal.ITIMER_REAL, limits.max_parse_s)
    try:
        return process_safely(_worker_processor, path)
    except _ParseTimeout:
        return _timed_out(limits)
    except MemoryError:
        return _out_of_memory(limits)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _timed_out(limits: ParseLimits) -> ParseError:
    return ParseError(
        f"parsing took longer than the {limits.max_parse_s:g} s limit (parsing.max_parse_s)"
    )


def _out_of_memory(limits: ParseLimits) -> TooLargeError:
    return TooLargeError(
        f"parsing needed more than the {limits.memory_bytes / 1e6:g} MB memory limit "
        "(parsing.parser_memory_mb)"
    )


def process_safely(processor: DocumentParser, path: Path) -> Outcome:
    """Process one file, turning any failure into a DocumentError value with one line of text.

    A parser library can raise anything on a hostile file; one bad file must never stop the
    batch, so unexpected exceptions become per-file errors too.
    """
    try:
        return processor.process(path)
    except DocumentError as e:
        return e
    except (_ParseTimeout, MemoryError):
        raise  # the worker reports these with the limit that was hit
    except Exception as e:
        first_line = (str(e).splitlines() or [type(e).__name__])[0]
        log.debug("unexpected parser error", exc_info=True)
        return ParseError(f"{type(e).__name__}: {first_line}")


class ParserPool:
    """Maps files to processed documents, in order, with at most ``window`` in flight.

    With ``workers=0`` files are processed inline (handy for tests and tiny batches). With
    ``keep_alive`` the worker processes outlive a ``map`` (a server parsing one upload at a time
    would otherwise pay their start-up, seconds, on every file) until ``close``.

    Worker processes run under ``limits``: an address-space cap (a file needing more fails with
    a MemoryError in its worker, not the machine) and a wall-clock limit per file (an alarm in
    the worker; should the parser be stuck in native code, the parent kills the worker a
    little later and starts a fresh one). Either way the file fails with a one-line reason
    and the batch goes on.
    """

    def __init__(
        self,
        factory: ParserFactory,
        *,
        workers: int = 1,
        window: int = 16,
        keep_alive: bool = False,
        limits: ParseLimits | None = None,
        kill_grace_s: float = _KILL_GRACE_S,
    ) -> None:
        self._factory = factory
        self._limits = limits or ParseLimits()
        self._kill_grace_s = kill_grace_s
        self._workers = workers
        self._keep_alive = keep_alive
        self._window = max(window, workers)
        self._inline: DocumentParser | None = None
        self._started: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the workers and wait until each has loaded its parser (idempotent)."""
        if self._workers == 0:
            if self._inline is None:
                self._inline = self._factory()
                self._inline.warm_up()
            return
        if self._started is None:
            self._started = self._executor(multiprocessing.get_context("spawn"))
            for future in [self._started.submit(_ready) for _ in range(self._workers)]:
                future.result()

    def map(self, paths: Iterable[Path]) -> Iterator[Outcome]:
        """Yield one outcome per path, in the order given.

        With worker processes, the first files are submitted before this returns, so the
        caller can load its own models while the workers start up and parse.
        """
        queue = deque(paths)
        if self._workers == 0:
            return self._map_inline(queue)
        context = multiprocessing.get_context("spawn")  # the parent holds torch threads
        started = self._started
        executor = started or self._executor(context)
        self._started = executor if self._keep_alive else None
        ready = None if started is not None else executor.submit(_ready)
        pending: deque[tuple[Path, Future[Outcome]]] = deque()
        self._fill(executor, queue, pending)
        return self._drain(executor, context, queue, pending, ready)

    def _map_inline(self, queue: deque[Path]) -> Iterator[Outcome]:
        if self._inline is None:
            self._inline = self._factory()
        for path in queue:
            yield process_safely(self._inline, path)

    def _executor(self, context: BaseContext) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self._workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(self._factory, self._limits),
        )

    def _fill(
        self,
        executor: ProcessPoolExecutor,
        queue: deque[Path],
        pending: deque[tuple[Path, Future[Outcome]]],
    ) -> None:
        while queue and len(pending) < self._window:
            path = queue.popleft()
            pending.append((path, executor.submit(_process_in_worker, path)))

    def _drain(
        self,
        executor: ProcessPoolExecutor,
        context: BaseContext,
        queue: deque[Path],
        pending: deque[tuple[Path, Future[Outcome]]],
        ready: Future[bool] | None,
    ) -> Iterator[Outcome]:
        """Yield the outcomes in order. ``ready`` is a fresh pool's start-up marker, queued
        before its files: the parent's backstop timeout starts only once it is done, so a
        worker's start-up (seconds of imports, more on a loaded machine) is never billed to
        the file it then parses."""
        try:
            while pending:
                if ready is not None:
                    _await_start(ready)
                    ready = None
                _, future = pending.popleft()
                failure: Outcome | None = None
                try:
                    outcome = future.result(timeout=self._limits.max_parse_s + self._kill_grace_s)
                except BrokenProcessPool:
                    failure = ParseError("the parser crashed on this file")
                except FutureTimeout:
                    failure = _timed_out(self._limits)
                    _kill_workers(executor)
                if failure is not None:
                    # Blame the file at the head, retry the rest in fresh workers.
                    outcome = failure
                    queue.extendleft(reversed([p for p, _ in pending]))
                    pending.clear()
                    executor.shutdown(cancel_futures=True)
                    executor = self._executor(context)
                    ready = executor.submit(_ready)
                    if self._keep_alive:
                        self._started = executor
                self._fill(executor, queue, pending)
                yield outcome
        finally:
            if not self._keep_alive or pending:
                executor.shutdown(cancel_futures=True)
                self._started = None

    def close(self) -> None:
        """Stop kept-alive worker processes (idempotent)."""
        if self._started is not None:
            self._started.shutdown(cancel_futures=True)
            self._started = None


def _await_start(ready: Future[bool]) -> None:
    """Wait for a fresh pool's first worker to have loaded its parser (one that cannot
    start is reported by the files' own futures)."""
    with contextlib.suppress(BrokenProcessPool):
        ready.result()


def _kill_workers(executor: ProcessPoolExecutor) -> None:
    """Kill a pool's worker processes (a parser stuck past its alarm holds one)."""
    # The executor has no public way to stop a running task; its process table is the way.
    processes: dict[int, BaseProcess] = getattr(executor, "_processes", None) or {}
    for process in list(processes.values()):
        if process.is_alive():
            process.kill()
