"""Evaluation suites for `shutka eval suite syntax | programming | algorithmic` (JSON reports)."""
