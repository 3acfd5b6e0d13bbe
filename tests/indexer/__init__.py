"""Tests of the indexer package: discovery, chunking, graph, catalog, plan/apply, watcher, crashes."""
