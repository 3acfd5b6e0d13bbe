"""FILES → CHUNKS + GRAPH: discovery, tree-sitter chunking, the code graph, the catalog and sync.

Knows TypeScript and the disk; knows nothing about models."""
