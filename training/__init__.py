"""Offline work: datasets from indexed code, training, evaluation, benchmarks, bundles."""
