"""Chunking: a representative file's chunks (snapshot-style table), TSX, long definitions, broken
syntax, parse failure, and the files that are skipped (minified, binary, non-UTF-8, private keys with
secret scanning off; with it on, the key is masked)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from indexer import chunking
from indexer.chunking import chunk_text, line_targets, parse_file
from indexer.config import IndexerConfig
from indexer.reading import content_hash
from indexer.types import FileInfo, ParsedFile, Skip
from indexer.workspace import Workspace

REPRESENTATIVE = """import { EventEmitter } from 'events';
import type { Config } from './config';

/** Default retry count. */
export const DEFAULT_RETRIES = 3;
const internalCounter = 0;

export enum Level { Debug, Info, Warn }

export type Handler = (level: Level, message: string) => void;

export interface Sink {
  write(line: string): void;
}

/**
 * A logger that fans out to sinks.
 */
export class Logger extends EventEmitter implements Sink {
  private sinks: Sink[] = [];

  constructor(private readonly config: Config) {
    super();
  }

  write(line: string): void {
    for (const sink of this.sinks) sink.write(line);
  }

  // arrow-function property
  onError = (err: Error): void => {
    this.emit('error', err);
  };

  static create(config: Config): Logger {
    return new Logger(config);
  }
}

export function formatLine(level: Level, message: string): string {
  function pad(n: number) { return String(n).padStart(2, '0'); }
  return `[${Level[level]}] ${pad(1)} ${message}`;
}

export const makeHandler = (logger: Logger): Handler => (level, message) => {
  logger.write(formatLine(level, message));
};

const privateHelper = function (x: number) { return x * 2; };

export namespace Formats {
  export const JSON_FORMAT = 'json';
  export function pick(name: string): string { return name; }
  function hidden() {}
}

export default function setup(config: Config): Logger {
  return Logger.create(config);
}

setup({} as Config).write('ready');
"""

# (chunk_id, kind, parent, exported, start_line, end_line): reviewed by hand; update deliberately.
REPRESENTATIVE_CHUNKS = [
    ("src/log.ts#DEFAULT_RETRIES@3", "constant", None, True, 3, 5),
    ("src/log.ts#src/log.ts:6-6@5", "window", None, False, 5, 6),
    ("src/log.ts#Level@7", "enum", None, True, 7, 8),
    ("src/log.ts#Handler@9", "type_alias", None, True, 9, 10),
    ("src/log.ts#Sink@11", "interface", None, True, 11, 14),
    ("src/log.ts#Logger@15", "class", None, True, 15, 38),
    ("src/log.ts#Logger.constructor@21", "method", "Logger", True, 21, 24),
    ("src/log.ts#Logger.write@25", "method", "Logger", True, 25, 28),
    ("src/log.ts#Logger.onError@29", "method", "Logger", True, 29, 33),
    ("src/log.ts#Logger.create@34", "method", "Logger", True, 34, 37),
    ("src/log.ts#formatLine@39", "function", None, True, 39, 43),
    ("src/log.ts#makeHandler@44", "arrow_function", None, True, 44, 47),
    ("src/log.ts#privateHelper@48", "function", None, False, 48, 49),
    ("src/log.ts#Formats@50", "namespace", None, True, 50, 55),
    ("src/log.ts#Formats.JSON_FORMAT@51", "constant", "Formats", True, 51, 52),
    ("src/log.ts#Formats.pick@52", "function", "Formats", True, 52, 53),
    ("src/log.ts#Formats.hidden@53", "function", "Formats", False, 53, 54),
    ("src/log.ts#setup@56", "function", None, True, 56, 59),
    ("src/log.ts#src/log.ts:61-61@60", "window", None, False, 60, 61),
]


def _table(chunks: tuple) -> list[tuple[str, str, str | None, bool, int, int]]:
    return [(c.chunk_id, c.kind, c.parent, c.exported, c.span.start_line, c.span.end_line) for c in chunks]


def test_representative_file_chunks() -> None:
    result = chunk_text("src/log.ts", REPRESENTATIVE, IndexerConfig())
    assert _table(result.chunks) == REPRESENTATIVE_CHUNKS
    assert result.specifiers == ("events", "./config")
    assert result.warnings == ()


def test_chunk_text_spans_and_hashes_agree() -> None:
    result = chunk_text("src/log.ts", REPRESENTATIVE, IndexerConfig())
    source = REPRESENTATIVE.encode()
    by_id = {c.chunk_id: c for c in result.chunks}
    for chunk in result.chunks:
        assert chunk.text == source[chunk.span.start_byte:chunk.span.end_byte].decode()
        assert chunk.content_hash == content_hash(chunk.text)
    logger = by_id["src/log.ts#Logger@15"].text
    assert logger.startswith("/**\n * A logger that fans out to sinks.\n */\nexport class Logger")
    assert by_id["src/log.ts#Logger.create@34"].text.startswith("static create(config: Config)")
    assert by_id["src/log.ts#Logger.onError@29"].text.startswith("// arrow-function property\n")
    assert "function pad" in by_id["src/log.ts#formatLine@39"].text  # local functions stay inside


def test_references_by_kind() -> None:
    result = chunk_text("src/log.ts", REPRESENTATIVE, IndexerConfig())
    refs = {(r.chunk_id.split("#")[1], r.name, r.kind, r.member) for r in result.references}
    assert ("makeHandler@44", "formatLine", "calls", False) in refs
    assert ("makeHandler@44", "write", "calls", True) in refs
    assert ("makeHandler@44", "Handler", "type_uses", False) in refs
    assert ("Logger.create@34", "Logger", "calls", False) in refs  # `new Logger(...)`
    assert ("Logger@15", "EventEmitter", "references", False) in refs
    assert not any(name == "console" for _, name, _, _ in refs)
    assert not any(chunk == "Logger@15" and name == "Logger" for chunk, name, _, _ in refs)  # own name


def test_tsx_components_are_chunks_and_jsx_is_a_call() -> None:
    text = """import React from 'react';
export function Button(props: { label: string }) {
  return <button>{props.label}</button>;
}
export const Toolbar = () => (
  <div>
    <Button label="ok" />
    <Icons.Save />
  </div>
);
"""
    result = chunk_text("ui/toolbar.tsx", text, IndexerConfig())
    assert [(c.symbol, c.kind) for c in result.chunks] == [("Button", "function"), ("Toolbar", "arrow_function")]
    refs = {(r.name, r.kind, r.member) for r in result.references if r.chunk_id.endswith("Toolbar@4")}
    assert ("Button", "calls", False) in refs
    assert ("Save", "calls", True) in refs
    assert result.warnings == ()


def test_long_definition_is_split_into_windows() -> None:
    body = "\n".join(f"  const v{i} = {i};" for i in range(25))
    text = f"export function big() {{\n{body}\n}}\n"
    result = chunk_text("big.ts", text, IndexerConfig(max_chunk_lines=10))
    assert [(c.symbol, c.kind, c.span.start_line, c.span.end_line) for c in result.chunks] == [
        ("big", "function", 0, 10), ("big", "function", 10, 20), ("big", "function", 20, 27)]
    assert "".join(c.text for c in result.chunks) == text.rstrip("\n")


def test_top_level_code_becomes_windows() -> None:
    lines = [f"register('route{i}');" for i in range(12)]
    text = "import x from './x';\n" + "\n".join(lines) + "\n"
    result = chunk_text("routes.ts", text, IndexerConfig(window_lines=5))
    assert [(c.kind, c.symbol) for c in result.chunks] == [
        ("window", "routes.ts:2-6"), ("window", "routes.ts:7-11"), ("window", "routes.ts:12-13")]


def test_broken_syntax_still_yields_chunks_and_a_warning() -> None:
    text = """export function ok(a: number): number {
  return a + 1;
}

export function broken(a: number {
  return a +;
}

export class Fine {
  run(): void {}
}
"""
    result = chunk_text("broken.ts", text, IndexerConfig())
    symbols = {c.symbol for c in result.chunks}
    assert {"ok", "Fine", "Fine.run"} <= symbols
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("syntax errors near line(s) ")
    assert "recovered" in result.warnings[0]


def test_parser_failure_falls_back_to_windows(monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    class Refusing:
        def parse(self, source: bytes) -> None:
            raise ValueError("refused")

    monkeypatch.setattr(chunking, "parser", lambda name: Refusing())
    text = "\n".join(f"const a{i} = {i};" for i in range(7)) + "\n"
    with caplog.at_level(logging.WARNING, logger="indexer.chunking"):
        result = chunk_text("x.ts", text, IndexerConfig(window_lines=5))
    assert [c.kind for c in result.chunks] == ["window", "window"]
    assert result.warnings == ("parser failed (refused); indexed as line windows",)
    assert "x.ts: parser failed (refused); indexed as line windows" in caplog.text


def test_line_targets_skip_blank_and_punctuation() -> None:
    text = "function f() {\n  return 1;\n}\n\n  });\n/**\n * doc\n */\n{\nconst x = [\n];\r\n"
    targets = line_targets("f.ts", text)
    assert [(t.line_no, t.text) for t in targets] == [(0, "function f() {"), (1, "  return 1;"), (6, " * doc"),
                                                       (9, "const x = [")]
    assert targets[1].content_hash == content_hash("return 1;")


# --- whole files -----------------------------------------------------------------------------------


def _parse(ws: Workspace, rel: str, **config: object) -> ParsedFile | Skip:
    st = (ws.root / rel).stat()
    return parse_file(ws, FileInfo(rel, st.st_size, st.st_mtime_ns), config=IndexerConfig(**config))  # type: ignore[arg-type]


def test_parse_file_resolves_imports(basic_workspace: Workspace) -> None:
    parsed = _parse(basic_workspace, "src/services/userService.ts")
    assert isinstance(parsed, ParsedFile)
    assert parsed.specifiers == ("../models", "@util/format")
    assert parsed.imports == ("src/models/index.ts", "src/util/format.ts")
    assert parsed.content_hash == content_hash((basic_workspace.root / "src/services/userService.ts").read_bytes())
    assert [c.symbol for c in parsed.chunks] == ["UserService", "UserService.add", "UserService.count"]
    assert parsed.lines[0].text == "import { User, makeUser } from '../models';"


def test_minified_file_is_skipped(make_workspace: Callable[..., Workspace], caplog: pytest.LogCaptureFixture) -> None:
    minified = "var a=1;" + ";".join(f"function f{i}(x){{return x+{i}}}" for i in range(200)) + "\n"
    ws = make_workspace({"vendor.min.ts": minified})
    with caplog.at_level(logging.WARNING, logger="indexer.chunking"):
        result = _parse(ws, "vendor.min.ts")
    assert isinstance(result, Skip)
    assert result.reason.startswith("minified or generated (a line of ")
    assert "skipped vendor.min.ts: minified or generated" in caplog.text


def test_binary_file_named_ts_is_skipped(make_workspace: Callable[..., Workspace],
                                         caplog: pytest.LogCaptureFixture) -> None:
    ws = make_workspace({"image.ts": bytes(range(256)) * 4, "controls.ts": b"\x01\x02\x03\x04abc" * 100})
    with caplog.at_level(logging.WARNING, logger="indexer.chunking"):
        nul = _parse(ws, "image.ts")
        controls = _parse(ws, "controls.ts")
    assert nul == Skip("image.ts", "binary (contains NUL bytes)")
    assert isinstance(controls, Skip) and controls.reason.startswith("binary (")
    assert "skipped image.ts: binary (contains NUL bytes)" in caplog.text


def test_non_utf8_text_is_decoded_with_a_warning(make_workspace: Callable[..., Workspace],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    latin1 = "// café crème\nexport const greeting = 'olá';\n".encode("latin-1")
    ws = make_workspace({"latin1.ts": latin1})
    with caplog.at_level(logging.WARNING, logger="indexer.chunking"):
        parsed = _parse(ws, "latin1.ts")
    assert isinstance(parsed, ParsedFile)
    assert [c.symbol for c in parsed.chunks] == ["greeting"]
    assert parsed.warnings[0].startswith("not valid UTF-8: 3 undecodable sequence(s) replaced")
    assert "latin1.ts: not valid UTF-8" in caplog.text
    assert parsed.content_hash == content_hash(latin1)


def test_undecodable_file_is_skipped(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace({"utf16.ts": "export const x = 'hello';\n".encode("utf-16-le"),
                         "high.ts": bytes(range(0x80, 0x100)) * 8 + b"\n"})
    assert _parse(ws, "utf16.ts") == Skip("utf16.ts", "binary (contains NUL bytes)")
    result = _parse(ws, "high.ts")
    assert isinstance(result, Skip) and result.reason.startswith("not UTF-8 text (")


PEM_FIXTURE = ("export const KEY = `-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf\n"
               "-----END RSA PRIVATE KEY-----`;\nexport const other = 1;\n")


def test_file_embedding_a_private_key_is_indexed_with_the_key_masked(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace({"fixtures.ts": PEM_FIXTURE})
    parsed = _parse(ws, "fixtures.ts")
    assert isinstance(parsed, ParsedFile) and parsed.secrets == 1
    assert "PRIVATE KEY" not in parsed.text and "MIIB" not in parsed.text
    assert len(parsed.text) == len(PEM_FIXTURE) and parsed.text.count("\n") == PEM_FIXTURE.count("\n")
    assert [c.symbol for c in parsed.chunks] == ["KEY", "other"]
    assert "MIIB" not in "".join(c.text for c in parsed.chunks)


def test_file_embedding_a_private_key_is_skipped_when_scanning_is_off(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace({"fixtures.ts": PEM_FIXTURE})
    assert _parse(ws, "fixtures.ts", scan_secrets=False) == Skip(
        "fixtures.ts", "contains a private key (never indexed; scan_secrets is off)")


def test_bom_and_crlf(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace({"win.ts": b"\xef\xbb\xbfexport function f() {\r\n  return 1;\r\n}\r\n"})
    parsed = _parse(ws, "win.ts")
    assert isinstance(parsed, ParsedFile)
    assert parsed.text.startswith("export function f()")
    assert [(c.symbol, c.span.start_line, c.span.end_line) for c in parsed.chunks] == [("f", 0, 3)]
    assert [t.text for t in parsed.lines] == ["export function f() {", "  return 1;"]


def test_vanished_and_special_files(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace({"dir.ts/inner.ts": ""})
    assert _parse_missing(ws) == Skip("gone.ts", "vanished before it could be read")
    result = parse_file(ws, FileInfo("dir.ts", 0, 0))
    assert result == Skip("dir.ts", "not a regular file (a directory)")


def _parse_missing(ws: Workspace) -> ParsedFile | Skip:
    return parse_file(ws, FileInfo("gone.ts", 1, 1))
