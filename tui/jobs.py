"""The long tasks the views start (build the index, re-encode, sync), as jobs for `TaskScreen`:
each gets a `progress(done, total)` callback, runs in a worker thread and returns one summary line."""

from __future__ import annotations

from collections.abc import Callable

from assistant.runtime import INITIAL_BATCH_FILES
from assistant.service import Assistant
from tui.changes import describe_sync

Progress = Callable[[int, int], None]
Job = Callable[[Progress], str]
"""A task: gets a progress callback, returns a one-line summary; raises on failure."""


def reencode_job(assistant: Assistant) -> Job:
    """Re-encode every bank entry with the loaded model (progress in entries)."""

    def job(progress: Progress) -> str:
        assistant.reencode(progress)  # returns the bank's new generation number
        return f"Re-encoded {assistant.bank_stats().entries} entries with {assistant.model_name}"

    return job


def index_job(assistant: Assistant) -> Job:
    """Build (or update) the index from the disk, committing in batches of files (progress in files),
    as `shutka index` does."""

    def job(progress: Progress) -> str:
        report = assistant.sync(progress=progress, batch_files=INITIAL_BATCH_FILES)
        stats = assistant.bank_stats()
        return f"Indexed {report.added} files: {stats.entries} entries in {stats.files} files"

    return job


def sync_job(assistant: Assistant) -> Job:
    """Bring the index in step with the disk (progress in files)."""

    def job(progress: Progress) -> str:
        return describe_sync(assistant.sync(progress=progress)).removeprefix("this process: ").capitalize()

    return job
