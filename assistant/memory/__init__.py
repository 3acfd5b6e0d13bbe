"""The write side: what the assistant remembers of a workspace and how it is kept in step with the index.

    bank/           the memory bank (FAISS vectors + SQLite metadata, generations)
    titans          `TitansStore`: the workspace's Titans episodes in SQLite, in step with the code
    titans_memory   `TitansMemory`: the memory's state and episodes beside a model, and their file
    episodes        `EpisodicStore`: the episodes in memory (what recall searches)
    suppressions    what the user deleted from the bank by hand (a sync does not bring it back)
    entry_encoding  the target-encoder encoding of entries (what fills the bank)
    sync_hooks      the assistant's half of an index sync, one hook per artifact (bank, Titans, lines)

Every table here is migrated through the one registry, indexer.migrations. The engine
(assistant.engine) reads what is here and writes back only through these modules' APIs.
"""
