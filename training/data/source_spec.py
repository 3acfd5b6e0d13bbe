"""A source string (`DIR`, `FILE.jsonl`, `hf:owner/name?split=…`, `workspace:PATH`) parsed and checked;
what `DataConfig.sources` holds and `training.config` validates without loading any data."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from indexer.errors import ConfigError

SourceKind = Literal["folder", "table", "hub", "workspace"]
TABLE_SUFFIXES = (".jsonl", ".json", ".parquet")


@dataclass(frozen=True)
class SourceSpec:
    """A parsed source string (see DataConfig.sources)."""

    kind: SourceKind
    location: str
    options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, spec: str) -> SourceSpec:
        if spec.startswith("hf:"):
            name, _, query = spec[3:].partition("?")
            options = urllib.parse.parse_qsl(query, keep_blank_values=False, strict_parsing=False)
            known = {"split", "data_dir", "column", "config", "lang"}
            unknown = sorted({k for k, _ in options} - known)
            if not name or unknown:
                raise ConfigError(f"{spec!r}: expected hf:owner/name[:config][?split=…&data_dir=…&column=…&lang=…]"
                                  + (f" (unknown option(s) {', '.join(unknown)})" if unknown else ""))
            if ":" in name:
                name, config = name.split(":", 1)
                options.append(("config", config))
            return cls("hub", name, tuple(options))
        if spec.startswith("workspace:"):
            return cls("workspace", spec.removeprefix("workspace:"))
        if spec.endswith(TABLE_SUFFIXES):
            return cls("table", spec)
        return cls("folder", spec)

    def option(self, name: str, default: str | None = None) -> str | None:
        return dict(self.options).get(name, default)

    def check(self) -> SourceSpec:
        """Local sources must exist; raises ConfigError naming the path."""
        if self.kind == "hub":
            return self
        path = Path(self.location).expanduser()
        if self.kind == "table" and not path.is_file():
            raise ConfigError(f"{self.location}: no such file")
        if self.kind in ("folder", "workspace") and not path.is_dir():
            raise ConfigError(f"{self.location}: no such folder (a folder of .ts/.tsx files, "
                              "a .json/.jsonl/.parquet file, hf:ID or workspace:PATH)")
        return self
