"""A bank of its own for a model outside any workspace: what `model.predictor.memory_bank` is until a
workspace's bank is attached (the Kaggle guide's "Dynamic Memory Hygiene").

Under a directory it persists: with `auto_save` every add and delete is committed there, and a
`MemoryBank` opened on the same directory (another process, the next session) sees the entries, its
generations at least `mmap_min_bytes` large memory-mapped. The directory is the one the caller names,
else `$SHUTKA_MEMORY_BANK_DIR`, else on a Kaggle notebook `/kaggle/working/memory_bank` (where the guide
says auto-save flushes, and what the phase-2 bundle packs). Without one it lives in a temporary directory
that is removed when the bank is closed, collected, or at exit.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from pathlib import Path

from assistant.config import BankConfig
from assistant.memory.bank.bank import MemoryBank


def freestanding_bank(dim: int, directory: str | os.PathLike[str] | None = None,
                      config: BankConfig | None = None) -> MemoryBank:
    """A writable `MemoryBank` of `dim`-wide vectors in `directory` (created if missing, reopened if it
    holds a bank), or in a temporary directory of its own when neither `directory` nor the defaults
    (module docstring) name one."""
    directory = directory if directory is not None else default_directory()
    if directory is not None:
        return MemoryBank(directory, dim, config)
    return ScratchBank(dim, config)


MEMORY_BANK_DIR_ENV = "SHUTKA_MEMORY_BANK_DIR"
KAGGLE_WORKING = Path("/kaggle/working")


def default_directory() -> Path | None:
    """Where a freestanding bank persists when the caller names no directory (None: nowhere)."""
    if os.environ.get(MEMORY_BANK_DIR_ENV):
        return Path(os.environ[MEMORY_BANK_DIR_ENV])
    return KAGGLE_WORKING / "memory_bank" if KAGGLE_WORKING.is_dir() else None


class ScratchBank(MemoryBank):
    """A MemoryBank in a temporary directory, removed on `close()`, when collected, or at exit."""

    def __init__(self, dim: int, config: BankConfig | None = None) -> None:
        scratch = tempfile.mkdtemp(prefix="shutka-bank-")
        self._remove = weakref.finalize(self, shutil.rmtree, scratch, ignore_errors=True)
        try:
            super().__init__(scratch, dim, config)
        except BaseException:
            self._remove()
            raise

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._remove()
