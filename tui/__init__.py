"""The terminal surface: a Textual memory browser over the `Assistant` facade. Holds no model logic."""
