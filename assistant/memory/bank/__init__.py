"""The memory bank: FAISS vectors with int64 ids + metadata in SQLite, generations that readers
pick up atomically, one writer at a time (DESIGN §3). Needs numpy and faiss only, never torch."""

from assistant.memory.bank.bank import MemoryBank
from assistant.memory.bank.freestanding import freestanding_bank
from assistant.memory.bank.types import (
           LINE_KIND,
           SECTIONS,
           Entry,
           EntryMeta,
           ScoredEntry,
           Section,
           StorageStats,
           content_hash,
)

__all__ = [
           "LINE_KIND",
           "SECTIONS",
           "Entry",
           "EntryMeta",
           "MemoryBank",
           "ScoredEntry",
           "Section",
           "StorageStats",
           "content_hash",
           "freestanding_bank",
]
