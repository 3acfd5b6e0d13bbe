"""`[lsp]`: the language server's options, from shutka.toml and the client's `initializationOptions`.

Precedence: defaults < shutka.toml `[lsp]` < command-line flags < `initializationOptions`. Clients send
camelCase keys (`maxItems`); shutka.toml uses the field names (`max_items`). Both are accepted.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from indexer.errors import ConfigError
from indexer.workspace import FILES, Workspace, user_only

SECTION = "lsp"
LogLevel = Literal["error", "warning", "info", "debug"]


class LspOptions(BaseModel):
    """`[lsp]`: the language server (`shutka lsp`); editors override it with `initializationOptions`."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True,
                              alias_generator=to_camel, populate_by_name=True)

    checkpoint: str | None = None
    """Model checkpoint to load (unset: --checkpoint, then $SHUTKA_CHECKPOINT, then the bundled model)."""
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    """Hide completions below this confidence (unset: [completion] miras_confidence_threshold)."""
    max_items: int | None = Field(None, ge=1, le=50)
    """Completions returned at most per request (unset: [completion] max_items)."""
    fill_in_middle: bool | None = None
    """Also read the code after the cursor (unset: [completion] fill_in_middle)."""
    debounce_ms: int = Field(150, ge=0, le=10_000)
    """Quiet time per document before an edited buffer is handed to the assistant (completions in
    other documents flush pending edits first, so they always see them)."""
    watch: bool = True
    """Follow changes made outside the editor (git checkout, codemods, other tools) with a file watcher."""
    inline_completion: bool = True
    """Answer `textDocument/inlineCompletion` (ghost text); off: inline requests return nothing."""
    log_file: str | None = Field(None, json_schema_extra=user_only("--log-file", FILES))
    """Also write the server's logs to this file (they never go to stdout, the protocol channel)."""
    log_level: LogLevel = "warning"
    """Lowest level written to `log_file`."""

    def completion_overrides(self) -> dict[str, Any]:
        """The `[completion]` keys these options set (what `open_runtime(completion=...)` takes)."""
        pairs = {"miras_confidence_threshold": self.threshold, "max_items": self.max_items,
                 "fill_in_middle": self.fill_in_middle}
        return {key: value for key, value in pairs.items() if value is not None}


def _snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


def resolve_options(workspace: Workspace | None, client: Any, flags: dict[str, Any] | None = None) -> LspOptions:
    """`[lsp]` of `workspace`'s shutka.toml, then `flags` (CLI), then the client's options (camelCase
    or snake_case). Raises ConfigError naming the source and key; the caller falls back to defaults."""
    if client is not None and not isinstance(client, dict):
        raise ConfigError(f"initializationOptions must be an object, not {type(client).__name__}")
    base = workspace.section(SECTION, LspOptions) if workspace is not None else LspOptions()
    data = base.model_dump(exclude_unset=True)
    data.update({k: v for k, v in (flags or {}).items() if v is not None})
    given = {_snake(str(k)): v for k, v in (client or {}).items()}
    try:
        return LspOptions.model_validate({**data, **given})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = to_camel(".".join(str(part) for part in err["loc"])) or "(options)"
        valid = ", ".join(to_camel(name) for name in LspOptions.model_fields)
        raise ConfigError(f"initializationOptions {key}: {err['msg']} (valid keys: {valid})") from exc
