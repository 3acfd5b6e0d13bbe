"""The memory bank: FAISS vectors with int64 ids + metadata in SQLite, generations that readers
pick up atomically, one writer at a time (DESIGN §3). Needs numpy and faiss only, never torch."""

from assistant.bank.bank import MemoryBank
from assistant.bank.freestanding import freestanding_bank
from assistant.bank.types import LINE_KIND, SECTIONS, BankStats, Entry, EntryMeta, Hit, Section, content_hash

__all__ = ["LINE_KIND", "SECTIONS", "BankStats", "Entry", "EntryMeta", "Hit", "MemoryBank", "Section",
           "content_hash", "freestanding_bank"]
