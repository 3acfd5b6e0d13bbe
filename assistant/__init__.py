"""CHUNKS → VECTORS, MEMORY, COMPLETIONS: the model, the memory bank, the engine and the `Assistant` facade."""
