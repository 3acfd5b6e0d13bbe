"""Is the workspace's index usable by the loaded model? Pure checks over `Assistant.status()`.

Two states stop the browser from being useful and get a screen with a fixing action instead
(see `tui.screens.setup`): no index yet, and a bank whose vectors another model wrote (latents of
two models are never mixed, so searches would fail until the bank is re-encoded). Errors raised
while opening are described here too, so no traceback ever reaches the screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from assistant.errors import BankError, BankModelMismatch, CheckpointError
from assistant.types import Status
from indexer.errors import ConfigError, DatabaseDamaged, ShutkaError

ProblemKind = Literal["missing", "incompatible"]


@dataclass(frozen=True, slots=True)
class IndexProblem:
    """Why the index cannot be browsed as it is, and what will fix it."""

    kind: ProblemKind
    """`missing`: never indexed; `incompatible`: encoded by another model."""
    title: str
    """A short heading."""
    message: str
    """What is wrong and what the action does, in plain words."""
    action: str
    """The label of the fixing action."""


def diagnose(status: Status) -> IndexProblem | None:
    """The problem with this workspace's index, or None when it can be browsed."""
    if status.catalog_generation == 0 and status.bank.entries == 0:
        return IndexProblem(
            "missing", "This workspace has no index yet",
            f"Shutka has not indexed this workspace ({Path(status.workspace).name}) yet, so there is nothing to "
            "browse. Building the "
            "index parses every TypeScript file, encodes its definitions and lines with the loaded model "
            f"({status.model}) and stores them in .shutka/ (your files are never modified).",
            "Build the index")
    if mismatch(status):
        return IndexProblem(
            "incompatible", "The memory bank was encoded by another model",
            f"The bank's {status.bank.entries} entries were encoded by model {status.bank.model_digest}, "
            f"but this session runs {status.model_digest} ({status.model}). Latents of two models are never "
            "mixed, so search and completions cannot use the bank until it is re-encoded. Re-encoding keeps "
            "every entry and its text and only recomputes the vectors. If a watcher or the language server "
            "runs on this workspace with another model, stop it or start it with the same checkpoint first, "
            "or it will re-encode the bank back.",
            "Re-encode with this model")
    return None


def mismatch(status: Status) -> bool:
    """True when the bank holds entries encoded by a model other than the loaded one."""
    return status.bank.entries > 0 and status.bank.model_digest not in (None, status.model_digest)


@dataclass(frozen=True, slots=True)
class OpenFailure:
    """An error raised while opening the workspace, as the user should read it."""

    title: str
    """A short heading."""
    message: str
    """The error's own message."""
    hint: str
    """What to try next."""


def describe_open_error(error: BaseException) -> OpenFailure:
    """Turn an exception from `build_runtime` into words (never a traceback)."""
    text = str(error) or type(error).__name__
    if isinstance(error, CheckpointError):
        return OpenFailure("The model checkpoint cannot be used", text,
                           "Pass a checkpoint with --checkpoint PATH or set SHUTKA_CHECKPOINT, then retry.")
    if isinstance(error, BankModelMismatch):
        return OpenFailure("The memory bank was encoded by another model", text,
                           "Run `shutka index --rebuild PATH` with this checkpoint, then retry.")
    if isinstance(error, DatabaseDamaged):       # what every surface says about it (indexer.errors)
        return OpenFailure("The workspace's database is damaged", text, "Run `shutka index PATH`, then retry.")
    if isinstance(error, BankError):
        return OpenFailure("The memory bank cannot be opened", text,
                           "Run `shutka index --rebuild PATH`; if it fails with the same message, delete "
                           "PATH/.shutka and index again (the Titans memory starts over).")
    if isinstance(error, ConfigError):
        return OpenFailure("shutka.toml is invalid", text, "Fix the key named above, then retry.")
    if isinstance(error, ShutkaError):
        return OpenFailure("The workspace cannot be opened", text, "Fix the problem above, then retry.")
    return OpenFailure("Unexpected error while opening the workspace", f"{type(error).__name__}: {text}",
                       "Run with -vv --log-file FILE for the full traceback.")
