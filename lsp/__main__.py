"""`python -m lsp` runs the language server, exactly as `shutka lsp` does (same flags)."""

from lsp.cli import command

if __name__ == "__main__":
    command(prog_name="python -m lsp")
