"""One module per LSP feature group; each exposes `register(server)` (see `lsp.server.create_server`)."""
