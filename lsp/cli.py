"""`shutka lsp [--tcp HOST:PORT] [--checkpoint PATH] [--log-file PATH]`: the language server.

Over stdio, stdout is the protocol channel and nothing else may reach it: the real stdout is kept
for JSON-RPC and file descriptor 1 is pointed at stderr, so a stray print (ours or a library's,
Python or C) lands in the log instead of corrupting the session. Logs go to stderr or --log-file.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from pathlib import Path
from typing import BinaryIO

import click

log = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _host_port(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise click.BadParameter("expected HOST:PORT, e.g. 127.0.0.1:2087 (port 0 picks a free one)")
    return host or "127.0.0.1", int(port)


def _configure_logging(verbose: int, log_file: Path | None) -> None:
    """Our own flags win; otherwise keep what `shutka -v/--log-file` set up (stderr by default)."""
    root = logging.getLogger()
    if log_file is None and not verbose and root.handlers:
        return
    handler: logging.Handler = (logging.FileHandler(log_file, encoding="utf-8") if log_file
                                else logging.StreamHandler(sys.stderr))
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG)
    # pygls logs every message body at INFO: only -vv shows the traffic
    logging.getLogger("pygls").setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)


def reserve_stdout() -> BinaryIO:
    """The protocol's stdout; from now on fd 1 and `sys.stdout` write to stderr."""
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return protocol


@click.command("lsp")
@click.option("--tcp", metavar="HOST:PORT", callback=_host_port,
              help="Listen on TCP instead of stdio (port 0 picks a free one; the address is printed to stderr).")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Model checkpoint (default: $SHUTKA_CHECKPOINT, then the bundled model).")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write logs here instead of stderr (never stdout: it carries the protocol).")
@click.option("-v", "--verbose", count=True, help="-v: info logs, -vv: debug logs.")
def command(tcp: tuple[str, int] | None, checkpoint: Path | None, log_file: Path | None, verbose: int) -> None:
    """Run the language server (stdio by default)."""
    _configure_logging(verbose, log_file)
    from lsp.server import create_server
    from lsp.transport import serve_tcp

    server = create_server(checkpoint=checkpoint)
    try:
        if tcp is None:
            protocol_out = reserve_stdout()
            server.start_io(sys.stdin.buffer, protocol_out)
        else:
            try:
                sock = socket.create_server(tcp)
            except OSError as exc:
                raise click.ClickException(f"cannot listen on {tcp[0]}:{tcp[1]}: {exc.strerror}") from None
            host, port = sock.getsockname()[:2]
            click.echo(f"shutka lsp: listening on {host}:{port}", err=True)
            serve_tcp(server, sock)
    finally:
        server.close()
