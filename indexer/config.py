"""`[indexer]` settings: what is indexed, how it is chunked, which secrets are masked, how fast the
watcher reacts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from indexer.secrets import check_patterns
from indexer.workspace import SECRETS, user_only


class IndexerConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    extensions: tuple[str, ...] = (".ts", ".tsx", ".mts", ".cts")
    """File extensions that are indexed as TypeScript."""
    exclude: tuple[str, ...] = ()
    """Extra gitignore-style patterns to skip, on top of .gitignore, .shutkaignore and the defaults."""
    default_excludes: tuple[str, ...] = ("node_modules/", "dist/", "build/", "coverage/", ".git/", ".shutka/", "out/")
    """Folders never indexed as workspace code (dependencies come in through `include_dependencies`)."""
    max_file_bytes: int = Field(1_000_000, ge=1_000)
    """Files larger than this are skipped (logged with the reason)."""
    max_line_chars: int = Field(1_000, ge=80)
    """A file whose longest line (outside strings we cannot tell apart) exceeds this is treated as minified."""
    max_chunk_lines: int = Field(120, ge=5)
    """A definition longer than this is split into windows of this many lines."""
    window_lines: int = Field(40, ge=5)
    """Line-window size for the fallback chunker (parse failure or top-level statements)."""
    debounce_ms: int = Field(30, ge=0, le=10_000)
    """The watcher waits this long after the last event of a burst before syncing (an editor's atomic
    save arrives within a few ms; a branch switch keeps arriving while a sync runs and is coalesced)."""
    include_dependencies: bool = True
    """Index the `.d.ts` files of package.json's direct dependencies as a read-only library section."""
    max_dependency_files: int = Field(400, ge=0)
    """Upper bound on `.d.ts` files taken from node_modules (largest packages are truncated first)."""
    follow_symlinks: bool = True
    """Follow symlinked folders (loops are detected and skipped)."""
    scan_secrets: bool = Field(True, json_schema_extra=user_only("", SECRETS))
    """Mask credentials (cloud and API keys, tokens, private keys, high-entropy literals assigned to
    key/secret/token/password names) in everything stored and offered, keeping every offset. Off
    (knowingly): text is stored as written, and a file holding a private key is skipped as a whole."""
    secret_allow: tuple[str, ...] = Field((), json_schema_extra=user_only("", SECRETS))
    """Regexes searched in each secret found; a secret one matches is kept as written (known test
    fixtures such as `AKIAIOSFODNN7EXAMPLE`; a plain value is its own regex)."""
    secret_deny: tuple[str, ...] = ()
    """Extra regexes always masked (the first group when the regex has one, else the whole match)."""

    @field_validator("secret_allow", "secret_deny")
    @classmethod
    def _regexes(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        return check_patterns(patterns)
