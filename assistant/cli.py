"""The root `shutka` command: logging, domain-error translation, and subcommands from entry points.

Packages contribute commands through the `shutka.commands` entry-point group, so `assistant`
never imports a surface (lsp, tui, training). Heavy imports happen inside commands.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click

from indexer.errors import ConfigError, ShutkaError

log = logging.getLogger(__name__)

COMMAND_GROUP = "shutka.commands"
SECTION_GROUP = "shutka.sections"


def configure_logging(verbosity: int, log_file: Path | None) -> None:
    """Logs go to stderr (never stdout: the LSP speaks JSON-RPC there) or to `log_file`."""
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler: logging.Handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class EntryPointGroup(click.Group):
    """A group whose subcommands come from entry points, loaded only when used."""

    entry_point_group = COMMAND_GROUP

    def _entry_points(self) -> dict[str, Any]:
        return {ep.name: ep for ep in entry_points(group=self.entry_point_group)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._entry_points()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        ep = self._entry_points().get(cmd_name)
        if ep is None:
            return None
        loaded = ep.load()
        return loaded if isinstance(loaded, click.Command) else None

    def invoke(self, ctx: click.Context) -> Any:
        """Translate domain errors once, here: ConfigError → usage error (exit 2), others exit 1."""
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            _maybe_traceback(ctx)
            raise click.UsageError(str(exc)) from None
        except ShutkaError as exc:
            _maybe_traceback(ctx)
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            raise click.Abort() from None


def _maybe_traceback(ctx: click.Context) -> None:
    if (ctx.obj or {}).get("verbosity", 0) >= 2:
        traceback.print_exc()


@click.group(cls=EntryPointGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="-v: info logs, -vv: debug logs and tracebacks.")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path), help="Write logs here, not stderr.")
@click.version_option(package_name="shutka")
@click.pass_context
def cli(ctx: click.Context, verbose: int, log_file: Path | None) -> None:
    """Shutka: a local, private coding assistant for TypeScript."""
    configure_logging(verbose, log_file)
    ctx.ensure_object(dict)["verbosity"] = verbose


# -- complete ------------------------------------------------------------------------------------


@cli.command()
@click.argument("workspace", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("file", type=click.Path(path_type=Path))
@click.argument("line", type=click.IntRange(min=1))
@click.argument("col", type=click.IntRange(min=1))
@click.option("--checkpoint", type=click.Path(exists=True, path_type=Path),
              help="Checkpoint file (.safetensors) to use [default: $SHUTKA_CHECKPOINT, else the bundled model].")
@click.option("--fim/--no-fim", default=None, help="Also read the code after the cursor.")
@click.option("--no-gate", is_flag=True, help="Show the best candidate even below the confidence threshold.")
@click.option("--explain", is_flag=True, help="Print every candidate with its scores.")
def complete(workspace: Path, file: Path, line: int, col: int, checkpoint: Path | None,
             fim: bool | None, no_gate: bool, explain: bool) -> None:
    """Print completions at FILE:LINE:COL (1-based) of WORKSPACE as JSON."""
    from assistant.runtime import open_runtime
    from assistant.types import CompletionRequest

    path = (file if file.is_absolute() else workspace / file).resolve()  # the engine keys files by workspace path
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None
    with open_runtime(workspace, checkpoint=checkpoint, watch=False) as runtime:
        request = CompletionRequest(text=text, line=line - 1, column=col - 1,
                                    path=runtime.workspace.relative(path),
                                    fill_in_middle=fim, use_gate=not no_gate)
        if explain:
            click.echo(json.dumps(runtime.assistant.explain(request).to_json(), indent=2))
        else:
            click.echo(json.dumps(runtime.assistant.complete(request).to_json(), indent=2))


# -- config --------------------------------------------------------------------------------------


@cli.group()
def config() -> None:
    """Show the defaults of every config section, or check a shutka.toml."""


def _sections() -> dict[str, type]:
    return {ep.name: ep.load() for ep in sorted(entry_points(group=SECTION_GROUP), key=lambda e: e.name)}


def render_defaults() -> str:
    """Every `[section]` with its defaults, each field preceded by its docstring as a comment."""
    from assistant.config_render import render_section

    return "\n".join(render_section(name, schema) for name, schema in _sections().items())


@config.command("defaults")
def config_defaults() -> None:
    """Print a shutka.toml with every section, default and explanation."""
    click.echo(render_defaults(), nl=False)


@config.command("check")
@click.argument("workspace", type=click.Path(exists=True, file_okay=False, path_type=Path), default=".")
def config_check(workspace: Path) -> None:
    """Validate WORKSPACE/shutka.toml without running anything."""
    from indexer.workspace import Workspace

    ws = Workspace(workspace)
    known = _sections()
    unknown = sorted(set(ws.raw_config()) - set(known))
    if unknown:
        raise ConfigError(f"{ws.config_path}: unknown section(s) {', '.join(unknown)} "
                          f"(valid: {', '.join(known)})")
    for name, schema in known.items():
        ws.section(name, schema)
    click.echo(f"{ws.config_path}: OK" if ws.config_path.exists() else f"{ws.config_path}: absent (defaults)")


# -- locate --------------------------------------------------------------------------------------


@cli.command()
@click.argument("what", type=click.Choice(["config", "user-config", "state", "models"]))
@click.argument("workspace", type=click.Path(exists=True, file_okay=False, path_type=Path), default=".")
def locate(what: str, workspace: Path) -> None:
    """Print where the workspace config, your own config (the only place besides the command line for who
    can reach `shutka serve`: [server] host, api_key, allowed_hosts), the workspace's state or the model
    files live."""
    from assistant.home import shutka_home
    from indexer.workspace import Workspace, user_config_path

    ws = Workspace(workspace)
    click.echo({"config": ws.config_path, "user-config": user_config_path(), "state": ws.state_dir,
                "models": shutka_home() / "models"}[what])


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="shutka")
