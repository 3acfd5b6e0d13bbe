"""`shutka lsp [--tcp HOST:PORT [--token TOKEN] [--allow-remote]] [--checkpoint PATH] [--log-file PATH]`:
the language server.

Over stdio, stdout is the protocol channel and nothing else may reach it: the real stdout is kept
for JSON-RPC and file descriptor 1 is pointed at stderr, so a stray print (ours or a library's,
Python or C) lands in the log instead of corrupting the session. Logs go to stderr or --log-file.

Over TCP, whoever connects can read the workspace's code through the server: it listens on a
loopback address unless `--allow-remote` and a token are both given, and with a token a peer is
served only once its `initialize` carries it. The token comes from the command line or the
environment, never from the workspace (whose shutka.toml anyone with a checkout can write).
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
TOKEN_ENV = "SHUTKA_LSP_TOKEN"


class Refused(click.ClickException):
    """A setting that would expose the workspace: one line on stderr, exit 2 (like a usage error)."""

    exit_code = 2


def _host_port(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise click.BadParameter("expected HOST:PORT, e.g. 127.0.0.1:2087 (port 0 picks a free one)")
    return host.strip("[]") or "127.0.0.1", int(port)


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
              help="Listen on TCP instead of stdio (port 0 picks a free one; the address is printed to stderr). "
                   "Anything but a loopback address needs --allow-remote and a token.")
@click.option("--token", metavar="TOKEN", envvar=TOKEN_ENV, show_envvar=True,
              help="With --tcp: serve only a client whose `initialize` carries this token as "
                   "initializationOptions.token (others get an error and are disconnected). Prefer the "
                   "environment variable: a command line is visible to other users.")
@click.option("--allow-remote", is_flag=True,
              help="With --tcp and a token: allow a non-loopback address (e.g. 0.0.0.0).")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Model checkpoint (default: $SHUTKA_CHECKPOINT, then the bundled model).")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write logs here instead of stderr (never stdout: it carries the protocol).")
@click.option("-v", "--verbose", count=True, help="-v: info logs, -vv: debug logs.")
def command(tcp: tuple[str, int] | None, token: str | None, allow_remote: bool, checkpoint: Path | None,
            log_file: Path | None, verbose: int) -> None:
    """Run the language server (stdio by default).

    Over TCP it listens on a loopback address (127.0.0.1, ::1, localhost) unless given both
    --allow-remote and a token (--token or $SHUTKA_LSP_TOKEN); with a token, the client's first
    message must be `initialize` with initializationOptions.token set to it.
    """
    _configure_logging(verbose, log_file)
    token = token or None
    sock = _listen(tcp, token, allow_remote) if tcp is not None else None
    from lsp.features import create_server
    from lsp.transport import serve_stdio, serve_tcp

    server = create_server(checkpoint=checkpoint)
    try:
        if sock is None:
            serve_stdio(server, sys.stdin.buffer, reserve_stdout())
        else:
            host, port = sock.getsockname()[:2]
            token_note = " (token required)" if token else ""
            click.echo(f"shutka lsp: listening on {host}:{port}{token_note}", err=True)
            serve_tcp(server, sock, token)
    finally:
        server.close()


def _listen(tcp: tuple[str, int], token: str | None, allow_remote: bool) -> socket.socket:
    """A listening socket on `tcp`, after the loopback rule: anything else needs --allow-remote and a token."""
    from assistant.api.server import is_loopback

    host, port = tcp
    if not is_loopback(host) and not (allow_remote and token):
        raise Refused(f"refusing to listen on {host} without --allow-remote and a token (anyone who can reach "
                      f"it could read this workspace's code through the server): pass --allow-remote and "
                      f"--token TOKEN or set {TOKEN_ENV}, or listen on 127.0.0.1")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server(tcp, family=family)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
