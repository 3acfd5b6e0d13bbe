"""Pure PyTorch model code: no file I/O, no config files, no logging setup. The Titans memory's state
and episodes (and their file) live beside the model in assistant.memory.titans_memory; the model's
`NeuralMemory` only reads and writes a state it is given.

Imported lazily so `import assistant.model.sizes` (and the CLI's --help) does not load torch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.model.jepa import UltraEfficientTextJEPA

__all__ = ["UltraEfficientTextJEPA"]


def __getattr__(name: str) -> Any:
    if name == "UltraEfficientTextJEPA":
        from assistant.model.jepa import UltraEfficientTextJEPA

        return UltraEfficientTextJEPA
    raise AttributeError(f"module 'assistant.model' has no attribute {name!r}")
