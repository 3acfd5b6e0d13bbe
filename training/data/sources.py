"""Reading raw records from data sources: folders of TypeScript, local JSON/JSONL/parquet tables,
Hugging Face hub datasets (`datasets`, streamed) and indexed workspaces.

Every input passes `check_text` once: empty, undecodable and over-long inputs are skipped and counted
in `SkipCounts` (with a few example names per reason), never silently dropped. JSONL is read line by
line (one bad line costs one row, not the file); JSON arrays, parquet and the hub go through `datasets`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.errors import IndexerError
from training.config import DataConfig
from training.data.source_spec import SourceSpec
from training.errors import DataError

log = logging.getLogger(__name__)

SKIP_DIRS = frozenset({"node_modules"})
"""Folder names never entered (besides hidden ones): vendored dependencies are not the package's code."""

TEXT_COLUMNS = ("content", "text", "code", "source", "body")
INSTRUCTION_COLUMNS = ("instruction", "prompt", "question", "query", "problem", "docstring")
OUTPUT_COLUMNS = ("output", "response", "completion", "answer", "solution", "code", "content")
INPUT_COLUMNS = ("input", "context")
PACKAGE_COLUMNS = ("package", "repo", "repo_name", "repository", "max_stars_repo_name")
PATH_COLUMNS = ("path", "file", "filepath", "file_path", "max_stars_repo_path")
LANGUAGE_COLUMNS = ("lang", "language", "programming_language")
"""Where `?lang=…` looks for a row's language (rows of other languages are skipped as other_language)."""
FENCE = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)
"""A fenced code block of a markdown answer: instruction sets' outputs keep only their code."""
MAX_INSTRUCTION_CHARS = 4_000
EXAMPLES_PER_REASON = 5


class HubUnreachable(DataError):
    """A hub dataset could not be opened or streamed (offline, no network, gated, wrong id)."""

    def __init__(self, source: str, location: str, offline: bool, reason: str) -> None:
        self.source, self.location, self.offline, self.reason = source, location, offline, reason
        hint = " (HF_HUB_OFFLINE/HF_DATASETS_OFFLINE is set)" if offline else ""
        super().__init__(f"{source}: cannot load the dataset{hint}: {reason}")


@dataclass(frozen=True, slots=True)
class Document:
    """One source file (or code row): the unit of the train/validation split."""

    package: str
    path: str
    """Path inside its package (POSIX)."""
    text: str

    @property
    def key(self) -> str:
        return f"{self.package}/{self.path}"


@dataclass(frozen=True, slots=True)
class InstructionPair:
    """An instruction and the code that answers it (phase 2)."""

    instruction: str
    code: str
    package: str
    path: str
    origin: str = "table"
    """table | hub | mined."""

    @property
    def key(self) -> str:
        return f"{self.package}/{self.path}"


@dataclass
class SkipCounts:
    """How many inputs were skipped, by reason, with a few examples of each."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, where: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        seen = self.examples.setdefault(reason, [])
        if len(seen) < EXAMPLES_PER_REASON:
            seen.append(where)
        log.debug("skipped %s: %s", where, reason)

    def __getitem__(self, reason: str) -> int:
        return self.counts.get(reason, 0)

    def total(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        return {"counts": dict(sorted(self.counts.items())), "examples": self.examples}


# -- one check for every input -----------------------------------------------------------------------


def decode_bytes(data: bytes) -> str | None:
    """Strict UTF-8 (BOM removed); None for binary data or invalid UTF-8."""
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def check_text(text: Any, config: DataConfig) -> str | None:
    """Why `text` cannot be used (empty / undecodable / too_long), or None when it can."""
    if isinstance(text, bytes):
        text = decode_bytes(text)
        if text is None:
            return "undecodable"
    if text is None or (isinstance(text, str) and not text.strip()):
        return "empty"
    if not isinstance(text, str):
        return "undecodable"
    if "\ufffd" in text or "\x00" in text:
        return "undecodable"
    if len(text) > config.max_file_bytes or len(text.encode("utf-8")) > config.max_file_bytes:
        return "too_long"
    lines = text.split("\n")
    if len(lines) > config.max_file_lines or max(len(line) for line in lines) > config.max_line_chars:
        return "too_long"
    return None


def _as_text(value: Any) -> Any:
    return decode_bytes(value) if isinstance(value, bytes) else value


def fenced_code(text: Any) -> Any:
    """The code of a markdown answer (its fenced blocks, joined); anything else unchanged."""
    if not isinstance(text, str) or "```" not in text:
        return text
    blocks = [b.strip("\n") for b in FENCE.findall(text) if b.strip()]
    return "\n\n".join(blocks) + "\n" if blocks else text


# -- folders -----------------------------------------------------------------------------------------


def _walk(root: Path, extensions: tuple[str, ...]) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(files):
            if name.endswith(extensions) and not name.startswith("."):
                yield Path(folder) / name


def _read_document(path: Path, package: str, inner: str, where: str, config: DataConfig,
                   counts: SkipCounts) -> Document | None:
    """One file as a Document, or None with the reason counted (unreadable, undecodable, ...)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        counts.add("unreadable", f"{where} ({exc.strerror})")
        return None
    text = decode_bytes(data)
    reason = "undecodable" if text is None else check_text(text, config)
    if reason:
        counts.add(reason, where)
        return None
    return Document(package, inner, text)  # type: ignore[arg-type]


def read_folder(spec: SourceSpec, config: DataConfig, counts: SkipCounts) -> Iterator[Document]:
    """Files under the folder; package = first sub-folder (the folder's own name for files at its top)."""
    root = Path(spec.location).expanduser()
    for path in _walk(root, config.extensions):
        rel = path.relative_to(root).as_posix()
        package, _, inner = rel.partition("/")
        if not inner:
            package, inner = root.name, rel
        where = f"{spec.location}:{rel}"
        try:
            size = path.stat().st_size
            if size > config.max_file_bytes:
                counts.add("too_long", where)
                continue
        except OSError as exc:
            counts.add("unreadable", f"{where} ({exc.strerror})")
            continue
        doc = _read_document(path, package, inner, where, config, counts)
        if doc is not None:
            yield doc


def read_workspace(spec: SourceSpec, config: DataConfig, counts: SkipCounts) -> Iterator[Document]:
    """An indexed workspace: its catalog's texts when `.shutka/index.sqlite` exists, else a discovery
    walk (honouring .gitignore/.shutkaignore) read from disk. One package: the workspace's folder."""
    from indexer.config import IndexerConfig
    from indexer.workspace import Workspace

    try:
        ws = Workspace(spec.location)
    except IndexerError as exc:
        raise DataError(str(exc)) from exc
    package = ws.root.name
    catalog_path = ws.state_dir / "index.sqlite"
    if catalog_path.is_file():
        from indexer.catalog import Catalog

        catalog = Catalog(catalog_path, create=False)
        try:
            for path, state in sorted(catalog.file_states().items()):
                if state.section != "workspace" or not path.endswith(config.extensions):
                    continue
                text = catalog.file_text(path)
                reason = check_text(text, config)
                if reason:
                    counts.add(reason, f"{ws.root}:{path}")
                    continue
                yield Document(package, path, text)  # type: ignore[arg-type]
        finally:
            catalog.close()
        return
    log.warning("%s has no index (.shutka/index.sqlite): reading its files from disk instead "
                "(run `shutka index` to train on exactly what the index holds)", ws.root)
    from indexer.discovery import discover_workspace

    found = discover_workspace(ws.root, IndexerConfig(extensions=config.extensions, max_file_bytes=config.max_file_bytes))
    for skip in found.skipped:
        if "too large" in skip.reason:
            counts.add("too_long", f"{ws.root}:{skip.path}")
    for info in found.files:
        where = f"{ws.root}:{info.path}"
        doc = _read_document(ws.root / info.path, package, info.path, where, config, counts)
        if doc is not None:
            yield doc


# -- tables and the hub --------------------------------------------------------------------------------


def _first(row: dict[str, Any], names: Iterable[str]) -> str | None:
    return next((n for n in names if n in row), None)


class RowReader:
    """Turns table rows into Documents or InstructionPairs; the columns are chosen from the first row."""

    def __init__(self, origin: str, default_package: str, config: DataConfig, counts: SkipCounts,
                 column: str | None = None, kind: str = "table", lang: str | None = None) -> None:
        self.origin, self.default_package, self.config, self.counts = origin, default_package, config, counts
        self.column, self.kind, self.lang = column, kind, lang.lower() if lang else None
        self.layout: tuple[str, ...] | None = None

    def _choose(self, row: dict[str, Any]) -> tuple[str, ...]:
        instruction = _first(row, INSTRUCTION_COLUMNS)
        output = _first(row, [c for c in OUTPUT_COLUMNS if c != instruction])
        if self.column is None and instruction and output:
            return ("pair", instruction, output)
        text = self.column or _first(row, TEXT_COLUMNS)
        if text is None or text not in row:
            raise DataError(f"{self.origin}: no text column (looked for {', '.join(TEXT_COLUMNS)}; "
                            f"instruction sets need one of {', '.join(INSTRUCTION_COLUMNS)} and one of "
                            f"{', '.join(OUTPUT_COLUMNS)}); its columns are {', '.join(row)}")
        return ("code", text)

    def read(self, index: int, row: dict[str, Any]) -> Document | InstructionPair | None:
        if self.layout is None:
            self.layout = self._choose(row)
        package_col, path_col = _first(row, PACKAGE_COLUMNS), _first(row, PATH_COLUMNS)
        package = str(row.get(package_col) or self.default_package) if package_col else self.default_package
        path = str(row.get(path_col) or f"row{index}") if path_col else f"row{index}"
        where = f"{self.origin}:{index}"
        if self.lang is not None:
            lang_col = _first(row, LANGUAGE_COLUMNS)
            if lang_col is None or str(row.get(lang_col) or "").strip().lower() != self.lang:
                self.counts.add("other_language", where)
                return None
        if self.layout[0] == "code":
            if path_col and not path.endswith(self.config.extensions):
                self.counts.add("not_typescript", where)
                return None
            text = _as_text(row.get(self.layout[1]))
            reason = check_text(text, self.config)
            if reason:
                self.counts.add(reason, where)
                return None
            return Document(package, path, text)
        instruction = _as_text(row.get(self.layout[1]))
        code = fenced_code(_as_text(row.get(self.layout[2])))
        extra_col = _first(row, INPUT_COLUMNS)
        extra = _as_text(row.get(extra_col)) if extra_col else None
        if isinstance(instruction, str) and isinstance(extra, str) and extra.strip():
            instruction = f"{instruction.strip()}\n{extra.strip()}"
        reason = check_text(instruction, self.config) or check_text(code, self.config)
        if reason is None and len(instruction) > MAX_INSTRUCTION_CHARS:
            reason = "too_long"
        if reason:
            self.counts.add(reason, where)
            return None
        return InstructionPair(instruction.strip(), code, package, path, self.kind)


def _read_jsonl(path: Path, reader: RowReader, counts: SkipCounts) -> Iterator[Document | InstructionPair]:
    with path.open("rb") as fh:
        for index, raw in enumerate(fh):
            if not raw.strip():
                continue
            where = f"{path}:{index + 1}"
            line = decode_bytes(raw)
            if line is None:
                counts.add("undecodable", where)
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                counts.add("malformed", where)
                continue
            if not isinstance(row, dict):
                counts.add("malformed", where)
                continue
            record = reader.read(index, row)
            if record is not None:
                yield record


def read_table(spec: SourceSpec, config: DataConfig, counts: SkipCounts) -> Iterator[Document | InstructionPair]:
    """A local .jsonl (line by line), .json or .parquet (through `datasets`, streamed: no cache writes)."""
    path = Path(spec.location).expanduser()
    reader = RowReader(str(path), path.stem, config, counts, spec.option("column"))
    if path.suffix == ".jsonl":
        yield from _read_jsonl(path, reader, counts)
        return
    import datasets

    builder = "parquet" if path.suffix == ".parquet" else "json"
    try:
        rows = datasets.load_dataset(builder, data_files=str(path), split="train", streaming=True)
        for index, row in enumerate(rows):
            record = reader.read(index, row)
            if record is not None:
                yield record
    except UnicodeDecodeError:
        log.warning("%s is not UTF-8: skipped whole (JSONL files are read line by line instead)", path)
        counts.add("undecodable", str(path))


def read_hub(spec: SourceSpec, config: DataConfig, counts: SkipCounts, limit: int | None
             ) -> Iterator[Document | InstructionPair]:
    """A Hugging Face dataset, streamed (nothing is downloaded beyond the rows read); at most `limit` rows."""
    import datasets

    split = spec.option("split", "train")
    try:
        rows = datasets.load_dataset(spec.location, spec.option("config"), split=split,
                                     data_dir=spec.option("data_dir"), streaming=True)
        reader = RowReader(f"hf:{spec.location}", spec.location.split("/")[-1], config, counts,
                           spec.option("column"), kind="hub", lang=spec.option("lang"))
        kept = 0
        for index, row in enumerate(rows):
            if limit is not None and kept >= limit:
                break
            record = reader.read(index, row)
            if record is not None:
                kept += 1
                yield record
    except DataError:
        raise
    except Exception as exc:
        if not _is_hub_failure(exc):
            raise
        offline = any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on")
                      for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))
        reason = " ".join(str(exc).split()) or type(exc).__name__  # one line
        raise HubUnreachable(spec_text(spec), spec.location, offline, reason) from exc


_HUB_PACKAGES = frozenset({"datasets", "huggingface_hub", "httpx", "httpcore", "fsspec", "aiohttp", "requests",
                           "urllib3", "pyarrow"})


def _is_hub_failure(exc: BaseException) -> bool:
    """Errors of reaching or reading the hub (network, offline mode, gated or missing ids, dataset scripts
    that `datasets` no longer runs), as opposed to bugs of ours."""
    if isinstance(exc, (ConnectionError, OSError, ValueError, TimeoutError)):
        return True
    if isinstance(exc, RuntimeError) and "script" in str(exc).lower():
        return True
    return type(exc).__module__.split(".")[0] in _HUB_PACKAGES


def spec_text(spec: SourceSpec) -> str:
    """A hub spec as the user writes it (`hf:owner/name[?…]`)."""
    query = urllib.parse.urlencode(list(spec.options))
    return f"hf:{spec.location}" + (f"?{query}" if query else "")


def read_source(spec: SourceSpec, config: DataConfig, counts: SkipCounts, limit: int | None = None
                ) -> Iterator[Document | InstructionPair]:
    """Every usable record of one source, in a deterministic order."""
    spec.check()
    if spec.kind == "folder":
        return read_folder(spec, config, counts)
    if spec.kind == "workspace":
        return read_workspace(spec, config, counts)
    if spec.kind == "table":
        return read_table(spec, config, counts)
    return read_hub(spec, config, counts, limit)
