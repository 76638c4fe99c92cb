"""An exclusive, process-wide lock on a data directory, with a note of who holds it.

qdrant-edge lets one process open a shard; a second open fails deep inside its WAL. Taking
our own lock first lets the second process fail early with a message that names the holder.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

from filelock import FileLock, Timeout

from core.errors import StoreLockedError


class StoreLock:
    """Holds ``<path>.lock`` (an OS file lock, released if the process dies) and records the
    holder's pid, host and command in ``<path>.owner.json``."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = FileLock(str(path) + ".lock", timeout=0)
        self._owner_file = Path(str(path) + ".owner.json")

    def acquire(self) -> None:
        """Take the lock or raise StoreLockedError naming the process that holds it."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout as e:
            raise StoreLockedError(self._held_message()) from e
        owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": " ".join(sys.argv),
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        self._owner_file.write_text(json.dumps(owner))

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._lock.is_locked:
            self._owner_file.unlink(missing_ok=True)
            self._lock.release()

    def _held_message(self) -> str:
        try:
            owner = json.loads(self._owner_file.read_text())
            holder = (
                f"process {owner['pid']} on {owner['host']} ({owner['command']!r}, "
                f"since {owner['since']})"
            )
        except (OSError, ValueError, KeyError):
            holder = "another process"
        return (
            f"the index at {self._path} is in use by {holder}. Only one process may open it at "
            "a time: wait for that process to finish or stop it, or use another data directory "
            "(CITEWISE_DATA_DIR)."
        )
