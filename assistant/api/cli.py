"""`shutka serve`: the OpenAI-compatible HTTP API over one workspace, indexed in the background and
watched while serving. Heavy imports happen inside the command."""

from __future__ import annotations

from pathlib import Path

import click

API_KEY_ENV = "SHUTKA_API_KEY"


class Refused(click.ClickException):
    """A setting that would expose the workspace: one line on stderr, exit 2 (like a usage error)."""

    exit_code = 2


@click.command("serve")
@click.option("--host", help="Address to bind [default: [server] host, 127.0.0.1]. Anything but a loopback "
                             "address needs an API key.")
@click.option("--port", type=click.IntRange(0, 65535), help="TCP port [default: [server] port, 8000]; "
                                                            "0 picks a free one.")
@click.option("--workspace", type=click.Path(exists=True, file_okay=False, path_type=Path), default=Path("."),
              help="Folder to index, watch and answer from [default: the current directory].")
@click.option("--checkpoint", type=click.Path(exists=True, path_type=Path),  # a directory: the loader says why not
              help="Checkpoint file (.safetensors) to serve [default: $SHUTKA_CHECKPOINT, else the bundled one].")
@click.option("--api-key", envvar=API_KEY_ENV, show_envvar=True,
              help="Require 'Authorization: Bearer KEY' on every /v1 request.")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="A name clients may give in the Host header besides the bound address (repeatable; '*': any). "
                   "Other Host headers are refused, which keeps DNS-rebinding web pages out.")
def command(host: str | None, port: int | None, workspace: Path, checkpoint: Path | None,
            api_key: str | None, allowed_hosts: tuple[str, ...]) -> None:
    """Serve the OpenAI-compatible HTTP API (completions, chat, embeddings, Titans memory, bank stats).

    The workspace is indexed in the background (completions work meanwhile) and watched for changes;
    stopping the server (Ctrl+C, SIGTERM) flushes the memory bank and saves the Titans memory, then exits 0.

    Who can reach the server (--host, --api-key, --allowed-host) comes from the command line, the environment
    or [server] in your own config (`shutka locate user-config`), never from the workspace's shutka.toml.
    """
    from assistant.api.app import create_app
    from assistant.api.server import bind, graceful_signals, is_loopback, make_server, url_of
    from assistant.config import load_server_config
    from assistant.runtime import open_runtime
    from indexer.workspace import Workspace

    ws = Workspace(workspace)
    flags = {"host": host, "port": port, "api_key": api_key or None, "allowed_hosts": allowed_hosts or None}
    config = load_server_config(ws, flags)
    if not config.api_key and not is_loopback(config.host):
        raise Refused(f"refusing to serve on {config.host} without an API key (anyone who can reach it could read "
                      f"this workspace's code): pass --api-key KEY or set {API_KEY_ENV}, or bind 127.0.0.1")
    try:
        sock = bind(config.host, config.port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}") from None
    try:
        # The model is loaded (and a bad checkpoint or config refused) before the address is printed; the
        # runtime is closed (bank flushed, Titans memory saved) after the server has stopped.
        with open_runtime(ws.root, checkpoint=checkpoint, sync="background", watch=True) as runtime:
            server = make_server(create_app(runtime, config))
            key_note = ", API key required" if config.api_key else ""
            click.echo(f"shutka serve: {url_of(sock)}/v1 (model {config.model_id}, workspace {ws.root}{key_note}); "
                       "Ctrl+C stops", err=True)
            with graceful_signals(server):
                server.run(sockets=[sock])
    finally:
        sock.close()
    if not server.started:
        raise click.ClickException("the server did not start (see the log above)")
