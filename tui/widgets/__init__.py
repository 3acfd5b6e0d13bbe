"""Widgets, one per file: views only; screens feed them what the facade returned."""
