"""Errors raised by training: data that cannot be read and bundles that cannot be trusted.

Resume files reuse the assistant's CheckpointCorrupt / CheckpointMismatch (same meaning, same handling).
"""

from __future__ import annotations

from indexer.errors import ShutkaError


class TrainingError(ShutkaError):
    """Base of the training package's errors."""


class DataError(TrainingError):
    """A data source cannot be read, or yields too little to train on; the message names the source."""


class BundleError(TrainingError):
    """A bundle is malformed, tampered with, or tries to write outside its folder."""
