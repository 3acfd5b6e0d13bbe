"""Secret scanning: each credential shape is found and masked with every offset kept, ordinary code is
left alone, the allow/deny settings work and are validated, and the indexer stores only masked text
(re-masking what an index written without masking holds).

Planted secrets are assembled at run time (`_join`), so no credential-shaped literal sits in this
file for a repository's own secret scanner to trip on."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from indexer.chunking import line_targets
from indexer.config import IndexerConfig
from indexer.errors import ConfigError
from indexer.reading import content_hash
from indexer.secrets import MIN_MASK_RUN, SecretScanner, entropy, has_mask, is_secret_name, scanner_for
from indexer.sync import Indexer
from indexer.verify import verify_catalog
from indexer.workspace import Workspace


def _join(*parts: str) -> str:
    return "".join(parts)


ALNUM36 = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
AWS_KEY_ID = _join("AKIA", "IOSFODNN7EXAMPLE")
AWS_SECRET = _join("wJalrXUtnFEMI/K7MDENG", "/bPxRfiCYEXAMPLEKEY")
GITHUB = _join("gh", "p_", ALNUM36)
JWT = _join("ey", "JhbGciOiJIUzI1NiJ9.", "ey", "JzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")
PEM_BODY = "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzq4p4S4MCAwEAAQ"
PEM = _join("-----BEGIN ", "RSA PRIVATE KEY-----\n", PEM_BODY, "\n", PEM_BODY[::-1], "\n-----END ", "RSA PRIVATE KEY-----")
PASSWORD = "Zx9#qL2!vR7@mN4$pT8&kW"

SHAPES = {
    "aws access key id": AWS_KEY_ID,
    "aws session key id": _join("AS", "IA", "Y3FDSNEXAMPLE0X7"),
    "github classic": GITHUB,
    "github oauth": _join("gh", "o_", ALNUM36),
    "github user-to-server": _join("gh", "u_", ALNUM36),
    "github server-to-server": _join("gh", "s_", ALNUM36),
    "github refresh": _join("gh", "r_", ALNUM36),
    "github fine-grained": _join("github", "_pat_", "11ABCDEFG0", "_", ALNUM36, ALNUM36[:22]),
    "slack bot": _join("xo", "xb-", "123456789012-1234567890123-", ALNUM36[:24]),
    "slack user": _join("xo", "xp-", "123456789012-", ALNUM36[:20]),
    "stripe secret": _join("sk", "_live_", ALNUM36[:24]),
    "stripe restricted": _join("rk", "_live_", ALNUM36[:24]),
    "google api key": _join("AI", "za", "SyA-", ALNUM36[:31]),
    "openai": _join("sk", "-", ALNUM36, "T3BlbkFJ", ALNUM36[:12]),
    "openai project": _join("sk", "-proj-", ALNUM36, ALNUM36),
    "npm": _join("np", "m_", ALNUM36),
    "jwt": JWT,
}


@pytest.fixture
def scanner() -> SecretScanner:
    return SecretScanner()


def _masked_runs(text: str) -> int:
    return sum(1 for run in text.split() if has_mask(run))


# --- shapes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("where", ['const value = "{}";', "// rotated {} last week", "call(`{}`)", "{}"])
def test_every_shape_is_masked_wherever_it_is(scanner: SecretScanner, secret: str, where: str) -> None:
    text = "export function f() {}\n" + where.format(secret) + "\nexport const after = 1;\n"
    masked = scanner.mask(text)
    assert masked.count == 1
    assert secret not in masked.text and masked.text.replace("*", "") == text.replace(secret, "").replace("*", "")
    assert len(masked.text) == len(text) and "*" * len(secret) in masked.text


def test_private_key_block_is_masked_line_by_line(scanner: SecretScanner) -> None:
    text = f"const pem = `{PEM}`;\nexport const after = 1;\n"
    masked = scanner.mask(text)
    assert masked.count == 1
    assert "PRIVATE KEY" not in masked.text and PEM_BODY not in masked.text
    assert masked.text.split("\n")[1] == "*" * len(PEM_BODY)         # lines and their lengths kept
    assert masked.text.endswith("`;\nexport const after = 1;\n")      # the template literal still closes


@pytest.mark.parametrize("header", ["EC PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY", "PGP PRIVATE KEY BLOCK"])
def test_every_private_key_kind(scanner: SecretScanner, header: str) -> None:
    text = _join("-----BEGIN ", header, "-----\n", PEM_BODY, "\n-----END ", header, "-----\n")
    assert set(scanner.mask(text).text) == {"*", " ", "\n"}


def test_a_key_split_over_concatenated_strings_and_a_truncated_one(scanner: SecretScanner) -> None:
    concatenated = _join('const pem = "-----BEGIN ', 'PRIVATE KEY-----\\n" +\n  "', PEM_BODY, '\\n" +\n',
                         '  "-----END ', 'PRIVATE KEY-----";\n')
    masked = scanner.mask(concatenated)
    assert masked.count == 1 and PEM_BODY not in masked.text and masked.text.count('"') == concatenated.count('"')
    truncated = _join("/* -----BEGIN ", "RSA PRIVATE KEY-----\n", PEM_BODY, "\n", PEM_BODY, "\n")
    assert PEM_BODY not in scanner.mask(truncated).text


@pytest.mark.parametrize("line", [
    f'const dbPassword = "{PASSWORD}";',
    f"export const API_KEY: string = '{PASSWORD}';",
    f'  client_secret: "{PASSWORD}",',
    f'{{"apiKey":"x","token":"{PASSWORD}"}}',
    f'this.authToken = "{PASSWORD}";',
    f'const secret = process.env.SECRET ?? "{PASSWORD}";',
    f'headers.set("X-Auth-Token", "{PASSWORD}");',
    f'if (password === "{PASSWORD}") {{',
    f'const credentials = {{ accessKeyId: "x", awsSecretAccessKey: "{AWS_SECRET}" }};',
    'const cacheKey = "528bf4bf0f6044b08ac55bb15830380a";',
])
def test_high_entropy_literals_assigned_to_secret_names(scanner: SecretScanner, line: str) -> None:
    masked = scanner.mask(line)
    assert masked.count == 1 and _masked_runs(masked.text) == 1, masked.text


def test_one_secret_found_by_two_rules_counts_once(scanner: SecretScanner) -> None:
    masked = scanner.mask(f'const authToken = "{JWT}";')
    assert masked.count == 1 and JWT not in masked.text


# --- what is not a secret --------------------------------------------------------------------------


ORDINARY = f"""import {{ createHash }} from "crypto";
/** Keys of the session store; the token itself never lives in code. */
export const SESSION_TOKEN_STORAGE_KEY = "sessionTokenStorageKeyNameV2";
export const tokenEndpoint = "https://login.example.com/oauth2/v2.0/token";
const authorName = "Margaret-Hamilton-Apollo-Guidance";
const keyboardLayout = "Zx9qL2vR7mN4pT8kWa1b2c3d";
const primaryKey = "organization_id_and_user_id";
const contentType = "application/x-www-form-urlencoded";
const passwordHint = "at-least-twelve-characters";
const tokenPath = "./config/credentials/token.json";
export const logo = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
const iconKey = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ";
const shortPassword = "hunter2";
const apiKeyTemplate = `${{prefix}}-${{region}}-0123456789abcdef`;
const repeated = "aaaaaaaaaaaaaaaaaaaaaaaaaaaa";
export function verifyAccessTokenSignatureWithRotatingKeysAndClockSkewTolerance(): boolean {{
  return createHash("sha256").update("skeleton-key").digest("hex").length > 0;
}}
const lookalike = "xAKIAIOSFODNN7EXAMPLE0";
const vapidPublicKey = "BEl62iUYgUivxIkv69yViEuiBIa40HI80NM9f8HnKJg";
const markers = ["-----BEGIN {"RSA PRIVATE KEY"}-----", "-----END {"RSA PRIVATE KEY"}-----"];
const flag = "sk-short";
"""


def test_ordinary_code_is_left_alone(scanner: SecretScanner) -> None:
    found = scanner.findings(ORDINARY)
    assert found == [], [ORDINARY[f.start:f.end] for f in found]


def test_secret_names() -> None:
    for name in ("apiKey", "API_KEY", "apikey", "client_secret", "authToken", "Authorization", "dbPassword",
                 "passwd", "credentials", "oauth", "X-Auth-Token", "AWS_SECRET_ACCESS_KEY"):
        assert is_secret_name(name), name
    for name in ("author", "authority", "keyboard", "tokenizer", "value", "secretive", "publicKey",
                 "STRIPE_PUBLISHABLE_KEY"):
        assert not is_secret_name(name), name


def test_entropy() -> None:
    assert entropy("") == 0.0 and entropy("aaaa") == 0.0
    assert entropy("ab" * 8) == pytest.approx(1.0)
    assert entropy(PASSWORD) > 4.0


# --- masking ---------------------------------------------------------------------------------------


def test_masking_keeps_length_in_every_unit_and_the_lines() -> None:
    wide = "pässwörd-ünïcode-密码-🔑-value"
    scanner = SecretScanner(deny=(r'"([^"]+)"',))
    text = f'const a = "{wide}";\nconst b = 1;\n'
    masked = scanner.mask(text).text
    assert wide not in masked
    assert len(masked) == len(text)                                              # Python offsets
    assert len(masked.encode("utf-8")) == len(text.encode("utf-8"))              # tree-sitter byte spans
    assert len(masked.encode("utf-16-le")) == len(text.encode("utf-16-le"))      # LSP columns
    assert [len(line) for line in masked.split("\n")] == [len(line) for line in text.split("\n")]
    assert has_mask(masked)


def test_has_mask_and_line_targets() -> None:
    assert not has_mask("x = a ** b;") and not has_mask("/** doc */")
    assert has_mask('const k = "' + "*" * MIN_MASK_RUN + '";')
    masked = SecretScanner().mask(f'const key = "{AWS_KEY_ID}";\nconst other = 1;\n').text
    assert [t.text for t in line_targets("a.ts", masked)] == ["const other = 1;"]


# --- settings --------------------------------------------------------------------------------------


def test_allow_keeps_a_fixture_and_deny_masks_more() -> None:
    text = f'const fixture = "{AWS_KEY_ID}";\nconst internal = "corp-internal-1234";\n'
    assert SecretScanner(allow=("EXAMPLE$",)).mask(text).text == text
    masked = SecretScanner(deny=(r"corp-internal-\d+",)).mask(text)
    assert masked.count == 2 and "corp-internal" not in masked.text and AWS_KEY_ID not in masked.text
    grouped = SecretScanner(deny=(r'internal = "([^"]+)"',)).mask(text).text
    assert 'internal = "' + "*" * len("corp-internal-1234") + '"' in grouped


def test_scanning_off_finds_nothing() -> None:
    assert SecretScanner(enabled=False).mask(f"k = '{AWS_KEY_ID}'").count == 0
    assert not scanner_for(IndexerConfig(scan_secrets=False)).enabled


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("secret_allow", '["(unclosed"]', "not a valid regular expression"),
    ("secret_deny", '["x?"]', "matches the empty string"),
    ("secret_deny", '["\\\\b"]', "matches the empty string"),
])
def test_bad_patterns_are_a_config_error_naming_the_key(make_workspace: Callable[..., Workspace], key: str,
                                                       value: str, problem: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """In the user's own config (secret_allow) or the workspace's (secret_deny), the file and key are named."""
    (tmp_path / "user.toml").write_text(f"[indexer]\n{key} = {value}\n")
    monkeypatch.setenv("SHUTKA_CONFIG", str(tmp_path / "user.toml"))
    ws = make_workspace({"shutka.toml": f"[indexer]\n{key} = {value}\n" if key == "secret_deny" else ""})
    with pytest.raises(ConfigError, match=rf"\[indexer\] {key}: .*{problem}"):
        ws.section("indexer", IndexerConfig)


# --- the indexer -----------------------------------------------------------------------------------


AWS_CONFIG = f"""export const region = "eu-west-1";
export const key = "{AWS_KEY_ID}";
export const github = "{GITHUB}";
export const fixtureTokenId = "528bf4bf-0f60-44b0-8ac5-5bb15830380a";
"""
SECRETS = (AWS_KEY_ID, GITHUB)


def _text_columns(indexer: Indexer) -> str:
    conn = sqlite3.connect(indexer.catalog.path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(str(v) for t in tables for row in conn.execute(f'SELECT * FROM "{t}"') for v in row
                         if isinstance(v, str))
    finally:
        conn.close()


def test_the_catalog_stores_masked_text_and_counts(make_workspace: Callable[..., Workspace],
                                                  make_indexer: Callable[..., Indexer]) -> None:
    ws = make_workspace({"src/awsConfig.ts": AWS_CONFIG})
    indexer = make_indexer(ws, secret_allow=("528bf4bf-0f60-44b0-8ac5-5bb15830380a",))
    indexer.sync()
    stored = _text_columns(indexer)
    assert not any(secret in stored for secret in SECRETS)
    assert "528bf4bf-0f60-44b0-8ac5-5bb15830380a" in stored and 'region = "eu-west-1"' in stored
    text = indexer.catalog.file_text("src/awsConfig.ts")
    assert text is not None and len(text) == len(AWS_CONFIG)
    for chunk in indexer.catalog.chunks("src/awsConfig.ts"):   # spans cut the stored text as the chunker did
        assert content_hash(chunk.text) == chunk.content_hash
    assert indexer.catalog.secret_counts() == {"src/awsConfig.ts": 2}
    counts = indexer.catalog.counts()
    assert (counts["secrets"], counts["secret_files"]) == (2, 1)
    report = verify_catalog(ws, indexer.config, indexer.catalog)
    assert report.ok and (report.secrets, report.secret_files) == (2, 1)


def test_an_index_written_without_masking_is_re_masked(make_workspace: Callable[..., Workspace],
                                                      make_indexer: Callable[..., Indexer]) -> None:
    """Rows written by an older Shutka (here: with scanning off) carry another chunker fingerprint: the
    next sync re-reads them, and verify flags them until it has."""
    ws = make_workspace({"src/awsConfig.ts": AWS_CONFIG, "src/other.ts": "export const x = 1;\n"})
    old = make_indexer(ws, scan_secrets=False)
    old.sync()
    assert AWS_KEY_ID in _text_columns(old)
    old.close()
    new = make_indexer(ws)
    report = verify_catalog(ws, new.config, new.catalog)
    assert any("awsConfig.ts" in d for d in report.differences)
    assert {info.path for info in new.plan().compute} == {"src/awsConfig.ts", "src/other.ts"}
    event = new.sync()
    assert set(event.added) == {"src/awsConfig.ts", "src/other.ts"}
    assert not any(secret in _text_columns(new) for secret in SECRETS)
    assert verify_catalog(ws, new.config, new.catalog).ok
    assert not new.plan().compute


def test_changing_the_allow_list_re_reads_files(make_workspace: Callable[..., Workspace],
                                               make_indexer: Callable[..., Indexer]) -> None:
    ws = make_workspace({"src/awsConfig.ts": AWS_CONFIG})
    make_indexer(ws).sync()
    allowing = make_indexer(ws, secret_allow=(AWS_KEY_ID,))
    allowing.sync()
    assert AWS_KEY_ID in (allowing.catalog.file_text("src/awsConfig.ts") or "")
    assert allowing.catalog.secret_counts() == {"src/awsConfig.ts": 2}   # the GitHub token and the test id


def test_a_workspace_config_may_not_weaken_masking_but_the_users_may(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A cloned repository's shutka.toml turning scanning off or allow-listing is refused; the user's own is read."""
    user = tmp_path / "user.toml"
    monkeypatch.setenv("SHUTKA_CONFIG", str(user))
    repo = tmp_path / "repo"
    repo.mkdir()
    for hostile in ("scan_secrets = false", 'secret_allow = [".*"]'):
        (repo / "shutka.toml").write_text(f"[indexer]\n{hostile}\n")
        with pytest.raises(ConfigError, match="may not weaken secret masking"):
            Workspace(repo).section("indexer", IndexerConfig)
    (repo / "shutka.toml").write_text('[indexer]\nsecret_deny = ["internal-[0-9]+"]\n')
    user.write_text('[indexer]\nsecret_allow = ["AKIAIOSFODNN7EXAMPLE"]\n')
    config = Workspace(repo).section("indexer", IndexerConfig)
    assert config.secret_allow == ("AKIAIOSFODNN7EXAMPLE",) and config.secret_deny == ("internal-[0-9]+",)
