"""End to end: credentials planted in a workspace's TypeScript never reach a store (catalog, bank,
Titans episodes, line store), a completion (`shutka complete`, `/v1/completions`, a buffer typed in an
editor) or a chat answer; an allow-listed test value is kept; `shutka index` and `--verify` count what
was masked; an index written without masking is re-masked by the next `shutka index`.

Planted secrets are assembled at run time (`_join`), so no credential-shaped literal sits in this file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.cli import cli
from assistant.config import ServerConfig
from assistant.runtime import open_runtime
from assistant.types import ChatMessage, CompletionRequest
from indexer.secrets import has_mask
from tests.conftest import BASIC_WORKSPACE, write_workspace


def _join(*parts: str) -> str:
    return "".join(parts)


AWS_KEY_ID = _join("AKIA", "IOSFODNN7EXAMPLE")
GITHUB = _join("gh", "p_", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8")
PEM_BODY = "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzq4p4S4MCAwEAAQ"
PEM = _join("-----BEGIN ", "RSA PRIVATE KEY-----\n", PEM_BODY, "\n", PEM_BODY[::-1], "\n-----END ",
            "RSA PRIVATE KEY-----")
PASSWORD = "Zx9#qL2!vR7@mN4$pT8&kW"
TYPED_TOKEN = _join("gh", "s_", "Q9w8E7r6T5y4U3i2O1p0A9s8D7f6G5h4J3k2")
SECRETS = (AWS_KEY_ID, GITHUB, PEM_BODY, PEM_BODY[::-1], PASSWORD, TYPED_TOKEN)
TEST_ID = "528bf4bf-0f60-44b0-8ac5-5bb15830380a"
"""A UUID-like test id assigned to a token name: a secret by its looks, kept by `secret_allow`."""

AWS_CONFIG = f"""import {{ region }} from "./point";

/** Credentials of the upload bucket. */
export const uploadBucket = "acme-uploads";
const key = "{AWS_KEY_ID}";
export const githubToken = "{GITHUB}";
export const dbPassword = "{PASSWORD}";
export const testRequestToken = "{TEST_ID}";
export const keyLength = 20;
export const keyPrefix = "upload";

export function awsConfig() {{
  return {{ region, key, bucket: uploadBucket }};
}}
"""
PEM_LINE = f"export const signingKey = `{PEM}`;\n"
KEY_LINE = AWS_CONFIG.split("\n").index(f'const key = "{AWS_KEY_ID}";') + 1
"""1-based line of `const key = "…"` in awsConfig.ts (the PEM block goes after it)."""
USER_CONFIG = f"""[indexer]
secret_allow = ["{TEST_ID}"]
"""
"""The user's own config (outside the workspace): only there may masking be relaxed."""
CONFIG = """[completion]
adapt = false
"""
S3 = """import { uploadBucket } from "./awsConfig";

export function client() {
  const region = "eu-west-1";
  const key = \""""
"""A file that stops where the secret was typed in awsConfig.ts: the cursor is at its end."""
S3_CURSOR = (S3.count("\n") + 1, len(S3.rsplit("\n", 1)[1]) + 1)


def _workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, pem: bool = True,
               user_config: str = USER_CONFIG) -> Path:
    (tmp_path / "user.toml").write_text(user_config, encoding="utf-8")
    monkeypatch.setenv("SHUTKA_CONFIG", str(tmp_path / "user.toml"))
    files = dict(BASIC_WORKSPACE)
    aws = AWS_CONFIG.replace("export const keyLength", PEM_LINE + "export const keyLength") if pem else AWS_CONFIG
    files.update({"src/awsConfig.ts": aws, "src/s3.ts": S3, "shutka.toml": CONFIG})
    return write_workspace(tmp_path / "ws", files)


def _stored_texts(db: Path) -> str:
    """Every string value of every table of the workspace database (catalog, bank, Titans, ...)."""
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(v for t in tables for row in conn.execute(f'SELECT * FROM "{t}"') for v in row
                         if isinstance(v, str))
    finally:
        conn.close()


def _leaks(texts: Iterable[str]) -> list[str]:
    """The planted secrets found in `texts` (their first characters only, for the failure message)."""
    joined = "\n".join(texts)
    return [s[:8] + "…" for s in SECRETS if s in joined]


def _index(runner: CliRunner, ws: Path, checkpoint: Path, *extra: str) -> str:
    result = runner.invoke(cli, ["index", str(ws), "--checkpoint", str(checkpoint), *extra])
    assert result.exit_code == 0, result.output
    return result.output


def _complete(runner: CliRunner, ws: Path, checkpoint: Path, file: str, line: int, col: int) -> list[str]:
    result = runner.invoke(cli, ["complete", str(ws), file, str(line), str(col), "--checkpoint", str(checkpoint),
                                 "--no-gate"])
    assert result.exit_code == 0, result.output
    return [item["text"] for item in json.loads(result.output)["items"]]


def test_planted_secrets_are_never_stored_completed_or_cited(tmp_path: Path, tiny_checkpoint: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    ws = _workspace(tmp_path, monkeypatch)
    runner = CliRunner()
    summary = _index(runner, ws, tiny_checkpoint, "--verify")
    # the AWS key id, the GitHub token, the private key block and the password; the test id is allowed
    assert summary.count("masked 4 secrets in 1 file") == 2 and "verify: OK" in summary
    db = ws / ".shutka" / "index.sqlite"
    stored = _stored_texts(db)
    assert _leaks([stored]) == []
    for path in db.parent.glob("index.sqlite*"):                  # not even in freed pages or the WAL
        assert _leaks([path.read_bytes().decode("latin-1")]) == [], path
    assert TEST_ID in stored and 'uploadBucket = "acme-uploads"' in stored and "keyLength = 20" in stored

    for file, (line, col) in (("src/awsConfig.ts", (KEY_LINE, len('const key = "') + 1)), ("src/s3.ts", S3_CURSOR)):
        items = _complete(runner, ws, tiny_checkpoint, file, line, col)
        assert _leaks(items) == [] and not any(has_mask(text) for text in items), items

    with open_runtime(ws, checkpoint=tiny_checkpoint, sync=True) as runtime:
        assistant = runtime.assistant
        # an editor buffer: a token typed but not saved, on a finished line, then the cursor where it was
        buffer = S3 + f'newKey";\n  const token = "{TYPED_TOKEN}";\n  const url = key;\n  const token = "'
        lines = buffer.split("\n")
        assistant.open_document(str(ws / "src/s3.ts"), S3)
        assistant.update_document(str(ws / "src/s3.ts"), buffer)
        at_cursor = CompletionRequest(buffer, len(lines) - 1, len(lines[-1]), "src/s3.ts", use_gate=False)
        for request in (at_cursor, CompletionRequest.from_prefix('const key = "', use_gate=False),
                        CompletionRequest.from_prefix('export const githubToken = "', use_gate=False)):
            items = [i.text for i in assistant.complete(request).items]
            assert _leaks(items) == [] and not any(has_mask(text) for text in items), items
            assert _leaks(c.text for c in assistant.explain(request).candidates) == []
        assistant.feedback(at_cursor, f'{TYPED_TOKEN}";', accepted=True)
        answer = assistant.chat([ChatMessage("user", 'Which key does awsConfig use?\n```ts\nconst key = "\n```')])
        assert _leaks([answer.text, *answer.citations]) == []
        store = runtime.parts.lines
        assert _leaks(line for p in store.paths() for line in store.file(p).raw_lines) == []  # type: ignore[union-attr]
        with TestClient(create_app(runtime, ServerConfig()), base_url="http://127.0.0.1") as client:
            model = client.get("/v1/models").json()["data"][0]["id"]
            completion = client.post("/v1/completions", json={"model": model, "prompt": 'const key = "',
                                                              "max_tokens": 16})
            chat = client.post("/v1/chat/completions", json={"model": model, "messages": [
                {"role": "user", "content": "Where is the AWS key set? Quote awsConfig.ts."}]})
        assert completion.status_code == chat.status_code == 200, (completion.text, chat.text)
        assert _leaks([completion.text, chat.text]) == []
    assert _leaks([_stored_texts(db)]) == []                       # Titans episodes and bank included


def test_an_index_written_before_masking_is_re_masked(tmp_path: Path, tiny_checkpoint: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """An older index (here: written with scanning off) holds the secrets; the next `shutka index`
    re-reads every file (the scanner is part of the chunker fingerprint), Titans episodes holding one
    are dropped, and verify is clean."""
    off = USER_CONFIG.replace("[indexer]\n", "[indexer]\nscan_secrets = false\n")
    ws = _workspace(tmp_path, monkeypatch, pem=False, user_config=off)  # with scanning off a file with a private key is skipped
    runner = CliRunner()
    assert "masked 0 secrets in 0 files" in _index(runner, ws, tiny_checkpoint)
    db = ws / ".shutka" / "index.sqlite"
    assert AWS_KEY_ID in _stored_texts(db)                         # the control: what an old index held
    conn = sqlite3.connect(db)
    with conn:  # a line an older Shutka learned as the user typed it (the tiny model's latents: 32 floats)
        conn.execute("INSERT INTO titans_episodes (file, content_hash, text, surprise, access, key, value, added_at) "
                     "VALUES ('src/s3.ts', 'L:typed', ?, 1.0, 0, ?, ?, 0)",
                     (f'const token = "{TYPED_TOKEN}";', bytes(4 * 32), bytes(4 * 32)))
    conn.close()
    (tmp_path / "user.toml").write_text(USER_CONFIG, encoding="utf-8")
    summary = _index(runner, ws, tiny_checkpoint, "--verify")
    assert summary.count("masked 3 secrets in 1 file") == 2 and "verify: OK" in summary
    stored = _stored_texts(db)
    assert _leaks([stored]) == [] and TEST_ID in stored
    assert _leaks(_complete(runner, ws, tiny_checkpoint, "src/s3.ts", *S3_CURSOR)) == []
