"""CHUNKS → VECTORS, MEMORY, COMPLETIONS: the model, the memory, the engine and the `Assistant` facade.

    model/      stateless PyTorch: UltraEfficientTextJEPA and its parts
    memory/     the write side: bank, Titans episodes, suppressions, entry encoding, sync hooks
    engine/     the read side: the completion pipeline, chat, navigation
    service     `Assistant`, the one facade surfaces talk to (only delegates)
    runtime     `open_runtime`: the one place that builds everything for a workspace
    api/        the OpenAI-compatible HTTP surface

`from assistant import Assistant` is loaded lazily, so `import assistant.model` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["Assistant"]

if TYPE_CHECKING:
    from assistant.service import Assistant


def __getattr__(name: str) -> Any:
    if name == "Assistant":
        return importlib.import_module("assistant.service").Assistant
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")
