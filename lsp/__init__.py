"""The editor surface: a pygls language server over the `Assistant` facade. Holds no model logic."""
