"""End-to-end tests of the language server: the real `python -m lsp` driven over stdio and TCP."""
