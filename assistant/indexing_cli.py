"""`shutka index PATH [--verify]` and `shutka watch PATH`: build, check and follow a workspace's index."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from pathlib import Path

import click

log = logging.getLogger(__name__)

CHECKPOINT = click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                          help="Model that encodes the bank (default: the bundled one).")


@click.command("index")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path), default=".")
@click.option("--verify", is_flag=True, help="Compare bank and catalog with a fresh chunking of the disk; "
                                               "exit 1 on any difference.")
@click.option("--rebuild", is_flag=True, help="Re-encode every bank entry from its stored text first "
                                               "(repairs a damaged or missing vector file).")
@CHECKPOINT
def index_command(path: Path, verify: bool, rebuild: bool, checkpoint: Path | None) -> None:
    """Build or update PATH's index (catalog + memory bank)."""
    from assistant.runtime import check_database, open_runtime, rebuild_bank

    t0 = time.monotonic()
    check_database(path)              # damage anywhere in index.sqlite, not only what opening reads
    bars = _Bars()
    with bars:
        if rebuild and (path / ".shutka" / "index.sqlite").exists():
            rebuild_bank(path, checkpoint, lambda done, total: bars.update("reencode", done, total))
    # a damaged bank file or index.sqlite is recovered while opening (one warning, the same every surface
    # gives), then the sync re-chunks and re-encodes from the disk what the recovery could not keep
    with bars, open_runtime(path, checkpoint=checkpoint, sync=True, completion={"adapt": False},
                            progress=bars.update) as runtime:
        bars.close()
        assistant = runtime.assistant
        report = assistant.last_sync
        assert report is not None
        counts = assistant.index_counts()
        stats = assistant.bank_stats()
        click.echo(f"indexed {runtime.workspace.root}: {counts.get('files', 0)} files, "
                   f"{counts.get('chunks', 0)} chunks, {stats.entries} bank entries "
                   f"({stats.by_kind.get('line', 0)} lines); this run: {report.added} new or changed files, "
                   f"{report.removed} removed, {report.moved} moved, {report.skipped} skipped, "
                   f"{report.encoded} encoded, {report.reused} reused, {time.monotonic() - t0:.1f} s; "
                   f"{masked_summary(counts.get('secrets', 0), counts.get('secret_files', 0))}")
        if verify:
            result = assistant.verify()
            if not result.ok:
                for line in result.differences:
                    click.echo(f"DIFF {line}", err=True)
                raise click.ClickException(f"verify: {len(result.differences)} difference(s) between the "
                                           "index and the disk")
            click.echo(f"verify: OK ({result.files} files, {result.chunks} chunks, {result.entries} entries; "
                       f"{masked_summary(result.secrets, result.secret_files)})")


def masked_summary(secrets: int, files: int) -> str:
    """How many secrets the index holds masked, never what: `masked 3 secrets in 2 files`."""
    return f"masked {secrets} secret{'' if secrets == 1 else 's'} in {files} file{'' if files == 1 else 's'}"


class _Bars:
    """One tqdm bar per phase (`index`: files, `reencode`: entries) on stderr, closed together."""

    UNITS = {"index": "file", "reencode": "entry"}

    def __init__(self) -> None:
        self._bars: dict[str, object] = {}

    def update(self, phase: str, done: int, total: int) -> None:
        from tqdm import tqdm

        bar = self._bars.get(phase)
        if bar is None:
            bar = self._bars[phase] = tqdm(desc=phase, unit=self.UNITS.get(phase, "it"), file=sys.stderr,
                                           leave=False)
        bar.total = total  # type: ignore[attr-defined]
        bar.update(done - bar.n)  # type: ignore[attr-defined]

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()  # type: ignore[attr-defined]
        self._bars.clear()

    def __enter__(self) -> _Bars:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@click.command("watch")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path), default=".")
@CHECKPOINT
def watch_command(path: Path, checkpoint: Path | None) -> None:
    """Keep PATH's index in sync until interrupted; log every sync with its latency."""
    from assistant.runtime import open_runtime
    from assistant.types import SyncReport

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def on_sync(report: SyncReport) -> None:
        click.echo(f"sync generation {report.generation}: +{report.added} -{report.removed} "
                   f"moved {report.moved} skipped {report.skipped}, encoded {report.encoded}, reused "
                   f"{report.reused}, {report.latency_ms:.1f} ms from event to commit", err=True)

    with open_runtime(path, checkpoint=checkpoint, sync=True, watch=False) as runtime:
        runtime.assistant.add_listener(on_sync)
        runtime.start_watcher()
        click.echo(f"watching {runtime.workspace.root} (Ctrl-C to stop)", err=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        click.echo("stopped", err=True)
