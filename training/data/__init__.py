"""Training data: sources → corpus (caps, split) → views and instruction rows → batches (`JepaBatch`)."""
