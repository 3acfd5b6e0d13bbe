"""The writer lock: one process (and one thread) writes a workspace's catalog and bank at a time.

An `fcntl.flock` on a lock file serialises processes; a re-entrant thread lock serialises threads
and lets the holder call code that takes the lock again (sync → bank staging) without deadlock.
The kernel drops a flock when its process dies, so a SIGKILLed writer never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from indexer.errors import LockBusy

POLL_SECONDS = 0.01


class WriterLock:
    """Re-entrant inter-process lock on `path` (created on first use)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this process holds the lock."""
        return self._depth > 0

    def acquire(self, timeout: float | None = 30.0) -> None:
        """Block until held; raise LockBusy naming the lock file after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._thread_lock.acquire(timeout=-1 if timeout is None else timeout):
            raise LockBusy(f"another thread holds {self.path} for more than {timeout}s")
        if self._depth:
            self._depth += 1
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() > deadline:
                        os.close(fd)
                        raise LockBusy(f"another Shutka process is writing this workspace ({self.path}); "
                                       "wait for it or stop it") from None
                    time.sleep(POLL_SECONDS)
            self._fd = fd
            self._depth = 1
        except BaseException:
            self._thread_lock.release()
            raise

    def release(self) -> None:
        """Release one level; the file lock goes when the outermost holder releases."""
        if not self._depth:
            raise RuntimeError(f"release of {self.path} without acquire")
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        self._thread_lock.release()

    @contextlib.contextmanager
    def __call__(self, timeout: float | None = 30.0) -> Iterator[None]:
        self.acquire(timeout)
        try:
            yield
        finally:
            self.release()

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
