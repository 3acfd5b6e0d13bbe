"""Errors raised by the assistant: checkpoints, model, bank, engine."""

from __future__ import annotations

from pathlib import Path

from indexer.errors import DatabaseDamaged, ShutkaError


class AssistantError(ShutkaError):
    """Base of the assistant's errors; surfaces translate it once (CLI, HTTP, LSP, TUI)."""


class CheckpointError(AssistantError):
    """A checkpoint cannot be used."""


class CheckpointCorrupt(CheckpointError):
    """A checkpoint file is truncated, unreadable or not a Shutka checkpoint."""


class CheckpointMismatch(CheckpointError):
    """A checkpoint was written for another config; the message names the key and both values."""


class ModelNotLoaded(AssistantError):
    """An operation needs the model, but none is loaded."""


class BankError(AssistantError):
    """The memory bank cannot serve a request."""


class BankCorrupt(BankError):
    """The bank's files are unreadable; `shutka index --rebuild` writes a fresh one."""


class BankVectorsDamaged(BankCorrupt):
    """A generation file does not match what its commit recorded (size, checksum) or cannot be read.
    The entries' texts are intact: re-encoding them (`MemoryBank.rebuild`) repairs it."""

    def __init__(self, path: Path | str, why: str) -> None:
        self.path, self.why = Path(path), why
        super().__init__(f"the bank's vector file {path} is unusable ({why}); the entries' texts are "
                         "intact: run `shutka index --rebuild` to re-encode them into a fresh file")

    def __reduce__(self) -> tuple[object, ...]:
        return type(self), (self.path, self.why)


class BankDatabaseDamaged(BankCorrupt, DatabaseDamaged):
    """The database holding the bank's tables is damaged (the same error the catalog raises)."""

    def __init__(self, path: Path | str, why: str) -> None:
        DatabaseDamaged.__init__(self, path, why)


class BankNotAttached(BankError):
    """`model.predictor.memory_bank` was used before a bank was attached."""


class BankLocked(BankError):
    """Another process holds the bank's writer lock."""


class BankModelMismatch(BankError):
    """The bank was encoded by another model; it must be re-encoded before use."""


class InvalidRequest(AssistantError):
    """A request is malformed (bad position, wrong types); the message says which field."""

    param: str | None = None
    """The request field it is about, when one is: surfaces name it (the API's `param`, the LSP's argument)."""


class TitansPathRefused(InvalidRequest):
    """A Titans save or load path outside `.shutka/titans/`, or not usable there; the message says which."""

    param = "path"
