"""Render a config section as commented TOML (what `shutka config defaults` prints)."""

from __future__ import annotations

import json

from pydantic import BaseModel

from indexer.workspace import user_only_keys


def _toml_value(value: object) -> str:
    if value is None:
        return '""  # unset'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def render_section(name: str, schema: type[BaseModel]) -> str:
    """`[name]` then, per field, its docstring as `# ...` lines and `key = default`."""
    lines = [f"[{name}]"]
    if schema.__doc__:
        lines.insert(0, f"# {schema.__doc__.strip().splitlines()[0]}")
    user_only = user_only_keys(schema)
    for field_name, field in schema.model_fields.items():
        for doc_line in (field.description or "").strip().splitlines():
            lines.append(f"# {doc_line.strip()}")
        default = field.get_default(call_default_factory=True)
        if field_name in user_only:
            lines.append(f"# Not in a workspace's shutka.toml: use {user_only[field_name]} or your own config "
                         "(`shutka locate user-config`).")
        prefix = "# " if default is None or field_name in user_only else ""
        lines.append(f"{prefix}{field_name} = {_toml_value(default)}")
    return "\n".join(lines) + "\n"
