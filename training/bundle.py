"""`shutka_v2_bundle.zip`: a trained checkpoint, its Titans memory and a memory bank, packed on Kaggle
(phase 2 writes it at its end, beside --checkpoint_dir) and unpacked on the laptop.

Layout: `manifest.json` (format, model summary, and every member's path, size and sha256) plus
`model/<checkpoint>`, `model/<titans>` and `bank/…` — a standalone `MemoryBank` folder (FAISS generation
file + `bank.sqlite` metadata), opened with `MemoryBank.open(<root>/bank, dim=manifest model.latent_dim)`.
Unpacking refuses absolute paths, `..`, links and any member the manifest does not list (or lists with
another hash); it extracts into a temporary folder beside the destination and moves the files into place
only after every hash matched.

`build_bank` makes the small bank phase 2 packs when the guide's `memory_bank/` folder does not exist:
distinct code lines of the held-out split, encoded by the trained model's target encoder as completion
candidates (the space the JEPA predictor searches).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from training.errors import BundleError

log = logging.getLogger(__name__)

BUNDLE_FORMAT = "shutka-bundle"
BUNDLE_VERSION = 1
MANIFEST = "manifest.json"
DEFAULT_NAME = "shutka_v2_bundle.zip"
BANK_DIR = "memory_bank"
"""The guide's memory bank folder: packed from beside --checkpoint_dir when it exists there (the guide's
auto-save folder), otherwise built by phase 2 inside --checkpoint_dir."""
BANK_LINES = 2_000
"""Entries of a bank built for the bundle: small and fast; the laptop's workspace index adds its own."""
MIN_LINE_CHARS = 4


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Unpacked:
    root: Path
    checkpoint: Path
    titans: Path | None
    bank: Path | None
    manifest: dict[str, Any]


def pack(checkpoint: Path, out: Path, titans: Path | None = None, bank: Path | None = None) -> Path:
    """Write the bundle atomically; the checkpoint must be a readable Shutka checkpoint."""
    from assistant.checkpoints import read_metadata

    meta = read_metadata(checkpoint)  # CheckpointCorrupt when it is not ours
    members: list[tuple[str, Path, str]] = [(f"model/{checkpoint.name}", checkpoint, "checkpoint")]
    if titans is not None:
        if not titans.is_file():
            raise BundleError(f"{titans}: Titans memory file not found")
        members.append((f"model/{titans.name}", titans, "titans"))
    if bank is not None:
        if not bank.is_dir():
            raise BundleError(f"{bank}: bank folder not found")
        for path in sorted(p for p in bank.rglob("*") if p.is_file() and not p.is_symlink()):
            members.append((f"bank/{path.relative_to(bank).as_posix()}", path, "bank"))
    if len({m[0] for m in members}) != len(members):
        raise BundleError("the checkpoint and the Titans file must have different names")
    config = json.loads(meta.get("config", "{}"))
    manifest = {
        "format": BUNDLE_FORMAT, "version": BUNDLE_VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": {"weight_format": meta.get("weight_format"), "tokenizer_digest": meta.get("tokenizer_digest"),
                  "d_model": config.get("d_model"), "n_layers": config.get("n_layers"),
                  "vocab_size": config.get("vocab_size"), "latent_dim": config.get("latent_dim")},
        "members": [{"path": name, "role": role, "size": path.stat().st_size, "sha256": sha256_file(path)}
                    for name, path, role in members],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, json.dumps(manifest, indent=2))
        for name, path, _ in members:
            zf.write(path, name)
    os.replace(tmp, out)
    log.info("packed %d files into %s", len(members), out)
    return out


def _safe_name(name: str) -> PurePosixPath:
    """The member's relative path, or BundleError when it could land outside the destination."""
    path = PurePosixPath(name)
    if (not name or name.startswith(("/", "\\")) or "\\" in name or ".." in path.parts
            or (len(name) > 1 and name[1] == ":") or path.is_absolute()):
        raise BundleError(f"refusing bundle member {name!r}: it would be written outside the destination")
    return path


def unpack(bundle: Path, into: Path) -> Unpacked:
    """Verify and extract; raises BundleError on traversal, links, unlisted members or a hash mismatch."""
    try:
        zf = zipfile.ZipFile(bundle)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BundleError(f"{bundle}: not a readable zip file ({exc})") from exc
    with zf:
        infos = zf.infolist()
        for info in infos:
            _safe_name(info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise BundleError(f"refusing bundle member {info.filename!r}: it is a symbolic link")
        try:
            manifest = json.loads(zf.read(MANIFEST))
        except KeyError as exc:
            raise BundleError(f"{bundle}: no {MANIFEST}: not a Shutka bundle") from exc
        except ValueError as exc:
            raise BundleError(f"{bundle}: {MANIFEST} is not JSON ({exc})") from exc
        if manifest.get("format") != BUNDLE_FORMAT or manifest.get("version") != BUNDLE_VERSION:
            raise BundleError(f"{bundle}: not a version-{BUNDLE_VERSION} Shutka bundle "
                              f"(format {manifest.get('format')!r}, version {manifest.get('version')!r})")
        listed = {m["path"]: m for m in manifest.get("members", [])}
        present = {i.filename for i in infos if not i.is_dir()} - {MANIFEST}
        if present != set(listed):
            raise BundleError(f"{bundle}: members and manifest disagree (unlisted: {sorted(present - set(listed))}, "
                              f"missing: {sorted(set(listed) - present)})")
        into.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=into))
        try:
            for name, entry in listed.items():
                target = staging / _safe_name(name)
                target.parent.mkdir(parents=True, exist_ok=True)
                h = hashlib.sha256()
                with zf.open(name) as src, target.open("wb") as dst:
                    for block in iter(lambda src=src: src.read(1 << 20), b""):
                        h.update(block)
                        dst.write(block)
                if h.hexdigest() != entry["sha256"]:
                    raise BundleError(f"{bundle}: {name} has sha256 {h.hexdigest()[:16]}…, the manifest says "
                                      f"{entry['sha256'][:16]}…: the bundle is damaged or was altered")
            for name in listed:
                final = into / _safe_name(name)
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / name, final)
            (into / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    roles = {m["role"]: into / m["path"] for m in listed.values() if m["role"] != "bank"}
    has_bank = any(m["role"] == "bank" for m in listed.values())
    return Unpacked(into, roles["checkpoint"], roles.get("titans"), into / "bank" if has_bank else None, manifest)


# -- a bank for the bundle ------------------------------------------------------------------------------


def bank_lines(files: Iterable[tuple[str, str]], limit: int = BANK_LINES) -> list[tuple[str, str, int]]:
    """(file, text) -> up to `limit` distinct (file, stripped line, 1-based line number) worth completing:
    at least MIN_LINE_CHARS characters with a letter or digit; the first occurrence of each line wins."""
    seen: set[str] = set()
    out: list[tuple[str, str, int]] = []
    for name, text in files:
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if len(line) < MIN_LINE_CHARS or line in seen or not any(c.isalnum() for c in line):
                continue
            seen.add(line)
            out.append((name, line, number))
            if len(out) >= limit:
                return out
    return out


def build_bank(checkpoint: Path, files: Iterable[tuple[str, str]], out: Path, *, limit: int = BANK_LINES,
               num_threads: int = 1) -> int:
    """Replace `out` with a MemoryBank of `files`' lines (see bank_lines) encoded by `checkpoint`'s target
    encoder, compacted into one FAISS generation; -> entries. The bank records the model's digest."""
    from assistant.checkpoints import load_checkpoint
    from assistant.memory.bank import MemoryBank
    from assistant.memory.bank.types import LINE_KIND, EntryMeta
    from assistant.memory.entry_encoding import LatentEncoder

    ckpt = load_checkpoint(checkpoint, for_training=True)
    digest = f"{ckpt.digest}-fp32"
    encoder = LatentEncoder(ckpt.model.eval(), ckpt.tokenizer, digest, num_threads)
    lines = bank_lines(files, limit)
    staging = out.with_name(f".{out.name}.tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    bank = MemoryBank(staging, encoder.dim, model_digest=digest)
    try:
        if lines:
            vectors = encoder.encode_lines([text for _, text, _ in lines])
            bank.add_memory(vectors, [text for _, text, _ in lines],
                            [EntryMeta(kind=LINE_KIND, file=name, start_line=n, end_line=n) for name, _, n in lines])
            bank.compact()
    finally:
        bank.close()
    (staging / "writer.lock").unlink(missing_ok=True)  # a lock file, made again by whoever opens the bank
    if out.exists():
        shutil.rmtree(out)
    os.replace(staging, out)
    log.info("built a %d-entry memory bank in %s", len(lines), out)
    return len(lines)
