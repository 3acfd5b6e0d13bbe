"""The workspace's Titans memory: episodes in SQLite (beside the catalog and the bank, so deleting
code deletes its episodes in the same commit), the memory weights in `.shutka/titans/`.

An episode is one surprising association the memory was written with: key (context latent),
value (latent of the line that followed), the line's text and file, its surprise and how often
it was recalled. The model's `TitansMemory` (assistant.memory.titans_memory) holds the memory state and an
in-memory `EpisodicStore` that mirrors the table (source id = row id).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch

from assistant.errors import AssistantError, CheckpointCorrupt
from assistant.memory.episodes import EpisodicStore
from assistant.model.jepa import UltraEfficientTextJEPA
from assistant.types import Episode, TitansStats
from indexer import migrations
from indexer.dbutil import enable_wal

log = logging.getLogger(__name__)

TITANS = migrations.register(migrations.Component("titans", (
    (  # 1: episodes and the model that wrote them (IF NOT EXISTS: the tables predate the registry)
        """CREATE TABLE IF NOT EXISTS titans_episodes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            file TEXT,
            content_hash TEXT,
            text TEXT NOT NULL,
            surprise REAL NOT NULL,
            access INTEGER NOT NULL DEFAULT 0,
            key BLOB NOT NULL,
            value BLOB NOT NULL,
            added_at REAL NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS titans_episodes_file ON titans_episodes(file)",
        "CREATE TABLE IF NOT EXISTS titans_model (id INTEGER PRIMARY KEY CHECK (id = 0), digest TEXT NOT NULL)",
    ),
)))


class TitansStore:
    """Persistence and bookkeeping of one workspace's Titans memory around a loaded model."""

    def __init__(self, db_path: Path, state_dir: Path, model: UltraEfficientTextJEPA,
                 model_digest: str | None = None, adopt: bool = True) -> None:
        """`model_digest` names the loaded model. Episodes (and the saved memory) written by another
        model hold that model's latents: with `adopt` they are dropped and the workspace's memory starts
        anew for this model; without, they are left on disk but not used, and nothing new is written."""
        if model.titans is None:
            raise AssistantError("the loaded model has no Titans memory (use_titans=False)")
        self.db_path, self.state_dir, self.model = db_path, state_dir, model
        self.memory = model.titans_memory
        """The memory's state and episodes (this store keeps them in step with the table)."""
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(db_path, check_same_thread=False, timeout=30.0, isolation_level=None)
        enable_wal(self._conn)
        with self._lock:
            try:
                migrations.migrate(self._conn, [TITANS.name])
            except migrations.SchemaTooNew as exc:
                self._conn.close()
                raise AssistantError(f"{db_path}: the Titans episodes are at schema version {exc.found}, newer "
                                     f"than this Shutka understands ({exc.known}); upgrade Shutka") from exc
        self.foreign = False
        """The episodes on disk belong to another model and are not used (see `adopt`)."""
        same_model = self._check_model(model_digest, adopt)
        self.weights_path = state_dir / "titans" / "workspace_titans.pt"
        if self.weights_path.is_file() and same_model:
            try:
                self.memory.load(self.weights_path)
            except AssistantError as exc:
                log.warning("ignoring the saved Titans memory %s: %s", self.weights_path, exc)
        self.refresh()

    def _check_model(self, digest: str | None, adopt: bool) -> bool:
        """Whether the stored memory was written by the model `digest` (unknown counts as yes)."""
        if digest is None:
            return True
        with self._lock:
            row = self._conn.execute("SELECT digest FROM titans_model WHERE id = 0").fetchone()
            if row is not None and row[0] == digest:
                return True
            if row is not None and not adopt:
                self.foreign = True
                log.warning("the Titans episodes here were written by another model (%s); not using them", row[0])
                return False
            self._conn.execute("BEGIN IMMEDIATE")
            if row is not None:
                dropped = self._conn.execute("DELETE FROM titans_episodes").rowcount
            else:  # written before models were recorded: only what cannot be this model's goes
                width = self._episode_bytes()
                dropped = self._conn.execute("DELETE FROM titans_episodes WHERE length(key) != ? OR length(value) != ?",
                                             (width, width)).rowcount
            self._conn.execute("INSERT OR REPLACE INTO titans_model VALUES (0, ?)", (digest,))
            self._conn.execute("COMMIT")
        if dropped:
            log.warning("dropped %d Titans episodes written by another model (%s): their keys are that "
                        "model's latents; the memory starts anew for %s", dropped, row[0] if row else "unknown",
                        digest)
        return row is None

    def _episode_bytes(self) -> int:
        """Bytes of one stored key or value: this model's latent width in float32."""
        return 4 * self.model.config.latent_dim

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- staging inside the sync transaction ------------------------------------------------------------

    @staticmethod
    def stage_delete_file(conn: sqlite3.Connection, path: str) -> int:
        return conn.execute("DELETE FROM titans_episodes WHERE file = ?", (path,)).rowcount

    @staticmethod
    def stage_rename_file(conn: sqlite3.Connection, old: str, new: str) -> int:
        return conn.execute("UPDATE titans_episodes SET file = ? WHERE file = ?", (new, old)).rowcount

    @staticmethod
    def stage_prune_file(conn: sqlite3.Connection, path: str, keep_hashes: Iterable[str]) -> int:
        """Drop episodes of `path` whose line is no longer in the file's new version."""
        keep = set(keep_hashes)
        rows = conn.execute("SELECT id, content_hash FROM titans_episodes WHERE file = ?", (path,)).fetchall()
        gone = [(i,) for i, h in rows if h not in keep]
        conn.executemany("DELETE FROM titans_episodes WHERE id = ?", gone)
        return len(gone)

    # -- the in-memory mirror ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Make the model's episodic store match the table (after a commit, or another process)."""
        dim = self.model.config.latent_dim
        store = EpisodicStore(dim, self.model.config.titans_capacity)
        rows = []
        if not self.foreign:  # another model's episodes are never used: not even read
            with self._lock:
                rows = self._conn.execute(
                    "SELECT id, surprise, access, key, value FROM titans_episodes ORDER BY id").fetchall()
        width = self._episode_bytes()
        fits = [r for r in rows if len(r[3]) == len(r[4]) == width]  # another process may run another model
        if len(fits) < len(rows):
            log.warning("%d Titans episodes do not fit this model's latents (%d wide); not using them",
                        len(rows) - len(fits), dim)
        rows = fits
        if rows:
            ids = torch.tensor([r[0] for r in rows], dtype=torch.long)
            keys = torch.from_numpy(np.stack([np.frombuffer(r[3], dtype=np.float32) for r in rows]))
            values = torch.from_numpy(np.stack([np.frombuffer(r[4], dtype=np.float32) for r in rows]))
            store.add(keys, values, torch.tensor([r[1] for r in rows]), ids)
            store.access = torch.tensor([r[2] for r in rows], dtype=torch.long)[: len(store)]
        self.memory.episodic = store

    # -- writes -----------------------------------------------------------------------------------------

    def learn(self, keys: torch.Tensor, values: torch.Tensor, texts: list[str], files: list[str | None],
              hashes: list[str | None]) -> tuple[int, float]:
        """Write associations (N, L) into the memory; keep the surprising ones as episodes.

        -> (episodes kept, mean surprise before the write)."""
        if len(texts) == 0 or self.foreign:
            return 0, 0.0
        with self._lock:
            surprise = self.memory.surprise(keys, values)
            result = self.memory.write(keys, values, None)
            keep = surprise >= self.model.config.titans_surprise_threshold
            kept = 0
            if bool(result.written[0]) and bool(keep.any()):
                now = time.time()
                self._conn.execute("BEGIN IMMEDIATE")
                for i in keep.nonzero().flatten().tolist():
                    self._conn.execute(
                        "INSERT INTO titans_episodes (file, content_hash, text, surprise, access, key, value, "
                        "added_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
                        (files[i], hashes[i], texts[i], float(surprise[i]),
                         keys[i].float().numpy().tobytes(), values[i].float().numpy().tobytes(), now))
                    kept += 1
                self._trim()
                self._conn.execute("COMMIT")
                self.refresh()
            return kept, float(surprise.mean())

    def drop_secrets(self, mask: Callable[[str], str]) -> int:
        """Delete the episodes whose line holds a secret by `mask` (a length-keeping masker, see
        indexer.secrets): lines learned before masking existed, or under other [indexer] settings.
        Lines learned since are masked on the way in and never kept. One scan of all texts joined.
        -> episodes deleted."""
        with self._lock:
            rows = self._conn.execute("SELECT id, text FROM titans_episodes ORDER BY id").fetchall()
            joined = "\n".join(text for _, text in rows)
            masked = mask(joined) if rows else joined
            if masked == joined:
                return 0
            gone, at = [], 0
            for episode, text in rows:
                if masked[at:at + len(text)] != text:
                    gone.append((episode,))
                at += len(text) + 1
            self._conn.execute("PRAGMA secure_delete = ON")  # the deleted lines are zeroed on disk too
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany("DELETE FROM titans_episodes WHERE id = ?", gone)
            self._conn.execute("COMMIT")
            self.refresh()
        log.warning("dropped %d Titans episode(s) whose line held a secret", len(gone))
        return len(gone)

    def _trim(self) -> None:
        capacity = self.model.config.titans_capacity
        (count,) = self._conn.execute("SELECT COUNT(*) FROM titans_episodes").fetchone()
        if count > capacity:
            self._conn.execute("DELETE FROM titans_episodes WHERE id IN (SELECT id FROM titans_episodes "
                               "ORDER BY access ASC, id ASC LIMIT ?)", (count - capacity,))

    def reset(self) -> None:
        """Forget everything: empty memory weights and no episodes (evaluation starts clean)."""
        with self._lock:
            self._conn.execute("DELETE FROM titans_episodes")
            self.memory.reset()
            self.refresh()

    def touch(self, episode_ids: Iterable[int]) -> None:
        """Count a recall of these episodes (they answered a read)."""
        ids = [(int(i),) for i in episode_ids]
        if ids:
            with self._lock:
                self._conn.executemany("UPDATE titans_episodes SET access = access + 1 WHERE id = ?", ids)
                store = self.memory.episodic
                store.access[torch.isin(store.source_ids, torch.tensor([i for (i,) in ids]))] += 1

    def forget(self, n: int) -> int:
        """Drop the n least-accessed episodes (oldest first among equals)."""
        with self._lock:
            cur = self._conn.execute("DELETE FROM titans_episodes WHERE id IN (SELECT id FROM titans_episodes "
                                     "ORDER BY access ASC, id ASC LIMIT ?)", (max(0, int(n)),))
            self.refresh()
            return cur.rowcount

    def save(self, path: Path | None = None) -> Path:
        """Memory weights + episodic tensors (safetensors, tensors only). While the workspace's memory
        belongs to another model (`foreign`), its own file is left as it is."""
        if self.foreign and path is None:
            return self.weights_path
        with self._lock:
            return self.memory.save(path or self.weights_path)

    def load(self, path: Path | None = None) -> Path:
        """Load weights and episodes saved by `save` (default: the workspace's own file) and return the
        path read. Episode rows forgotten since that save stay forgotten (their text lived in the
        database); episodes the file does not hold are dropped."""
        if path is None:
            path = self.weights_path
            if not path.is_file():
                raise CheckpointCorrupt(f"{path}: no Titans memory has been saved for this workspace yet "
                                        "(save it first)")
        with self._lock:
            self.memory.load(path)
            ids = self.memory.episodic.source_ids.tolist()
            if ids:
                marks = ",".join("?" * len(ids))
                self._conn.execute(f"DELETE FROM titans_episodes WHERE id NOT IN ({marks})", ids)
            self.refresh()
        return path

    # -- reading for surfaces ---------------------------------------------------------------------------

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM titans_episodes").fetchone()[0])

    def texts(self, ids: Iterable[int]) -> dict[int, str]:
        return {i: text for i, (text, _) in self.lines(ids).items()}

    def lines(self, ids: Iterable[int]) -> dict[int, tuple[str, str | None]]:
        """Episode id -> (the line the user wrote, the file they wrote it in, if known)."""
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._conn.execute(f"SELECT id, text, file FROM titans_episodes WHERE id IN ({marks})", ids)
            return {i: (text, file) for i, text, file in rows.fetchall()}

    def stats(self, bins: int = 10, top: int = 5) -> TitansStats:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, file, text, surprise, access, added_at FROM titans_episodes").fetchall()
        episodes = [Episode(*r) for r in rows]
        hist: list[tuple[float, float, int]] = []
        if episodes:
            s = np.array([e.surprise for e in episodes])
            counts, edges = np.histogram(s, bins=bins)
            hist = [(float(edges[i]), float(edges[i + 1]), int(counts[i])) for i in range(len(counts))]
        by_access = sorted(episodes, key=lambda e: (e.access, e.id))
        writes = int(self.memory.state.writes.sum()) if self.memory.state is not None else 0
        return TitansStats(len(episodes), self.model.config.titans_capacity, writes, hist,
                           list(reversed(by_access[-top:])), by_access[:top])
